//! oxmq: ZeroMQ, written from scratch in Rust.
//!
//! oxmq sockets carry whole multi-part messages over `tcp://`, `ipc://` and `inproc://`, and speak
//! ZMTP 3.1 (RFC 37) on the wire, so they talk to libzmq peers (and any other ZeroMQ
//! implementation). The API follows libzmq's nouns: a [`Context`] makes [`Socket`]s, sockets
//! `bind` and `connect` to endpoints, and `send` / `recv` [`Message`]s.
//!
//! ```
//! use oxmq::{Context, SocketType};
//!
//! let ctx = Context::new();
//! let pull = ctx.socket(SocketType::Pull)?;
//! pull.bind("tcp://127.0.0.1:*")?;
//! let push = ctx.socket(SocketType::Push)?;
//! push.connect(&pull.last_endpoint())?;
//!
//! push.send(oxmq::Message::from_frames(["header", "body"]))?;
//! let msg = pull.recv()?;
//! assert_eq!(msg.len(), 2);
//! assert_eq!(msg[1], b"body");
//! # Ok::<(), oxmq::Error>(())
//! ```
//!
//! # Design
//!
//! The wire protocol lives in the sans-I/O crate [`oxmq_proto`]: greeting, framing, commands and
//! security handshakes as plain state machines over byte buffers. This crate owns everything
//! that touches the operating system:
//!
//! ```text
//!   application thread                 I/O thread (one by default)
//!  ┌──────────────────────┐   pipe   ┌────────────────────────────────┐
//!  │ Socket ── Pattern ───┼─────────►│ Session ── Engine ── Stream ───┼──► tcp / ipc
//!  │ (PUSH: load balance, │◄─────────┼ (reconnect,  (handshake,       │
//!  │  PULL: fair queue)   │   pipe   │  linger)      batched codec)   │
//!  └──────────────────────┘          └────────────────────────────────┘
//! ```
//!
//! - A **pipe** is a lock-free single-producer single-consumer queue of whole messages, bounded
//!   by the high-water mark. Inproc connects two sockets with a pair of pipes directly: messages
//!   move between threads without being encoded or copied and no I/O thread is involved.
//! - A **pattern** (one file per socket type under `socket/`) routes messages across its peers'
//!   pipes and knows nothing of transports.
//! - A **session** is one peer on an I/O thread: it dials and redials (connect side), or serves an
//!   accepted connection (bind side), and runs an **engine** for the connection.
//! - The **engine** runs the handshake and then moves messages between pipes and the stream:
//!   every frame of one read is decoded and published with one flush; queued messages are
//!   encoded into one buffer (large bodies by reference) and leave in one `writev`. Small frames
//!   live inline in [`Frame`], so the hot path allocates nothing for them.
//! - Threads wake each other only when the other side has said it is going to sleep (see the
//!   `signal` module): a busy peer costs a fence and a load per batch, not a system call.
//!
//! The blocking API needs no async runtime. Errors are [`Error`], whose variants map one to one
//! onto libzmq's errno values.
//!
//! # Differences from libzmq
//!
//! - A peer that announces a huge frame cannot make oxmq allocate it: buffers grow with the bytes
//!   that actually arrive (libzmq allocates the announced size up front).
//! - ZMTP 1.0 and 2.0 peers are refused (libzmq 4.3 still speaks them); ZMTP 3.0 and 3.1 peers are
//!   accepted.
//! - Closing a socket delivers every message sent before the close within LINGER over ipc too
//!   (libzmq can lose the tail of an ipc stream, libzmq issue 4660): once everything is written,
//!   a closing connection shuts down its write side and waits for the peer to take the rest or
//!   close, instead of closing at once. With LINGER -1 that last wait ends when the peer has
//!   taken nothing for 10 s.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod context;
mod endpoint;
mod engine;
mod error;
mod io;
mod message;
mod options;
mod pipe;
mod signal;
mod socket;
mod transport;

pub use context::Context;
pub use error::{Error, Result};
pub use message::{Frame, Frames, Message};
pub use options::number as option_number;
pub use socket::{SendError, Socket, SocketType};

/// The wire-protocol crate, re-exported.
pub use oxmq_proto as proto;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
