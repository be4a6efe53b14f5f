//! `zmq_socket_monitor`. oxmq has no socket monitor yet: after checking its arguments as libzmq
//! does, it fails with `ENOTSUP`.

use std::ffi::{c_char, c_int, c_void};

use crate::socket::socket_state;
use crate::{fail, guard, text_arg};

/// Would publish the socket's connection events on a PAIR socket bound at `addr` (an
/// `inproc://` endpoint). A bad socket is `ENOTSOCK`, another transport `EPROTONOSUPPORT`, as
/// in libzmq; a valid request fails with `ENOTSUP` for now.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_socket_monitor(
    s: *mut c_void,
    addr: *const c_char,
    _events: c_int,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_socket`, used by this thread, by the caller's contract.
        if unsafe { socket_state(s) }.is_none() {
            return fail(libc::ENOTSOCK, -1);
        }
        if addr.is_null() {
            // libzmq: a NULL address stops monitoring, which is never running here.
            return 0;
        }
        // SAFETY: a NUL-terminated string, by the caller's contract.
        match unsafe { text_arg(addr) } {
            Ok(endpoint) if endpoint.starts_with("inproc://") => fail(libc::ENOTSUP, -1),
            Ok(endpoint) if endpoint.contains("://") => fail(libc::EPROTONOSUPPORT, -1),
            _ => fail(libc::EINVAL, -1),
        }
    })
}
