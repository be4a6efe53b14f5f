//! Pipes: the one-way message queues between a socket and its peers.
//!
//! A socket talks to each peer through two pipes, one each way. The other end of a pipe is either a
//! connection on an I/O thread (tcp, ipc) or, for inproc, the peer socket itself: messages are
//! moved through the queue, never encoded or copied.
//!
//! A pipe carries whole messages, so a multi-part message is delivered atomically by construction.
//! Its bound is the high-water mark in messages: the writer may run ahead of the reader by at most
//! `hwm` messages. The bound comes from the sockets at either end ([`Hwm`]) and follows their
//! SNDHWM and RCVHWM when those change. As in libzmq, the reader hands back credit in batches
//! (every low-water mark's worth of messages, and whenever it finds the pipe empty), so the two
//! threads share one cache line only once per batch. Returning credit wakes the writer only when
//! the writer found the pipe full and asked for it (`writer_blocked`); new messages wake the
//! reader only when it announced that it waits (see `signal`).

mod peer;
mod queue;

pub(crate) use peer::{
    DirectRead, DirectWrite, FarEnd, Mailbox, Peer, PeerEvent, PeerId, PeerNames, ReadWait,
    SendMode, WriteMode,
};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::message::{Kind, Message};
use crate::metadata::PeerMetadata;
use crate::signal::Activation;

/// What bounds a pipe: the SNDHWM of the socket that writes it and the RCVHWM of the socket
/// that reads it (0: unlimited). An end that is not a socket (a connection's session) adds
/// nothing, and neither does a socket not known yet (an inproc connect waiting for its bind):
/// `None`.
///
/// As in libzmq, an inproc pipe, with a socket at both ends, holds the sum of both (unlimited
/// when either is); a tcp or ipc pipe holds the socket's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hwm {
    pub send: Option<i32>,
    pub recv: Option<i32>,
    /// SNDHWM_BYTES of the writing socket and RCVHWM_BYTES of the reading one (0: none).
    pub send_bytes: u64,
    pub recv_bytes: u64,
}

impl Hwm {
    /// A pipe a socket with this SNDHWM writes, and no socket reads.
    pub(crate) fn send(sndhwm: i32) -> Hwm {
        Hwm {
            send: Some(sndhwm),
            recv: None,
            ..Hwm::default()
        }
    }

    /// A pipe a socket with this RCVHWM reads, and no socket writes.
    pub(crate) fn recv(rcvhwm: i32) -> Hwm {
        Hwm {
            send: None,
            recv: Some(rcvhwm),
            ..Hwm::default()
        }
    }

    /// A pipe between two sockets.
    pub(crate) fn both(sndhwm: i32, rcvhwm: i32) -> Hwm {
        Hwm {
            send: Some(sndhwm),
            recv: Some(rcvhwm),
            ..Hwm::default()
        }
    }

    /// With byte bounds: the writing socket's SNDHWM_BYTES and the reading one's
    /// RCVHWM_BYTES (0: none).
    pub(crate) fn bytes(mut self, send: u64, recv: u64) -> Hwm {
        self.send_bytes = send;
        self.recv_bytes = recv;
        self
    }

    /// The bound on unread bytes: what each end allows, added (0: unbounded). Unlike the
    /// message bound, one end's limit holds whatever the other sets.
    fn bound_bytes(self) -> u64 {
        self.send_bytes.saturating_add(self.recv_bytes)
    }

    /// The bound on unread messages; 0 is unbounded.
    fn bound(self) -> u64 {
        let part = |hwm: i32| u64::try_from(hwm).unwrap_or(0);
        match (self.send, self.recv) {
            (Some(send), Some(recv)) if send > 0 && recv > 0 => part(send) + part(recv),
            (Some(_), Some(_)) | (None, None) => 0,
            (Some(hwm), None) | (None, Some(hwm)) => part(hwm),
        }
    }
}

/// What both ends of one pipe share.
struct Shared {
    /// Bound on unread messages; 0 is unbounded. Changes only when a socket at either end
    /// changes its SNDHWM or RCVHWM (see `limits`).
    hwm: AtomicU64,
    /// Credit batch size (follows `hwm`).
    lwm: AtomicU64,
    /// What `hwm` is made of. Each end sets its own part, under the lock.
    limits: Mutex<Hwm>,
    /// Bound on unread bytes (SNDHWM_BYTES, RCVHWM_BYTES); 0 is unbounded.
    hwm_bytes: AtomicU64,
    /// Byte credit batch size (follows `hwm_bytes`).
    lwm_bytes: AtomicU64,
    /// What the reader has consumed, published in batches. On its own cache line: the
    /// writer reads the fields around it on every send, and must not lose that line each time
    /// the reader returns credit.
    read: CacheLine<Credit>,
    /// The writer found the pipe full and waits for credit: only then does returning credit wake
    /// it.
    writer_blocked: AtomicBool,
    writer_closed: AtomicBool,
    reader_closed: AtomicBool,
    reader_act: OnceLock<Arc<Activation>>,
    writer_act: OnceLock<Arc<Activation>>,
    /// CONFLATE: instead of the queue, one slot that each write overwrites, so the reader gets
    /// only the newest message and the writer never waits.
    slot: Option<Mutex<Option<Message>>>,
}

