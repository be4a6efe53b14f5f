//! `zmq_proxy`, `zmq_proxy_steerable` and the old `zmq_device`.
//!
//! Not implemented yet: each fails with `ENOTSUP` (the proxy comes with polling on socket file
//! descriptors).

use std::ffi::{c_int, c_void};

use crate::fail;

/// Would forward messages between `frontend` and `backend` (copying them to `capture`); fails
/// with `ENOTSUP` for now.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_proxy(
    _frontend: *mut c_void,
    _backend: *mut c_void,
    _capture: *mut c_void,
) -> c_int {
    fail(libc::ENOTSUP, -1)
}

/// `zmq_proxy` steered by commands on `control`; fails with `ENOTSUP` for now.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_proxy_steerable(
    _frontend: *mut c_void,
    _backend: *mut c_void,
    _capture: *mut c_void,
    _control: *mut c_void,
) -> c_int {
    fail(libc::ENOTSUP, -1)
}

/// The old form of `zmq_proxy`; fails with `ENOTSUP` for now.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_device(_type: c_int, _frontend: *mut c_void, _backend: *mut c_void) -> c_int {
    fail(libc::ENOTSUP, -1)
}
