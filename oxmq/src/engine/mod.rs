//! The engine: pumps the bytes of one ZMTP connection between a stream and two pipes.
//!
//! The protocol lives in `oxmq_proto`: a [`Handshake`] until the peer is known, then a
//! [`Connection`] (heartbeats, SUBSCRIBE/CANCEL, ERROR, multipart flags). The engine feeds them
//! the bytes it reads and writes the bytes they queue; it decodes every complete frame of one
//! read before it publishes them to the socket with a single flush, and encodes as many queued
//! messages as fit in one batch before it makes one `writev`. It knows nothing of socket types
//! beyond whether subscriptions are for it, and nothing of which transport carries the bytes.

mod outbuf;
mod read_gate;
mod write_gate;

pub(crate) use read_gate::{Lent, ReadGate, SWEEP_EVERY, Sweeper};
pub(crate) use write_gate::{STREAM_TICK, Tick, WriteGate};

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use oxmq_proto::{
    Connection, ConnectionConfig, ConnectionError, Handshake, HandshakeConfig, Input, PeerInfo,
    SocketType,
};

use crate::message::{Frame, Kind, Message};
use crate::pipe::{PipeReader, PipeWriter};
use crate::transport::Stream;
use outbuf::OutBuf;

/// First read size; doubled after each read that fills it, up to [`MAX_READ`].
const INITIAL_READ: usize = 16 * 1024;
/// Largest single read.
const MAX_READ: usize = 256 * 1024;
/// Encode until this many bytes are copied into the output queue, then write.
const WRITE_BATCH: usize = 256 * 1024;
/// Encode until this many bytes are queued in all, counting large bodies queued in place
/// (see `outbuf`), then write. Measured at 64 KiB over tcp, three runs each: 0.46-0.54 s for
/// 50,000 messages against 0.79-0.82 s with batches of `WRITE_BATCH` (the sender's CPU time
/// 450-540 ms against 750-810: fewer, larger writes on loopback); over ipc no difference. At
/// 1 KiB (copied) batches of 1 MiB were 10-30 % slower than of 256 KiB, hence two limits.
const ZERO_COPY_BATCH: usize = 1024 * 1024;
/// Bytes moved per direction in one turn before the connection yields to others on its thread.
const TURN_BUDGET: usize = 1024 * 1024;
/// Below this many bytes a batch being filled looks at the pipe again when what it saw is
/// used up (see `pump_output`). Measured with the sending thread and its I/O thread on the
/// same CPU, on two CPUs, and crossed over with the receiver's, at 1 B to 1 KiB: 64 KiB was
/// as fast as or faster than one look (up to +15 % at 64 B over two CPUs), and, unlike chasing
/// up to `WRITE_BATCH`, it does not halve 1 KiB messages over two CPUs.
const CHASE_BATCH: usize = 64 * 1024;

/// Why a connection was closed.
#[derive(Debug)]
pub(crate) enum CloseReason {
    /// The peer closed the stream.
    PeerClosed,
    /// A read or write failed.
    Io(io::Error),
    /// The peer broke the protocol during the handshake.
    Handshake(oxmq_proto::HandshakeError),
    /// The peer broke the protocol after the handshake (a malformed or oversized frame, a bad
    /// command), sent ERROR, or fell silent past a heartbeat deadline.
    Protocol(ConnectionError),
    /// The handshake did not finish within HANDSHAKE_IVL.
    HandshakeTimeout,
}

impl CloseReason {
    /// Whether the peer was cut off for a message too large (MAXMSGSIZE, or the caps on
    /// frames and bytes per message): that message is dropped.
    pub(crate) fn is_too_large(&self) -> bool {
        use oxmq_proto::error::FrameError;
        matches!(
            self,
            CloseReason::Protocol(ConnectionError::Frame(
                FrameError::TooLarge { .. }
                    | FrameError::TooManyFrames { .. }
                    | FrameError::MessageTooLarge { .. }
            ))
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed the connection"),
            CloseReason::Io(err) => write!(f, "i/o error: {err}"),
            CloseReason::Handshake(err) => write!(f, "handshake failed: {err}"),
            CloseReason::Protocol(err) => write!(f, "{err}"),
            CloseReason::HandshakeTimeout => f.write_str("handshake timed out"),
        }
    }
}

