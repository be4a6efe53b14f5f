//! Socket monitoring: what happened to a socket's endpoints and connections.
//!
//! A socket reports libzmq's events — listening, accepted, connected, handshake done or failed,
//! disconnected, retried, closed — to at most one monitor at a time, as libzmq does. A monitor is
//! either a [`Monitor`], a channel the application reads (`Socket::monitor`), or any
//! [`EventSink`] (`Socket::monitor_with`); the C ABI's `zmq_socket_monitor` is a sink that writes
//! libzmq's two-frame form on a PAIR socket.
//!
//! Events are raised where they happen: binds on the caller's thread, connections on the I/O
//! threads. The sink is called under the socket's monitor lock, so events reach it one at a time
//! and in the order they were raised, and `MONITOR_STOPPED` is always the last one a sink sees.
//!
//! A sink must not block: a [`Monitor`] whose reader falls [`MONITOR_CAPACITY`] events behind
//! loses the newest ones, where libzmq's monitor socket would stall the I/O thread that raised
//! them. A sink that panics loses the event it was given; the thread that raised it goes on.
//!
//! One difference in what is raised: a connect that fails before it could start (an ipc path
//! nobody listens on) raises CONNECT_RETRIED alone, where libzmq raises CLOSED first, with the
//! number of the descriptor it opened for the attempt.
//!
//! ```
//! use oxmq::{Context, EventKind, EventMask, SocketType};
//!
//! let ctx = Context::new();
//! let rep = ctx.socket(SocketType::Rep)?;
//! let events = rep.monitor(EventMask::ALL)?;
//! rep.bind("tcp://127.0.0.1:*")?;
//! let event = events.recv().expect("an event");
//! assert_eq!(event.kind, EventKind::Listening);
//! assert_eq!(event.endpoint, rep.last_endpoint());
//! # Ok::<(), oxmq::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

/// Events a [`Monitor`] holds before the newest are dropped.
pub const MONITOR_CAPACITY: usize = 4096;

/// What happened. Each kind's [`EventKind::bit`] is libzmq's `ZMQ_EVENT_*` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A connect completed (before the handshake); the value is the connection's descriptor.
    Connected,
    /// A connect is in progress; the value is the errno it returned (EINPROGRESS).
    ConnectDelayed,
    /// A reconnect is scheduled; the value is the interval in milliseconds.
    ConnectRetried,
    /// A bind succeeded; the value is the listener's descriptor.
    Listening,
    /// A bind failed; the value is the errno.
    BindFailed,
    /// A connection was accepted; the value is its descriptor.
    Accepted,
    /// Accepting a connection failed; the value is the errno.
    AcceptFailed,
    /// A listener, or a connect attempt that failed, was closed; the value is its descriptor.
    Closed,
    /// Closing a descriptor failed; the value is the errno.
    CloseFailed,
    /// An established connection was lost; the value is its descriptor.
    Disconnected,
    /// Monitoring stopped; the last event a monitor sees.
    MonitorStopped,
    /// The handshake failed without a protocol error (the peer went away, or HANDSHAKE_IVL
    /// passed); the value is the errno.
    HandshakeFailedNoDetail,
    /// The handshake completed.
    HandshakeSucceeded,
    /// The peer broke the protocol during the handshake; the value is libzmq's
    /// `ZMQ_PROTOCOL_ERROR_*` code.
    HandshakeFailedProtocol,
    /// The peer was refused by authentication; the value is the status code.
    HandshakeFailedAuth,
}

impl EventKind {
    /// Every kind, in the order of their bits.
    pub const ALL: [EventKind; 15] = [
        EventKind::Connected,
        EventKind::ConnectDelayed,
        EventKind::ConnectRetried,
        EventKind::Listening,
        EventKind::BindFailed,
        EventKind::Accepted,
        EventKind::AcceptFailed,
        EventKind::Closed,
        EventKind::CloseFailed,
        EventKind::Disconnected,
        EventKind::MonitorStopped,
        EventKind::HandshakeFailedNoDetail,
        EventKind::HandshakeSucceeded,
        EventKind::HandshakeFailedProtocol,
        EventKind::HandshakeFailedAuth,
    ];

