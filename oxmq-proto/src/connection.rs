//! An established ZMTP 3.x connection, after the handshake: frame decoding
//! with multipart tracking, heartbeats (PING/PONG with TTL and timeouts),
//! SUBSCRIBE/CANCEL, and ERROR. Sans-I/O like [`Handshake`]: the caller
//! moves bytes and passes the current time in; nothing here reads a clock.
//!
//! Sequence for one connection:
//!
//! 1. When [`Handshake::handle_input`] reports completion (and its
//!    `poll_transmit` is drained), create [`Connection::new`] with the
//!    peer's greeting minor version ([`PeerInfo::minor`]) and the socket's
//!    limits and heartbeat options. Bytes left in the handshake's input
//!    buffer are the start of the connection's input: keep the buffer.
//! 2. Whenever bytes arrive, append them to the input buffer and call
//!    [`Connection::poll_input`] until it returns [`Input::NeedMore`]:
//!    * [`Input::Data`]: a complete data frame sits at the front of the
//!      buffer; the caller takes its body and removes it (header and body)
//!      before the next call;
//!    * [`Input::Subscribe`] / [`Input::Cancel`]: a ZMTP 3.1 subscription
//!      command, already removed;
//!    * PING, PONG, ERROR and unknown commands never come out: they are
//!      removed and handled inside (a PING queues a PONG, an ERROR fails the
//!      connection with [`ConnectionError::PeerError`]).
//! 3. After input and timer events, drain [`Connection::poll_transmit`]
//!    (PONG, PING, ERROR command frames) into the outgoing byte stream, at a
//!    frame boundary: between two messages, or between two frames of one
//!    message, never inside a frame.
//! 4. Arm a timer for [`Connection::poll_timeout`] and call
//!    [`Connection::handle_timeout`] when it fires: it queues a PING every
//!    heartbeat interval and fails with [`ConnectionError::HeartbeatTimeout`]
//!    or [`ConnectionError::TtlExpired`] when the peer went silent.
//! 5. Outgoing messages are encoded by the caller
//!    ([`frame::encode_frame`](crate::frame::encode_frame)); subscriptions
//!    with [`Connection::encode_subscription`], which picks the wire form
//!    the peer's version understands.
//! 6. Any error is final: every later call returns it again. To tell the
//!    peer why, [`Connection::send_error`] queues an ERROR command; flush
//!    [`Connection::poll_transmit`], then close.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::{Buf, BytesMut};
//! use oxmq_proto::frame::encode_frame;
//! use oxmq_proto::{Connection, ConnectionConfig, Input};
//!
//! let t0 = Instant::now();
//! let mut client = Connection::new(
//!     ConnectionConfig {
//!         heartbeat_ivl: Some(Duration::from_secs(1)),
//!         ..ConnectionConfig::new(1)
//!     },
//!     t0,
//! );
//! let mut server = Connection::new(ConnectionConfig::new(1), t0);
//!
//! // The client's heartbeat is due after one interval.
//! assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(1)));
//! let t1 = t0 + Duration::from_secs(1);
//! client.handle_timeout(t1)?;
//!
//! // Client -> server: the PING, then a subscription and a message.
//! let mut wire = Vec::new();
//! client.poll_transmit(&mut wire);
//! client.encode_subscription(true, b"weather", &mut wire);
//! encode_frame(&mut wire, false, false, b"hello");
//! let mut input = BytesMut::from(&wire[..]);
//! // The PING is handled inside; the subscription comes out first.
//! assert!(matches!(server.poll_input(&mut input, t1)?, Input::Subscribe(t) if t == "weather"));
//! let Input::Data { first, more, header_len, size } = server.poll_input(&mut input, t1)? else {
//!     panic!("expected a data frame");
//! };
//! assert!(first && !more);
//! assert_eq!(&input[header_len..header_len + size], b"hello");
//! input.advance(header_len + size); // the caller removes the frame
//! assert_eq!(server.poll_input(&mut input, t1)?, Input::NeedMore { need: 0 });
//!
//! // Server -> client: the PONG answers the PING and cancels the timeout.
//! let mut wire = Vec::new();
//! server.poll_transmit(&mut wire);
//! let mut input = BytesMut::from(&wire[..]);
//! assert_eq!(client.poll_input(&mut input, t1)?, Input::NeedMore { need: 0 });
//! assert_eq!(client.poll_timeout(), Some(t1 + Duration::from_secs(1)));
//! # Ok::<(), oxmq_proto::ConnectionError>(())
//! ```
//!
//! Behaviour, following libzmq 4.3.5's `zmtp_engine` where RFC 37 leaves
//! room:
//!
//! * commands may appear between the frames of a multipart message;
//! * unknown commands (and READY, which has no meaning any more) are
//!   ignored without looking at their body, but every command must have a
//!   well-formed name (RFC 37 grammar: 1-255 letters, inside the frame);
//! * a PING is answered with a PONG echoing its context (cut to 16 bytes).
//!   Every PING gets its PONG, as in libzmq, but at most
//!   [`MAX_PENDING_PONGS`] wait to be sent (the oldest unsent ones give way),
//!   so a peer that pings without reading cannot grow our memory;
//! * heartbeats: with an interval configured, a PING carrying our TTL goes
//!   out every interval (the first one an interval after
//!   [`Connection::new`]); the first unanswered PING arms the timeout.
//!   A PING from the peer with a non-zero TTL arms a deadline of TTL
//!   deciseconds. New input bytes of any kind cancel both;
//! * ERROR from the peer fails the connection (libzmq only acts on ERROR
//!   during the handshake; RFC 37 makes it fatal).
//!
//! [`Handshake`]: crate::handshake::Handshake
//! [`Handshake::handle_input`]: crate::handshake::Handshake::handle_input
//! [`PeerInfo::minor`]: crate::handshake::PeerInfo::minor

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use crate::command::{Command, MAX_PING_CONTEXT, split_command};
use crate::error::{ConnectionError, FrameError};
use crate::frame::{
    FLAG_COMMAND, FLAG_LONG, FLAG_MORE, FrameDecoder, MAX_HEADER_LEN, encode_header,
};

/// SUBSCRIBE command name.
const SUBSCRIBE: &[u8] = b"SUBSCRIBE";
/// CANCEL command name.
const CANCEL: &[u8] = b"CANCEL";
/// PING command name.
const PING: &[u8] = b"PING";
/// PONG command name.
const PONG: &[u8] = b"PONG";
/// ERROR command name.
const ERROR: &[u8] = b"ERROR";

/// PONGs waiting to be sent at most: every PING is answered, as libzmq does, but a peer that
/// pings faster than it reads finds only its latest PINGs answered.
pub const MAX_PENDING_PONGS: usize = 8;

/// Longest ERROR reason (its length is one octet).
const MAX_ERROR_REASON: usize = u8::MAX as usize;

/// Options of one connection: what the peer speaks, and the socket's
/// `ZMQ_MAXMSGSIZE` and `ZMQ_HEARTBEAT_*` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// The peer's greeting minor version: 0 is ZMTP 3.0 (subscriptions
    /// travel as data messages), 1 or more ZMTP 3.1 (SUBSCRIBE/CANCEL
    /// commands).
    pub peer_minor: u8,
    /// Largest accepted frame body (`ZMQ_MAXMSGSIZE`, which libzmq applies
    /// per frame, commands included); `None`: no limit.
    pub max_frame_size: Option<u64>,
    /// Most frames one message may have; a peer that sends more fails the
    /// connection with [`FrameError::TooManyFrames`]. `None`: no limit.
    pub max_message_frames: Option<usize>,
    /// Largest message, all its frames together; a peer that sends a larger
    /// one fails the connection with [`FrameError::MessageTooLarge`] (or
    /// [`FrameError::TooLarge`] for a single frame over it). `None`: no
    /// limit.
    pub max_message_size: Option<u64>,
    /// Send a PING this often (`ZMQ_HEARTBEAT_IVL`); `None` or zero: never.
    pub heartbeat_ivl: Option<Duration>,
    /// TTL announced in our PINGs (`ZMQ_HEARTBEAT_TTL`): how long the peer
    /// should wait for traffic from us before giving up. Sent in
    /// deciseconds, rounded down and capped at 6553.5 s; `None` sends 0
    /// (no TTL).
    pub heartbeat_ttl: Option<Duration>,
    /// How long to wait for any input after a PING before failing with
    /// [`ConnectionError::HeartbeatTimeout`] (`ZMQ_HEARTBEAT_TIMEOUT`);
    /// `None`: the heartbeat interval, as libzmq; zero: never time out.
    pub heartbeat_timeout: Option<Duration>,
}

