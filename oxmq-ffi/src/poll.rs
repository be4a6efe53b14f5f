//! `zmq_poll`: waiting on several sockets and raw file descriptors at once.
//!
//! Each look at the items asks every socket for `ZMQ_EVENTS`, which also arms the socket's
//! signal descriptor (`ZMQ_FD`), and polls the raw descriptors. When nothing is ready, one
//! `poll(2)` waits on the raw descriptors and the sockets' signal descriptors together: a
//! socket whose state changes after the look wakes it, so no wake-up is lost and nothing
//! spins. Readiness is level-triggered: a socket with a message waiting reports `ZMQ_POLLIN`
//! until the message is read.

use std::ffi::{c_int, c_long, c_short, c_void};
use std::time::{Duration, Instant};

use crate::socket::socket_state;
use crate::{fail, guard};

/// `ZMQ_POLLIN`, `ZMQ_POLLOUT`, `ZMQ_POLLERR`, `ZMQ_POLLPRI`.
pub(crate) const POLLIN: c_short = 1;
pub(crate) const POLLOUT: c_short = 2;
pub(crate) const POLLERR: c_short = 4;
pub(crate) const POLLPRI: c_short = 8;

/// libzmq's `zmq_pollitem_t`: a socket, or (when `socket` is NULL) a file descriptor.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct zmq_pollitem_t {
    pub(crate) socket: *mut c_void,
    pub(crate) fd: c_int,
    pub(crate) events: c_short,
    pub(crate) revents: c_short,
}

/// Waits until at least one item is ready or `timeout` milliseconds passed (-1: no limit, 0:
/// look once). Sets each item's `revents`; returns how many items are ready, or -1
/// (`ENOTSOCK` for a closed socket, `ETERM` when a socket's context was shut down, `EFAULT`
/// for NULL items).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poll(
    items: *mut zmq_pollitem_t,
    nitems: c_int,
    timeout: c_long,
) -> c_int {
    guard(-1, || {
        let Ok(count) = usize::try_from(nitems) else {
            return fail(libc::EINVAL, -1);
        };
        if count == 0 {
            sleep_for(timeout);
            return 0;
        }
        if items.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: `nitems` items at `items`, by the caller's contract.
        let items = unsafe { std::slice::from_raw_parts_mut(items, count) };
        match poll_items(items, timeout) {
            Ok(ready) => ready,
            Err(code) => fail(code, -1),
        }
    })
}

/// Sleeps for `timeout` milliseconds (negative: returns at once, as there is nothing that
/// could end an endless wait).
pub(crate) fn sleep_for(timeout: c_long) {
    if let Ok(ms) = u64::try_from(timeout) {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// `zmq_poll` over a non-empty `items`: waits until one is ready or `timeout` milliseconds
/// passed (-1: no limit, 0: look once). Sets each item's `revents` and returns how many are
/// ready, or an errno.
pub(crate) fn poll_items(items: &mut [zmq_pollitem_t], timeout: c_long) -> Result<c_int, c_int> {
    let deadline = u64::try_from(timeout)
        .ok()
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
    let mut fds: Vec<libc::pollfd> = items
        .iter()
        .filter(|item| item.socket.is_null())
        .map(|item| libc::pollfd {
            fd: item.fd,
            events: to_poll_events(item.events),
            revents: 0,
        })
        .collect();
    let raw = fds.len();
    // The sockets' signal descriptors follow the raw ones, made on the first wait.
    let mut signals_added = false;
    loop {
        let ready = look(items, &mut fds[..raw])?;
        if ready > 0 || timeout == 0 {
            return Ok(ready);
        }
        let wait_ms = match deadline {
            None => -1,
            Some(deadline) => {
                if Instant::now() >= deadline {
                    return Ok(0);
                }
                millis_until(deadline)
            }
        };
        if !signals_added {
            signals_added = true;
            for item in items.iter().filter(|item| !item.socket.is_null()) {
                // SAFETY: a pointer from `zmq_socket`, used by this thread, by the caller's
                // contract (`look` just checked it).
                let Some(state) = (unsafe { socket_state(item.socket) }) else {
                    return Err(libc::ENOTSOCK);
                };
                let fd = state.socket.signal_fd().map_err(|error| error.errno())?;
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            // A descriptor made just now reports itself ready once: look again.
            continue;
        }
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            return Err(last_errno());
        }
    }
}

fn last_errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINTR)
}

/// Looks at every item once (the raw descriptors through one `poll(2)` that does not wait);
/// sets `revents` and returns how many are ready, or an errno.
fn look(items: &mut [zmq_pollitem_t], fds: &mut [libc::pollfd]) -> Result<c_int, c_int> {
    if !fds.is_empty() {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if rc < 0 {
            return Err(last_errno());
        }
    }
    let mut ready = 0;
    let mut next_fd = fds.iter();
    for item in items.iter_mut() {
        item.revents = if item.socket.is_null() {
            let fd = next_fd.next().map_or(0, |fd| fd.revents);
            from_poll_events(fd) & (item.events | POLLERR)
        } else {
            // SAFETY: a pointer from `zmq_socket`, used by this thread, by the caller's
            // contract.
            let Some(state) = (unsafe { socket_state(item.socket) }) else {
                return Err(libc::ENOTSOCK);
            };
            let events = match state.events() {
                Ok(events) => events as c_short,
                Err(error) => return Err(error.errno()),
            };
            events & item.events
        };
        if item.revents != 0 {
            ready += 1;
        }
    }
    Ok(ready)
}

fn millis_until(deadline: Instant) -> c_int {
    let left = deadline.saturating_duration_since(Instant::now());
    // Round up, so that a wait does not end just before its deadline and spin.
    c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
}

fn to_poll_events(events: c_short) -> c_short {
    let mut out = 0;
    if events & POLLIN != 0 {
        out |= libc::POLLIN;
    }
    if events & POLLOUT != 0 {
        out |= libc::POLLOUT;
    }
    if events & POLLPRI != 0 {
        out |= libc::POLLPRI;
    }
    out
}

fn from_poll_events(revents: c_short) -> c_short {
    let mut out = 0;
    if revents & libc::POLLIN != 0 {
        out |= POLLIN;
    }
    if revents & libc::POLLOUT != 0 {
        out |= POLLOUT;
    }
    if revents & libc::POLLPRI != 0 {
        out |= POLLPRI;
    }
    if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        out |= POLLERR;
    }
    out
}
