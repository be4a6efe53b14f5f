//! `zmq_poll`: waiting on several sockets and raw file descriptors at once.
//!
//! Sockets report readiness from their queues (`ZMQ_EVENTS`), file descriptors through
//! `poll(2)`. Until sockets expose a file descriptor of their own (`ZMQ_FD`), a wait that finds
//! nothing ready looks again after a pause that grows from a yield to one millisecond, sleeping
//! in `poll(2)` on the raw descriptors meanwhile, so a socket's readiness is seen within about a
//! millisecond and a descriptor's at once. Readiness is level-triggered: a socket with a
//! message waiting reports `ZMQ_POLLIN` until the message is read.

use std::ffi::{c_int, c_long, c_short, c_void};
use std::time::{Duration, Instant};

use crate::socket::socket_state;
use crate::{fail, guard};

/// `ZMQ_POLLIN`, `ZMQ_POLLOUT`, `ZMQ_POLLERR`, `ZMQ_POLLPRI`.
const POLLIN: c_short = 1;
const POLLOUT: c_short = 2;
const POLLERR: c_short = 4;
const POLLPRI: c_short = 8;

/// libzmq's `zmq_pollitem_t`: a socket, or (when `socket` is NULL) a file descriptor.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct zmq_pollitem_t {
    socket: *mut c_void,
    fd: c_int,
    events: c_short,
    revents: c_short,
}

/// The longest pause between two looks at the sockets.
const MAX_PAUSE: Duration = Duration::from_millis(1);

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
        let deadline = u64::try_from(timeout)
            .ok()
            .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
        if count == 0 {
            if let Some(deadline) = deadline {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            }
            return 0;
        }
        if items.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: `nitems` items at `items`, by the caller's contract.
        let items = unsafe { std::slice::from_raw_parts_mut(items, count) };
        let mut fds: Vec<libc::pollfd> = items
            .iter()
            .filter(|item| item.socket.is_null())
            .map(|item| libc::pollfd {
                fd: item.fd,
                events: to_poll_events(item.events),
                revents: 0,
            })
            .collect();
        let any_socket = fds.len() < items.len();
        let mut pause = Duration::ZERO;
        loop {
            let wait_ms = match (any_socket, deadline) {
                // Only descriptors: poll(2) waits for all of the time.
                (false, None) => -1,
                (false, Some(deadline)) => millis_until(deadline),
                (true, _) => 0,
            };
            let ready = match look(items, &mut fds, wait_ms) {
                Ok(ready) => ready,
                Err(code) => return fail(code, -1),
            };
            if ready > 0 || timeout == 0 {
                return ready;
            }
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                return 0;
            }
            if pause.is_zero() {
                std::thread::yield_now();
                pause = Duration::from_micros(20);
                continue;
            }
            let sleep = deadline.map_or(pause, |d| pause.min(d - now));
            let sleep_ms = c_int::try_from(sleep.as_millis()).unwrap_or(c_int::MAX);
            if fds.is_empty() || sleep_ms == 0 {
                std::thread::sleep(sleep);
            } else {
                // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, sleep_ms) };
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    })
}

/// Looks at every item once (the descriptors through one `poll(2)` of up to `wait_ms`); sets
/// `revents` and returns how many are ready, or an errno.
fn look(
    items: &mut [zmq_pollitem_t],
    fds: &mut [libc::pollfd],
    wait_ms: c_int,
) -> Result<c_int, c_int> {
    if !fds.is_empty() {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINTR);
            return Err(errno);
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
