//! The timers API (`zmq_timers_*`): repeating timers whose handlers a program runs from its own
//! loop with `zmq_timers_execute`, sleeping `zmq_timers_timeout` milliseconds in between.
//!
//! The logic is [`Timers`], a plain structure with the time passed in; the exported functions
//! wrap it with the clock and the handle checks.
//!
//! libzmq's behaviour, kept here:
//! - A timer repeats every `interval` milliseconds until cancelled; ids count up from 1 and are
//!   not reused.
//! - `zmq_timers_execute` runs the handlers of the timers due at the time it was called, in
//!   deadline order (the order of scheduling for equal deadlines), and reschedules each at
//!   that time plus its interval, which skips the periods missed by a late call.
//! - A handler may cancel, reset, reschedule or add timers: a due timer cancelled by an earlier
//!   handler of the same pass does not run, nor does one pushed into the future.
//! - Cancelling an unknown or already cancelled timer, and resetting or rescheduling an unknown
//!   one, is `EINVAL`; a NULL handler is `EFAULT`; a pointer that is not a live timer set (by
//!   its tag) is `EFAULT`.
//! - `zmq_timers_timeout` is -1 when no timer is left. libzmq leaves errno alone there; its
//!   manual lists `EINVAL` and its test checks for it, so this sets `EINVAL`.
//!
//! Where libzmq's behaviour is undefined or accidental, this is what happens instead:
//! - libzmq cancels lazily: a cancelled timer lingers until the next `timeout`/`execute` and
//!   can still be reset meanwhile. Here a cancelled timer is gone at once (reset is `EINVAL`).
//! - A timer scheduled during an `execute` pass (a new one, or one rescheduled with an interval
//!   of 0) waits for the next pass; in libzmq it may run again in the same pass, and a timer
//!   with an interval of 0 makes `execute` loop forever.
//! - A handler may change or cancel its own timer and may even destroy the timer set (the
//!   pass then stops and the memory is freed when it returns); in libzmq some of this is a
//!   use after free.
//! - Deadlines are kept to the nanosecond and `timeout` rounds up, so a timer never runs
//!   before its interval has fully elapsed (libzmq's millisecond clock can run it up to a
//!   millisecond early). Huge intervals saturate instead of wrapping (`SIZE_MAX` is "never");
//!   a `timeout` beyond `LONG_MAX` milliseconds is `LONG_MAX`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_int, c_long, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{fail, guard};

/// A timer id that names no timer of the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnknownTimer;

/// One timer of a [`Timers`] set.
#[derive(Debug)]
struct Timer<H> {
    interval: Duration,
    /// Its key in `Timers::queue`.
    key: Key,
    handler: H,
}

/// A position in the queue: the deadline (time since the set's origin), then the order of
/// scheduling among equal deadlines.
type Key = (Duration, u64);

/// A set of repeating timers, with the time passed in: every method that needs it takes `now`.
/// `H` is what a timer runs (for the C API, the handler and its argument).
#[derive(Debug)]
pub(crate) struct Timers<H> {
    /// Deadlines are durations since this instant.
    origin: Instant,
    /// The last id handed out.
    last_id: c_int,
    /// Tie-breaker for equal deadlines, counting schedulings.
    sequence: u64,
    /// The timers in firing order.
    queue: BTreeMap<Key, c_int>,
    timers: HashMap<c_int, Timer<H>>,
}

impl<H: Clone> Timers<H> {
    /// An empty set; times are measured from `origin`, and instants before it count as
    /// `origin`.
    pub(crate) fn new(origin: Instant) -> Self {
        Timers {
            origin,
            last_id: 0,
            sequence: 0,
            queue: BTreeMap::new(),
            timers: HashMap::new(),
        }
    }

    /// `now` as time since the origin.
    fn since_origin(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
    }

    /// A queue key for a timer due `interval` after `now`.
    fn key(&mut self, now: Duration, interval: Duration) -> Key {
        self.sequence += 1;
        (now.saturating_add(interval), self.sequence)
    }