impl ConnectionConfig {
    /// A configuration for a peer of greeting minor version `peer_minor`,
    /// without heartbeats or size limit.
    pub fn new(peer_minor: u8) -> Self {
        ConnectionConfig {
            peer_minor,
            max_frame_size: None,
            max_message_frames: None,
            max_message_size: None,
            heartbeat_ivl: None,
            heartbeat_ttl: None,
            heartbeat_timeout: None,
        }
    }

    /// The TTL field of our PINGs, in deciseconds (rounded down, saturating).
    fn ping_ttl(&self) -> u16 {
        self.heartbeat_ttl.map_or(0, |ttl| {
            u16::try_from(ttl.as_millis() / 100).unwrap_or(u16::MAX)
        })
    }
}

/// What [`Connection::poll_input`] found at the front of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// Not enough bytes for the frame at the front. `need` is the total byte
    /// count (header + body) that frame needs, or 0 when even the header is
    /// incomplete. It lets the caller size its reads; the buffer must only
    /// grow by what actually arrives (never reserve `need` up front: the
    /// peer chose it).
    NeedMore {
        /// Bytes the whole frame takes, or 0 if its header is incomplete.
        need: usize,
    },
    /// A complete data frame is at the front of the input: bytes
    /// `[0, header_len)` are its header and
    /// `[header_len, header_len + size)` its body. The caller removes
    /// exactly `header_len + size` bytes before calling
    /// [`Connection::poll_input`] again (copying a small body or splitting
    /// a large one off, as it prefers).
    Data {
        /// This frame starts a message.
        first: bool,
        /// Another frame of the same message follows.
        more: bool,
        /// Length of the frame header (2 or 9).
        header_len: usize,
        /// Length of the frame body.
        size: usize,
    },
    /// A SUBSCRIBE command (ZMTP 3.1), already removed from the input. The
    /// topic shares the input buffer's memory.
    Subscribe(Bytes),
    /// A CANCEL command (ZMTP 3.1), already removed from the input.
    Cancel(Bytes),
}

/// The context of the PING to answer, kept inline (at most 16 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PongContext {
    /// Context bytes; only the first `len` are meaningful.
    bytes: [u8; MAX_PING_CONTEXT],
    /// Context length, at most [`MAX_PING_CONTEXT`].
    len: usize,
}

impl PongContext {
    /// Copies (at most 16 bytes of) `context`.
    fn new(context: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_PING_CONTEXT];
        for (dst, src) in bytes.iter_mut().zip(context) {
            *dst = *src;
        }
        PongContext {
            bytes,
            len: context.len().min(MAX_PING_CONTEXT),
        }
    }

    /// The context.
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }
}

/// The state machine of one established ZMTP connection.
///
/// See the [module documentation](self) for the calling sequence.
#[derive(Debug)]
pub struct Connection {
    /// Peer greeting minor version.
    peer_minor: u8,
    /// Frame header parser, with the size limit.
    decoder: FrameDecoder,
    /// Heartbeat interval; never zero.
    heartbeat_ivl: Option<Duration>,
    /// Silence tolerated after a PING; never zero.
    heartbeat_timeout: Option<Duration>,
    /// TTL field of our PINGs, in deciseconds.
    ping_ttl: u16,
    /// The last data frame returned had MORE: the next one continues its
    /// message.
    in_message: bool,
    /// The caps on a multi-frame message: most frames, most bytes.
    max_message_frames: Option<usize>,
    max_message_size: Option<u64>,
    /// Frames and bytes of the multi-frame message being received.
    message_frames: usize,
    message_bytes: u64,
    /// Input length expected at the next `poll_input` if no bytes arrive in
    /// between (what was left after the last call, minus the Data frame the
    /// caller removes). A longer input means bytes arrived.
    expected_len: usize,
    /// When the next PING is due.
    next_ping: Option<Instant>,
    /// Fail with `HeartbeatTimeout` at this instant (armed by our PING).
    timeout_deadline: Option<Instant>,
    /// Fail with `TtlExpired` at this instant (armed by the peer's PING).
    ttl_deadline: Option<Instant>,
    /// PONGs to send, oldest first, at most [`MAX_PENDING_PONGS`].
    pending_pongs: VecDeque<PongContext>,
    /// A PING is to be sent.
    pending_ping: bool,
    /// ERROR reason to send.
    pending_error: Option<Bytes>,
    /// `send_error` was called: no more PINGs or PONGs.
    closing: bool,
    /// The error the connection failed with.
    failed: Option<ConnectionError>,
}

impl Connection {
    /// Starts the post-handshake phase at `now`. With a heartbeat interval,
    /// the first PING is due at `now + interval`.
    pub fn new(config: ConnectionConfig, now: Instant) -> Connection {
        let heartbeat_ivl = config.heartbeat_ivl.filter(|ivl| !ivl.is_zero());
        let heartbeat_timeout = config
            .heartbeat_timeout
            .or(heartbeat_ivl)
            .filter(|timeout| !timeout.is_zero());
        // A frame larger than a whole message may be is refused as a frame.
        let max_frame = match (config.max_frame_size, config.max_message_size) {
            (Some(frame), Some(message)) => Some(frame.min(message)),
            (frame, message) => frame.or(message),
        };
        Connection {
            peer_minor: config.peer_minor,
            decoder: FrameDecoder::new(max_frame),
            max_message_frames: config.max_message_frames,
            max_message_size: config.max_message_size,
            message_frames: 0,
            message_bytes: 0,
            heartbeat_ivl,
            heartbeat_timeout,
            ping_ttl: config.ping_ttl(),
            in_message: false,
            expected_len: 0,
            next_ping: heartbeat_ivl.and_then(|ivl| now.checked_add(ivl)),
            timeout_deadline: None,
            ttl_deadline: None,
            pending_pongs: VecDeque::new(),
            pending_ping: false,
            pending_error: None,
            closing: false,
            failed: None,
        }
    }

    /// The peer's greeting minor version (0: ZMTP 3.0).
    pub fn peer_minor(&self) -> u8 {
        self.peer_minor
    }

    /// Whether the last data frame returned had MORE, so the next data
    /// frame continues that message (its `first` will be false).
    ///
    /// Lets a caller that may have to refuse a new message (backpressure)
    /// decide *before* calling [`Connection::poll_input`].
    pub fn in_message(&self) -> bool {
        self.in_message
    }

    /// Counts a frame of a multi-frame message against the caps on frames and bytes per
    /// message (a single-frame message is bounded by the frame size limit alone).
    #[inline(never)]
    fn count_part(&mut self, first: bool, size: usize) -> Result<(), ConnectionError> {
        if first {
            self.message_frames = 0;
            self.message_bytes = 0;
        }
        self.message_frames += 1;
        self.message_bytes = self.message_bytes.saturating_add(size as u64);
        if let Some(max) = self.max_message_frames {
            if self.message_frames > max {
                return Err(FrameError::TooManyFrames { max }.into());
            }
        }
        if let Some(max) = self.max_message_size {
            if self.message_bytes > max {
                return Err(FrameError::MessageTooLarge {
                    size: self.message_bytes,
                    max,
                }
                .into());
            }
        }
        Ok(())
    }