impl Shared {
    /// Changes what bounds the pipe. A writer waiting for room is woken to look again (the
    /// bound may have grown).
    #[cold]
    fn set_limits(&self, change: impl FnOnce(&mut Hwm)) {
        if self.conflates() {
            return;
        }
        {
            let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
            change(&mut limits);
            let hwm = limits.bound();
            let hwm_bytes = limits.bound_bytes();
            let flag = byte_bound_flag(hwm_bytes);
            self.lwm
                .store(low_water_mark(hwm) | flag, Ordering::Relaxed);
            self.hwm.store(hwm | flag, Ordering::Relaxed);
            self.lwm_bytes
                .store(hwm_bytes.div_ceil(2), Ordering::Relaxed);
            self.hwm_bytes.store(hwm_bytes, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        if self.writer_blocked.load(Ordering::Relaxed)
            && self.writer_blocked.swap(false, Ordering::AcqRel)
        {
            Shared::notify(&self.writer_act);
        }
    }

    /// Whether this is a CONFLATE pipe (one branch on the hot path; the slot's own code is
    /// kept out of line).
    #[inline(always)]
    fn conflates(&self) -> bool {
        self.slot.is_some()
    }

    #[cold]
    fn slot(&self) -> MutexGuard<'_, Option<Message>> {
        match &self.slot {
            Some(slot) => slot.lock().unwrap_or_else(|e| e.into_inner()),
            None => unreachable!("only CONFLATE pipes have a slot"),
        }
    }

    #[inline]
    fn notify(act: &OnceLock<Arc<Activation>>) {
        match act.get() {
            // `Activation::notify` fences before it looks at the waiting flag (see `signal`).
            Some(act) => act.notify(),
            None => {
                // The peer may be setting its activation right now (an inproc bind after the
                // connect): it fences after setting it and then looks at the pipe, so fence
                // before looking again.
                fence(Ordering::SeqCst);
                if let Some(act) = act.get() {
                    act.notify();
                }
            }
        }
    }
}

/// The reader's credit: messages and bytes consumed.
#[derive(Default)]
struct Credit {
    messages: AtomicU64,
    bytes: AtomicU64,
}

/// A value alone on its cache line.
#[repr(align(64))]
struct CacheLine<T>(T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Creates a pipe bounded as `limits` says, or, with `conflate`, one that keeps only the newest
/// message (CONFLATE) and is never full. Either activation may be given later with
/// [`PipeWriter::set_activation`] / [`PipeReader::set_activation`] (an inproc connect whose peer
/// has not bound yet).
pub(crate) fn pipe(
    limits: Hwm,
    conflate: bool,
    reader_act: Option<Arc<Activation>>,
    writer_act: Option<Arc<Activation>>,
) -> (PipeWriter, PipeReader) {
    let hwm = if conflate { 0 } else { limits.bound() };
    let hwm_bytes = if conflate { 0 } else { limits.bound_bytes() };
    let flag = byte_bound_flag(hwm_bytes);
    let shared = Arc::new(Shared {
        hwm: AtomicU64::new(hwm | flag),
        lwm: AtomicU64::new(low_water_mark(hwm) | flag),
        limits: Mutex::new(limits),
        hwm_bytes: AtomicU64::new(hwm_bytes),
        lwm_bytes: AtomicU64::new(hwm_bytes.div_ceil(2)),
        read: CacheLine(Credit::default()),
        writer_blocked: AtomicBool::new(false),
        writer_closed: AtomicBool::new(false),
        reader_closed: AtomicBool::new(false),
        reader_act: once(reader_act),
        writer_act: once(writer_act),
        slot: conflate.then(|| Mutex::new(None)),
    });
    let (producer, consumer) = queue::channel();
    (
        PipeWriter {
            queue: producer,
            shared: Arc::clone(&shared),
            written: 0,
            peer_read: 0,
            written_bytes: 0,
            peer_read_bytes: 0,
            counting: flag != 0,
            slot_written: false,
        },
        PipeReader {
            queue: consumer,
            shared,
            credited: 0,
            uncounted: 0,
            metadata: None,
            controls: 0,
            read_bytes: 0,
            credited_bytes: 0,
            counting: flag != 0,
        },
    )
}

/// libzmq hands credit back when half the high-water mark was consumed; batches are capped so a huge
/// HWM still returns credit regularly.
/// Set in `hwm` and `lwm` while a byte bound is too: the ends learn it from the word they
/// load for each message anyway, and count bytes only then.
const BYTE_BOUND: u64 = 1 << 63;

fn byte_bound_flag(hwm_bytes: u64) -> u64 {
    if hwm_bytes != 0 { BYTE_BOUND } else { 0 }
}

fn low_water_mark(hwm: u64) -> u64 {
    if hwm == 0 {
        256
    } else {
        hwm.div_ceil(2).clamp(1, 256)
    }
}

fn once<T>(value: Option<T>) -> OnceLock<T> {
    let lock = OnceLock::new();
    if let Some(value) = value {
        let _ = lock.set(value);
    }
    lock
}

/// The writing end of a pipe.
pub(crate) struct PipeWriter {
    queue: queue::Producer<Message>,
    shared: Arc<Shared>,
    /// Messages written (pushed) so far.
    written: u64,
    /// Last credit seen from the reader.
    peer_read: u64,
    /// Bytes written so far, and the last byte credit seen from the reader.
    written_bytes: u64,
    peer_read_bytes: u64,
    /// A byte bound was set at the last look at `hwm`: bytes are counted.
    counting: bool,
    /// CONFLATE: the slot was written since the last flush.
    slot_written: bool,
}

impl PipeWriter {
    /// Messages written into the pipe so far (not CONFLATE's overwrites, nor the control
    /// messages of [`send_uncounted`](Self::send_uncounted)).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Messages written that the reader has not taken yet, as far as it has told (it returns
    /// credit in batches, as libzmq's pipes do, so this may lag by up to a low-water mark).
    pub(crate) fn queued(&self) -> u64 {
        let read = self.shared.read.messages.load(Ordering::Acquire);
        self.written.saturating_sub(read)
    }

    /// Whether one more message fits under the high-water mark and the reader is still there.
    #[inline(always)]
    pub(crate) fn can_write(&mut self) -> bool {
        if self.has_room() {
            return !self.is_closed();
        }
        self.peer_read = self.shared.read.messages.load(Ordering::Acquire);
        self.peer_read_bytes = self.shared.read.bytes.load(Ordering::Acquire);
        if self.has_room() {
            return !self.is_closed();
        }
        // Full: ask for a wake-up with the next credit (or a higher HWM), then look once more
        // (the reader may have returned credit before it could see the request).
        self.shared.writer_blocked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.peer_read = self.shared.read.messages.load(Ordering::Acquire);
        self.peer_read_bytes = self.shared.read.bytes.load(Ordering::Acquire);
        self.has_room() && !self.is_closed()
    }

    /// Whether the last credit seen leaves room under both bounds: messages (HWM) and bytes
    /// (HWM_BYTES; a pipe with nothing unread always takes one message, however large).
    ///
    /// Bytes are counted only while a byte bound is set (see [`BYTE_BOUND`]), so the two
    /// ends' counts may disagree by what crossed the pipe while one was set and not the other:
    /// the bound is then looser or tighter by that much, and an empty pipe always has room.
    #[inline(always)]
    fn has_room(&mut self) -> bool {
        let word = self.shared.hwm.load(Ordering::Relaxed);
        let unread = self.written - self.peer_read;
        // Without a byte bound (the flag clear) this is the message bound alone. `counting`
        // is only ever turned on here: a bound removed later leaves bytes counted, unused.
        if word & BYTE_BOUND == 0 {
            return word == 0 || unread < word;
        }
        self.has_room_bounded(word, unread)
    }

    /// [`has_room`](Self::has_room) with a byte bound set.
    #[inline(never)]
    fn has_room_bounded(&mut self, word: u64, unread: u64) -> bool {
        self.counting = true;
        let hwm = word & !BYTE_BOUND;
        if hwm != 0 && unread >= hwm {
            return false;
        }
        let hwm_bytes = self.shared.hwm_bytes.load(Ordering::Relaxed);
        unread == 0
            || hwm_bytes == 0
            || self.written_bytes.saturating_sub(self.peer_read_bytes) < hwm_bytes
    }

    /// Withdraws a request for a wake-up with the next credit (see
    /// [`can_write`](Self::can_write)): the writer will look again by itself.
    pub(crate) fn forget_blocked(&self) {
        self.shared.writer_blocked.store(false, Ordering::Relaxed);
    }

    /// The writing socket's SNDHWM changed (or, for an inproc connect that came before the
    /// bind, became known): the bound follows.
    pub(crate) fn set_sndhwm(&self, sndhwm: i32) {
        self.shared.set_limits(|limits| limits.send = Some(sndhwm));
    }

    /// The writing socket's SNDHWM_BYTES (0: none).
    pub(crate) fn set_sndhwm_bytes(&self, bytes: u64) {
        self.shared.set_limits(|limits| limits.send_bytes = bytes);
    }

    /// Queues a message without publishing it; the caller checked [`can_write`](Self::can_write).
    #[inline(always)]
    pub(crate) fn write(&mut self, msg: Message) {
        if self.shared.conflates() {
            return self.overwrite(msg);
        }
        if self.counting {
            self.written_bytes += msg.byte_len() as u64;
        }
        self.queue.push(msg);
        self.written += 1;
    }

    /// Like [`write`](Self::write), with `fill` finishing the message where it is queued
    /// (see `queue::Producer::push_then`): for messages made from bytes on the hot path.
    /// `len` is the size the message has once filled.
    #[inline(always)]
    pub(crate) fn write_then(&mut self, msg: Message, len: usize, fill: impl FnOnce(&mut Message)) {
        if self.shared.conflates() {
            let mut msg = msg;
            fill(&mut msg);
            return self.overwrite(msg);
        }
        self.queue.push_then(msg, fill);
        self.written += 1;
        if self.counting {
            self.written_bytes += len as u64;
        }
    }

    /// CONFLATE: replaces the message in the slot.
    #[cold]
    #[inline(never)]
    fn overwrite(&mut self, msg: Message) {
        *self.shared.slot() = Some(msg);
        self.slot_written = true;
    }

    /// Publishes the written messages and wakes the reader if it waits.
    #[inline(always)]
    pub(crate) fn flush(&mut self) {
        if std::mem::take(&mut self.slot_written) {
            Shared::notify(&self.shared.reader_act);
        } else if self.queue.unflushed() > 0 {
            self.queue.flush();
            Shared::notify(&self.shared.reader_act);
        }
    }

    /// Writes and flushes a control message that the high-water mark does not count (a
    /// connection's [`Kind::Metadata`]; libzmq does not count its routing-id messages either),
    /// even into a full pipe. The reader does not count it in the credit it returns.
    pub(crate) fn send_uncounted(&mut self, msg: Message) {
        debug_assert_eq!(
            msg.kind(),
            Kind::Metadata,
            "the reader uncounts only metadata"
        );
        if self.shared.conflates() {
            self.overwrite(msg);
        } else {
            self.queue.push(msg);
        }
        self.flush();
    }

    /// Writes and flushes one message, or hands it back when the pipe is full or closed.
    #[inline(always)]
    pub(crate) fn send(&mut self, msg: Message) -> Result<(), Message> {
        if !self.can_write() {
            return Err(msg);
        }
        self.write(msg);
        self.flush();
        Ok(())
    }

    /// Moves `msg` into the pipe and flushes it, or leaves it where it is when the pipe is
    /// full or closed; returns whether it was sent. After a send, `msg` holds a message the
    /// caller should drop or overwrite (an empty one, or a copy of a small one, which owns
    /// nothing). Taking the message by reference lets it go from the caller's place to the
    /// queue in one copy, where handing it back by value would copy it twice more.
    #[inline(always)]
    pub(crate) fn send_from(&mut self, msg: &mut Message) -> bool {
        if !self.can_write() {
            return false;
        }
        match msg.small_bytes() {
            // A small message usually was just built, its bytes written at the inline
            // buffer's offset: copying those bytes the same way reads back what was stored,
            // where copying the whole message would stall until those stores land.
            Some(bytes) => self.write_then(Message::new(), bytes.len(), |queued| {
                queued.set_bytes(bytes)
            }),
            None => self.write(std::mem::take(msg)),
        }
        self.flush();
        true
    }

    /// Copies `data` into the pipe as a one-frame message and flushes it, or does nothing when
    /// the pipe is full or closed; returns whether it was sent. The message is built where it
    /// is queued (see [`write_then`](Self::write_then)): nothing is assembled on the caller's
    /// stack and then moved, the move whose loads would wait on the stores that just built it.
    #[inline(always)]
    pub(crate) fn send_bytes(&mut self, data: &[u8]) -> bool {
        if !self.can_write() {
            return false;
        }
        self.write_then(Message::new(), data.len(), |queued| queued.set_bytes(data));
        self.flush();
        true
    }

    /// Tells the reader's owner that control messages (subscriptions) were flushed into this
    /// pipe; call after [`flush`](Self::flush).
    pub(crate) fn signal_control(&self) {
        // Without an activation the reader is not bound yet (inproc): the binder reads every
        // pipe when it attaches them.
        if let Some(act) = self.shared.reader_act.get() {
            act.signal_control();
        }
    }

    /// Whether the reader has taken every message written so far (exact only once the reader
    /// found the pipe empty, which is when it matters: see `direct`).
    #[inline]
    pub(crate) fn is_drained(&self) -> bool {
        if self.shared.conflates() {
            return self.shared.slot().is_none();
        }
        self.shared.read.messages.load(Ordering::Acquire) == self.written
    }

    /// Whether the reader has gone away.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.reader_closed.load(Ordering::Relaxed)
    }

    /// The activation of the writing side (the owner's), once set.
    #[inline]
    pub(crate) fn activation(&self) -> Option<&Arc<Activation>> {
        self.shared.writer_act.get()
    }

    /// Sets the activation of the writing side if none was set yet, then re-checks for credit.
    pub(crate) fn set_activation(&self, act: Arc<Activation>) {
        let _ = self.shared.writer_act.set(act);
        fence(Ordering::SeqCst);
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.queue.flush();
        self.shared.writer_closed.store(true, Ordering::Release);
        Shared::notify(&self.shared.reader_act);
    }
}

/// The reading end of a pipe.
pub(crate) struct PipeReader {
    queue: queue::Consumer<Message>,
    shared: Arc<Shared>,
    /// Read count last published as credit.
    credited: u64,
    /// Messages read that the high-water mark does not count (`PipeWriter::send_uncounted`):
    /// the credit returned leaves them out.
    uncounted: u64,
    /// The metadata of the connection the messages read now come from (see `metadata`).
    metadata: Option<Arc<PeerMetadata>>,
    /// Control messages read (routing ids, metadata, subscriptions): not data.
    controls: u64,
    /// Bytes read (metadata not counted), and those handed back as credit.
    read_bytes: u64,
    credited_bytes: u64,
    /// A byte bound was set at the last look at `lwm`: bytes are counted.
    counting: bool,
}

impl PipeReader {
    /// Data messages read so far (a CONFLATE pipe's are not counted).
    pub(crate) fn delivered(&self) -> u64 {
        self.queue.read_count().saturating_sub(self.controls)
    }

