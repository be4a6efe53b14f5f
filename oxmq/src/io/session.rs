//! Sessions: the I/O-thread side of one peer of a socket.
//!
//! A session owns the pipes' far ends and, while connected, an [`Engine`]. An accepted session
//! lives as long as its connection. A connecter session lives from `connect()` to `disconnect()`
//! or socket close: it dials, and after a failure or a lost connection dials again after
//! RECONNECT_IVL (with exponential backoff up to RECONNECT_IVL_MAX); its pipes survive
//! reconnects, so messages sent while the peer is away wait in the queue (unless IMMEDIATE).
//!
//! When the socket closes, a session keeps writing what is queued until it is all out or LINGER
//! expires. Once everything is written it does not close the connection at once: it shuts down
//! its write side and keeps the connection, discarding what arrives, until the peer has taken
//! every byte or closed its end (see [`Session::begin_shutdown`]). A `close()` with bytes still
//! in the peer's receive buffer makes an ipc peer see a hang-up, and libzmq drops a connection
//! that hangs up while its receive pipe is full without reading the rest (libzmq issue 4660);
//! over tcp, unread input at our close would send a reset instead of an orderly end.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use oxmq_proto::mechanism::MechanismConfig;
use oxmq_proto::metadata::Metadata;
use oxmq_proto::socks::{SocksClient, SocksProgress};
use oxmq_proto::{HandshakeConfig, PeerInfo, SocketType};

use super::endpoints::{lends_reads, wants_routing_id};
use super::link::SocketLink;
use super::reactor::{IoCtx, TimerKind};
use super::{ConnectTarget, IoShared, SessionPipes, end_name_string, transport_options};
use crate::engine::{
    CloseReason, Engine, Lent, ReadGate, STREAM_TICK, SWEEP_EVERY, Tick, WriteGate,
};
use crate::message::{Kind, Message};
use crate::metadata::PeerMetadata;
use crate::monitor::{EventKind, Place};
use crate::options::Options;
use crate::pipe::{Hwm, Peer, PeerEvent, PeerId, PeerNames, PipeReader, PipeWriter, pipe};
use crate::signal::Activation;
use crate::transport::{Stream, ipc, tcp};

/// Engine generations, unique per process so a stale timer never matches a new engine.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// With LINGER -1, a closing connection whose peer has taken none of the bytes still in flight
/// for this long is given up (the peer stopped reading and did not close). Where the platform
/// cannot tell what the peer took, this bounds the whole wait instead.
const CLOSE_STALL_LIMIT: Duration = Duration::from_secs(10);
/// The first and the longest interval between two checks of what a closing connection's peer
/// has taken (the kernel raises no event for that).
const CLOSE_CHECK_FIRST: Duration = Duration::from_millis(1);
const CLOSE_CHECK_MAX: Duration = Duration::from_millis(25);
/// Bytes discarded per turn from a closing connection before it yields to others.
const DISCARD_BUDGET: usize = 1024 * 1024;
/// The scratch buffer a closing connection's input is read into and forgotten.
const DISCARD_CHUNK: usize = 16 * 1024;

/// Rounds of [`Session::drive`] before a busy session yields its thread.
const ROUNDS_PER_TURN: usize = 8;

/// A SOCKS5 handshake with the proxy (`ZMQ_SOCKS_PROXY`) on the connected stream. It reads no
/// more than each answer holds, so the peer's first ZMTP bytes stay in the stream for the
/// engine.
struct SocksDial {
    stream: Stream,
    client: SocksClient,
    input: BytesMut,
    output: Vec<u8>,
}

impl SocksDial {
    /// Moves the exchange on as far as the stream allows: `Ok(true)` once the proxy connected
    /// to the target, `Ok(false)` to wait for the stream.
    fn advance(&mut self) -> io::Result<bool> {
        loop {
            self.client.poll_transmit(&mut self.output);
            while !self.output.is_empty() {
                match self
                    .stream
                    .write_vectored(&[io::IoSlice::new(&self.output)])
                {
                    Ok(n) => drop(self.output.drain(..n)),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(err) => return Err(err),
                }
            }
            let wanted = self.client.bytes_wanted(&self.input);
            if wanted > 0 {
                match self.stream.read_into(&mut self.input, wanted) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the SOCKS proxy closed the connection",
                        ));
                    }
                    Ok(_) => {}
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(err) => return Err(err),
                }
            }
            match self.client.handle_input(&mut self.input) {
                Ok(SocksProgress::Connected) => return Ok(true),
                Ok(SocksProgress::NeedMore) => {}
                Err(err) => return Err(io::Error::new(io::ErrorKind::ConnectionRefused, err)),
            }
        }
    }
}

/// How the session came to be.
pub(crate) enum Role {
    /// Accepted by the listener of this endpoint (`endpoint` is its bound address).
    Accepted { endpoint_id: u64, endpoint: String },
    /// Dials this endpoint.
    Connecter(Connecter),
}

/// Dialling state of a connecter session.
pub(crate) struct Connecter {
    endpoint_id: u64,
    /// The endpoint as given to `connect`.
    endpoint: String,
    target: ConnectTarget,
    /// The stream of a connect in progress.
    connecting: Option<Stream>,
    /// The exchange with the SOCKS proxy on a connected stream, before the engine starts.
    socks: Option<Box<SocksDial>>,
    /// The next reconnect interval, in milliseconds (grows with backoff).
    current_ivl: i32,
    retry_pending: bool,
    /// The addresses of this round of attempts not tried yet: a host name is resolved again
    /// at the start of each round (each reconnect), and every address it gives is tried in
    /// turn before the round counts as failed.
    addrs: std::collections::VecDeque<std::net::SocketAddr>,
    /// A resolution under way on a helper thread (the system's resolver blocks): its result
    /// lands here, and the session is woken to dial.
    resolving: Option<ResolveSlot>,
}

/// Where a helper thread leaves the addresses a host name resolved to.
type ResolveSlot = Arc<std::sync::Mutex<Option<crate::error::Result<Vec<std::net::SocketAddr>>>>>;

impl Connecter {
    /// Whether a connection is being made (to the peer, or through the proxy).
    fn dialing(&self) -> bool {
        self.connecting.is_some() || self.socks.is_some()
    }