impl From<io::Error> for CloseReason {
    fn from(err: io::Error) -> CloseReason {
        CloseReason::Io(err)
    }
}

/// What a turn of [`Engine::pump`] left undone.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Pump {
    /// The receive pipe is full: input stopped until the socket reads.
    pub input_blocked: bool,
    /// The turn budget ran out with work left: schedule another turn.
    pub more: bool,
}

/// One connection's protocol state and buffers.
pub(crate) struct Engine {
    /// Shared with the socket's direct writes once the handshake is done (see `direct`).
    stream: Arc<Stream>,
    handshake: Option<Box<Handshake>>,
    peer: Option<PeerInfo>,
    /// The connection after the handshake.
    conn: Option<Connection>,
    /// The connection's settings (MAXMSGSIZE, heartbeats), until the handshake ends.
    conn_config: ConnectionConfig,
    /// Our socket takes subscriptions (PUB, XPUB): SUBSCRIBE and CANCEL are passed to it.
    takes_subscriptions: bool,
    /// Messages a PUB or XPUB must act on were written to the receive pipe since its last
    /// flush.
    wrote_control: bool,
    rbuf: BytesMut,
    read_size: usize,
    /// Bytes the frame at the front of `rbuf` needs in total.
    need: usize,
    partial: Option<Message>,
    out: OutBuf,
    readable: bool,
    /// The last decode stopped at a full receive pipe: frames may wait in the read buffer.
    pipe_full: bool,
    writable: bool,
    /// This engine owns the connection's writing side (the socket may not write directly).
    claimed: bool,
    /// The poller reported the peer's end closed: read until the end-of-stream, even after a
    /// short read.
    read_closed: bool,
    /// A raw connection (STREAM): no ZMTP at all; each read is one message, each message's
    /// frames are written as they are.
    raw: bool,
}

/// The connection is full and the engine waits for it: what it took from the pipe has left
/// the pipe, so it says so now rather than at the next low-water mark, which may be long
/// coming (the writer's high-water mark, and its count of what is queued, then hold what the
/// pipe really holds: a peer that stops reading gets SNDHWM messages more, not up to a
/// low-water mark fewer).
fn settle_credit(outgoing: Option<&mut PipeReader>) {
    if let Some(pipe) = outgoing {
        pipe.settle_credit();
    }
}

impl Engine {
    /// Starts the handshake on a connected stream.
    pub(crate) fn new(
        stream: Stream,
        config: HandshakeConfig,
        conn_config: ConnectionConfig,
    ) -> Engine {
        let takes_subscriptions = matches!(config.socket_type, SocketType::Pub | SocketType::XPub);
        let mut handshake = Box::new(Handshake::new(config));
        let mut greeting = Vec::with_capacity(64);
        handshake.poll_transmit(&mut greeting);
        let mut out = OutBuf::default();
        out.push_bytes(&greeting);
        Engine {
            stream: Arc::new(stream),
            handshake: Some(handshake),
            peer: None,
            conn: None,
            conn_config,
            takes_subscriptions,
            wrote_control: false,
            rbuf: BytesMut::new(),
            read_size: INITIAL_READ,
            need: 0,
            partial: None,
            out,
            readable: true,
            pipe_full: false,
            writable: true,
            claimed: true,
            read_closed: false,
            raw: false,
        }
    }

    /// A raw connection for a STREAM socket: bytes in and out, no handshake, no framing.
    pub(crate) fn raw(stream: Stream) -> Engine {
        Engine {
            stream: Arc::new(stream),
            handshake: None,
            peer: None,
            conn: None,
            conn_config: ConnectionConfig::new(0),
            takes_subscriptions: false,
            wrote_control: false,
            rbuf: BytesMut::new(),
            read_size: INITIAL_READ,
            need: 0,
            partial: None,
            out: OutBuf::default(),
            readable: true,
            pipe_full: false,
            writable: true,
            claimed: true,
            read_closed: false,
            raw: true,
        }
    }

