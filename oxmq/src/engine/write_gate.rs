//! The write gate: writes from the application's thread while the connection is idle.
//!
//! Normally a message goes socket → pipe → I/O thread → kernel. The gate lets the socket's
//! thread skip that hop in two cases, both only while the connection's session has nothing
//! queued (its output buffer is empty, the pipe holds nothing the socket wrote, and the session
//! has said so under the gate's lock). The session takes the connection back (under the same
//! lock) before it takes messages from the pipe, so the order of messages on the wire is
//! always the order of the sends.
//!
//! - A reply. In a request-reply rhythm (a send right after a receive) the hop is most of the
//!   latency, so the socket writes the message to the stream itself, one system call.
//! - A stream. A socket that keeps sending faster than `STREAM_ENTRY_MESSAGES` in
//!   `STREAM_ENTRY_WINDOW` (see `pipe::StreamRate`) takes the connection's output over: it
//!   encodes each message into the gate's buffer and writes [`STREAM_BATCH`] bytes at a time
//!   itself, and the session looks every [`STREAM_TICK`]: it writes what waits there, and ends
//!   the stream when the socket sent nothing since its last look. Handing every message to
//!   another thread costs the sender a cache line's trip between CPUs per message whenever the
//!   scheduler puts the two threads on different CPUs, which doubled its cost per small message
//!   and made the throughput of one run twice that of the next; a stream written from the
//!   sending thread costs the same wherever the threads run. The price is that the last
//!   messages of a stream may wait up to one tick (a socket about to wait in a receive or a
//!   send writes them first; a poll does not, as a loop that polls before every send would then
//!   write every message alone).
//!
//! If the kernel takes only part of a write, a blocking send on a socket with one peer waits
//! for room (as it would wait at the high-water mark); otherwise the rest waits in the gate, the
//! stream ends, and the session sends the rest before anything else.

use std::cell::UnsafeCell;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use oxmq_proto::frame;

#[cfg(not(loom))]
use super::read_gate::{Polled, poll_two};
use crate::message::{Kind, Message};
use crate::pipe::{DirectWrite, WriteMode};
use crate::signal::Activation;
use crate::transport::Stream;

/// A streaming socket writes once this many bytes wait.
const STREAM_BATCH: usize = 64 * 1024;
/// Messages of this many bytes or more (all frames) end a stream and take the pipe. For them the
/// kernel's work per message (the copy, and over tcp the loopback's delivery, both done by the
/// writing thread) outweighs the hand-off, and the I/O thread doing it beside the socket's
/// thread wins: 1,000,000 messages of 1 KiB over tcp took 0.36-0.65 s streamed against
/// 0.29-0.32 s through the I/O thread.
const STREAM_MAX_MESSAGE: usize = 256;
/// How often the session looks at a stream: the longest the last messages of a stream wait.
pub(crate) const STREAM_TICK: Duration = Duration::from_millis(1);

/// Messages with more frames than this always take the pipe.
const MAX_DIRECT_FRAMES: usize = 8;

/// The session owns the connection.
const BUSY: u8 = 0;
/// The session has nothing queued.
const IDLE: u8 = 1;
/// A direct write left bytes for the session to send.
const LEFTOVER: u8 = 2;
/// The socket streams: it owns the output and queues into `unsent` (see the module docs).
const STREAM: u8 = 3;

/// Shared by a session and the socket's peer for that session.
pub(crate) struct WriteGate {
    /// [`BUSY`], [`IDLE`] (the socket may write directly; checked again under the lock),
    /// [`LEFTOVER`] (a direct write was cut short: the session must claim the rest) or
    /// [`STREAM`] (the socket streams; changed only under the lock).
    state: AtomicU8,
    inner: GateLock,
    /// The session's activation, to hand it a partial write.
    session: OnceLock<Arc<Activation>>,
}

struct GateInner {
    stream: Option<Arc<Stream>>,
    /// Bytes the socket's thread queued or wrote and the kernel did not take yet: a stream's
    /// batch ([`STREAM`]) or the rest of a write cut short ([`LEFTOVER`]).
    unsent: Vec<u8>,
    /// Messages a stream queued so far; the session's tick compares it with `ticked`.
    appended: u64,
    /// `appended` at the session's last tick.
    ticked: u64,
}