    /// Dialling state for a new connect to `target`.
    pub(crate) fn new(
        endpoint_id: u64,
        endpoint: String,
        target: ConnectTarget,
        opts: &Options,
    ) -> Connecter {
        Connecter {
            endpoint_id,
            endpoint,
            target,
            connecting: None,
            socks: None,
            current_ivl: opts.reconnect_ivl,
            retry_pending: false,
            addrs: std::collections::VecDeque::new(),
            resolving: None,
        }
    }
}

/// One peer of a socket, on an I/O thread.
pub(crate) struct Session {
    token: usize,
    socket: Arc<SocketLink>,
    opts: Arc<Options>,
    act: Arc<Activation>,
    role: Role,
    outgoing: Option<PipeReader>,
    incoming: Option<PipeWriter>,
    engine: Option<Engine>,
    /// Lets the socket write directly while this session is idle.
    gate: Arc<WriteGate>,
    /// Lends the idle connection to a socket blocked in a receive (see `engine::read_gate`).
    read_gate: Arc<ReadGate>,
    /// The engine and the receive pipe are lent to `read_gate`: taken back at the start of
    /// every turn ([`Session::reclaim`]).
    lent: bool,
    /// The poller reported the lent connection while the socket waits on it itself: the turn
    /// leaves it to the socket.
    skip_turn: bool,
    /// A [`TimerKind::StreamTick`] is pending.
    stream_tick: bool,
    /// The poller reported the peer's end closed while the engine was lent (see `on_ready`).
    read_closed_while_lent: bool,
    /// The socket's id for our pipes, while they exist.
    peer_id: Option<PeerId>,
    /// A handshake completed before: the next one is a reconnect.
    connected_before: bool,
    generation: u64,
    input_blocked: bool,
    /// The current (or last) connection's own address and its peer's, as monitor events
    /// give them (see [`SocketEvent::local`](crate::SocketEvent::local)); shared with the
    /// socket's peer.
    names: Arc<PeerNames>,
    /// When the heartbeat timer armed for the current engine fires, if one is.
    heartbeat_at: Option<Instant>,
    /// The socket's close has been seen (and LINGER armed): its pipe ends being closed is no
    /// longer news.
    closing: bool,
    linger_deadline: Option<Instant>,
    /// Everything was written after the socket closed: the write side is shut down and the
    /// connection waits for the peer to take the rest (see [`Session::begin_shutdown`]).
    shutdown: Option<WriteShutdown>,
}

/// A closing connection whose write side is shut down.
struct WriteShutdown {
    /// The fewest bytes seen still waiting for the peer, and when that number last fell.
    unsent: Option<usize>,
    progress_at: Instant,
    /// A check timer is pending, and the interval of the next one.
    check_armed: bool,
    check_every: Duration,
}

impl Session {
    /// A session for an accepted connection.
    pub(crate) fn accepted(
        token: usize,
        socket: Arc<SocketLink>,
        opts: Arc<Options>,
        role: Role,
        stream: Stream,
        io: &Arc<IoShared>,
    ) -> Session {
        let mut session = Session::new(token, socket, opts, role, None, io);
        session.names.set(
            end_name_string(stream.local_name()),
            end_name_string(stream.peer_name()),
        );
        session.engine = Some(session.new_engine(stream));
        session
    }

    /// A session that dials for `connecter`.
    pub(crate) fn connecter(
        token: usize,
        socket: Arc<SocketLink>,
        opts: Arc<Options>,
        connecter: Connecter,
        pipes: Option<SessionPipes>,
        io: &Arc<IoShared>,
    ) -> Session {
        Session::new(token, socket, opts, Role::Connecter(connecter), pipes, io)
    }

    fn new(
        token: usize,
        socket: Arc<SocketLink>,
        opts: Arc<Options>,
        role: Role,
        pipes: Option<SessionPipes>,
        io: &Arc<IoShared>,
    ) -> Session {
        let act = Activation::scheduled(Arc::clone(io) as _, token);
        let (outgoing, incoming, gate, read_gate, peer_id, names) = match pipes {
            Some(p) => {
                p.outgoing.set_activation(Arc::clone(&act));
                p.incoming.set_activation(Arc::clone(&act));
                let ids = (p.gate, p.read_gate, Some(p.peer_id), p.names);
                (
                    Some(p.outgoing),
                    Some(p.incoming),
                    ids.0,
                    ids.1,
                    ids.2,
                    ids.3,
                )
            }
            None => {
                let gate = WriteGate::new();
                let read_gate = ReadGate::new(Arc::clone(&gate));
                (None, None, gate, read_gate, None, Arc::default())
            }
        };
        if let Role::Connecter(c) = &role {
            names.set(String::new(), c.endpoint.clone());
        }
        gate.set_session(Arc::clone(&act));
        read_gate.set_session(
            Arc::clone(&act),
            Arc::clone(&io.registry),
            Arc::clone(io) as _,
            token,
        );
        Session {
            token,
            socket,
            opts,
            act,
            role,
            outgoing,
            incoming,
            engine: None,
            gate,
            read_gate,
            lent: false,
            skip_turn: false,
            peer_id,
            connected_before: false,
            generation: 0,
            input_blocked: false,
            heartbeat_at: None,
            names,
            stream_tick: false,
            read_closed_while_lent: false,
            closing: false,
            linger_deadline: None,
            shutdown: None,
        }
    }

    fn handshake_config(&self) -> HandshakeConfig {
        HandshakeConfig {
            socket_type: self.socket.socket_type(),
            identity: self.opts.routing_id.clone(),
            mechanism: MechanismConfig::Null,
            as_server: false,
            metadata: Metadata::new(),
        }
    }

    /// The engine for a new connection: ZMTP, or raw bytes for a STREAM socket.
    fn new_engine(&self, stream: Stream) -> Engine {
        if self.socket.socket_type() == SocketType::Stream {
            Engine::raw(stream)
        } else {
            Engine::new(
                stream,
                self.handshake_config(),
                self.opts.connection_config(),
            )
        }
    }

    /// Tells a STREAM socket that the connection came or went (an empty message), if it asked
    /// for it (STREAM_NOTIFY).
    fn notify_stream(&mut self) {
        let raw = self.engine.as_ref().is_some_and(Engine::is_raw);
        if raw && self.opts.stream_notify {
            if let Some(incoming) = self.incoming.as_mut() {
                let _ = incoming.send(Message::new());
            }
        }
    }

    /// The socket this session serves.
    pub(crate) fn socket_id(&self) -> u64 {
        self.socket.id()
    }

