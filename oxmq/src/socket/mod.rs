//! Sockets: the user-facing object, and the messaging patterns behind it.
//!
//! A [`Socket`] holds one [`Pattern`] — the routing rule of its socket type (`pair.rs`, `push.rs`,
//! `req.rs`, `router.rs`, ...) — over a set of [`Peer`](crate::pipe::Peer)s. A peer is just two pipes;
//! whether a connection on an I/O thread or another socket of the same context sits at their far
//! end is invisible here, so a socket type knows nothing of transports.
//!
//! Sockets are `Send` but not `Sync`, like libzmq's: use one from one thread at a time.

mod dealer;
mod pair;
mod pattern;
mod pull;
mod push;
mod rep;
mod req;
mod router;
mod stream;
pub(crate) mod util;
mod xpub;
mod xsub;

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::io::endpoints::{Endpoints, Env};
use crate::io::link::SocketLink;
use crate::io::runtime::Runtime;
use crate::message::Message;
use crate::metadata::PeerMetadata;
use crate::monitor::{EventMask, EventSink, Monitor};
use crate::options::{self, OptionValue, Options};
use crate::pipe::{DirectRead, DirectWrite, PeerEvent, PeerId, ReadWait, SendMode};
use crate::signal::Parked;
use pattern::{Closed, Pattern};

pub use oxmq_proto::SocketType;

fn new_pattern(socket_type: SocketType) -> Result<Box<dyn Pattern>> {
    Ok(match socket_type {
        SocketType::Pair => Box::<pair::Pair>::default(),
        SocketType::Push => Box::<push::Push>::default(),
        SocketType::Pull => Box::<pull::Pull>::default(),
        SocketType::Pub => Box::new(xpub::XPub::new(true)),
        SocketType::XPub => Box::new(xpub::XPub::new(false)),
        SocketType::Sub => Box::new(xsub::XSub::new(true)),
        SocketType::XSub => Box::new(xsub::XSub::new(false)),
        SocketType::Stream => Box::<stream::Stream>::default(),
        SocketType::Req => Box::<req::Req>::default(),
        SocketType::Rep => Box::<rep::Rep>::default(),
        SocketType::Dealer => Box::<dealer::Dealer>::default(),
        SocketType::Router => Box::<router::Router>::default(),
        _ => return Err(Error::NotSupported),
    })
}

/// Who an ipc listener lets in (see [`Socket::add_ipc_accept_filter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpcFilter {
    /// A user id.
    Uid(u32),
    /// A group id, primary or supplementary.
    Gid(u32),
    /// A process id.
    Pid(i32),
}

/// A send that did not happen, with the message handed back to the caller.
///
/// ```
/// let ctx = oxmq::Context::new();
/// let push = ctx.socket(oxmq::SocketType::Push)?;
/// // No peer yet: the message comes back instead of being dropped.
/// let err = push.try_send("job").unwrap_err();
/// assert_eq!(err.error(), oxmq::Error::WouldBlock);
/// assert_eq!(err.into_message()[0], b"job");
/// # Ok::<(), oxmq::Error>(())
/// ```
pub struct SendError {
    error: Error,
    message: Message,
}

impl SendError {
    /// Why the message was not sent.
    pub fn error(&self) -> Error {
        self.error
    }

    /// The message that was not sent.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Takes the message back.
    pub fn into_message(self) -> Message {
        self.message
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .field("frames", &self.message.len())
            .finish()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<SendError> for Error {
    fn from(err: SendError) -> Error {
        err.error
    }
}

struct Core {
    opts: Options,
    pattern: Box<dyn Pattern>,
    endpoints: Endpoints,
    /// The last operation was a receive: the next send answers it, so latency matters more than
    /// batching and it may be written directly from this thread (see `engine::write_gate`). A
    /// stream of sends keeps using the batched I/O-thread path.
    replying: bool,
    /// What the peers see of `replying` and of the send in progress (stored only when they
    /// change).
    mode: Arc<SendMode>,
    rhythm_on: bool,
    blocking: bool,
    /// The attached inproc peers (id, endpoint id): while there is one, a blocking receive
    /// spins before it sleeps (see [`RECV_SPINS`]).
    inproc_peers: Vec<(PeerId, u64)>,
    /// The attached peers whose connections a blocking receive may read itself (id, endpoint
    /// id, read gate): while one of them is the socket's only peer, a receive waits on its
    /// connection directly (see `engine::read_gate`).
    sources: Vec<(PeerId, u64, Arc<dyn DirectRead>)>,
    /// The attached peers whose connections the socket may write itself (id, endpoint id,
    /// write gate): their streams are written out before the socket waits (see
    /// `engine::write_gate`).
    sinks: Vec<(PeerId, u64, Arc<dyn DirectWrite>)>,
    /// The source a blocking receive last waited on: its connection's input stays with this
    /// socket after the receive (the next one waits on it without a system call to take it),
    /// until the socket waits for anything else or looks at its pipes without waiting
    /// ([`Core::release_reads`]), or the I/O thread's next sweep.
    reading: Option<Arc<dyn DirectRead>>,
    /// How many peers have detached so far (see [`Socket::peers_detached`]).
    detached: u64,
    /// Messages the application sent and received (see [`Socket::stats`]).
    sent: u64,
    received: u64,
}

impl Core {
    /// Forgets the peers that came through `endpoint_id` (an unbind or a disconnect).
    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.detached += 1;
        self.inproc_peers
            .retain(|(_, endpoint)| *endpoint != endpoint_id);
        self.sources
            .retain(|(_, endpoint, _)| *endpoint != endpoint_id);
        self.sinks
            .retain(|(_, endpoint, _)| *endpoint != endpoint_id);
        self.pattern.detach_endpoint(endpoint_id);
    }

    /// Applies the peer events in the mailbox.
    #[inline]
    fn process_mail(&mut self, link: &SocketLink) {
        let Some(events) = link.mailbox().take() else {
            return;
        };
        for event in events {
            match event {
                PeerEvent::Attach(mut peer) => {
                    peer.mode = Arc::clone(&self.mode);
                    if peer.far_end.is_some() {
                        self.inproc_peers.push((peer.id, peer.endpoint_id));
                    }
                    if let Some(source) = &peer.source {
                        self.sources
                            .push((peer.id, peer.endpoint_id, Arc::clone(source)));
                    }
                    if let Some(sink) = &peer.sink {
                        self.sinks
                            .push((peer.id, peer.endpoint_id, Arc::clone(sink)));
                    }
                    self.pattern.attach(peer);
                }
                PeerEvent::Detach(id) => {
                    self.detached += 1;
                    self.inproc_peers.retain(|(peer, _)| *peer != id);
                    self.sources.retain(|(peer, _, _)| *peer != id);
                    self.sinks.retain(|(peer, _, _)| *peer != id);
                    self.pattern.detach(id);
                }
                PeerEvent::Hiccup(id) => self.pattern.hiccup(id),
            }
        }
        self.note_peers();
    }

    /// Gives the input of the connection a receive waited on back to its I/O thread.
    #[inline]
    fn release_reads(&mut self) {
        if let Some(source) = self.reading.take() {
            source.release();
        }
    }

    /// Writes out what the socket's streams queued: it is about to wait, and the messages it
    /// sent must not wait for it (see `engine::write_gate`).
    #[inline]
    fn flush_streams(&self) {
        if self.mode.streamed.load(Ordering::Relaxed) {
            self.mode.streamed.store(false, Ordering::Relaxed);
            for (_, _, sink) in &self.sinks {
                sink.flush();
            }
        }
    }

    /// The read gate of the socket's only peer, when it has one (see `sources`).
    fn only_source(&self) -> Option<&Arc<dyn DirectRead>> {
        match self.sources.as_slice() {
            [(_, _, source)] if self.inproc_peers.is_empty() => Some(source),
            _ => None,
        }
    }

    /// Whether the connection a receive last waited on is still the socket's only peer.
    fn reads_only_source(&self) -> bool {
        match (&self.reading, self.only_source()) {
            (Some(reading), Some(only)) => Arc::ptr_eq(reading, only),
            _ => false,
        }
    }

    #[inline]
    fn set_rhythm(&mut self, direct: bool) {
        if self.rhythm_on != direct {
            self.rhythm_on = direct;
            self.mode.reply.store(direct, Ordering::Relaxed);
        }
    }

    /// Tells the peers whether the send in progress may block (a stream may then wait for room
    /// in its connection).
    #[inline]
    fn set_blocking(&mut self, blocking: bool) {
        if self.blocking != blocking {
            self.blocking = blocking;
            self.mode.blocking.store(blocking, Ordering::Relaxed);
        }
    }

    /// Tells the peers whether the socket has one peer, a connection (after peers came or went).
    fn note_peers(&self) {
        let sole = self.sinks.len() == 1 && self.inproc_peers.is_empty();
        self.mode.sole.store(sole, Ordering::Relaxed);
    }
}

/// What a socket can do now without blocking: [`Socket::events`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// A message can be received (`ZMQ_POLLIN`).
    pub readable: bool,
    /// A message can be sent (`ZMQ_POLLOUT`).
    pub writable: bool,
}

/// A ZeroMQ socket.
///
/// Created by [`Context::socket`](crate::Context::socket). Dropping the socket closes it: queued
/// outgoing messages are still delivered for up to LINGER (see [`Socket::set_linger`]).
pub struct Socket {
    ctx: Arc<Runtime>,
    link: Arc<SocketLink>,
    core: RefCell<Core>,
    /// Messages `recv_into` replaced and their bytes, dropped a batch at a time (see
    /// `Socket::retire`).
    spent: RefCell<(Vec<Message>, usize)>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.link.socket_type())
            .field("id", &self.link.id())
            .finish()
    }
}

