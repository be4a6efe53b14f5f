//! A socket's view of one peer: two pipes, the peer's identity, and how to reach the socket.
//!
//! A [`Peer`] is what a socket type routes over. Whether a connection on an I/O thread or another
//! socket of the same context (inproc) sits at the far end of its pipes is invisible to socket
//! types; the only trace of the transport is an optional [`DirectWrite`] sink, the fast path that
//! lets a reply skip the I/O thread when the connection is idle.
//!
//! Peers reach a socket, and leave it, through its [`Mailbox`]: sessions on I/O threads and
//! inproc peers post [`PeerEvent`]s, and the socket applies them on its own thread before it
//! next sends or receives.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use super::{PipeReader, PipeWriter};
use crate::message::Message;
use crate::signal::Activation;

/// A process-unique peer id. Socket types key their routing tables by it.
pub(crate) type PeerId = u64;

static NEXT_PEER: AtomicU64 = AtomicU64::new(1);

/// A fresh, process-unique [`PeerId`].
pub(crate) fn next_peer_id() -> PeerId {
    NEXT_PEER.fetch_add(1, Ordering::Relaxed)
}

/// A way to write messages straight to a connection from the socket's thread (implemented by
/// the engine's write gate): a reply, or a stream of messages. Returns `false` when the
/// message must take the pipe instead.
pub(crate) trait DirectWrite: Send + Sync {
    /// Writes or streams `msg` as `mode` allows if the connection is idle; `drained` tells
    /// whether the pipe is empty.
    fn try_write(&self, msg: &Message, drained: &dyn Fn() -> bool, mode: WriteMode) -> bool;

    /// [`try_write`](Self::try_write) for a one-frame message of `data`.
    fn try_write_bytes(&self, data: &[u8], drained: &dyn Fn() -> bool, mode: WriteMode) -> bool;

    /// The socket is about to wait: what its stream queued is written now.
    fn flush(&self);

    /// Ends the socket's stream, if it has one (what it queued is written or handed over).
    fn end_stream(&self);
}

/// How a socket may write a message to its connection itself (see [`DirectWrite`]).
#[derive(Clone, Copy)]
pub(crate) struct WriteMode<'a> {
    /// A reply: written at once when the connection is idle.
    pub reply: bool,
    /// The socket sends fast enough to start a stream (see [`StreamRate`]); a stream under
    /// way takes every message it can, whatever this says.
    pub stream: bool,
    /// The socket's activation and how it sends, for a stream that finds the kernel buffer
    /// full (see [`wait`](Self::wait)).
    pub socket: Option<(&'a Activation, &'a SendMode)>,
    /// Whether `stream` is still true now, asked only when a stream would start: the rate is
    /// measured every so many sends, so after a pause it may be stale (see
    /// [`StreamRate::fresh`]).
    pub fresh: &'a dyn Fn() -> bool,
}

impl<'a> WriteMode<'a> {
    /// Whether a stream whose connection's kernel buffer is full may wait for room, up to how
    /// long, and on whose wake-ups (which end the wait): a blocking send on a socket whose one
    /// peer is this connection.
    pub(crate) fn wait(&self) -> Option<(&'a Activation, std::time::Duration)> {
        let (act, send) = self.socket?;
        Some((act, send.stream_wait()?))
    }
}

/// How the socket sends right now, shared with its peers: set by the socket's thread (before a
/// send, or when what it depends on changes) and read by the peer the send goes through, so
/// relaxed atomics suffice.
#[derive(Debug)]
pub(crate) struct SendMode {
    /// The socket is in request-reply rhythm (its last operation was a receive), which is when
    /// a direct write pays off.
    pub reply: AtomicBool,
    /// The send may block (it is not a non-blocking one).
    pub blocking: AtomicBool,
    /// The socket has one peer, a connection on an I/O thread.
    pub sole: AtomicBool,
    /// SNDTIMEO.
    pub sndtimeo: std::sync::atomic::AtomicI32,
    /// A send was fast enough to stream: the socket writes its streams out before it next
    /// waits.
    pub streamed: AtomicBool,
}