    /// Adds a timer that runs `handler` every `interval` milliseconds, the first time
    /// `interval` after `now`, and returns its id (above 0).
    pub(crate) fn add(&mut self, interval_ms: usize, handler: H, now: Instant) -> c_int {
        // Ids count up; past `c_int::MAX` they start again at 1, skipping ids in use.
        let mut id = self.last_id;
        loop {
            id = if id == c_int::MAX { 1 } else { id + 1 };
            if !self.timers.contains_key(&id) {
                break;
            }
        }
        self.last_id = id;
        let interval = millis(interval_ms);
        let key = self.key(self.since_origin(now), interval);
        self.queue.insert(key, id);
        self.timers.insert(
            id,
            Timer {
                interval,
                key,
                handler,
            },
        );
        id
    }

    /// Removes timer `id`.
    pub(crate) fn cancel(&mut self, id: c_int) -> Result<(), UnknownTimer> {
        let timer = self.timers.remove(&id).ok_or(UnknownTimer)?;
        self.queue.remove(&timer.key);
        Ok(())
    }

    /// Gives timer `id` a new interval, and schedules it that interval after `now`.
    pub(crate) fn set_interval(
        &mut self,
        id: c_int,
        interval_ms: usize,
        now: Instant,
    ) -> Result<(), UnknownTimer> {
        let timer = self.timers.get_mut(&id).ok_or(UnknownTimer)?;
        timer.interval = millis(interval_ms);
        self.reset(id, now)
    }

    /// Schedules timer `id` its interval after `now`.
    pub(crate) fn reset(&mut self, id: c_int, now: Instant) -> Result<(), UnknownTimer> {
        let interval = self.timers.get(&id).ok_or(UnknownTimer)?.interval;
        let key = self.key(self.since_origin(now), interval);
        self.reschedule(id, key);
        Ok(())
    }

    /// Moves timer `id`, which exists, to `key` in the queue.
    fn reschedule(&mut self, id: c_int, key: Key) {
        if let Some(timer) = self.timers.get_mut(&id) {
            self.queue.remove(&timer.key);
            timer.key = key;
            self.queue.insert(key, id);
        }
    }

    /// The time until the next timer is due (zero when one is overdue), `None` when there is
    /// no timer.
    pub(crate) fn timeout(&self, now: Instant) -> Option<Duration> {
        let (&(deadline, _), _) = self.queue.first_key_value()?;
        Some(deadline.saturating_sub(self.since_origin(now)))
    }

    /// The ids of the timers due at `now`, in the order they are to run.
    pub(crate) fn due(&self, now: Instant) -> Vec<c_int> {
        let now = self.since_origin(now);
        self.queue
            .range(..=(now, u64::MAX))
            .map(|(_, &id)| id)
            .collect()
    }

    /// If timer `id` exists and is due at `now`, schedules it its interval after `now` and
    /// returns its handler, to run. An execute pass calls this for each id of [`Timers::due`]
    /// at its start, with that same `now`, and runs each handler returned before the next
    /// call, so that a handler's changes to the set apply to the rest of the pass.
    pub(crate) fn fire(&mut self, id: c_int, now: Instant) -> Option<H> {
        let now = self.since_origin(now);
        let timer = self.timers.get(&id)?;
        if timer.key.0 > now {
            return None;
        }
        let (interval, handler) = (timer.interval, timer.handler.clone());
        let key = self.key(now, interval);
        self.reschedule(id, key);
        Some(handler)
    }

    /// Runs the timers due at `now` with `run(id, handler)`, as an execute pass does (for a
    /// `run` that does not change the set).
    #[cfg(test)]
    pub(crate) fn execute(&mut self, now: Instant, mut run: impl FnMut(c_int, H)) {
        for id in self.due(now) {
            if let Some(handler) = self.fire(id, now) {
                run(id, handler);
            }
        }
    }

    /// The number of timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }
}

/// `interval` milliseconds, saturating.
fn millis(interval: usize) -> Duration {
    Duration::from_millis(u64::try_from(interval).unwrap_or(u64::MAX))
}

