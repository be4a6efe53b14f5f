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
//! The wire protocol lives in the sans-I/O crate [`oxmq_proto`]: greeting, framing, commands,
//! security handshakes and the connection after the handshake (heartbeats, subscriptions) as
//! plain state machines over byte buffers with time passed in. This crate owns everything that
//! touches the operating system:
//!
//! ```text
//!   application thread                    I/O thread (one by default)
//!  ┌─────────────────────────┐   pipe   ┌────────────────────────────────┐
//!  │ Socket ── Pattern ──────┼─────────►│ Session ── Engine ── Stream ───┼──► tcp / ipc
//!  │ (PUB: match and fan out,│◄─────────┼ (reconnect,  (bytes through    │
//!  │  ROUTER: route by id)   │   pipe   │  linger)      proto, batched)  │
//!  └─────────────────────────┘          └────────────────────────────────┘
//! ```
//!
//! The modules form one chain of layers, each using only those below it (`tests/layers.rs`
//! checks it): `message` <- `signal` <- `pipe` <- `transport` <- `engine` <- `io` <- the socket
//! types (`socket/*.rs`) <- the face (`Context`, `Socket`, `Poller`, `AsyncSocket`, the proxy).
//!
//! - A **pipe** is a lock-free single-producer single-consumer queue of whole messages, bounded
//!   by the high-water mark (or a single overwritten slot with CONFLATE). Control messages
//!   (subscriptions, routing ids) travel in the same pipes, in order with the data. Inproc
//!   connects two sockets with a pair of pipes directly: messages move between threads without
//!   being encoded or copied and no I/O thread is involved.
//! - A **peer** is a pipe pair with an id; peers reach a socket, and leave it, through its
//!   mailbox, which the socket reads on its own thread before it sends or receives.
//! - A **pattern** (one file per socket type under `socket/`) routes messages across its peers
//!   and knows nothing of transports: load balancing, fair queueing, subscription tries,
//!   routing-id tables.
//! - A **session** is one peer on an I/O thread: it dials and redials (connect side), or serves an
//!   accepted connection (bind side), and runs an **engine** for the connection.
//! - The **engine** pumps bytes: every frame of one read is decoded and published with one
//!   flush; queued messages are encoded into one buffer (large bodies by reference) and leave in
//!   one `writev`. Small frames live inline in [`Frame`], so the hot path allocates nothing for
//!   them. A reply sent right after a receive may be written straight from the caller's thread
//!   when the connection is idle, and a receive that blocks on the socket's only connection
//!   reads and decodes it on the caller's thread while the I/O thread has nothing else to do
//!   for it (the write and read gates in `engine`): a request-reply round trip then wakes one
//!   thread per message on each side, not two. Before such a receive sleeps, it polls the
//!   connection for up to 20 µs, yielding the CPU between polls; a socket whose spins keep
//!   finding nothing spins on fewer and fewer of its waits (down to one in 1,024), so a slow
//!   stream or a peer on the same CPU costs little. libzmq never spins; on the 2-vCPU machine
//!   of the README's figures the spin is what puts a tcp round trip at 7 µs instead of 60.
//! - A socket that sends small messages (under 256 bytes) to one connection faster than about a
//!   million a second **streams** them: it takes the idle connection's output over, encodes each
//!   message into a buffer and writes 64 KiB at a time itself; the I/O thread looks every
//!   millisecond, writes what waits there and ends the stream once the socket has stopped
//!   sending (a socket about to wait in a receive or a send writes it out first). Handing every
//!   message to the I/O thread costs a cache line's trip between CPUs per message whenever the
//!   scheduler puts the two threads on different CPUs, which doubled the cost of a small
//!   message and made one run half as fast as the next; a stream costs the same wherever the
//!   threads run. The price: the last messages of a burst may wait up to a millisecond.
//! - Threads wake each other only when the other side has said it is going to sleep (see the
//!   `signal` module): a busy peer costs a fence and a load per batch, not a system call.
//! - A message travels by reference where it can: the engine decodes a small message straight
//!   into its pipe slot and encodes straight from it, and a socket moves a message between its
//!   pipe and the caller's place in one copy.
//!
//! The blocking API needs no async runtime. Errors are [`Error`], whose variants map one to one
//! onto libzmq's errno values; a send that fails hands the message back ([`SendError`]).
//!
//! Waiting on many sockets and living in event loops: a [`Poller`] waits on sockets and raw
//! descriptors at once, level-triggered; every socket lends its descriptor (`AsFd`) to epoll,
//! mio or tokio's `AsyncFd`, exact in both directions (no missed wake-up, no spin);
//! [`AsyncSocket`] gives `send(msg).await` and `recv().await` for any executor, with wakers
//! only; [`proxy`] and [`proxy_steerable`] are libzmq's built-in proxy.
//!
//! Watching sockets: [`Socket::monitor`] gives libzmq's events (with both ends of each
//! connection) as a channel, an iterator or a stream; [`Socket::stats`] and
//! [`Socket::peer_stats`] count what was sent, received, queued and dropped, by reason.
//!
//! # Differences from libzmq
//!
//! - A host name is resolved again at every reconnect, on a helper thread, and each address it
//!   gives is tried in turn (libzmq resolves once and tries one address).
//! - A received message has at most 65,536 frames by default, and
//!   [`ContextBuilder::max_msgsz`] caps its bytes across frames (libzmq bounds neither: a peer
//!   can grow one message without bound). SNDHWM_BYTES and RCVHWM_BYTES bound queues in bytes.
//! - Messages libzmq drops silently are counted ([`Socket::stats`]).
//! - A panic on an I/O thread closes one connection, not the thread.
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
//! - CONFLATE keeps a multi-part message whole (libzmq keeps one of its parts), and never
//!   conflates subscriptions (a libzmq SUB with CONFLATE can lose all but its last one).
//! - A peer whose routing id is already in use at a ROUTER is disconnected (libzmq leaves it
//!   unnamed and then takes its next message for an id); a CONNECT_ROUTING_ID already in use is
//!   EINVAL at `connect` (libzmq aborts).
//! - An XPUB in manual mode remembers which peer each pending subscription came from, so
//!   messages from an XSUB in between cannot shift which peer a `subscribe` applies to.
//! - Setting SNDHWM or RCVHWM on a socket with inproc peers bounds every queue between them by
//!   the sending socket's SNDHWM plus the receiving socket's RCVHWM, as they are now. libzmq 4.3
//!   also resets the queue from each peer, to the changing socket's new RCVHWM plus its RCVHWM
//!   when the connection was made, whatever the peer's SNDHWM.
//! - STREAM closes a connection when an empty frame is sent to its routing id, as libzmq's
//!   manual says (libzmq 4.3 drops the pipe but keeps the TCP connection open).
//! - A blocking receive on a socket with inproc peers looks again a few dozen times (about 2 µs,
//!   yielding the CPU now and then) before it sleeps, where libzmq sleeps at once: a message
//!   that close saves a wake-up on both sides (an inproc round trip takes about 1 µs instead of
//!   about 40).

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod accept_filter;
#[cfg(not(loom))]
mod async_socket;
mod context;
mod endpoint;
mod engine;
mod error;
mod io;
mod message;
mod metadata;
mod monitor;
mod options;
mod pipe;
#[cfg(all(target_os = "linux", not(loom)))]
mod poller;
#[cfg(all(target_os = "linux", not(loom)))]
mod proxy;
mod signal;
mod socket;
mod transport;

