//! ZMTP commands: the bodies of frames with the COMMAND flag.
//!
//! A command body is a name-length octet, a 1..=255 letter name, then
//! command-specific data. This module knows the commands of RFC 37 (READY,
//! ERROR, PING, PONG, SUBSCRIBE, CANCEL); anything else (mechanism commands
//! such as HELLO, or JOIN/LEAVE) comes out as [`Command::Unknown`] for the
//! caller to interpret.

use bytes::Bytes;

use crate::error::CommandError;
use crate::frame::MAX_HEADER_LEN;
use crate::frame::encode_header;
use crate::metadata::Metadata;

/// A PING context, and so a PONG, carries at most this many bytes (RFC 37).
pub const MAX_PING_CONTEXT: usize = 16;

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `READY`: end of the NULL handshake (and of PLAIN/CURVE ones), with the
    /// sender's metadata.
    Ready(Metadata),
    /// `ERROR`: fatal handshake error, with a reason of at most 255 bytes.
    Error {
        /// Human-readable reason (for ZAP failures, the status code).
        reason: Bytes,
    },
    /// `PING`: heartbeat request.
    Ping {
        /// Time-to-live hint, in tenths of a second (0: none).
        ttl: u16,
        /// Context to echo in the PONG; at most 16 bytes (longer contexts
        /// are cut to their first 16 bytes when parsed, as libzmq does).
        context: Bytes,
    },
    /// `PONG`: heartbeat reply.
    Pong {
        /// Echoed PING context, at most 16 bytes.
        context: Bytes,
    },
    /// `SUBSCRIBE`: add a subscription (ZMTP 3.1 PUB/SUB).
    Subscribe(Bytes),
    /// `CANCEL`: remove one subscription (ZMTP 3.1 PUB/SUB).
    Cancel(Bytes),
    /// Any other command, left uninterpreted.
    Unknown {
        /// Command name (1..=255 ASCII letters).
        name: Bytes,
        /// Data after the name.
        body: Bytes,
    },
}

/// Splits a command body into name and data after checking the structure
/// every command shares: a non-zero name length, a name that fits in the
/// body, and a name made of ASCII letters.
pub fn split_command(body: &Bytes) -> Result<(Bytes, Bytes), CommandError> {
    let Some((&name_len, rest)) = body.split_first() else {
        return Err(CommandError::Malformed("empty command body"));
    };
    let name_len = usize::from(name_len);
    if name_len == 0 {
        return Err(CommandError::Malformed("zero-length command name"));
    }
    let Some(name) = rest.get(..name_len) else {
        return Err(CommandError::Malformed(
            "command name longer than the frame",
        ));
    };
    if !name.iter().all(u8::is_ascii_alphabetic) {
        return Err(CommandError::Malformed(
            "command name is not made of letters",
        ));
    }
    let data_start = name_len + 1;
    Ok((body.slice(1..data_start), body.slice(data_start..)))
}

/// The command name at the front of `body`, if the body is long enough to
/// hold it (its characters are not checked). For error reports.
pub fn peek_name(body: &[u8]) -> Option<&[u8]> {
    let (&len, rest) = body.split_first()?;
    rest.get(..usize::from(len))
}

impl Command {
    /// Parses a command frame body.
    ///
    /// Names are matched case-sensitively, as libzmq does. Checks, beyond
    /// [`split_command`]'s:
    ///
    /// * READY: the metadata must parse ([`CommandError::Metadata`]);
    /// * ERROR: a reason-length byte must be present and the reason must fit
    ///   (bytes after the reason are ignored, as libzmq does);
    /// * PING: a 2-byte TTL must be present (libzmq reads past short PINGs);
    ///   the context is cut to 16 bytes;
    /// * PONG: the context is cut to 16 bytes.
    pub fn parse(body: &Bytes) -> Result<Command, CommandError> {
        let (name, data) = split_command(body)?;
        let command = match name.as_ref() {
            b"READY" => Command::Ready(Metadata::parse_bytes(&data)?),
            b"ERROR" => {
                let Some((&reason_len, reason)) = data.split_first() else {
                    return Err(CommandError::Malformed("ERROR without a reason length"));
                };
                let reason_len = usize::from(reason_len);
                if reason.len() < reason_len {
                    return Err(CommandError::Malformed(
                        "ERROR reason longer than the frame",
                    ));
                }
                Command::Error {
                    reason: data.slice(1..1 + reason_len),
                }
            }
            b"PING" => {
                let Some(ttl) = data.first_chunk::<2>() else {
                    return Err(CommandError::Malformed("PING without a 2-byte TTL"));
                };
                let context_end = data.len().min(2 + MAX_PING_CONTEXT);
                Command::Ping {
                    ttl: u16::from_be_bytes(*ttl),
                    context: data.slice(2..context_end),
                }
            }
            b"PONG" => Command::Pong {
                context: data.slice(..data.len().min(MAX_PING_CONTEXT)),
            },
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            _ => Command::Unknown { name, body: data },
        };
        Ok(command)
    }