    /// The endpoint this session's monitor events name.
    fn endpoint(&self) -> &str {
        match &self.role {
            Role::Accepted { endpoint, .. } => endpoint,
            Role::Connecter(c) => &c.endpoint,
        }
    }

    /// Raises monitor events for this session's endpoint, back to back.
    fn emit(&self, events: &[(EventKind, u64)]) {
        self.socket.monitor().emit_all(events, || {
            let (local, remote) = self.names.get();
            Place {
                endpoint: self.endpoint().to_owned(),
                local,
                remote,
            }
        });
    }

    /// Whether this session was accepted by the listener of `endpoint_id`.
    pub(crate) fn accepted_from(&self, endpoint_id: u64) -> bool {
        matches!(self.role, Role::Accepted { endpoint_id: id, .. } if id == endpoint_id)
    }

    /// Whether this session dials for `endpoint_id`.
    pub(crate) fn connects_for(&self, endpoint_id: u64) -> bool {
        matches!(&self.role, Role::Connecter(c) if c.endpoint_id == endpoint_id)
    }

    /// Records poller readiness.
    pub(crate) fn on_ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        if self.lent {
            // The socket waits on the connection and reads it after any readiness; otherwise
            // the turn takes the engine back, ready to read and write. A hang-up is always
            // the session's: the end of a connection is then seen in the order of this
            // thread's events (before a new connection's handshake that came after it), and
            // the engine learns of it when taken back (it reads on to the end of the stream
            // even after a short read).
            if read_closed {
                self.read_closed_while_lent = true;
            } else if (readable || writable) && self.read_gate.leave_to_socket() {
                self.skip_turn = true;
            }
            return;
        }
        if let Some(engine) = self.engine.as_mut() {
            engine.on_ready(readable, writable, read_closed);
        }
    }

    /// Takes back what was lent to the read gate. Returns why the connection failed, if it
    /// failed while the socket read it.
    fn reclaim(&mut self) -> Option<CloseReason> {
        if !std::mem::take(&mut self.lent) {
            return None;
        }
        let Lent {
            mut engine,
            incoming,
            failed,
        } = self.read_gate.reclaim()?;
        // Readiness seen while it was lent went to the socket: read and write until the
        // stream says otherwise.
        engine.on_ready(true, true, std::mem::take(&mut self.read_closed_while_lent));
        self.engine = Some(engine);
        self.incoming = Some(incoming);
        failed
    }

    /// Lends the connection to the read gate when the session goes idle with nothing only it
    /// can do.
    fn lend(&mut self) {
        let lendable = !self.closing
            && self.shutdown.is_none()
            && self.incoming.is_some()
            && self.engine.as_ref().is_some_and(Engine::can_lend);
        if !lendable {
            return;
        }
        let (Some(engine), Some(incoming)) = (self.engine.take(), self.incoming.take()) else {
            return;
        };
        match self.read_gate.lend(Lent {
            engine,
            incoming,
            failed: None,
        }) {
            None => self.lent = true,
            // Input waits and the socket does not read the connection itself: the session
            // decodes it when the pipe's credit wakes it.
            Some(Lent {
                engine, incoming, ..
            }) => {
                self.engine = Some(engine);
                self.incoming = Some(incoming);
            }
        }
    }

    /// First turn after creation. Returns `false` when the session is already done.
    pub(crate) fn start(&mut self, io: &mut IoCtx<'_>) -> bool {
        if self.engine.is_some() {
            if !self.register_engine(io) {
                return false;
            }
            return self.drive(io);
        }
        self.dial(io)
    }

    fn register_engine(&mut self, io: &mut IoCtx<'_>) -> bool {
        let Some(engine) = self.engine.as_mut() else {
            return false;
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(err) = io.registry.register(
            &mut SourceFd(&engine.stream().fd()),
            Token(self.token),
            interest,
        ) {
            tracing::warn!("oxmq: cannot watch a connection: {err}");
            return false;
        }
        self.arm_handshake_timer(io);
        true
    }

    fn arm_handshake_timer(&mut self, io: &mut IoCtx<'_>) {
        self.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        self.heartbeat_at = None;
        if let Ok(ms) = u64::try_from(self.opts.handshake_ivl) {
            if ms > 0 {
                io.sched.timer(
                    self.token,
                    Duration::from_millis(ms),
                    TimerKind::Handshake(self.generation),
                );
            }
        }
    }

    /// One turn of work. Returns `false` when the session should be removed.
    ///
    /// When new work shows up right after the session announced it would wait, it goes round
    /// again, up to [`ROUNDS_PER_TURN`] times; then it yields to the other connections of the
    /// thread and is requeued, so a peer that never lets up cannot starve them.
    pub(crate) fn drive(&mut self, io: &mut IoCtx<'_>) -> bool {
        if !self.stream_tick && self.gate.is_streaming() {
            self.stream_tick = true;
            io.sched
                .timer(self.token, STREAM_TICK, TimerKind::StreamTick);
        }
        if std::mem::take(&mut self.skip_turn) && self.lent {
            return true;
        }
        if let Some(reason) = self.reclaim() {
            return self.on_engine_closed(reason, io);
        }
        for _ in 0..ROUNDS_PER_TURN {
            if let Some(alive) = self.check_socket_closed(io) {
                return alive;
            }
            if let Role::Connecter(c) = &mut self.role {
                if c.connecting.is_some() {
                    return self.finish_dial(io);
                }
                if c.socks.is_some() {
                    return self.drive_socks(io);
                }
                if c.resolving.is_some() && self.engine.is_none() {
                    return self.dial(io);
                }
            }
            let Some(engine) = self.engine.as_mut() else {
                return true;
            };
            if engine.is_handshaking() {
                match engine.handshake() {
                    Ok(None) => return true,
                    Ok(Some(peer)) => {
                        if !self.on_handshake_done(peer) {
                            return false;
                        }
                    }
                    Err(reason) => return self.on_engine_closed(reason, io),
                }
            }
            let Some(engine) = self.engine.as_mut() else {
                return true;
            };
            let pump = match engine.pump(
                self.outgoing.as_mut(),
                self.incoming.as_mut(),
                &self.gate,
                io.now,
            ) {
                Ok(pump) => pump,
                Err(reason) => return self.on_engine_closed(reason, io),
            };
            self.input_blocked = pump.input_blocked;
            self.arm_heartbeat(io);
            if pump.more {
                io.sched.requeue(self.token);
                return true;
            }
            if let Some(alive) = self.check_socket_closed(io) {
                return alive;
            }
            self.act.prepare_wait();
            let engine = self.engine.as_mut().expect("engine checked above");
            if engine.has_work(
                self.outgoing.as_mut(),
                self.incoming.as_mut(),
                self.input_blocked,
            ) || !self.closing && self.outgoing.as_mut().is_some_and(|p| p.writer_closed())
            {
                self.act.cancel_wait();
                continue;
            }
            self.lend();
            return true;
        }
        io.sched.requeue(self.token);
        true
    }

    /// Arms a timer for the engine's next heartbeat deadline, unless one fires by then already
    /// (a timer that fires early finds nothing due and arms the next).
    fn arm_heartbeat(&mut self, io: &mut IoCtx<'_>) {
        let Some(at) = self.engine.as_ref().and_then(Engine::next_timeout) else {
            return;
        };
        if self.heartbeat_at.is_some_and(|armed| armed <= at) {
            return;
        }
        self.heartbeat_at = Some(at);
        io.sched
            .timer_at(self.token, at, TimerKind::Heartbeat(self.generation, at));
    }

    /// Handles the socket having closed its ends. `Some(alive)` ends the turn.
    fn check_socket_closed(&mut self, io: &mut IoCtx<'_>) -> Option<bool> {
        if self.shutdown.is_some() {
            return Some(self.drive_shutdown(io));
        }
        let closed = self.socket.is_closed()
            || self.outgoing.as_ref().is_some_and(|p| p.writer_closed())
            || self.incoming.as_ref().is_some_and(|p| p.is_closed());
        if !closed && !io.stopping {
            return None;
        }
        // The socket is gone: stop delivering input, keep writing what it queued until LINGER.
        self.closing = true;
        self.incoming = None;
        self.gate.stop_stream();
        // A direct write cut short also still has bytes to deliver.
        let drained = match self.outgoing.as_mut() {
            Some(p) => {
                p.is_finished()
                    && !self.gate.has_leftover()
                    && !self.gate.is_streaming()
                    && !self.engine.as_ref().is_some_and(Engine::has_pending_output)
            }
            None => true,
        };
        // Without a connection and without reconnecting, nothing queued can ever leave.
        let dialing = matches!(&self.role, Role::Connecter(c) if c.dialing());
        let undeliverable = self.engine.is_none() && !dialing && self.opts.reconnect_ivl < 0;
        let linger = self.socket.linger();
        if undeliverable || linger == 0 || drained && self.engine.is_none() {
            return Some(false);
        }
        // LINGER bounds the whole close: the writing and the wait for the peer to take it.
        if let Ok(ms) = u64::try_from(linger) {
            if self.linger_deadline.is_none() {
                self.linger_deadline = Some(Instant::now() + Duration::from_millis(ms));
                io.sched
                    .timer(self.token, Duration::from_millis(ms), TimerKind::Linger);
            }
        }
        if self.linger_deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(false);
        }
        if drained {
            return Some(self.begin_shutdown(io));
        }
        None
    }

    /// Everything queued is written: shuts down the write side instead of closing, and keeps the
    /// connection until the peer has taken every byte (the kernel's send queue is empty), closed
    /// its end, or LINGER expired (with LINGER -1: until the peer took nothing for
    /// [`CLOSE_STALL_LIMIT`]). Returns `false` when the connection can close now.
    ///
    /// The peer sees the end of the stream only after reading everything before it, and an ipc
    /// peer sees no hang-up until we close. What the peer sends meanwhile is read into a scratch
    /// buffer and forgotten: nothing is decoded, and our receive buffer stays empty.
    fn begin_shutdown(&mut self, io: &mut IoCtx<'_>) -> bool {
        let Some(engine) = self.engine.as_ref() else {
            return false;
        };
        // Before the handshake finished none of the socket's messages went out.
        if engine.is_handshaking() {
            return false;
        }
        self.gate.set_stream(None);
        if let Err(err) = engine.stream().shutdown_write() {
            tracing::debug!("oxmq: {}: shutdown: {err}", engine.peer_string());
            return false;
        }
        self.shutdown = Some(WriteShutdown {
            unsent: None,
            progress_at: Instant::now(),
            check_armed: false,
            check_every: CLOSE_CHECK_FIRST,
        });
        self.drive_shutdown(io)
    }

    /// A turn of a connection whose write side is shut down. Returns `false` when it can close.
    fn drive_shutdown(&mut self, io: &mut IoCtx<'_>) -> bool {
        let (Some(engine), Some(shut)) = (self.engine.as_ref(), self.shutdown.as_mut()) else {
            return false;
        };
        let stream = engine.stream();
        let mut scratch = [0u8; DISCARD_CHUNK];
        let mut discarded = 0;
        loop {
            match stream.discard_input(&mut scratch) {
                Ok(0) => {
                    tracing::debug!("oxmq: {}: closed after the peer did", stream.peer_string());
                    return false;
                }
                Ok(n) => {
                    discarded += n;
                    if discarded >= DISCARD_BUDGET {
                        io.sched.requeue(self.token);
                        break;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!("oxmq: {}: closing: {err}", stream.peer_string());
                    return false;
                }
            }
        }
        let now = Instant::now();
        if self.linger_deadline.is_some_and(|d| now >= d) {
            return false;
        }
        match stream.unsent_bytes() {
            Some(0) => return false,
            Some(n) if shut.unsent.is_none_or(|u| n < u) => {
                shut.unsent = Some(n);
                shut.progress_at = now;
            }
            _ => {}
        }
        if self.linger_deadline.is_none() && now >= shut.progress_at + CLOSE_STALL_LIMIT {
            tracing::info!(
                "oxmq: {}: the peer stopped reading; closing with {} bytes it has not taken",
                stream.peer_string(),
                shut.unsent.map_or("unknown".into(), |n| n.to_string())
            );
            return false;
        }
        if !shut.check_armed {
            shut.check_armed = true;
            io.sched.timer(
                self.token,
                shut.check_every,
                TimerKind::CloseCheck(self.generation),
            );
            shut.check_every = (shut.check_every * 2).min(CLOSE_CHECK_MAX);
        }
        true
    }

    fn on_handshake_done(&mut self, mut peer: PeerInfo) -> bool {
        tracing::debug!(
            "oxmq: handshake with {} done (ZMTP {}.{}, peer {})",
            self.engine
                .as_ref()
                .map(Engine::peer_string)
                .unwrap_or_default(),
            peer.major,
            peer.minor,
            peer.socket_type
        );
        let metadata = std::mem::take(&mut peer.metadata);
        // A raw connection has no handshake to report (as in libzmq).
        if !self.engine.as_ref().is_some_and(Engine::is_raw) {
            self.emit(&[(EventKind::HandshakeSucceeded, 0)]);
        }
        if let Role::Connecter(c) = &mut self.role {
            c.current_ivl = self.opts.reconnect_ivl;
        }
        let socket_type = self.socket.socket_type();
        if let (Some(hello), Some(engine)) =
            (self.opts.hello_for(socket_type), self.engine.as_mut())
        {
            // First on the wire, before the socket may write to the connection itself.
            engine.send_first(&Message::from(hello.clone()), &self.gate);
        }
        if let Some(engine) = self.engine.as_ref() {
            self.gate.set_stream(Some(Arc::clone(engine.stream())));
        }
        let reconnect = std::mem::replace(&mut self.connected_before, true);
        if let (Some(incoming), Some(peer_id)) = (self.incoming.as_mut(), self.peer_id) {
            // Pipes made at connect time: the socket did not know who would answer.
            if wants_routing_id(self.socket.socket_type()) {
                let id = Message::control(Kind::RoutingId, peer.identity.clone());
                let _ = incoming.send(id);
            }
            if reconnect {
                self.socket.post(PeerEvent::Hiccup(peer_id));
            }
        }
        if self.outgoing.is_none() {
            let socket_type = self.socket.socket_type();
            let (to_peer, from_socket) = pipe(
                Hwm::send(self.opts.sndhwm).bytes(self.opts.sndhwm_bytes, 0),
                self.opts.conflate_outgoing(socket_type),
                Some(Arc::clone(&self.act)),
                Some(self.socket.activation()),
            );
            let (to_socket, from_peer) = pipe(
                Hwm::recv(self.opts.rcvhwm).bytes(0, self.opts.rcvhwm_bytes),
                self.opts.conflate_incoming(socket_type),
                Some(self.socket.activation()),
                Some(Arc::clone(&self.act)),
            );
            self.outgoing = Some(from_socket);
            self.incoming = Some(to_socket);
            let (endpoint_id, assigned_id) = match &self.role {
                Role::Accepted { endpoint_id, .. } => (*endpoint_id, None),
                // An IMMEDIATE connect: its CONNECT_ROUTING_ID came with the options it was
                // started with.
                Role::Connecter(c) => (c.endpoint_id, self.opts.connect_routing_id.clone()),
            };
            let mut new_peer = Peer::new(to_peer, from_peer, endpoint_id);
            new_peer.names = Arc::clone(&self.names);
            new_peer.routing_id = Some(peer.identity);
            new_peer.assigned_id = assigned_id;
            if !self.engine.as_ref().is_some_and(Engine::is_raw) {
                new_peer.sink = Some(Arc::clone(&self.gate) as _);
            }
            if lends_reads(socket_type) {
                new_peer.source = Some(Arc::clone(&self.read_gate) as _);
            }
            self.peer_id = Some(new_peer.id);
            if !self.socket.post(PeerEvent::Attach(new_peer)) {
                return false;
            }
        }
        // The connection's metadata goes ahead of everything it delivers (the STREAM
        // notification included), so that each message read after it is known to be its.
        if let Some(incoming) = self.incoming.as_mut() {
            let address = self.engine.as_ref().and_then(Engine::peer_ip);
            let fd = self.engine.as_ref().map(|engine| engine.stream().fd());
            let meta = PeerMetadata::new(&metadata, address.as_deref(), fd);
            incoming.send_uncounted(Message::control(Kind::Metadata, meta.encode()));
            // ROUTER_NOTIFY: `[routing id, ""]` once the peer is known (a full pipe, which a
            // new connection's is not, would drop it, as in libzmq).
            if self
                .opts
                .router_notifies(crate::options::number::NOTIFY_CONNECT)
            {
                let _ = incoming.send(Message::new());
            }
        }
        self.notify_stream();
        true
    }

    /// What the socket receives, as from the peer, when an established connection ends:
    /// ROUTER_NOTIFY's disconnect notice, DISCONNECT_MSG (an accepted connection) and
    /// HICCUP_MSG (one this side made, whose pipes wait for the next). Sent even into a full
    /// pipe, one message over its high-water mark at most each.
    fn farewells(&mut self) {
        let socket_type = self.socket.socket_type();
        let accepted = matches!(self.role, Role::Accepted { .. });
        let mut notes = Vec::new();
        if self
            .opts
            .router_notifies(crate::options::number::NOTIFY_DISCONNECT)
        {
            notes.push(Message::new());
        }
        if let Some(msg) = self
            .opts
            .disconnect_msg_for(socket_type)
            .filter(|_| accepted)
        {
            notes.push(Message::from(msg.clone()));
        }
        if let Some(msg) = self.opts.hiccup_msg_for(socket_type).filter(|_| !accepted) {
            if !self.opts.immediate && self.opts.reconnect_ivl >= 0 {
                notes.push(Message::from(msg.clone()));
            }
        }
        if let Some(incoming) = self.incoming.as_mut() {
            for note in notes {
                incoming.write(note);
            }
            incoming.flush();
        }
    }

    /// Gives up the connection after a panic in this session's work: as a connection that
    /// failed (DISCONNECTED; a connecter dials again). Returns whether the session lives on.
    pub(crate) fn abandon_connection(&mut self, io: &mut IoCtx<'_>) -> bool {
        let reason = io::Error::other("a panic in the connection's work");
        self.on_engine_closed(CloseReason::Io(reason), io)
    }

    /// The connection ended. Accepted sessions end with it; connecters dial again, unless
    /// RECONNECT_IVL is -1, when they end too.
    fn on_engine_closed(&mut self, reason: CloseReason, io: &mut IoCtx<'_>) -> bool {
        let peer = self
            .engine
            .as_ref()
            .map(Engine::peer_string)
            .unwrap_or_default();
        match &reason {
            CloseReason::PeerClosed => tracing::debug!("oxmq: {peer}: {reason}"),
            CloseReason::Io(_) => tracing::info!("oxmq: {peer}: {reason}"),
            _ => tracing::warn!("oxmq: closing connection to {peer}: {reason}"),
        }
        if reason.is_too_large() {
            self.socket.note_too_large();
        }
        self.notify_stream();
        self.gate.set_stream(None);
        self.read_gate.release_socket(&self.socket.activation());
        let mut events = Vec::new();
        let mut handshake_failed = false;
        if let Some(engine) = self.engine.take() {
            let fd = engine.stream().fd();
            let _ = io.registry.deregister(&mut SourceFd(&fd));
            if !engine.is_handshaking() && !engine.is_raw() && !self.socket.is_closed() {
                self.farewells();
            }
            // A socket closing its connections has nothing to report about them.
            if !self.socket.is_closed() && !io.stopping {
                if engine.is_handshaking() && !engine.is_raw() {
                    handshake_failed = true;
                    events.push(handshake_failure(&reason));
                }
                events.push((EventKind::Disconnected, fd as u64));
            }
        }
        self.input_blocked = false;
        match &mut self.role {
            Role::Accepted { .. } => {
                self.emit(&events);
                false
            }
            Role::Connecter(_) => {
                if self.opts.immediate {
                    self.drop_pipes();
                }
                if self.socket.is_closed() || io.stopping {
                    return false;
                }
                let stop_bit = crate::options::number::RECONNECT_STOP_HANDSHAKE_FAILED;
                if self.opts.reconnect_ivl < 0
                    || handshake_failed && self.opts.reconnect_stop & stop_bit != 0
                {
                    return self.stop_reconnecting(&events);
                }
                self.schedule_retry(io, &events);
                true
            }
        }
    }

    /// Schedules the next connect attempt, raising `before` and then CONNECT_RETRIED as one
    /// run of monitor events.
    fn schedule_retry(&mut self, io: &mut IoCtx<'_>, before: &[(EventKind, u64)]) {
        let Role::Connecter(c) = &mut self.role else {
            return;
        };
        if self.opts.reconnect_ivl < 0 || c.retry_pending {
            self.emit(before);
            return;
        }
        let delay = next_reconnect_delay(
            &mut c.current_ivl,
            self.opts.reconnect_ivl,
            self.opts.reconnect_ivl_max,
        );
        self.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        c.retry_pending = true;
        io.sched.timer(
            self.token,
            Duration::from_millis(delay as u64),
            TimerKind::Reconnect(self.generation),
        );
        let mut events = before.to_vec();
        events.push((EventKind::ConnectRetried, delay as u64));
        self.emit(&events);
    }

    /// Starts a connect attempt.
    fn dial(&mut self, io: &mut IoCtx<'_>) -> bool {
        let Role::Connecter(c) = &mut self.role else {
            return true;
        };
        c.retry_pending = false;
        let attempt = match &c.target {
            ConnectTarget::Tcp(_) if !self.opts.socks_proxy.is_empty() => {
                crate::endpoint::parse_socks_proxy(&self.opts.socks_proxy)
                    .and_then(|proxy| {
                        Ok((
                            proxy.connect_addr(self.opts.ipv6)?,
                            proxy.source_addr(self.opts.ipv6)?,
                        ))
                    })
                    .map_err(io::Error::from)
                    .and_then(|(addr, source)| {
                        tcp::connect(addr, source, &transport_options(&self.opts))
                    })
            }
            ConnectTarget::Tcp(endpoint) => {
                if c.addrs.is_empty() {
                    match endpoint.literal_connect_addr() {
                        Some(Ok(addr)) => c.addrs.push_back(addr),
                        Some(Err(_)) => {}
                        None => {
                            match resolution(&mut c.resolving, endpoint, self.opts.ipv6, &self.act)
                            {
                                // Under way: the session is woken with the answer.
                                None => return true,
                                Some(Ok(addrs)) => c.addrs.extend(addrs),
                                Some(Err(err)) => {
                                    tracing::debug!("oxmq: cannot resolve {}: {err}", c.endpoint);
                                    self.schedule_retry(io, &[]);
                                    return true;
                                }
                            }
                        }
                    }
                }
                match c.addrs.pop_front() {
                    Some(addr) => endpoint
                        .source_addr(self.opts.ipv6)
                        .map_err(io::Error::from)
                        .and_then(|source| {
                            tcp::connect(addr, source, &transport_options(&self.opts))
                        }),
                    None => Err(io::Error::from(crate::error::Error::Invalid)),
                }
            }
            ConnectTarget::Ipc(endpoint) => endpoint
                .socket_addr()
                .map_err(io::Error::from)
                .and_then(|addr| ipc::connect(&addr, &transport_options(&self.opts)))
                .map(|stream| (stream, false)),
        };
        match attempt {
            Ok((mut stream, in_progress)) => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(err) = io
                    .registry
                    .register(stream.source(), Token(self.token), interest)
                {
                    tracing::warn!("oxmq: cannot watch a connection: {err}");
                    self.schedule_retry(io, &[]);
                    return true;
                }
                c.connecting = Some(stream);
                // A new attempt: its own address is known once it connects.
                self.names.clear_local();
                if in_progress {
                    self.emit(&[(EventKind::ConnectDelayed, libc::EINPROGRESS as u64)]);
                    if let Ok(ms @ 1..) = u64::try_from(self.opts.connect_timeout) {
                        io.sched.timer(
                            self.token,
                            Duration::from_millis(ms),
                            TimerKind::ConnectTimeout(self.generation),
                        );
                    }
                }
                self.finish_dial(io)
            }
            Err(err) => {
                tracing::debug!("oxmq: connect failed: {err}");
                if self.stops_on_refusal(&err) {
                    return self.stop_reconnecting(&[]);
                }
                if matches!(&self.role, Role::Connecter(c) if !c.addrs.is_empty()) {
                    // The host name gave another address: try it now.
                    return self.dial(io);
                }
                self.schedule_retry(io, &[]);
                true
            }
        }
    }

    /// Checks a connect in progress; on success starts the engine.
    fn finish_dial(&mut self, io: &mut IoCtx<'_>) -> bool {
        let Role::Connecter(c) = &mut self.role else {
            return true;
        };
        let Some(stream) = c.connecting.as_mut() else {
            return true;
        };
        let failed = match stream.take_error() {
            Ok(Some(err)) | Err(err) => Some(err),
            Ok(None) if stream.is_connected() => None,
            Ok(None) => return true, // still in progress
        };
        let stream = c.connecting.take().expect("checked above");
        if let Some(err) = failed {
            tracing::debug!("oxmq: connect failed: {err}");
            if self.stops_on_refusal(&err) {
                let fd = stream.fd() as u64;
                let mut stream = stream;
                let _ = io.registry.deregister(stream.source());
                return self.stop_reconnecting(&[(EventKind::Closed, fd)]);
            }
            return self.redial_after(stream, io);
        }
        if !self.opts.socks_proxy.is_empty() {
            if let ConnectTarget::Tcp(target) = &c.target {
                // Still registered: the proxy's answers arrive as the stream's events.
                let credentials = (!self.opts.socks_username.is_empty()).then_some((
                    self.opts.socks_username.as_slice(),
                    self.opts.socks_password.as_slice(),
                ));
                c.socks = Some(Box::new(SocksDial {
                    stream,
                    client: SocksClient::new(&target.host, target.port.unwrap_or(0), credentials),
                    input: BytesMut::new(),
                    output: Vec::new(),
                }));
                self.arm_handshake_timer(io);
                return self.drive_socks(io);
            }
        }
        self.start_engine(stream, io)
    }

    /// Moves the SOCKS exchange on; once the proxy is connected to the peer, starts the engine.
    fn drive_socks(&mut self, io: &mut IoCtx<'_>) -> bool {
        let Role::Connecter(c) = &mut self.role else {
            return true;
        };
        let Some(dial) = c.socks.as_mut() else {
            return true;
        };
        let result = dial.advance();
        if let Ok(false) = result {
            return true;
        }
        let dial = c.socks.take().expect("checked above");
        if let Err(err) = result {
            tracing::debug!("oxmq: connect through the SOCKS proxy failed: {err}");
            return self.redial_after(dial.stream, io);
        }
        self.start_engine(dial.stream, io)
    }

    /// Whether a connect that failed with `err` ends this connecter (RECONNECT_STOP's
    /// CONN_REFUSED bit).
    fn stops_on_refusal(&self, err: &io::Error) -> bool {
        let addresses_left = matches!(&self.role, Role::Connecter(c) if !c.addrs.is_empty());
        self.opts.reconnect_stop & crate::options::number::RECONNECT_STOP_CONN_REFUSED != 0
            && err.kind() == io::ErrorKind::ConnectionRefused
            && !addresses_left
    }

    /// Ends a connecter that is not to reconnect (RECONNECT_IVL -1, or RECONNECT_STOP): raises
    /// `events`, and the peer leaves the socket with what it queued, as in libzmq, so that a
    /// later connect to the same endpoint starts afresh (a PAIR can take the new peer).
    /// Returns `false`: the session is to be removed.
    fn stop_reconnecting(&mut self, events: &[(EventKind, u64)]) -> bool {
        self.emit(events);
        self.drop_pipes();
        false
    }

    /// Closes a connection that failed before its engine started, and dials again: at once
    /// when the host name gave another address to try, else after the reconnect interval.
    fn redial_after(&mut self, mut stream: Stream, io: &mut IoCtx<'_>) -> bool {
        let fd = stream.fd() as u64;
        let _ = io.registry.deregister(stream.source());
        if let Role::Connecter(c) = &self.role {
            if !c.addrs.is_empty() {
                self.emit(&[(EventKind::Closed, fd)]);
                return self.dial(io);
            }
        }
        self.schedule_retry(io, &[(EventKind::Closed, fd)]);
        true
    }

    /// Starts the engine on a connected stream (still registered from the dial).
    fn start_engine(&mut self, mut stream: Stream, io: &mut IoCtx<'_>) -> bool {
        let fd = stream.fd() as u64;
        let _ = io.registry.deregister(stream.source());
        if let Role::Connecter(c) = &mut self.role {
            // Connected: the next round (a reconnect) resolves the name again.
            c.addrs.clear();
        }
        if let Role::Connecter(c) = &self.role {
            self.names
                .set(end_name_string(stream.local_name()), c.endpoint.clone());
        }
        self.emit(&[(EventKind::Connected, fd)]);
        self.engine = Some(self.new_engine(stream));
        if !self.register_engine(io) {
            self.engine = None;
            self.schedule_retry(io, &[]);
            return true;
        }
        self.drive(io)
    }

    /// A timer fired. Returns `false` when the session should be removed.
    pub(crate) fn on_timer(&mut self, kind: TimerKind, io: &mut IoCtx<'_>) -> bool {
        if matches!(kind, TimerKind::Sweep) && self.read_gate.keep_lent(self.lent) {
            io.sched.timer(self.token, SWEEP_EVERY, TimerKind::Sweep);
            return true;
        }
        if matches!(kind, TimerKind::StreamTick) {
            self.stream_tick = false;
            if self.gate.tick() == Tick::Streaming {
                self.stream_tick = true;
                io.sched
                    .timer(self.token, STREAM_TICK, TimerKind::StreamTick);
                return true;
            }
            // Ended: a write cut short left bytes to claim.
            if !self.gate.has_leftover() {
                return true;
            }
        }
        let was_lent = self.lent;
        if let Some(reason) = self.reclaim() {
            return self.on_engine_closed(reason, io);
        }
        let alive = self.on_timer_kind(kind, io);
        if alive && was_lent && !self.lent && self.engine.is_some() {
            // Taken back from the read gate: input may have arrived whose readiness was left
            // to the socket, so a turn reads (and lends the connection again once idle).
            return self.drive(io);
        }
        alive
    }

    fn on_timer_kind(&mut self, kind: TimerKind, io: &mut IoCtx<'_>) -> bool {
        match kind {
            TimerKind::Handshake(generation) => {
                if generation != self.generation {
                    return true;
                }
                if self.engine.as_ref().is_some_and(Engine::is_handshaking) {
                    return self.on_engine_closed(CloseReason::HandshakeTimeout, io);
                }
                // A SOCKS proxy that did not answer within HANDSHAKE_IVL.
                if let Role::Connecter(c) = &mut self.role {
                    if let Some(dial) = c.socks.take() {
                        tracing::debug!("oxmq: the SOCKS proxy did not answer in time");
                        return self.redial_after(dial.stream, io);
                    }
                }
                true
            }
            TimerKind::ConnectTimeout(generation) => {
                if generation != self.generation {
                    return true;
                }
                if let Role::Connecter(c) = &mut self.role {
                    if let Some(stream) = c.connecting.take() {
                        tracing::debug!("oxmq: connect not complete within CONNECT_TIMEOUT");
                        return self.redial_after(stream, io);
                    }
                }
                true
            }
            TimerKind::Reconnect(generation) => {
                if generation == self.generation && self.engine.is_none() {
                    return self.dial(io);
                }
                true
            }
            TimerKind::Heartbeat(generation, at) => {
                // Only the timer armed last acts (and arms the next): one that an earlier
                // deadline replaced dies here instead of arming another.
                if generation != self.generation || self.heartbeat_at != Some(at) {
                    return true;
                }
                self.heartbeat_at = None;
                let Some(engine) = self.engine.as_mut() else {
                    return true;
                };
                if let Err(reason) = engine.on_timer(Instant::now(), &self.gate) {
                    return self.on_engine_closed(reason, io);
                }
                self.drive(io)
            }
            TimerKind::Linger => self.linger_deadline.is_none_or(|d| Instant::now() < d),
            // The turn itself is the point: `on_timer` took the connection back.
            TimerKind::Sweep => true,
            // A stream that ended with bytes to claim.
            TimerKind::StreamTick => self.engine.is_none() || self.drive(io),
            TimerKind::CloseCheck(generation) => match self.shutdown.as_mut() {
                Some(shut) if generation == self.generation => {
                    shut.check_armed = false;
                    self.drive_shutdown(io)
                }
                _ => true,
            },
        }
    }

    /// Closes our pipe ends and tells the socket its peer is gone.
    fn drop_pipes(&mut self) {
        self.outgoing = None;
        self.incoming = None;
        if let Some(id) = self.peer_id.take() {
            self.socket.post(PeerEvent::Detach(id));
        }
    }

    /// Deregisters everything and closes the pipes.
    pub(crate) fn close(&mut self, registry: &Registry) {
        // What failed while lent is moot now: the connection closes anyway.
        let _ = self.reclaim();
        self.drop_pipes();
        self.gate.set_stream(None);
        self.read_gate.release_socket(&self.socket.activation());
        if let Some(engine) = self.engine.take() {
            let _ = registry.deregister(&mut SourceFd(&engine.stream().fd()));
        }
        if let Role::Connecter(c) = &mut self.role {
            if let Some(mut stream) = c.connecting.take() {
                let _ = registry.deregister(stream.source());
            }
            if let Some(mut dial) = c.socks.take() {
                let _ = registry.deregister(dial.stream.source());
            }
        }
    }
}

