//! Error types. Their `Display` messages are meant for logs: they say what
//! the peer did wrong, in words, when the runtime drops a connection.

use bytes::Bytes;

use crate::greeting::MechanismName;
use crate::socket_type::SocketType;

/// libzmq's `ZMQ_PROTOCOL_ERROR_ZMTP_*` codes (from `zmq.h`), as reported in
/// `ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL` monitor events.
pub mod zmtp_code {
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED`
    pub const UNSPECIFIED: u32 = 0x1000_0000;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND`
    pub const UNEXPECTED_COMMAND: u32 = 0x1000_0001;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE`
    pub const INVALID_SEQUENCE: u32 = 0x1000_0002;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE`
    pub const KEY_EXCHANGE: u32 = 0x1000_0003;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED`
    pub const MALFORMED_COMMAND_UNSPECIFIED: u32 = 0x1000_0011;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE`
    pub const MALFORMED_COMMAND_MESSAGE: u32 = 0x1000_0012;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO`
    pub const MALFORMED_COMMAND_HELLO: u32 = 0x1000_0013;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE`
    pub const MALFORMED_COMMAND_INITIATE: u32 = 0x1000_0014;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR`
    pub const MALFORMED_COMMAND_ERROR: u32 = 0x1000_0015;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY`
    pub const MALFORMED_COMMAND_READY: u32 = 0x1000_0016;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME`
    pub const MALFORMED_COMMAND_WELCOME: u32 = 0x1000_0017;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA`
    pub const INVALID_METADATA: u32 = 0x1000_0018;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC`
    pub const CRYPTOGRAPHIC: u32 = 0x1100_0001;
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`
    pub const MECHANISM_MISMATCH: u32 = 0x1100_0002;
}

/// The peer's greeting is not a ZMTP 3.x greeting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GreetingError {
    /// The first byte is not `0xFF` or bit 0 of byte 9 is clear: the peer
    /// speaks unversioned ZMTP 1.0, or is not a ZMTP peer at all.
    #[error("peer greeting has no ZMTP signature (ZMTP 1.0 or not ZMTP at all)")]
    BadSignature,
    /// The peer announced a major version below 3 (ZMTP 1.0 or 2.0), which
    /// oxmq does not speak.
    #[error(
        "peer speaks ZMTP major version {major}{}, but only ZMTP 3.x is supported",
        match minor { Some(m) => format!(" (minor {m})"), None => String::new() }
    )]
    UnsupportedVersion {
        /// Major version byte received.
        major: u8,
        /// Minor version byte, if it had been received when the error was
        /// detected.
        minor: Option<u8>,
    },
    /// The mechanism field is not 1-20 characters of `A-Z 0-9 - _ . +`
    /// followed by NUL padding.
    #[error("peer greeting carries an invalid security mechanism name")]
    BadMechanism,
}

/// A frame header that must not be accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A long frame announced a size of 2^63 or more, outside the ZMTP
    /// grammar (or, on 32-bit targets, a size that cannot be addressed).
    #[error("peer announced a frame size of {0} bytes, outside the ZMTP range 0..2^63")]
    SizeOutOfRange(u64),
    /// The frame is larger than the configured maximum message size.
    #[error("peer sent a {size}-byte frame, larger than the {max}-byte limit")]
    TooLarge {
        /// Size announced by the frame header.
        size: u64,
        /// Limit in force.
        max: u64,
    },
    /// A frame had both the COMMAND and MORE flags; commands are always
    /// single frames.
    #[error("peer sent a command frame with the MORE flag set")]
    CommandWithMore,
    /// A message went on past the most frames one message may have.
    #[error("peer sent a message of more than {max} frames")]
    TooManyFrames {
        /// Limit in force.
        max: usize,
    },
    /// A message's frames together went past the largest message size.
    #[error("peer sent a message of at least {size} bytes, larger than the {max}-byte limit")]
    MessageTooLarge {
        /// Bytes received for the message so far.
        size: u64,
        /// Limit in force.
        max: u64,
    },
}

/// A malformed metadata (property list) block, as found in READY.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// A property name of length zero, which RFC 37 forbids.
    #[error("metadata property with an empty name")]
    EmptyName,
    /// A property name with a character outside `A-Z a-z 0-9 - _ . +`.
    #[error("metadata property name contains characters other than letters, digits and -_.+")]
    InvalidName,
    /// The block ends in the middle of a property (a name, a value length or
    /// a value running past the end, or stray trailing bytes).
    #[error("metadata is truncated: a property runs past the end of the command")]
    Truncated,
    /// A value length of 2^31 or more.
    #[error("metadata value length {0} exceeds the 2^31-1 byte maximum")]
    ValueTooLong(u32),
}

