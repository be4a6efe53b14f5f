//! The connection handshake: greeting exchange, security mechanism, and
//! checks on the peer's metadata. Sans-I/O: the caller moves bytes between
//! the socket and [`Handshake::poll_transmit`] / [`Handshake::handle_input`].
//!
//! Sequence for one connection:
//!
//! 1. [`Handshake::new`] queues the 10-byte signature of our greeting; the
//!    other 54 bytes follow as soon as the peer's signature has arrived. This
//!    is libzmq's staged greeting (RFC 23's version detection): a peer that
//!    reads the signature first and answers by version (libzmq's own test
//!    suite does, on a STREAM socket) sees what it expects, and two peers
//!    never wait on each other, since each sends its signature at once.
//! 2. The peer's greeting is checked ([`GreetingError`]); its mechanism must
//!    equal ours ([`HandshakeError::MechanismMismatch`]).
//! 3. The mechanism exchanges command frames. Each frame header is checked
//!    before its body is waited for: a message frame or a command above
//!    [`MAX_HANDSHAKE_COMMAND`] fails at once, so the caller never buffers
//!    much more than a header's worth for a hostile peer.
//! 4. When the mechanism is done, the peer's metadata is checked:
//!    `Socket-Type` present, known and compatible with ours; `Identity` at
//!    most 255 bytes; neither repeated.
//!
//! [`GreetingError`]: crate::error::GreetingError

use bytes::{Buf, Bytes, BytesMut};

use crate::error::HandshakeError;
use crate::frame::FrameDecoder;
use crate::greeting::{GREETING_LEN, Greeting, MechanismName, SIGNATURE_LEN};
use crate::mechanism::{Mechanism, MechanismConfig, MechanismStatus};
use crate::metadata::Metadata;
use crate::socket_type::SocketType;

/// Largest command body accepted during the handshake: 64 KiB.
///
/// NULL READY commands are typically under 100 bytes, and a CURVE INITIATE
/// with generous metadata stays far below this; the cap bounds what a peer
/// that has not authenticated can make us buffer.
pub const MAX_HANDSHAKE_COMMAND: u64 = 64 * 1024;

/// Longest identity (routing id) RFC 37 allows.
pub const MAX_IDENTITY_LEN: usize = 255;

/// Metadata property holding the socket type.
const SOCKET_TYPE: &str = "Socket-Type";
/// Metadata property holding the identity (routing id).
const IDENTITY: &str = "Identity";

/// What this side of a connection is and announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// Our socket type, sent as `Socket-Type` and checked against the
    /// peer's.
    pub socket_type: SocketType,
    /// Our identity (routing id). Sent as `Identity` for REQ, DEALER and
    /// ROUTER even when empty, like libzmq, and for every other socket type
    /// when it is set (libzmq leaves it out there; routing peers of those
    /// types can then still tell who connected). Must be at most 255 bytes
    /// (the runtime validates `ZMQ_ROUTING_ID`; a longer one makes peers
    /// refuse us).
    pub identity: Bytes,
    /// Security mechanism.
    pub mechanism: MechanismConfig,
    /// Whether we act as server in the security handshake. Ignored by NULL,
    /// whose greeting always carries as-server 0 (RFC 37).
    pub as_server: bool,
    /// Extra properties to announce (application `X-` properties). Entries
    /// named `Socket-Type` or `Identity` are skipped: those come from the
    /// fields above.
    pub metadata: Metadata,
}

impl HandshakeConfig {
    /// A NULL-mechanism client configuration with no identity and no extra
    /// metadata.
    pub fn new(socket_type: SocketType) -> Self {
        HandshakeConfig {
            socket_type,
            identity: Bytes::new(),
            mechanism: MechanismConfig::Null,
            as_server: false,
            metadata: Metadata::new(),
        }
    }

    /// The metadata we announce: `Socket-Type`, `Identity` for the socket
    /// types that send one, then the extra properties.
    pub fn local_metadata(&self) -> Metadata {
        let mut md = Metadata::new();
        md.insert(SOCKET_TYPE, self.socket_type.as_str());
        if self.socket_type.sends_identity() || !self.identity.is_empty() {
            md.insert(IDENTITY, self.identity.clone());
        }
        for (name, value) in self.metadata.iter() {
            if !name.eq_ignore_ascii_case(SOCKET_TYPE) && !name.eq_ignore_ascii_case(IDENTITY) {
                md.insert(name, value.clone());
            }
        }
        md
    }
}

