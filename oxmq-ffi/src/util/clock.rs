//! The stopwatch (`zmq_stopwatch_*`) and `zmq_sleep`.
//!
//! A stopwatch is the monotonic instant it was started at, on the heap; it reads the time
//! elapsed since in microseconds. A NULL stopwatch, where libzmq would crash, reads 0 with
//! errno `EFAULT`.

use std::ffi::{c_int, c_ulong, c_void};
use std::ptr;
use std::time::{Duration, Instant};

use crate::{fail, guard};

/// Microseconds elapsed since `start`, as libzmq's `unsigned long` (saturating).
fn micros_since(start: Instant) -> c_ulong {
    c_ulong::try_from(start.elapsed().as_micros()).unwrap_or(c_ulong::MAX)
}

/// Starts a stopwatch: read it with `zmq_stopwatch_intermediate`, read and free it with
/// `zmq_stopwatch_stop`.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_stopwatch_start() -> *mut c_void {
    guard(ptr::null_mut(), || {
        Box::into_raw(Box::new(Instant::now())).cast()
    })
}

/// The microseconds elapsed since `watch` was started; it keeps running. A NULL watch is 0
/// with errno `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_stopwatch_intermediate(watch: *mut c_void) -> c_ulong {
    guard(0, || {
        // SAFETY: NULL or a live stopwatch from `zmq_stopwatch_start`, by the caller's contract.
        match unsafe { watch.cast::<Instant>().as_ref() } {
            Some(start) => micros_since(*start),
            None => fail(libc::EFAULT, 0),
        }
    })
}

/// The microseconds elapsed since `watch` was started; frees the watch. A NULL watch is 0 with
/// errno `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_stopwatch_stop(watch: *mut c_void) -> c_ulong {
    guard(0, || {
        if watch.is_null() {
            return fail(libc::EFAULT, 0);
        }
        // SAFETY: a stopwatch from `zmq_stopwatch_start` (made by `Box::into_raw`), not stopped
        // before, by the caller's contract.
        let start = unsafe { Box::from_raw(watch.cast::<Instant>()) };
        micros_since(*start)
    })
}

/// Sleeps for `seconds` seconds (none when zero or negative).
#[unsafe(no_mangle)]
pub extern "C" fn zmq_sleep(seconds: c_int) {
    guard((), || {
        let seconds = u64::try_from(seconds).unwrap_or(0);
        std::thread::sleep(Duration::from_secs(seconds));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set_errno;
    use crate::util::zmq_errno;

    #[test]
    fn stopwatch_measures_microseconds() {
        let watch = zmq_stopwatch_start();
        assert!(!watch.is_null());
        std::thread::sleep(Duration::from_millis(20));
        // SAFETY: live until stopped.
        let first = unsafe { zmq_stopwatch_intermediate(watch) };
        assert!(first >= 20_000, "{first}");
        assert!(first < 5_000_000, "{first}");
        std::thread::sleep(Duration::from_millis(5));
        // SAFETY: live until stopped; stopped once.
        let second = unsafe { zmq_stopwatch_stop(watch) };
        assert!(second >= first + 5_000, "{first} {second}");
    }

    #[test]
    fn null_stopwatch_is_efault() {
        set_errno(0);
        // SAFETY: NULL is checked.
        assert_eq!(unsafe { zmq_stopwatch_intermediate(ptr::null_mut()) }, 0);
        assert_eq!(zmq_errno(), libc::EFAULT);
        set_errno(0);
        // SAFETY: NULL is checked.
        assert_eq!(unsafe { zmq_stopwatch_stop(ptr::null_mut()) }, 0);
        assert_eq!(zmq_errno(), libc::EFAULT);
    }

    #[test]
    fn sleep() {
        let start = Instant::now();
        zmq_sleep(0);
        zmq_sleep(-3);
        assert!(start.elapsed() < Duration::from_millis(500));
        zmq_sleep(1);
        assert!(start.elapsed() >= Duration::from_secs(1));
    }
}