/// The addresses `endpoint`'s host name resolves to, by a helper thread, so that a slow
/// resolver never holds up the I/O thread: `None` while the answer is awaited (the session
/// behind `act` is woken when it comes), then the answer, once.
fn resolution(
    resolving: &mut Option<ResolveSlot>,
    endpoint: &crate::endpoint::TcpEndpoint,
    ipv6: bool,
    act: &Arc<Activation>,
) -> Option<crate::error::Result<Vec<std::net::SocketAddr>>> {
    if let Some(slot) = resolving {
        let answer = slot.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        *resolving = None;
        return Some(answer);
    }
    let slot = Arc::new(std::sync::Mutex::new(None));
    let (answer, target, act) = (Arc::clone(&slot), endpoint.clone(), Arc::clone(act));
    let spawned = std::thread::Builder::new()
        .name("oxmq-resolve".into())
        .spawn(move || {
            let addrs = target.resolve_all(ipv6);
            *answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(addrs);
            act.wake();
        });
    match spawned {
        Ok(_) => {
            *resolving = Some(slot);
            None
        }
        // No thread to spare: resolve here rather than not at all.
        Err(_) => Some(endpoint.resolve_all(ipv6)),
    }
}

/// The monitor event of a connection lost during its handshake: a protocol error with libzmq's
/// code, or a failure without detail with its errno.
fn handshake_failure(reason: &CloseReason) -> (EventKind, u64) {
    let errno = match reason {
        CloseReason::Handshake(err) => {
            return (
                EventKind::HandshakeFailedProtocol,
                u64::from(err.zmtp_error_code()),
            );
        }
        // libzmq reports a peer that hung up as EPIPE.
        CloseReason::PeerClosed => libc::EPIPE,
        CloseReason::Io(err) => err.raw_os_error().unwrap_or(libc::EIO),
        CloseReason::HandshakeTimeout => libc::ETIMEDOUT,
        CloseReason::Protocol(_) => libc::EPROTO,
    };
    (EventKind::HandshakeFailedNoDetail, errno as u64)
}

