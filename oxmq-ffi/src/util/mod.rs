//! The library-level functions: errors, version, capabilities, and libzmq's utilities (Z85,
//! CURVE keys, atomic counters, timers, stopwatch, sleep, threads), one file each.

use std::ffi::{CStr, c_char, c_int};

use crate::{VERSION, guard};

mod atomic;
mod clock;
mod curve;
mod thread;
mod timers;
mod z85;

/// The calling thread's error number, as the last failed call left it.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_errno() -> c_int {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// A description of `errnum`: libzmq's own numbers (ETERM, EFSM, ...) and the ones libzmq
/// defines where the platform lacks them get libzmq's texts, the others the C library's.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_strerror(errnum: c_int) -> *const c_char {
    let text: &'static CStr = match errnum {
        oxmq::errno::EFSM => c"Operation cannot be accomplished in current state",
        oxmq::errno::ENOCOMPATPROTO => c"The protocol is not compatible with the socket type",
        oxmq::errno::ETERM => c"Context was terminated",
        oxmq::errno::EMTHREAD => c"No thread available",
        // SAFETY: `strerror` returns a pointer to a static (or thread-local) string.
        _ => return unsafe { libc::strerror(errnum) },
    };
    text.as_ptr()
}

/// Writes the version of libzmq's API this library offers (4.3.5) through the non-NULL
/// pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_version(major: *mut c_int, minor: *mut c_int, patch: *mut c_int) {
    for (out, value) in [(major, VERSION.0), (minor, VERSION.1), (patch, VERSION.2)] {
        if !out.is_null() {
            // SAFETY: not NULL; the caller passes writable ints.
            unsafe { *out = value };
        }
    }
}

/// 1 when this library has `capability` ("ipc"), 0 otherwise (pgm, tipc, norm, vmci, curve,
/// gssapi, ws, wss, draft: not yet).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_has(capability: *const c_char) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a NUL-terminated string, by the caller's contract.
        match unsafe { crate::text_arg(capability) } {
            Ok("ipc") => 1,
            _ => 0,
        }
    })
}
