//! `zmq_socket_monitor`. Not implemented yet: it fails with `ENOTSUP`.

use std::ffi::{c_char, c_int, c_void};

use crate::fail;

/// Would publish the socket's connection events on a PAIR socket bound at `addr`; fails with
/// `ENOTSUP` for now.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_socket_monitor(
    _s: *mut c_void,
    _addr: *const c_char,
    _events: c_int,
) -> c_int {
    fail(libc::ENOTSUP, -1)
}
