//! The read gate: a receive that blocks on a socket's only connection reads it from its own
//! thread.
//!
//! Normally bytes go kernel → I/O thread → pipe → socket: the I/O thread wakes up for the
//! arrival, decodes, and wakes the receiving thread. Waiting on the connection directly saves
//! one of those two wake-ups, which is most of a small message's one-way latency and one
//! context switch per read of a stream of large messages. The receive side of the write gate.
//!
//! A session whose connection has nothing for the I/O thread to do (no output queued, no
//! timers, a receive pipe with room, input read until the stream had no more) *lends* its
//! engine and its end of the receive pipe to the gate when it goes idle, and takes them back at
//! the start of its next turn, whatever woke it. A socket blocking in a receive, when this
//! connection is its only peer, waits in `poll(2)` on the stream and on its own wake-up
//! descriptor at once, and when the stream becomes readable it runs the lent engine's input
//! side itself: it reads, decodes into the receive pipe as the session would, and takes the
//! message from the pipe as usual. Whatever needs the session afterwards (an answer to a PING,
//! a timer armed by the peer's TTL, a full pipe, a failed connection) wakes it, and it takes
//! the engine back.
//!
//! A receive loop on a stream keeps the connection: the socket reads once per wait (the
//! frames of one read are taken before the next, so the read buffer is reused in place), reads
//! again without `poll(2)` when the last read filled its size, and before it sleeps it polls
//! for up to [`SPIN`] without sleeping ([`Spin`]): the wake-up of a sleeping thread costs more
//! than a fast sender takes to write its next batch. A receive that finds the I/O thread
//! holding the connection parks the usual way but does not let go of it: the session may then
//! lend it with input left behind a full receive pipe, which the receive decodes once it has
//! taken the pipe's messages (letting go there had the two threads take turns at every
//! pipe-full for the rest of the stream).
//!
//! While the socket reads the connection, the I/O thread's poller watches only its hang-ups
//! ([`Watch`]): an arrival wakes the socket alone. The socket narrows the interest at its first
//! wait and leaves it so after the receive returns, so that a request-reply rhythm pays no
//! system call for it; it gives input back to the I/O thread as soon as it waits for anything
//! else or looks at its pipes without waiting (`DirectRead::release`), and the I/O thread takes
//! it back by itself within two [`SWEEP_EVERY`] of the socket's last wait ([`Sweeper`],
//! [`ReadGate::keep_lent`]), so a PING that comes while the application is away is still
//! answered. A hang-up always goes to the session, so the end
//! of a connection is seen in the order of the I/O thread's events. Taking the engine back
//! restores the full interest.
//!
//! A session that must close a connection while the socket polls it wakes the socket, so that
//! its `poll(2)` lets go of the descriptor.
//!
//! The lock is taken by the session at most twice per turn and by the socket only around a
//! read, never while it waits; a session that wants its engine back while the socket reads
//! waits for that read to end.

// Under loom the socket never waits on a connection (see `DirectRead::wait`).
#![cfg_attr(loom, allow(dead_code))]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use mio::Registry;

use super::{CloseReason, Engine, WriteGate};
use crate::pipe::{DirectRead, PipeWriter, ReadWait};
use crate::signal::Activation;

/// The I/O thread's side of connections whose input it no longer watches (see
/// [`ReadGate::keep_lent`]).
pub(crate) trait Sweeper: Send + Sync {
    /// Has the thread look at connection `token` within [`SWEEP_EVERY`].
    fn sweep_later(&self, token: usize);
}

/// How often the I/O thread looks whether the socket still waits on a connection whose input
/// it does not watch: a PING that comes while the application is away is answered within
/// twice this.
pub(crate) const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// The session's I/O thread, as the socket's side of the gate needs it.
struct IoSide {
    registry: Arc<Registry>,
    sweeper: Arc<dyn Sweeper>,
    token: usize,
}

/// What a session lends the gate while it is idle.
pub(crate) struct Lent {
    pub engine: Engine,
    /// The session's end of the receive pipe.
    pub incoming: PipeWriter,
    /// The connection failed while the socket read it: the session closes it.
    pub failed: Option<CloseReason>,
}

/// What the lock guards.
struct Slot {
    lent: Option<Lent>,
    /// What the I/O thread's poller watches on the lent connection.
    interest: Watch,
    /// The socket waited on the connection and has not let go of it since (see
    /// [`ReadGate::lend`]).
    socket_reads: bool,
}

