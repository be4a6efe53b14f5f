//! ZMTP 3.1 protocol logic for oxmq, as pure state machines over byte
//! buffers.
//!
//! ```
//! use bytes::BytesMut;
//! use oxmq_proto::frame::encode_frame;
//! use oxmq_proto::{FrameDecoder, Handshake, HandshakeConfig, SocketType};
//!
//! // Two ends of a connection: a PUSH client and a PULL server.
//! let mut push = Handshake::new(HandshakeConfig::new(SocketType::Push));
//! let mut pull = Handshake::new(HandshakeConfig {
//!     as_server: true,
//!     ..HandshakeConfig::new(SocketType::Pull)
//! });
//!
//! // Stand-ins for the two directions of a TCP stream.
//! let mut to_pull = BytesMut::new();
//! let mut to_push = BytesMut::new();
//! let mut out = Vec::new();
//! while !(push.is_complete() && pull.is_complete()) {
//!     push.poll_transmit(&mut out);
//!     to_pull.extend_from_slice(&out);
//!     out.clear();
//!     pull.poll_transmit(&mut out);
//!     to_push.extend_from_slice(&out);
//!     out.clear();
//!     push.handle_input(&mut to_push)?;
//!     pull.handle_input(&mut to_pull)?;
//! }
//! // Always drain poll_transmit after completion: our READY may be queued.
//! push.poll_transmit(&mut out);
//! assert!(out.is_empty());
//! assert_eq!(pull.peer().unwrap().socket_type, SocketType::Push);
//!
//! // Traffic: a two-frame message, then whatever arrived so far is decoded.
//! encode_frame(&mut out, true, false, b"hello");
//! encode_frame(&mut out, false, false, &[0u8; 300]); // long frame
//! to_pull.extend_from_slice(&out);
//! let decoder = FrameDecoder::new(Some(1 << 20));
//! let first = decoder.decode_frame(&mut to_pull)?.unwrap();
//! assert!(first.more && &first.payload[..] == b"hello");
//! let second = decoder.decode_frame(&mut to_pull)?.unwrap();
//! assert!(!second.more && second.payload.len() == 300);
//! assert!(decoder.decode_frame(&mut to_pull)?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design
//!
//! This crate contains no networking code: no sockets, no threads, no
//! timers, no clocks. Like `quinn-proto` or `rustls`, it only turns bytes
//! received into decisions and bytes to send, and the `oxmq` runtime moves
//! those bytes over TCP/IPC and decides when. That keeps the protocol logic
//! deterministic, testable byte by byte, and fuzzable at in-memory speed
//! (see the `fuzz/` directory at the workspace root).
//!
//! The pieces, one module each:
//!
//! * [`greeting`]: the 64-byte greeting; refuses ZMTP 1.0/2.0 peers as soon
//!   as the offending byte arrives.
//! * [`frame`]: frame headers ([`FrameDecoder::parse_header`] is the
//!   per-message hot path: no allocation, a handful of branches) and
//!   encoding.
//! * [`command`]: READY, ERROR, PING, PONG, SUBSCRIBE, CANCEL.
//! * [`metadata`]: the property lists carried by READY.
//! * [`socket_type`]: socket types, wire names and the compatibility table.
//! * [`mechanism`]: security mechanisms (NULL today; PLAIN and CURVE slot in
//!   as further [`mechanism::MechanismConfig`] variants).
//! * [`handshake`]: greeting + mechanism + metadata checks, driven by
//!   [`Handshake::poll_transmit`] and [`Handshake::handle_input`].
//! * [`connection`]: the established connection after the handshake:
//!   data frames with multipart tracking, heartbeats (PING/PONG, TTL,
//!   timeouts), SUBSCRIBE/CANCEL and ERROR, driven by
//!   [`Connection::poll_input`], [`Connection::poll_transmit`] and
//!   [`Connection::handle_timeout`] with the time passed in.
//! * [`socks`]: the client side of a SOCKS5 proxy's handshake, which a
//!   connect through a proxy runs before the greeting.
//! * [`error`]: error types; their messages are what the runtime logs.
//!
//! # Robustness
//!
//! Every input from the peer is untrusted: malformed input yields an error,
//! never a panic, and no memory is reserved from sizes the peer announces
//! (the receive buffer only ever holds bytes that arrived, and handshake
//! commands are capped at [`handshake::MAX_HANDSHAKE_COMMAND`] from their
//! header). Arithmetic on peer-controlled sizes is checked.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod command;
pub mod connection;
pub mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod greeting;
pub mod handshake;
pub mod mechanism;
pub mod metadata;
pub mod socket_type;
pub mod socks;
pub mod z85;

pub use connection::{Connection, ConnectionConfig, Input};
pub use error::*;
pub use frame::{FrameDecoder, FrameHeader};
pub use handshake::{Handshake, HandshakeConfig, PeerInfo};
pub use socket_type::SocketType;
