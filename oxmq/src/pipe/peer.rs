//! A socket's view of one peer: two pipes, the peer's identity, and how to reach the socket.
//!
//! A [`Peer`] is what a socket type routes over. Whether a connection on an I/O thread or another
//! socket of the same context (inproc) sits at the far end of its pipes is invisible to socket
//! types; the only trace of the transport is an optional [`DirectWrite`] sink, the fast path that
//! lets a reply skip the I/O thread when the connection is idle.
//!
//! Peers reach a socket, and leave it, through its [`Mailbox`]: sessions on I/O threads and
//! inproc peers post [`PeerEvent`]s, and the socket applies them on its own thread before it
//! next sends or receives.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use super::{PipeReader, PipeWriter};
use crate::message::Message;
use crate::signal::Activation;

/// A process-unique peer id. Socket types key their routing tables by it.
pub(crate) type PeerId = u64;

static NEXT_PEER: AtomicU64 = AtomicU64::new(1);

/// A fresh, process-unique [`PeerId`].
pub(crate) fn next_peer_id() -> PeerId {
    NEXT_PEER.fetch_add(1, Ordering::Relaxed)
}

/// A way to write a message straight to a connection from the socket's thread (implemented by
/// the engine's write gate). Returns `false` when the message must take the pipe instead.
pub(crate) trait DirectWrite: Send + Sync {
    /// Writes `msg` if the connection is idle; `drained` tells whether the pipe is empty.
    fn try_write(&self, msg: &Message, drained: &dyn Fn() -> bool) -> bool;

    /// Writes a one-frame message of `data` if the connection is idle (as
    /// [`try_write`](Self::try_write)).
    fn try_write_bytes(&self, data: &[u8], drained: &dyn Fn() -> bool) -> bool;
}

/// A way for a socket blocked in a receive to read its peer's connection itself (implemented
/// by the engine's read gate).
pub(crate) trait DirectRead: Send + Sync {
    /// Waits (up to `deadline`) until the connection is readable, and reads and decodes what
    /// arrived into the peer's pipe; or until `socket` is woken for anything else. The caller
    /// announced its wait on `socket` ([`Activation::prepare_wait`]) and looked at its pipes
    /// since.
    fn wait(&self, socket: &Activation, deadline: Option<Instant>) -> ReadWait;

    /// The socket stops reading the connection itself for now (it waits for something else, or
    /// looks at its pipes without waiting): the connection's input is its I/O thread's again.
    fn release(&self);
}

/// How a [`DirectRead::wait`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) enum ReadWait {
    /// Something may have arrived: look at the pipes again.
    Woken,
    /// The connection is not lent to the socket now (or no longer can be read from its
    /// thread): wait the usual way.
    Unavailable,
    /// The deadline passed.
    TimedOut,
    /// A signal handler ran on the waiting thread.
    Interrupted,
}

/// One peer of a socket: a pipe to it and a pipe from it.
pub(crate) struct Peer {
    /// Unique among all peers of the process.
    pub id: PeerId,
    pub writer: PipeWriter,
    pub reader: PipeReader,
    /// The bind or connect this peer came through.
    pub endpoint_id: u64,
    /// The peer's routing id (ROUTING_ID, or `Identity` from its READY); `None` while unknown,
    /// in which case it arrives in-band as the first message of the pipe
    /// ([`Kind::RoutingId`](crate::message::Kind::RoutingId)).
    pub routing_id: Option<Bytes>,
    /// The routing id this socket assigned to the peer itself: the CONNECT_ROUTING_ID of the
    /// `connect()` that made it. A ROUTER (or REP) names the peer by it rather than by
    /// `routing_id`, and ignores the routing ids that arrive in-band for it.
    pub assigned_id: Option<Bytes>,
    /// For a connection on an I/O thread: writes that bypass the pipe (see `engine::write_gate`).
    pub sink: Option<Arc<dyn DirectWrite>>,
    /// For a connection on an I/O thread: reads from the socket's thread while it is the
    /// socket's only peer (see `engine::read_gate`).
    pub source: Option<Arc<dyn DirectRead>>,
    /// Whether the socket is in request-reply rhythm (its last operation was a receive), which
    /// is when a direct write pays off; shared by all peers of one socket.
    pub rhythm: Arc<AtomicBool>,
    /// An inproc peer: how to tell the socket at the far end that this side is gone (done when
    /// this peer is dropped).
    pub far_end: Option<Arc<FarEnd>>,
}

impl Peer {
    /// A peer over `writer` and `reader` with a fresh id.
    pub(crate) fn new(writer: PipeWriter, reader: PipeReader, endpoint_id: u64) -> Peer {
        Peer {
            id: next_peer_id(),
            writer,
            reader,
            endpoint_id,
            routing_id: None,
            assigned_id: None,
            sink: None,
            source: None,
            rhythm: Arc::new(AtomicBool::new(false)),
            far_end: None,
        }
    }

    /// Sends `msg` to this peer: written straight to the connection when the socket is in
    /// request-reply rhythm and the connection is idle, otherwise queued in the pipe. Returns
    /// whether the message was taken (then `msg` holds something for the caller to drop, see
    /// [`PipeWriter::send_from`]); when the pipe is full or closed it stays in `msg`. Taking
    /// it by reference saves copying it back and forth.
    #[inline]
    pub(crate) fn send_from(&mut self, msg: &mut Message) -> bool {
        self.write_direct(|sink, drained| sink.try_write(msg, drained))
            || self.writer.send_from(msg)
    }