/// `zmq_timer_fn`: what a timer runs, with its id and argument.
pub type ZmqTimerFn = unsafe extern "C" fn(timer_id: c_int, arg: *mut c_void);

/// A C handler and its argument.
#[derive(Clone, Copy, Debug)]
struct Callback {
    handler: ZmqTimerFn,
    arg: *mut c_void,
}

/// The tag of a live timer set, libzmq's.
const LIVE: u32 = 0xCAFE_DADA;
/// The tag of a destroyed timer set, libzmq's.
const DEAD: u32 = 0xDEAD_BEEF;

/// What `zmq_timers_new` returns.
#[repr(C)]
struct Handle {
    /// [`LIVE`] until destroyed. First, so that it is what any pointer passed in is checked
    /// for, as in libzmq (whose test passes the address of a `void *` holding NULL).
    tag: AtomicU32,
    state: Mutex<State>,
}

/// The mutable part of a [`Handle`]. Its lock is never held while a handler runs, so handlers
/// may call back into the set.
struct State {
    timers: Timers<Callback>,
    /// How many `zmq_timers_execute` calls are running handlers (nested ones included).
    executing: usize,
    /// Destroyed by a handler: the outermost `zmq_timers_execute` frees it.
    destroyed: bool,
}

impl Handle {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The live timer set `timers` points to, `None` (and errno `EFAULT`) if it is NULL or not
/// tagged live.
///
/// # Safety
/// `timers` is NULL or points to at least 4 readable bytes; if they hold the live tag, it is a
/// handle from `zmq_timers_new`.
unsafe fn handle<'a>(timers: *mut c_void) -> Option<&'a Handle> {
    if timers.is_null() {
        return fail(libc::EFAULT, None);
    }
    // SAFETY: 4 readable bytes by the caller's contract, which need not be aligned.
    let tag = unsafe { timers.cast::<u32>().read_unaligned() };
    if tag != LIVE {
        return fail(libc::EFAULT, None);
    }
    // SAFETY: tagged live: a handle from `zmq_timers_new`, not destroyed.
    Some(unsafe { &*timers.cast::<Handle>() })
}

/// Frees a handle.
///
/// # Safety
/// `timers` is from `zmq_timers_new`, not freed before, and not used after.
unsafe fn free(timers: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `zmq_timers_new`, freed once, by the caller's
    // contract.
    drop(unsafe { Box::from_raw(timers.cast::<Handle>()) });
}

/// A new, empty timer set. Free it with `zmq_timers_destroy`.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_timers_new() -> *mut c_void {
    guard(ptr::null_mut(), || {
        let handle = Handle {
            tag: AtomicU32::new(LIVE),
            state: Mutex::new(State {
                timers: Timers::new(Instant::now()),
                executing: 0,
                destroyed: false,
            }),
        };
        Box::into_raw(Box::new(handle)).cast()
    })
}

/// Destroys the timer set `*timers_p` points to and sets `*timers_p` to NULL. Returns 0, or -1
/// with errno `EFAULT` when `timers_p` is NULL or `*timers_p` is not a live timer set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_destroy(timers_p: *mut *mut c_void) -> c_int {
    guard(-1, || {
        if timers_p.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: not NULL; the caller passes a readable and writable `void *`.
        let timers = unsafe { *timers_p };
        // SAFETY: NULL or a timer set (or 4 readable bytes), by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        handle.tag.store(DEAD, Ordering::SeqCst);
        let executing = {
            let mut state = handle.state();
            state.destroyed = true;
            state.executing > 0
        };
        if !executing {
            // SAFETY: from `zmq_timers_new`, now tagged dead so that no other call uses it, and
            // no `zmq_timers_execute` is running on it (that would free it when done).
            unsafe { free(timers) };
        }
        // SAFETY: as above.
        unsafe { *timers_p = ptr::null_mut() };
        0
    })
}

/// Adds a timer that calls `handler(id, arg)` every `interval` milliseconds, and returns its id
/// (above 0). -1 with errno `EFAULT` when `timers` is not a live timer set or `handler` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_add(
    timers: *mut c_void,
    interval: usize,
    handler: Option<ZmqTimerFn>,
    arg: *mut c_void,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a timer set, by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        let Some(handler) = handler else {
            return fail(libc::EFAULT, -1);
        };
        let callback = Callback { handler, arg };
        handle
            .state()
            .timers
            .add(interval, callback, Instant::now())
    })
}