/// The socket's descriptor ([`Socket::signal_fd`]), for epoll, mio, tokio's `AsyncFd`,
/// Python's selectors or any event loop: wait for it to be readable, then receive (or send)
/// without blocking until [`Error::WouldBlock`], then wait again.
///
/// Its readiness is exact. A look at the socket ([`Socket::events`], or a receive or send
/// without blocking that fails with [`Error::WouldBlock`]) clears it, and the next change that
/// may let the socket receive or send writes it, so a wake-up is never lost and waiting never
/// spins; a look that finds a message waiting leaves it readable, so a loop that receives one
/// message per wake-up misses none either (libzmq's `ZMQ_FD` forgets those: its issue 2941).
///
/// The first time the descriptor is lent it is written once (a change may have come before),
/// so the first wait ends at once; the look after it clears it.
///
/// ```
/// use std::os::fd::{AsFd, AsRawFd};
///
/// let ctx = oxmq::Context::new();
/// let pull = ctx.socket(oxmq::SocketType::Pull)?;
/// pull.bind("inproc://as-fd")?;
/// let push = ctx.socket(oxmq::SocketType::Push)?;
/// push.connect("inproc://as-fd")?;
/// let fd = pull.as_fd().as_raw_fd();
/// let readable = || {
///     let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
///     // SAFETY: one valid pollfd, no waiting.
///     unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
/// };
/// assert_eq!(pull.try_recv(), Err(oxmq::Error::WouldBlock));
/// assert!(!readable());
/// push.send("hello")?;
/// assert!(readable());
/// assert_eq!(pull.try_recv()?[0], b"hello"[..]);
/// # Ok::<(), oxmq::Error>(())
/// ```
#[cfg(all(unix, not(loom)))]
impl std::os::fd::AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        let raw = self
            .link
            .mailbox()
            .activation()
            .signal_fd()
            .expect("a socket makes its descriptor when it is created");
        // SAFETY: the descriptor belongs to the socket's activation, which the socket keeps
        // alive (through its link) for at least as long as `&self`, and closes only when the
        // activation is dropped.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for sockets and endpoints.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl Socket {
    pub(crate) fn new(ctx: Arc<Runtime>, socket_type: SocketType) -> Result<Socket> {
        let pattern = new_pattern(socket_type)?;
        let mut opts = Options::default();
        if matches!(socket_type, SocketType::Sub | SocketType::XSub) {
            // As libzmq: closing a subscriber does not wait for its queued subscriptions.
            opts.linger = 0;
        }
        if let Some(max) = ctx.max_msgsz() {
            opts.max_message_size = i64::try_from(max).unwrap_or(i64::MAX);
        }
        let link = SocketLink::new(next_id(), socket_type, opts.linger);
        // Made now, as libzmq makes its mailbox's: out of descriptors, the socket is not made
        // (`EMFILE`), and `AsFd` can always lend it.
        #[cfg(all(unix, not(loom)))]
        link.mailbox().activation().make_signal_fd()?;
        ctx.register_socket(&link)?;
        Ok(Socket {
            ctx,
            link,
            core: RefCell::new(Core {
                opts,
                pattern,
                endpoints: Endpoints::default(),
                replying: false,
                mode: Arc::default(),
                rhythm_on: false,
                blocking: true,
                inproc_peers: Vec::new(),
                sources: Vec::new(),
                sinks: Vec::new(),
                reading: None,
                detached: 0,
                sent: 0,
                received: 0,
            }),
            spent: RefCell::new((Vec::new(), 0)),
        })
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.link.socket_type()
    }

    fn check_term(&self) -> Result<()> {
        if self.ctx.is_terminated() {
            Err(Error::Terminated)
        } else {
            Ok(())
        }
    }

    fn core(&self) -> std::cell::RefMut<'_, Core> {
        self.core.borrow_mut()
    }

    /// Runs an endpoint operation with the socket's environment, then applies the peer events
    /// it caused.
    fn with_endpoints<T>(
        &self,
        op: impl FnOnce(&mut Endpoints, &Env<'_>) -> Result<T>,
    ) -> Result<T> {
        self.check_term()?;
        let mut core = self.core();
        let core = &mut *core;
        let env = Env {
            pool: self.ctx.io(),
            inproc: self.ctx.inproc(),
            link: &self.link,
            opts: &core.opts,
        };
        let result = op(&mut core.endpoints, &env);
        core.process_mail(&self.link);
        result
    }

    /// Binds the socket to a local endpoint and accepts connections on it.
    ///
    /// `tcp://*:*` (or port `0`) binds an ephemeral port; [`Socket::last_endpoint`] tells which.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        let adopts = self.core().opts.use_fd >= 0 && !endpoint.starts_with("inproc://");
        self.with_endpoints(|endpoints, env| endpoints.bind(env, endpoint, next_id()))?;
        if adopts {
            // The listener owns the descriptor now: a second bind must not adopt it again.
            self.core().opts.use_fd = -1;
        }
        Ok(())
    }

    /// Connects the socket to a remote endpoint. Returns at once: the connection is made (and
    /// remade after it breaks) in the background, and the peer need not be there yet.
    ///
    /// A CONNECT_ROUTING_ID set before (see [`Socket::set_connect_routing_id`]) names this
    /// connection's peer and is used up; one that names a peer already known fails with
    /// [`Error::Invalid`] (libzmq aborts on it).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        {
            let mut core = self.core();
            core.process_mail(&self.link);
            let core = &mut *core;
            if let Some(id) = &core.opts.connect_routing_id {
                if core.pattern.routing_id_in_use(id) {
                    return Err(Error::Invalid);
                }
            }
        }
        self.with_endpoints(|endpoints, env| endpoints.connect(env, endpoint, next_id()))?;
        self.core().opts.connect_routing_id = None;
        Ok(())
    }

    /// Stops accepting on an endpoint this socket bound, and closes the connections accepted on
    /// it. For a wildcard bind, pass the endpoint [`Socket::last_endpoint`] reported.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        let id = self.with_endpoints(|endpoints, env| endpoints.unbind(env, endpoint))?;
        self.core().detach_endpoint(id);
        Ok(())
    }

    /// Disconnects from an endpoint this socket connected to; messages still queued for it are
    /// dropped.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        let id = self.with_endpoints(|endpoints, env| endpoints.disconnect(env, endpoint))?;
        self.core().detach_endpoint(id);
        Ok(())
    }

    /// Reports the socket's events (those in `events`) to a new [`Monitor`], which replaces the
    /// monitor before, if any (it sees [`MonitorStopped`](crate::EventKind::MonitorStopped) when it asked for it). The
    /// monitor ends when the socket closes, after `MONITOR_STOPPED`.
    ///
    /// ```
    /// use oxmq::{Context, EventKind, EventMask, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// let events = pull.monitor(EventMask::ALL)?;
    /// pull.bind("tcp://127.0.0.1:*")?;
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.connect(&pull.last_endpoint())?;
    /// let kinds: Vec<EventKind> = events.iter().take(3).map(|e| e.kind).collect();
    /// assert_eq!(
    ///     kinds,
    ///     [EventKind::Listening, EventKind::Accepted, EventKind::HandshakeSucceeded]
    /// );
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn monitor(&self, events: EventMask) -> Result<Monitor> {
        let (monitor, sink) = Monitor::channel();
        self.monitor_with(events, sink)?;
        Ok(monitor)
    }

    /// Reports the socket's events (those in `events`) to `sink`, which replaces the monitor
    /// before, if any. See [`EventSink`] for what a sink may do.
    pub fn monitor_with(&self, events: EventMask, sink: Arc<dyn EventSink>) -> Result<()> {
        self.check_term()?;
        self.link.monitor().start(events, sink);
        Ok(())
    }

    /// Stops reporting events; the monitor sees [`MonitorStopped`](crate::EventKind::MonitorStopped) if it asked for
    /// it. Nothing happens when no monitor is set.
    pub fn stop_monitor(&self) {
        self.link.monitor().stop();
    }

    /// Each peer the socket has now, in the order they came: the addresses of its connection
    /// and the messages queued each way (what libzmq's `ZMQ_EVENT_PIPES_STATS` events report).
    ///
    /// ```
    /// use oxmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.bind("inproc://peer-stats")?;
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// pull.connect("inproc://peer-stats")?;
    /// push.send("queued")?;
    /// let peers = push.peer_stats();
    /// assert_eq!(peers.len(), 1);
    /// assert_eq!(peers[0].local, "inproc://peer-stats");
    /// assert_eq!(peers[0].queued_out, 1);
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn peer_stats(&self) -> Vec<crate::monitor::PeerStats> {
        let mut core = self.core();
        core.process_mail(&self.link);
        let mut peers = Vec::new();
        core.pattern.for_each_peer(&mut |peer| {
            let (local, remote) = peer.names.get();
            peers.push(crate::monitor::PeerStats {
                local,
                remote,
                queued_out: peer.writer.queued(),
                queued_in: peer.queued_in(),
                sent: peer.sent(),
                received: peer.reader.delivered(),
                dropped: peer.dropped,
            });
        });
        peers
    }

    /// The socket's traffic since it was made: messages sent and received, queued now, and
    /// dropped by reason. What libzmq drops silently is counted here.
    ///
    /// ```
    /// use oxmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let router = ctx.socket(SocketType::Router)?;
    /// router.bind("inproc://stats")?;
    /// // No peer is named "nobody": ROUTER drops the message, and counts it.
    /// router.send(oxmq::Message::from_frames(["nobody", "hello"]))?;
    /// let stats = router.stats();
    /// assert_eq!(stats.sent, 1);
    /// assert_eq!(stats.dropped.no_route, 1);
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn stats(&self) -> crate::monitor::SocketStats {
        let mut stats = crate::monitor::SocketStats::default();
        let mut core = self.core();
        core.process_mail(&self.link);
        core.pattern.for_each_peer(&mut |peer| {
            stats.queued_out += peer.writer.queued();
            stats.queued_in += peer.queued_in();
        });
        stats.sent = core.sent;
        stats.received = core.received;
        stats.dropped = core.pattern.drops();
        stats.dropped.too_large = self.link.too_large();
        stats
    }

    /// The last endpoint bound or connected (ZMQ_LAST_ENDPOINT), with a wildcard port resolved.
    pub fn last_endpoint(&self) -> String {
        self.core().endpoints.last_endpoint().to_owned()
    }

    /// Sends a message, blocking while no peer can take it (up to SNDTIMEO).
    pub fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.send_msg(msg.into(), false).map_err(Error::from)
    }

    /// Sends a message without blocking. When it cannot be sent now ([`Error::WouldBlock`]) or
    /// at all, the message comes back in the [`SendError`].
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), SendError> {
        self.send_msg(msg.into(), true)
    }

    /// Waits until a message whose first frame is `first` could be sent (up to SNDTIMEO, or
    /// not at all with `dont_wait`), the way libzmq's `zmq_send` of a first frame with
    /// `ZMQ_SNDMORE` does: the C ABI calls it before it collects the rest of a multi-part
    /// message. Fails as that send would: [`Error::WouldBlock`], [`Error::InvalidState`] (a
    /// REQ awaiting its reply, a REP with no request to answer), [`Error::HostUnreachable`] (a
    /// ROUTER with MANDATORY and no such peer).
    /// Nothing is sent: the whole message still goes through [`Socket::send`].
    pub fn begin_send(&self, first: &[u8], dont_wait: bool) -> Result<()> {
        let mut core = self.start_send(dont_wait)?;
        match core.pattern.can_begin(first)? {
            true => Ok(()),
            false => self.send_blocking(&mut core, dont_wait, |p| p.can_begin(first)),
        }
    }

    /// How many peers have detached from the socket since it was created, as far as the socket
    /// has taken note (it does on every send, receive and endpoint call); an unbind or a
    /// disconnect counts once even when no peer came through that endpoint. The C ABI compares
    /// it across a multi-part message sent frame by frame: when the peer the first frame was
    /// meant for went away before the last frame could go, the message is dropped, as libzmq
    /// drops the frames it had written into the dead connection's pipe.
    pub fn peers_detached(&self) -> u64 {
        self.core().detached
    }

    /// Sends a message, blocking while no peer can take it (up to SNDTIMEO), like
    /// [`Socket::send`]; when it cannot be sent, the message comes back in the [`SendError`]
    /// (the C ABI gives a failed `zmq_msg_send` its message back this way).
    pub fn send_or_return(&self, msg: impl Into<Message>) -> std::result::Result<(), SendError> {
        self.send_msg(msg.into(), false)
    }

    /// Sends a one-frame message holding a copy of `data`, blocking while no peer can take it
    /// (up to SNDTIMEO): what `zmq_send` does. The same as `send(data)`, and the fastest way to
    /// send small messages: PUSH, PAIR and DEALER copy the bytes straight into the queue
    /// towards the peer (or, for a reply right after a receive, onto the idle connection), with
    /// no [`Message`] built on the way; the other types build one as `send` does.
    ///
    /// ```
    /// let ctx = oxmq::Context::new();
    /// let pull = ctx.socket(oxmq::SocketType::Pull)?;
    /// pull.bind("inproc://send-bytes")?;
    /// let push = ctx.socket(oxmq::SocketType::Push)?;
    /// push.connect("inproc://send-bytes")?;
    /// push.send_bytes(b"tick")?;
    /// assert_eq!(pull.recv()?[0], b"tick");
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn send_bytes(&self, data: &[u8]) -> Result<()> {
        self.send_copy(data, false)
    }

    /// [`send_bytes`](Self::send_bytes) without blocking: [`Error::WouldBlock`] when no peer
    /// can take the message now (the caller still holds the bytes).
    pub fn try_send_bytes(&self, data: &[u8]) -> Result<()> {
        self.send_copy(data, true)
    }

    /// The first attempt of a send, inlined into `send` and `try_send`: when the pattern takes
    /// the message at once, nothing else runs.
    #[inline]
    fn send_msg(&self, mut msg: Message, dont_wait: bool) -> std::result::Result<(), SendError> {
        let sent = match self.start_send(dont_wait) {
            Ok(mut core) => match core.pattern.send_from(&mut msg) {
                Ok(true) => {
                    core.sent += 1;
                    return Ok(());
                }
                Ok(false) => self.send_blocking(&mut core, dont_wait, |p| p.send_from(&mut msg)),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        sent.map_err(|error| SendError {
            error,
            message: msg,
        })
    }

    /// The first attempt of a [`send_bytes`](Self::send_bytes), inlined into it and
    /// `try_send_bytes`.
    #[inline]
    fn send_copy(&self, data: &[u8], dont_wait: bool) -> Result<()> {
        let mut core = self.start_send(dont_wait)?;
        match core.pattern.send_bytes(data)? {
            true => {
                core.sent += 1;
                Ok(())
            }
            false => self.send_blocking(&mut core, dont_wait, |p| p.send_bytes(data)),
        }
    }

    /// What every send does before its first attempt: locks the socket, fails on a terminated
    /// context, applies the mailbox, sets the request-reply rhythm and how long a stream may
    /// wait.
    #[inline(always)]
    fn start_send(&self, dont_wait: bool) -> Result<std::cell::RefMut<'_, Core>> {
        let mut core = self.core();
        self.check_term()?;
        core.process_mail(&self.link);
        let direct = std::mem::take(&mut core.replying);
        core.set_rhythm(direct);
        core.set_blocking(!dont_wait);
        Ok(core)
    }

    /// A send that could not happen at once: waits (up to SNDTIMEO) for a peer with room,
    /// trying again with `attempt` (which says, as [`Pattern::send_from`] does, whether the
    /// message was taken).
    #[inline(never)]
    fn send_blocking(
        &self,
        core: &mut Core,
        dont_wait: bool,
        mut attempt: impl FnMut(&mut dyn Pattern) -> Result<bool>,
    ) -> Result<()> {
        core.set_rhythm(false);
        let timeout = if dont_wait {
            Some(Duration::ZERO)
        } else {
            Options::timeout(core.opts.sndtimeo)
        };
        let activation = self.link.activation();
        if timeout == Some(Duration::ZERO) {
            // A look, as `events` makes: a socket waited on through its descriptor learns of
            // room from it.
            activation.arm();
            core.process_mail(&self.link);
            return match attempt(core.pattern.as_mut()) {
                Ok(true) => {
                    core.sent += 1;
                    Ok(())
                }
                Ok(false) => Err(Error::WouldBlock),
                Err(error) => Err(error),
            };
        }
        let deadline = deadline_after(timeout);
        loop {
            activation.prepare_wait();
            core.process_mail(&self.link);
            match attempt(core.pattern.as_mut()) {
                Ok(true) => {
                    activation.cancel_wait();
                    core.sent += 1;
                    return Ok(());
                }
                Ok(false) => {}
                Err(error) => {
                    activation.cancel_wait();
                    return Err(error);
                }
            }
            if self.ctx.is_terminated() {
                activation.cancel_wait();
                return Err(Error::Terminated);
            }
            core.release_reads();
            core.flush_streams();
            match activation.park(deadline) {
                Parked::Woken => {}
                Parked::TimedOut => return Err(Error::WouldBlock),
                Parked::Interrupted => return Err(Error::Interrupted),
            }
        }
    }

    /// Receives a message, blocking until one arrives (up to RCVTIMEO).
    pub fn recv(&self) -> Result<Message> {
        self.recv_msg(false)
    }

    /// Receives a message without blocking: [`Error::WouldBlock`] when none is waiting.
    pub fn try_recv(&self) -> Result<Message> {
        self.recv_msg(true)
    }

    /// Receives a message into `msg`, replacing what it held, blocking until one arrives (up
    /// to RCVTIMEO): [`recv`](Self::recv) without building a new [`Message`] (a loop that
    /// receives into the same one moves each message once, from the queue into it). With
    /// `dont_wait`, [`Error::WouldBlock`] when none is waiting. On failure `msg` is left
    /// empty ([`Message::new`]).
    ///
    /// What `msg` held is released before the socket is locked. On a socket whose peers are
    /// all inproc, a replaced message of up to 8 KiB is kept and released with others, up to
    /// 128 messages or 128 KiB at a time (and all when the socket closes): a body lent by the
    /// application ([`bytes::Bytes::from_owner`]) is then dropped that much later.
    ///
    /// ```
    /// let ctx = oxmq::Context::new();
    /// let pull = ctx.socket(oxmq::SocketType::Pull)?;
    /// pull.bind("inproc://recv-into")?;
    /// let push = ctx.socket(oxmq::SocketType::Push)?;
    /// push.connect("inproc://recv-into")?;
    /// push.send("one")?;
    /// push.send("two")?;
    /// let mut msg = oxmq::Message::new();
    /// for expected in ["one", "two"] {
    ///     pull.recv_into(&mut msg, false)?;
    ///     assert_eq!(msg[0], expected.as_bytes());
    /// }
    /// assert_eq!(pull.recv_into(&mut msg, true), Err(oxmq::Error::WouldBlock));
    /// assert!(msg.len() == 1 && msg[0].is_empty());
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    #[inline]
    pub fn recv_into(&self, msg: &mut Message, dont_wait: bool) -> Result<()> {
        if !msg.is_one_inline_frame() {
            self.retire(std::mem::take(msg));
        }
        let received = self.recv_locked(msg, dont_wait);
        if received.is_err() {
            // Neither the last message nor a control message a look at the pipes moved in.
            *msg = Message::new();
        }
        received
    }

    /// Drops a message `recv_into` replaced, before the socket is locked (dropping a body lent
    /// by the application runs its code, which may use this socket). On a socket whose peers
    /// are all inproc, small ones are dropped a batch at a time ([`SPENT_BATCH`] messages or
    /// [`SPENT_BYTES`]): a body shared with the sender (one payload sent again and again, a
    /// PUB's copies to its subscribers) has its reference count written by both threads, and
    /// a decrement per message keeps that cache line moving between their CPUs. (Frames read
    /// from a connection share its read buffer, which is reused in place only once they are
    /// all dropped: those go at once.)
    #[inline]
    fn retire(&self, old: Message) {
        let size = old.byte_len();
        if size > SPENT_MAX_BYTES
            || !self.core.try_borrow().is_ok_and(|core| {
                !core.inproc_peers.is_empty() && core.sinks.is_empty() && core.sources.is_empty()
            })
        {
            return;
        }
        let Ok(mut spent) = self.spent.try_borrow_mut() else {
            return;
        };
        spent.1 += size;
        spent.0.push(old);
        if spent.0.len() >= SPENT_BATCH || spent.1 >= SPENT_BYTES {
            // A body's drop that uses this socket finds `spent` borrowed and drops at once.
            spent.0.clear();
            spent.1 = 0;
        }
    }

    /// [`recv_into`](Self::recv_into) under the socket's lock.
    #[inline]
    fn recv_locked(&self, msg: &mut Message, dont_wait: bool) -> Result<()> {
        let mut core = self.core();
        self.check_term()?;
        core.process_mail(&self.link);
        core.pattern.check_recv()?;
        if core.pattern.recv_into(msg) {
            core.replying = true;
            core.received += 1;
            return Ok(());
        }
        let received = self.recv_blocking(&mut core, msg, dont_wait);
        core.received += u64::from(received.is_ok());
        received
    }

    /// The first attempt of a receive, inlined into `recv` and `try_recv`.
    #[inline]
    fn recv_msg(&self, dont_wait: bool) -> Result<Message> {
        let mut msg = Message::new();
        self.recv_into(&mut msg, dont_wait)?;
        Ok(msg)
    }

    /// A receive with nothing waiting: waits (up to RCVTIMEO) for a message.
    #[inline(never)]
    fn recv_blocking(&self, core: &mut Core, msg: &mut Message, dont_wait: bool) -> Result<()> {
        let timeout = if dont_wait {
            Some(Duration::ZERO)
        } else {
            Options::timeout(core.opts.rcvtimeo)
        };
        if timeout == Some(Duration::ZERO) {
            // A look, as `events` makes: a socket waited on through its descriptor learns of
            // the next message from it.
            core.release_reads();
            self.link.mailbox().activation().arm();
            core.process_mail(&self.link);
            if core.pattern.recv_into(msg) {
                core.replying = true;
                return Ok(());
            }
            return Err(Error::WouldBlock);
        }
        core.flush_streams();
        let deadline = deadline_after(timeout);
        let activation = self.link.activation();
        let spins = if core.inproc_peers.is_empty() {
            0
        } else {
            RECV_SPINS
        };
        for spin in 1..=spins {
            if spin % YIELD_EVERY == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            if core.pattern.recv_into(msg) {
                core.replying = true;
                return Ok(());
            }
        }
        // Cleared when the connection cannot be read from here this time.
        let mut direct = true;
        loop {
            activation.prepare_wait();
            core.process_mail(&self.link);
            if core.pattern.recv_into(msg) {
                activation.cancel_wait();
                core.replying = true;
                return Ok(());
            }
            if self.ctx.is_terminated() {
                activation.cancel_wait();
                return Err(Error::Terminated);
            }
            if let Some(source) = core.only_source().filter(|_| direct).cloned() {
                let outcome = source.wait(&activation, deadline);
                core.reading = Some(source);
                match outcome {
                    ReadWait::Woken => {}
                    ReadWait::Unavailable => direct = false,
                    ReadWait::TimedOut => return Err(Error::WouldBlock),
                    ReadWait::Interrupted => return Err(Error::Interrupted),
                }
                continue;
            }
            // A look that found the I/O thread holding the only connection keeps it: the
            // session may then lend it with input still undecoded (a full pipe), which this
            // receive reads itself once it has taken the pipe's messages. Letting go here
            // would have the two threads take turns at every pipe-full for the whole stream.
            if !core.reads_only_source() {
                core.release_reads();
            }
            match activation.park(deadline) {
                Parked::Woken => {}
                Parked::TimedOut => return Err(Error::WouldBlock),
                Parked::Interrupted => return Err(Error::Interrupted),
            }
        }
    }

    /// The metadata of the connection the last message received came from: the peer's READY
    /// properties (`Socket-Type`, `Identity`, application `X-` properties) and, over tcp,
    /// `Peer-Address`; what libzmq's `zmq_msg_gets` reads. `None` for a message from an inproc
    /// peer, as in libzmq.
    pub fn last_metadata(&self) -> Option<Arc<PeerMetadata>> {
        self.core().pattern.last_metadata().cloned()
    }

    /// Whether the socket's context was shut down ([`Context::shutdown`] or
    /// [`Context::term`]): sending, receiving, binding and connecting fail with
    /// [`Error::Terminated`] from then on.
    ///
    /// [`Context::shutdown`]: crate::Context::shutdown
    /// [`Context::term`]: crate::Context::term
    pub fn is_terminated(&self) -> bool {
        self.ctx.is_terminated()
    }

    /// What the socket can do now without blocking (`ZMQ_EVENTS`), and arms
    /// [`Socket::signal_fd`]: when this finds the socket not ready in a direction, the
    /// descriptor becomes readable once that may have changed.
    ///
    /// ```
    /// use oxmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// pull.bind("inproc://events")?;
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.connect("inproc://events")?;
    /// assert!(!pull.events()?.readable);
    /// push.send("hello")?;
    /// assert!(pull.events()?.readable);
    /// assert!(push.events()?.writable);
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn events(&self) -> Result<Events> {
        self.check_term()?;
        let mut core = self.core();
        core.release_reads();
        self.link.mailbox().activation().arm();
        core.process_mail(&self.link);
        let events = Events {
            readable: core.pattern.can_recv(),
            writable: core.pattern.can_send(),
        };
        #[cfg(all(unix, not(loom)))]
        if events.readable {
            // A message waits: the descriptor stays readable until a look finds none.
            self.link.mailbox().activation().signal_ready();
        }
        Ok(events)
    }

    /// A file descriptor that becomes readable when the socket may have become ready to send or
    /// receive (`ZMQ_FD`), for `poll(2)`, epoll and event loops. It is edge-triggered as in
    /// libzmq: it fires after [`Socket::events`] found the socket not ready and something
    /// changed since; so wait for it only after `events` said "not ready", and call `events`
    /// again each time it fires and after each send and receive. Made on first use; owned by
    /// the socket (do not close it).
    #[cfg(all(unix, not(loom)))]
    pub fn signal_fd(&self) -> Result<std::os::fd::RawFd> {
        self.link
            .mailbox()
            .activation()
            .signal_fd()
            .map_err(Error::from)
    }

    /// How many looks at the socket through its descriptor there were so far (see
    /// [`crate::Poller`]).
    #[cfg(all(unix, not(loom)))]
    pub(crate) fn looks(&self) -> u64 {
        self.link.mailbox().activation().looks()
    }

    /// Registers an async task to wake with the socket's next wake-up (see
    /// [`crate::AsyncSocket`]); a failed non-blocking send or receive after it arms the socket.
    #[cfg(not(loom))]
    pub(crate) fn register_task(&self, waker: &std::task::Waker) {
        self.link.mailbox().activation().register_task(waker);
    }

    /// Whether a message can be received now without blocking (`ZMQ_POLLIN`).
    pub fn has_incoming(&self) -> bool {
        let mut core = self.core();
        core.release_reads();
        core.process_mail(&self.link);
        core.pattern.can_recv()
    }

    /// Whether a message can be sent now without blocking (`ZMQ_POLLOUT`).
    pub fn can_send(&self) -> bool {
        let mut core = self.core();
        core.process_mail(&self.link);
        core.pattern.can_send()
    }

    /// Sets an option by its libzmq number (see [`option_number`](crate::option_number)), with
    /// the value as `zmq_setsockopt` takes it: an `int` or `int64_t` in native byte order, or
    /// bytes. This is the one table of options by number: the named setters below and the C
    /// ABI's `zmq_setsockopt` both end here or in the setter it calls.
    ///
    /// A value of the wrong size, an unknown option or one the socket's type does not have
    /// give [`Error::Invalid`]; an option libzmq has and oxmq does not honour yet gives
    /// [`Error::NotSupported`], unless the value is libzmq's default (which changes nothing).
    ///
    /// ```
    /// use oxmq::{option_number, Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.set_option_raw(option_number::RCVHWM, &50i32.to_ne_bytes())?;
    /// sub.set_option_raw(option_number::SUBSCRIBE, b"weather.")?;
    /// assert_eq!(sub.rcvhwm(), 50);
    /// assert_eq!(sub.set_option_raw(option_number::RCVHWM, &[1, 2]), Err(oxmq::Error::Invalid));
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn set_option_raw(&self, option: i32, value: &[u8]) -> Result<()> {
        use options::number::*;
        let int = || pattern::int_value(value);
        let strict = || options::strict_bool_value(value);
        match option {
            SNDHWM => self.set_sndhwm(int()?),
            RCVHWM => self.set_rcvhwm(int()?),
            LINGER => self.set_linger(int()?),
            SNDTIMEO => self.set_sndtimeo(int()?),
            RCVTIMEO => self.set_rcvtimeo(int()?),
            MAXMSGSIZE => self.set_maxmsgsize(options::long_value(value)?),
            IMMEDIATE => self.set_immediate(strict()?),
            HANDSHAKE_IVL => self.set_handshake_ivl(int()?),
            RECONNECT_IVL => self.set_reconnect_ivl(int()?),
            RECONNECT_IVL_MAX => self.set_reconnect_ivl_max(int()?),
            BACKLOG => self.set_backlog(int()?),
            CONFLATE => self.set_conflate(strict()?),
            IPV6 => self.set_ipv6(strict()?),
            IPV4ONLY => self.set_ipv6(!strict()?),
            SNDBUF => self.set_sndbuf(int()?),
            RCVBUF => self.set_rcvbuf(int()?),
            ROUTING_ID => self.set_routing_id(value),
            CONNECT_ROUTING_ID => self.set_connect_routing_id(value),
            STREAM_NOTIFY => self.set_stream_notify(strict()?),
            TOS => self.set_tos(int()?),
            USE_FD => self.set_use_fd(int()?),
            BINDTODEVICE => self.set_bindtodevice(value),
            SOCKS_PROXY if value.is_empty() => self.set_socks_proxy(None),
            SOCKS_PROXY => {
                let text = std::str::from_utf8(value).map_err(|_| Error::Invalid)?;
                self.set_socks_proxy(Some(text.strip_suffix('\0').unwrap_or(text)))
            }
            SOCKS_USERNAME => self.set_socks_username(value),
            SOCKS_PASSWORD => self.set_socks_password(value),
            TCP_ACCEPT_FILTER if value.is_empty() => {
                self.clear_tcp_accept_filters();
                Ok(())
            }
            TCP_ACCEPT_FILTER => {
                let text = std::str::from_utf8(value).map_err(|_| Error::Invalid)?;
                self.add_tcp_accept_filter(text)
            }
            IPC_FILTER_UID | IPC_FILTER_GID | IPC_FILTER_PID => {
                let mut core = self.core();
                let filters = &mut core.opts.accept_filters;
                match (option, value.is_empty()) {
                    (IPC_FILTER_UID, true) => filters.uids.clear(),
                    (IPC_FILTER_GID, true) => filters.gids.clear(),
                    (_, true) => filters.pids.clear(),
                    (IPC_FILTER_UID, false) => filters.uids.push(int()? as u32),
                    (IPC_FILTER_GID, false) => filters.gids.push(int()? as u32),
                    (_, false) => filters.pids.push(int()?),
                }
                Ok(())
            }
            HEARTBEAT_IVL => self.set_heartbeat_ivl(int()?),
            HEARTBEAT_TTL => self.set_heartbeat_ttl(int()?),
            HEARTBEAT_TIMEOUT => self.set_heartbeat_timeout(int()?),
            TCP_KEEPALIVE => self.set_tcp_keepalive(int()?),
            TCP_KEEPALIVE_CNT => self.set_tcp_keepalive_cnt(int()?),
            TCP_KEEPALIVE_IDLE => self.set_tcp_keepalive_idle(int()?),
            TCP_KEEPALIVE_INTVL => self.set_tcp_keepalive_intvl(int()?),
            TCP_MAXRT => self.set_tcp_maxrt(int()?),
            CONNECT_TIMEOUT => self.set_connect_timeout(int()?),
            RECONNECT_STOP => self.set_reconnect_stop(int()?),
            HELLO_MSG => self.set_hello_msg(value),
            DISCONNECT_MSG => self.set_disconnect_msg(value),
            HICCUP_MSG => self.set_hiccup_msg(value),
            ROUTER_NOTIFY => self.set_router_notify(int()?),
            PRIORITY => self.set_priority(int()?),
            TYPE | RCVMORE | FD | EVENTS | LAST_ENDPOINT | MECHANISM | THREAD_SAFE
            | TOPICS_COUNT => Err(Error::Invalid),
            _ if options::not_yet_supported(option) => match options::unsupported_default(option) {
                Some(default) if options::is_default(value, &default) => Ok(()),
                _ => Err(Error::NotSupported),
            },
            _ => {
                let mut core = self.core();
                core.process_mail(&self.link);
                core.pattern.set_option(option, value)
            }
        }
    }

    /// Reads an option by its libzmq number, as `zmq_getsockopt` would write it (see
    /// [`Socket::set_option_raw`]). RCVMORE, FD and EVENTS belong to the C ABI's frame-by-frame
    /// view and give [`Error::Invalid`] here. An option oxmq does not honour yet reads as
    /// libzmq's default (ZAP_DOMAIN empty, RATE 100, ...), which is what it does.
    ///
    /// ```
    /// use oxmq::{option_number, Context, OptionValue, SocketType};
    ///
    /// let ctx = Context::new();
    /// let push = ctx.socket(SocketType::Push)?;
    /// assert_eq!(push.option_value(option_number::SNDHWM)?, OptionValue::Int(1000));
    /// assert_eq!(push.option_value(option_number::TYPE)?, OptionValue::Int(8));
    /// push.bind("inproc://option-value")?;
    /// assert_eq!(
    ///     push.option_value(option_number::LAST_ENDPOINT)?,
    ///     OptionValue::Text("inproc://option-value".into())
    /// );
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn option_value(&self, option: i32) -> Result<OptionValue> {
        use OptionValue::{Int, Long};
        use options::number::*;
        let mut core = self.core();
        core.process_mail(&self.link);
        let opts = &core.opts;
        Ok(match option {
            TYPE => Int(self.socket_type().zmq_number()),
            SNDHWM => Int(opts.sndhwm),
            RCVHWM => Int(opts.rcvhwm),
            LINGER => Int(opts.linger),
            SNDTIMEO => Int(opts.sndtimeo),
            RCVTIMEO => Int(opts.rcvtimeo),
            MAXMSGSIZE => Long(opts.maxmsgsize),
            IMMEDIATE => Int(opts.immediate.into()),
            HANDSHAKE_IVL => Int(opts.handshake_ivl),
            RECONNECT_IVL => Int(opts.reconnect_ivl),
            RECONNECT_IVL_MAX => Int(opts.reconnect_ivl_max),
            BACKLOG => Int(opts.backlog),
            CONFLATE => Int(opts.conflate.into()),
            IPV6 => Int(opts.ipv6.into()),
            IPV4ONLY => Int((!opts.ipv6).into()),
            SNDBUF => Int(opts.sndbuf),
            RCVBUF => Int(opts.rcvbuf),
            TOS => Int(opts.tos),
            USE_FD => Int(opts.use_fd),
            HEARTBEAT_IVL => Int(opts.heartbeat_ivl),
            HEARTBEAT_TTL => Int(opts.heartbeat_ttl),
            HEARTBEAT_TIMEOUT => Int(opts.heartbeat_timeout),
            TCP_KEEPALIVE => Int(opts.tcp_keepalive),
            TCP_KEEPALIVE_CNT => Int(opts.tcp_keepalive_cnt),
            TCP_KEEPALIVE_IDLE => Int(opts.tcp_keepalive_idle),
            TCP_KEEPALIVE_INTVL => Int(opts.tcp_keepalive_intvl),
            TCP_MAXRT => Int(opts.tcp_maxrt),
            CONNECT_TIMEOUT => Int(opts.connect_timeout),
            RECONNECT_STOP => Int(opts.reconnect_stop),
            ROUTER_NOTIFY => Int(opts.router_notify),
            PRIORITY => Int(opts.priority),
            BINDTODEVICE => OptionValue::Text(String::from_utf8_lossy(&opts.bindtodevice).into()),
            SOCKS_PROXY => OptionValue::Text(opts.socks_proxy.clone()),
            SOCKS_USERNAME => {
                OptionValue::Text(String::from_utf8_lossy(&opts.socks_username).into())
            }
            SOCKS_PASSWORD => {
                OptionValue::Text(String::from_utf8_lossy(&opts.socks_password).into())
            }
            ROUTING_ID => OptionValue::Bytes(
                core.pattern
                    .own_routing_id()
                    .unwrap_or_else(|| opts.routing_id.clone())
                    .to_vec(),
            ),
            LAST_ENDPOINT => OptionValue::Text(core.endpoints.last_endpoint().to_owned()),
            // The NULL mechanism; PLAIN and CURVE come later.
            MECHANISM => Int(0),
            THREAD_SAFE => Int(0),
            // ROUTER_RAW can only be set, in libzmq too.
            RCVMORE | FD | EVENTS | ROUTER_RAW => return Err(Error::Invalid),
            _ if options::not_yet_supported(option) => {
                return options::unsupported_default(option).ok_or(Error::NotSupported);
            }
            _ => Int(core.pattern.option(option)?),
        })
    }

    /// Reads an integer option of the socket's type by its libzmq number (TOPICS_COUNT,
    /// INVERT_MATCHING); [`Socket::option_value`] reads every option.
    pub fn option_raw(&self, option: i32) -> Result<i32> {
        let mut core = self.core();
        core.process_mail(&self.link);
        core.pattern.option(option)
    }
}