    /// The next message, if one was published.
    #[inline(always)]
    pub(crate) fn recv(&mut self) -> Option<Message> {
        let msg = if self.shared.conflates() {
            self.shared.slot().take()
        } else {
            self.queue.pop()
        };
        if let Some(msg) = &msg {
            self.count_read(msg);
            if msg.kind() != Kind::Data {
                self.note_control(msg);
            }
        }
        if !self.shared.conflates() {
            self.credit_after(msg.is_some());
        }
        msg
    }

    /// Keeps the metadata a [`Kind::Metadata`] control message carries; the socket type skips
    /// the message itself, as every control message it does not use.
    #[cold]
    fn note_control(&mut self, msg: &Message) {
        self.controls += 1;
        if msg.kind() == Kind::Metadata {
            self.metadata = PeerMetadata::decode(msg.first()).map(Arc::new);
            if !self.shared.conflates() {
                self.uncounted += 1;
                // Written uncounted: its bytes are not the writer's either.
                if self.counting {
                    self.read_bytes = self.read_bytes.saturating_sub(msg.byte_len() as u64);
                }
            }
        }
    }

    /// The metadata of the connection the last message read came from: `None` for an inproc
    /// peer, or before a connection's handshake.
    #[inline]
    pub(crate) fn metadata(&self) -> Option<&Arc<PeerMetadata>> {
        self.metadata.as_ref()
    }

