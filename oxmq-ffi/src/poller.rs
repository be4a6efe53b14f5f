//! The draft `zmq_poller_*` API: a poller that keeps its sockets and descriptors between waits.
//!
//! A poller is a handle, checked like a socket's: NULL or a destroyed poller is `EFAULT`. It
//! holds the socket pointers, not the sockets, so a socket closed while in a poller makes the
//! next wait fail with `ENOTSOCK` instead of reading freed memory. Each wait is a `zmq_poll`
//! over the items that ask for something, with the same level-triggered readiness and the same
//! wake-ups: a socket with a message waiting is reported until the message is read.
//!
//! oxmq has no thread-safe socket types yet (CLIENT, SERVER, ...), so no poller has the signal
//! descriptor libzmq makes for them, and `zmq_poller_fd` is `EINVAL`, as libzmq's is for a
//! poller without thread-safe sockets.

use std::ffi::{c_int, c_long, c_short, c_void};

use crate::handle::{Handle, Handles};
use crate::poll::{POLLERR, POLLIN, POLLOUT, POLLPRI, poll_items, sleep_for, zmq_pollitem_t};
use crate::socket::socket_state;
use crate::{fail, guard};

/// libzmq's `zmq_poller_event_t`.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct zmq_poller_event_t {
    socket: *mut c_void,
    fd: c_int,
    user_data: *mut c_void,
    events: c_short,
}

/// What an item watches: a socket (by its handle pointer) or a raw descriptor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Socket(*mut c_void),
    Fd(c_int),
}

struct Item {
    target: Target,
    user_data: *mut c_void,
    events: c_short,
}

/// One poller: its items in the order they were added, and the `zmq_poll` array a wait
/// builds (kept to reuse its memory).
struct PollerState {
    items: Vec<Item>,
    /// For each entry of `poll`, the index of its item.
    polled: Vec<usize>,
    poll: Vec<zmq_pollitem_t>,
    /// The events a wait found, copied out to the caller's array.
    ready: Vec<zmq_poller_event_t>,
}

// SAFETY: the raw pointers are opaque values handed back to C (socket handles are checked by
// tag before use; user data is never dereferenced). A poller is used by one thread at a time,
// by libzmq's contract, so it only needs to move between threads.
unsafe impl Send for PollerState {}

static POLLERS: Handles<PollerState> = Handles::new(0x6f78_706c);

/// The live poller behind `poller`.
///
/// # Safety
/// `poller` is NULL or any pointer a C caller passes as a poller; only the calling thread uses
/// the poller now. A pointer that is not one `zmq_poller_new` returned must point at 4
/// readable bytes (the tag check reads them; libzmq reads more).
unsafe fn poller_state<'a>(poller: *mut c_void) -> Option<&'a mut PollerState> {
    // SAFETY: forwarded from the caller.
    let handle: &'static Handle<PollerState> = unsafe { POLLERS.live(poller) }?;
    // SAFETY: one thread at a time per poller, by the caller's contract.
    Some(unsafe { handle.get_mut() })
}

/// Runs `body` on the live poller behind `poller`: -1 with `EFAULT` for NULL or a destroyed
/// one.
fn with_poller(poller: *mut c_void, body: impl FnOnce(&mut PollerState) -> c_int) -> c_int {
    guard(-1, || {
        // SAFETY: what a C caller passes as a poller, used by this thread, by the API's
        // contract.
        match unsafe { poller_state(poller) } {
            Some(state) => body(state),
            None => fail(libc::EFAULT, -1),
        }
    })
}

/// `EINVAL` unless `events` holds only `ZMQ_POLLIN`, `ZMQ_POLLOUT`, `ZMQ_POLLERR` and
/// `ZMQ_POLLPRI`.
fn check_events(events: c_short) -> Result<(), c_int> {
    if events & !(POLLIN | POLLOUT | POLLERR | POLLPRI) != 0 {
        Err(libc::EINVAL)
    } else {
        Ok(())
    }
}

/// `ENOTSOCK` unless `socket` is a live socket handle.
fn check_socket(socket: *mut c_void) -> Result<(), c_int> {
    // SAFETY: NULL or a pointer from `zmq_socket`, by the API's contract; only the tag is read.
    match unsafe { socket_state(socket) } {
        Some(_) => Ok(()),
        None => Err(libc::ENOTSOCK),
    }
}

