//! The NULL mechanism (RFC 37): each side sends READY with its metadata and
//! waits for the other's READY. No authentication, no encryption.
//!
//! Both sides send READY as soon as the greetings are exchanged, whatever
//! their role, as libzmq's `null_mechanism_t` does. Before the peer's READY
//! only ERROR is acceptable (it ends the handshake); anything else, and any
//! command after READY, is an unexpected command. The as-server greeting
//! flag, which RFC 37 says must be zero for NULL, is ignored (libzmq does not
//! check it either).

use bytes::Bytes;

use crate::command::{Command, peek_name, split_command};
use crate::error::HandshakeError;
use crate::frame::{MAX_HEADER_LEN, encode_header};
use crate::greeting::MechanismName;
use crate::mechanism::{Mechanism, MechanismStatus};
use crate::metadata::Metadata;

/// NULL mechanism state for one connection.
#[derive(Debug)]
pub struct NullMechanism {
    /// Metadata we announce in READY.
    local: Metadata,
    /// Whether our READY has been handed to `poll_transmit`'s caller.
    ready_sent: bool,
    /// The peer's READY metadata, once received.
    peer: Option<Metadata>,
}

impl NullMechanism {
    /// A NULL mechanism that will announce `local` in its READY.
    pub fn new(local: Metadata) -> Self {
        NullMechanism {
            local,
            ready_sent: false,
            peer: None,
        }
    }
}

/// The name of a command body for error reports, or empty.
fn name_of(body: &Bytes) -> Bytes {
    match peek_name(body) {
        Some(name) => Bytes::copy_from_slice(name),
        None => Bytes::new(),
    }
}

impl Mechanism for NullMechanism {
    fn name(&self) -> MechanismName {
        MechanismName::NULL
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        if self.ready_sent {
            return;
        }
        self.ready_sent = true;
        const READY: &[u8] = b"\x05READY";
        let body_len = READY.len().saturating_add(self.local.encoded_len());
        let mut header = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&mut header, false, true, body_len);
        out.reserve(body_len.saturating_add(n));
        out.extend_from_slice(header.get(..n).unwrap_or(&header));
        out.extend_from_slice(READY);
        self.local.encode(out);
    }

    fn handle_command(&mut self, body: Bytes) -> Result<(), HandshakeError> {
        let malformed = |source| HandshakeError::MalformedCommand {
            name: name_of(&body),
            source,
        };
        if self.peer.is_some() {
            return Err(HandshakeError::UnexpectedCommand {
                name: name_of(&body),
            });
        }
        let (name, _) = split_command(&body).map_err(malformed)?;
        if name.as_ref() != b"READY" && name.as_ref() != b"ERROR" {
            return Err(HandshakeError::UnexpectedCommand { name });
        }
        match Command::parse(&body).map_err(malformed)? {
            Command::Ready(metadata) => {
                self.peer = Some(metadata);
                Ok(())
            }
            Command::Error { reason } => Err(HandshakeError::PeerError { reason }),
            // Not reachable: the name was READY or ERROR.
            other => Err(HandshakeError::UnexpectedCommand {
                name: Bytes::copy_from_slice(other.name()),
            }),
        }
    }

    fn status(&self) -> MechanismStatus {
        if self.ready_sent && self.peer.is_some() {
            MechanismStatus::Ready
        } else {
            MechanismStatus::Handshaking
        }
    }

    fn peer_metadata(&self) -> Option<&Metadata> {
        self.peer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CommandError, MetadataError};

    fn local() -> Metadata {
        let mut md = Metadata::new();
        md.insert("Socket-Type", "PUSH");
        md
    }

    #[test]
    fn sends_ready_once() {
        let mut m = NullMechanism::new(local());
        let mut out = Vec::new();
        m.poll_transmit(&mut out);
        assert_eq!(out, b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
        m.poll_transmit(&mut out);
        assert_eq!(out.len(), 28);
        assert_eq!(m.status(), MechanismStatus::Handshaking);
    }

    #[test]
    fn large_metadata_uses_long_frame() {
        let mut md = local();
        md.insert("X-Big", vec![b'x'; 300]);
        let mut m = NullMechanism::new(md);
        let mut out = Vec::new();
        m.poll_transmit(&mut out);
        assert_eq!(out[0], 0x06);
        let size = u64::from_be_bytes(out[1..9].try_into().unwrap());
        assert_eq!(usize::try_from(size).unwrap() + 9, out.len());
    }

    #[test]
    fn ready_completes() {
        let mut m = NullMechanism::new(local());
        m.handle_command(Bytes::from_static(
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PULL",
        ))
        .unwrap();
        // Not ready until our own READY is out.
        assert_eq!(m.status(), MechanismStatus::Handshaking);
        m.poll_transmit(&mut Vec::new());
        assert_eq!(m.status(), MechanismStatus::Ready);
        assert_eq!(
            m.peer_metadata().unwrap().get("socket-type").unwrap(),
            "PULL"
        );
        assert_eq!(m.name(), MechanismName::NULL);
    }

    #[test]
    fn second_ready_is_unexpected() {
        let mut m = NullMechanism::new(local());
        m.handle_command(Bytes::from_static(b"\x05READY")).unwrap();
        assert_eq!(
            m.handle_command(Bytes::from_static(b"\x05READY")),
            Err(HandshakeError::UnexpectedCommand {
                name: Bytes::from_static(b"READY")
            })
        );
    }

    #[test]
    fn other_command_is_unexpected() {
        let mut m = NullMechanism::new(local());
        assert_eq!(
            m.handle_command(Bytes::from_static(b"\x04PING\x00\x00")),
            Err(HandshakeError::UnexpectedCommand {
                name: Bytes::from_static(b"PING")
            })
        );
        // Even a malformed PING is reported as unexpected, as in libzmq.
        let mut m = NullMechanism::new(local());
        assert_eq!(
            m.handle_command(Bytes::from_static(b"\x04PING")),
            Err(HandshakeError::UnexpectedCommand {
                name: Bytes::from_static(b"PING")
            })
        );
    }

    #[test]
    fn peer_error() {
        let mut m = NullMechanism::new(local());
        assert_eq!(
            m.handle_command(Bytes::from_static(b"\x05ERROR\x03400")),
            Err(HandshakeError::PeerError {
                reason: Bytes::from_static(b"400")
            })
        );
    }

    #[test]
    fn malformed_error() {
        let mut m = NullMechanism::new(local());
        let err = m
            .handle_command(Bytes::from_static(b"\x05ERROR"))
            .unwrap_err();
        assert_eq!(
            err,
            HandshakeError::MalformedCommand {
                name: Bytes::from_static(b"ERROR"),
                source: CommandError::Malformed("ERROR without a reason length")
            }
        );
        assert_eq!(err.zmtp_error_code(), 0x1000_0015);
    }

    #[test]
    fn malformed_ready() {
        let mut m = NullMechanism::new(local());
        let err = m
            .handle_command(Bytes::from_static(b"\x05READY\x00"))
            .unwrap_err();
        assert_eq!(
            err,
            HandshakeError::MalformedCommand {
                name: Bytes::from_static(b"READY"),
                source: CommandError::Metadata(MetadataError::EmptyName)
            }
        );
        assert_eq!(err.zmtp_error_code(), 0x1000_0016);
    }

    #[test]
    fn malformed_structure() {
        let mut m = NullMechanism::new(local());
        assert_eq!(
            m.handle_command(Bytes::new()),
            Err(HandshakeError::MalformedCommand {
                name: Bytes::new(),
                source: CommandError::Malformed("empty command body")
            })
        );
    }
}