/// Who the peer turned out to be, once the handshake is complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Major version from the peer's greeting (3 or more).
    pub major: u8,
    /// Minor version from the peer's greeting.
    pub minor: u8,
    /// The peer's socket type.
    pub socket_type: SocketType,
    /// The peer's `Identity` property (empty if absent). At most 255 bytes;
    /// may start with a zero byte, which RFC 37 reserves: what to do with
    /// such an identity is the ROUTER's decision.
    pub identity: Bytes,
    /// Every property the peer announced, `Socket-Type` and `Identity`
    /// included.
    pub metadata: Metadata,
}

/// Where the handshake stands.
#[derive(Debug)]
enum State {
    /// Waiting for the peer's 64-byte greeting.
    Greeting,
    /// Exchanging mechanism commands; holds the peer's greeting version.
    Mechanism {
        /// Peer major version.
        major: u8,
        /// Peer minor version.
        minor: u8,
    },
    /// Done; the peer is known.
    Complete(PeerInfo),
    /// Failed; every further call reports this error.
    Failed(HandshakeError),
}

/// The handshake state machine for one connection.
#[derive(Debug)]
pub struct Handshake {
    /// Our socket type.
    socket_type: SocketType,
    /// Our mechanism name, compared with the peer's.
    mechanism_name: MechanismName,
    /// The mechanism state machine.
    mechanism: Box<dyn Mechanism>,
    /// Bytes waiting for `poll_transmit`.
    pending: Vec<u8>,
    /// The part of our greeting after the signature, until the peer's
    /// signature arrives.
    greeting_rest: Option<Vec<u8>>,
    /// Progress.
    state: State,
    /// Frame header parser (no size limit: the handshake applies its own).
    decoder: FrameDecoder,
}

impl Handshake {
    /// Starts a handshake; the signature of our greeting is queued for
    /// [`Handshake::poll_transmit`] at once, the rest once the peer's
    /// signature is in.
    pub fn new(config: HandshakeConfig) -> Self {
        let mechanism_name = config.mechanism.name();
        // RFC 37: with NULL the as-server field MUST be zero, whatever our
        // role (libzmq sends zero for every mechanism).
        let as_server = config.as_server && config.mechanism != MechanismConfig::Null;
        let mut greeting = Greeting::new(mechanism_name, as_server).encode();
        // The signature's padding is not significant (RFC 23); libzmq puts the length of its
        // routing id plus one there, which a ZMTP 1.0 peer would read as an identity frame.
        let padding = u64::try_from(config.identity.len()).unwrap_or(u64::MAX - 1) + 1;
        if let Some(field) = greeting.get_mut(1..9) {
            field.copy_from_slice(&padding.to_be_bytes());
        }
        let mechanism = config
            .mechanism
            .start(config.as_server, config.local_metadata());
        Handshake {
            socket_type: config.socket_type,
            mechanism_name,
            mechanism,
            pending: greeting.get(..SIGNATURE_LEN).unwrap_or_default().to_vec(),
            greeting_rest: Some(greeting.get(SIGNATURE_LEN..).unwrap_or_default().to_vec()),
            state: State::Greeting,
            decoder: FrameDecoder::new(None),
        }
    }