impl Default for SendMode {
    fn default() -> SendMode {
        SendMode {
            reply: AtomicBool::new(false),
            blocking: AtomicBool::new(true),
            sole: AtomicBool::new(false),
            sndtimeo: std::sync::atomic::AtomicI32::new(-1),
            streamed: AtomicBool::new(false),
        }
    }
}

/// The longest a blocking send's stream waits for room in its connection's kernel buffer
/// before it hands the connection back (later sends then wait in the usual way, for the
/// high-water mark).
const STREAM_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

impl SendMode {
    /// How long a stream may wait for room in its connection during this send: only a
    /// blocking send on a socket whose one peer is a connection, at most [`STREAM_WAIT`] and
    /// SNDTIMEO.
    fn stream_wait(&self) -> Option<std::time::Duration> {
        if !self.blocking.load(Ordering::Relaxed) || !self.sole.load(Ordering::Relaxed) {
            return None;
        }
        match u64::try_from(self.sndtimeo.load(Ordering::Relaxed)) {
            Ok(0) => None,
            Ok(ms) => Some(STREAM_WAIT.min(std::time::Duration::from_millis(ms))),
            Err(_) => Some(STREAM_WAIT),
        }
    }
}

/// A socket that sends this many messages to one peer within [`STREAM_ENTRY_WINDOW`] streams
/// them (see `engine::write_gate`).
const STREAM_ENTRY_MESSAGES: u32 = 128;
/// See [`STREAM_ENTRY_MESSAGES`]: 1.28 million messages a second.
const STREAM_ENTRY_WINDOW: std::time::Duration = std::time::Duration::from_micros(100);
/// How long a measure that found the sends fast may start a stream: a send blocked for longer
/// (at the high-water mark) measures again first, and a message this long after a burst may wait
/// for the stream's tick, about as long again.
const STREAM_FRESH: std::time::Duration = std::time::Duration::from_millis(1);

/// Whether a socket sends to one peer fast enough to stream to it: at least
/// [`STREAM_ENTRY_MESSAGES`] within [`STREAM_ENTRY_WINDOW`], measured by one clock read every
/// that many sends.
#[derive(Debug)]
pub(crate) struct StreamRate {
    sends: u32,
    since: Option<Instant>,
    fast: bool,
    /// Sends that take the pipe without asking the connection, after it refused a stream (its
    /// session was busy): each attempt costs a call.
    skip: u32,
    /// The connection took the last message: the next one is offered too, whatever the rate
    /// says (a stream must not be left for the pipe while it lasts).
    streaming: bool,
}

/// Sends that take the pipe after the connection refused a stream, before the next offer.
const STREAM_RETRY_AFTER: u32 = 15;

impl StreamRate {
    fn new() -> StreamRate {
        StreamRate {
            sends: 0,
            since: None,
            fast: false,
            skip: 0,
            streaming: false,
        }
    }

    /// Counts a send; returns whether to offer it to the connection: a stream may go on, or
    /// the sends are fast enough to start one ([`fast`](Self::fast)).
    #[inline(always)]
    fn count(&mut self) -> bool {
        self.sends += 1;
        if self.sends >= STREAM_ENTRY_MESSAGES {
            self.measure();
        }
        if self.streaming {
            return true;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.fast
    }

    #[cold]
    #[inline(never)]
    fn measure(&mut self) {
        let now = Instant::now();
        self.fast = self
            .since
            .is_some_and(|since| now.duration_since(since) <= STREAM_ENTRY_WINDOW);
        self.since = Some(now);
        self.sends = 0;
    }

    /// Whether the sends are fast enough to start a stream.
    #[inline]
    fn fast(&self) -> bool {
        self.fast
    }

    /// Whether the last measure, which found the sends fast, is recent (within
    /// [`STREAM_FRESH`]; one clock read): a socket that streamed a burst and then sends now and
    /// then must not start a stream, whose messages wait for a batch or a tick, on the strength
    /// of the burst.
    fn fresh(&self) -> bool {
        self.fast
            && self
                .since
                .is_some_and(|since| since.elapsed() <= STREAM_FRESH)
    }

    /// Whether the connection took the message offered.
    #[inline]
    fn offered(&mut self, taken: bool) {
        self.streaming = taken;
        if !taken {
            self.skip = STREAM_RETRY_AFTER;
        }
    }
}

/// A way for a socket blocked in a receive to read its peer's connection itself (implemented
/// by the engine's read gate).
pub(crate) trait DirectRead: Send + Sync {
    /// Waits (up to `deadline`) until the connection is readable, and reads and decodes what
    /// arrived into the peer's pipe; or until `socket` is woken for anything else. The caller
    /// announced its wait on `socket` ([`Activation::prepare_wait`]) and looked at its pipes
    /// since.
    fn wait(&self, socket: &Activation, deadline: Option<Instant>) -> ReadWait;