    /// Moves the next message into `out` (see `queue::Consumer::pop_into`), returning whether
    /// there was one; credit as [`recv`](Self::recv).
    #[inline(always)]
    pub(crate) fn recv_into(&mut self, out: &mut Message) -> bool {
        if self.shared.conflates() {
            let taken = self.shared.slot().take();
            return match taken {
                Some(msg) => {
                    *out = msg;
                    if out.kind() != Kind::Data {
                        self.note_control(out);
                    }
                    true
                }
                None => false,
            };
        }
        let took = self.queue.pop_into(out);
        if took {
            self.count_read(out);
            if out.kind() != Kind::Data {
                // Before the credit: metadata does not count (see `send_uncounted`).
                self.note_control(out);
            }
        }
        self.credit_after(took);
        took
    }

    /// Runs `f` on the next of the messages seen published when [`recv`](Self::recv) or
    /// [`has_message`](Self::has_message) last looked, where it is queued, then drops it: a
    /// reader that only encodes messages copies none. `None` once those are used up, without
    /// looking again (call [`has_message`](Self::has_message) to look). A CONFLATE pipe runs
    /// `f` on its newest message, if any.
    #[inline(always)]
    pub(crate) fn recv_seen_with<R>(&mut self, f: impl FnOnce(&Message) -> R) -> Option<R> {
        if self.shared.conflates() {
            return self.shared.slot().take().map(|msg| f(&msg));
        }
        let result = if self.counting {
            let mut len = 0;
            let result = self.queue.pop_seen_with(|msg| {
                len = msg.byte_len();
                f(msg)
            })?;
            self.read_bytes += len as u64;
            result
        } else {
            self.queue.pop_seen_with(f)?
        };
        self.credit_after(true);
        Some(result)
    }