    /// Appends any bytes that should be sent now to `out`: on the first call
    /// the greeting's 10-byte signature; once the peer's signature is in,
    /// the rest of the greeting; after the peer's greeting has been
    /// accepted, the mechanism's commands (for NULL, our READY).
    ///
    /// Call it after every [`Handshake::handle_input`], including the one
    /// that completes the handshake: our READY may still be waiting here.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
    }

    /// Whether [`Handshake::poll_transmit`] has bytes to hand out.
    pub fn has_pending_transmit(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Consumes handshake bytes from the front of `input`: the greeting,
    /// then command frames. Stops as soon as the handshake completes, so
    /// frames that followed (the peer may send messages right after its
    /// READY) stay in `input` for the caller's frame decoder.
    ///
    /// Returns `Ok(true)` once complete, `Ok(false)` if more input is needed.
    /// Incomplete frames are left in `input` untouched. An error is final:
    /// close the connection (later calls return the same error).
    pub fn handle_input(&mut self, input: &mut BytesMut) -> Result<bool, HandshakeError> {
        match self.advance(input) {
            Ok(done) => Ok(done),
            Err(err) => {
                self.state = State::Failed(err.clone());
                Err(err)
            }
        }
    }

    /// The body of [`Handshake::handle_input`]; errors are recorded by the
    /// caller.
    fn advance(&mut self, input: &mut BytesMut) -> Result<bool, HandshakeError> {
        loop {
            match &self.state {
                State::Complete(_) => return Ok(true),
                State::Failed(err) => return Err(err.clone()),
                State::Greeting => {
                    if let (Some(signature), true) =
                        (input.get(..SIGNATURE_LEN), self.greeting_rest.is_some())
                    {
                        // A valid signature (checked here, before anything more goes out):
                        // the peer speaks a versioned ZMTP and gets the rest of our greeting.
                        Greeting::decode(signature)?;
                        if let Some(mut rest) = self.greeting_rest.take() {
                            self.pending.append(&mut rest);
                        }
                    }
                    let Some(greeting) = Greeting::decode(input)? else {
                        return Ok(false);
                    };
                    if greeting.mechanism != self.mechanism_name {
                        return Err(HandshakeError::MechanismMismatch {
                            local: self.mechanism_name,
                            peer: greeting.mechanism,
                        });
                    }
                    input.advance(GREETING_LEN);
                    self.mechanism.poll_transmit(&mut self.pending);
                    self.state = State::Mechanism {
                        major: greeting.major,
                        minor: greeting.minor,
                    };
                }
                &State::Mechanism { major, minor } => {
                    if self.mechanism.status() == MechanismStatus::Ready {
                        let peer = self.check_peer(major, minor)?;
                        self.state = State::Complete(peer);
                        continue;
                    }
                    let Some(header) = self.decoder.parse_header(input)? else {
                        return Ok(false);
                    };
                    if !header.command {
                        return Err(HandshakeError::UnexpectedDataFrame);
                    }
                    if header.size > MAX_HANDSHAKE_COMMAND {
                        return Err(HandshakeError::CommandTooLarge {
                            size: header.size,
                            max: MAX_HANDSHAKE_COMMAND,
                        });
                    }
                    // Below the cap, so this fits in usize.
                    let Some(total) = header.frame_len() else {
                        return Err(HandshakeError::CommandTooLarge {
                            size: header.size,
                            max: MAX_HANDSHAKE_COMMAND,
                        });
                    };
                    if input.len() < total {
                        return Ok(false);
                    }
                    input.advance(header.header_len);
                    let body: Bytes = input
                        .split_to(total.saturating_sub(header.header_len))
                        .freeze();
                    self.mechanism.handle_command(body)?;
                    self.mechanism.poll_transmit(&mut self.pending);
                }
            }
        }
    }

    /// Builds the peer description from the mechanism's view of the peer
    /// metadata, checking it.
    fn check_peer(&self, major: u8, minor: u8) -> Result<PeerInfo, HandshakeError> {
        let metadata = self.mechanism.peer_metadata().cloned().unwrap_or_default();
        let (socket_type, identity) = validate_peer_metadata(self.socket_type, &metadata)?;
        Ok(PeerInfo {
            major,
            minor,
            socket_type,
            identity,
            metadata,
        })
    }

    /// Whether the handshake has completed successfully.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete(_))
    }

    /// The peer, once the handshake is complete. (Make sure
    /// [`Handshake::poll_transmit`] has been drained too before treating the
    /// connection as established.)
    pub fn peer(&self) -> Option<&PeerInfo> {
        match &self.state {
            State::Complete(peer) => Some(peer),
            _ => None,
        }
    }

    /// The error the handshake failed with, if it did.
    pub fn error(&self) -> Option<&HandshakeError> {
        match &self.state {
            State::Failed(err) => Some(err),
            _ => None,
        }
    }
}