/// A command frame body that cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The command structure is wrong; the text says how.
    #[error("malformed command: {0}")]
    Malformed(&'static str),
    /// The metadata carried by a READY command is malformed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

/// A socket type name given on a command line or in configuration is not
/// known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown socket type {name:?}")]
pub struct ParseSocketTypeError {
    /// The name that was given.
    pub name: String,
}

/// Why a ZMTP connection handshake failed. The connection must be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer's greeting is not an acceptable ZMTP 3.x greeting.
    #[error(transparent)]
    Greeting(#[from] GreetingError),
    /// The peer uses another security mechanism.
    #[error("security mechanism mismatch: we use {local}, peer uses {peer}")]
    MechanismMismatch {
        /// Our mechanism.
        local: MechanismName,
        /// The peer's mechanism.
        peer: MechanismName,
    },
    /// A frame header received during the handshake is invalid.
    #[error("invalid frame during handshake: {0}")]
    Frame(#[from] FrameError),
    /// The peer sent a message (non-command) frame before the handshake
    /// completed.
    #[error("peer sent a message frame before the handshake completed")]
    UnexpectedDataFrame,
    /// A handshake command announced a body above
    /// [`MAX_HANDSHAKE_COMMAND`](crate::handshake::MAX_HANDSHAKE_COMMAND).
    #[error("peer announced a {size}-byte handshake command, above the {max}-byte limit")]
    CommandTooLarge {
        /// Announced body size.
        size: u64,
        /// Limit in force.
        max: u64,
    },
    /// A handshake command could not be parsed.
    #[error("bad {} command from peer: {source}", name.escape_ascii())]
    MalformedCommand {
        /// Command name, as far as it could be read (may be empty).
        name: Bytes,
        /// What is wrong with it.
        source: CommandError,
    },
    /// The peer sent an ERROR command; RFC 37 makes it fatal, and the peer
    /// should not be retried with the same credentials.
    #[error("peer refused the handshake with ERROR {:?}", reason.escape_ascii().to_string())]
    PeerError {
        /// The reason text sent by the peer (at most 255 bytes).
        reason: Bytes,
    },
    /// The peer sent a command that is not valid at this point of the
    /// handshake (for NULL: anything but READY or ERROR, or a second READY).
    #[error("peer sent unexpected command {} during the handshake", name.escape_ascii())]
    UnexpectedCommand {
        /// The command name.
        name: Bytes,
    },
    /// The peer's metadata has no `Socket-Type` property.
    #[error("peer metadata has no Socket-Type property")]
    MissingSocketType,
    /// The peer's `Socket-Type` is not a known (upper-case) socket type name.
    #[error("peer announced unknown socket type {:?}", name.escape_ascii().to_string())]
    UnknownSocketType {
        /// The value received.
        name: Bytes,
    },
    /// The peer's socket type cannot talk to ours (RFC 37 table).
    #[error("incompatible socket types: we are {local}, peer is {peer}")]
    IncompatibleSocketType {
        /// Our socket type.
        local: SocketType,
        /// The peer's socket type.
        peer: SocketType,
    },
    /// The peer's `Identity` property is longer than 255 bytes.
    #[error("peer identity is {len} bytes long, above the 255-byte maximum")]
    InvalidIdentity {
        /// Length received.
        len: usize,
    },
    /// A property that must appear at most once (`Socket-Type`, `Identity`)
    /// appears several times in the peer's metadata.
    #[error("peer metadata repeats the {name} property")]
    DuplicateProperty {
        /// Property name, as first received.
        name: String,
    },
}

impl HandshakeError {
    /// The libzmq `ZMQ_PROTOCOL_ERROR_ZMTP_*` code closest to this error, for
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL` monitor events.
    ///
    /// Structural metadata faults map to `MALFORMED_COMMAND_READY`, semantic
    /// ones (socket type, identity) to `INVALID_METADATA`, as libzmq's
    /// mechanisms do. A peer `ERROR` maps to `UNSPECIFIED`: libzmq reports
    /// it as an authentication failure when the reason is a ZAP status
    /// code, see [`HandshakeError::peer_zap_status`].
    pub fn zmtp_error_code(&self) -> u32 {
        match self {
            HandshakeError::Greeting(_) | HandshakeError::PeerError { .. } => {
                zmtp_code::UNSPECIFIED
            }
            HandshakeError::MechanismMismatch { .. } => zmtp_code::MECHANISM_MISMATCH,
            HandshakeError::Frame(FrameError::CommandWithMore) => {
                zmtp_code::MALFORMED_COMMAND_UNSPECIFIED
            }
            HandshakeError::Frame(_) => zmtp_code::UNSPECIFIED,
            HandshakeError::UnexpectedDataFrame | HandshakeError::UnexpectedCommand { .. } => {
                zmtp_code::UNEXPECTED_COMMAND
            }
            HandshakeError::CommandTooLarge { .. } => zmtp_code::MALFORMED_COMMAND_UNSPECIFIED,
            HandshakeError::MalformedCommand { name, source } => match (name.as_ref(), source) {
                (b"READY", _) | (_, CommandError::Metadata(_)) => {
                    zmtp_code::MALFORMED_COMMAND_READY
                }
                (b"ERROR", _) => zmtp_code::MALFORMED_COMMAND_ERROR,
                (b"HELLO", _) => zmtp_code::MALFORMED_COMMAND_HELLO,
                (b"INITIATE", _) => zmtp_code::MALFORMED_COMMAND_INITIATE,
                (b"WELCOME", _) => zmtp_code::MALFORMED_COMMAND_WELCOME,
                (b"MESSAGE", _) => zmtp_code::MALFORMED_COMMAND_MESSAGE,
                _ => zmtp_code::MALFORMED_COMMAND_UNSPECIFIED,
            },
            HandshakeError::MissingSocketType
            | HandshakeError::UnknownSocketType { .. }
            | HandshakeError::IncompatibleSocketType { .. }
            | HandshakeError::InvalidIdentity { .. }
            | HandshakeError::DuplicateProperty { .. } => zmtp_code::INVALID_METADATA,
        }
    }

    /// If the peer refused with an ERROR whose reason is a ZAP status code
    /// (`"300"`, `"400"` or `"500"`), that code. libzmq reports these as
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`.
    pub fn peer_zap_status(&self) -> Option<u16> {
        let HandshakeError::PeerError { reason } = self else {
            return None;
        };
        match reason.as_ref() {
            [d @ b'3'..=b'5', b'0', b'0'] => Some(u16::from(d - b'0') * 100),
            _ => None,
        }
    }
}

/// Why an established ZMTP connection (after the handshake) must be closed.
/// Returned by [`Connection`](crate::connection::Connection); every error
/// is final.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// A frame header is invalid: a size outside the ZMTP range (or not
    /// addressable on this target), above the maximum message size, or a
    /// command frame with the MORE flag.
    #[error("invalid frame: {0}")]
    Frame(#[from] FrameError),
    /// A command frame is malformed: its name (empty, longer than the frame,
    /// not letters) or the body of a PING, PONG, ERROR, SUBSCRIBE or CANCEL
    /// (e.g. a PING without its 2-byte TTL).
    #[error("bad command from peer: {0}")]
    Command(#[from] CommandError),
    /// The peer sent an ERROR command: it is closing the connection.
    #[error("peer sent ERROR {:?}", reason.escape_ascii().to_string())]
    PeerError {
        /// The reason text sent by the peer (at most 255 bytes).
        reason: Bytes,
    },
    /// Nothing arrived within the heartbeat timeout (`ZMQ_HEARTBEAT_TIMEOUT`,
    /// by default the interval) after we sent a PING.
    #[error("heartbeat timeout: nothing received from the peer after our PING")]
    HeartbeatTimeout,
    /// Nothing arrived within the TTL that the peer announced in its last
    /// PING (`ZMQ_HEARTBEAT_TTL` on the peer's side).
    #[error("heartbeat TTL announced by the peer expired with nothing received")]
    TtlExpired,
}

impl ConnectionError {
    /// The libzmq `ZMQ_PROTOCOL_ERROR_ZMTP_*` code closest to this error,
    /// following [`HandshakeError::zmtp_error_code`].
    ///
    /// libzmq itself reports post-handshake failures as plain disconnects,
    /// so this is only for logs and for monitor events the runtime chooses
    /// to emit: malformed commands (and COMMAND+MORE frames) map to
    /// `MALFORMED_COMMAND_UNSPECIFIED`, everything else to `UNSPECIFIED`.
    pub fn zmtp_error_code(&self) -> u32 {
        match self {
            ConnectionError::Frame(FrameError::CommandWithMore) | ConnectionError::Command(_) => {
                zmtp_code::MALFORMED_COMMAND_UNSPECIFIED
            }
            ConnectionError::Frame(_)
            | ConnectionError::PeerError { .. }
            | ConnectionError::HeartbeatTimeout
            | ConnectionError::TtlExpired => zmtp_code::UNSPECIFIED,
        }
    }

    /// Whether the connection died of a heartbeat failure
    /// ([`ConnectionError::HeartbeatTimeout`] or
    /// [`ConnectionError::TtlExpired`]) rather than of a protocol violation.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ConnectionError::HeartbeatTimeout | ConnectionError::TtlExpired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_readable() {
        let e = HandshakeError::IncompatibleSocketType {
            local: SocketType::Push,
            peer: SocketType::Push,
        };
        assert_eq!(
            e.to_string(),
            "incompatible socket types: we are PUSH, peer is PUSH"
        );
        let e = HandshakeError::MechanismMismatch {
            local: MechanismName::NULL,
            peer: MechanismName::CURVE,
        };
        assert_eq!(
            e.to_string(),
            "security mechanism mismatch: we use NULL, peer uses CURVE"
        );
        let e = HandshakeError::UnexpectedCommand {
            name: Bytes::from_static(b"PI\x01NG"),
        };
        assert_eq!(
            e.to_string(),
            "peer sent unexpected command PI\\x01NG during the handshake"
        );
        let e = GreetingError::UnsupportedVersion {
            major: 1,
            minor: None,
        };
        assert!(e.to_string().contains("major version 1,"));
        let e = GreetingError::UnsupportedVersion {
            major: 2,
            minor: Some(0),
        };
        assert!(e.to_string().contains("major version 2 (minor 0)"));
        let e = HandshakeError::MalformedCommand {
            name: Bytes::from_static(b"PING"),
            source: CommandError::Malformed("PING without a TTL"),
        };
        assert_eq!(
            e.to_string(),
            "bad PING command from peer: malformed command: PING without a TTL"
        );
    }

    #[test]
    fn zmtp_codes() {
        let malformed = |name: &'static [u8], source| HandshakeError::MalformedCommand {
            name: Bytes::from_static(name),
            source,
        };
        let m = CommandError::Malformed("x");
        assert_eq!(
            malformed(b"ERROR", m.clone()).zmtp_error_code(),
            0x1000_0015
        );
        assert_eq!(
            malformed(b"READY", CommandError::Metadata(MetadataError::EmptyName)).zmtp_error_code(),
            0x1000_0016
        );
        assert_eq!(malformed(b"", m.clone()).zmtp_error_code(), 0x1000_0011);
        assert_eq!(
            HandshakeError::MechanismMismatch {
                local: MechanismName::NULL,
                peer: MechanismName::PLAIN
            }
            .zmtp_error_code(),
            0x1100_0002
        );
        assert_eq!(
            HandshakeError::UnexpectedCommand {
                name: Bytes::from_static(b"PING")
            }
            .zmtp_error_code(),
            0x1000_0001
        );
        assert_eq!(
            HandshakeError::MissingSocketType.zmtp_error_code(),
            0x1000_0018
        );
        assert_eq!(
            HandshakeError::Greeting(GreetingError::BadSignature).zmtp_error_code(),
            0x1000_0000
        );
    }

    #[test]
    fn connection_errors() {
        let e = ConnectionError::PeerError {
            reason: Bytes::from_static(b"bye\x01"),
        };
        assert_eq!(e.to_string(), "peer sent ERROR \"bye\\\\x01\"");
        assert_eq!(e.zmtp_error_code(), zmtp_code::UNSPECIFIED);
        assert!(!e.is_timeout());
        let e = ConnectionError::from(CommandError::Malformed("PING without a 2-byte TTL"));
        assert_eq!(
            e.to_string(),
            "bad command from peer: malformed command: PING without a 2-byte TTL"
        );
        assert_eq!(e.zmtp_error_code(), 0x1000_0011);
        let e = ConnectionError::from(FrameError::CommandWithMore);
        assert_eq!(e.zmtp_error_code(), 0x1000_0011);
        let e = ConnectionError::from(FrameError::TooLarge { size: 11, max: 10 });
        assert_eq!(
            e.to_string(),
            "invalid frame: peer sent a 11-byte frame, larger than the 10-byte limit"
        );
        assert_eq!(e.zmtp_error_code(), zmtp_code::UNSPECIFIED);
        assert!(ConnectionError::HeartbeatTimeout.is_timeout());
        assert!(ConnectionError::TtlExpired.is_timeout());
        assert!(ConnectionError::TtlExpired.to_string().contains("TTL"));
    }

    #[test]
    fn zap_status() {
        let e = |r: &'static [u8]| HandshakeError::PeerError {
            reason: Bytes::from_static(r),
        };
        assert_eq!(e(b"400").peer_zap_status(), Some(400));
        assert_eq!(e(b"300").peer_zap_status(), Some(300));
        assert_eq!(e(b"500").peer_zap_status(), Some(500));
        assert_eq!(e(b"200").peer_zap_status(), None);
        assert_eq!(e(b"401").peer_zap_status(), None);
        assert_eq!(e(b"4000").peer_zap_status(), None);
        assert_eq!(e(b"").peer_zap_status(), None);
        assert_eq!(HandshakeError::MissingSocketType.peer_zap_status(), None);
    }
}