    /// Hands credit back after a read: in batches of the low-water mark while messages come,
    /// and all of it when the pipe was found empty (`took` false).
    #[inline(always)]
    fn credit_after(&mut self, took: bool) {
        let unreturned = self.queue.read_count() - self.uncounted - self.credited;
        let due = if took {
            let word = self.shared.lwm.load(Ordering::Relaxed);
            if word & BYTE_BOUND == 0 {
                unreturned >= word
            } else {
                self.bytes_due(word, unreturned)
            }
        } else {
            unreturned != 0
        };
        if due {
            self.return_credit();
        }
    }

    /// Counts the bytes of a message read, while a byte bound is set.
    #[inline(always)]
    fn count_read(&mut self, msg: &Message) {
        if self.counting {
            self.read_bytes += msg.byte_len() as u64;
        }
    }

    /// Whether credit is due with a byte bound set (`word` is `lwm` with its flag): a
    /// low-water mark's worth of messages, or half the byte bound's worth of bytes, read since
    /// the last credit.
    #[inline(never)]
    fn bytes_due(&mut self, word: u64, unreturned: u64) -> bool {
        self.counting = true;
        let lwm_bytes = self.shared.lwm_bytes.load(Ordering::Relaxed);
        unreturned >= word & !BYTE_BOUND
            || lwm_bytes != 0 && self.read_bytes.saturating_sub(self.credited_bytes) >= lwm_bytes
    }

