//! Sockets: the user-facing object, and the messaging patterns behind it.
//!
//! A [`Socket`] holds one [`Pattern`] — the routing rule of its socket type (`pair.rs`, `push.rs`,
//! `pull.rs`, ...) — over a set of [`Peer`]s. A peer is just two pipes; whether a connection on an
//! I/O thread or another socket of the same context sits at their far end is invisible here, so a
//! socket type knows nothing of transports.
//!
//! Sockets are `Send` but not `Sync`, like libzmq's: use one from one thread at a time.

mod fq;
mod lb;
mod pair;
mod pull;
mod push;

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::context::ContextInner;
use crate::direct::WriteGate;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::io::{ConnectTarget, IoCommand, SessionPipes, lock};
use crate::message::Message;
use crate::options::{self, Options};
use crate::pipe::{PipeReader, PipeWriter, pipe};
use crate::signal::Activation;
use crate::transport::{ipc, tcp};

pub use oxmq_proto::SocketType;

/// One peer of a socket: a pipe to it and a pipe from it.
pub(crate) struct Peer {
    pub writer: PipeWriter,
    pub reader: PipeReader,
    /// The bind or connect this peer came through.
    pub endpoint_id: u64,
    /// The peer's ROUTING_ID (from its READY, or its socket options for inproc).
    #[allow(dead_code)]
    pub routing_id: Bytes,
    /// For a connection on an I/O thread: the way to write to it directly (see `direct`).
    pub gate: Option<Arc<WriteGate>>,
}

impl Peer {
    /// Sends `msg` to this peer: written straight to the connection when `direct` is allowed and
    /// the connection is idle, otherwise queued in the pipe. Hands the message back when the
    /// pipe is full or closed.
    #[inline]
    pub(crate) fn send(&mut self, msg: Message, direct: bool) -> std::result::Result<(), Message> {
        if direct {
            if let Some(gate) = &self.gate {
                let writer = &self.writer;
                if !writer.is_closed() && gate.try_write(&msg, || writer.is_drained()) {
                    return Ok(());
                }
            }
        }
        self.writer.send(msg)
    }
}

/// The routing rule of a socket type.
pub(crate) trait Pattern: Send {
    /// A new peer finished its handshake (or an inproc peer connected).
    fn attach(&mut self, peer: Peer);
    /// Forgets the peers that came through `endpoint_id` (disconnect).
    fn detach_endpoint(&mut self, endpoint_id: u64);
    /// Whether this socket type sends at all.
    fn can_send_type(&self) -> bool {
        false
    }
    /// Whether this socket type receives at all.
    fn can_recv_type(&self) -> bool {
        false
    }
    /// Routes a message, or hands it back when it cannot be sent now. `direct` allows writing
    /// it from the caller's thread when its connection is idle (request-reply rhythm).
    fn send(&mut self, msg: Message, direct: bool) -> std::result::Result<(), Message> {
        let _ = direct;
        Err(msg)
    }
    /// The next message to deliver, if any.
    fn recv(&mut self) -> Option<Message> {
        None
    }
    /// Whether a send would succeed now.
    fn can_send(&mut self) -> bool {
        false
    }
    /// Whether a receive would succeed now.
    fn can_recv(&mut self) -> bool {
        false
    }
}

fn new_pattern(socket_type: SocketType) -> Result<Box<dyn Pattern>> {
    Ok(match socket_type {
        SocketType::Pair => Box::<pair::Pair>::default(),
        SocketType::Push => Box::<push::Push>::default(),
        SocketType::Pull => Box::<pull::Pull>::default(),
        _ => return Err(Error::NotSupported),
    })
}

/// What I/O threads and other sockets know of a socket.
pub(crate) struct SocketShared {
    id: u64,
    socket_type: SocketType,
    activation: Arc<Activation>,
    mailbox: Mutex<Vec<Peer>>,
    has_mail: AtomicBool,
    closed: AtomicBool,
    linger: AtomicI32,
}

impl SocketShared {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    pub(crate) fn activation(&self) -> Arc<Activation> {
        Arc::clone(&self.activation)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// LINGER at the time of asking, in milliseconds.
    pub(crate) fn linger(&self) -> i32 {
        self.linger.load(Ordering::Relaxed)
    }

    /// Hands a new peer to the socket. Returns `false` when the socket is closed.
    pub(crate) fn attach(&self, peer: Peer) -> bool {
        {
            // Checked under the mailbox lock: a closing socket drains the mailbox under it too,
            // so a peer is either drained or refused, never stranded.
            let mut mailbox = lock(&self.mailbox);
            if self.is_closed() {
                return false;
            }
            mailbox.push(peer);
        }
        self.has_mail.store(true, Ordering::Release);
        self.activation.notify();
        true
    }