/// The I/O thread's interest in a connection's descriptor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Input, output and hang-ups: as the session registered it.
    All,
    /// Hang-ups only: the socket waits on the connection in `poll(2)`, and an arrival wakes no
    /// other thread.
    HangUps,
    /// Input and hang-ups: the socket's wait ended; output readiness is added back when the
    /// session takes the connection back (adding it at once would report the stream writable
    /// to the I/O thread, a wake-up for nothing).
    NoOutput,
}

/// Shared by a session and the socket's peer for that session.
pub(crate) struct ReadGate {
    slot: Mutex<Slot>,
    /// The socket waits in `poll(2)` on the lent connection.
    polling: AtomicBool,
    /// The session left readiness of the lent connection to the socket (see
    /// [`leave_to_socket`](Self::leave_to_socket)).
    left: AtomicBool,
    /// The socket waited on the connection since the last sweep (see
    /// [`keep_lent`](Self::keep_lent)).
    active: AtomicBool,
    /// A sweep is scheduled on the I/O thread.
    sweep_armed: AtomicBool,
    /// Whether the socket spins before it sleeps.
    spin: Spin,
    /// For the engine's answers to the peer's commands (see [`Engine::read`]).
    write_gate: Arc<WriteGate>,
    /// The session's activation, to hand it back what only it can do.
    session: OnceLock<Arc<Activation>>,
    /// The session's I/O thread: its poller, and the connection's token there.
    io: OnceLock<IoSide>,
}