    /// Whether this is a raw (STREAM) connection.
    pub(crate) fn is_raw(&self) -> bool {
        self.raw
    }

    /// The stream (to register it, and to share it for direct writes).
    pub(crate) fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }

    /// A printable peer address.
    pub(crate) fn peer_string(&self) -> String {
        self.stream.peer_string()
    }

    /// The peer's IP address (tcp).
    pub(crate) fn peer_ip(&self) -> Option<String> {
        self.stream.peer_ip()
    }

    /// Records readiness reported by the poller.
    pub(crate) fn on_ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.readable |= readable || read_closed;
        self.writable |= writable;
        self.read_closed |= read_closed;
    }

    /// Whether the handshake is still running (a raw connection has none, but reports it done
    /// once, through [`Engine::handshake`]).
    pub(crate) fn is_handshaking(&self) -> bool {
        self.handshake.is_some() || self.raw && self.peer.is_none()
    }

    /// Whether queued output waits for the stream to become writable.
    pub(crate) fn has_pending_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Advances the handshake. Returns the peer once it completed.
    pub(crate) fn handshake(&mut self) -> Result<Option<PeerInfo>, CloseReason> {
        if self.raw {
            let peer = PeerInfo {
                major: 0,
                minor: 0,
                socket_type: SocketType::Stream,
                identity: bytes::Bytes::new(),
                metadata: oxmq_proto::metadata::Metadata::new(),
            };
            self.peer = Some(peer.clone());
            return Ok(Some(peer));
        }
        loop {
            self.flush_output()?;
            let Some(handshake) = self.handshake.as_mut() else {
                return Ok(self.peer.clone());
            };
            let result = handshake.handle_input(&mut self.rbuf);
            // Our READY may be queued even when the peer's was refused: send it before closing,
            // so the peer learns our socket type instead of seeing a bare disconnect.
            let mut bytes = Vec::new();
            handshake.poll_transmit(&mut bytes);
            self.out.push_bytes(&bytes);
            let done = match result {
                Ok(done) => done,
                Err(err) => {
                    let _ = self.flush_output();
                    return Err(CloseReason::Handshake(err));
                }
            };
            if done {
                let peer = handshake.peer().cloned();
                self.handshake = None;
                if let Some(peer) = &peer {
                    let mut config = self.conn_config.clone();
                    config.peer_minor = peer.minor;
                    self.conn = Some(Connection::new(config, Instant::now()));
                }
                self.peer = peer;
                self.flush_output()?;
                return Ok(self.peer.clone());
            }
            if !bytes.is_empty() {
                continue;
            }
            if !self.readable {
                return Ok(None);
            }
            // Handshake commands are small: a bounded read is enough and keeps a silent or
            // lying peer from making us allocate.
            match self.stream.read_into(&mut self.rbuf, 4096) {
                Ok(0) => return Err(CloseReason::PeerClosed),
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(None);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Writes queued output until it is gone or the stream is full.
    fn flush_output(&mut self) -> Result<(), CloseReason> {
        while self.writable && !self.out.is_empty() {
            match self.out.write_to(&self.stream) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    /// Moves messages both ways for one turn at `now`. `outgoing` is drained to the stream;
    /// decoded messages go to `incoming` (when it is `None`, the socket is gone and input is left
    /// unread).
    pub(crate) fn pump(
        &mut self,
        outgoing: Option<&mut PipeReader>,
        incoming: Option<&mut PipeWriter>,
        gate: &WriteGate,
        now: Instant,
    ) -> Result<Pump, CloseReason> {
        let mut state = Pump::default();
        if let Some(incoming) = incoming {
            self.pump_input(incoming, &mut state, gate, now, TURN_BUDGET)?;
        }
        self.pump_output(outgoing, &mut state, gate)?;
        Ok(state)
    }

    /// The input side of [`pump`](Self::pump) alone, for a socket reading a lent connection
    /// (see `read_gate`): one read, decoded. The socket takes what it decoded before it reads
    /// again, so the frames of one read are usually dropped by the next and the read buffer
    /// is reused in place instead of the allocator handing out fresh memory for each read
    /// (which the kernel then faults in page by page).
    pub(crate) fn read(
        &mut self,
        incoming: &mut PipeWriter,
        gate: &WriteGate,
        now: Instant,
    ) -> Result<Pump, CloseReason> {
        let mut state = Pump::default();
        self.pump_input(incoming, &mut state, gate, now, 1)?;
        Ok(state)
    }

    /// Whether input may wait without a new readiness event: in the stream (the last read
    /// filled what it asked for, or the peer's end closed) or in the read buffer (the last
    /// decode stopped at a full receive pipe).
    pub(crate) fn has_input_pending(&self) -> bool {
        self.readable || self.pipe_full
    }

    /// Whether the connection may be lent to the socket's thread when its session goes idle
    /// (see `read_gate`): a ZMTP connection past its handshake that only a receive can move
    /// on (no subscriptions to pass to the socket, which must see them while it sends), read
    /// until the stream had no more or until the receive pipe filled (no readiness is
    /// pending that nobody would act on: the socket reads on when it has taken the pipe's
    /// messages), with no output queued (an answer to the peer's PING) and no timer to run.
    pub(crate) fn can_lend(&self) -> bool {
        (!self.readable || self.pipe_full) && self.can_stay_lent()
    }

    /// Whether a lent connection may stay with the socket after it read it: as
    /// [`can_lend`](Self::can_lend), but input may be left in the stream when the read
    /// stopped at its budget. The socket polls the stream (level-triggered) before it waits
    /// again, and while the I/O thread's interest is narrowed its sweep is pending, so what is
    /// left is read by one of them.
    pub(crate) fn can_stay_lent(&self) -> bool {
        !self.raw
            && !self.takes_subscriptions
            && self.conn.is_some()
            && !self.has_pending_output()
            && self.next_timeout().is_none()
    }

    /// Queues `msg` to go out ahead of everything the socket sends (HELLO_MSG): called as the
    /// handshake completes, before the socket may write to the connection directly.
    pub(crate) fn send_first(&mut self, msg: &Message, gate: &WriteGate) {
        self.claim(gate);
        self.encode(msg);
    }

    /// Takes the connection back from direct writes before producing output (see `direct`).
    #[inline]
    fn claim(&mut self, gate: &WriteGate) {
        if !self.claimed {
            let out = &mut self.out;
            gate.claim(|rest| {
                debug_assert!(
                    out.is_empty(),
                    "a direct write happened while output was queued"
                );
                out.push_bytes(rest);
            });
            self.claimed = true;
        }
    }

    fn pump_input(
        &mut self,
        incoming: &mut PipeWriter,
        state: &mut Pump,
        gate: &WriteGate,
        now: Instant,
        budget: usize,
    ) -> Result<(), CloseReason> {
        let mut moved = 0;
        let result = loop {
            match self.decode(incoming, now) {
                Ok(true) => {
                    state.input_blocked = true;
                    self.pipe_full = true;
                    break Ok(());
                }
                Ok(false) => self.pipe_full = false,
                Err(reason) => break Err(reason),
            }
            if !self.readable {
                break Ok(());
            }
            if moved >= budget {
                state.more = true;
                break Ok(());
            }
            let want = if self.need > self.rbuf.len() {
                // A frame bigger than what is buffered: grow with what has arrived, never by
                // what the peer announced (and read past its end as any read would).
                (self.need - self.rbuf.len())
                    .min(self.rbuf.len().max(MAX_READ))
                    .max(self.read_size)
            } else {
                self.read_size
            };
            self.make_room(want);
            match self.stream.read_into(&mut self.rbuf, want) {
                Ok(0) => break Err(CloseReason::PeerClosed),
                Ok(n) => {
                    moved += n;
                    if n < want && !self.read_closed {
                        // A short read emptied the socket buffer; with edge-triggered polling
                        // the next arrival raises a new event, so skip the EAGAIN probe.
                        self.readable = false;
                    } else if self.read_size < MAX_READ {
                        self.read_size *= 2;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => break Err(err.into()),
            }
        };
        incoming.flush();
        if std::mem::take(&mut self.wrote_control) {
            incoming.signal_control();
        }
        self.queue_commands(gate);
        result
    }

    /// Makes room for a read of `want` bytes: in the read buffer's block when nothing else
    /// refers to it any more, else in a new block. A block for full-size reads gets room for
    /// two, so that once the frames read into it are dropped it can be reused in place with
    /// the start of a frame still in it (see [`read`](Self::read)).
    fn make_room(&mut self, want: usize) {
        if self.rbuf.try_reclaim(want) {
            return;
        }
        let slack = if want >= MAX_READ { want } else { 0 };
        self.rbuf.reserve(want + slack);
    }

    /// Decodes every complete frame in the read buffer. Returns `Ok(true)` when the receive pipe
    /// is full.
    fn decode(&mut self, incoming: &mut PipeWriter, now: Instant) -> Result<bool, CloseReason> {
        if self.raw {
            // Whatever arrived is one message.
            if !self.rbuf.is_empty() {
                if !incoming.can_write() {
                    return Ok(true);
                }
                let bytes = self.rbuf.split().freeze();
                incoming.write(Message::from(Frame::from(bytes)));
            }
            return Ok(false);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        loop {
            // A message is delivered whole: the room for it is checked at its first frame.
            if !conn.in_message() && !incoming.can_write() {
                return Ok(true);
            }
            match conn
                .poll_input(&mut self.rbuf, now)
                .map_err(CloseReason::Protocol)?
            {
                Input::NeedMore { need } => {
                    self.need = need;
                    return Ok(false);
                }
                Input::Data {
                    first,
                    more,
                    header_len,
                    size,
                } => {
                    let total = header_len + size;
                    // A PUB or XPUB acts on what its peers send before it publishes:
                    // subscriptions may come as messages too (ZMTP 3.0, libzmq's XSUB).
                    self.wrote_control |= self.takes_subscriptions;
                    if first && !more && size <= Frame::INLINE_CAPACITY && self.partial.is_none() {
                        // The common case, a small one-frame message: built in the pipe.
                        let body = &self.rbuf[header_len..total];
                        incoming.write_then(Message::new(), body.len(), |msg| msg.set_bytes(body));
                        self.rbuf.advance(total);
                        continue;
                    }
                    let part = if size <= Frame::INLINE_CAPACITY {
                        let part = Frame::copy_from_slice(&self.rbuf[header_len..total]);
                        self.rbuf.advance(total);
                        part
                    } else {
                        self.rbuf.advance(header_len);
                        Frame::from(self.rbuf.split_to(size).freeze())
                    };
                    match self.partial.take() {
                        None if first && !more => incoming.write(Message::from(part)),
                        None => self.partial = Some(Message::from(part)),
                        Some(mut msg) => {
                            msg.push(part);
                            if more {
                                self.partial = Some(msg);
                            } else {
                                incoming.write(msg);
                            }
                        }
                    }
                }
                Input::Subscribe(topic) if self.takes_subscriptions => {
                    incoming.write(Message::control(Kind::Subscribe, topic));
                    self.wrote_control = true;
                }
                Input::Cancel(topic) if self.takes_subscriptions => {
                    incoming.write(Message::control(Kind::Cancel, topic));
                    self.wrote_control = true;
                }
                // Subscriptions sent to a socket type that has none are ignored, as are
                // commands of later protocol versions.
                _ => {}
            }
        }
    }

    /// Queues what the connection has to say (PONG) unless output is backed up: a peer that
    /// pings without reading cannot grow our memory, and any traffic is a sign of life.
    fn queue_commands(&mut self, gate: &WriteGate) {
        if self.out.pending() > WRITE_BATCH {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if conn.has_pending_transmit() {
            let mut bytes = Vec::new();
            conn.poll_transmit(&mut bytes);
            self.claim(gate);
            self.out.push_bytes(&bytes);
        }
    }

    /// Whether the output queue holds a full batch (see [`WRITE_BATCH`]).
    #[inline]
    fn batch_is_full(&self) -> bool {
        self.out.copied() >= WRITE_BATCH || self.out.pending() >= ZERO_COPY_BATCH
    }

    /// Queues one message from the socket in its wire form.
    #[inline]
    fn encode(&mut self, msg: &Message) {
        match msg.kind() {
            Kind::Data if self.raw => {
                for frame in msg {
                    self.out.push_frame_body(frame);
                }
            }
            Kind::Data => self.out.encode_message(msg),
            kind @ (Kind::Subscribe | Kind::Cancel) => {
                if let Some(conn) = &self.conn {
                    let mut bytes = Vec::new();
                    conn.encode_subscription(kind == Kind::Subscribe, msg.first(), &mut bytes);
                    self.out.push_bytes(&bytes);
                }
            }
            // Routing ids and metadata travel from engines to sockets, never out.
            Kind::RoutingId | Kind::Metadata => {}
        }
    }

    fn pump_output(
        &mut self,
        mut outgoing: Option<&mut PipeReader>,
        state: &mut Pump,
        gate: &WriteGate,
    ) -> Result<(), CloseReason> {
        let mut moved = 0;
        loop {
            if gate.has_leftover()
                || outgoing
                    .as_deref_mut()
                    .is_some_and(|pipe| pipe.has_message())
            {
                self.claim(gate);
            }
            // Messages are taken from the pipe only while this engine owns the connection
            // (otherwise a direct write could overtake them) and while the batch has room (a
            // peer that does not read must not grow it: the pipe's high-water mark applies).
            // Each is encoded where it is queued. The batch takes what one look at the pipe
            // saw, and looks again while it holds less than CHASE_BATCH: a socket on another
            // CPU keeps publishing while the batch fills, and writing every few messages would
            // cost a system call each time, while chasing it to the full WRITE_BATCH outgrows
            // the kernel's buffer and stalls the stream.
            if self.claimed && !self.batch_is_full() {
                if let Some(pipe) = outgoing.as_deref_mut() {
                    'batch: loop {
                        let seen = pipe.ready();
                        let before = self.out.pending();
                        for _ in 0..seen {
                            if self.batch_is_full()
                                || pipe.recv_seen_with(|msg| self.encode(msg)).is_none()
                            {
                                break 'batch;
                            }
                        }
                        // A look whose messages queued no bytes (subscriptions before the
                        // handshake) ends the chase too, so a socket that keeps publishing
                        // those cannot hold this thread.
                        let pending = self.out.pending();
                        if seen == 0 || pending >= CHASE_BATCH || pending == before {
                            break;
                        }
                    }
                }
            }
            if self.out.is_empty() {
                // Nothing queued: the socket may write directly until the next claim.
                if self.claimed
                    && gate.release(|| {
                        outgoing
                            .as_deref_mut()
                            .is_none_or(|pipe| !pipe.has_message())
                    })
                {
                    self.claimed = false;
                }
                return Ok(());
            }
            if !self.writable {
                settle_credit(outgoing);
                return Ok(());
            }
            let before = self.out.pending();
            match self.out.write_to(&self.stream) {
                Ok(_) => moved += before - self.out.pending(),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    settle_credit(outgoing);
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
            if moved >= TURN_BUDGET {
                state.more = true;
                return Ok(());
            }
        }
    }

    /// When [`Engine::on_timer`] is due next (a heartbeat to send, a peer that must have spoken
    /// by then), if ever.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.conn.as_ref().and_then(Connection::poll_timeout)
    }

    /// Runs the connection's timers at `now`: queues a PING when one is due, and fails when
    /// the peer stayed silent past the heartbeat timeout or its own TTL. Harmless when early.
    pub(crate) fn on_timer(&mut self, now: Instant, gate: &WriteGate) -> Result<(), CloseReason> {
        if let Some(conn) = self.conn.as_mut() {
            conn.handle_timeout(now).map_err(CloseReason::Protocol)?;
            self.queue_commands(gate);
        }
        Ok(())
    }

    /// Whether another turn could make progress right now (checked after announcing a wait).
    pub(crate) fn has_work(
        &self,
        outgoing: Option<&mut PipeReader>,
        incoming: Option<&mut PipeWriter>,
        input_blocked: bool,
    ) -> bool {
        if self.writable && (!self.out.is_empty() || outgoing.is_some_and(|p| p.has_message())) {
            return true;
        }
        input_blocked && incoming.is_some_and(|p| p.can_write())
    }
}