/// libzmq's reconnect schedule: the current interval plus jitter of up to RECONNECT_IVL; the
/// interval doubles after each attempt up to RECONNECT_IVL_MAX when that is larger than
/// RECONNECT_IVL. All arithmetic saturates.
pub(crate) fn next_reconnect_delay(current: &mut i32, ivl: i32, ivl_max: i32) -> i32 {
    let jitter = if ivl > 0 {
        (cheap_random() % ivl as u32) as i32
    } else {
        0
    };
    let delay = current.saturating_add(jitter);
    if ivl_max > 0 && ivl_max > ivl {
        *current = current.saturating_mul(2).min(ivl_max);
    }
    delay.max(0)
}

fn cheap_random() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(GENERATION.load(Ordering::Relaxed));
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max_with_bounded_jitter() {
        let mut current = 100;
        let first = next_reconnect_delay(&mut current, 100, 1000);
        assert!((100..200).contains(&first));
        assert_eq!(current, 200);
        next_reconnect_delay(&mut current, 100, 1000);
        next_reconnect_delay(&mut current, 100, 1000);
        next_reconnect_delay(&mut current, 100, 1000);
        assert_eq!(current, 1000);
        let capped = next_reconnect_delay(&mut current, 100, 1000);
        assert!((1000..1100).contains(&capped));
    }

    #[test]
    fn no_backoff_without_a_larger_max() {
        let mut current = 100;
        next_reconnect_delay(&mut current, 100, 0);
        assert_eq!(current, 100);
        next_reconnect_delay(&mut current, 100, 50);
        assert_eq!(current, 100);
    }

    #[test]
    fn backoff_saturates_near_i32_max() {
        let mut current = i32::MAX - 1;
        let delay = next_reconnect_delay(&mut current, i32::MAX - 1, i32::MAX);
        assert!(delay > 0);
        assert_eq!(current, i32::MAX);
    }
}