/// Cancels timer `timer_id`. Returns 0, or -1 with errno `EINVAL` when there is no such timer
/// (or it was cancelled), `EFAULT` when `timers` is not a live timer set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_cancel(timers: *mut c_void, timer_id: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a timer set, by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        match handle.state().timers.cancel(timer_id) {
            Ok(()) => 0,
            Err(UnknownTimer) => fail(libc::EINVAL, -1),
        }
    })
}

/// Gives timer `timer_id` the interval `interval` (milliseconds) and schedules it that long from
/// now. Returns 0, or -1 with errno `EINVAL` when there is no such timer, `EFAULT` when
/// `timers` is not a live timer set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_set_interval(
    timers: *mut c_void,
    timer_id: c_int,
    interval: usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a timer set, by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        let mut state = handle.state();
        match state
            .timers
            .set_interval(timer_id, interval, Instant::now())
        {
            Ok(()) => 0,
            Err(UnknownTimer) => fail(libc::EINVAL, -1),
        }
    })
}

/// Schedules timer `timer_id` its interval from now. Returns 0, or -1 with errno `EINVAL` when
/// there is no such timer, `EFAULT` when `timers` is not a live timer set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_reset(timers: *mut c_void, timer_id: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a timer set, by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        match handle.state().timers.reset(timer_id, Instant::now()) {
            Ok(()) => 0,
            Err(UnknownTimer) => fail(libc::EINVAL, -1),
        }
    })
}

/// The milliseconds until the next timer is due (rounded up; 0 when one is overdue), or -1 with
/// errno `EINVAL` when there is no timer, `EFAULT` when `timers` is not a live timer set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_timeout(timers: *mut c_void) -> c_long {
    guard(-1, || {
        // SAFETY: NULL or a timer set, by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        let timeout = handle.state().timers.timeout(Instant::now());
        match timeout {
            Some(timeout) => {
                let mut millis = timeout.as_millis();
                if timeout.subsec_nanos() % 1_000_000 != 0 {
                    millis += 1;
                }
                c_long::try_from(millis).unwrap_or(c_long::MAX)
            }
            None => fail(libc::EINVAL, -1),
        }
    })
}