    /// libzmq's `ZMQ_EVENT_*` value of this kind.
    pub const fn bit(self) -> u16 {
        1 << self as u16
    }

    /// The kind whose `ZMQ_EVENT_*` value is `bit`.
    pub fn from_bit(bit: u16) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| kind.bit() == bit)
    }

    /// libzmq's name for the event, without its `ZMQ_EVENT_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Connected => "CONNECTED",
            EventKind::ConnectDelayed => "CONNECT_DELAYED",
            EventKind::ConnectRetried => "CONNECT_RETRIED",
            EventKind::Listening => "LISTENING",
            EventKind::BindFailed => "BIND_FAILED",
            EventKind::Accepted => "ACCEPTED",
            EventKind::AcceptFailed => "ACCEPT_FAILED",
            EventKind::Closed => "CLOSED",
            EventKind::CloseFailed => "CLOSE_FAILED",
            EventKind::Disconnected => "DISCONNECTED",
            EventKind::MonitorStopped => "MONITOR_STOPPED",
            EventKind::HandshakeFailedNoDetail => "HANDSHAKE_FAILED_NO_DETAIL",
            EventKind::HandshakeSucceeded => "HANDSHAKE_SUCCEEDED",
            EventKind::HandshakeFailedProtocol => "HANDSHAKE_FAILED_PROTOCOL",
            EventKind::HandshakeFailedAuth => "HANDSHAKE_FAILED_AUTH",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`EventKind`]s, as libzmq's event mask (`ZMQ_EVENT_ALL` is [`EventMask::ALL`]).
///
/// ```
/// use oxmq::{EventKind, EventMask};
///
/// let mask = EventMask::from(EventKind::Connected) | EventKind::Disconnected;
/// assert!(mask.contains(EventKind::Disconnected));
/// assert!(!mask.contains(EventKind::Accepted));
/// assert_eq!(mask.bits(), 0x0201);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EventMask(u32);

impl EventMask {
    /// Every event (libzmq's `ZMQ_EVENT_ALL`, 0xFFFF).
    pub const ALL: EventMask = EventMask(0xFFFF);
    /// No event.
    pub const NONE: EventMask = EventMask(0);

    /// A mask from libzmq's bits; bits no event uses are kept but match nothing.
    pub const fn from_bits(bits: u32) -> EventMask {
        EventMask(bits)
    }

    /// The mask's bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: EventKind) -> bool {
        self.0 & kind.bit() as u32 != 0
    }
}

impl From<EventKind> for EventMask {
    fn from(kind: EventKind) -> EventMask {
        EventMask(u32::from(kind.bit()))
    }
}

impl std::ops::BitOr<EventKind> for EventMask {
    type Output = EventMask;
    fn bitor(self, kind: EventKind) -> EventMask {
        EventMask(self.0 | u32::from(kind.bit()))
    }
}

impl std::ops::BitOr for EventMask {
    type Output = EventMask;
    fn bitor(self, other: EventMask) -> EventMask {
        EventMask(self.0 | other.0)
    }
}

/// One event of a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketEvent {
    /// What happened.
    pub kind: EventKind,
    /// The event's value: a descriptor, an errno, an interval or a protocol error code (see
    /// [`EventKind`]).
    pub value: u64,
    /// The endpoint it concerns, as libzmq names it: the bound address for a listener and the
    /// connections it accepted, the connect address for a connecter; empty for
    /// [`EventKind::MonitorStopped`].
    pub endpoint: String,
    /// This side's address, as libzmq's version 2 events give it: the bound address for a
    /// listener's events, the connection's own address (`tcp://127.0.0.1:40312`, `ipc://` for
    /// an unnamed ipc end) for a connection's; empty when it is not known (a connect that is
    /// still under way) and for [`EventKind::MonitorStopped`].
    pub local: String,
    /// The other side's address: the connect address for a connecter's events, the peer's
    /// address for an accepted connection's; empty for a listener's events.
    pub remote: String,
}

