//! Wake-ups between the threads at the two ends of a pipe.
//!
//! Every party that reads from or writes to pipes — a user's socket, or a connection on an I/O
//! thread — owns one [`Activation`]. When it finds nothing to do on its pipes it *announces* that it
//! is waiting ([`Activation::prepare_wait`]), checks its pipes once more, and only then sleeps. The
//! other end, after publishing messages (or freeing queue space), calls [`Activation::notify`]: a
//! fence and one load of the waiting flag, and a real wake-up (a condition variable, or the I/O
//! thread's eventfd) only when the flag was set. A busy peer is therefore never signalled, and no
//! system call happens per message.
//!
//! The protocol is the classic store-buffer pattern: the owner stores `waiting = true` then loads
//! the queues; the peer stores to a queue then loads `waiting`. A `SeqCst` fence on each side
//! guarantees that at least one of them sees the other's store, so a wake-up is never lost.

use std::sync::Arc;
#[cfg(not(loom))]
use std::sync::OnceLock;
use std::time::Instant;

#[cfg(loom)]
use loom::sync::{
    Condvar, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering, fence},
};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
use std::sync::{Condvar, Mutex};

/// Something that runs work for a token when told to: an I/O thread scheduling a connection.
/// Defined here so that wake-ups need nothing from the layers above.
pub(crate) trait Wake: Send + Sync {
    /// Schedules `token`.
    fn wake(&self, token: usize);
}

/// A wake-up target with a "currently waiting" flag.
pub(crate) struct Activation {
    waiting: AtomicBool,
    /// A thread target's pollable file descriptor (`ZMQ_FD`), made on first use: written with
    /// every wake-up, so that `poll(2)` and event loops can wait for the owner's pipes.
    #[cfg(not(loom))]
    signal_fd: OnceLock<SignalFd>,
    /// Whether anyone waits through `signal_fd` (it was handed out): only then do wake-ups
    /// write it. A socket makes its descriptor when it is created (so that it can always lend
    /// it, as `AsFd`), but one that is only ever used with blocking calls never pays a write
    /// per wake-up for it.
    #[cfg(not(loom))]
    fd_used: AtomicBool,
    /// Looks at the owner's state through the descriptor ([`Activation::arm`]) so far: a
    /// poller that remembers the count of its own last look knows whether someone else
    /// looked (and cleared the descriptor) since.
    looks: AtomicU64,
    /// The task waiting on the owner through `AsyncSocket` (woken with the owner; no runtime
    /// of its own: one, as the socket's async methods take it by `&mut`), and whether there
    /// is one (checked by every wake-up without the lock).
    #[cfg(not(loom))]
    task: std::sync::Mutex<Option<std::task::Waker>>,
    #[cfg(not(loom))]
    has_task: AtomicBool,
    /// A peer published a control message (a subscription) in one of the owner's pipes: a
    /// socket that must act on them before it sends (XPUB) checks this one flag instead of
    /// every pipe.
    control: AtomicBool,
    target: Target,
}

enum Target {
    /// A user thread blocked in a socket call.
    Thread(Parker),
    /// A connection (by token) on an I/O thread.
    Scheduled { waker: Arc<dyn Wake>, token: usize },
}

impl Activation {
    /// An activation for a socket used from application threads.
    pub(crate) fn for_thread() -> Arc<Activation> {
        Activation::new(Target::Thread(Parker::default()))
    }

    /// An activation that schedules `token` with `waker` (a connection on an I/O thread).
    pub(crate) fn scheduled(waker: Arc<dyn Wake>, token: usize) -> Arc<Activation> {
        Activation::new(Target::Scheduled { waker, token })
    }

    fn new(target: Target) -> Arc<Activation> {
        Arc::new(Activation {
            waiting: AtomicBool::new(false),
            #[cfg(not(loom))]
            signal_fd: OnceLock::new(),
            #[cfg(not(loom))]
            fd_used: AtomicBool::new(false),
            looks: AtomicU64::new(0),
            #[cfg(not(loom))]
            task: std::sync::Mutex::new(None),
            #[cfg(not(loom))]
            has_task: AtomicBool::new(false),
            control: AtomicBool::new(false),
            target,
        })
    }

