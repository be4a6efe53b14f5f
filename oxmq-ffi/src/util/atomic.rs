//! libzmq's atomic counters: `zmq_atomic_counter_*`.
//!
//! A counter is a 32-bit integer on the heap that threads change with atomic operations. Like
//! libzmq's, it wraps around on overflow (libzmq keeps an unsigned 32-bit value and hands it out
//! as an `int`), and `zmq_atomic_counter_dec` only says whether the counter is still non-zero.
//! A NULL counter, where libzmq would crash, fails with `EFAULT`.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::{fail, guard};

/// The counter behind a `void *` handle.
///
/// # Safety
/// `counter` is NULL or was returned by `zmq_atomic_counter_new` and not destroyed.
unsafe fn counter<'a>(counter: *mut c_void) -> Option<&'a AtomicI32> {
    // SAFETY: NULL or a live `AtomicI32` from `zmq_atomic_counter_new`, by the caller's contract.
    unsafe { counter.cast::<AtomicI32>().as_ref() }
}

/// A new atomic counter, set to zero. Free it with `zmq_atomic_counter_destroy`.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_atomic_counter_new() -> *mut c_void {
    guard(ptr::null_mut(), || {
        Box::into_raw(Box::new(AtomicI32::new(0))).cast()
    })
}

/// Sets `counter` to `value`. A NULL counter sets errno to `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_atomic_counter_set(counter_: *mut c_void, value: c_int) {
    guard((), || {
        // SAFETY: NULL or a live counter, by the caller's contract.
        match unsafe { counter(counter_) } {
            Some(counter) => counter.store(value, Ordering::SeqCst),
            None => fail(libc::EFAULT, ()),
        }
    });
}

/// Adds one to `counter` and returns its value before the increment. A NULL counter is -1
/// with errno `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_atomic_counter_inc(counter_: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a live counter, by the caller's contract.
        match unsafe { counter(counter_) } {
            Some(counter) => counter.fetch_add(1, Ordering::AcqRel),
            None => fail(libc::EFAULT, -1),
        }
    })
}

/// Subtracts one from `counter` and returns 1 if it is not zero afterwards, 0 if it is (a
/// counter at zero wraps to -1 and gives 1, as in libzmq). A NULL counter is -1 with errno
/// `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_atomic_counter_dec(counter_: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a live counter, by the caller's contract.
        match unsafe { counter(counter_) } {
            Some(counter) => {
                let after = counter.fetch_sub(1, Ordering::AcqRel).wrapping_sub(1);
                c_int::from(after != 0)
            }
            None => fail(libc::EFAULT, -1),
        }
    })
}

/// The value of `counter`. A NULL counter is -1 with errno `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_atomic_counter_value(counter_: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a live counter, by the caller's contract.
        match unsafe { counter(counter_) } {
            Some(counter) => counter.load(Ordering::SeqCst),
            None => fail(libc::EFAULT, -1),
        }
    })
}