    /// The error the connection failed with, if it did.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.failed.as_ref()
    }

    /// Decodes the next item at the front of `input`.
    ///
    /// Hot path: called once per received frame; does not allocate for data
    /// frames. PING, PONG, ERROR and unknown commands are removed and
    /// handled here, and decoding goes on with the next frame in the same
    /// call; it returns only on [`Input::NeedMore`], [`Input::Data`],
    /// [`Input::Subscribe`], [`Input::Cancel`] or an error. An error is
    /// final: later calls (and [`Connection::handle_timeout`]) return it
    /// again.
    ///
    /// After [`Input::Data`] the caller must remove the frame
    /// (`header_len + size` bytes) before calling again: the frame counts
    /// as delivered when it is returned, which is how the next frame's
    /// `first` is known. A caller that cannot take a message now should
    /// check [`Connection::in_message`] before calling, or keep the `Data`
    /// value and act on it later. Calling again without removing the frame
    /// is harmless but decodes the same frame as if it were the next one:
    /// the same `Data` comes back for a single-frame message or a middle
    /// frame, while the first frame of a multipart message comes back with
    /// `first == false` and the last one with `first == true` (the bytes
    /// give no way to tell a frame left in place from an identical next
    /// frame). Such a call may also count as a sign of life for the
    /// heartbeat timeouts.
    ///
    /// New bytes since the previous call (the input is longer than what
    /// the previous call left, minus the `Data` frame removed) cancel the
    /// heartbeat timeout and the peer's TTL deadline.
    #[inline]
    pub fn poll_input(
        &mut self,
        input: &mut BytesMut,
        now: Instant,
    ) -> Result<Input, ConnectionError> {
        // An emptied buffer, which ends every pass over what a read brought: nothing to
        // decode, nothing new seen.
        if input.is_empty() && self.failed.is_none() {
            self.expected_len = 0;
            return Ok(Input::NeedMore { need: 0 });
        }
        // The hot path, inlined into the caller: a complete short data frame at the front
        // (flags without COMMAND or LONG, a one-byte size), which is most frames of small
        // messages. Everything else takes the general path below.
        if let (None, Some(&[flags, size])) = (&self.failed, input.first_chunk::<2>()) {
            let size = usize::from(size);
            let total = size + 2;
            if flags & (FLAG_COMMAND | FLAG_LONG) == 0
                && input.len() >= total
                && self.decoder.max_size().is_none_or(|max| size as u64 <= max)
            {
                if input.len() > self.expected_len {
                    self.timeout_deadline = None;
                    self.ttl_deadline = None;
                }
                let more = flags & FLAG_MORE != 0;
                let first = !self.in_message;
                if more || !first {
                    if let Err(err) = self.count_part(first, size) {
                        self.failed = Some(err.clone());
                        return Err(err);
                    }
                }
                self.in_message = more;
                self.expected_len = input.len() - total;
                return Ok(Input::Data {
                    first,
                    more,
                    header_len: 2,
                    size,
                });
            }
        }
        self.poll_input_general(input, now)
    }

    /// [`Connection::poll_input`] for every case (commands, long frames, incomplete frames,
    /// errors).
    #[inline(never)]
    fn poll_input_general(
        &mut self,
        input: &mut BytesMut,
        now: Instant,
    ) -> Result<Input, ConnectionError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if input.len() > self.expected_len {
            self.timeout_deadline = None;
            self.ttl_deadline = None;
        }
        let result = self.decode(input, now);
        match &result {
            Ok(Input::Data {
                header_len, size, ..
            }) => {
                self.expected_len = input.len().saturating_sub(header_len.saturating_add(*size));
            }
            Ok(_) => self.expected_len = input.len(),
            Err(err) => self.failed = Some(err.clone()),
        }
        result
    }

    /// The body of [`Connection::poll_input`]; errors are recorded by the
    /// caller.
    fn decode(&mut self, input: &mut BytesMut, now: Instant) -> Result<Input, ConnectionError> {
        loop {
            let Some(header) = self.decoder.parse_header(input)? else {
                return Ok(Input::NeedMore { need: 0 });
            };
            // Below 2^63 (and the size limit), but maybe not addressable on
            // a 32-bit target: such a frame could never be buffered.
            let size = usize::try_from(header.size)
                .map_err(|_| FrameError::SizeOutOfRange(header.size))?;
            let total = size
                .checked_add(header.header_len)
                .ok_or(FrameError::SizeOutOfRange(header.size))?;
            if input.len() < total {
                return Ok(Input::NeedMore { need: total });
            }
            if !header.command {
                let first = !self.in_message;
                if header.more || !first {
                    self.count_part(first, size)?;
                }
                self.in_message = header.more;
                return Ok(Input::Data {
                    first,
                    more: header.more,
                    header_len: header.header_len,
                    size,
                });
            }
            input.advance(header.header_len);
            let body = input.split_to(size).freeze();
            if let Some(item) = self.on_command(&body, now)? {
                return Ok(item);
            }
        }
    }

    /// Handles one command body; returns what the caller must see, if
    /// anything.
    fn on_command(&mut self, body: &Bytes, now: Instant) -> Result<Option<Input>, ConnectionError> {
        let (name, _) = split_command(body)?;
        if ![PING, PONG, ERROR, SUBSCRIBE, CANCEL].contains(&name.as_ref()) {
            // Unknown, or READY/mechanism commands that mean nothing now:
            // ignored, as libzmq does.
            return Ok(None);
        }
        match Command::parse(body)? {
            Command::Ping { ttl, context } => {
                if ttl > 0 {
                    let ttl = Duration::from_millis(u64::from(ttl) * 100);
                    self.ttl_deadline = now.checked_add(ttl);
                }
                if !self.closing {
                    if self.pending_pongs.len() == MAX_PENDING_PONGS {
                        self.pending_pongs.pop_front();
                    }
                    self.pending_pongs.push_back(PongContext::new(&context));
                }
                Ok(None)
            }
            Command::Error { reason } => Err(ConnectionError::PeerError { reason }),
            Command::Subscribe(topic) => Ok(Some(Input::Subscribe(topic))),
            Command::Cancel(topic) => Ok(Some(Input::Cancel(topic))),
            // PONG: a sign of life, already counted as new input.
            _ => Ok(None),
        }
    }

    /// Appends the queued command frames to `out`: the PONGs answering the
    /// PINGs since the last call (the latest [`MAX_PENDING_PONGS`]), our PING, and the ERROR queued by
    /// [`Connection::send_error`], in that order. Each is a complete frame,
    /// so `out` may be sent between any two frames of the outgoing stream.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        for pong in self.pending_pongs.drain(..) {
            push_command(out, PONG, &[pong.as_slice()]);
        }
        if std::mem::take(&mut self.pending_ping) {
            push_command(out, PING, &[&self.ping_ttl.to_be_bytes()]);
        }
        if let Some(reason) = self.pending_error.take() {
            // `send_error` cut the reason to 255 bytes.
            let len = u8::try_from(reason.len()).unwrap_or(u8::MAX);
            push_command(out, ERROR, &[&[len], &reason]);
        }
    }

    /// Whether [`Connection::poll_transmit`] has bytes to hand out.
    pub fn has_pending_transmit(&self) -> bool {
        !self.pending_pongs.is_empty() || self.pending_ping || self.pending_error.is_some()
    }

    /// Handles timers at `now`: fails with
    /// [`ConnectionError::HeartbeatTimeout`] if nothing arrived within the
    /// heartbeat timeout after our PING, or with
    /// [`ConnectionError::TtlExpired`] if nothing arrived within the TTL of
    /// the peer's last PING; otherwise queues a PING if the interval
    /// elapsed (then drain [`Connection::poll_transmit`]).
    ///
    /// Calling it early, or more often than needed, is harmless. Errors are
    /// final, as for [`Connection::poll_input`].
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ConnectionError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let err = if self.timeout_deadline.is_some_and(|at| now >= at) {
            Some(ConnectionError::HeartbeatTimeout)
        } else if self.ttl_deadline.is_some_and(|at| now >= at) {
            Some(ConnectionError::TtlExpired)
        } else {
            None
        };
        if let Some(err) = err {
            self.failed = Some(err.clone());
            return Err(err);
        }
        if let (Some(ivl), Some(at)) = (self.heartbeat_ivl, self.next_ping) {
            if now >= at {
                self.next_ping = now.checked_add(ivl);
                self.pending_ping = true;
                if self.timeout_deadline.is_none() {
                    self.timeout_deadline = self
                        .heartbeat_timeout
                        .and_then(|timeout| now.checked_add(timeout));
                }
            }
        }
        Ok(())
    }

    /// The next instant at which [`Connection::handle_timeout`] must be
    /// called (the next PING, the heartbeat timeout or the peer's TTL), or
    /// `None` if no timer is running. Changes after every call that takes a
    /// `now`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed.is_some() {
            return None;
        }
        [self.next_ping, self.timeout_deadline, self.ttl_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Appends the wire form of a subscription (`subscribe == true`) or a
    /// cancellation of `topic` for this peer: a SUBSCRIBE or CANCEL command
    /// frame for ZMTP 3.1 peers, a single-frame data message made of a 1
    /// (subscribe) or 0 (cancel) byte followed by the topic for ZMTP 3.0
    /// peers (as libzmq 4.3's encoders do).
    pub fn encode_subscription(&self, subscribe: bool, topic: &[u8], out: &mut Vec<u8>) {
        if self.peer_minor >= 1 {
            let name = if subscribe { SUBSCRIBE } else { CANCEL };
            push_command(out, name, &[topic]);
        } else {
            let mut header = [0u8; MAX_HEADER_LEN];
            let header_len =
                encode_header(&mut header, false, false, topic.len().saturating_add(1));
            out.reserve(header_len.saturating_add(topic.len()).saturating_add(1));
            out.extend_from_slice(header.get(..header_len).unwrap_or(&header));
            out.push(u8::from(subscribe));
            out.extend_from_slice(topic);
        }
    }

    /// Queues an ERROR command with `reason` (cut to 255 bytes), e.g. before
    /// closing on a protocol error. From then on no PING or PONG is sent
    /// (pending ones are dropped), so the ERROR is the last frame
    /// [`Connection::poll_transmit`] produces. A second call replaces an
    /// ERROR not yet handed out.
    pub fn send_error(&mut self, reason: &[u8]) {
        let reason = reason.get(..MAX_ERROR_REASON).unwrap_or(reason);
        self.pending_error = Some(Bytes::copy_from_slice(reason));
        self.pending_pongs.clear();
        self.pending_ping = false;
        self.next_ping = None;
        self.closing = true;
    }
}