    /// Called by a peer after it published something the owner may be waiting for.
    #[inline]
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::AcqRel) {
            self.wake_target();
        }
    }

    fn wake_target(&self) {
        self.target.wake();
        #[cfg(not(loom))]
        if self.has_task.load(Ordering::Acquire) {
            self.wake_task();
        }
        #[cfg(not(loom))]
        if self.fd_used.load(Ordering::Acquire) {
            if let Some(fd) = self.signal_fd.get() {
                fd.signal();
            }
        }
    }

    /// Registers the task to wake with the owner's next wake-up (once), in place of any task
    /// registered before. The task must then look at the owner's pipes through
    /// [`arm`](Activation::arm) (a failed non-blocking send or receive does): a wake-up from
    /// then on wakes it, and anything published before is seen by that look.
    #[cfg(not(loom))]
    pub(crate) fn register_task(&self, waker: &std::task::Waker) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if !task.as_ref().is_some_and(|t| t.will_wake(waker)) {
            *task = Some(waker.clone());
        }
        self.has_task.store(true, Ordering::Release);
    }

    /// Wakes the registered task, and forgets it.
    #[cfg(not(loom))]
    fn wake_task(&self) {
        let task = {
            let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
            self.has_task.store(false, Ordering::Release);
            task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }

    /// Makes the owner's file descriptor now (a socket does when it is created), without
    /// handing it out: wake-ups write it only once [`signal_fd`](Activation::signal_fd) was
    /// called.
    #[cfg(not(loom))]
    pub(crate) fn make_signal_fd(&self) -> std::io::Result<()> {
        if self.signal_fd.get().is_none() {
            // Only the owner's thread makes it.
            let _ = self.signal_fd.set(SignalFd::new()?);
        }
        Ok(())
    }

    /// The owner's pollable file descriptor (`ZMQ_FD`): it becomes readable when a wake-up
    /// happens while the owner announced waiting ([`Activation::arm`]). Made on first use if
    /// [`make_signal_fd`](Activation::make_signal_fd) did not make it before.
    #[cfg(not(loom))]
    pub(crate) fn signal_fd(&self) -> std::io::Result<std::os::fd::RawFd> {
        self.make_signal_fd()?;
        let Some(fd) = self.signal_fd.get() else {
            return Err(std::io::ErrorKind::Other.into());
        };
        if !self.fd_used.swap(true, Ordering::AcqRel) {
            // A wake-up may have come before the descriptor was handed out: report it.
            fd.signal();
        }
        Ok(fd.raw())
    }

    /// How many looks through the descriptor ([`arm`](Activation::arm)) there were so far.
    #[cfg(not(loom))]
    pub(crate) fn looks(&self) -> u64 {
        self.looks.load(Ordering::Acquire)
    }

    /// Writes the owner's descriptor (handing it out if it was not yet): a look found the
    /// owner ready to receive, and the descriptor stays readable while it is (see
    /// `Socket::events`).
    #[cfg(not(loom))]
    pub(crate) fn signal_ready(&self) {
        if self.signal_fd().is_ok() {
            if let Some(fd) = self.signal_fd.get() {
                fd.signal();
            }
        }
    }

    /// Announces that the owner will wait through its file descriptor, not by parking: clears
    /// the descriptor, then [`prepare_wait`](Activation::prepare_wait). The next notification
    /// writes the descriptor (once: the owner arms again after each look at its pipes). The
    /// owner checks its pipes after arming; it need not cancel.
    pub(crate) fn arm(&self) {
        #[cfg(not(loom))]
        if self.fd_used.load(Ordering::Acquire) {
            if let Some(fd) = self.signal_fd.get() {
                fd.clear();
            }
        }
        self.looks.fetch_add(1, Ordering::AcqRel);
        self.prepare_wait();
    }

    /// Empties the owner's file descriptor after a wait in `poll(2)` saw it signalled.
    #[cfg(not(loom))]
    pub(crate) fn clear_signal(&self) {
        if let Some(fd) = self.signal_fd.get() {
            fd.clear();
        }
    }

    /// Called by a peer after it published (flushed) a control message: raises the control
    /// flag, then notifies.
    pub(crate) fn signal_control(&self) {
        self.control.store(true, Ordering::Release);
        self.notify();
    }

    /// Whether control messages were published since the last call (owner side).
    #[inline]
    pub(crate) fn take_control(&self) -> bool {
        self.control.load(Ordering::Acquire) && self.control.swap(false, Ordering::AcqRel)
    }

    /// Wakes the owner whether or not it announced waiting (commands, shutdown).
    pub(crate) fn wake(&self) {
        self.waiting.store(false, Ordering::Relaxed);
        self.wake_target();
    }

    /// Announces that the owner is about to wait. The owner must check its pipes again afterwards
    /// and call [`Activation::cancel_wait`] if it found work.
    #[inline]
    pub(crate) fn prepare_wait(&self) {
        self.waiting.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Withdraws a [`prepare_wait`](Activation::prepare_wait).
    #[inline]
    pub(crate) fn cancel_wait(&self) {
        self.waiting.store(false, Ordering::Relaxed);
    }

    /// Blocks the calling thread until a notification, the deadline, or (on Linux) a signal
    /// handler running on this thread, which libzmq reports as `EINTR`. Only for thread targets.
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Parked {
        let parked = match &self.target {
            Target::Thread(parker) => parker.park(deadline),
            Target::Scheduled { .. } => Parked::Woken,
        };
        self.waiting.store(false, Ordering::Relaxed);
        parked
    }
}

impl Target {
    fn wake(&self) {
        match self {
            Target::Thread(parker) => parker.unpark(),
            Target::Scheduled { waker, token } => waker.wake(*token),
        }
    }
}

/// An `eventfd` (Linux) or a pipe: readable once signalled, until cleared.
#[cfg(not(loom))]
struct SignalFd {
    read: std::os::fd::OwnedFd,
    /// The write end of a pipe; `None` for an eventfd, which is both ends.
    write: Option<std::os::fd::OwnedFd>,
}

#[cfg(not(loom))]
impl SignalFd {
    fn new() -> std::io::Result<SignalFd> {
        use std::os::fd::FromRawFd;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: eventfd takes no pointers; a valid descriptor is returned or -1.
            let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            let read = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
            Ok(SignalFd { read, write: None })
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors pipe writes.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for fd in fds {
                // SAFETY: fcntl on descriptors just made.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            // SAFETY: new descriptors that nothing else owns.
            let (read, write) = unsafe {
                (
                    std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                    std::os::fd::OwnedFd::from_raw_fd(fds[1]),
                )
            };
            Ok(SignalFd {
                read,
                write: Some(write),
            })
        }
    }

    fn raw(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.read.as_raw_fd()
    }

    fn signal(&self) {
        use std::os::fd::AsRawFd;
        let fd = self.write.as_ref().unwrap_or(&self.read).as_raw_fd();
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our own non-blocking descriptor; a
        // full pipe or a saturated counter is already readable, so a failed write loses
        // nothing.
        let _ = unsafe { libc::write(fd, one.as_ptr().cast(), one.len()) };
    }

    fn clear(&self) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reads into a live buffer of its length from our own non-blocking
            // descriptor.
            let n = unsafe { libc::read(self.raw(), buf.as_mut_ptr().cast(), buf.len()) };
            // An eventfd is emptied by one read; a pipe may need several.
            if n <= 0 || self.write.is_none() {
                break;
            }
        }
    }
}