    /// Hands back all the credit not returned yet: for a reader that stops reading for now
    /// with messages left (an engine whose connection is full), so that the writer's count of
    /// what the pipe holds is exact while it waits (see [`PipeWriter::queued`]).
    #[inline]
    pub(crate) fn settle_credit(&mut self) {
        if self.queue.read_count() - self.uncounted != self.credited {
            self.return_credit();
        }
    }

    fn return_credit(&mut self) {
        self.credited = self.queue.read_count() - self.uncounted;
        self.credited_bytes = self.read_bytes;
        self.shared
            .read
            .bytes
            .store(self.credited_bytes, Ordering::Release);
        self.shared
            .read
            .messages
            .store(self.credited, Ordering::Release);
        fence(Ordering::SeqCst);
        if self.shared.writer_blocked.load(Ordering::Relaxed)
            && self.shared.writer_blocked.swap(false, Ordering::AcqRel)
        {
            Shared::notify(&self.shared.writer_act);
        }
    }

    /// How many messages are ready to be read: those seen at the last look, or, when they are
    /// used up, those a new look finds (a CONFLATE pipe has at most one). Finding none returns
    /// the credit not handed back yet, as [`recv`](Self::recv) does on an empty pipe.
    #[inline]
    pub(crate) fn ready(&mut self) -> usize {
        if self.shared.conflates() {
            return usize::from(self.shared.slot().is_some());
        }
        let ready = self.queue.ready();
        if ready == 0 {
            self.credit_after(false);
        }
        ready
    }

    /// Whether a message is ready to be read.
    #[inline]
    pub(crate) fn has_message(&mut self) -> bool {
        if self.shared.conflates() {
            return self.shared.slot().is_some();
        }
        self.queue.has_item()
    }

    /// Whether a message for the socket is ready: [`has_message`](Self::has_message), after
    /// taking a connection's metadata at the front (it is no message for the socket), so that
    /// it never makes a socket look readable. For the socket's side of a pipe; an engine's
    /// pipes carry no metadata and use `has_message`.
    #[inline]
    pub(crate) fn has_data(&mut self) -> bool {
        if self.shared.conflates() {
            return self.shared.slot().is_some();
        }
        loop {
            match self.queue.peek_with(|msg| msg.kind() == Kind::Metadata) {
                None => return false,
                Some(false) => return true,
                Some(true) => {
                    let _ = self.recv();
                }
            }
        }
    }

    /// Whether the writer closed its end and every message has been read.
    pub(crate) fn is_finished(&mut self) -> bool {
        self.shared.writer_closed.load(Ordering::Acquire) && !self.has_data()
    }

    /// Whether the writer closed its end (messages may remain).
    pub(crate) fn writer_closed(&self) -> bool {
        self.shared.writer_closed.load(Ordering::Acquire)
    }

    /// Sets the activation of the reading side if none was set yet.
    pub(crate) fn set_activation(&self, act: Arc<Activation>) {
        let _ = self.shared.reader_act.set(act);
        fence(Ordering::SeqCst);
    }

    /// The reading socket's RCVHWM_BYTES (0: none).
    pub(crate) fn set_rcvhwm_bytes(&self, bytes: u64) {
        self.shared.set_limits(|limits| limits.recv_bytes = bytes);
    }