    /// The socket stops reading the connection itself for now (it waits for something else, or
    /// looks at its pipes without waiting): the connection's input is its I/O thread's again.
    fn release(&self);
}

/// How a [`DirectRead::wait`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) enum ReadWait {
    /// Something may have arrived: look at the pipes again.
    Woken,
    /// The connection is not lent to the socket now (or no longer can be read from its
    /// thread): wait the usual way.
    Unavailable,
    /// The deadline passed.
    TimedOut,
    /// A signal handler ran on the waiting thread.
    Interrupted,
}

/// One peer of a socket: a pipe to it and a pipe from it.
/// The two ends of the connection a peer is served by now, as monitor events name them
/// (`tcp://127.0.0.1:5555`, ...): this side's, then the other's. The session that serves the
/// peer sets them at each connect; empty while unknown.
#[derive(Default)]
pub(crate) struct PeerNames(std::sync::Mutex<(String, String)>);

impl PeerNames {
    /// Names the ends.
    pub(crate) fn set(&self, local: String, remote: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = (local, remote);
    }

    /// Forgets this side's name (a new connect is under way), keeping the other's.
    pub(crate) fn clear_local(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.clear();
    }

    /// This side's name and the other's.
    pub(crate) fn get(&self) -> (String, String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub(crate) struct Peer {
    /// Unique among all peers of the process.
    pub id: PeerId,
    pub writer: PipeWriter,
    pub reader: PipeReader,
    /// The bind or connect this peer came through.
    pub endpoint_id: u64,
    /// The peer's routing id (ROUTING_ID, or `Identity` from its READY); `None` while unknown,
    /// in which case it arrives in-band as the first message of the pipe
    /// ([`Kind::RoutingId`](crate::message::Kind::RoutingId)).
    pub routing_id: Option<Bytes>,
    /// The routing id this socket assigned to the peer itself: the CONNECT_ROUTING_ID of the
    /// `connect()` that made it. A ROUTER (or REP) names the peer by it rather than by
    /// `routing_id`, and ignores the routing ids that arrive in-band for it.
    pub assigned_id: Option<Bytes>,
    /// For a connection on an I/O thread: writes that bypass the pipe (see `engine::write_gate`).
    pub sink: Option<Arc<dyn DirectWrite>>,
    /// How fast the socket sends to this peer (for `sink`).
    pub rate: StreamRate,
    /// For a connection on an I/O thread: reads from the socket's thread while it is the
    /// socket's only peer (see `engine::read_gate`).
    pub source: Option<Arc<dyn DirectRead>>,
    /// How the socket sends now; shared by all peers of one socket.
    pub mode: Arc<SendMode>,
    /// An inproc peer: how to tell the socket at the far end that this side is gone (done when
    /// this peer is dropped).
    pub far_end: Option<Arc<FarEnd>>,
    /// The ends of the peer's connection, shared with the session that serves it.
    pub names: Arc<PeerNames>,
    /// An inproc peer of a connect: the message the socket at the far end receives when this
    /// side goes (its DISCONNECT_MSG), written as this peer is dropped.
    pub farewell: Option<Message>,
    /// Messages written to the connection directly (not through the pipe).
    pub direct_sent: u64,
    /// Messages for this peer dropped because its queue was full (PUB, XPUB, ROUTER).
    pub dropped: u64,
}

impl Peer {
    /// A peer over `writer` and `reader` with a fresh id.
    pub(crate) fn new(writer: PipeWriter, reader: PipeReader, endpoint_id: u64) -> Peer {
        Peer {
            id: next_peer_id(),
            writer,
            reader,
            endpoint_id,
            routing_id: None,
            assigned_id: None,
            sink: None,
            rate: StreamRate::new(),
            source: None,
            mode: Arc::default(),
            far_end: None,
            names: Arc::default(),
            farewell: None,
            direct_sent: 0,
            dropped: 0,
        }
    }

    /// Sends `msg` to this peer: written straight to the connection when the socket is in
    /// request-reply rhythm or streams and the connection is idle, otherwise queued in the
    /// pipe. Returns
    /// whether the message was taken (then `msg` holds something for the caller to drop, see
    /// [`PipeWriter::send_from`]); when the pipe is full or closed it stays in `msg`. Taking
    /// it by reference saves copying it back and forth.
    #[inline]
    pub(crate) fn send_from(&mut self, msg: &mut Message) -> bool {
        self.write_direct(|sink, drained, mode| sink.try_write(msg, drained, mode))
            || self.writer.send_from(msg)
    }

    /// Sends a one-frame message holding a copy of `data` (see [`PipeWriter::send_bytes`]);
    /// returns whether it was taken.
    #[inline]
    pub(crate) fn send_bytes(&mut self, data: &[u8]) -> bool {
        self.write_direct(|sink, drained, mode| sink.try_write_bytes(data, drained, mode))
            || self.writer.send_bytes(data)
    }

    /// The direct write (a sink, a pipe still open): `write` gets the sink, the "pipe is
    /// drained" check and the mode (request-reply rhythm, a fast stream of sends). Returns
    /// whether it wrote.
    #[inline(always)]
    fn write_direct(
        &mut self,
        write: impl FnOnce(&dyn DirectWrite, &dyn Fn() -> bool, WriteMode) -> bool,
    ) -> bool {
        if self.sink.is_none() {
            return false;
        }
        let reply = self.mode.reply.load(Ordering::Relaxed);
        let offer = self.rate.count();
        if !reply && !offer {
            return false;
        }
        self.write_direct_now(reply, offer, write)
    }

    /// [`write_direct`](Self::write_direct) once it may write.
    #[inline(never)]
    fn write_direct_now(
        &mut self,
        reply: bool,
        offer: bool,
        write: impl FnOnce(&dyn DirectWrite, &dyn Fn() -> bool, WriteMode) -> bool,
    ) -> bool {
        let Some(sink) = &self.sink else {
            return false;
        };
        let stream = offer && self.rate.fast();
        if offer {
            self.mode.streamed.store(true, Ordering::Relaxed);
        }
        let writer = &self.writer;
        let rate = &self.rate;
        let mode = WriteMode {
            reply,
            stream,
            socket: writer.activation().map(|act| (&**act, &*self.mode)),
            fresh: &|| rate.fresh(),
        };
        let wrote = !writer.is_closed() && write(sink.as_ref(), &|| writer.is_drained(), mode);
        if offer {
            self.rate.offered(wrote);
        }
        self.direct_sent += u64::from(wrote);
        wrote
    }

    /// [`send_from`](Self::send_from) by value: hands the message back when the pipe is full
    /// or closed.
    #[inline]
    pub(crate) fn send(&mut self, msg: Message) -> Result<(), Message> {
        let mut msg = msg;
        if self.send_from(&mut msg) {
            Ok(())
        } else {
            Err(msg)
        }
    }

    /// Messages from this peer waiting to be received. A connection's metadata at the front
    /// is taken first: it is no message.
    pub(crate) fn queued_in(&mut self) -> u64 {
        if self.reader.has_data() {
            self.reader.ready() as u64
        } else {
            0
        }
    }

    /// Messages sent to this peer: through the pipe or written directly.
    pub(crate) fn sent(&self) -> u64 {
        self.writer.written() + self.direct_sent
    }

    /// Whether the peer is gone for good: it closed its end and everything it sent was read.
    pub(crate) fn is_gone(&mut self) -> bool {
        self.writer.is_closed() && self.reader.is_finished()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(farewell) = self.farewell.take() {
            if !self.writer.is_closed() {
                // Over the high-water mark if need be: one message, the last.
                self.writer.write(farewell);
                self.writer.flush();
            }
        }
        if let Some(far) = self.far_end.take() {
            far.detach();
        }
    }
}

/// The far end of an inproc peer: the other socket's mailbox (set once that socket is known: a
/// connect may precede the bind) and the id of its peer for us.
pub(crate) struct FarEnd {
    mailbox: OnceLock<Arc<Mailbox>>,
    peer: PeerId,
    /// This side is gone; a mailbox set afterwards is told at once.
    detached: AtomicBool,
}

impl FarEnd {
    /// The far end of peer `peer` of the socket behind `mailbox` (`None`: not bound yet).
    pub(crate) fn new(mailbox: Option<Arc<Mailbox>>, peer: PeerId) -> Arc<FarEnd> {
        let slot = OnceLock::new();
        if let Some(mailbox) = mailbox {
            let _ = slot.set(mailbox);
        }
        Arc::new(FarEnd {
            mailbox: slot,
            peer,
            detached: AtomicBool::new(false),
        })
    }

    /// The far socket became known (it bound the name), after it was given its peer: if this
    /// side is gone already (a connecter closed before the bind), it is told so now.
    pub(crate) fn set_mailbox(&self, mailbox: Arc<Mailbox>) {
        let _ = self.mailbox.set(mailbox);
        // Pairs with the fence in `detach`: one of the two sees the other's store, so the
        // far socket hears of it at least once (a second Detach of a peer is ignored).
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.detached.load(Ordering::Relaxed) {
            self.post_detach();
        }
    }

    /// Tells the far socket that this side is gone.
    fn detach(&self) {
        self.detached.store(true, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.post_detach();
    }

    fn post_detach(&self) {
        if let Some(mailbox) = self.mailbox.get() {
            mailbox.post(PeerEvent::Detach(self.peer));
        }
    }
}

/// What a socket learns about its peers from other threads.
// Events are few (one per connection), and boxing the peer would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PeerEvent {
    /// A new peer: a handshake finished, or an inproc socket connected.
    Attach(Peer),
    /// The peer's far end closed: stop routing to it, and forget it once its messages are read.
    Detach(PeerId),
    /// The peer's connection was re-established (its pipes survived): state the far end kept
    /// for us, such as subscriptions, must be sent again.
    Hiccup(PeerId),
}

/// The queue of [`PeerEvent`]s of one socket.
pub(crate) struct Mailbox {
    events: Mutex<Vec<PeerEvent>>,
    has_mail: AtomicBool,
    closed: AtomicBool,
    activation: Arc<Activation>,
}

impl Mailbox {
    /// A mailbox that wakes `activation` when mail arrives.
    pub(crate) fn new(activation: Arc<Activation>) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            events: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            activation,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<PeerEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The socket's activation.
    pub(crate) fn activation(&self) -> &Arc<Activation> {
        &self.activation
    }

    /// Posts an event. Returns `false` (dropping the event, and so closing an attached peer's
    /// pipes) when the socket is closed.
    pub(crate) fn post(&self, event: PeerEvent) -> bool {
        {
            // Checked under the lock: a closing socket drains the mailbox under it too, so an
            // event is either drained or refused, never stranded.
            let mut events = self.lock();
            if self.is_closed() {
                drop(events);
                return false;
            }
            events.push(event);
        }
        self.has_mail.store(true, Ordering::Release);
        self.activation.notify();
        true
    }

    /// Takes the posted events, if any (one load when there are none).
    #[inline]
    pub(crate) fn take(&self) -> Option<Vec<PeerEvent>> {
        if !self.has_mail.load(Ordering::Acquire) {
            return None;
        }
        self.has_mail.store(false, Ordering::Relaxed);
        Some(std::mem::take(&mut *self.lock()))
    }

    /// Whether the socket was closed.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the mailbox: later posts are refused. Returns what was still queued.
    pub(crate) fn close(&self) -> Vec<PeerEvent> {
        let mut events = self.lock();
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut *events)
    }
}