/// How a park ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parked {
    /// A notification (or one that came before the park).
    Woken,
    /// The deadline passed.
    TimedOut,
    /// A signal handler ran on the parked thread (Linux): a blocking call then fails with
    /// `EINTR`, as in libzmq, so that a program's Ctrl-C handler (pyzmq's included) gets to
    /// run.
    Interrupted,
}

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
use futex::Parker;

/// A one-permit parker over a futex: an unpark before the park makes the park return at once; a
/// signal handler that runs while the thread sleeps ends the park (`FUTEX_WAIT` fails with
/// `EINTR`, which a condition variable would hide). An unpark costs a `futex` wake only when the
/// owner is asleep.
#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
mod futex {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use super::Parked;

    const EMPTY: u32 = 0;
    const NOTIFIED: u32 = 1;
    const PARKED: u32 = 2;

    #[derive(Default)]
    pub(super) struct Parker {
        state: AtomicU32,
    }

    impl Parker {
        /// Only the owner parks.
        pub(super) fn park(&self, deadline: Option<Instant>) -> Parked {
            if self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED {
                return Parked::Woken;
            }
            loop {
                if self
                    .state
                    .compare_exchange(EMPTY, PARKED, Ordering::Acquire, Ordering::Acquire)
                    .is_err()
                {
                    // Notified in between.
                    self.state.store(EMPTY, Ordering::Relaxed);
                    return Parked::Woken;
                }
                let timeout = match deadline {
                    None => None,
                    Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ if self.leave() => return Parked::Woken,
                        _ => return Parked::TimedOut,
                    },
                };
                let error = wait(&self.state, PARKED, timeout);
                if self.leave() {
                    return Parked::Woken;
                }
                match error {
                    Some(libc::EINTR) => return Parked::Interrupted,
                    Some(libc::ETIMEDOUT) => return Parked::TimedOut,
                    // Nobody notified (the state was still PARKED): a spurious return.
                    _ => continue,
                }
            }
        }

        /// Leaves the parked state; whether a notification came meanwhile (it wins over a
        /// timeout or a signal).
        fn leave(&self) -> bool {
            let notified = self
                .state
                .compare_exchange(PARKED, EMPTY, Ordering::Acquire, Ordering::Acquire)
                .is_err();
            if notified {
                self.state.store(EMPTY, Ordering::Relaxed);
            }
            notified
        }