    /// Sends a one-frame message holding a copy of `data` (see [`PipeWriter::send_bytes`]);
    /// returns whether it was taken.
    #[inline]
    pub(crate) fn send_bytes(&mut self, data: &[u8]) -> bool {
        self.write_direct(|sink, drained| sink.try_write_bytes(data, drained))
            || self.writer.send_bytes(data)
    }

    /// The direct write, when it may pay off (a sink, request-reply rhythm, a pipe still
    /// open): `write` gets the sink and the "pipe is drained" check. Returns whether it wrote.
    #[inline]
    fn write_direct(
        &self,
        write: impl FnOnce(&dyn DirectWrite, &dyn Fn() -> bool) -> bool,
    ) -> bool {
        let Some(sink) = &self.sink else {
            return false;
        };
        let writer = &self.writer;
        self.rhythm.load(Ordering::Relaxed)
            && !writer.is_closed()
            && write(sink.as_ref(), &|| writer.is_drained())
    }

    /// [`send_from`](Self::send_from) by value: hands the message back when the pipe is full
    /// or closed.
    #[inline]
    pub(crate) fn send(&mut self, msg: Message) -> Result<(), Message> {
        let mut msg = msg;
        if self.send_from(&mut msg) {
            Ok(())
        } else {
            Err(msg)
        }
    }

    /// Whether the peer is gone for good: it closed its end and everything it sent was read.
    pub(crate) fn is_gone(&mut self) -> bool {
        self.writer.is_closed() && self.reader.is_finished()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(far) = self.far_end.take() {
            far.detach();
        }
    }
}

/// The far end of an inproc peer: the other socket's mailbox (set once that socket is known: a
/// connect may precede the bind) and the id of its peer for us.
pub(crate) struct FarEnd {
    mailbox: OnceLock<Arc<Mailbox>>,
    peer: PeerId,
    /// This side is gone; a mailbox set afterwards is told at once.
    detached: AtomicBool,
}

impl FarEnd {
    /// The far end of peer `peer` of the socket behind `mailbox` (`None`: not bound yet).
    pub(crate) fn new(mailbox: Option<Arc<Mailbox>>, peer: PeerId) -> Arc<FarEnd> {
        let slot = OnceLock::new();
        if let Some(mailbox) = mailbox {
            let _ = slot.set(mailbox);
        }
        Arc::new(FarEnd {
            mailbox: slot,
            peer,
            detached: AtomicBool::new(false),
        })
    }

    /// The far socket became known (it bound the name), after it was given its peer: if this
    /// side is gone already (a connecter closed before the bind), it is told so now.
    pub(crate) fn set_mailbox(&self, mailbox: Arc<Mailbox>) {
        let _ = self.mailbox.set(mailbox);
        // Pairs with the fence in `detach`: one of the two sees the other's store, so the
        // far socket hears of it at least once (a second Detach of a peer is ignored).
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.detached.load(Ordering::Relaxed) {
            self.post_detach();
        }
    }

    /// Tells the far socket that this side is gone.
    fn detach(&self) {
        self.detached.store(true, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.post_detach();
    }

    fn post_detach(&self) {
        if let Some(mailbox) = self.mailbox.get() {
            mailbox.post(PeerEvent::Detach(self.peer));
        }
    }
}

/// What a socket learns about its peers from other threads.
// Events are few (one per connection), and boxing the peer would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PeerEvent {
    /// A new peer: a handshake finished, or an inproc socket connected.
    Attach(Peer),
    /// The peer's far end closed: stop routing to it, and forget it once its messages are read.
    Detach(PeerId),
    /// The peer's connection was re-established (its pipes survived): state the far end kept
    /// for us, such as subscriptions, must be sent again.
    Hiccup(PeerId),
}

/// The queue of [`PeerEvent`]s of one socket.
pub(crate) struct Mailbox {
    events: Mutex<Vec<PeerEvent>>,
    has_mail: AtomicBool,
    closed: AtomicBool,
    activation: Arc<Activation>,
}

impl Mailbox {
    /// A mailbox that wakes `activation` when mail arrives.
    pub(crate) fn new(activation: Arc<Activation>) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            events: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            activation,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<PeerEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The socket's activation.
    pub(crate) fn activation(&self) -> &Arc<Activation> {
        &self.activation
    }

    /// Posts an event. Returns `false` (dropping the event, and so closing an attached peer's
    /// pipes) when the socket is closed.
    pub(crate) fn post(&self, event: PeerEvent) -> bool {
        {
            // Checked under the lock: a closing socket drains the mailbox under it too, so an
            // event is either drained or refused, never stranded.
            let mut events = self.lock();
            if self.is_closed() {
                drop(events);
                return false;
            }
            events.push(event);
        }
        self.has_mail.store(true, Ordering::Release);
        self.activation.notify();
        true
    }

    /// Takes the posted events, if any (one load when there are none).
    #[inline]
    pub(crate) fn take(&self) -> Option<Vec<PeerEvent>> {
        if !self.has_mail.load(Ordering::Acquire) {
            return None;
        }
        self.has_mail.store(false, Ordering::Relaxed);
        Some(std::mem::take(&mut *self.lock()))
    }

    /// Whether the socket was closed.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the mailbox: later posts are refused. Returns what was still queued.
    pub(crate) fn close(&self) -> Vec<PeerEvent> {
        let mut events = self.lock();
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut *events)
    }
}