/// `Instant::now() + timeout`, or `None` (forever) when that is beyond what `Instant` holds.
/// How many times a blocking receive that finds nothing looks again before it announces that it
/// waits and sleeps, when the socket has an inproc peer: with a spin-loop hint between looks,
/// and every [`YIELD_EVERY`]th time a yield of the CPU instead (about 2 µs in all on the CI
/// machine).
///
/// Sleeping costs the receiver a futex wait and the sender a futex wake, tens of microseconds
/// on a VM. When the peer is a busy socket on another CPU (inproc) the next message is often
/// that close: an inproc round trip drops from about 40 µs to about 1, and a receiver that
/// keeps catching up with its sender stops paying a wake-up per message. The yields keep the
/// spin from holding a CPU that the sender needs (more busy threads than CPUs, or everything
/// pinned to one CPU: there a yield hands the CPU to the sender, which is faster than
/// sleeping). Messages from tcp and ipc peers come through an I/O thread that must wake up
/// first, tens of microseconds away: spinning for them never paid, and it made tcp and ipc
/// round trips slower (ipc 32 -> 52 µs), so a socket without inproc peers sleeps at once, as
/// libzmq does.
const RECV_SPINS: usize = 64;
/// See [`RECV_SPINS`].
const YIELD_EVERY: usize = 16;