        pub(super) fn unpark(&self) {
            if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
                wake(&self.state);
            }
        }
    }

    /// `FUTEX_WAIT` while `*state == expected`, for at most `timeout`; the errno it failed with.
    fn wait(state: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) -> Option<i32> {
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |ts| ts as *const libc::timespec);
        // SAFETY: FUTEX_WAIT reads the u32 behind a live `AtomicU32` and, when given, a live
        // timespec; it writes nothing.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                state.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            )
        };
        (rc != 0).then(|| std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// Wakes the one thread that may wait on `state`.
    fn wake(state: &AtomicU32) {
        // SAFETY: FUTEX_WAKE takes the address of a live `AtomicU32` and touches no memory.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                state.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

/// A one-permit parker: an unpark before the park makes the park return at once. Used under loom
/// and where there is no futex; it cannot see signals.
///
/// The condition variable is signalled only when a thread is actually asleep, and after the lock
/// is released, so the woken thread does not immediately block again on the mutex: a wake-up
/// costs one `futex` wake and the sleeper one `futex` wait.
#[cfg(any(loom, not(any(target_os = "linux", target_os = "android"))))]
struct Parker {
    state: Mutex<ParkState>,
    cond: Condvar,
}

#[cfg(any(loom, not(any(target_os = "linux", target_os = "android"))))]
#[derive(Default)]
struct ParkState {
    permit: bool,
    sleeping: bool,
}

#[cfg(any(loom, not(any(target_os = "linux", target_os = "android"))))]
impl Default for Parker {
    fn default() -> Parker {
        Parker {
            state: Mutex::new(ParkState::default()),
            cond: Condvar::new(),
        }
    }
}

#[cfg(any(loom, not(any(target_os = "linux", target_os = "android"))))]
impl Parker {
    fn park(&self, deadline: Option<Instant>) -> Parked {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.permit {
                state.permit = false;
                return Parked::Woken;
            }
            state.sleeping = true;
            match deadline {
                None => state = self.cond.wait(state).unwrap_or_else(|e| e.into_inner()),
                #[cfg(loom)]
                Some(_) => state = self.cond.wait(state).unwrap_or_else(|e| e.into_inner()),
                #[cfg(not(loom))]
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        state.sleeping = false;
                        return Parked::TimedOut;
                    }
                    state = self
                        .cond
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            state.sleeping = false;
        }
    }

    fn unpark(&self) {
        let sleeping = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.permit = true;
            state.sleeping
        };
        if sleeping {
            self.cond.notify_one();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn notify_without_waiter_is_silent_and_keeps_no_permit() {
        let act = Activation::for_thread();
        act.notify();
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(
            act.park(Some(deadline)) == Parked::TimedOut,
            "a notify with no announced waiter must not leave a permit"
        );
    }

    #[test]
    fn notify_wakes_an_announced_waiter() {
        let act = Activation::for_thread();
        act.prepare_wait();
        let peer = Arc::clone(&act);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            peer.notify();
        });
        assert_eq!(
            act.park(Some(Instant::now() + Duration::from_secs(10))),
            Parked::Woken
        );
        t.join().unwrap();
    }

    fn readable(fd: std::os::fd::RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    #[test]
    fn signal_fd_fires_once_per_arm() {
        let act = Activation::for_thread();
        let fd = act.signal_fd().unwrap();
        act.arm();
        assert!(!readable(fd), "arming clears the descriptor");
        act.notify();
        assert!(readable(fd), "a notification after arming writes it");
        act.arm();
        assert!(!readable(fd));
        act.cancel_wait();
        act.notify();
        assert!(!readable(fd), "an unarmed notification stays silent");
        act.wake();
        assert!(
            readable(fd),
            "a wake (shutdown, a new peer) always writes it"
        );
        assert_eq!(
            act.signal_fd().unwrap(),
            fd,
            "one descriptor per activation"
        );
    }

    #[test]
    fn notify_before_park_is_not_lost() {
        let act = Activation::for_thread();
        act.prepare_wait();
        act.notify();
        assert_eq!(
            act.park(Some(Instant::now() + Duration::from_secs(10))),
            Parked::Woken
        );
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;

    /// The owner announces, re-checks and parks while a peer publishes and notifies: in every
    /// interleaving the owner either sees the data on its re-check or is woken (a lost wake-up
    /// would leave it parked forever, which loom reports as a deadlock).
    #[test]
    fn loom_a_notify_racing_a_wait_is_never_lost() {
        loom::model(|| {
            let act = Activation::for_thread();
            let data = Arc::new(AtomicUsize::new(0));
            let (peer_act, peer_data) = (Arc::clone(&act), Arc::clone(&data));
            let peer = loom::thread::spawn(move || {
                peer_data.store(1, Ordering::Relaxed);
                peer_act.notify();
            });
            loop {
                if data.load(Ordering::Relaxed) == 1 {
                    break;
                }
                act.prepare_wait();
                if data.load(Ordering::Relaxed) == 1 {
                    act.cancel_wait();
                    break;
                }
                act.park(None);
            }
            peer.join().unwrap();
        });
    }
}