/// The gate's lock: taken for every message a stream queues, so it is a spin lock released
/// with a plain store (one atomic read-modify-write a message, where `std::sync::Mutex` costs
/// two: the pair was 61 % of the sending thread's time in the gate, 23 % of all of it, at
/// ipc 64 B). It is held for a few instructions, or by one side for one system call (a
/// write, never a wait): a thread that finds it held spins briefly, then yields.
struct GateLock {
    locked: AtomicBool,
    inner: UnsafeCell<GateInner>,
}

// SAFETY: `inner` is reached only through a `GateGuard`, which exists only while its thread
// holds `locked` (taken with Acquire, released with Release), so no two threads reach it at
// once and each holder sees what the previous one wrote. `GateInner` is `Send`.
unsafe impl Sync for GateLock {}

impl GateLock {
    fn lock(&self) -> GateGuard<'_> {
        loop {
            if let Some(guard) = self.try_lock() {
                return guard;
            }
            let mut spins = 0u32;
            while self.locked.load(Ordering::Relaxed) {
                if spins < 64 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    #[inline]
    fn try_lock(&self) -> Option<GateGuard<'_>> {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| GateGuard { lock: self })
    }
}

/// Holds the [`GateLock`]; releases it when dropped.
struct GateGuard<'a> {
    lock: &'a GateLock,
}

impl std::ops::Deref for GateGuard<'_> {
    type Target = GateInner;

    fn deref(&self) -> &GateInner {
        // SAFETY: this guard holds the lock (see `GateLock`): nothing else reaches `inner`.
        unsafe { &*self.lock.inner.get() }
    }
}

impl std::ops::DerefMut for GateGuard<'_> {
    fn deref_mut(&mut self) -> &mut GateInner {
        // SAFETY: this guard holds the lock (see `GateLock`), and `&mut self` makes this the
        // only reference through it.
        unsafe { &mut *self.lock.inner.get() }
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

/// What the session's look at a stream ([`WriteGate::tick`]) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tick {
    /// The socket still streams: look again in [`STREAM_TICK`].
    Streaming,
    /// No stream (any more); the connection may have bytes for the session to claim.
    Ended,
}

impl WriteGate {
    pub(crate) fn new() -> Arc<WriteGate> {
        Arc::new(WriteGate {
            state: AtomicU8::new(BUSY),
            inner: GateLock {
                locked: AtomicBool::new(false),
                inner: UnsafeCell::new(GateInner {
                    stream: None,
                    unsent: Vec::new(),
                    appended: 0,
                    ticked: 0,
                }),
            },
            session: OnceLock::new(),
        })
    }

    /// Session side: where to send a partial direct write (set once, when the session starts).
    pub(crate) fn set_session(&self, act: Arc<Activation>) {
        let _ = self.session.set(act);
    }