/// One peer of a socket, as [`Socket::peer_stats`](crate::Socket::peer_stats) sees it now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStats {
    /// This side's address of the peer's connection, as [`SocketEvent::local`] gives it
    /// (empty while unknown; the endpoint for an inproc peer of a bind).
    pub local: String,
    /// The peer's address, as [`SocketEvent::remote`] gives it.
    pub remote: String,
    /// Messages queued towards the peer that it has not taken yet (as far as its side has
    /// told: credit comes back in batches, so this may lag by up to half the high-water mark).
    pub queued_out: u64,
    /// Messages from the peer waiting to be received.
    pub queued_in: u64,
    /// Messages sent to the peer so far (queued or written to its connection; a SUB's
    /// subscriptions count too).
    pub sent: u64,
    /// Messages received from the peer so far (not counted on a CONFLATE socket).
    pub received: u64,
    /// Messages for the peer dropped because its queue was at its high-water mark.
    pub dropped: u64,
}

/// Messages a socket dropped, by reason: what libzmq drops without a word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drops {
    /// The peer's queue was at its high-water mark (PUB and XPUB fan-out, ROUTER without
    /// ROUTER_MANDATORY).
    pub high_water_mark: u64,
    /// No peer has the routing id the message named (ROUTER without ROUTER_MANDATORY, a
    /// REP reply whose requester is gone).
    pub no_route: u64,
    /// A peer's message was over MAXMSGSIZE, the frames-per-message cap or the message-size
    /// cap: never delivered, and its connection closed.
    pub too_large: u64,
    /// The message named no peer at all (a ROUTER message without a body).
    pub unroutable: u64,
}

impl Drops {
    /// All drops, whatever the reason.
    pub fn total(&self) -> u64 {
        self.high_water_mark + self.no_route + self.too_large + self.unroutable
    }
}

/// A socket's traffic since it was made: [`Socket::stats`](crate::Socket::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketStats {
    /// Messages the application sent (each taken by the socket; a PUB message counts once
    /// however many subscribers got it).
    pub sent: u64,
    /// Messages the application received.
    pub received: u64,
    /// Messages queued towards the peers now (see [`PeerStats::queued_out`]).
    pub queued_out: u64,
    /// Messages from the peers waiting to be received now.
    pub queued_in: u64,
    /// Messages dropped, by reason.
    pub dropped: Drops,
}

/// Where an event happened: what [`SocketEvent::endpoint`], [`SocketEvent::local`] and
/// [`SocketEvent::remote`] say.
#[derive(Clone, Debug, Default)]
pub(crate) struct Place {
    pub(crate) endpoint: String,
    pub(crate) local: String,
    pub(crate) remote: String,
}

impl From<String> for Place {
    /// A listener's place: its endpoint is its local address and it has no remote one.
    fn from(endpoint: String) -> Place {
        Place {
            local: endpoint.clone(),
            endpoint,
            remote: String::new(),
        }
    }
}

/// Where a socket's events go.
///
/// Called on the thread that raised the event (the socket's, or an I/O thread), with the
/// socket's monitor lock held: it must return quickly and must not call into the monitored
/// socket.
pub trait EventSink: Send + Sync {
    /// Takes one event.
    fn event(&self, event: &SocketEvent);
}