/// Checks the metadata a peer announced at the end of its handshake against
/// our socket type, and returns the peer's socket type and identity.
///
/// Used by every mechanism: `Socket-Type` must be present once, name a
/// known socket type (exact upper-case match, as libzmq) and be compatible
/// with `local`; `Identity`, if present, must appear once and be at most
/// 255 bytes.
pub fn validate_peer_metadata(
    local: SocketType,
    metadata: &Metadata,
) -> Result<(SocketType, Bytes), HandshakeError> {
    if metadata.count(SOCKET_TYPE) > 1 {
        return Err(HandshakeError::DuplicateProperty {
            name: SOCKET_TYPE.to_owned(),
        });
    }
    let name = metadata
        .get(SOCKET_TYPE)
        .ok_or(HandshakeError::MissingSocketType)?;
    let peer = SocketType::from_wire_name(name)
        .ok_or_else(|| HandshakeError::UnknownSocketType { name: name.clone() })?;
    if !local.is_compatible_with(peer) {
        return Err(HandshakeError::IncompatibleSocketType { local, peer });
    }
    if metadata.count(IDENTITY) > 1 {
        return Err(HandshakeError::DuplicateProperty {
            name: IDENTITY.to_owned(),
        });
    }
    let identity = metadata.get(IDENTITY).cloned().unwrap_or_default();
    if identity.len() > MAX_IDENTITY_LEN {
        return Err(HandshakeError::InvalidIdentity {
            len: identity.len(),
        });
    }
    Ok((peer, identity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::error::{CommandError, FrameError, GreetingError, MetadataError};
    use crate::frame::encode_frame;

    fn config(t: SocketType) -> HandshakeConfig {
        HandshakeConfig::new(t)
    }

    fn greeting(mechanism: MechanismName) -> Vec<u8> {
        Greeting::new(mechanism, false).encode().to_vec()
    }

    fn ready(props: &[(&str, &[u8])]) -> Vec<u8> {
        let mut md = Metadata::new();
        for (n, v) in props {
            md.insert(n, Bytes::copy_from_slice(v));
        }
        let mut out = Vec::new();
        Command::Ready(md).encode(&mut out);
        out
    }

    /// Raw READY with properties appended verbatim (allows duplicates).
    fn raw_ready(props: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut body = b"\x05READY".to_vec();
        for (n, v) in props {
            body.push(u8::try_from(n.len()).unwrap());
            body.extend_from_slice(n);
            body.extend_from_slice(&u32::try_from(v.len()).unwrap().to_be_bytes());
            body.extend_from_slice(v);
        }
        let mut out = Vec::new();
        encode_frame(&mut out, false, true, &body);
        out
    }

    /// Feeds `peer_bytes` to a fresh PULL handshake in one go.
    fn run_pull(peer_bytes: &[u8]) -> (Handshake, Result<bool, HandshakeError>, BytesMut) {
        let mut hs = Handshake::new(config(SocketType::Pull));
        let mut input = BytesMut::from(peer_bytes);
        let r = hs.handle_input(&mut input);
        (hs, r, input)
    }

    fn with_greeting(rest: &[u8]) -> Vec<u8> {
        let mut v = greeting(MechanismName::NULL);
        v.extend_from_slice(rest);
        v
    }

    /// Runs two handshakes against each other, passing bytes in chunks of
    /// `chunk`; returns both results once neither side makes progress.
    fn pair(
        a: HandshakeConfig,
        b: HandshakeConfig,
        chunk: usize,
    ) -> (
        Handshake,
        Handshake,
        Result<bool, HandshakeError>,
        Result<bool, HandshakeError>,
    ) {
        let mut ha = Handshake::new(a);
        let mut hb = Handshake::new(b);
        let (mut a_to_b, mut b_to_a) = (Vec::new(), Vec::new());
        let (mut in_a, mut in_b) = (BytesMut::new(), BytesMut::new());
        let (mut ra, mut rb) = (Ok(false), Ok(false));
        for _ in 0..10_000 {
            ha.poll_transmit(&mut a_to_b);
            hb.poll_transmit(&mut b_to_a);
            if a_to_b.is_empty() && b_to_a.is_empty() {
                break;
            }
            let n = chunk.min(a_to_b.len());
            in_b.extend_from_slice(&a_to_b[..n]);
            a_to_b.drain(..n);
            let n = chunk.min(b_to_a.len());
            in_a.extend_from_slice(&b_to_a[..n]);
            b_to_a.drain(..n);
            ra = ha.handle_input(&mut in_a);
            rb = hb.handle_input(&mut in_b);
        }
        (ha, hb, ra, rb)
    }

    #[test]
    fn null_handshake_push_pull() {
        for chunk in [1, 2, 7, 64, 65, 1000] {
            let mut server = config(SocketType::Pull);
            server.as_server = true;
            let (ha, hb, ra, rb) = pair(config(SocketType::Push), server, chunk);
            assert_eq!(ra, Ok(true), "chunk {chunk}");
            assert_eq!(rb, Ok(true), "chunk {chunk}");
            let pa = ha.peer().unwrap();
            assert_eq!(pa.socket_type, SocketType::Pull);
            assert_eq!((pa.major, pa.minor), (3, 1));
            assert!(pa.identity.is_empty());
            assert_eq!(hb.peer().unwrap().socket_type, SocketType::Push);
            assert!(ha.is_complete() && hb.is_complete());
            assert!(!ha.has_pending_transmit());
        }
    }

    #[test]
    fn identity_and_metadata_exchanged() {
        let mut dealer = config(SocketType::Dealer);
        dealer.identity = Bytes::from_static(b"\x00weird");
        dealer.metadata.insert("X-App", "demo");
        dealer.metadata.insert("Socket-Type", "PUB"); // ignored
        let (ha, hb, ra, rb) = pair(dealer, config(SocketType::Router), 13);
        assert_eq!((ra, rb), (Ok(true), Ok(true)));
        let peer_of_router = hb.peer().unwrap();
        assert_eq!(peer_of_router.socket_type, SocketType::Dealer);
        assert_eq!(peer_of_router.identity, Bytes::from_static(b"\x00weird"));
        assert_eq!(peer_of_router.metadata.get("x-app").unwrap(), "demo");
        // ROUTER sends an (empty) Identity.
        assert_eq!(ha.peer().unwrap().metadata.get("Identity").unwrap(), "");
    }

    #[test]
    fn local_metadata_like_libzmq() {
        let md = config(SocketType::Push).local_metadata();
        assert_eq!(md.len(), 1);
        let md = config(SocketType::Req).local_metadata();
        assert_eq!(md.get("Identity").unwrap(), "");
        let mut out = Vec::new();
        Command::Ready(config(SocketType::Dealer).local_metadata()).encode(&mut out);
        assert_eq!(
            out,
            b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00"
        );
    }

    /// Our greeting as sent: libzmq's padding (routing id length + 1).
    fn our_greeting(identity_len: u64) -> Vec<u8> {
        let mut g = greeting(MechanismName::NULL);
        g[1..9].copy_from_slice(&(identity_len + 1).to_be_bytes());
        g
    }

    #[test]
    fn signature_first_then_rest_of_greeting_then_ready() {
        let mut hs = Handshake::new(config(SocketType::Push));
        let mut out = Vec::new();
        hs.poll_transmit(&mut out);
        assert_eq!(out, [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F]);
        out.clear();
        hs.poll_transmit(&mut out);
        assert!(out.is_empty());
        // Part of the peer's signature: nothing more to send.
        let peer = greeting(MechanismName::NULL);
        let mut input = BytesMut::from(&peer[..9]);
        assert_eq!(hs.handle_input(&mut input), Ok(false));
        hs.poll_transmit(&mut out);
        assert!(out.is_empty());
        // The whole signature: the rest of our greeting follows.
        input.extend_from_slice(&peer[9..11]);
        assert_eq!(hs.handle_input(&mut input), Ok(false));
        assert_eq!(input.len(), 11);
        hs.poll_transmit(&mut out);
        assert_eq!(out, our_greeting(0)[10..]);
        out.clear();
        input.extend_from_slice(&peer[11..]);
        assert_eq!(hs.handle_input(&mut input), Ok(false));
        assert!(input.is_empty());
        hs.poll_transmit(&mut out);
        assert_eq!(out, b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
    }

    #[test]
    fn whole_greeting_at_once_is_answered_in_order() {
        let mut hs = Handshake::new(config(SocketType::Pull));
        let mut out = Vec::new();
        hs.poll_transmit(&mut out);
        let mut input = BytesMut::from(&with_greeting(&ready(&[("Socket-Type", b"PUSH")]))[..]);
        assert_eq!(hs.handle_input(&mut input), Ok(true));
        hs.poll_transmit(&mut out);
        let mut expected = our_greeting(0);
        expected.extend_from_slice(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PULL");
        assert_eq!(out, expected);
    }

    #[test]
    fn padding_carries_identity_length_plus_one() {
        let mut cfg = config(SocketType::Dealer);
        cfg.identity = Bytes::from_static(b"abc");
        let mut hs = Handshake::new(cfg);
        let mut out = Vec::new();
        hs.poll_transmit(&mut out);
        assert_eq!(out, our_greeting(3)[..10]);
    }

    #[test]
    fn bad_signature_gets_no_rest_of_greeting() {
        let mut hs = Handshake::new(config(SocketType::Pull));
        let mut out = Vec::new();
        hs.poll_transmit(&mut out);
        out.clear();
        let mut input = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        assert!(hs.handle_input(&mut input).is_err());
        hs.poll_transmit(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn null_greeting_as_server_is_zero() {
        let mut cfg = config(SocketType::Pull);
        cfg.as_server = true;
        let mut hs = Handshake::new(cfg);
        let mut out = Vec::new();
        hs.poll_transmit(&mut out);
        let mut input = BytesMut::from(&greeting(MechanismName::NULL)[..10]);
        assert_eq!(hs.handle_input(&mut input), Ok(false));
        hs.poll_transmit(&mut out);
        assert_eq!(out, our_greeting(0));
        assert_eq!(out[32], 0);
    }

    #[test]
    fn peer_as_server_flag_ignored_for_null() {
        let mut g = Greeting::new(MechanismName::NULL, true).encode().to_vec();
        g.extend(ready(&[("Socket-Type", b"PUSH")]));
        let (_, r, _) = run_pull(&g);
        assert_eq!(r, Ok(true));
    }

    #[test]
    fn data_after_ready_is_left_in_input() {
        let mut bytes = with_greeting(&ready(&[("Socket-Type", b"PUSH")]));
        bytes.extend_from_slice(&[0x01, 0x01, b'a', 0x00, 0x00]);
        let (hs, r, input) = run_pull(&bytes);
        assert_eq!(r, Ok(true));
        assert_eq!(&input[..], &[0x01, 0x01, b'a', 0x00, 0x00]);
        assert_eq!(hs.peer().unwrap().socket_type, SocketType::Push);
    }

    #[test]
    fn complete_handshake_stays_complete() {
        let bytes = with_greeting(&ready(&[("Socket-Type", b"PUSH")]));
        let (mut hs, r, _) = run_pull(&bytes);
        assert_eq!(r, Ok(true));
        let mut more = BytesMut::from(&b"\x05READY"[..]);
        assert_eq!(hs.handle_input(&mut more), Ok(true));
        assert_eq!(more.len(), 6);
    }

    #[test]
    fn greeting_error() {
        let (hs, r, _) = run_pull(&[0x01, 0x00]);
        assert_eq!(
            r,
            Err(HandshakeError::Greeting(GreetingError::BadSignature))
        );
        assert!(hs.error().is_some());
        assert!(!hs.is_complete());
    }

    #[test]
    fn zmtp2_greeting_rejected() {
        let (_, r, _) = run_pull(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x08]);
        assert_eq!(
            r,
            Err(HandshakeError::Greeting(
                GreetingError::UnsupportedVersion {
                    major: 1,
                    minor: Some(8)
                }
            ))
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut hs = Handshake::new(config(SocketType::Pull));
        let mut input = BytesMut::from(&[0x00][..]);
        let e1 = hs.handle_input(&mut input).unwrap_err();
        let mut valid = BytesMut::from(&greeting(MechanismName::NULL)[..]);
        assert_eq!(hs.handle_input(&mut valid), Err(e1));
    }

    #[test]
    fn mechanism_mismatch() {
        let (_, r, _) = run_pull(&greeting(MechanismName::CURVE));
        assert_eq!(
            r,
            Err(HandshakeError::MechanismMismatch {
                local: MechanismName::NULL,
                peer: MechanismName::CURVE
            })
        );
    }

    #[test]
    fn unexpected_data_frame() {
        let (_, r, _) = run_pull(&with_greeting(&[0x00, 0x03, b'a', b'b', b'c']));
        assert_eq!(r, Err(HandshakeError::UnexpectedDataFrame));
        // Detected from the header alone.
        let (_, r, _) = run_pull(&with_greeting(&[0x01, 0xFF]));
        assert_eq!(r, Err(HandshakeError::UnexpectedDataFrame));
    }

    #[test]
    fn command_too_large_detected_from_header() {
        // 64 KiB + 1 announced, no body sent.
        let mut hdr = vec![0x06];
        hdr.extend_from_slice(&(MAX_HANDSHAKE_COMMAND + 1).to_be_bytes());
        let (_, r, input) = run_pull(&with_greeting(&hdr));
        assert_eq!(
            r,
            Err(HandshakeError::CommandTooLarge {
                size: MAX_HANDSHAKE_COMMAND + 1,
                max: MAX_HANDSHAKE_COMMAND
            })
        );
        assert_eq!(input.len(), 9);
    }

    #[test]
    fn command_at_cap_waits_for_body() {
        let mut hdr = vec![0x06];
        hdr.extend_from_slice(&MAX_HANDSHAKE_COMMAND.to_be_bytes());
        let (_, r, input) = run_pull(&with_greeting(&hdr));
        assert_eq!(r, Ok(false));
        assert_eq!(input.len(), 9);
    }

    #[test]
    fn huge_long_size_rejected() {
        let (_, r, _) = run_pull(&with_greeting(&[0x06, 0x80, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(
            r,
            Err(HandshakeError::Frame(FrameError::SizeOutOfRange(1 << 63)))
        );
    }

    #[test]
    fn command_with_more_rejected() {
        let (_, r, _) = run_pull(&with_greeting(&[0x05]));
        assert_eq!(r, Err(HandshakeError::Frame(FrameError::CommandWithMore)));
    }

    #[test]
    fn peer_error_command() {
        let mut err = Vec::new();
        Command::Error {
            reason: Bytes::from_static(b"500"),
        }
        .encode(&mut err);
        let (_, r, _) = run_pull(&with_greeting(&err));
        let e = r.unwrap_err();
        assert_eq!(
            e,
            HandshakeError::PeerError {
                reason: Bytes::from_static(b"500")
            }
        );
        assert_eq!(e.peer_zap_status(), Some(500));
    }

    #[test]
    fn unexpected_command_before_ready() {
        let mut ping = Vec::new();
        Command::Ping {
            ttl: 0,
            context: Bytes::new(),
        }
        .encode(&mut ping);
        let (_, r, _) = run_pull(&with_greeting(&ping));
        assert_eq!(
            r,
            Err(HandshakeError::UnexpectedCommand {
                name: Bytes::from_static(b"PING")
            })
        );
    }

    #[test]
    fn malformed_command() {
        let (_, r, _) = run_pull(&with_greeting(&[0x04, 0x02, 0x05, b'R']));
        assert_eq!(
            r,
            Err(HandshakeError::MalformedCommand {
                name: Bytes::new(),
                source: CommandError::Malformed("command name longer than the frame")
            })
        );
    }

    #[test]
    fn malformed_metadata() {
        // Value length larger than what remains.
        let (_, r, _) = run_pull(&with_greeting(b"\x04\x0b\x05READY\x01A\x00\x00\x00\x09"));
        assert_eq!(
            r,
            Err(HandshakeError::MalformedCommand {
                name: Bytes::from_static(b"READY"),
                source: CommandError::Metadata(MetadataError::Truncated)
            })
        );
    }

    #[test]
    fn missing_socket_type() {
        let (_, r, _) = run_pull(&with_greeting(&ready(&[("X-Foo", b"bar")])));
        assert_eq!(r, Err(HandshakeError::MissingSocketType));
    }

    #[test]
    fn unknown_socket_type() {
        let (_, r, _) = run_pull(&with_greeting(&ready(&[("Socket-Type", b"push")])));
        assert_eq!(
            r,
            Err(HandshakeError::UnknownSocketType {
                name: Bytes::from_static(b"push")
            })
        );
    }

    #[test]
    fn incompatible_socket_type() {
        let (_, r, _) = run_pull(&with_greeting(&ready(&[("Socket-Type", b"PULL")])));
        assert_eq!(
            r,
            Err(HandshakeError::IncompatibleSocketType {
                local: SocketType::Pull,
                peer: SocketType::Pull
            })
        );
        // PUSH to PUSH through two real handshakes.
        let (_, _, ra, rb) = pair(config(SocketType::Push), config(SocketType::Push), 64);
        let expected = Err(HandshakeError::IncompatibleSocketType {
            local: SocketType::Push,
            peer: SocketType::Push,
        });
        assert_eq!((ra, rb), (expected.clone(), expected));
    }

    #[test]
    fn invalid_identity() {
        let long = [b'x'; 256];
        let (_, r, _) = run_pull(&with_greeting(&ready(&[
            ("Socket-Type", b"PUSH"),
            ("Identity", &long),
        ])));
        assert_eq!(r, Err(HandshakeError::InvalidIdentity { len: 256 }));
        let ok = [b'x'; 255];
        let (hs, r, _) = run_pull(&with_greeting(&ready(&[
            ("Socket-Type", b"PUSH"),
            ("Identity", &ok),
        ])));
        assert_eq!(r, Ok(true));
        assert_eq!(hs.peer().unwrap().identity.len(), 255);
    }

    #[test]
    fn duplicate_socket_type() {
        let (_, r, _) = run_pull(&with_greeting(&raw_ready(&[
            (b"Socket-Type", b"PUSH"),
            (b"socket-type", b"PUSH"),
        ])));
        assert_eq!(
            r,
            Err(HandshakeError::DuplicateProperty {
                name: "Socket-Type".into()
            })
        );
    }

    #[test]
    fn duplicate_identity() {
        let (_, r, _) = run_pull(&with_greeting(&raw_ready(&[
            (b"Socket-Type", b"PUSH"),
            (b"Identity", b"a"),
            (b"IDENTITY", b"b"),
        ])));
        assert_eq!(
            r,
            Err(HandshakeError::DuplicateProperty {
                name: "Identity".into()
            })
        );
    }

    #[test]
    fn socket_type_name_is_case_insensitive_property() {
        let (hs, r, _) = run_pull(&with_greeting(&raw_ready(&[(b"socket-TYPE", b"PUSH")])));
        assert_eq!(r, Ok(true));
        assert_eq!(hs.peer().unwrap().socket_type, SocketType::Push);
    }

    #[test]
    fn higher_peer_version_accepted() {
        let mut g = greeting(MechanismName::NULL);
        g[10] = 4;
        g[11] = 7;
        g.extend(ready(&[("Socket-Type", b"PUSH")]));
        let (hs, r, _) = run_pull(&g);
        assert_eq!(r, Ok(true));
        assert_eq!((hs.peer().unwrap().major, hs.peer().unwrap().minor), (4, 7));
    }

    #[test]
    fn byte_by_byte_matches_one_shot() {
        let mut bytes = with_greeting(&ready(&[("Socket-Type", b"PUSH"), ("X-A", b"1")]));
        bytes.extend_from_slice(b"\x00\x02hi");
        let mut hs = Handshake::new(config(SocketType::Pull));
        let mut input = BytesMut::new();
        let mut done_at = None;
        for (i, b) in bytes.iter().enumerate() {
            input.extend_from_slice(&[*b]);
            if hs.handle_input(&mut input).unwrap() {
                done_at = Some(i);
                break;
            }
        }
        assert_eq!(done_at, Some(bytes.len() - 5));
        assert!(input.is_empty());
    }
}