    /// The command name (`b"READY"`, `b"PING"`, ...).
    pub fn name(&self) -> &[u8] {
        match self {
            Command::Ready(_) => b"READY",
            Command::Error { .. } => b"ERROR",
            Command::Ping { .. } => b"PING",
            Command::Pong { .. } => b"PONG",
            Command::Subscribe(_) => b"SUBSCRIBE",
            Command::Cancel(_) => b"CANCEL",
            Command::Unknown { name, .. } => name,
        }
    }

    /// Appends a complete command frame (header with the COMMAND flag, then
    /// the body) to `out`.
    ///
    /// Over-long fields are cut so the result always parses: an ERROR
    /// reason to 255 bytes, PING/PONG contexts to 16 bytes, an unknown
    /// command's name to 255 bytes. An [`Command::Unknown`] name must be
    /// ASCII letters for peers to accept it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name = self.name();
        let name = name.get(..usize::from(u8::MAX)).unwrap_or(name);
        let data_len = match self {
            Command::Ready(metadata) => metadata.encoded_len(),
            Command::Error { reason } => 1 + reason.len().min(usize::from(u8::MAX)),
            Command::Ping { context, .. } => 2 + context.len().min(MAX_PING_CONTEXT),
            Command::Pong { context } => context.len().min(MAX_PING_CONTEXT),
            Command::Subscribe(data) | Command::Cancel(data) => data.len(),
            Command::Unknown { body, .. } => body.len(),
        };
        let body_len = data_len.saturating_add(1 + name.len());
        let mut header = [0u8; MAX_HEADER_LEN];
        let header_len = encode_header(&mut header, false, true, body_len);
        out.reserve(body_len.saturating_add(header_len));
        out.extend_from_slice(header.get(..header_len).unwrap_or(&header));
        // `name` is at most 255 bytes long.
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(name);
        match self {
            Command::Ready(metadata) => metadata.encode(out),
            Command::Error { reason } => {
                let reason = reason.get(..usize::from(u8::MAX)).unwrap_or(reason);
                out.push(u8::try_from(reason.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(reason);
            }
            Command::Ping { ttl, context } => {
                out.extend_from_slice(&ttl.to_be_bytes());
                out.extend_from_slice(context.get(..MAX_PING_CONTEXT).unwrap_or(context));
            }
            Command::Pong { context } => {
                out.extend_from_slice(context.get(..MAX_PING_CONTEXT).unwrap_or(context));
            }
            Command::Subscribe(data) | Command::Cancel(data) => out.extend_from_slice(data),
            Command::Unknown { body, .. } => out.extend_from_slice(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MetadataError;
    use crate::frame::{Frame, FrameDecoder};
    use bytes::BytesMut;

    fn parse(body: &'static [u8]) -> Result<Command, CommandError> {
        Command::parse(&Bytes::from_static(body))
    }

    fn encoded(cmd: &Command) -> Vec<u8> {
        let mut out = Vec::new();
        cmd.encode(&mut out);
        out
    }

    /// Encodes, decodes the frame, checks its flags and parses it back.
    fn round_trip(cmd: &Command) -> Command {
        let mut buf = BytesMut::from(&encoded(cmd)[..]);
        let frame: Frame = FrameDecoder::new(None)
            .decode_frame(&mut buf)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty());
        assert!(frame.command && !frame.more);
        Command::parse(&frame.payload).unwrap()
    }

    #[test]
    fn golden_ready_push() {
        // libzmq 4.3 PUSH socket's READY: Socket-Type only (no Identity for
        // PUSH, see mechanism_t::add_basic_properties).
        let mut md = Metadata::new();
        md.insert("Socket-Type", "PUSH");
        assert_eq!(
            encoded(&Command::Ready(md)),
            b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"
        );
    }

    #[test]
    fn golden_ready_dealer() {
        // Bytes asserted by libzmq's tests/test_stream.cpp for a DEALER with
        // no routing id.
        let mut md = Metadata::new();
        md.insert("Socket-Type", "DEALER");
        md.insert("Identity", Bytes::new());
        assert_eq!(
            encoded(&Command::Ready(md)),
            b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00"
        );
    }

    #[test]
    fn golden_ping_pong_subscribe() {
        assert_eq!(
            encoded(&Command::Ping {
                ttl: 10,
                context: Bytes::new()
            }),
            b"\x04\x07\x04PING\x00\x0a"
        );
        assert_eq!(
            encoded(&Command::Pong {
                context: Bytes::from_static(b"ab")
            }),
            b"\x04\x07\x04PONGab"
        );
        assert_eq!(
            encoded(&Command::Subscribe(Bytes::from_static(b"A"))),
            b"\x04\x0b\x09SUBSCRIBEA"
        );
        assert_eq!(
            encoded(&Command::Cancel(Bytes::new())),
            b"\x04\x07\x06CANCEL"
        );
        assert_eq!(
            encoded(&Command::Error {
                reason: Bytes::from_static(b"400")
            }),
            b"\x04\x0a\x05ERROR\x03400"
        );
    }

    #[test]
    fn round_trips() {
        let mut md = Metadata::new();
        md.insert("Socket-Type", "ROUTER");
        md.insert("X-Big", vec![1u8; 400]);
        for cmd in [
            Command::Ready(md),
            Command::Ready(Metadata::new()),
            Command::Error {
                reason: Bytes::from_static(b"nope"),
            },
            Command::Error {
                reason: Bytes::new(),
            },
            Command::Ping {
                ttl: 0xBEEF,
                context: Bytes::from_static(b"0123456789abcdef"),
            },
            Command::Pong {
                context: Bytes::new(),
            },
            Command::Subscribe(Bytes::from(vec![0xAB; 1000])),
            Command::Cancel(Bytes::from_static(b"topic")),
            Command::Unknown {
                name: Bytes::from_static(b"JOIN"),
                body: Bytes::from_static(b"group"),
            },
        ] {
            assert_eq!(round_trip(&cmd), cmd);
        }
    }

    #[test]
    fn encode_truncates_overlong_fields() {
        let cmd = Command::Ping {
            ttl: 1,
            context: Bytes::from(vec![7u8; 40]),
        };
        assert_eq!(
            round_trip(&cmd),
            Command::Ping {
                ttl: 1,
                context: Bytes::from(vec![7u8; 16])
            }
        );
        let cmd = Command::Error {
            reason: Bytes::from(vec![b'x'; 300]),
        };
        assert_eq!(
            round_trip(&cmd),
            Command::Error {
                reason: Bytes::from(vec![b'x'; 255])
            }
        );
    }

    #[test]
    fn empty_body() {
        assert_eq!(
            parse(b""),
            Err(CommandError::Malformed("empty command body"))
        );
    }

    #[test]
    fn zero_name_length() {
        assert_eq!(
            parse(b"\x00READY"),
            Err(CommandError::Malformed("zero-length command name"))
        );
    }

    #[test]
    fn name_longer_than_body() {
        assert_eq!(
            parse(b"\x06READY"),
            Err(CommandError::Malformed(
                "command name longer than the frame"
            ))
        );
        assert_eq!(
            parse(b"\xFF"),
            Err(CommandError::Malformed(
                "command name longer than the frame"
            ))
        );
    }

    #[test]
    fn non_alpha_name() {
        assert_eq!(
            parse(b"\x05READ1"),
            Err(CommandError::Malformed(
                "command name is not made of letters"
            ))
        );
        assert_eq!(
            parse(b"\x02A\x00"),
            Err(CommandError::Malformed(
                "command name is not made of letters"
            ))
        );
    }

    #[test]
    fn ready_metadata_error_propagates() {
        assert_eq!(
            parse(b"\x05READY\x00\x00\x00\x00\x00"),
            Err(CommandError::Metadata(MetadataError::EmptyName))
        );
        assert_eq!(
            parse(b"\x05READY\x01A\x00\x00\x00\x09x"),
            Err(CommandError::Metadata(MetadataError::Truncated))
        );
    }

    #[test]
    fn error_without_reason_length() {
        assert_eq!(
            parse(b"\x05ERROR"),
            Err(CommandError::Malformed("ERROR without a reason length"))
        );
    }

    #[test]
    fn error_reason_past_end() {
        assert_eq!(
            parse(b"\x05ERROR\x05abc"),
            Err(CommandError::Malformed(
                "ERROR reason longer than the frame"
            ))
        );
    }

    #[test]
    fn error_trailing_bytes_ignored() {
        assert_eq!(
            parse(b"\x05ERROR\x02abXYZ"),
            Ok(Command::Error {
                reason: Bytes::from_static(b"ab")
            })
        );
    }

    #[test]
    fn short_ping() {
        // `04 05 04 P I N G`: libzmq would read past the frame here.
        assert_eq!(
            parse(b"\x04PING"),
            Err(CommandError::Malformed("PING without a 2-byte TTL"))
        );
        assert_eq!(
            parse(b"\x04PING\x00"),
            Err(CommandError::Malformed("PING without a 2-byte TTL"))
        );
    }

    #[test]
    fn ping_context_truncated_to_16() {
        // libzmq test_heartbeats mock: a 58-byte context, echoed as 16.
        let mut body = b"\x04PING\x00\x01".to_vec();
        body.extend((0u8..58).collect::<Vec<_>>());
        let cmd = Command::parse(&Bytes::from(body)).unwrap();
        let Command::Ping { ttl, context } = cmd else {
            panic!("not a ping")
        };
        assert_eq!(ttl, 1);
        assert_eq!(&context[..], &(0u8..16).collect::<Vec<_>>()[..]);
        // libzmq expects a 21-byte PONG body: "\x04PONG" plus 16 bytes.
        let pong = encoded(&Command::Pong { context });
        assert_eq!(pong.len() - 2, 21);
    }

    #[test]
    fn pong_context_truncated_to_16() {
        let cmd = parse(b"\x04PONG0123456789abcdefXYZ").unwrap();
        assert_eq!(
            cmd,
            Command::Pong {
                context: Bytes::from_static(b"0123456789abcdef")
            }
        );
    }

    #[test]
    fn known_names_are_case_sensitive() {
        assert_eq!(
            parse(b"\x05ready"),
            Ok(Command::Unknown {
                name: Bytes::from_static(b"ready"),
                body: Bytes::new()
            })
        );
    }

    #[test]
    fn subscribe_and_cancel_bodies() {
        assert_eq!(
            parse(b"\x09SUBSCRIBE"),
            Ok(Command::Subscribe(Bytes::new()))
        );
        assert_eq!(
            parse(b"\x06CANCEL\x00\x01"),
            Ok(Command::Cancel(Bytes::from_static(b"\x00\x01")))
        );
    }

    #[test]
    fn peek_name_cases() {
        assert_eq!(peek_name(b"\x05READYxx"), Some(&b"READY"[..]));
        assert_eq!(peek_name(b"\x05REA"), None);
        assert_eq!(peek_name(b""), None);
        assert_eq!(peek_name(b"\x00"), Some(&b""[..]));
    }

    #[test]
    fn names() {
        assert_eq!(Command::Cancel(Bytes::new()).name(), b"CANCEL");
        assert_eq!(
            Command::Unknown {
                name: Bytes::from_static(b"HELLO"),
                body: Bytes::new()
            }
            .name(),
            b"HELLO"
        );
    }
}