#[cfg(not(loom))]
pub use async_socket::{AsyncSocket, RecvFuture, SendFuture};
pub use context::{Context, ContextBuilder};
pub use error::{Error, Result};
pub use message::{Frame, Frames, Message};
pub use metadata::PeerMetadata;
pub use monitor::{
    Drops, EventKind, EventMask, EventSink, MONITOR_CAPACITY, Monitor, PeerStats, SocketEvent,
    SocketStats,
};
pub use options::{OptionValue, number as option_number};
#[cfg(all(target_os = "linux", not(loom)))]
pub use poller::{PollEvent, Poller, Readiness};
#[cfg(all(target_os = "linux", not(loom)))]
pub use proxy::{BURST as PROXY_BURST, ProxyStats, proxy, proxy_steerable};
pub use socket::{Events, IpcFilter, SendError, Socket, SocketType};

/// libzmq's own errno values, beyond the platform's: what [`Error::errno`] returns for
/// [`Error::InvalidState`], [`Error::NoCompatibleProtocol`], [`Error::Terminated`] and
/// [`Error::NoThread`].
pub mod errno {
    pub use crate::error::{EFSM, EMTHREAD, ENOCOMPATPROTO, ETERM};
}

/// The wire-protocol crate, re-exported.
pub use oxmq_proto as proto;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