/// A socket's events, as a channel: returned by `Socket::monitor`.
///
/// Read it blocking ([`recv`](Monitor::recv), [`recv_timeout`](Monitor::recv_timeout), as an
/// [`Iterator`]) or from async code on any executor ([`recv_async`](Monitor::recv_async),
/// [`poll_recv`](Monitor::poll_recv), and `futures_core::Stream` with the `futures` feature):
/// the monitor wakes the task that waits on it, and runs no thread of its own.
///
/// Ends (`recv` returns `None`) after [`EventKind::MonitorStopped`], when the socket closes or
/// another monitor replaces this one.
///
/// ```
/// use oxmq::{Context, EventKind, EventMask, SocketType};
///
/// let ctx = Context::new();
/// let pull = ctx.socket(SocketType::Pull)?;
/// let events = pull.monitor(EventMask::ALL)?;
/// pull.bind("tcp://127.0.0.1:*")?;
/// // From async code, on any executor (here: polled to completion by hand).
/// let event = futures_executor_like::block_on(events.recv_async()).expect("an event");
/// assert_eq!(event.kind, EventKind::Listening);
/// assert_eq!(event.local, pull.last_endpoint());
/// # mod futures_executor_like {
/// #     pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #         let mut f = std::pin::pin!(f);
/// #         let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #         loop {
/// #             if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #             std::thread::yield_now();
/// #         }
/// #     }
/// # }
/// # Ok::<(), oxmq::Error>(())
/// ```
pub struct Monitor {
    queue: Arc<EventQueue>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

/// The events between a [`ChannelSink`] and its [`Monitor`].
struct EventQueue {
    state: Mutex<QueueState>,
    /// Signalled when an event arrives or the sink goes.
    arrived: Condvar,
}

#[derive(Default)]
struct QueueState {
    events: VecDeque<SocketEvent>,
    /// The sink is gone: no event will come after those queued.
    closed: bool,
    /// The monitor is gone: events are dropped.
    unread: bool,
    /// The task waiting for an event, if one is.
    waker: Option<Waker>,
}

impl EventQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Monitor {
    /// A monitor and the sink that feeds it.
    pub(crate) fn channel() -> (Monitor, Arc<dyn EventSink>) {
        let queue = Arc::new(EventQueue {
            state: Mutex::new(QueueState::default()),
            arrived: Condvar::new(),
        });
        (
            Monitor {
                queue: Arc::clone(&queue),
            },
            Arc::new(ChannelSink { queue }),
        )
    }

    /// The next event, waiting for it; `None` once monitoring stopped and every event was read.
    pub fn recv(&self) -> Option<SocketEvent> {
        self.wait_until(None)
    }

    /// The next event if there is one now.
    pub fn try_recv(&self) -> Option<SocketEvent> {
        self.queue.lock().events.pop_front()
    }

