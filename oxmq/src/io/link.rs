//! What the I/O threads know of a socket: its id and type, its mailbox, its LINGER and its
//! monitor.
//!
//! Sessions hold an `Arc<SocketLink>` for the socket they serve; the socket owns the same link.
//! Everything else about the socket (its pattern, options, endpoints) stays on its own side.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use oxmq_proto::SocketType;

use crate::monitor::MonitorSlot;
use crate::pipe::{Mailbox, PeerEvent};
use crate::signal::Activation;

/// The shared part of a socket.
pub(crate) struct SocketLink {
    id: u64,
    socket_type: SocketType,
    mailbox: Arc<Mailbox>,
    linger: AtomicI32,
    monitor: MonitorSlot,
    /// Messages from peers dropped as too large (their connections closed), counted by the
    /// I/O threads.
    too_large: std::sync::atomic::AtomicU64,
}

impl SocketLink {
    /// A link for a new socket, with a thread activation.
    pub(crate) fn new(id: u64, socket_type: SocketType, linger: i32) -> Arc<SocketLink> {
        Arc::new(SocketLink {
            id,
            socket_type,
            mailbox: Mailbox::new(Activation::for_thread()),
            linger: AtomicI32::new(linger),
            monitor: MonitorSlot::default(),
            too_large: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A peer's message was dropped as too large (MAXMSGSIZE, or a cap on frames or bytes
    /// per message).
    pub(crate) fn note_too_large(&self) {
        self.too_large
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many messages [`note_too_large`](Self::note_too_large) counted.
    pub(crate) fn too_large(&self) -> u64 {
        self.too_large.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The socket's process-unique id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The socket's type.
    pub(crate) fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// The socket's mailbox.
    pub(crate) fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// The socket's activation (what its pipes' peers notify).
    pub(crate) fn activation(&self) -> Arc<Activation> {
        Arc::clone(self.mailbox.activation())
    }

    /// Whether the socket was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.mailbox.is_closed()
    }

    /// LINGER at the time of asking, in milliseconds.
    pub(crate) fn linger(&self) -> i32 {
        self.linger.load(Ordering::Relaxed)
    }

    /// Updates LINGER (socket side).
    pub(crate) fn set_linger(&self, ms: i32) {
        self.linger.store(ms, Ordering::Relaxed);
    }

    /// Where the socket's events go.
    pub(crate) fn monitor(&self) -> &MonitorSlot {
        &self.monitor
    }

    /// Posts a peer event. Returns `false` when the socket is closed.
    pub(crate) fn post(&self, event: PeerEvent) -> bool {
        self.mailbox.post(event)
    }

    /// Wakes a thread blocked on this socket (context shutdown).
    pub(crate) fn wake(&self) {
        self.mailbox.activation().wake();
    }
}