    /// Wakes a thread blocked on this socket (context shutdown).
    pub(crate) fn wake(&self) {
        self.activation.wake();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EndpointKind {
    Bound { io: usize },
    Connected { io: usize },
    InprocBound,
    InprocConnected,
}

struct EndpointRecord {
    /// The endpoint as given to bind/connect.
    given: String,
    /// The endpoint as resolved (the real port of `tcp://*:0`).
    resolved: String,
    id: u64,
    kind: EndpointKind,
}

struct Core {
    opts: Options,
    pattern: Box<dyn Pattern>,
    endpoints: Vec<EndpointRecord>,
    last_endpoint: String,
    /// The last operation was a receive: the next send answers it, so latency matters more than
    /// batching and it may be written directly from this thread (see `direct`). A stream of sends
    /// keeps using the batched I/O-thread path.
    replying: bool,
}

/// A ZeroMQ socket.
///
/// Created by [`Context::socket`](crate::Context::socket). Dropping the socket closes it: queued
/// outgoing messages are still delivered for up to LINGER (see [`Socket::set_linger`]).
pub struct Socket {
    ctx: Arc<ContextInner>,
    shared: Arc<SocketShared>,
    core: RefCell<Core>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.shared.socket_type)
            .field("id", &self.shared.id)
            .finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for sockets and endpoints.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl Socket {
    pub(crate) fn new(ctx: Arc<ContextInner>, socket_type: SocketType) -> Result<Socket> {
        let pattern = new_pattern(socket_type)?;
        let opts = Options::default();
        let shared = Arc::new(SocketShared {
            id: next_id(),
            socket_type,
            activation: Activation::for_thread(),
            mailbox: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            linger: AtomicI32::new(opts.linger),
        });
        ctx.register_socket(&shared)?;
        Ok(Socket {
            ctx,
            shared,
            core: RefCell::new(Core {
                opts,
                pattern,
                endpoints: Vec::new(),
                last_endpoint: String::new(),
                replying: false,
            }),
        })
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.shared.socket_type
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

    /// Attaches the peers that arrived in the mailbox.
    #[inline]
    fn process_mail(&self, core: &mut Core) {
        if self.shared.has_mail.load(Ordering::Acquire) {
            self.shared.has_mail.store(false, Ordering::Relaxed);
            let peers = std::mem::take(&mut *lock(&self.shared.mailbox));
            for peer in peers {
                core.pattern.attach(peer);
            }
        }
    }

    /// Binds the socket to a local endpoint and accepts connections on it.
    ///
    /// `tcp://*:*` (or port `0`) binds an ephemeral port; [`Socket::last_endpoint`] tells which.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.check_term()?;
        let mut core = self.core();
        let parsed = Endpoint::parse(endpoint)?;
        let id = next_id();
        let (resolved, kind) = match parsed {
            Endpoint::Inproc(name) => {
                let peers = self.ctx.inproc_bind(&name, &self.shared, &core.opts, id)?;
                for peer in peers {
                    core.pattern.attach(peer);
                }
                (endpoint.to_owned(), EndpointKind::InprocBound)
            }
            Endpoint::Tcp(tcp) => {
                let (listener, text) = tcp::bind(&tcp, &core.opts)?;
                let io = self.ctx.choose_io()?;
                let command = IoCommand::Listen {
                    listener,
                    socket: Arc::clone(&self.shared),
                    opts: Arc::new(core.opts.clone()),
                    endpoint_id: id,
                };
                self.ctx.io(io)?.send(command);
                (text, EndpointKind::Bound { io })
            }
            Endpoint::Ipc(ipc) => {
                let (listener, text) = ipc::bind(&ipc, &core.opts)?;
                let io = self.ctx.choose_io()?;
                let command = IoCommand::Listen {
                    listener,
                    socket: Arc::clone(&self.shared),
                    opts: Arc::new(core.opts.clone()),
                    endpoint_id: id,
                };
                self.ctx.io(io)?.send(command);
                (text, EndpointKind::Bound { io })
            }
        };
        core.last_endpoint = resolved.clone();
        core.endpoints.push(EndpointRecord {
            given: endpoint.to_owned(),
            resolved,
            id,
            kind,
        });
        Ok(())
    }

    /// Connects the socket to a remote endpoint. Returns at once: the connection is made (and
    /// remade after it breaks) in the background, and the peer need not be there yet.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.check_term()?;
        let mut core = self.core();
        let parsed = Endpoint::parse(endpoint)?;
        let id = next_id();
        let kind = match parsed {
            Endpoint::Inproc(name) => {
                let peer = self.ctx.inproc_connect(&name, &self.shared, &core.opts, id);
                core.pattern.attach(peer);
                EndpointKind::InprocConnected
            }
            Endpoint::Tcp(tcp) => {
                tcp.connect_addr(core.opts.ipv6)?;
                self.start_connecter(&mut core, ConnectTarget::Tcp(tcp), id)?
            }
            Endpoint::Ipc(ipc) => {
                ipc::check(&ipc)?;
                self.start_connecter(&mut core, ConnectTarget::Ipc(ipc), id)?
            }
        };
        core.last_endpoint = endpoint.to_owned();
        core.endpoints.push(EndpointRecord {
            given: endpoint.to_owned(),
            resolved: endpoint.to_owned(),
            id,
            kind,
        });
        Ok(())
    }

    fn start_connecter(
        &self,
        core: &mut Core,
        target: ConnectTarget,
        id: u64,
    ) -> Result<EndpointKind> {
        let io = self.ctx.choose_io()?;
        let pipes = if core.opts.immediate {
            None
        } else {
            // Without IMMEDIATE the peer exists from now on: messages queue for it while the
            // connection is being made, as in libzmq.
            let act = self.shared.activation();
            let (to_peer, from_socket) =
                pipe(Options::hwm(core.opts.sndhwm), None, Some(Arc::clone(&act)));
            let (to_socket, from_peer) = pipe(Options::hwm(core.opts.rcvhwm), Some(act), None);
            let gate = WriteGate::new();
            core.pattern.attach(Peer {
                writer: to_peer,
                reader: from_peer,
                endpoint_id: id,
                routing_id: Bytes::new(),
                gate: Some(Arc::clone(&gate)),
            });
            Some(SessionPipes {
                outgoing: from_socket,
                incoming: to_socket,
                gate,
            })
        };
        self.ctx.io(io)?.send(IoCommand::Connect {
            target,
            socket: Arc::clone(&self.shared),
            opts: Arc::new(core.opts.clone()),
            endpoint_id: id,
            pipes,
        });
        Ok(EndpointKind::Connected { io })
    }

    fn take_endpoint(core: &mut Core, endpoint: &str, bound: bool) -> Result<EndpointRecord> {
        let position = core.endpoints.iter().position(|record| {
            let kind_matches = matches!(
                (record.kind, bound),
                (EndpointKind::Bound { .. } | EndpointKind::InprocBound, true)
                    | (
                        EndpointKind::Connected { .. } | EndpointKind::InprocConnected,
                        false
                    )
            );
            kind_matches
                && (record.resolved == endpoint
                    || record.given == endpoint && !endpoint.contains('*'))
        });
        position
            .map(|i| core.endpoints.remove(i))
            .ok_or(Error::NotFound)
    }

    /// Stops accepting on an endpoint this socket bound, and closes the connections accepted on
    /// it. For a wildcard bind, pass the endpoint [`Socket::last_endpoint`] reported.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.check_term()?;
        let mut core = self.core();
        Endpoint::parse(endpoint)?;
        let record = Self::take_endpoint(&mut core, endpoint, true)?;
        match record.kind {
            EndpointKind::Bound { io } => {
                let (done, wait) = mpsc::channel();
                self.ctx.io(io)?.send(IoCommand::Unbind {
                    endpoint_id: record.id,
                    done,
                });
                // Wait until the port is released, so that it can be bound again at once.
                let _ = wait.recv_timeout(Duration::from_secs(5));
            }
            EndpointKind::InprocBound => {
                let name = record.given.trim_start_matches("inproc://");
                self.ctx.inproc_unbind(name, self.shared.id);
            }
            _ => {}
        }
        core.pattern.detach_endpoint(record.id);
        Ok(())
    }