    /// The reading socket's RCVHWM changed (or, for an inproc connect that came before the
    /// bind, became known): the bound follows.
    pub(crate) fn set_rcvhwm(&self, rcvhwm: i32) {
        self.shared.set_limits(|limits| limits.recv = Some(rcvhwm));
    }

    /// The activation of the reading side (the owner's), once set.
    pub(crate) fn activation(&self) -> Option<&Arc<Activation>> {
        self.shared.reader_act.get()
    }
}

/// The metadata of the connection a socket's last delivered message came from (for
/// `zmq_msg_gets`): a socket type notes the reader of each message it delivers. Costs a pointer
/// comparison per message while messages keep coming from one connection.
#[derive(Default)]
pub(crate) struct LastSource(Option<Arc<PeerMetadata>>);

impl LastSource {
    /// The message just delivered came from `reader`.
    #[inline]
    pub(crate) fn note(&mut self, reader: &PipeReader) {
        match (&self.0, reader.metadata()) {
            (Some(last), Some(now)) if Arc::ptr_eq(last, now) => {}
            (None, None) => {}
            (_, now) => self.0 = now.cloned(),
        }
    }

    /// The metadata noted last.
    pub(crate) fn get(&self) -> Option<&Arc<PeerMetadata>> {
        self.0.as_ref()
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.shared.reader_closed.store(true, Ordering::Release);
        Shared::notify(&self.shared.writer_act);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwm_bounds_the_writer_and_credit_returns_in_batches() {
        let (mut w, mut r) = pipe(Hwm::send(4), false, None, None);
        for i in 0..4u8 {
            assert!(w.send(Message::from(&[i])).is_ok());
        }
        assert!(
            w.send(Message::from("x")).is_err(),
            "the fifth message is over the HWM"
        );
        // lwm = 2: one read gives no credit yet, two do.
        assert_eq!(r.recv().unwrap()[0][0], 0);
        assert!(!w.can_write());
        assert_eq!(r.recv().unwrap()[0][0], 1);
        assert!(w.can_write());
    }

    #[test]
    fn metadata_does_not_count_against_the_hwm() {
        let meta = || Message::control(Kind::Metadata, PeerMetadata::default().encode());
        let (mut w, mut r) = pipe(Hwm::recv(2), false, None, None);
        w.send_uncounted(meta());
        assert!(w.send(Message::from("a")).is_ok());
        assert!(w.send(Message::from("b")).is_ok());
        assert!(
            !w.can_write(),
            "two data messages fill it; the metadata is extra"
        );
        w.send_uncounted(meta());
        let mut out = Message::new();
        assert!(r.recv_into(&mut out) && out.kind() == Kind::Metadata);
        assert!(r.metadata().is_some());
        assert!(r.recv_into(&mut out) && out == Message::from("a"));
        assert!(r.recv_into(&mut out) && out == Message::from("b"));
        assert!(!r.has_data(), "trailing metadata is no data");
        assert!(!r.recv_into(&mut out));
        // Credit counts the two data messages only.
        assert!(w.can_write());
        assert!(w.send(Message::from("c")).is_ok());
        assert!(w.send(Message::from("d")).is_ok());
        assert!(!w.can_write());
    }

    #[test]
    fn the_bound_follows_both_ends_hwms() {
        assert_eq!(Hwm::both(3, 4).bound(), 7, "inproc: the sum");
        assert_eq!(Hwm::both(0, 4).bound(), 0, "0 on either side is unlimited");
        assert_eq!(Hwm::both(3, 0).bound(), 0);
        assert_eq!(Hwm::send(3).bound(), 3, "one socket: its own");
        assert_eq!(Hwm::recv(0).bound(), 0);
        let (mut w, mut r) = pipe(Hwm::send(1), false, None, None);
        assert!(w.send(Message::new()).is_ok());
        assert!(!w.can_write());
        // The reading socket becomes known (an inproc bind after the connect).
        r.set_rcvhwm(2);
        assert!(w.send(Message::new()).is_ok());
        assert!(w.send(Message::new()).is_ok());
        assert!(!w.can_write(), "1 + 2");
        // Lowered below what is queued: nothing is lost, and no more fits until it drains.
        w.set_sndhwm(0);
        assert!(w.can_write(), "unlimited");
        r.set_rcvhwm(1);
        w.set_sndhwm(1);
        assert!(!w.can_write());
        assert_eq!(
            (r.recv(), r.recv(), r.recv()),
            (
                Some(Message::new()),
                Some(Message::new()),
                Some(Message::new())
            )
        );
        assert!(r.recv().is_none());
        assert!(w.send(Message::new()).is_ok());
        assert!(w.send(Message::new()).is_ok());
        assert!(!w.can_write(), "1 + 1");
    }

    #[test]
    fn by_reference_sends_and_receives_leave_the_message_where_it_was_refused() {
        let (mut w, mut r) = pipe(Hwm::send(2), false, None, None);
        let mut msg = Message::from("a");
        assert!(w.send_from(&mut msg));
        msg = Message::from("b");
        assert!(w.send_from(&mut msg));
        msg = Message::from("c");
        assert!(!w.send_from(&mut msg), "over the HWM");
        assert_eq!(
            msg,
            Message::from("c"),
            "a refused message stays with the caller"
        );
        let mut out = Message::new();
        assert!(r.recv_into(&mut out));
        assert_eq!(out, Message::from("a"));
        assert_eq!(r.recv_seen_with(|m| m.clone()), Some(Message::from("b")));
        assert!(!r.recv_into(&mut out));
        assert!(
            w.send_from(&mut msg),
            "credit came back once the pipe was found empty"
        );
        w.write_then(Message::new(), 15, |m| m.set_bytes(b"filled in place"));
        w.flush();
        assert!(r.has_message());
        assert_eq!(r.recv_seen_with(|m| m.clone()), Some(Message::from("c")));
        assert_eq!(r.recv(), Some(Message::from("filled in place")));
    }

    #[test]
    fn empty_pipe_returns_all_credit() {
        let (mut w, mut r) = pipe(Hwm::send(10), false, None, None);
        for _ in 0..10 {
            w.send(Message::new()).unwrap();
        }
        assert!(!w.can_write());
        while r.recv().is_some() {}
        assert!(w.can_write());
    }

    #[test]
    fn a_look_at_an_empty_pipe_returns_all_credit() {
        let (mut w, mut r) = pipe(Hwm::send(10), false, None, None);
        // Fewer reads than a credit batch, through the engine's way out.
        for _ in 0..3 {
            w.send(Message::new()).unwrap();
        }
        while r.ready() > 0 {
            while r.recv_seen_with(|_| ()).is_some() {}
        }
        for _ in 0..7 {
            w.send(Message::new()).unwrap();
        }
        assert!(
            w.can_write(),
            "the three read were credited when the pipe looked empty"
        );
    }

    #[test]
    fn unbounded_pipe_never_fills() {
        let (mut w, mut r) = pipe(Hwm::send(0), false, None, None);
        for _ in 0..10_000 {
            w.send(Message::new()).unwrap();
        }
        let mut n = 0;
        while r.recv().is_some() {
            n += 1;
        }
        assert_eq!(n, 10_000);
    }

    #[test]
    fn a_conflating_pipe_keeps_only_the_newest_message_and_never_fills() {
        let (mut w, mut r) = pipe(Hwm::send(1), true, None, None);
        for i in 0..100u8 {
            assert!(w.send(Message::from(&[i])).is_ok(), "never full");
        }
        assert!(!w.is_drained());
        assert!(r.has_message());
        assert_eq!(r.recv(), Some(Message::from(&[99u8])));
        assert_eq!(r.recv(), None);
        assert!(w.is_drained());
        // The engine's way out (encoding in place) sees the newest message too.
        w.send(Message::from("x")).unwrap();
        w.send(Message::from("y")).unwrap();
        assert_eq!(r.ready(), 1, "one message at most");
        assert_eq!(r.recv_seen_with(|m| m.clone()), Some(Message::from("y")));
        assert_eq!(r.recv_seen_with(|m| m.clone()), None);
        assert_eq!(r.ready(), 0);
        w.send(Message::from("last")).unwrap();
        drop(w);
        assert!(!r.is_finished());
        assert_eq!(r.recv(), Some(Message::from("last")));
        assert!(r.is_finished());
    }

    #[test]
    fn close_is_seen_after_the_last_message() {
        let (mut w, mut r) = pipe(Hwm::send(10), false, None, None);
        w.send(Message::from("last")).unwrap();
        drop(w);
        assert!(r.writer_closed());
        assert!(!r.is_finished());
        assert_eq!(r.recv(), Some(Message::from("last")));
        assert!(r.is_finished());
    }

    #[test]
    fn reader_drop_closes_the_writer() {
        let (mut w, r) = pipe(Hwm::send(10), false, None, None);
        drop(r);
        assert!(w.is_closed());
        assert!(w.send(Message::new()).is_err());
    }

    #[test]
    fn a_waiting_reader_is_woken_by_a_write() {
        let act = Activation::for_thread();
        let (mut w, mut r) = pipe(Hwm::send(10), false, Some(Arc::clone(&act)), None);
        act.prepare_wait();
        assert!(r.recv().is_none());
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            w.send(Message::from("wake")).unwrap();
            w
        });
        assert_eq!(
            act.park(Some(
                std::time::Instant::now() + std::time::Duration::from_secs(10)
            )),
            crate::signal::Parked::Woken
        );
        assert_eq!(r.recv(), Some(Message::from("wake")));
        drop(t.join().unwrap());
    }
}