impl ReadGate {
    pub(crate) fn new(write_gate: Arc<WriteGate>) -> Arc<ReadGate> {
        Arc::new(ReadGate {
            slot: Mutex::new(Slot {
                lent: None,
                interest: Watch::All,
                socket_reads: false,
            }),
            polling: AtomicBool::new(false),
            left: AtomicBool::new(false),
            active: AtomicBool::new(false),
            sweep_armed: AtomicBool::new(false),
            spin: Spin::default(),
            write_gate,
            session: OnceLock::new(),
            io: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Session side: its activation, its I/O thread's poller and sweeper, and its token
    /// there (set once, when the session starts).
    pub(crate) fn set_session(
        &self,
        act: Arc<Activation>,
        registry: Arc<Registry>,
        sweeper: Arc<dyn Sweeper>,
        token: usize,
    ) {
        let _ = self.session.set(act);
        let _ = self.io.set(IoSide {
            registry,
            sweeper,
            token,
        });
    }

    /// Session side: lends the idle connection to the socket. One with input waiting (its
    /// receive pipe is full) goes only to a socket that reads it itself (it waited on it and
    /// did not let go since), which decodes the rest when it has taken the pipe's messages;
    /// otherwise it comes back (`Some`).
    pub(crate) fn lend(&self, lent: Lent) -> Option<Lent> {
        let mut slot = self.lock();
        if lent.engine.has_input_pending() {
            if !slot.socket_reads {
                return Some(lent);
            }
            // The pipe's credit need not wake the session, which has nothing to do.
            lent.incoming.forget_blocked();
        }
        slot.lent = Some(lent);
        None
    }

    /// Session side: takes the connection back (waiting for a read the socket is doing), with
    /// the poller watching all of it again.
    pub(crate) fn reclaim(&self) -> Option<Lent> {
        let mut slot = self.lock();
        let lent = slot.lent.take()?;
        self.watch(&mut slot, lent.engine.stream().fd(), Watch::All);
        Some(lent)
    }

    /// Changes what the I/O thread's poller watches on `fd` (under the lock, by whoever holds
    /// the engine). A failure leaves the interest as it was: at worst a wake-up for nothing.
    fn watch(&self, slot: &mut Slot, fd: i32, interest: Watch) {
        if slot.interest == interest {
            return;
        }
        let Some(io) = self.io.get() else {
            return;
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::fd::AsRawFd;
            // Edge-triggered, as mio registers it; mio reads the token from `u64`.
            let events = libc::EPOLLET
                | libc::EPOLLRDHUP
                | match interest {
                    Watch::All => libc::EPOLLIN | libc::EPOLLOUT,
                    Watch::HangUps => 0,
                    Watch::NoOutput => libc::EPOLLIN,
                };
            let mut event = libc::epoll_event {
                events: events as u32,
                u64: io.token as u64,
            };
            // SAFETY: `event` is a live, initialised epoll_event; the registry's descriptor
            // is an epoll instance kept open by the Arc, and `fd` is the lent stream's, open
            // while the engine that owns it is in the slot (the lock is held).
            let rc = unsafe {
                libc::epoll_ctl(io.registry.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut event)
            };
            if rc == 0 {
                slot.interest = interest;
            }
        }
    }

    /// Session side: the poller reported the lent connection. Returns `true` when the socket
    /// waits on it in `poll(2)` and will read it (the session then leaves it alone), `false`
    /// when the session must take it back and read it.
    ///
    /// The session marks the readiness as left to the socket before it looks whether the
    /// socket polls; the socket stops polling before it looks at that mark. With both orders
    /// sequentially consistent, at least one of them sees the other's store, so readiness the
    /// session leaves is always read by someone.
    #[inline]
    pub(crate) fn leave_to_socket(&self) -> bool {
        self.left.store(true, Ordering::SeqCst);
        self.polling.load(Ordering::SeqCst)
    }

    /// Session side, at a sweep: whether the connection stays lent because the socket waited
    /// on it since the last sweep (a receive loop that reads a stream keeps it, and the sweep
    /// is armed again); otherwise the session takes it back (if it is still lent), and the
    /// next narrowing arms a new sweep. Input the socket left in the stream is so read within
    /// two sweeps of its last wait.
    pub(crate) fn keep_lent(&self, lent: bool) -> bool {
        if lent && self.active.swap(false, Ordering::Relaxed) {
            return true;
        }
        // No sweep is pending any more, whether the connection was lent or taken back since
        // the narrowing that armed this one.
        self.sweep_armed.store(false, Ordering::Relaxed);
        false
    }

    /// Session side: a connection is being closed; a socket polling its descriptor is woken so
    /// that it lets go of it.
    pub(crate) fn release_socket(&self, socket: &Activation) {
        if self.polling.load(Ordering::SeqCst) {
            socket.wake();
        }
    }

    fn wake_session(&self) {
        if let Some(act) = self.session.get() {
            act.wake();
        }
    }

    /// Input readiness is the I/O thread's again, if the socket had taken it; input left in
    /// the read buffer (a decode stopped at a full pipe) is the session's to decode, as no
    /// readiness event will tell it.
    fn widen(&self) {
        let mut guard = self.lock();
        let slot = &mut *guard;
        slot.socket_reads = false;
        let Some(lent) = &slot.lent else {
            return;
        };
        let pending = lent.engine.has_input_pending();
        if slot.interest == Watch::HangUps {
            let fd = lent.engine.stream().fd();
            self.watch(slot, fd, Watch::NoOutput);
        }
        drop(guard);
        if pending {
            self.wake_session();
        }
    }

    /// Socket side: reads the lent connection after `poll(2)` said it is readable.
    fn read_lent(&self, hang_up: bool) -> ReadWait {
        let mut guard = self.lock();
        let slot = &mut *guard;
        // The session took it back meanwhile: it reads (or already read) what arrived.
        let Some(lent) = slot.lent.as_mut() else {
            return ReadWait::Woken;
        };
        if lent.failed.is_some() {
            return ReadWait::Unavailable;
        }
        let engine = &mut lent.engine;
        engine.on_ready(true, false, hang_up);
        let pump = match engine.read(&mut lent.incoming, &self.write_gate, Instant::now()) {
            Ok(pump) => pump,
            Err(reason) => {
                lent.failed = Some(reason);
                drop(guard);
                self.wake_session();
                return ReadWait::Unavailable;
            }
        };
        // Work for the I/O thread: the session takes the connection back (nobody else would
        // notice the stream's state). A read cut short by the turn's budget or by a full pipe
        // keeps it: this thread reads on, without asking poll(2), when the pipe runs dry (and
        // the pipe's credit need not wake the session, which has nothing to do).
        let needs_session = !engine.can_stay_lent();
        if pump.input_blocked {
            lent.incoming.forget_blocked();
        }
        drop(guard);
        if needs_session {
            self.wake_session();
        }
        ReadWait::Woken
    }
}

impl DirectRead for ReadGate {
    fn wait(&self, socket: &Activation, deadline: Option<Instant>) -> ReadWait {
        #[cfg(loom)]
        {
            // Loom models the pipes; their wake-up descriptor does not exist there.
            let _ = (socket, deadline);
            ReadWait::Unavailable
        }
        #[cfg(not(loom))]
        self.wait_polling(socket, deadline)
    }

    fn release(&self) {
        self.widen();
    }
}

impl ReadGate {
    #[cfg(not(loom))]
    fn wait_polling(&self, socket: &Activation, deadline: Option<Instant>) -> ReadWait {
        let Ok(signal) = socket.signal_fd() else {
            return ReadWait::Unavailable;
        };
        let (fd, narrowed, pending) = {
            let mut slot = self.lock();
            slot.socket_reads = true;
            let (fd, pending) = match &slot.lent {
                Some(lent) if lent.failed.is_none() => {
                    (lent.engine.stream().fd(), lent.engine.has_input_pending())
                }
                _ => return ReadWait::Unavailable,
            };
            let before = slot.interest;
            self.watch(&mut slot, fd, Watch::HangUps);
            (
                fd,
                before != Watch::HangUps && slot.interest == Watch::HangUps,
                pending,
            )
        };
        self.active.store(true, Ordering::Relaxed);
        if narrowed && !self.sweep_armed.swap(true, Ordering::Relaxed) {
            // Input stays unwatched by the I/O thread after this wait (the next one needs no
            // system call to narrow it again) until the socket does something else or a
            // sweep finds that it stopped waiting.
            if let Some(io) = self.io.get() {
                io.sweeper.sweep_later(io.token);
            }
        }
        if pending {
            // The last read stopped at its size: read on without asking poll(2).
            socket.cancel_wait();
            return self.read_lent(false);
        }
        // Set before the wait and read by the session under its turn: while it is set, the
        // I/O thread leaves readiness to this thread, which reads after every wake-up.
        self.polling.store(true, Ordering::SeqCst);
        let polled = if self.spin.wants_spin() {
            let until = Instant::now() + SPIN;
            match spin_poll(fd, signal, deadline.map_or(until, |d| d.min(until))) {
                Polled::TimedOut if deadline.is_none_or(|d| d > until) => {
                    self.spin.missed();
                    poll_two(fd, READABLE, signal, deadline)
                }
                // The receive's own timeout ended the spin: it says nothing about the stream.
                Polled::TimedOut => Polled::TimedOut,
                other => {
                    self.spin.found();
                    other
                }
            }
        } else {
            poll_two(fd, READABLE, signal, deadline)
        };
        self.polling.store(false, Ordering::SeqCst);
        let left = self.left.swap(false, Ordering::SeqCst);
        // Whatever ends the wait, this thread looks at its pipes next: no notification needed.
        socket.cancel_wait();
        match polled {
            Polled::Ready {
                stream,
                hang_up,
                signalled,
            } => {
                if signalled {
                    socket.clear_signal();
                }
                if stream || left {
                    return self.read_lent(hang_up);
                }
                ReadWait::Woken
            }
            // Readiness the session left to this thread is read whatever ended the wait.
            other => {
                if left {
                    self.read_lent(false);
                }
                match other {
                    Polled::TimedOut => ReadWait::TimedOut,
                    Polled::Interrupted => ReadWait::Interrupted,
                    _ => ReadWait::Unavailable,
                }
            }
        }
    }
}

/// How long a socket polls the connection without sleeping (yielding its CPU between polls)
/// before it sleeps in `poll(2)`.
///
/// Measured on a 2-vCPU KVM guest with 64 KiB messages over ipc: a receiver that sleeps in
/// `poll(2)` each time it has emptied the socket buffer waits for a wake-up of its own after
/// nearly every read (11,000 sleeps for 50,000 messages, 0.9 s), the wake-up of an idle vCPU
/// costing more than the sender takes to write the next batch; polling without sleeping for
/// up to 20 µs first found the next batch nearly every time (900 sleeps, 0.44 s, and no more
/// CPU time in all: the sleeps cost more than the spins). A request-reply rhythm whose round
/// trip is shorter gains the same way (tcp 1 B one way 30.4 -> 3.5 µs on two CPUs). Between
/// polls the thread yields, so that a peer on the same CPU runs: both pinned to one CPU,
/// tcp 1 B took 3.59 µs one way against 3.40 without spinning, and 4.41 with a pure spin.
const SPIN: std::time::Duration = std::time::Duration::from_micros(20);
/// Most waits that skip spinning after spins that found nothing, one after another: the
/// sender shares this CPU, or sends less often than every [`SPIN`].
const MAX_SPIN_SKIP: u32 = 1023;

/// When the socket spins before it sleeps (its thread alone uses it: relaxed atomics).
///
/// A spin that finds nothing is forgiven once (a sender on a busy machine misses one now and
/// then); each further miss in a row doubles the waits that do not spin, up to
/// [`MAX_SPIN_SKIP`], so that a peer on the same CPU or a slow stream costs about one spin per
/// thousand waits. Measured at 64 KiB over ipc, three runs each: spinning at every wait 0.45 /
/// 0.49 / 0.50 s, this policy 0.49-0.59 s; spinning only after reads of 64 KiB or more
/// (many reads of a stream are shorter: the wait ends at the first of the sender's buffers)
/// 0.54-0.80 s, and skipping up to 64 waits after a single miss 0.47-0.79 s (all with a pure
/// spin; yielding between polls, this policy took 0.53-0.54 s).
#[derive(Default)]
struct Spin {
    /// Waits left that do not spin.
    skip: AtomicU32,
    /// Spins in a row that found nothing.
    misses: AtomicU32,
}

impl Spin {
    fn wants_spin(&self) -> bool {
        let skip = self.skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn found(&self) {
        self.misses.store(0, Ordering::Relaxed);
    }

    fn missed(&self) {
        let misses = self.misses.load(Ordering::Relaxed).saturating_add(1);
        self.misses.store(misses, Ordering::Relaxed);
        // 0, 1, 3, 7, ... waits: the first miss is forgiven.
        let skip = 1u32
            .checked_shl(misses - 1)
            .map_or(MAX_SPIN_SKIP, |waits| (waits - 1).min(MAX_SPIN_SKIP));
        self.skip.store(skip, Ordering::Relaxed);
    }
}

/// Polls `stream` and `signal` without sleeping until one is ready or `until`.
fn spin_poll(stream: i32, signal: i32, until: Instant) -> Polled {
    loop {
        match poll_two(stream, READABLE, signal, Some(Instant::now())) {
            Polled::TimedOut if Instant::now() < until => std::thread::yield_now(),
            other => return other,
        }
    }
}

/// How [`poll_two`] ended.
pub(super) enum Polled {
    Ready {
        stream: bool,
        hang_up: bool,
        signalled: bool,
    },
    TimedOut,
    Interrupted,
    Failed,
}

/// The `poll(2)` events a socket waiting to read its connection asks for: input, and the
/// peer's end closing (RDHUP: its FIN, perhaps with its last data).
pub(super) const READABLE: i16 = libc::POLLIN | libc::POLLRDHUP;

/// Waits until `stream` reports one of `events` (or hung up or failed) or `signal` is
/// readable, or until `deadline`.
pub(super) fn poll_two(stream: i32, events: i16, signal: i32, deadline: Option<Instant>) -> Polled {
    let mut fds = [
        libc::pollfd {
            fd: stream,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: signal,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let timeout = match deadline {
        None => -1,
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            // Rounded up: waking a little late beats spinning on a zero timeout.
            let ms = left.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    };
    // SAFETY: `fds` is a live array of two initialised pollfd structures and its length is
    // passed with it.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
    if n < 0 {
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => Polled::Interrupted,
            _ => Polled::Failed,
        };
    }
    if n == 0 {
        return Polled::TimedOut;
    }
    // The peer's end closed (RDHUP: its FIN, perhaps with its last data): the read goes on to
    // the end of the stream even after a short one.
    let hang_up =
        fds[0].revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR | libc::POLLNVAL) != 0;
    Polled::Ready {
        stream: fds[0].revents != 0,
        hang_up,
        signalled: fds[1].revents != 0,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The waits that spin, as a string: `s` spins, `.` does not.
    fn pattern(spin: &Spin, waits: usize, found: impl Fn(usize) -> bool) -> String {
        let mut out = String::new();
        for wait in 0..waits {
            if spin.wants_spin() {
                out.push('s');
                if found(wait) {
                    spin.found();
                } else {
                    spin.missed();
                }
            } else {
                out.push('.');
            }
        }
        out
    }

    #[test]
    fn a_spin_that_finds_data_keeps_spinning_and_one_miss_is_forgiven() {
        let spin = Spin::default();
        assert_eq!(pattern(&spin, 6, |_| true), "ssssss");
        // One miss in a stream: the next wait spins again.
        assert_eq!(pattern(&spin, 4, |wait| wait != 1), "ssss");
    }

    #[test]
    fn misses_in_a_row_double_the_waits_that_skip_spinning_up_to_the_cap() {
        let spin = Spin::default();
        assert_eq!(pattern(&spin, 16, |_| false), "ss.s...s.......s");
        for _ in 0..40 {
            spin.missed();
        }
        assert_eq!(spin.skip.load(Ordering::Relaxed), MAX_SPIN_SKIP);
        // A spin that finds data ends the back-off.
        spin.skip.store(0, Ordering::Relaxed);
        assert_eq!(pattern(&spin, 3, |_| true), "sss");
        assert_eq!(pattern(&spin, 2, |_| false), "ss");
    }
}