    /// Disconnects from an endpoint this socket connected to; messages still queued for it are
    /// dropped.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.check_term()?;
        let mut core = self.core();
        Endpoint::parse(endpoint)?;
        let record = Self::take_endpoint(&mut core, endpoint, false)?;
        if let EndpointKind::Connected { io } = record.kind {
            self.ctx.io(io)?.send(IoCommand::Disconnect {
                endpoint_id: record.id,
            });
        }
        core.pattern.detach_endpoint(record.id);
        Ok(())
    }

    /// The last endpoint bound or connected (ZMQ_LAST_ENDPOINT), with a wildcard port resolved.
    pub fn last_endpoint(&self) -> String {
        self.core().last_endpoint.clone()
    }

    /// Sends a message, blocking while no peer can take it (up to SNDTIMEO).
    pub fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.send_msg(msg.into(), false)
    }

    /// Sends a message without blocking: [`Error::WouldBlock`] when no peer can take it now.
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<()> {
        self.send_msg(msg.into(), true)
    }

    fn send_msg(&self, msg: Message, dont_wait: bool) -> Result<()> {
        let mut core = self.core();
        if !core.pattern.can_send_type() {
            return Err(Error::NotSupported);
        }
        self.check_term()?;
        self.process_mail(&mut core);
        let direct = std::mem::take(&mut core.replying);
        let mut msg = match core.pattern.send(msg, direct) {
            Ok(()) => return Ok(()),
            Err(back) => back,
        };
        let timeout = if dont_wait {
            Some(Duration::ZERO)
        } else {
            Options::timeout(core.opts.sndtimeo)
        };
        let deadline = deadline_after(timeout);
        loop {
            if timeout == Some(Duration::ZERO) {
                return Err(Error::WouldBlock);
            }
            self.shared.activation.prepare_wait();
            self.process_mail(&mut core);
            match core.pattern.send(msg, false) {
                Ok(()) => {
                    self.shared.activation.cancel_wait();
                    return Ok(());
                }
                Err(back) => msg = back,
            }
            if self.ctx.is_terminated() {
                self.shared.activation.cancel_wait();
                return Err(Error::Terminated);
            }
            if !self.shared.activation.park(deadline) {
                return Err(Error::WouldBlock);
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

    fn recv_msg(&self, dont_wait: bool) -> Result<Message> {
        let mut core = self.core();
        if !core.pattern.can_recv_type() {
            return Err(Error::NotSupported);
        }
        self.check_term()?;
        self.process_mail(&mut core);
        if let Some(msg) = core.pattern.recv() {
            core.replying = true;
            return Ok(msg);
        }
        let timeout = if dont_wait {
            Some(Duration::ZERO)
        } else {
            Options::timeout(core.opts.rcvtimeo)
        };
        if timeout == Some(Duration::ZERO) {
            return Err(Error::WouldBlock);
        }
        let deadline = deadline_after(timeout);
        loop {
            self.shared.activation.prepare_wait();
            self.process_mail(&mut core);
            if let Some(msg) = core.pattern.recv() {
                self.shared.activation.cancel_wait();
                core.replying = true;
                return Ok(msg);
            }
            if self.ctx.is_terminated() {
                self.shared.activation.cancel_wait();
                return Err(Error::Terminated);
            }
            if !self.shared.activation.park(deadline) {
                return Err(Error::WouldBlock);
            }
        }
    }

    /// Whether a message can be received now without blocking (`ZMQ_POLLIN`).
    pub fn has_incoming(&self) -> bool {
        let mut core = self.core();
        self.process_mail(&mut core);
        core.pattern.can_recv()
    }

    /// Whether a message can be sent now without blocking (`ZMQ_POLLOUT`).
    pub fn can_send(&self) -> bool {
        let mut core = self.core();
        self.process_mail(&mut core);
        core.pattern.can_send()
    }
}

fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| {
        Instant::now()
            .checked_add(t)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
    })
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
    option!(
        /// ZMQ_SNDHWM: most messages queued per peer for sending (default 1000; 0 is unlimited).
        /// Applies to connections made afterwards.
        set_sndhwm, sndhwm, sndhwm: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_RCVHWM: most messages queued per peer for receiving (default 1000; 0 is
        /// unlimited). Applies to connections made afterwards.
        set_rcvhwm, rcvhwm, rcvhwm: i32, options::check_non_negative
    );
    option!(
        /// ZMQ_SNDTIMEO in milliseconds (default -1: block forever; 0: never block).
        set_sndtimeo, sndtimeo, sndtimeo: i32, options::check_min_minus_one
    );
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
    pub fn set_linger(&self, ms: i32) -> Result<()> {
        let value = options::check_min_minus_one(ms)?;
        self.core().opts.linger = value;
        self.shared.linger.store(value, Ordering::Relaxed);
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
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        let core = self.core.get_mut();
        // Dropping the peers closes the socket's pipe ends: sessions flush what is queued
        // (within LINGER), inproc peers see the pipes end.
        core.pattern = Box::new(Closed);
        drop(std::mem::take(&mut *lock(&self.shared.mailbox)));
        for record in &core.endpoints {
            if let EndpointKind::InprocBound = record.kind {
                self.ctx
                    .inproc_unbind(record.given.trim_start_matches("inproc://"), self.shared.id);
            }
        }
        self.ctx.socket_closed(&self.shared);
    }
}

/// The pattern of a closed socket: no peers.
struct Closed;

impl Pattern for Closed {
    fn attach(&mut self, _peer: Peer) {}
    fn detach_endpoint(&mut self, _endpoint_id: u64) {}
}