/// `EBADF` for the retired descriptor -1.
fn check_fd(fd: c_int) -> Result<(), c_int> {
    if fd == -1 { Err(libc::EBADF) } else { Ok(()) }
}

impl PollerState {
    fn position(&self, target: Target) -> Option<usize> {
        self.items.iter().position(|item| item.target == target)
    }

    fn add(
        &mut self,
        target: Target,
        user_data: *mut c_void,
        events: c_short,
    ) -> Result<(), c_int> {
        check_events(events)?;
        if self.position(target).is_some() {
            return Err(libc::EINVAL);
        }
        self.items.push(Item {
            target,
            user_data,
            events,
        });
        Ok(())
    }

    fn modify(&mut self, target: Target, events: c_short) -> Result<(), c_int> {
        check_events(events)?;
        let at = self.position(target).ok_or(libc::EINVAL)?;
        self.items[at].events = events;
        Ok(())
    }

    fn remove(&mut self, target: Target) -> Result<(), c_int> {
        let at = self.position(target).ok_or(libc::EINVAL)?;
        self.items.remove(at);
        Ok(())
    }

    /// Waits as `zmq_poller_wait_all`: puts up to `room` events in `self.ready`.
    fn wait(&mut self, room: usize, timeout: c_long) -> Result<(), c_int> {
        self.ready.clear();
        self.poll.clear();
        self.polled.clear();
        for (index, item) in self.items.iter().enumerate() {
            if item.events == 0 {
                continue;
            }
            let (socket, fd) = match item.target {
                Target::Socket(socket) => (socket, 0),
                Target::Fd(fd) => (std::ptr::null_mut(), fd),
            };
            self.poll.push(zmq_pollitem_t {
                socket,
                fd,
                events: item.events,
                revents: 0,
            });
            self.polled.push(index);
        }
        if self.poll.is_empty() {
            // Nothing could ever become ready: an endless wait is a caller's error.
            if timeout < 0 {
                return Err(libc::EFAULT);
            }
            sleep_for(timeout);
            return Err(libc::EAGAIN);
        }
        let ready = poll_items(&mut self.poll, timeout)?;
        if ready == 0 {
            return Err(libc::EAGAIN);
        }
        for (polled, &index) in self.poll.iter().zip(&self.polled) {
            if self.ready.len() == room {
                break;
            }
            if polled.revents == 0 {
                continue;
            }
            let item = &self.items[index];
            let (socket, fd) = match item.target {
                Target::Socket(socket) => (socket, -1),
                Target::Fd(fd) => (std::ptr::null_mut(), fd),
            };
            self.ready.push(zmq_poller_event_t {
                socket,
                fd,
                user_data: item.user_data,
                events: polled.revents,
            });
        }
        Ok(())
    }
}

fn status(result: Result<(), c_int>) -> c_int {
    match result {
        Ok(()) => 0,
        Err(code) => fail(code, -1),
    }
}

/// Makes an empty poller.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_poller_new() -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        POLLERS.open(PollerState {
            items: Vec::new(),
            polled: Vec::new(),
            poll: Vec::new(),
            ready: Vec::new(),
        })
    })
}

/// Destroys the poller `*poller_p` and sets `*poller_p` to NULL. `EFAULT` for NULL or a
/// destroyed poller. The sockets and descriptors in it are left alone.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_destroy(poller_p: *mut *mut c_void) -> c_int {
    guard(-1, || {
        if poller_p.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: a non-NULL pointer to the caller's poller variable.
        let poller = unsafe { *poller_p };
        // SAFETY: what the caller holds as a poller, by the API's contract.
        let Some(handle) = (unsafe { POLLERS.live(poller) }) else {
            return fail(libc::EFAULT, -1);
        };
        // SAFETY: destroying a poller is the last use of it, by the API's contract.
        drop(unsafe { POLLERS.close(handle) });
        // SAFETY: as above.
        unsafe { *poller_p = std::ptr::null_mut() };
        0
    })
}

/// How many sockets and descriptors the poller holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_size(poller: *mut c_void) -> c_int {
    with_poller(poller, |state| {
        c_int::try_from(state.items.len()).unwrap_or(c_int::MAX)
    })
}