/// Appends a command frame: header, name length, `name` (at most 255
/// bytes), then `parts` back to back.
fn push_command(out: &mut Vec<u8>, name: &[u8], parts: &[&[u8]]) {
    let name = name.get(..usize::from(u8::MAX)).unwrap_or(name);
    let data_len = parts
        .iter()
        .fold(0usize, |len, part| len.saturating_add(part.len()));
    let body_len = data_len.saturating_add(1 + name.len());
    let mut header = [0u8; MAX_HEADER_LEN];
    let header_len = encode_header(&mut header, false, true, body_len);
    out.reserve(header_len.saturating_add(body_len));
    out.extend_from_slice(header.get(..header_len).unwrap_or(&header));
    out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(name);
    for part in parts {
        out.extend_from_slice(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CommandError;
    use crate::frame::encode_frame;
    use proptest::prelude::*;

    const SEC: Duration = Duration::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// What a caller sees, with data bodies taken out of the buffer.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Item {
        Data {
            first: bool,
            more: bool,
            body: Vec<u8>,
        },
        Subscribe(Vec<u8>),
        Cancel(Vec<u8>),
    }

    fn data(first: bool, more: bool, body: &[u8]) -> Item {
        Item::Data {
            first,
            more,
            body: body.to_vec(),
        }
    }

    /// Calls `poll_input` until `NeedMore`, removing data frames as a
    /// caller would. Returns the items and the final `need`.
    fn drain(
        conn: &mut Connection,
        input: &mut BytesMut,
        now: Instant,
    ) -> Result<(Vec<Item>, usize), ConnectionError> {
        let mut items = Vec::new();
        loop {
            match conn.poll_input(input, now)? {
                Input::NeedMore { need } => return Ok((items, need)),
                Input::Data {
                    first,
                    more,
                    header_len,
                    size,
                } => {
                    assert!(input.len() >= header_len + size);
                    let body = input[header_len..header_len + size].to_vec();
                    input.advance(header_len + size);
                    items.push(Item::Data { first, more, body });
                }
                Input::Subscribe(topic) => items.push(Item::Subscribe(topic.to_vec())),
                Input::Cancel(topic) => items.push(Item::Cancel(topic.to_vec())),
            }
        }
    }

    fn drain_items(conn: &mut Connection, input: &mut BytesMut, now: Instant) -> Vec<Item> {
        drain(conn, input, now).unwrap().0
    }

    fn command(cmd: &Command) -> Vec<u8> {
        let mut out = Vec::new();
        cmd.encode(&mut out);
        out
    }

    fn ping(ttl: u16, context: &[u8]) -> Vec<u8> {
        command(&Command::Ping {
            ttl,
            context: Bytes::copy_from_slice(context),
        })
    }

    fn pong(context: &[u8]) -> Vec<u8> {
        command(&Command::Pong {
            context: Bytes::copy_from_slice(context),
        })
    }

    /// A command frame with a raw body.
    fn raw_command(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, false, true, body);
        out
    }

    fn frame(more: bool, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, more, false, body);
        out
    }

    fn transmit(conn: &mut Connection) -> Vec<u8> {
        let mut out = Vec::new();
        conn.poll_transmit(&mut out);
        assert!(!conn.has_pending_transmit());
        out
    }

    fn heartbeat_config(ivl: Duration) -> ConnectionConfig {
        ConnectionConfig {
            heartbeat_ivl: Some(ivl),
            ..ConnectionConfig::new(1)
        }
    }

    /// A stream of three messages with commands between and inside them,
    /// and the items it must decode to.
    fn sample_stream() -> (Vec<u8>, Vec<Item>) {
        let mut wire = Vec::new();
        wire.extend(frame(true, b"a"));
        wire.extend(ping(0, b"ctx"));
        wire.extend(frame(true, b""));
        wire.extend(command(&Command::Unknown {
            name: Bytes::from_static(b"JOIN"),
            body: Bytes::from_static(b"group"),
        }));
        wire.extend(frame(false, &[7u8; 300]));
        wire.extend(frame(false, b"single"));
        wire.extend(command(&Command::Subscribe(Bytes::from_static(b"topic"))));
        wire.extend(frame(true, &[1u8; 256]));
        wire.extend(pong(b"x"));
        wire.extend(frame(true, b"mid"));
        wire.extend(command(&Command::Cancel(Bytes::from_static(b"topic"))));
        wire.extend(frame(false, b"end"));
        let items = vec![
            data(true, true, b"a"),
            data(false, true, b""),
            data(false, false, &[7u8; 300]),
            data(true, false, b"single"),
            Item::Subscribe(b"topic".to_vec()),
            data(true, true, &[1u8; 256]),
            data(false, true, b"mid"),
            Item::Cancel(b"topic".to_vec()),
            data(false, false, b"end"),
        ];
        (wire, items)
    }

    #[test]
    fn multipart_flags_in_one_read() {
        let (wire, expected) = sample_stream();
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&wire[..]);
        let (items, need) = drain(&mut conn, &mut input, t0).unwrap();
        assert_eq!(items, expected);
        assert_eq!(need, 0);
        assert!(input.is_empty());
        assert!(!conn.in_message());
        // The PING inside the first message was answered.
        assert_eq!(transmit(&mut conn), pong(b"ctx"));
    }

    #[test]
    fn multipart_flags_split_at_every_byte() {
        let (wire, expected) = sample_stream();
        let t0 = Instant::now();
        for cut in 0..=wire.len() {
            let mut conn = Connection::new(ConnectionConfig::new(1), t0);
            let mut input = BytesMut::from(&wire[..cut]);
            let mut items = drain_items(&mut conn, &mut input, t0);
            input.extend_from_slice(&wire[cut..]);
            items.extend(drain_items(&mut conn, &mut input, t0));
            assert_eq!(items, expected, "cut at {cut}");
            assert!(input.is_empty());
        }
        // And one byte per read.
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::new();
        let mut items = Vec::new();
        for &byte in &wire {
            input.extend_from_slice(&[byte]);
            items.extend(drain_items(&mut conn, &mut input, t0));
        }
        assert_eq!(items, expected);
    }

    #[test]
    fn need_more_reports_frame_length() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::new();
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 0 })
        );
        input.extend_from_slice(&[0x01]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 0 })
        );
        input.extend_from_slice(&[0x03, b'a']);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 5 })
        );
        // Long header, incomplete, then complete with a partial body.
        let mut input = BytesMut::from(&[0x02, 0, 0, 0][..]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 0 })
        );
        let mut input = BytesMut::from(&frame(false, &[0u8; 300])[..100]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 309 })
        );
        // A command's length is reported the same way.
        let mut input = BytesMut::from(&ping(1, b"")[..4]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 9 })
        );
    }

    #[test]
    fn data_frame_layout() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&frame(false, &[5u8; 300])[..]);
        input.extend_from_slice(b"\x00"); // start of the next frame
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::Data {
                first: true,
                more: false,
                header_len: 9,
                size: 300
            })
        );
    }

    #[test]
    fn calling_again_without_consuming() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        // A single-frame message comes back identical, as many times as
        // asked, and nothing is consumed.
        let mut input = BytesMut::from(&frame(false, b"abc")[..]);
        let item = conn.poll_input(&mut input, t0).unwrap();
        for _ in 0..3 {
            assert_eq!(conn.poll_input(&mut input, t0), Ok(item.clone()));
            assert_eq!(input.len(), 5);
        }
        // The documented way to defer the first frame of a message: check
        // `in_message` first (false: the next data frame starts a message).
        input.clear();
        input.extend_from_slice(&frame(true, b"head"));
        input.extend_from_slice(&frame(false, b"tail"));
        assert!(!conn.in_message());
        // Or keep the Data item: the frame stays at the front until removed.
        let head = conn.poll_input(&mut input, t0).unwrap();
        assert!(matches!(
            head,
            Input::Data {
                first: true,
                more: true,
                ..
            }
        ));
        assert!(conn.in_message());
        let Input::Data {
            header_len, size, ..
        } = head
        else {
            unreachable!()
        };
        assert_eq!(&input[header_len..header_len + size], b"head");
        input.advance(header_len + size);
        assert_eq!(
            drain_items(&mut conn, &mut input, t0),
            [data(false, false, b"tail")]
        );
    }

    #[test]
    fn ping_answered_with_pong_echoing_context() {
        let t0 = Instant::now();
        // Two connections wired together: A pings B with a context.
        let mut a = Connection::new(ConnectionConfig::new(1), t0);
        let mut b = Connection::new(ConnectionConfig::new(1), t0);
        let mut to_b = BytesMut::from(&ping(0, b"hello-context")[..]);
        assert_eq!(drain(&mut b, &mut to_b, t0), Ok((vec![], 0)));
        assert!(b.has_pending_transmit());
        let reply = transmit(&mut b);
        assert_eq!(reply, b"\x04\x12\x04PONGhello-context");
        assert_eq!(reply, pong(b"hello-context"));
        // A takes the PONG as a sign of life and nothing else.
        let mut to_a = BytesMut::from(&reply[..]);
        assert_eq!(drain(&mut a, &mut to_a, t0), Ok((vec![], 0)));
        assert!(to_a.is_empty());
        assert!(!a.has_pending_transmit());
        // Empty context, and one cut to 16 bytes (libzmq's test_heartbeats).
        let mut to_b = BytesMut::from(&ping(1, b"")[..]);
        drain(&mut b, &mut to_b, t0).unwrap();
        assert_eq!(transmit(&mut b), b"\x04\x05\x04PONG");
        let long: Vec<u8> = (0..58).collect();
        let mut body = b"\x04PING\x00\x01".to_vec();
        body.extend_from_slice(&long);
        let mut to_b = BytesMut::from(&raw_command(&body)[..]);
        drain(&mut b, &mut to_b, t0).unwrap();
        assert_eq!(transmit(&mut b), pong(&long[..16]));
    }

    #[test]
    fn each_ping_of_one_read_is_answered() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        // libzmq's test_heartbeats mock: two PINGs back to back, two PONGs expected.
        let mut input = BytesMut::new();
        input.extend_from_slice(&ping(0, b"LOL"));
        input.extend_from_slice(&ping(0, &[b'z'; 58]));
        drain(&mut conn, &mut input, t0).unwrap();
        let mut expected = pong(b"LOL");
        expected.extend_from_slice(&pong(&[b'z'; 16]));
        assert_eq!(transmit(&mut conn), expected);
    }

    #[test]
    fn pending_pongs_are_bounded_after_many_pings() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::new();
        for i in 0u32..1000 {
            input.extend_from_slice(&ping(0, &i.to_be_bytes()));
            // Some in one read, some spread over reads.
            if i % 7 == 0 {
                drain(&mut conn, &mut input, t0).unwrap();
            }
        }
        drain(&mut conn, &mut input, t0).unwrap();
        assert!(input.is_empty());
        // The PONGs of the latest PINGs only.
        let expected: Vec<u8> = (1000 - MAX_PENDING_PONGS as u32..1000)
            .flat_map(|i| pong(&i.to_be_bytes()))
            .collect();
        assert_eq!(transmit(&mut conn), expected);
        assert_eq!(transmit(&mut conn), b"");
    }

    #[test]
    fn heartbeat_ping_sent_every_interval() {
        let t0 = Instant::now();
        let mut conn = Connection::new(
            ConnectionConfig {
                heartbeat_ttl: Some(ms(3000)),
                heartbeat_timeout: Some(ms(10_000)),
                ..heartbeat_config(SEC)
            },
            t0,
        );
        assert_eq!(conn.poll_timeout(), Some(t0 + SEC));
        // Early calls do nothing.
        conn.handle_timeout(t0 + ms(999)).unwrap();
        assert!(!conn.has_pending_transmit());
        conn.handle_timeout(t0 + SEC).unwrap();
        assert!(conn.has_pending_transmit());
        // TTL 3 s = 30 deciseconds, empty context.
        assert_eq!(transmit(&mut conn), b"\x04\x07\x04PING\x00\x1e");
        assert_eq!(transmit(&mut conn), b"");
        // Next PING one interval later; the timeout (10 s) is further away.
        assert_eq!(conn.poll_timeout(), Some(t0 + 2 * SEC));
        // Keep the connection alive with input and check the period.
        let mut pings = 0;
        let mut input = BytesMut::new();
        for step in 1..=40u32 {
            let now = t0 + SEC + ms(250) * step;
            input.extend_from_slice(&pong(b""));
            drain(&mut conn, &mut input, now).unwrap();
            conn.handle_timeout(now).unwrap();
            if !transmit(&mut conn).is_empty() {
                pings += 1;
            }
        }
        assert_eq!(pings, 10);
        assert!(conn.error().is_none());
    }

    #[test]
    fn late_timer_sends_one_ping() {
        let t0 = Instant::now();
        let mut conn = Connection::new(heartbeat_config(SEC), t0);
        // Woken up very late: one PING, and the next is an interval away.
        conn.handle_timeout(t0 + 10 * SEC).unwrap();
        conn.handle_timeout(t0 + 10 * SEC).unwrap();
        assert_eq!(transmit(&mut conn), ping(0, b""));
        assert_eq!(conn.poll_timeout(), Some(t0 + 11 * SEC));
    }

    #[test]
    fn heartbeat_timeout_when_nothing_arrives() {
        let t0 = Instant::now();
        let mut conn = Connection::new(
            ConnectionConfig {
                heartbeat_timeout: Some(ms(500)),
                ..heartbeat_config(SEC)
            },
            t0,
        );
        conn.handle_timeout(t0 + SEC).unwrap();
        assert_eq!(transmit(&mut conn), ping(0, b""));
        assert_eq!(conn.poll_timeout(), Some(t0 + ms(1500)));
        conn.handle_timeout(t0 + ms(1499)).unwrap();
        assert_eq!(
            conn.handle_timeout(t0 + ms(1500)),
            Err(ConnectionError::HeartbeatTimeout)
        );
        // Final: every call reports it, and no timer is left.
        assert_eq!(conn.error(), Some(&ConnectionError::HeartbeatTimeout));
        assert_eq!(conn.poll_timeout(), None);
        let mut input = BytesMut::from(&frame(false, b"late")[..]);
        assert_eq!(
            conn.poll_input(&mut input, t0 + 2 * SEC),
            Err(ConnectionError::HeartbeatTimeout)
        );
        assert_eq!(
            conn.handle_timeout(t0 + 3 * SEC),
            Err(ConnectionError::HeartbeatTimeout)
        );
    }

    #[test]
    fn heartbeat_timeout_defaults_to_interval() {
        let t0 = Instant::now();
        let mut conn = Connection::new(heartbeat_config(SEC), t0);
        conn.handle_timeout(t0 + SEC).unwrap();
        assert_eq!(conn.poll_timeout(), Some(t0 + 2 * SEC));
        // The next PING is due at the same instant: the timeout wins.
        assert_eq!(
            conn.handle_timeout(t0 + 2 * SEC),
            Err(ConnectionError::HeartbeatTimeout)
        );
        // A zero timeout disables it.
        let mut conn = Connection::new(
            ConnectionConfig {
                heartbeat_timeout: Some(Duration::ZERO),
                ..heartbeat_config(SEC)
            },
            t0,
        );
        for s in 1..100 {
            conn.handle_timeout(t0 + SEC * s).unwrap();
        }
    }

    #[test]
    fn timeout_cancelled_by_any_input() {
        let t0 = Instant::now();
        let config = ConnectionConfig {
            heartbeat_timeout: Some(ms(500)),
            ..heartbeat_config(SEC)
        };
        // A PONG, a data frame, an unknown command, or a single byte of a
        // frame header: each is a sign of life.
        let inputs: [&[u8]; 4] = [&pong(b""), &frame(false, b"x"), b"\x04\x03\x02HI", b"\x02"];
        for bytes in inputs {
            let mut conn = Connection::new(config.clone(), t0);
            conn.handle_timeout(t0 + SEC).unwrap();
            let mut input = BytesMut::from(bytes);
            drain(&mut conn, &mut input, t0 + ms(1200)).unwrap();
            // Only the next PING is pending.
            assert_eq!(conn.poll_timeout(), Some(t0 + 2 * SEC), "{bytes:?}");
            conn.handle_timeout(t0 + ms(1500)).unwrap();
            conn.handle_timeout(t0 + ms(1999)).unwrap();
        }
        // Calling poll_input again without new bytes is no sign of life.
        let mut conn = Connection::new(config, t0);
        let mut input = BytesMut::from(&b"\x02\x00"[..]);
        drain(&mut conn, &mut input, t0).unwrap();
        conn.handle_timeout(t0 + SEC).unwrap();
        drain(&mut conn, &mut input, t0 + ms(1200)).unwrap();
        assert_eq!(
            conn.handle_timeout(t0 + ms(1500)),
            Err(ConnectionError::HeartbeatTimeout)
        );
    }

    /// One turn of a wired connection: read its input, run its timers,
    /// send what it queued to the other side.
    fn step_side(conn: &mut Connection, input: &mut BytesMut, out: &mut BytesMut, now: Instant) {
        drain(conn, input, now).unwrap();
        conn.handle_timeout(now).unwrap();
        let mut bytes = Vec::new();
        conn.poll_transmit(&mut bytes);
        out.extend_from_slice(&bytes);
    }

    #[test]
    fn wired_heartbeats_keep_both_sides_alive() {
        let t0 = Instant::now();
        let config = ConnectionConfig {
            heartbeat_ttl: Some(ms(2500)),
            ..heartbeat_config(SEC)
        };
        let mut a = Connection::new(config.clone(), t0);
        let mut b = Connection::new(config, t0 + ms(300));
        let (mut to_a, mut to_b) = (BytesMut::new(), BytesMut::new());
        for step in 0..200u32 {
            let now = t0 + ms(100) * step;
            step_side(&mut a, &mut to_a, &mut to_b, now);
            step_side(&mut b, &mut to_b, &mut to_a, now);
        }
        // Then B goes silent: A's heartbeat timeout fires within an
        // interval plus the timeout.
        let mut now = t0 + ms(20_000);
        let err = loop {
            drain(&mut a, &mut to_a, now).unwrap();
            if let Err(err) = a.handle_timeout(now) {
                break err;
            }
            a.poll_transmit(&mut Vec::new());
            now += ms(100);
        };
        assert!(err == ConnectionError::HeartbeatTimeout || err == ConnectionError::TtlExpired);
        assert!(now <= t0 + ms(22_600), "{:?}", now - t0);
    }

    #[test]
    fn peer_ttl_expiry() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        // TTL 10 deciseconds = 1 s from when the PING is received.
        let mut input = BytesMut::from(&ping(10, b"")[..]);
        drain(&mut conn, &mut input, t0 + SEC).unwrap();
        assert_eq!(conn.poll_timeout(), Some(t0 + 2 * SEC));
        conn.handle_timeout(t0 + ms(1999)).unwrap();
        assert_eq!(
            conn.handle_timeout(t0 + 2 * SEC),
            Err(ConnectionError::TtlExpired)
        );
        assert_eq!(
            conn.poll_input(&mut BytesMut::new(), t0),
            Err(ConnectionError::TtlExpired)
        );

        // Input after the PING cancels it.
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&ping(10, b"")[..]);
        drain(&mut conn, &mut input, t0).unwrap();
        input.extend_from_slice(&frame(false, b"alive"));
        drain(&mut conn, &mut input, t0 + ms(900)).unwrap();
        assert_eq!(conn.poll_timeout(), None);
        conn.handle_timeout(t0 + 5 * SEC).unwrap();

        // Each PING re-arms it from its own arrival.
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&ping(10, b"")[..]);
        drain(&mut conn, &mut input, t0).unwrap();
        input.extend_from_slice(&ping(20, b""));
        drain(&mut conn, &mut input, t0 + ms(500)).unwrap();
        assert_eq!(conn.poll_timeout(), Some(t0 + ms(2500)));

        // TTL 0 arms nothing; the largest TTL does not overflow.
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&ping(0, b"")[..]);
        drain(&mut conn, &mut input, t0).unwrap();
        assert_eq!(conn.poll_timeout(), None);
        input.extend_from_slice(&ping(u16::MAX, b""));
        drain(&mut conn, &mut input, t0).unwrap();
        assert_eq!(conn.poll_timeout(), Some(t0 + ms(6_553_500)));
    }

    #[test]
    fn our_ttl_in_deciseconds() {
        let ttl = |d: Option<Duration>| {
            ConnectionConfig {
                heartbeat_ttl: d,
                ..ConnectionConfig::new(1)
            }
            .ping_ttl()
        };
        assert_eq!(ttl(None), 0);
        assert_eq!(ttl(Some(ms(99))), 0);
        assert_eq!(ttl(Some(ms(150))), 1);
        assert_eq!(ttl(Some(SEC)), 10);
        assert_eq!(ttl(Some(ms(6_553_500))), u16::MAX);
        assert_eq!(ttl(Some(Duration::from_secs(36_000))), u16::MAX);
        assert_eq!(ttl(Some(Duration::MAX)), u16::MAX);
    }

    #[test]
    fn no_heartbeats_no_timers() {
        let t0 = Instant::now();
        for ivl in [None, Some(Duration::ZERO)] {
            let mut conn = Connection::new(
                ConnectionConfig {
                    heartbeat_ivl: ivl,
                    heartbeat_ttl: Some(SEC),
                    ..ConnectionConfig::new(1)
                },
                t0,
            );
            assert_eq!(conn.poll_timeout(), None);
            conn.handle_timeout(t0 + 1000 * SEC).unwrap();
            assert!(!conn.has_pending_transmit());
        }
        // An interval that overflows Instant disables the PING.
        let conn = Connection::new(heartbeat_config(Duration::MAX), t0);
        assert_eq!(conn.poll_timeout(), None);
    }

    #[test]
    fn error_from_peer() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::new();
        input.extend_from_slice(&frame(false, b"before"));
        input.extend_from_slice(&command(&Command::Error {
            reason: Bytes::from_static(b"go away"),
        }));
        input.extend_from_slice(&frame(false, b"after"));
        let err = drain(&mut conn, &mut input, t0).unwrap_err();
        assert_eq!(
            err,
            ConnectionError::PeerError {
                reason: Bytes::from_static(b"go away")
            }
        );
        assert_eq!(err.to_string(), "peer sent ERROR \"go away\"");
        assert_eq!(conn.error(), Some(&err));
        assert_eq!(conn.poll_input(&mut input, t0), Err(err));
    }

    #[test]
    fn malformed_commands_rejected() {
        let t0 = Instant::now();
        let cases: [(&[u8], &str); 9] = [
            (b"", "empty command body"),
            (b"\x00PING\x00\x01", "zero-length command name"),
            (b"\x09PING", "command name longer than the frame"),
            (b"\x04PI1G", "command name is not made of letters"),
            (b"\x04PING", "PING without a 2-byte TTL"),
            (b"\x04PING\x00", "PING without a 2-byte TTL"),
            (b"\x05ERROR", "ERROR without a reason length"),
            (b"\x05ERROR\x09short", "ERROR reason longer than the frame"),
            (b"\x05ERROR\x01", "ERROR reason longer than the frame"),
        ];
        for (body, why) in cases {
            let mut conn = Connection::new(ConnectionConfig::new(1), t0);
            let mut input = BytesMut::from(&frame(false, b"ok")[..]);
            input.extend_from_slice(&raw_command(body));
            let err = drain(&mut conn, &mut input, t0).unwrap_err();
            assert_eq!(
                err,
                ConnectionError::Command(CommandError::Malformed(why)),
                "{body:?}"
            );
            assert!(err.to_string().contains(why));
        }
        // COMMAND with MORE is refused from the flags byte.
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&b"\x05"[..]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::CommandWithMore))
        );
    }

    #[test]
    fn unknown_commands_ignored() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::new();
        for body in [
            &b"\x04JOIN\x05group"[..],
            b"\x05LEAVE",
            // Names are case-sensitive: these are not PING/ERROR.
            b"\x04ping",
            b"\x05error\xff",
            // READY means nothing after the handshake, even malformed.
            b"\x05READY\x00\x00",
            b"\x05HELLO",
        ] {
            input.extend_from_slice(&raw_command(body));
        }
        let mut long_body = b"\x07MESSAGE".to_vec();
        long_body.extend_from_slice(&[0xAB; 1000]);
        input.extend_from_slice(&raw_command(&long_body));
        input.extend_from_slice(&frame(false, b"data"));
        // All skipped in the same call that returns the data frame.
        let Input::Data { first, size, .. } = conn.poll_input(&mut input, t0).unwrap() else {
            panic!("expected data")
        };
        assert!(first && size == 4);
        assert_eq!(input.len(), 6);
        assert!(!conn.has_pending_transmit());
    }

    #[test]
    fn subscribe_and_cancel_decoded() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::new();
        input.extend_from_slice(&command(&Command::Subscribe(Bytes::from_static(b"A"))));
        input.extend_from_slice(&command(&Command::Subscribe(Bytes::new())));
        input.extend_from_slice(&command(&Command::Cancel(Bytes::from(vec![0u8; 300]))));
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::Subscribe(Bytes::from_static(b"A")))
        );
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::Subscribe(Bytes::new()))
        );
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::Cancel(Bytes::from(vec![0u8; 300])))
        );
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::NeedMore { need: 0 })
        );
        // A ZMTP 3.0 peer should not send them, but they are decoded anyway
        // (libzmq 4.3 does not look at the version either).
        let mut conn = Connection::new(ConnectionConfig::new(0), t0);
        let mut input = BytesMut::from(&command(&Command::Cancel(Bytes::from_static(b"x")))[..]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Ok(Input::Cancel(Bytes::from_static(b"x")))
        );
    }

    #[test]
    fn encode_subscription_by_peer_version() {
        let t0 = Instant::now();
        let v31 = Connection::new(ConnectionConfig::new(1), t0);
        let v32 = Connection::new(ConnectionConfig::new(2), t0);
        let v30 = Connection::new(ConnectionConfig::new(0), t0);
        assert_eq!(v30.peer_minor(), 0);
        assert_eq!(v31.peer_minor(), 1);

        let mut out = Vec::new();
        v31.encode_subscription(true, b"A", &mut out);
        assert_eq!(out, b"\x04\x0b\x09SUBSCRIBEA");
        out.clear();
        v32.encode_subscription(false, b"", &mut out);
        assert_eq!(out, b"\x04\x07\x06CANCEL");
        out.clear();
        v30.encode_subscription(true, b"A", &mut out);
        assert_eq!(out, b"\x00\x02\x01A");
        out.clear();
        v30.encode_subscription(false, b"AB", &mut out);
        assert_eq!(out, b"\x00\x03\x00AB");

        // What the other side decodes, with long topics too.
        let long = vec![b't'; 300];
        for topic in [&b""[..], b"topic", &long] {
            let mut wire = Vec::new();
            v31.encode_subscription(true, topic, &mut wire);
            v31.encode_subscription(false, topic, &mut wire);
            let mut rx = Connection::new(ConnectionConfig::new(1), t0);
            let mut input = BytesMut::from(&wire[..]);
            assert_eq!(
                drain_items(&mut rx, &mut input, t0),
                [
                    Item::Subscribe(topic.to_vec()),
                    Item::Cancel(topic.to_vec())
                ]
            );

            let mut wire = Vec::new();
            v30.encode_subscription(true, topic, &mut wire);
            v30.encode_subscription(false, topic, &mut wire);
            let mut rx = Connection::new(ConnectionConfig::new(0), t0);
            let mut input = BytesMut::from(&wire[..]);
            let mut sub = vec![1u8];
            sub.extend_from_slice(topic);
            let mut cancel = vec![0u8];
            cancel.extend_from_slice(topic);
            assert_eq!(
                drain_items(&mut rx, &mut input, t0),
                [data(true, false, &sub), data(true, false, &cancel)]
            );
        }
    }

    #[test]
    fn max_frame_size_enforced_from_header() {
        let t0 = Instant::now();
        let config = ConnectionConfig {
            max_frame_size: Some(10),
            ..ConnectionConfig::new(1)
        };
        let mut conn = Connection::new(config.clone(), t0);
        let mut input = BytesMut::from(&frame(false, &[0u8; 10])[..]);
        assert_eq!(drain_items(&mut conn, &mut input, t0).len(), 1);
        // Only the header of an 11-byte frame: refused at once.
        input.extend_from_slice(&[0x01, 11]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::TooLarge {
                size: 11,
                max: 10
            }))
        );
        let mut conn = Connection::new(config.clone(), t0);
        let mut input = BytesMut::from(&[0x02, 0, 0, 1, 0, 0, 0, 0, 0][..]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::TooLarge {
                size: 1 << 40,
                max: 10
            }))
        );
        // Commands too, as libzmq.
        let mut conn = Connection::new(config, t0);
        let mut input = BytesMut::from(&ping(0, &[0u8; 16])[..2]);
        assert!(matches!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::TooLarge {
                size: 23,
                ..
            }))
        ));
    }

    #[test]
    fn frames_per_message_and_bytes_per_message_are_capped() {
        let t0 = Instant::now();
        let config = ConnectionConfig {
            max_message_frames: Some(3),
            max_message_size: Some(300),
            ..ConnectionConfig::new(1)
        };
        // Three frames fit, again and again: the count starts over with each message.
        let mut conn = Connection::new(config.clone(), t0);
        let mut input = BytesMut::new();
        for _ in 0..2 {
            input.extend(frame(true, b"a"));
            input.extend(frame(true, b"b"));
            input.extend(frame(false, b"c"));
        }
        assert_eq!(drain_items(&mut conn, &mut input, t0).len(), 6);
        // A fourth frame fails the connection, short frames (the fast path) or long ones.
        for body in [&b"d"[..], &[7u8; 260][..]] {
            let mut conn = Connection::new(config.clone(), t0);
            let mut input = BytesMut::new();
            for _ in 0..3 {
                input.extend(frame(true, &body[..1]));
            }
            input.extend(frame(false, body));
            let err = loop {
                match conn.poll_input(&mut input, t0) {
                    Ok(Input::Data {
                        header_len, size, ..
                    }) => input.advance(header_len + size),
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(err) => break err,
                }
            };
            assert_eq!(
                err,
                ConnectionError::Frame(FrameError::TooManyFrames { max: 3 })
            );
            // Final: the same error again.
            assert_eq!(conn.poll_input(&mut input, t0), Err(err));
        }
        // Bytes across frames: 200 + 101 > 300, though each frame is under it.
        let mut conn = Connection::new(config.clone(), t0);
        let mut input = BytesMut::new();
        input.extend(frame(true, &[1u8; 200]));
        input.extend(frame(false, &[2u8; 101]));
        let first = conn.poll_input(&mut input, t0).unwrap();
        assert!(matches!(first, Input::Data { size: 200, .. }));
        input.advance(input.len() - frame(false, &[2u8; 101]).len());
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::MessageTooLarge {
                size: 301,
                max: 300
            }))
        );
        // A single frame over the message size is refused as a frame.
        let mut conn = Connection::new(config, t0);
        let mut input = BytesMut::from(&frame(false, &[0u8; 301])[..]);
        assert!(matches!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::TooLarge {
                size: 301,
                max: 300
            }))
        ));
    }

    #[test]
    fn huge_announced_frame_needs_more_without_allocating() {
        let t0 = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::with_capacity(16);
        input.extend_from_slice(&[0x02]);
        input.extend_from_slice(&(1u64 << 62).to_be_bytes());
        input.extend_from_slice(&[0xAA]);
        assert_eq!(input.len(), 10);
        let capacity = input.capacity();
        let result = conn.poll_input(&mut input, t0);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            result,
            Ok(Input::NeedMore {
                need: (1 << 62) + 9
            })
        );
        #[cfg(not(target_pointer_width = "64"))]
        assert_eq!(
            result,
            Err(ConnectionError::Frame(FrameError::SizeOutOfRange(1 << 62)))
        );
        assert_eq!(input.len(), 10);
        assert_eq!(input.capacity(), capacity);
        // 2^63 is outside the grammar.
        let mut conn = Connection::new(ConnectionConfig::new(1), t0);
        let mut input = BytesMut::from(&[0x02, 0x80, 0, 0, 0, 0, 0, 0, 0][..]);
        assert_eq!(
            conn.poll_input(&mut input, t0),
            Err(ConnectionError::Frame(FrameError::SizeOutOfRange(1 << 63)))
        );
    }

    #[test]
    fn send_error_is_last_frame() {
        let t0 = Instant::now();
        let mut conn = Connection::new(heartbeat_config(SEC), t0);
        let mut input = BytesMut::from(&ping(0, b"c")[..]);
        drain(&mut conn, &mut input, t0).unwrap();
        conn.handle_timeout(t0 + SEC).unwrap();
        conn.send_error(b"bad frame");
        assert!(conn.has_pending_transmit());
        assert_eq!(transmit(&mut conn), b"\x04\x10\x05ERROR\x09bad frame");
        // No more heartbeats or PONGs.
        input.extend_from_slice(&ping(0, b"d"));
        drain(&mut conn, &mut input, t0 + SEC).unwrap();
        conn.handle_timeout(t0 + 5 * SEC).unwrap();
        assert!(!conn.has_pending_transmit());
        // Long reasons are cut to 255 bytes.
        conn.send_error(&[b'r'; 300]);
        let out = transmit(&mut conn);
        let mut input = BytesMut::from(&out[..]);
        let mut rx = Connection::new(ConnectionConfig::new(1), t0);
        assert_eq!(
            rx.poll_input(&mut input, t0),
            Err(ConnectionError::PeerError {
                reason: Bytes::from(vec![b'r'; 255])
            })
        );
    }

    #[test]
    fn transmit_order_and_ping_not_duplicated() {
        let t0 = Instant::now();
        let mut conn = Connection::new(heartbeat_config(SEC), t0);
        conn.handle_timeout(t0 + SEC).unwrap();
        // Not transmitted yet: the next interval does not queue a second.
        let mut input = BytesMut::from(&pong(b"")[..]);
        drain(&mut conn, &mut input, t0 + ms(1500)).unwrap();
        conn.handle_timeout(t0 + 2 * SEC).unwrap();
        input.extend_from_slice(&ping(0, b"p"));
        drain(&mut conn, &mut input, t0 + 2 * SEC).unwrap();
        let mut expected = pong(b"p");
        expected.extend(ping(0, b""));
        assert_eq!(transmit(&mut conn), expected);
    }

    #[test]
    fn push_command_matches_command_encode() {
        let mut out = Vec::new();
        push_command(&mut out, PONG, &[b"ab"]);
        assert_eq!(out, pong(b"ab"));
        let mut out = Vec::new();
        let topic = vec![9u8; 400];
        push_command(&mut out, SUBSCRIBE, &[&topic]);
        assert_eq!(out, command(&Command::Subscribe(Bytes::from(topic))));
    }

    /// One unit of a random stream.
    #[derive(Clone, Debug)]
    enum Op {
        /// A message; a PING is slipped in after frame `ping_after`, if any.
        Message {
            frames: Vec<Vec<u8>>,
            ping_after: Option<usize>,
        },
        Subscribe(Vec<u8>),
        Cancel(Vec<u8>),
        Ping(u16, Vec<u8>),
        Pong(Vec<u8>),
        Unknown(String, Vec<u8>),
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..16),
            1 => proptest::collection::vec(any::<u8>(), 250..300),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (proptest::collection::vec(body(), 1..5), proptest::option::of(0usize..5))
                .prop_map(|(frames, ping_after)| Op::Message { frames, ping_after }),
            1 => body().prop_map(Op::Subscribe),
            1 => body().prop_map(Op::Cancel),
            1 => (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(ttl, ctx)| Op::Ping(ttl, ctx)),
            1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Op::Pong),
            1 => ("[A-Za-z]{1,12}", body()).prop_map(|(name, body)| Op::Unknown(name, body)),
        ]
    }

    /// Encodes `ops`; returns the wire bytes, the items they must decode
    /// to, and the context of the last PING.
    fn encode_ops(ops: &[Op]) -> (Vec<u8>, Vec<Item>, Vec<Vec<u8>>) {
        let mut wire = Vec::new();
        let mut items = Vec::new();
        let mut pings = Vec::new();
        for op in ops {
            match op {
                Op::Message { frames, ping_after } => {
                    for (i, f) in frames.iter().enumerate() {
                        let more = i + 1 < frames.len();
                        wire.extend(frame(more, f));
                        items.push(data(i == 0, more, f));
                        if *ping_after == Some(i) {
                            wire.extend(ping(0, b"mid"));
                            pings.push(b"mid".to_vec());
                        }
                    }
                }
                Op::Subscribe(t) => {
                    wire.extend(command(&Command::Subscribe(Bytes::copy_from_slice(t))));
                    items.push(Item::Subscribe(t.clone()));
                }
                Op::Cancel(t) => {
                    wire.extend(command(&Command::Cancel(Bytes::copy_from_slice(t))));
                    items.push(Item::Cancel(t.clone()));
                }
                Op::Ping(ttl, ctx) => {
                    wire.extend(ping(*ttl, ctx));
                    pings.push(ctx.iter().copied().take(MAX_PING_CONTEXT).collect());
                }
                Op::Pong(ctx) => wire.extend(pong(ctx)),
                Op::Unknown(name, body) => {
                    let known = ["PING", "PONG", "ERROR", "SUBSCRIBE", "CANCEL"];
                    let name = if known.contains(&name.as_str()) {
                        "X"
                    } else {
                        name
                    };
                    wire.extend(command(&Command::Unknown {
                        name: Bytes::copy_from_slice(name.as_bytes()),
                        body: Bytes::copy_from_slice(body),
                    }));
                }
            }
        }
        (wire, items, pings)
    }

    proptest! {
        #[test]
        fn random_streams_decode_in_any_chunking(
            ops in proptest::collection::vec(op(), 0..20),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let (wire, expected, pings) = encode_ops(&ops);
            let mut cuts: Vec<usize> = cuts
                .iter()
                .map(|c| if wire.is_empty() { 0 } else { c % wire.len() })
                .collect();
            cuts.push(0);
            cuts.push(wire.len());
            cuts.sort_unstable();
            let t0 = Instant::now();
            let mut conn = Connection::new(ConnectionConfig::new(1), t0);
            let mut input = BytesMut::new();
            let mut items = Vec::new();
            let mut fed = 0;
            for w in cuts.windows(2) {
                input.extend_from_slice(&wire[w[0]..w[1]]);
                fed += w[1] - w[0];
                let (got, need) = drain(&mut conn, &mut input, t0).unwrap();
                items.extend(got);
                prop_assert!(input.len() <= fed);
                prop_assert!(need == 0 || need > input.len());
            }
            prop_assert_eq!(items, expected);
            prop_assert!(input.is_empty());
            prop_assert!(!conn.in_message());
            // Every PING answered, the latest ones when more were waiting than are kept.
            let out = transmit(&mut conn);
            let kept = pings.len().saturating_sub(MAX_PENDING_PONGS);
            let answers: Vec<u8> = pings[kept..].iter().flat_map(|ctx| pong(ctx)).collect();
            prop_assert_eq!(out, answers);
        }
    }
}