/// How many replaced messages `recv_into` keeps before it drops them (see `Socket::retire`).
const SPENT_BATCH: usize = 128;
/// How many bytes of replaced messages `recv_into` keeps before it drops them.
const SPENT_BYTES: usize = 128 * 1024;
/// Larger messages are dropped at once.
const SPENT_MAX_BYTES: usize = 8 * 1024;

fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Defines a setter and a getter for an option stored as-is in `Options`.
macro_rules! option {
    ($(#[$doc:meta])* $set:ident, $get:ident, $field:ident: $ty:ty, $check:expr) => {
        $(#[$doc])*
        pub fn $set(&self, value: $ty) -> Result<()> {
            let check: fn($ty) -> Result<$ty> = $check;
            self.core().opts.$field = check(value)?;
            Ok(())
        }

        #[doc = concat!("The value [`Socket::", stringify!($set), "`] sets.")]
        pub fn $get(&self) -> $ty {
            self.core().opts.$field
        }
    };
}

/// Option setters and getters, with libzmq's names, units and defaults.
impl Socket {
    /// ZMQ_SNDHWM: most messages queued per peer for sending (default 1000; 0 is unlimited).
    /// Applies to the peers the socket has and to later binds and connects, as in libzmq (the
    /// connections an earlier bind accepts later get the value it had then). An inproc queue
    /// holds the sender's SNDHWM plus the receiver's RCVHWM. Lowering it drops nothing already
    /// queued.
    pub fn set_sndhwm(&self, value: i32) -> Result<()> {
        let value = options::check_non_negative(value)?;
        let mut core = self.core();
        core.process_mail(&self.link);
        core.opts.sndhwm = value;
        core.pattern
            .for_each_peer(&mut |peer| peer.writer.set_sndhwm(value));
        Ok(())
    }

    /// SNDHWM_BYTES (an oxmq option): most bytes queued per peer for sending, besides
    /// SNDHWM's count of messages (default 0: no byte bound). A queue with nothing in it always
    /// takes one message, however large; an inproc queue holds the sender's SNDHWM_BYTES plus
    /// the receiver's RCVHWM_BYTES. Applies as [`Socket::set_sndhwm`] does.
    ///
    /// ```
    /// use oxmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.set_sndhwm_bytes(1 << 20)?; // at most 1 MiB waiting per peer
    /// push.bind("inproc://bytes")?;
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// pull.connect("inproc://bytes")?;
    /// let big = vec![0u8; 700 << 10];
    /// push.try_send(big.clone())?;
    /// push.try_send(big.clone())?; // the second goes in: 700 KiB were below the bound
    /// assert!(push.try_send(big).is_err()); // 1.4 MiB waiting: full
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn set_sndhwm_bytes(&self, bytes: u64) -> Result<()> {
        let mut core = self.core();
        core.process_mail(&self.link);
        core.opts.sndhwm_bytes = bytes;
        core.pattern
            .for_each_peer(&mut |peer| peer.writer.set_sndhwm_bytes(bytes));
        Ok(())
    }

    /// The value [`Socket::set_sndhwm_bytes`] sets.
    pub fn sndhwm_bytes(&self) -> u64 {
        self.core().opts.sndhwm_bytes
    }

    /// RCVHWM_BYTES (an oxmq option): most bytes queued per peer for receiving, besides
    /// RCVHWM's count (default 0: no byte bound). Applies as [`Socket::set_sndhwm`] does.
    pub fn set_rcvhwm_bytes(&self, bytes: u64) -> Result<()> {
        let mut core = self.core();
        core.process_mail(&self.link);
        core.opts.rcvhwm_bytes = bytes;
        core.pattern
            .for_each_peer(&mut |peer| peer.reader.set_rcvhwm_bytes(bytes));
        Ok(())
    }

    /// The value [`Socket::set_rcvhwm_bytes`] sets.
    pub fn rcvhwm_bytes(&self) -> u64 {
        self.core().opts.rcvhwm_bytes
    }

    /// The value [`Socket::set_sndhwm`] sets.
    pub fn sndhwm(&self) -> i32 {
        self.core().opts.sndhwm
    }

    /// ZMQ_RCVHWM: most messages queued per peer for receiving (default 1000; 0 is
    /// unlimited). Applies as [`Socket::set_sndhwm`] says.
    pub fn set_rcvhwm(&self, value: i32) -> Result<()> {
        let value = options::check_non_negative(value)?;
        let mut core = self.core();
        core.process_mail(&self.link);
        core.opts.rcvhwm = value;
        core.pattern
            .for_each_peer(&mut |peer| peer.reader.set_rcvhwm(value));
        Ok(())
    }

    /// The value [`Socket::set_rcvhwm`] sets.
    pub fn rcvhwm(&self) -> i32 {
        self.core().opts.rcvhwm
    }
    /// ZMQ_SNDTIMEO in milliseconds (default -1: block forever; 0: never block).
    pub fn set_sndtimeo(&self, value: i32) -> Result<()> {
        let value = options::check_min_minus_one(value)?;
        let mut core = self.core();
        core.opts.sndtimeo = value;
        core.mode.sndtimeo.store(value, Ordering::Relaxed);
        Ok(())
    }

    /// The value [`Socket::set_sndtimeo`] sets.
    pub fn sndtimeo(&self) -> i32 {
        self.core().opts.sndtimeo
    }
    option!(
        /// ZMQ_RCVTIMEO in milliseconds (default -1: block forever; 0: never block).
        set_rcvtimeo, rcvtimeo, rcvtimeo: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_MAXMSGSIZE: the largest frame accepted from a peer, in bytes (default -1: no
        /// limit). A peer that sends a larger one is disconnected.
        set_maxmsgsize, maxmsgsize, maxmsgsize: i64, |bytes| if bytes < -1 { Err(Error::Invalid) } else { Ok(bytes) }
    );
    option!(
        /// ZMQ_IMMEDIATE: queue messages only for peers whose connection is complete (default
        /// false).
        set_immediate, immediate, immediate: bool, Ok
    );
    option!(
        /// ZMQ_HANDSHAKE_IVL in milliseconds: a connection whose handshake takes longer is closed
        /// (default 30000; 0 disables).
        set_handshake_ivl, handshake_ivl, handshake_ivl: i32, options::check_non_negative
    );
    /// ZMQ_TCP_ACCEPT_FILTER: adds an address mask (`127.0.0.1`, `10.0.0.0/8`, `::1/128`; no
    /// host names). Once a mask is set, later tcp binds accept connections only from addresses
    /// a mask covers; others are closed at once. Invalid text is [`Error::Invalid`].
    pub fn add_tcp_accept_filter(&self, mask: &str) -> Result<()> {
        let mask = crate::accept_filter::AddressMask::parse(mask)?;
        self.core().opts.accept_filters.tcp.push(mask);
        Ok(())
    }

    /// Removes every ZMQ_TCP_ACCEPT_FILTER mask: later binds accept everyone.
    pub fn clear_tcp_accept_filters(&self) {
        self.core().opts.accept_filters.tcp.clear();
    }

    /// ZMQ_IPC_FILTER_UID, ZMQ_IPC_FILTER_GID, ZMQ_IPC_FILTER_PID: adds a user id, a group id
    /// (the peer's primary group or one of its supplementary groups) or a process id. Once one
    /// is set, later ipc binds accept connections only from processes that match one of them.
    pub fn add_ipc_accept_filter(&self, filter: IpcFilter) {
        let filters = &mut self.core().opts.accept_filters;
        match filter {
            IpcFilter::Uid(uid) => filters.uids.push(uid),
            IpcFilter::Gid(gid) => filters.gids.push(gid),
            IpcFilter::Pid(pid) => filters.pids.push(pid),
        }
    }

    /// Removes every ipc filter: later binds accept every process.
    pub fn clear_ipc_accept_filters(&self) {
        let filters = &mut self.core().opts.accept_filters;
        filters.uids.clear();
        filters.gids.clear();
        filters.pids.clear();
    }

    option!(
        /// ZMQ_HEARTBEAT_IVL in milliseconds: each connection sends a PING this often, and is
        /// closed when nothing at all arrives within HEARTBEAT_TIMEOUT after one (default 0:
        /// no heartbeats). Any traffic counts as a sign of life. Applies to later binds and
        /// connects (their connections keep the value they were made with).
        set_heartbeat_ivl, heartbeat_ivl, heartbeat_ivl: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_HEARTBEAT_TTL in milliseconds: announced in our PINGs, it asks the peer to close
        /// the connection when nothing arrives from us for that long (default 0: not asked).
        /// Kept in whole deciseconds (rounded down, as libzmq); at most 6553599.
        set_heartbeat_ttl, heartbeat_ttl, heartbeat_ttl: i32, options::check_heartbeat_ttl
    );
    option!(
        /// ZMQ_HEARTBEAT_TIMEOUT in milliseconds: how long after a PING a silent connection is
        /// given (default -1: HEARTBEAT_IVL; 0: no timeout). Applies to later binds and connects.
        set_heartbeat_timeout, heartbeat_timeout, heartbeat_timeout: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_RECONNECT_IVL in milliseconds (default 100; -1: never reconnect).
        set_reconnect_ivl, reconnect_ivl, reconnect_ivl: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_RECONNECT_IVL_MAX in milliseconds: the cap of the exponential backoff (default 0:
        /// no backoff).
        set_reconnect_ivl_max, reconnect_ivl_max, reconnect_ivl_max: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_BACKLOG: the listen queue length for later binds (default 100).
        set_backlog, backlog, backlog: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_CONFLATE: keep only the newest message in each queue, for DEALER, PULL, PUSH,
        /// PUB and SUB (default false; other types ignore it, as in libzmq). A multi-part
        /// message is kept whole (libzmq keeps only one of its parts). Applies to connections
        /// made afterwards.
        set_conflate, conflate, conflate: bool, Ok
    );
    option!(
        /// ZMQ_USE_FD: a listening tcp or ipc socket the application made (bound and
        /// listening), which the next tcp or ipc bind adopts instead of making its own; the
        /// socket then owns it and closes it with the listener, and the option goes back to
        /// -1 (libzmq keeps it, so a second bind would own the descriptor twice). Default -1:
        /// none. The endpoint given to `bind` names what it is bound to.
        set_use_fd, use_fd, use_fd: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_TOS: the IP type of service (DSCP and ECN bits) of later tcp binds and
        /// connects (default 0: the kernel's).
        set_tos, tos, tos: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_TCP_KEEPALIVE: TCP keepalive probes on later tcp connections (SO_KEEPALIVE):
        /// -1 the kernel's default (off on Linux), 0 off, 1 on.
        set_tcp_keepalive, tcp_keepalive, tcp_keepalive: i32, options::check_keepalive
    );
    option!(
        /// ZMQ_TCP_KEEPALIVE_CNT: unanswered probes before a connection is dropped
        /// (TCP_KEEPCNT; -1 the kernel's default).
        set_tcp_keepalive_cnt, tcp_keepalive_cnt, tcp_keepalive_cnt: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_TCP_KEEPALIVE_IDLE: seconds of silence before the first probe (TCP_KEEPIDLE; -1
        /// the kernel's default).
        set_tcp_keepalive_idle, tcp_keepalive_idle, tcp_keepalive_idle: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_TCP_KEEPALIVE_INTVL: seconds between probes (TCP_KEEPINTVL; -1 the kernel's
        /// default).
        set_tcp_keepalive_intvl, tcp_keepalive_intvl, tcp_keepalive_intvl: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_TCP_MAXRT: milliseconds unacknowledged data may wait before a later tcp
        /// connection is dropped (TCP_USER_TIMEOUT; default 0: the kernel's).
        set_tcp_maxrt, tcp_maxrt, tcp_maxrt: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_CONNECT_TIMEOUT: milliseconds a tcp connect may take before it is given up
        /// (CLOSED) and tried again after the reconnect interval (default 0: the kernel's own
        /// timeout, minutes).
        set_connect_timeout, connect_timeout, connect_timeout: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_RECONNECT_STOP (draft in libzmq 4.3.5): when a connecter stops reconnecting, as
        /// a mask of [`option_number::RECONNECT_STOP_CONN_REFUSED`](crate::option_number::RECONNECT_STOP_CONN_REFUSED)
        /// (a refused connect),
        /// [`RECONNECT_STOP_HANDSHAKE_FAILED`](crate::option_number::RECONNECT_STOP_HANDSHAKE_FAILED)
        /// (a failed handshake) and
        /// [`RECONNECT_STOP_AFTER_DISCONNECT`](crate::option_number::RECONNECT_STOP_AFTER_DISCONNECT)
        /// (default 0: always reconnect). A stopped connecter's peer leaves the socket, as with
        /// RECONNECT_IVL -1.
        set_reconnect_stop, reconnect_stop, reconnect_stop: i32, Ok
    );
    /// ZMQ_HELLO_MSG (draft in libzmq): a message a ROUTER or DEALER sends each new peer
    /// before anything else, on every connection (again after a reconnect); empty clears it.
    /// Other socket types keep it and send nothing, as libzmq does.
    pub fn set_hello_msg(&self, msg: &[u8]) -> Result<()> {
        self.core().opts.hello_msg = (!msg.is_empty()).then(|| Bytes::copy_from_slice(msg));
        Ok(())
    }

    /// ZMQ_DISCONNECT_MSG (draft in libzmq): a message a ROUTER receives, as from the peer,
    /// when a connection it accepted ends (tcp and ipc) or an inproc peer that connected to it
    /// goes; empty clears it.
    pub fn set_disconnect_msg(&self, msg: &[u8]) -> Result<()> {
        self.core().opts.disconnect_msg = (!msg.is_empty()).then(|| Bytes::copy_from_slice(msg));
        Ok(())
    }

    /// ZMQ_HICCUP_MSG (draft in libzmq 4.3.5): a message a DEALER receives, as from the
    /// peer, when a connection it made breaks and is to be made again; empty clears it.
    pub fn set_hiccup_msg(&self, msg: &[u8]) -> Result<()> {
        self.core().opts.hiccup_msg = (!msg.is_empty()).then(|| Bytes::copy_from_slice(msg));
        Ok(())
    }

    /// ZMQ_ROUTER_NOTIFY (draft in libzmq): a ROUTER receives `[routing id, ""]` when a tcp or
    /// ipc peer completes its handshake
    /// ([`NOTIFY_CONNECT`](crate::option_number::NOTIFY_CONNECT)) and when its connection ends
    /// ([`NOTIFY_DISCONNECT`](crate::option_number::NOTIFY_DISCONNECT)); a message cut short
    /// by the disconnect is never delivered. [`Error::Invalid`] for other socket types or
    /// other bits.
    pub fn set_router_notify(&self, bits: i32) -> Result<()> {
        use options::number::{NOTIFY_CONNECT, NOTIFY_DISCONNECT};
        if self.socket_type() != SocketType::Router
            || !(0..=(NOTIFY_CONNECT | NOTIFY_DISCONNECT)).contains(&bits)
        {
            return Err(Error::Invalid);
        }
        self.core().opts.router_notify = bits;
        Ok(())
    }

    /// The value [`Socket::set_router_notify`] sets (0 for other socket types).
    pub fn router_notify(&self) -> i32 {
        self.core().opts.router_notify
    }

    option!(
        /// The most frames one received message may have (an oxmq option; default 65536, -1
        /// for no limit). A peer that sends more is disconnected and its message is never
        /// delivered, so that a peer cannot grow one multi-part message without bound, which
        /// libzmq lets it do.
        set_max_message_frames, max_message_frames, max_message_frames: i32, |n| if n == -1 || n >= 1 { Ok(n) } else { Err(Error::Invalid) }
    );
    option!(
        /// The largest received message, all its frames together, in bytes (an oxmq option;
        /// default -1, no limit, or the context's
        /// [`max_msgsz`](crate::ContextBuilder::max_msgsz)). A peer that sends a larger one is
        /// disconnected and the message never delivered. MAXMSGSIZE, as in libzmq, bounds each
        /// frame alone.
        set_max_message_size, max_message_size, max_message_size: i64, |n| if n >= -1 { Ok(n) } else { Err(Error::Invalid) }
    );
    option!(
        /// ZMQ_PRIORITY (draft in libzmq): the SO_PRIORITY of later tcp binds and connects, the
        /// queueing priority Linux gives their packets (default 0: the kernel's).
        set_priority, priority, priority: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_IPV6: bind `*` dual-stack and resolve names to IPv6 too (default false).
        set_ipv6, ipv6, ipv6: bool, Ok
    );
    option!(
        /// ZMQ_SNDBUF: the kernel send buffer size for later connections (default -1: the OS's).
        set_sndbuf, sndbuf, sndbuf: i32, options::check_min_minus_one
    );
    option!(
        /// ZMQ_RCVBUF: the kernel receive buffer size for later connections (default -1: the
        /// OS's).
        set_rcvbuf, rcvbuf, rcvbuf: i32, options::check_min_minus_one
    );

    /// ZMQ_LINGER in milliseconds: how long queued messages are still sent after close
    /// (default -1: until delivered; 0: dropped at once).
    ///
    /// "Sent" includes the peer taking the bytes from the kernel: once everything is written, a
    /// closing tcp or ipc connection shuts down its write side and stays open, within LINGER,
    /// until the peer has read (ipc) or acknowledged (tcp) all of it or closed its end. With -1
    /// that wait ends when the peer has taken nothing for 10 s, so a peer that stops reading
    /// and stays connected cannot hold the context's termination for ever once every byte is
    /// written (on platforms where oxmq cannot see what the peer took, after 10 s in all).
    pub fn set_linger(&self, ms: i32) -> Result<()> {
        let value = options::check_min_minus_one(ms)?;
        self.core().opts.linger = value;
        self.link.set_linger(value);
        Ok(())
    }

    /// The value [`Socket::set_linger`] sets.
    pub fn linger(&self) -> i32 {
        self.core().opts.linger
    }

    /// ZMQ_ROUTING_ID: the identity sent to peers in READY (1 to 255 bytes, not starting with
    /// a zero byte).
    pub fn set_routing_id(&self, id: &[u8]) -> Result<()> {
        if id.is_empty() || id.len() > 255 || id[0] == 0 {
            return Err(Error::Invalid);
        }
        self.core().opts.routing_id = Bytes::copy_from_slice(id);
        Ok(())
    }

    /// The value [`Socket::set_routing_id`] sets.
    pub fn routing_id(&self) -> Vec<u8> {
        self.core().opts.routing_id.to_vec()
    }

    /// ZMQ_BINDTODEVICE: bind later tcp sockets (listeners and connections) to a network
    /// interface (SO_BINDTODEVICE, Linux; needs CAP_NET_RAW), so that they use it whatever the
    /// routing table says. Up to 15 bytes; empty removes it. A trailing NUL is ignored.
    pub fn set_bindtodevice(&self, name: &[u8]) -> Result<()> {
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        if name.len() >= libc::IFNAMSIZ || name.contains(&0) {
            return Err(Error::Invalid);
        }
        self.core().opts.bindtodevice = name.to_vec();
        Ok(())
    }

    /// ZMQ_SOCKS_PROXY: later tcp connects go through this SOCKS5 proxy, `host:port` (or
    /// `source;host:port` to connect to it from a given local address), which connects on to
    /// the endpoint's host and port. The endpoint's host goes to the proxy as given: a name is
    /// resolved by the proxy, not here. `None` connects directly again; an empty or malformed
    /// address is [`Error::Invalid`].
    ///
    /// ```
    /// let ctx = oxmq::Context::new();
    /// let push = ctx.socket(oxmq::SocketType::Push)?;
    /// push.set_socks_proxy(Some("proxy.example:1080"))?;
    /// assert_eq!(push.set_socks_proxy(Some("")), Err(oxmq::Error::Invalid));
    /// // Resolved by the proxy when the connection is made:
    /// push.connect("tcp://service.internal:5555")?;
    /// # Ok::<(), oxmq::Error>(())
    /// ```
    pub fn set_socks_proxy(&self, proxy: Option<&str>) -> Result<()> {
        let proxy = match proxy {
            Some(address) => {
                crate::endpoint::parse_socks_proxy(address)?;
                address.to_owned()
            }
            None => String::new(),
        };
        self.core().opts.socks_proxy = proxy;
        Ok(())
    }

    /// ZMQ_SOCKS_USERNAME: the username offered to the SOCKS proxy (RFC 1929), at most 255
    /// bytes; empty (the default) offers no authentication.
    pub fn set_socks_username(&self, username: &[u8]) -> Result<()> {
        if username.len() > 255 {
            return Err(Error::Invalid);
        }
        self.core().opts.socks_username = username.to_vec();
        Ok(())
    }

    /// ZMQ_SOCKS_PASSWORD: the password that goes with [`Socket::set_socks_username`], at
    /// most 255 bytes.
    pub fn set_socks_password(&self, password: &[u8]) -> Result<()> {
        if password.len() > 255 {
            return Err(Error::Invalid);
        }
        self.core().opts.socks_password = password.to_vec();
        Ok(())
    }

    /// ZMQ_CONNECT_ROUTING_ID (ROUTER, REP): the routing id (1 to 255 bytes) under which the
    /// peer of the next [`Socket::connect`] is known to this socket, whatever id the peer
    /// announces. Used up by that connect. Other socket types give [`Error::Invalid`], as in
    /// libzmq.
    pub fn set_connect_routing_id(&self, id: &[u8]) -> Result<()> {
        let routing = matches!(
            self.socket_type(),
            SocketType::Router | SocketType::Rep | SocketType::Stream
        );
        if !routing || id.is_empty() || id.len() > 255 {
            return Err(Error::Invalid);
        }
        self.core().opts.connect_routing_id = Some(Bytes::copy_from_slice(id));
        Ok(())
    }
}

/// Defines a setter for an option of the socket's type, passed to its pattern by number.
macro_rules! type_option {
    ($(#[$doc:meta])* $set:ident, $number:ident, bool) => {
        $(#[$doc])*
        pub fn $set(&self, on: bool) -> Result<()> {
            self.set_option_raw(options::number::$number, &i32::from(on).to_ne_bytes())
        }
    };
    ($(#[$doc:meta])* $set:ident, $number:ident, bytes) => {
        $(#[$doc])*
        pub fn $set(&self, value: &[u8]) -> Result<()> {
            self.set_option_raw(options::number::$number, value)
        }
    };
}

/// Options of particular socket types, with libzmq's names. Setting one on a socket type that
/// does not have it gives [`Error::Invalid`] (`EINVAL`), as in libzmq.
impl Socket {
    type_option!(
        /// ZMQ_SUBSCRIBE (SUB): receive messages that start with `prefix` (the empty prefix
        /// matches every message). Subscriptions are counted: each needs its own unsubscribe.
        /// (XSUB subscribes by sending `\x01prefix`; an XPUB in manual mode subscribes the peer
        /// whose subscription it received last.)
        subscribe, SUBSCRIBE, bytes
    );
    type_option!(
        /// ZMQ_UNSUBSCRIBE (SUB; XPUB in manual mode): removes one subscription to `prefix`.
        unsubscribe, UNSUBSCRIBE, bytes
    );
    type_option!(
        /// ZMQ_XPUB_VERBOSE (XPUB): pass every subscription to the application, not only new
        /// ones.
        set_xpub_verbose, XPUB_VERBOSE, bool
    );
    type_option!(
        /// ZMQ_XPUB_VERBOSER (XPUB): pass every subscription and every unsubscription.
        set_xpub_verboser, XPUB_VERBOSER, bool
    );
    type_option!(
        /// ZMQ_XPUB_NODROP (XPUB, PUB): at a subscriber's high-water mark, fail with
        /// [`Error::WouldBlock`] instead of dropping.
        set_xpub_nodrop, XPUB_NODROP, bool
    );
    type_option!(
        /// ZMQ_XPUB_MANUAL (XPUB): subscriptions take effect only when the application sends
        /// them back (as `1topic` / `0topic` messages) after receiving them.
        set_xpub_manual, XPUB_MANUAL, bool
    );
    type_option!(
        /// ZMQ_XPUB_MANUAL_LAST_VALUE (XPUB): manual mode, and a new subscriber gets only the
        /// next message published after its subscription (for last-value caches).
        set_xpub_manual_last_value, XPUB_MANUAL_LAST_VALUE, bool
    );
    type_option!(
        /// ZMQ_XPUB_WELCOME_MSG (XPUB): a message sent to every new subscriber (empty: none).
        set_xpub_welcome_msg, XPUB_WELCOME_MSG, bytes
    );
    type_option!(
        /// ZMQ_INVERT_MATCHING (PUB, XPUB, SUB): deliver the messages that match no
        /// subscription instead of those that match one.
        set_invert_matching, INVERT_MATCHING, bool
    );
    type_option!(
        /// ZMQ_ONLY_FIRST_SUBSCRIBE (XPUB, XSUB): only the first frame of a multi-part message
        /// can be a subscription.
        set_only_first_subscribe, ONLY_FIRST_SUBSCRIBE, bool
    );
    type_option!(
        /// ZMQ_ROUTER_MANDATORY (ROUTER): a message for an unknown routing id fails with
        /// [`Error::HostUnreachable`] instead of being dropped, and a full peer gives
        /// [`Error::WouldBlock`].
        set_router_mandatory, ROUTER_MANDATORY, bool
    );
    type_option!(
        /// ZMQ_ROUTER_HANDOVER (ROUTER): a new peer with a routing id already in use takes it
        /// over (the old connection is closed) instead of being ignored.
        set_router_handover, ROUTER_HANDOVER, bool
    );
    type_option!(
        /// ZMQ_PROBE_ROUTER (ROUTER, DEALER, REQ): send an empty message to each new peer, so
        /// that a ROUTER peer learns our routing id at once.
        set_probe_router, PROBE_ROUTER, bool
    );
    type_option!(
        /// ZMQ_REQ_CORRELATE (REQ): prefix each request with a request id, and accept only the
        /// reply that carries it.
        set_req_correlate, REQ_CORRELATE, bool
    );
    type_option!(
        /// ZMQ_REQ_RELAXED (REQ): allow a new request before the reply to the last one came
        /// (the old reply is then discarded), so a client can recover from a lost reply.
        set_req_relaxed, REQ_RELAXED, bool
    );

    /// ZMQ_STREAM_NOTIFY (STREAM): deliver an empty message, after the routing id, when a
    /// connection is made and when it is lost (default on). Applies to connections made
    /// afterwards.
    pub fn set_stream_notify(&self, on: bool) -> Result<()> {
        if self.socket_type() != SocketType::Stream {
            return Err(Error::Invalid);
        }
        self.core().opts.stream_notify = on;
        Ok(())
    }

    /// ZMQ_TOPICS_COUNT (SUB, XSUB, PUB, XPUB): the number of distinct subscriptions.
    pub fn topics_count(&self) -> Result<i32> {
        self.option_raw(options::number::TOPICS_COUNT)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let pending = self.link.mailbox().close();
        let core = self.core.get_mut();
        // Dropping the peers closes the socket's pipe ends: sessions flush what is queued
        // (within LINGER), inproc peers see the pipes end.
        core.pattern = Box::new(Closed);
        drop(pending);
        core.endpoints.close(self.ctx.inproc(), &self.link);
        self.ctx.socket_closed(&self.link);
        // The last event of a closing socket, as in libzmq.
        self.link.monitor().stop();
    }
}