    /// The next event, waiting at most `timeout`; `None` when the time ran out or monitoring
    /// stopped and every event was read.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<SocketEvent> {
        // A timeout past what `Instant` holds is no limit.
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// The next event, waiting until `deadline` (`None`: as long as it takes).
    fn wait_until(&self, deadline: Option<Instant>) -> Option<SocketEvent> {
        let mut state = self.queue.lock();
        loop {
            if let Some(event) = state.events.pop_front() {
                return Some(event);
            }
            if state.closed {
                return None;
            }
            state = match deadline {
                None => self
                    .queue
                    .arrived
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.queue
                        .arrived
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// The next event for async code: `Ready(Some(event))`, `Ready(None)` once monitoring
    /// stopped and every event was read, or `Pending` with `cx`'s waker kept (the last task
    /// to poll is the one woken).
    pub fn poll_recv(&self, cx: &mut TaskContext<'_>) -> Poll<Option<SocketEvent>> {
        let mut state = self.queue.lock();
        if let Some(event) = state.events.pop_front() {
            return Poll::Ready(Some(event));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next event, awaited: as [`recv`](Monitor::recv) for async code, on any executor.
    /// Cancel-safe: dropped before it finishes, it has taken no event.
    pub fn recv_async(&self) -> impl std::future::Future<Output = Option<SocketEvent>> + '_ {
        std::future::poll_fn(|cx| self.poll_recv(cx))
    }

    /// The events, each waited for, until monitoring stops.
    pub fn iter(&self) -> impl Iterator<Item = SocketEvent> + '_ {
        std::iter::from_fn(|| self.recv())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        state.unread = true;
        state.events.clear();
    }
}

impl Iterator for Monitor {
    type Item = SocketEvent;
    fn next(&mut self) -> Option<SocketEvent> {
        self.recv()
    }
}

#[cfg(feature = "futures")]
impl futures_core::Stream for Monitor {
    type Item = SocketEvent;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<SocketEvent>> {
        self.get_mut().poll_recv(cx)
    }
}

/// Feeds a [`Monitor`]: holds at most [`MONITOR_CAPACITY`] unread events.
struct ChannelSink {
    queue: Arc<EventQueue>,
}

impl ChannelSink {
    /// Wakes whoever waits on the monitor, outside the queue's lock.
    fn wake(&self, state: std::sync::MutexGuard<'_, QueueState>, waker: Option<Waker>) {
        drop(state);
        self.queue.arrived.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl EventSink for ChannelSink {
    fn event(&self, event: &SocketEvent) {
        let mut state = self.queue.lock();
        if state.unread {
            return;
        }
        if state.events.len() >= MONITOR_CAPACITY {
            tracing::debug!("oxmq: monitor full, {} event dropped", event.kind);
            return;
        }
        state.events.push_back(event.clone());
        let waker = state.waker.take();
        self.wake(state, waker);
    }
}

impl Drop for ChannelSink {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        state.closed = true;
        let waker = state.waker.take();
        self.wake(state, waker);
    }
}

/// A socket's monitor, shared by the socket and its sessions.
#[derive(Default)]
pub(crate) struct MonitorSlot {
    /// The mask in force, read without the lock so an unmonitored socket pays one load.
    mask: AtomicU32,
    sink: Mutex<Option<(EventMask, Arc<dyn EventSink>)>>,
}

impl MonitorSlot {
    /// Whether an event of `kind` would be delivered now.
    pub(crate) fn wants(&self, kind: EventKind) -> bool {
        EventMask(self.mask.load(Ordering::Relaxed)).contains(kind)
    }

    /// Raises an event (its place is only built when someone listens).
    pub(crate) fn emit<P: Into<Place>>(
        &self,
        kind: EventKind,
        value: u64,
        place: impl FnOnce() -> P,
    ) {
        if self.wants(kind) {
            self.emit_all(&[(kind, value)], place);
        }
    }

    /// Raises several events of one place back to back: no other event, and no stop, falls
    /// between them.
    pub(crate) fn emit_all<P: Into<Place>>(
        &self,
        events: &[(EventKind, u64)],
        place: impl FnOnce() -> P,
    ) {
        if !events.iter().any(|&(kind, _)| self.wants(kind)) {
            return;
        }
        let guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let Some((mask, sink)) = guard.as_ref() else {
            return;
        };
        let place: Place = place().into();
        for &(kind, value) in events {
            if mask.contains(kind) {
                deliver(
                    sink.as_ref(),
                    &SocketEvent {
                        kind,
                        value,
                        endpoint: place.endpoint.clone(),
                        local: place.local.clone(),
                        remote: place.remote.clone(),
                    },
                );
            }
        }
    }

    /// Starts monitoring into `sink`, stopping the monitor before (which sees
    /// [`EventKind::MonitorStopped`] if it asked for it).
    pub(crate) fn start(&self, mask: EventMask, sink: Arc<dyn EventSink>) {
        let mut guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        stop_locked(&mut guard);
        *guard = Some((mask, sink));
        self.mask.store(mask.bits(), Ordering::Relaxed);
    }

    /// Stops monitoring, if a monitor is set.
    pub(crate) fn stop(&self) {
        let mut guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        self.mask.store(0, Ordering::Relaxed);
        stop_locked(&mut guard);
    }
}

fn stop_locked(slot: &mut Option<(EventMask, Arc<dyn EventSink>)>) {
    if let Some((mask, sink)) = slot.take() {
        if mask.contains(EventKind::MonitorStopped) {
            deliver(
                sink.as_ref(),
                &SocketEvent {
                    kind: EventKind::MonitorStopped,
                    value: 0,
                    endpoint: String::new(),
                    local: String::new(),
                    remote: String::new(),
                },
            );
        }
    }
}

/// Hands an event to a sink. A sink that panics loses that event, not the thread that raised
/// it (an I/O thread serves every connection of its sockets).
fn deliver(sink: &dyn EventSink, event: &SocketEvent) {
    let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.event(event)));
    if delivered.is_err() {
        tracing::error!("oxmq: a monitor's sink panicked on {}", event.kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_libzmqs() {
        assert_eq!(EventKind::Connected.bit(), 0x0001);
        assert_eq!(EventKind::Listening.bit(), 0x0008);
        assert_eq!(EventKind::Disconnected.bit(), 0x0200);
        assert_eq!(EventKind::MonitorStopped.bit(), 0x0400);
        assert_eq!(EventKind::HandshakeFailedNoDetail.bit(), 0x0800);
        assert_eq!(EventKind::HandshakeSucceeded.bit(), 0x1000);
        assert_eq!(EventKind::HandshakeFailedAuth.bit(), 0x4000);
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_bit(kind.bit()), Some(kind));
            assert!(EventMask::ALL.contains(kind));
            assert!(!EventMask::NONE.contains(kind));
        }
        assert_eq!(EventKind::from_bit(0x8000), None);
        assert_eq!(EventKind::from_bit(3), None);
    }

    #[test]
    fn masked_events_are_not_delivered_and_stop_comes_last() {
        let slot = MonitorSlot::default();
        let (monitor, sink) = Monitor::channel();
        slot.start(
            EventMask::from(EventKind::Accepted) | EventKind::MonitorStopped,
            sink,
        );
        slot.emit(EventKind::Listening, 7, || String::from("tcp://a"));
        slot.emit_all(
            &[(EventKind::Accepted, 8), (EventKind::Disconnected, 8)],
            || String::from("tcp://b"),
        );
        slot.stop();
        slot.emit(EventKind::Accepted, 9, || String::from("tcp://c"));
        let got: Vec<(EventKind, u64, String)> =
            monitor.map(|e| (e.kind, e.value, e.endpoint)).collect();
        assert_eq!(
            got,
            [
                (EventKind::Accepted, 8, "tcp://b".to_owned()),
                (EventKind::MonitorStopped, 0, String::new()),
            ]
        );
    }

    #[test]
    fn a_new_monitor_stops_the_old_one() {
        let slot = MonitorSlot::default();
        let (first, sink) = Monitor::channel();
        slot.start(EventMask::ALL, sink);
        let (second, sink) = Monitor::channel();
        slot.start(EventMask::from(EventKind::Listening), sink);
        slot.emit(EventKind::Listening, 3, || String::from("ipc://x"));
        assert_eq!(
            first.recv().map(|e| e.kind),
            Some(EventKind::MonitorStopped)
        );
        assert_eq!(first.recv(), None);
        assert_eq!(second.try_recv().map(|e| e.value), Some(3));
        // The second asked not to see MONITOR_STOPPED.
        slot.stop();
        assert_eq!(second.recv(), None);
    }

    #[test]
    fn a_panicking_sink_loses_its_event_not_the_thread() {
        struct Panics;
        impl EventSink for Panics {
            fn event(&self, _: &SocketEvent) {
                panic!("a sink that panics");
            }
        }
        let slot = MonitorSlot::default();
        slot.start(EventMask::ALL, Arc::new(Panics));
        slot.emit(EventKind::Listening, 1, String::new);
        slot.stop();
        // The slot still works.
        let (monitor, sink) = Monitor::channel();
        slot.start(EventMask::ALL, sink);
        slot.emit(EventKind::Listening, 2, String::new);
        assert_eq!(monitor.try_recv().map(|e| e.value), Some(2));
    }

    #[test]
    fn a_full_monitor_drops_the_newest() {
        let slot = MonitorSlot::default();
        let (monitor, sink) = Monitor::channel();
        slot.start(EventMask::ALL, sink);
        for i in 0..MONITOR_CAPACITY as u64 + 10 {
            slot.emit(EventKind::ConnectRetried, i, String::new);
        }
        slot.stop();
        let values: Vec<u64> = monitor.map(|e| e.value).collect();
        assert_eq!(values.len(), MONITOR_CAPACITY);
        assert_eq!(values.last(), Some(&(MONITOR_CAPACITY as u64 - 1)));
    }
}