/// Frees the counter `*counter_p` points to and sets `*counter_p` to NULL. A NULL `*counter_p`
/// is left alone; a NULL `counter_p` sets errno to `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_atomic_counter_destroy(counter_p: *mut *mut c_void) {
    guard((), || {
        if counter_p.is_null() {
            return fail(libc::EFAULT, ());
        }
        // SAFETY: not NULL; the caller passes a readable and writable `void *`.
        let counter = unsafe { counter_p.replace(ptr::null_mut()) };
        if !counter.is_null() {
            // SAFETY: a counter from `zmq_atomic_counter_new` (made by `Box::into_raw`), not
            // destroyed before, by the caller's contract; the caller's pointer to it is now NULL.
            drop(unsafe { Box::from_raw(counter.cast::<AtomicI32>()) });
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;
    use crate::set_errno;
    use crate::util::zmq_errno;

    /// A counter handle that can cross threads in a test.
    struct Shared(*mut c_void);
    // SAFETY: the counter behind it is an `AtomicI32`, made for sharing between threads.
    unsafe impl Send for Shared {}
    // SAFETY: as above.
    unsafe impl Sync for Shared {}

    #[test]
    fn libzmq_sequence() {
        // The sequence of libzmq's test_atomics.
        let mut counter = zmq_atomic_counter_new();
        assert!(!counter.is_null());
        // SAFETY (whole block): `counter` is live until destroyed at the end.
        unsafe {
            assert_eq!(zmq_atomic_counter_value(counter), 0);
            assert_eq!(zmq_atomic_counter_inc(counter), 0);
            assert_eq!(zmq_atomic_counter_inc(counter), 1);
            assert_eq!(zmq_atomic_counter_inc(counter), 2);
            assert_eq!(zmq_atomic_counter_value(counter), 3);
            assert_eq!(zmq_atomic_counter_dec(counter), 1);
            assert_eq!(zmq_atomic_counter_dec(counter), 1);
            assert_eq!(zmq_atomic_counter_dec(counter), 0);
            zmq_atomic_counter_set(counter, 2);
            assert_eq!(zmq_atomic_counter_dec(counter), 1);
            assert_eq!(zmq_atomic_counter_dec(counter), 0);
            zmq_atomic_counter_destroy(&mut counter);
        }
        assert!(counter.is_null());
    }

    #[test]
    fn wraps_around_like_libzmq() {
        let mut counter = zmq_atomic_counter_new();
        // SAFETY (whole block): `counter` is live until destroyed at the end.
        unsafe {
            // Below zero: libzmq's unsigned counter becomes 0xFFFFFFFF, read back as -1.
            assert_eq!(zmq_atomic_counter_dec(counter), 1);
            assert_eq!(zmq_atomic_counter_value(counter), -1);
            assert_eq!(zmq_atomic_counter_inc(counter), -1);
            assert_eq!(zmq_atomic_counter_value(counter), 0);
            zmq_atomic_counter_set(counter, c_int::MAX);
            assert_eq!(zmq_atomic_counter_inc(counter), c_int::MAX);
            assert_eq!(zmq_atomic_counter_value(counter), c_int::MIN);
            zmq_atomic_counter_set(counter, -5);
            assert_eq!(zmq_atomic_counter_value(counter), -5);
            zmq_atomic_counter_destroy(&mut counter);
        }
    }

    #[test]
    fn null_counter_is_efault() {
        let null = ptr::null_mut();
        // SAFETY (whole block): NULL is a valid argument.
        unsafe {
            set_errno(0);
            zmq_atomic_counter_set(null, 1);
            assert_eq!(zmq_errno(), libc::EFAULT);
            for call in [
                zmq_atomic_counter_inc as unsafe extern "C" fn(*mut c_void) -> c_int,
                zmq_atomic_counter_dec,
                zmq_atomic_counter_value,
            ] {
                set_errno(0);
                assert_eq!(call(null), -1);
                assert_eq!(zmq_errno(), libc::EFAULT);
            }
            set_errno(0);
            zmq_atomic_counter_destroy(ptr::null_mut());
            assert_eq!(zmq_errno(), libc::EFAULT);
            // Destroying through a pointer to NULL is a no-op, as `delete NULL` is.
            set_errno(0);
            let mut counter = null;
            zmq_atomic_counter_destroy(&mut counter);
            assert_eq!(zmq_errno(), 0);
            assert!(counter.is_null());
        }
    }

    #[test]
    fn threads_see_every_increment() {
        let counter = Arc::new(Shared(zmq_atomic_counter_new()));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    for _ in 0..10_000 {
                        // SAFETY: the counter is live until destroyed after the joins.
                        unsafe { zmq_atomic_counter_inc(counter.0) };
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let mut raw = counter.0;
        // SAFETY: live, and destroyed once here.
        unsafe {
            assert_eq!(zmq_atomic_counter_value(raw), 40_000);
            zmq_atomic_counter_destroy(&mut raw);
        }
    }
}