/// Adds `socket`, reported with `user_data` when ready for some of `events`. `EINVAL` if it
/// is already in the poller or `events` has bits other than `ZMQ_POLLIN|OUT|ERR|PRI`;
/// `ENOTSOCK` for NULL or a closed socket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_add(
    poller: *mut c_void,
    socket: *mut c_void,
    user_data: *mut c_void,
    events: c_short,
) -> c_int {
    with_poller(poller, |state| {
        status(
            check_socket(socket)
                .and_then(|()| state.add(Target::Socket(socket), user_data, events)),
        )
    })
}

/// Changes what `socket` is waited for (0: nothing, for now). `EINVAL` if it is not in the
/// poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_modify(
    poller: *mut c_void,
    socket: *mut c_void,
    events: c_short,
) -> c_int {
    with_poller(poller, |state| {
        status(check_socket(socket).and_then(|()| state.modify(Target::Socket(socket), events)))
    })
}

/// Removes `socket`. `EINVAL` if it is not in the poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_remove(poller: *mut c_void, socket: *mut c_void) -> c_int {
    with_poller(poller, |state| {
        status(check_socket(socket).and_then(|()| state.remove(Target::Socket(socket))))
    })
}

/// Adds the descriptor `fd` (as `poll(2)` sees it; a hang-up or error is `ZMQ_POLLERR`).
/// `EBADF` for -1, `EINVAL` if it is already in the poller or for unknown `events` bits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_add_fd(
    poller: *mut c_void,
    fd: c_int,
    user_data: *mut c_void,
    events: c_short,
) -> c_int {
    with_poller(poller, |state| {
        status(check_fd(fd).and_then(|()| state.add(Target::Fd(fd), user_data, events)))
    })
}

/// Changes what the descriptor `fd` is waited for. `EINVAL` if it is not in the poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_modify_fd(
    poller: *mut c_void,
    fd: c_int,
    events: c_short,
) -> c_int {
    with_poller(poller, |state| {
        status(check_fd(fd).and_then(|()| state.modify(Target::Fd(fd), events)))
    })
}

/// Removes the descriptor `fd`. `EINVAL` if it is not in the poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_remove_fd(poller: *mut c_void, fd: c_int) -> c_int {
    with_poller(poller, |state| {
        status(check_fd(fd).and_then(|()| state.remove(Target::Fd(fd))))
    })
}

/// Waits for one event: as [`zmq_poller_wait_all`] with room for one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_wait(
    poller: *mut c_void,
    event: *mut zmq_poller_event_t,
    timeout: c_long,
) -> c_int {
    // SAFETY: forwarded from the caller.
    let rc = unsafe { zmq_poller_wait_all(poller, event, 1, timeout) };
    rc.min(0)
}

/// Waits until an item is ready or `timeout` milliseconds passed (-1: no limit, 0: look
/// once), and fills up to `n_events` of `events` with the ready items, in the order they were
/// added. Returns how many it filled; -1 with `EAGAIN` when the time ran out, `EFAULT` for
/// NULL `events` or an endless wait on a poller where nothing asks for an event, `EINVAL` for
/// a negative `n_events`, `ENOTSOCK` for a socket closed while in the poller, `ETERM` when a
/// socket's context was shut down, `EINTR` when a signal interrupted the wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_wait_all(
    poller: *mut c_void,
    events: *mut zmq_poller_event_t,
    n_events: c_int,
    timeout: c_long,
) -> c_int {
    with_poller(poller, |state| {
        if events.is_null() {
            return fail(libc::EFAULT, -1);
        }
        let Ok(count) = usize::try_from(n_events) else {
            return fail(libc::EINVAL, -1);
        };
        if let Err(code) = state.wait(count, timeout) {
            return fail(code, -1);
        }
        let filled = state.ready.len();
        // SAFETY: room for `n_events` events at `events`, by the caller's contract, and
        // `filled <= n_events`; the caller's array and the poller's buffer do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(state.ready.as_ptr(), events, filled) };
        c_int::try_from(filled).unwrap_or(c_int::MAX)
    })
}

/// The poller's own descriptor, made for thread-safe sockets; oxmq has none yet, so this is
/// `EINVAL` (as libzmq's is for a poller without them), or `EFAULT` for a bad poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_poller_fd(poller: *mut c_void, fd: *mut c_int) -> c_int {
    with_poller(poller, |_| {
        if fd.is_null() {
            return fail(libc::EFAULT, -1);
        }
        fail(libc::EINVAL, -1)
    })
}