/// Runs the handlers of the timers that are due, and schedules each again its interval from
/// now. Returns 0, or -1 with errno `EFAULT` when `timers` is not a live timer set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_timers_execute(timers: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a timer set, by the caller's contract.
        let Some(handle) = (unsafe { handle(timers) }) else {
            return -1;
        };
        let now = Instant::now();
        let due = {
            let mut state = handle.state();
            state.executing += 1;
            state.timers.due(now)
        };
        for id in due {
            let callback = {
                let mut state = handle.state();
                if state.destroyed {
                    break;
                }
                state.timers.fire(id, now)
            };
            if let Some(Callback { handler, arg }) = callback {
                // SAFETY: a `zmq_timer_fn` with the argument given with it to
                // `zmq_timers_add`; the lock is not held, so it may call back into the set.
                unsafe { handler(id, arg) };
            }
        }
        let free_now = {
            let mut state = handle.state();
            state.executing -= 1;
            state.executing == 0 && state.destroyed
        };
        if free_now {
            // SAFETY: destroyed by a handler, which left the freeing to this outermost pass;
            // tagged dead, so no other call uses it.
            unsafe { free(timers) };
        }
        0
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::set_errno;
    use crate::util::zmq_errno;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    // ---- The pure logic, with a fake clock. ----

    #[test]
    fn ids_count_up_from_one() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        assert_eq!(timers.add(10, "a", t0), 1);
        assert_eq!(timers.add(10, "b", t0), 2);
        timers.cancel(2).unwrap();
        // Not reused.
        assert_eq!(timers.add(10, "c", t0), 3);
    }

    #[test]
    fn ids_wrap_around_skipping_live_ones() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        assert_eq!(timers.add(10, "one", t0), 1);
        timers.last_id = c_int::MAX - 1;
        assert_eq!(timers.add(10, "max", t0), c_int::MAX);
        assert_eq!(timers.add(10, "wrapped", t0), 2);
    }

    #[test]
    fn timeout_counts_down_to_zero() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        assert_eq!(timers.timeout(t0), None);
        timers.add(100, (), t0);
        timers.add(30, (), t0 + ms(10));
        assert_eq!(timers.timeout(t0), Some(ms(40)));
        assert_eq!(timers.timeout(t0 + ms(25)), Some(ms(15)));
        assert_eq!(timers.timeout(t0 + ms(40)), Some(ms(0)));
        assert_eq!(timers.timeout(t0 + ms(500)), Some(ms(0)));
        // Before the origin counts as the origin.
        assert_eq!(timers.timeout(t0 - ms(5)), Some(ms(40)));
    }

    #[test]
    fn execute_runs_due_timers_in_order_and_reschedules_from_now() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        let a = timers.add(50, 'a', t0);
        let b = timers.add(20, 'b', t0);
        let c = timers.add(20, 'c', t0);
        let d = timers.add(1000, 'd', t0);
        let mut ran = Vec::new();
        timers.execute(t0 + ms(19), |id, h| ran.push((id, h)));
        assert!(ran.is_empty());
        timers.execute(t0 + ms(60), |id, h| ran.push((id, h)));
        // Equal deadlines run in the order they were scheduled.
        assert_eq!(ran, [(b, 'b'), (c, 'c'), (a, 'a')]);
        // Late: the missed periods are skipped, the next is an interval from the pass.
        assert_eq!(timers.timeout(t0 + ms(60)), Some(ms(20)));
        let mut ran = Vec::new();
        timers.execute(t0 + ms(80), |id, _| ran.push(id));
        assert_eq!(ran, [b, c]);
        ran.clear();
        timers.execute(t0 + ms(110), |id, _| ran.push(id));
        assert_eq!(ran, [b, c, a], "b and c were due at 100, a at 110");
        assert_eq!(timers.len(), 4);
        let _ = d;
    }

    #[test]
    fn cancel_reset_and_set_interval() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        let a = timers.add(100, (), t0);
        assert_eq!(timers.reset(a, t0 + ms(60)), Ok(()));
        assert_eq!(timers.timeout(t0 + ms(60)), Some(ms(100)));
        assert_eq!(timers.set_interval(a, 10, t0 + ms(70)), Ok(()));
        assert_eq!(timers.timeout(t0 + ms(70)), Some(ms(10)));
        let mut ran = 0;
        timers.execute(t0 + ms(80), |_, ()| ran += 1);
        assert_eq!(ran, 1);
        // The new interval stays.
        assert_eq!(timers.timeout(t0 + ms(80)), Some(ms(10)));
        assert_eq!(timers.cancel(a), Ok(()));
        assert_eq!(timers.cancel(a), Err(UnknownTimer));
        assert_eq!(timers.reset(a, t0), Err(UnknownTimer));
        assert_eq!(timers.set_interval(a, 5, t0), Err(UnknownTimer));
        assert_eq!(timers.timeout(t0 + ms(80)), None);
        for id in [0, -1, 7, c_int::MAX] {
            assert_eq!(timers.cancel(id), Err(UnknownTimer));
        }
    }

    #[test]
    fn huge_intervals_saturate() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        let id = timers.add(usize::MAX, (), t0);
        assert!(timers.timeout(t0).unwrap() > Duration::from_secs(1 << 40));
        assert!(timers.due(t0 + Duration::from_secs(1 << 30)).is_empty());
        assert_eq!(timers.cancel(id), Ok(()));
    }

    #[test]
    fn zero_interval_runs_once_per_pass() {
        let t0 = Instant::now();
        let mut timers = Timers::new(t0);
        timers.add(0, (), t0);
        let mut runs = 0;
        timers.execute(t0, |_, ()| runs += 1);
        assert_eq!(runs, 1);
        timers.execute(t0, |_, ()| runs += 1);
        assert_eq!(runs, 2);
    }

    /// An execute pass over a shared set whose handlers may change it, as the C API runs it.
    fn execute_shared<H: Clone>(
        timers: &RefCell<Timers<H>>,
        now: Instant,
        mut run: impl FnMut(c_int, H),
    ) {
        let due = timers.borrow().due(now);
        for id in due {
            let fired = timers.borrow_mut().fire(id, now);
            if let Some(handler) = fired {
                run(id, handler);
            }
        }
    }

    #[test]
    fn handler_changes_apply_to_the_rest_of_the_pass() {
        let t0 = Instant::now();
        let timers = RefCell::new(Timers::new(t0));
        let (a, b, c, d) = {
            let mut t = timers.borrow_mut();
            (
                t.add(10, (), t0),
                t.add(10, (), t0),
                t.add(10, (), t0),
                t.add(10, (), t0),
            )
        };
        let mut ran = Vec::new();
        let mut added = None;
        execute_shared(&timers, t0 + ms(10), |id, ()| {
            ran.push(id);
            if id == a {
                let mut t = timers.borrow_mut();
                // Cancelled before its turn: does not run.
                t.cancel(b).unwrap();
                // Pushed into the future: does not run.
                t.reset(c, t0 + ms(10)).unwrap();
                // Cancels itself after running.
                t.cancel(a).unwrap();
                // Due at once, but waits for the next pass.
                added = Some(t.add(0, (), t0 + ms(10)));
            }
        });
        assert_eq!(ran, [a, d]);
        let added = added.unwrap();
        ran.clear();
        execute_shared(&timers, t0 + ms(10), |id, ()| ran.push(id));
        assert_eq!(ran, [added]);
        ran.clear();
        execute_shared(&timers, t0 + ms(20), |id, ()| ran.push(id));
        // `added` (interval 0) is overdue since 10, the others due at 20.
        assert_eq!(ran, [added, c, d]);
        assert_eq!(timers.borrow().len(), 3);
    }

    // ---- The C API. ----

    unsafe extern "C" fn set_flag(_timer_id: c_int, arg: *mut c_void) {
        // SAFETY: the tests pass a `bool` that outlives the timer.
        unsafe { *arg.cast::<bool>() = true };
    }

    unsafe extern "C" fn count(_timer_id: c_int, arg: *mut c_void) {
        // SAFETY: the tests pass a `usize` that outlives the timer.
        unsafe { *arg.cast::<usize>() += 1 };
    }

    /// What a test handler that calls back into the set sees.
    struct Reentrant {
        timers: *mut c_void,
        ran: Vec<c_int>,
        victims: Vec<c_int>,
        destroy: bool,
        results: Vec<c_int>,
    }

    impl Reentrant {
        fn new(timers: *mut c_void, destroy: bool) -> Reentrant {
            Reentrant {
                timers,
                ran: Vec::new(),
                victims: Vec::new(),
                destroy,
                results: Vec::new(),
            }
        }
    }

    unsafe extern "C" fn reentrant(timer_id: c_int, arg: *mut c_void) {
        // SAFETY: the tests pass a `Reentrant` that outlives the timer.
        let r = unsafe { &mut *arg.cast::<Reentrant>() };
        r.ran.push(timer_id);
        for victim in std::mem::take(&mut r.victims) {
            // SAFETY: a live timer set.
            r.results
                .push(unsafe { zmq_timers_cancel(r.timers, victim) });
        }
        if std::mem::take(&mut r.destroy) {
            let mut timers = r.timers;
            // SAFETY: a live timer set, destroyed once.
            r.results.push(unsafe { zmq_timers_destroy(&mut timers) });
            assert!(timers.is_null());
            // Dead from now on, though the memory stays until the pass ends.
            // SAFETY: the handle is freed only when the pass returns.
            r.results
                .push(unsafe { zmq_timers_timeout(r.timers) } as c_int);
            r.results.push(zmq_errno());
        }
    }

    /// Sleeps out the timeout, then executes, as libzmq's test does.
    unsafe fn sleep_and_execute(timers: *mut c_void) -> c_int {
        // SAFETY (whole block): a live timer set, by the caller's contract.
        unsafe {
            let mut timeout = zmq_timers_timeout(timers);
            while timeout > 0 {
                std::thread::sleep(ms(timeout as u64));
                timeout = zmq_timers_timeout(timers);
            }
            zmq_timers_execute(timers)
        }
    }

    fn assert_errno<T: PartialEq + std::fmt::Debug>(result: T, failure: T, errno: c_int) {
        assert_eq!(result, failure);
        assert_eq!(zmq_errno(), errno);
    }

    #[test]
    fn null_and_bogus_pointers_are_efault() {
        // libzmq's test_null_timer_pointers: NULL, and a pointer to a NULL `void *`.
        let mut null: *mut c_void = ptr::null_mut();
        let not_timers: *mut c_void = ptr::from_mut(&mut null).cast();
        let handler: Option<ZmqTimerFn> = Some(count);
        // SAFETY (whole block): the pointers are NULL or point to 8 readable bytes.
        unsafe {
            set_errno(0);
            assert_errno(zmq_timers_destroy(&mut null), -1, libc::EFAULT);
            set_errno(0);
            assert_errno(zmq_timers_destroy(ptr::null_mut()), -1, libc::EFAULT);
            for timers in [ptr::null_mut(), not_timers] {
                set_errno(0);
                assert_errno(
                    zmq_timers_add(timers, 100, handler, ptr::null_mut()),
                    -1,
                    libc::EFAULT,
                );
                set_errno(0);
                assert_errno(zmq_timers_cancel(timers, 1), -1, libc::EFAULT);
                set_errno(0);
                assert_errno(zmq_timers_set_interval(timers, 1, 100), -1, libc::EFAULT);
                set_errno(0);
                assert_errno(zmq_timers_reset(timers, 1), -1, libc::EFAULT);
                set_errno(0);
                assert_errno(zmq_timers_timeout(timers), -1, libc::EFAULT);
                set_errno(0);
                assert_errno(zmq_timers_execute(timers), -1, libc::EFAULT);
            }
        }
    }

    #[test]
    fn corner_cases() {
        // libzmq's test_corner_cases.
        let mut timers = zmq_timers_new();
        assert!(!timers.is_null());
        // SAFETY (whole block): a live timer set until destroyed at the end.
        unsafe {
            set_errno(0);
            assert_errno(zmq_timers_cancel(timers, 1), -1, libc::EINVAL);
            set_errno(0);
            assert_errno(
                zmq_timers_set_interval(timers, 1, usize::MAX),
                -1,
                libc::EINVAL,
            );
            set_errno(0);
            assert_errno(zmq_timers_reset(timers, 1), -1, libc::EINVAL);
            set_errno(0);
            assert_errno(
                zmq_timers_add(timers, usize::MAX, None, ptr::null_mut()),
                -1,
                libc::EFAULT,
            );
            let id = zmq_timers_add(timers, usize::MAX, Some(count), ptr::null_mut());
            assert!(id > 0);
            assert_eq!(zmq_timers_execute(timers), 0);
            assert!(zmq_timers_timeout(timers) > 1 << 30);
            assert_eq!(zmq_timers_cancel(timers, id), 0);
            set_errno(0);
            assert_errno(zmq_timers_cancel(timers, id), -1, libc::EINVAL);
            // No timer left: -1, and EINVAL even if errno was something else.
            set_errno(0);
            assert_errno(zmq_timers_timeout(timers), -1, libc::EINVAL);
            assert_eq!(zmq_timers_execute(timers), 0);
            assert_eq!(zmq_timers_destroy(&mut timers), 0);
            assert!(timers.is_null());
            set_errno(0);
            assert_errno(zmq_timers_destroy(&mut timers), -1, libc::EFAULT);
        }
    }

    #[test]
    fn timers_fire_on_time() {
        // libzmq's test_timers, shortened.
        let mut timers = zmq_timers_new();
        let mut invoked = false;
        let flag = ptr::from_mut(&mut invoked).cast::<c_void>();
        let start = Instant::now();
        // SAFETY (whole block): a live timer set until destroyed at the end; `invoked`
        // outlives it.
        unsafe {
            let id = zmq_timers_add(timers, 40, Some(set_flag), flag);
            assert_eq!(id, 1);
            assert_eq!(zmq_timers_execute(timers), 0);
            let timeout = zmq_timers_timeout(timers);
            assert!((39..=40).contains(&timeout), "{timeout}");
            assert!(!*flag.cast::<bool>());
            assert_eq!(sleep_and_execute(timers), 0);
            assert!(*flag.cast::<bool>());
            assert!(start.elapsed() >= ms(40));
            *flag.cast::<bool>() = false;

            // Reset: a full interval from now.
            std::thread::sleep(ms(20));
            assert_eq!(zmq_timers_reset(timers, id), 0);
            let reset_at = Instant::now();
            let timeout = zmq_timers_timeout(timers);
            assert!((39..=40).contains(&timeout), "{timeout}");
            assert_eq!(sleep_and_execute(timers), 0);
            assert!(*flag.cast::<bool>());
            assert!(reset_at.elapsed() >= ms(39));
            *flag.cast::<bool>() = false;

            // A new interval.
            assert_eq!(zmq_timers_set_interval(timers, id, 10), 0);
            assert!(zmq_timers_timeout(timers) <= 10);
            assert_eq!(sleep_and_execute(timers), 0);
            assert!(*flag.cast::<bool>());
            *flag.cast::<bool>() = false;

            // Cancelled: never again.
            assert_eq!(zmq_timers_cancel(timers, id), 0);
            std::thread::sleep(ms(20));
            assert_eq!(zmq_timers_execute(timers), 0);
            assert!(!*flag.cast::<bool>());
            assert_eq!(zmq_timers_destroy(&mut timers), 0);
        }
    }

    #[test]
    fn handlers_may_cancel_timers_during_execute() {
        let timers = zmq_timers_new();
        let mut runs = 0usize;
        let counter = ptr::from_mut(&mut runs).cast::<c_void>();
        let mut r = Reentrant::new(timers, false);
        let arg = ptr::from_mut(&mut r).cast::<c_void>();
        // SAFETY (whole block): a live timer set until destroyed; `runs` and `r` outlive it.
        unsafe {
            let first = zmq_timers_add(timers, 0, Some(reentrant), arg);
            let second = zmq_timers_add(timers, 0, Some(count), counter);
            (*arg.cast::<Reentrant>()).victims = vec![second, first];
            assert_eq!(zmq_timers_execute(timers), 0);
            let r = &*arg.cast::<Reentrant>();
            assert_eq!(r.ran, [first]);
            assert_eq!(r.results, [0, 0]);
            assert_eq!(*counter.cast::<usize>(), 0, "cancelled before its turn");
            set_errno(0);
            assert_errno(zmq_timers_timeout(timers), -1, libc::EINVAL);
            let mut timers = timers;
            assert_eq!(zmq_timers_destroy(&mut timers), 0);
        }
    }

    #[test]
    fn a_handler_may_destroy_the_set() {
        let timers = zmq_timers_new();
        let mut runs = 0usize;
        let counter = ptr::from_mut(&mut runs).cast::<c_void>();
        let mut r = Reentrant::new(timers, true);
        let arg = ptr::from_mut(&mut r).cast::<c_void>();
        // SAFETY (whole block): a live timer set until the handler destroys it; `runs` and `r`
        // outlive it.
        unsafe {
            zmq_timers_add(timers, 0, Some(reentrant), arg);
            zmq_timers_add(timers, 0, Some(count), counter);
            assert_eq!(zmq_timers_execute(timers), 0);
            let r = &*arg.cast::<Reentrant>();
            // destroy succeeded, then timeout saw a dead set.
            assert_eq!(r.results, [0, -1, libc::EFAULT]);
            // The pass stopped at the destruction.
            assert_eq!(*counter.cast::<usize>(), 0);
        }
    }
}