    fn lock(&self) -> GateGuard<'_> {
        self.inner.lock()
    }

    /// Session side: a connection is up (`Some`) or gone (`None`).
    pub(crate) fn set_stream(&self, stream: Option<Arc<Stream>>) {
        let mut inner = self.lock();
        self.state.store(BUSY, Ordering::Release);
        inner.unsent.clear();
        inner.stream = stream;
    }

    /// Session side: whether a cut-short direct write waits to be claimed.
    #[inline]
    pub(crate) fn has_leftover(&self) -> bool {
        self.state.load(Ordering::Acquire) == LEFTOVER
    }

    /// Session side: whether the socket streams (the session looks every [`STREAM_TICK`]).
    #[inline]
    pub(crate) fn is_streaming(&self) -> bool {
        self.state.load(Ordering::Acquire) == STREAM
    }

    /// Session side: takes the connection back before taking messages or writing (ending a
    /// stream); `take` gets the bytes the socket's thread left unsent, which must go out first.
    pub(crate) fn claim(&self, take: impl FnOnce(&[u8])) {
        if self.state.load(Ordering::Acquire) == BUSY {
            return;
        }
        let mut inner = self.lock();
        self.state.store(BUSY, Ordering::Release);
        if !inner.unsent.is_empty() {
            take(&inner.unsent);
            inner.unsent.clear();
        }
    }

    /// Session side: ends a stream (the socket closed): what it queued is left to claim.
    pub(crate) fn stop_stream(&self) {
        if self.state.load(Ordering::Acquire) != STREAM {
            return;
        }
        let inner = self.lock();
        if self.state.load(Ordering::Acquire) == STREAM {
            let next = if inner.unsent.is_empty() {
                IDLE
            } else {
                LEFTOVER
            };
            self.state.store(next, Ordering::Release);
        }
    }

    /// Session side, every [`STREAM_TICK`] while the socket streams: writes what the stream
    /// queued since the socket last wrote, and ends the stream when the socket queued nothing
    /// since the last tick (leaving what the kernel did not take to claim). A socket that
    /// still streams writes the rest with its next batch.
    pub(crate) fn tick(&self) -> Tick {
        if self.state.load(Ordering::Acquire) != STREAM {
            return Tick::Ended;
        }
        let mut inner = self.lock();
        if self.state.load(Ordering::Acquire) != STREAM {
            return Tick::Ended;
        }
        let active = inner.appended != inner.ticked;
        inner.ticked = inner.appended;
        let written = inner.unsent.is_empty() || Self::write_unsent(&mut inner);
        if active {
            Tick::Streaming
        } else {
            if written {
                self.state.store(IDLE, Ordering::Release);
            } else {
                self.hand_over();
            }
            Tick::Ended
        }
    }

    /// Session side: nothing is queued any more; `still_empty` re-checks the pipe under the lock.
    /// Returns whether the connection was handed to direct writes.
    pub(crate) fn release(&self, still_empty: impl FnOnce() -> bool) -> bool {
        let inner = self.lock();
        if inner.stream.is_some() && still_empty() {
            self.state.store(IDLE, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// Socket side: the stream, with the gate's lock held, when the connection is idle and
    /// `drained` says the pipe is empty (checked before and after taking the lock).
    #[inline]
    fn take_idle(&self, drained: &dyn Fn() -> bool) -> Option<(GateGuard<'_>, Arc<Stream>)> {
        if self.state.load(Ordering::Acquire) != IDLE || !drained() {
            return None;
        }
        let inner = self.inner.try_lock()?;
        let stream = inner.stream.clone()?;
        if self.state.load(Ordering::Acquire) != IDLE || !drained() {
            return None;
        }
        Some((inner, stream))
    }

    /// Socket side: writes `slices` (`total` bytes) with one system call; what the kernel does
    /// not take waits in the gate for the session, which is woken to send it.
    #[inline]
    fn write_idle(
        &self,
        mut inner: GateGuard<'_>,
        stream: &Stream,
        slices: &[IoSlice<'_>],
        total: usize,
    ) {
        // WouldBlock, Interrupted or a broken connection: the session sends (or fails) the rest.
        let written = stream.write_vectored(slices).unwrap_or(0);
        if written < total {
            let mut rest = Vec::with_capacity(total - written);
            let mut skip = written;
            for slice in slices {
                if skip >= slice.len() {
                    skip -= slice.len();
                } else {
                    rest.extend_from_slice(&slice[skip..]);
                    skip = 0;
                }
            }
            inner.unsent = rest;
            self.state.store(LEFTOVER, Ordering::Release);
            drop(inner);
            self.wake_session();
        }
    }

    fn wake_session(&self) {
        if let Some(act) = self.session.get() {
            act.wake();
        }
    }

    /// Writes `unsent` (the lock held) with one system call. Returns whether the kernel took
    /// it all; what it did not take stays.
    fn write_unsent(inner: &mut GateInner) -> bool {
        let GateInner { stream, unsent, .. } = inner;
        // WouldBlock, Interrupted or a broken connection: the session sends (or fails) the rest.
        let written = match stream {
            Some(stream) => stream.write_vectored(&[IoSlice::new(unsent)]).unwrap_or(0),
            None => 0,
        };
        unsent.drain(..written);
        unsent.is_empty()
    }

    /// Leaves what a stream could not write to the session ([`LEFTOVER`]), ending the stream;
    /// the caller wakes the session ([`wake_session`](Self::wake_session)) once it released
    /// the lock.
    fn hand_over(&self) {
        self.state.store(LEFTOVER, Ordering::Release);
    }

    /// Socket side: queues one message (`encode` appends its wire form) to the stream, starting
    /// one when the connection is idle and `drained` says the pipe is empty. A stream the pipe
    /// was written to meanwhile ends instead (what the socket queued there must go out first).
    /// Writes when a batch is full, or at once for a reply; when the kernel takes only part, a
    /// blocking send waits for room as `mode` allows, and otherwise the session gets the rest.
    /// Returns whether the message was taken.
    fn stream(
        &self,
        drained: &dyn Fn() -> bool,
        mode: WriteMode<'_>,
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        let mut inner = self.lock();
        let started = match self.state.load(Ordering::Acquire) {
            STREAM if drained() => false,
            STREAM => {
                let wake = self.end_locked(&mut inner);
                drop(inner);
                if wake {
                    self.wake_session();
                }
                return false;
            }
            IDLE if inner.stream.is_some() && drained() && (mode.fresh)() => {
                self.state.store(STREAM, Ordering::Release);
                inner.appended = 0;
                inner.ticked = 0;
                true
            }
            _ => return false,
        };
        encode(&mut inner.unsent);
        inner.appended += 1;
        let mut handed_over = false;
        if mode.reply || inner.unsent.len() >= STREAM_BATCH {
            let mut deadline = None;
            while !Self::write_unsent(&mut inner) {
                let (Some((socket, limit)), Some(fd)) =
                    (mode.wait(), inner.stream.as_ref().map(|s| s.fd()))
                else {
                    self.hand_over();
                    handed_over = true;
                    break;
                };
                drop(inner);
                let until = *deadline.get_or_insert_with(|| Instant::now() + limit);
                let room = wait_for_room(fd, socket, until);
                inner = self.lock();
                if self.state.load(Ordering::Acquire) != STREAM {
                    // The session took the connection (and the rest) meanwhile.
                    break;
                }
                if !room {
                    self.hand_over();
                    handed_over = true;
                    break;
                }
            }
        }
        drop(inner);
        // A new stream: the session starts looking at it; a cut-short write: it claims the rest.
        if started || handed_over {
            self.wake_session();
        }
        true
    }

    /// Socket side, before a direct write: a message of `size` bytes (all frames) goes to the
    /// stream under way, or starts one when `mode` says the sends are fast; one too large for a
    /// stream ends it. `Some` when that settled the message (whether it was taken), `None`
    /// when only a reply's direct write may still take it.
    #[inline]
    fn offer_stream(
        &self,
        size: usize,
        drained: &dyn Fn() -> bool,
        mode: WriteMode<'_>,
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> Option<bool> {
        let state = self.state.load(Ordering::Acquire);
        if state == STREAM || mode.stream && state == IDLE {
            if size < STREAM_MAX_MESSAGE {
                return Some(self.stream(drained, mode, encode));
            }
            if state == STREAM {
                self.end_stream();
                return Some(false);
            }
        }
        (!mode.reply).then_some(false)
    }

    /// Writes `unsent` (the lock held); what the kernel did not take is left to the session
    /// ([`hand_over`](Self::hand_over)). Returns whether it was all written; if not, the
    /// caller wakes the session once it released the lock.
    fn write_or_hand_over(&self, inner: &mut GateInner) -> bool {
        let written = Self::write_unsent(inner);
        if !written {
            self.hand_over();
        }
        written
    }

    /// Ends a stream (the lock held): what it queued is written now, or left for the session.
    /// Returns whether the session must be woken (once the lock is released) to send the rest.
    fn end_locked(&self, inner: &mut GateInner) -> bool {
        let written = self.write_or_hand_over(inner);
        if written {
            self.state.store(IDLE, Ordering::Release);
        }
        !written
    }
}

/// Waits until the connection `fd` can take more bytes, `deadline` passes, or `socket` is woken
/// for anything else; returns whether there is room.
fn wait_for_room(fd: std::os::fd::RawFd, socket: &Activation, deadline: Instant) -> bool {
    #[cfg(loom)]
    {
        let _ = (fd, socket, deadline);
        false
    }
    #[cfg(not(loom))]
    {
        let Ok(signal) = socket.signal_fd() else {
            return false;
        };
        socket.arm();
        let polled = poll_two(fd, libc::POLLOUT, signal, Some(deadline));
        socket.cancel_wait();
        match polled {
            Polled::Ready {
                signalled: true, ..
            } => {
                socket.clear_signal();
                false
            }
            Polled::Ready {
                stream, hang_up, ..
            } => stream && !hang_up,
            _ => false,
        }
    }
}

impl DirectWrite for WriteGate {
    /// Socket side: takes `msg` into a stream, or writes it to the stream if the connection is
    /// idle and `mode` is a reply. `drained` tells whether every message the socket put in the
    /// pipe has been taken by the session. Returns `false` when the message must take the pipe
    /// instead (a message that cannot be streamed ends the stream first).
    fn try_write(&self, msg: &Message, drained: &dyn Fn() -> bool, mode: WriteMode) -> bool {
        if msg.kind() != Kind::Data || msg.len() > MAX_DIRECT_FRAMES {
            self.end_stream();
            return false;
        }
        let size = msg.iter().map(|part| part.len()).sum();
        let streamed = self.offer_stream(size, drained, mode, |buf| {
            let last = msg.len() - 1;
            for (i, part) in msg.iter().enumerate() {
                push_frame(buf, i < last, part);
            }
        });
        if let Some(taken) = streamed {
            return taken;
        }
        let Some((inner, stream)) = self.take_idle(drained) else {
            return false;
        };
        let mut headers = [[0u8; frame::MAX_HEADER_LEN]; MAX_DIRECT_FRAMES];
        let mut header_lens = [0usize; MAX_DIRECT_FRAMES];
        let last = msg.len() - 1;
        let mut total = 0;
        for (i, part) in msg.iter().enumerate() {
            header_lens[i] = frame::encode_header(&mut headers[i], i < last, false, part.len());
            total += header_lens[i] + part.len();
        }
        let mut slices: [IoSlice<'_>; 2 * MAX_DIRECT_FRAMES] =
            [IoSlice::new(&[]); 2 * MAX_DIRECT_FRAMES];
        for (i, part) in msg.iter().enumerate() {
            slices[2 * i] = IoSlice::new(&headers[i][..header_lens[i]]);
            slices[2 * i + 1] = IoSlice::new(part);
        }
        self.write_idle(inner, &stream, &slices[..2 * msg.len()], total);
        true
    }

    /// [`try_write`](Self::try_write) for a one-frame message of `data`: no message built to
    /// carry the bytes.
    fn try_write_bytes(&self, data: &[u8], drained: &dyn Fn() -> bool, mode: WriteMode) -> bool {
        let streamed = self.offer_stream(data.len(), drained, mode, |buf| {
            push_frame(buf, false, data)
        });
        if let Some(taken) = streamed {
            return taken;
        }
        let Some((inner, stream)) = self.take_idle(drained) else {
            return false;
        };
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let header_len = frame::encode_header(&mut header, false, false, data.len());
        let slices = [IoSlice::new(&header[..header_len]), IoSlice::new(data)];
        self.write_idle(inner, &stream, &slices, header_len + data.len());
        true
    }

    /// Socket side, before it waits: writes what its stream queued (the stream goes on).
    fn flush(&self) {
        if self.state.load(Ordering::Acquire) != STREAM {
            return;
        }
        let mut inner = self.lock();
        if self.state.load(Ordering::Acquire) == STREAM
            && !inner.unsent.is_empty()
            && !self.write_or_hand_over(&mut inner)
        {
            drop(inner);
            self.wake_session();
        }
    }

    /// Socket side: ends a stream (what it queued is written now or left for the session).
    fn end_stream(&self) {
        if self.state.load(Ordering::Acquire) != STREAM {
            return;
        }
        let mut inner = self.lock();
        if self.state.load(Ordering::Acquire) == STREAM && self.end_locked(&mut inner) {
            drop(inner);
            self.wake_session();
        }
    }
}

/// Appends one frame in its wire form.
#[inline]
fn push_frame(buf: &mut Vec<u8>, more: bool, body: &[u8]) {
    let mut header = [0u8; frame::MAX_HEADER_LEN];
    let len = frame::encode_header(&mut header, more, false, body.len());
    buf.extend_from_slice(&header[..len]);
    buf.extend_from_slice(body);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::pipe::SendMode;
    use std::io::{ErrorKind, Read};
    use std::os::fd::{FromRawFd, IntoRawFd};
    use std::os::unix::net::UnixStream as StdUnixStream;

    /// A gate over one end of a unix socket pair, released to the socket (idle), and the other
    /// end, non-blocking.
    fn idle_gate() -> (Arc<WriteGate>, StdUnixStream) {
        let (ours, theirs) = mio::net::UnixStream::pair().unwrap();
        let gate = WriteGate::new();
        gate.set_stream(Some(Arc::new(Stream::Ipc(ours))));
        assert!(
            gate.release(|| true),
            "nothing queued: the socket may write"
        );
        // SAFETY: the descriptor was just taken from the mio stream, which no longer owns it.
        let theirs = unsafe { StdUnixStream::from_raw_fd(theirs.into_raw_fd()) };
        theirs.set_nonblocking(true).unwrap();
        (gate, theirs)
    }

    /// What the session does at a tick: writes what the stream queued, and when the stream
    /// ended with bytes the kernel did not take, claims and sends them and hands the idle
    /// connection back.
    fn session_tick(gate: &WriteGate, stream: &Stream) {
        gate.tick();
        if gate.has_leftover() {
            let mut rest = Vec::new();
            gate.claim(|bytes| rest.extend_from_slice(bytes));
            let mut at = 0;
            while at < rest.len() {
                match stream.write_vectored(&[IoSlice::new(&rest[at..])]) {
                    Ok(n) => at += n,
                    Err(_) => std::thread::yield_now(),
                }
            }
            assert!(gate.release(|| true));
        }
    }

    const STREAMING: WriteMode<'static> = WriteMode {
        reply: false,
        stream: true,
        socket: None,
        fresh: &|| true,
    };

    const DRAINED: &dyn Fn() -> bool = &|| true;

    /// Reads what has arrived and decodes it as one-frame messages.
    fn read_messages(peer: &mut StdUnixStream, buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match peer.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("read: {err}"),
            }
        }
        decode(buf)
    }

    /// Takes the whole short frames at the front of `buf` (none of these tests sends more).
    fn decode(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        let mut at = 0;
        while buf.len() >= at + 2 && buf.len() >= at + 2 + usize::from(buf[at + 1]) {
            assert_eq!(buf[at], 0, "a last frame, short, not a command");
            let len = usize::from(buf[at + 1]);
            messages.push(buf[at + 2..at + 2 + len].to_vec());
            at += 2 + len;
        }
        buf.drain(..at);
        messages
    }

    fn message(i: usize, len: usize) -> Vec<u8> {
        let mut body = vec![(i % 251) as u8; len];
        body[..8.min(len)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(len)]);
        body
    }

    #[test]
    fn a_stream_waits_for_a_full_batch_or_the_tick() {
        let (gate, mut peer) = idle_gate();
        let mut buf = Vec::new();
        assert!(gate.try_write_bytes(b"one", DRAINED, STREAMING));
        assert!(gate.is_streaming());
        assert!(gate.try_write_bytes(b"two", DRAINED, STREAMING));
        assert!(
            read_messages(&mut peer, &mut buf).is_empty(),
            "a stream writes whole batches"
        );
        assert_eq!(gate.tick(), Tick::Streaming, "the socket queued since");
        assert_eq!(
            read_messages(&mut peer, &mut buf),
            [b"one".to_vec(), b"two".to_vec()]
        );
        assert_eq!(
            gate.tick(),
            Tick::Ended,
            "nothing queued since the last tick"
        );
        assert!(!gate.is_streaming() && !gate.has_leftover());
        // A batch's worth goes out without a tick.
        let count = STREAM_BATCH / 200 + 1;
        for i in 0..count {
            assert!(gate.try_write_bytes(&message(i, 198), DRAINED, STREAMING));
        }
        let got = read_messages(&mut peer, &mut buf);
        assert_eq!(got.len(), count, "the batch was written when it filled");
        assert!(got.iter().enumerate().all(|(i, m)| *m == message(i, 198)));
    }

    #[test]
    fn a_message_that_cannot_stream_ends_the_stream_after_writing_it() {
        let (gate, mut peer) = idle_gate();
        let mut buf = Vec::new();
        assert!(gate.try_write_bytes(b"small", DRAINED, STREAMING));
        let large = vec![7u8; STREAM_MAX_MESSAGE];
        assert!(
            !gate.try_write_bytes(&large, DRAINED, STREAMING),
            "a large message takes the pipe"
        );
        assert!(!gate.is_streaming());
        assert_eq!(read_messages(&mut peer, &mut buf), [b"small".to_vec()]);
        // So does a multi-part message beyond the frames a direct write takes.
        assert!(gate.try_write_bytes(b"again", DRAINED, STREAMING));
        let many =
            Message::from_frames((0..=MAX_DIRECT_FRAMES).map(|_| crate::message::Frame::from("x")));
        assert!(!gate.try_write(&many, DRAINED, STREAMING));
        assert!(!gate.is_streaming());
        assert_eq!(read_messages(&mut peer, &mut buf), [b"again".to_vec()]);
    }

    #[test]
    fn a_pipe_written_meanwhile_ends_the_stream() {
        let (gate, mut peer) = idle_gate();
        let mut buf = Vec::new();
        assert!(gate.try_write_bytes(b"first", DRAINED, STREAMING));
        // The socket put a message in the pipe (a pattern writing it directly): what the stream
        // queued goes first, and the next message follows the pipe's.
        assert!(!gate.try_write_bytes(b"third", &|| false, STREAMING));
        assert!(!gate.is_streaming());
        assert_eq!(read_messages(&mut peer, &mut buf), [b"first".to_vec()]);
    }

    #[test]
    fn a_stream_does_not_start_unless_the_connection_is_idle_and_the_pipe_drained() {
        let (gate, _peer) = idle_gate();
        assert!(!gate.try_write_bytes(b"x", &|| false, STREAMING));
        let slow = WriteMode {
            stream: false,
            ..STREAMING
        };
        assert!(
            !gate.try_write_bytes(b"x", DRAINED, slow),
            "sends too slow to stream"
        );
        let stale = WriteMode {
            fresh: &|| false,
            ..STREAMING
        };
        assert!(
            !gate.try_write_bytes(b"x", DRAINED, stale),
            "a rate measured before a pause starts no stream"
        );
        assert!(!gate.is_streaming());
        assert!(gate.try_write_bytes(b"x", DRAINED, STREAMING));
        assert!(
            gate.try_write_bytes(b"y", DRAINED, stale),
            "a stream under way goes on whatever the rate says"
        );
        let mut left = Vec::new();
        gate.claim(|rest| left.extend_from_slice(rest));
        assert_eq!(decode(&mut left), [b"x".to_vec(), b"y".to_vec()]);
        assert!(
            !gate.try_write_bytes(b"x", DRAINED, STREAMING),
            "the session owns it"
        );
    }

    #[test]
    fn the_session_claims_what_a_stream_queued() {
        let (gate, mut peer) = idle_gate();
        let mut buf = Vec::new();
        for body in [&b"a"[..], b"bb", b"ccc"] {
            assert!(gate.try_write_bytes(body, DRAINED, STREAMING));
        }
        let mut claimed = Vec::new();
        gate.claim(|rest| claimed.extend_from_slice(rest));
        assert!(!gate.is_streaming());
        assert_eq!(
            decode(&mut claimed),
            [b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]
        );
        assert!(read_messages(&mut peer, &mut buf).is_empty());
        assert!(
            !gate.try_write_bytes(b"d", DRAINED, STREAMING),
            "the session owns the connection now"
        );
        // A socket that closed: the session stops the stream and claims what it left.
        let (gate, _peer) = idle_gate();
        assert!(gate.try_write_bytes(b"last", DRAINED, STREAMING));
        gate.stop_stream();
        assert!(gate.has_leftover() && !gate.is_streaming());
        let mut claimed = Vec::new();
        gate.claim(|rest| claimed.extend_from_slice(rest));
        assert_eq!(decode(&mut claimed), [b"last".to_vec()]);
    }

    #[test]
    fn a_full_kernel_buffer_hands_the_rest_to_the_session() {
        let (gate, mut peer) = idle_gate();
        let mut sent = 0;
        while gate.try_write_bytes(&message(sent, 200), DRAINED, STREAMING) {
            sent += 1;
            assert!(sent < 1_000_000, "the kernel buffer never filled");
        }
        assert!(
            gate.has_leftover(),
            "the cut-short batch waits for the session"
        );
        let mut buf = Vec::new();
        let mut got = read_messages(&mut peer, &mut buf);
        gate.claim(|rest| buf.extend_from_slice(rest));
        got.extend(decode(&mut buf));
        assert!(buf.is_empty());
        assert_eq!(got.len(), sent, "every message taken arrives, once");
        assert!(got.iter().enumerate().all(|(i, m)| *m == message(i, 200)));
    }

    /// The socket's thread streams while a session thread ticks, claims what is left when the
    /// kernel's buffer fills, writes it and releases the connection again, and a reader drains
    /// the other end: every message arrives once, in order (the lock and the hand-overs under
    /// contention; run under AddressSanitizer in CI).
    #[test]
    fn a_stream_with_a_busy_session_delivers_everything_in_order() {
        let (ours, theirs) = mio::net::UnixStream::pair().unwrap();
        let stream = Arc::new(Stream::Ipc(ours));
        let gate = WriteGate::new();
        gate.set_stream(Some(Arc::clone(&stream)));
        assert!(gate.release(|| true));
        // SAFETY: the descriptor was just taken from the mio stream, which no longer owns it.
        let mut theirs = unsafe { StdUnixStream::from_raw_fd(theirs.into_raw_fd()) };
        theirs.set_nonblocking(false).unwrap();
        let count = 100_000;
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            while got.len() < count {
                let n = theirs.read(&mut chunk).expect("read");
                assert!(n > 0, "the stream ended early");
                buf.extend_from_slice(&chunk[..n]);
                got.extend(decode(&mut buf));
            }
            got
        });
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let session = {
            let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    session_tick(&gate, &stream);
                    std::thread::sleep(Duration::from_micros(50));
                }
            })
        };
        for i in 0..count {
            // Refused while the session holds the connection: offered again (a socket would
            // queue it in the pipe, which the session writes after what it claimed).
            while !gate.try_write_bytes(&message(i, 1 + i % 200), DRAINED, STREAMING) {
                std::thread::yield_now();
            }
        }
        while gate.is_streaming() || gate.has_leftover() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let got = reader.join().unwrap();
        done.store(true, Ordering::Relaxed);
        session.join().unwrap();
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, m)| *m == message(i, 1 + i % 200))
        );
    }

    #[test]
    fn a_blocking_stream_waits_for_room_and_a_wake_up_ends_the_wait() {
        let (gate, mut peer) = idle_gate();
        let socket = Activation::for_thread();
        let send = SendMode::default();
        send.sole.store(true, Ordering::Relaxed);
        send.sndtimeo.store(10_000, Ordering::Relaxed);
        let waiting = WriteMode {
            socket: Some((&socket, &send)),
            ..STREAMING
        };
        let count = 20_000;
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut got = Vec::new();
            while got.len() < count {
                got.extend(read_messages(&mut peer, &mut buf));
                std::thread::sleep(Duration::from_millis(1));
            }
            (got, peer)
        });
        for i in 0..count {
            assert!(gate.try_write_bytes(&message(i, 200), DRAINED, waiting));
        }
        assert!(
            gate.is_streaming(),
            "the stream waited for room instead of handing over"
        );
        assert_eq!(gate.tick(), Tick::Streaming);
        // The session ticks on until the reader has everything: a tick that finds the kernel's
        // buffer full leaves the rest for the next one.
        let stream = gate.lock().stream.clone().expect("a connection");
        while !reader.is_finished() {
            std::thread::sleep(STREAM_TICK);
            session_tick(&gate, &stream);
        }
        let (got, _peer) = reader.join().unwrap();
        assert!(got.iter().enumerate().all(|(i, m)| *m == message(i, 200)));

        // Nobody reads now: a wake-up of the socket ends the wait, and the session gets the
        // rest.
        let (gate, _peer) = idle_gate();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let notifier = {
            let (socket, done) = (Arc::clone(&socket), Arc::clone(&done));
            // Again and again: a notification while the sender is not waiting finds no one.
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    socket.notify();
                }
            })
        };
        let started = Instant::now();
        let mut sent = 0;
        while !gate.has_leftover() {
            assert!(gate.try_write_bytes(&message(sent, 200), DRAINED, waiting));
            sent += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the wake-up ended the wait"
        );
        done.store(true, Ordering::Relaxed);
        notifier.join().unwrap();
    }
}
