//! `zmq_proxy`, `zmq_proxy_steerable` and the old `zmq_device`: libzmq 4.3's built-in proxy.
//!
//! The proxy forwards whole messages, frame by frame, from the frontend to the backend and
//! from the backend to the frontend, sending a copy of every frame to the capture socket when
//! there is one. It moves a message only when its destination reports `ZMQ_POLLOUT` (a burst
//! of up to [`BURST`] messages once it does, as libzmq), so a destination at its high-water
//! mark holds the messages back in the source's queue instead of blocking the proxy (libzmq
//! issue #1382); its sends block as libzmq's do (a socket that reports `ZMQ_POLLOUT` and then
//! refuses a message, such as an XPUB with `ZMQ_XPUB_NODROP`, makes the proxy wait).
//!
//! The frames go through the same per-socket state as `zmq_msg_recv`/`zmq_msg_send`
//! ([`SocketState::recv_frame`]/[`SocketState::send_frame`]), so a message the application
//! had started to read or write before the call is continued, as in libzmq. When nothing can
//! move, the proxy sleeps in `zmq_poll` on exactly the conditions that would let something
//! move: for each direction, `ZMQ_POLLIN` on the source, or, when the source has a message
//! and the destination is full, `ZMQ_POLLOUT` on the destination; plus `ZMQ_POLLIN` on the
//! control socket.
//!
//! The control socket of `zmq_proxy_steerable` takes one-frame commands: `PAUSE` (stop
//! forwarding, still obey commands), `RESUME`, `TERMINATE` (return 0) and `STATISTICS`
//! (reply with eight 8-byte frames in native byte order: messages in, bytes in, messages out,
//! bytes out of the frontend, then the same of the backend; a multi-part message counts once,
//! with the bytes of all its frames). Each command is copied to the capture socket too.
//!
//! Decisions where libzmq's behaviour is not an error code:
//! - An unknown command makes libzmq print "E: invalid command sent to proxy" and abort the
//!   process; here it is printed to stderr and ignored.
//! - A multi-part command makes libzmq return -1 without setting errno; here errno is
//!   `EINVAL`.
//! - A source that reported `ZMQ_POLLIN` and then has no message (a REQ dropping a reply that
//!   does not correlate, say) makes libzmq's proxy fail with `EAGAIN`; here it is a burst of
//!   no messages and the proxy goes on.
//! - NULL `frontend` or `backend` is `EFAULT` for all three functions (libzmq checks it in
//!   `zmq_proxy` and `zmq_proxy_steerable` only, and crashes in `zmq_device`); a closed socket
//!   in any role is `ENOTSOCK`.

use std::ffi::{c_int, c_short, c_void};

use oxmq::{Error, Frame};

use crate::poll::{zmq_poll, zmq_pollitem_t};
use crate::socket::{POLLIN, POLLOUT, SocketState, socket_state};
use crate::{fail, fail_with, guard};

/// The most messages forwarded in one direction before the proxy looks at the sockets again
/// (libzmq's `proxy_burst_size`).
const BURST: usize = 1000;

/// What went through one socket (libzmq's `zmq_socket_stats_t`).
#[derive(Default)]
struct Stats {
    msg_in: u64,
    bytes_in: u64,
    msg_out: u64,
    bytes_out: u64,
}

/// The proxy's sockets, as the handles the application passed (checked live at the start),
/// and its counters.
///
/// The handles are looked up again for every operation rather than held as references: the
/// frontend and the backend may be the same socket, and so may, in principle, the others.
struct Proxy {
    frontend: *mut c_void,
    backend: *mut c_void,
    capture: Option<*mut c_void>,
    control: Option<*mut c_void>,
    frontend_stats: Stats,
    backend_stats: Stats,
    paused: bool,
}

/// What a control command asked for.
enum Command {
    Continue,
    Terminate,
}

/// The live socket behind a handle: `ENOTSOCK` for NULL or a closed one.
///
/// Each reference is used for one operation and dropped before the next lookup, so no two
/// references to one socket are alive at once.
fn sock<'a>(handle: *mut c_void) -> Result<&'a mut SocketState, Error> {
    // SAFETY: `handle` is NULL or a pointer from `zmq_socket`, and the proxy's thread is the
    // only one using its sockets for the duration of the call, by the caller's contract.
    unsafe { socket_state(handle) }.ok_or(Error::Os(libc::ENOTSOCK))
}

/// `ZMQ_EVENTS` of a socket (which also arms its signal descriptor for `zmq_poll`).
fn events(handle: *mut c_void) -> Result<c_int, Error> {
    sock(handle)?.events()
}

/// Sends a frame, waiting as a blocking `zmq_msg_send` does.
fn send(handle: *mut c_void, frame: Frame, more: bool) -> Result<(), Error> {
    sock(handle)?
        .send_frame(frame, more, false)
        .map_err(|(error, _)| error)
}

fn item(socket: *mut c_void, events: c_int) -> zmq_pollitem_t {
    zmq_pollitem_t {
        socket,
        fd: 0,
        events: events as c_short,
        revents: 0,
    }
}

impl Proxy {
    fn same(&self) -> bool {
        self.frontend == self.backend
    }

    /// Runs until `TERMINATE` (`Ok`) or an error.
    fn run(&mut self) -> Result<(), Error> {
        loop {
            // One look at every socket, then what it allows: a command, a burst each way.
            let control_in = match self.control {
                Some(control) => events(control)? & POLLIN != 0,
                None => false,
            };
            let front = events(self.frontend)?;
            let back = if self.same() {
                front
            } else {
                events(self.backend)?
            };
            let mut progressed = false;
            if control_in {
                if let Command::Terminate = self.command()? {
                    return Ok(());
                }
                progressed = true;
            }
            if !self.paused {
                if front & POLLIN != 0 && (self.same() || back & POLLOUT != 0) {
                    self.forward(true)?;
                    progressed = true;
                }
                if !self.same() && back & POLLIN != 0 && front & POLLOUT != 0 {
                    self.forward(false)?;
                    progressed = true;
                }
            }
            if !progressed {
                self.wait(front, back)?;
            }
        }
    }

    /// Sleeps until something the proxy waits for may have happened, given the events just
    /// seen (none of which allowed anything to move).
    fn wait(&self, front: c_int, back: c_int) -> Result<(), Error> {
        let mut items = [(); 3].map(|()| item(std::ptr::null_mut(), 0));
        let mut count = 0;
        let mut add = |socket: *mut c_void, events: c_int| {
            if events != 0 {
                items[count] = item(socket, events);
                count += 1;
            }
        };
        if let Some(control) = self.control {
            add(control, POLLIN);
        }
        if !self.paused {
            if self.same() {
                add(self.frontend, POLLIN);
            } else {
                // For each direction: a message to read, or room for the message waiting.
                let (mut front_wait, mut back_wait) = (0, 0);
                if front & POLLIN != 0 {
                    back_wait |= POLLOUT;
                } else {
                    front_wait |= POLLIN;
                }
                if back & POLLIN != 0 {
                    front_wait |= POLLOUT;
                } else {
                    back_wait |= POLLIN;
                }
                add(self.frontend, front_wait);
                add(self.backend, back_wait);
            }
        }
        // SAFETY: `count` initialised items holding live socket handles of this thread.
        let rc = unsafe { zmq_poll(items.as_mut_ptr(), count as c_int, -1) };
        if rc < 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINTR);
            return Err(Error::from_errno(errno));
        }
        Ok(())
    }

    /// Forwards up to [`BURST`] whole messages, frontend to backend (`request`) or backend to
    /// frontend, copying each frame to the capture socket.
    fn forward(&mut self, request: bool) -> Result<(), Error> {
        let (from, to) = if request {
            (self.frontend, self.backend)
        } else {
            (self.backend, self.frontend)
        };
        for _ in 0..BURST {
            let mut size = 0u64;
            loop {
                // The rest of a message is already here once its first frame is.
                let (frame, more) = match sock(from)?.recv_frame(true) {
                    Ok(next) => next,
                    Err(Error::WouldBlock) => return Ok(()),
                    Err(error) => return Err(error),
                };
                size += frame.len() as u64;
                if let Some(capture) = self.capture {
                    send(capture, frame.clone(), more)?;
                }
                send(to, frame, more)?;
                if !more {
                    break;
                }
            }
            let (from_stats, to_stats) = if request {
                (&mut self.frontend_stats, &mut self.backend_stats)
            } else {
                (&mut self.backend_stats, &mut self.frontend_stats)
            };
            from_stats.msg_in += 1;
            from_stats.bytes_in += size;
            to_stats.msg_out += 1;
            to_stats.bytes_out += size;
        }
        Ok(())
    }

    /// Reads and obeys one command from the control socket.
    fn command(&mut self) -> Result<Command, Error> {
        let Some(control) = self.control else {
            return Ok(Command::Continue);
        };
        let (frame, more) = sock(control)?.recv_frame(false)?;
        if more {
            return Err(Error::Invalid);
        }
        if let Some(capture) = self.capture {
            send(capture, frame.clone(), false)?;
        }
        match &frame[..] {
            b"PAUSE" => self.paused = true,
            b"RESUME" => self.paused = false,
            b"TERMINATE" => return Ok(Command::Terminate),
            b"STATISTICS" => self.reply_stats(control)?,
            _ => eprintln!("E: invalid command sent to proxy"),
        }
        Ok(Command::Continue)
    }

    /// Sends the eight counters on the control socket, as one message.
    fn reply_stats(&self, control: *mut c_void) -> Result<(), Error> {
        let (f, b) = (&self.frontend_stats, &self.backend_stats);
        let counters = [
            f.msg_in,
            f.bytes_in,
            f.msg_out,
            f.bytes_out,
            b.msg_in,
            b.bytes_in,
            b.msg_out,
            b.bytes_out,
        ];
        let last = counters.len() - 1;
        for (i, counter) in counters.into_iter().enumerate() {
            let mut frame = Frame::copy_from_slice(&counter.to_ne_bytes());
            loop {
                match sock(control)?.send_frame(frame, i < last, false) {
                    Ok(()) => break,
                    // The first frame may meet the high-water mark (or SNDTIMEO): the reply
                    // fails. Once it went, the message goes whole: keep at the rest, as
                    // libzmq does.
                    Err((Error::WouldBlock, back)) if i > 0 => frame = back,
                    Err((error, _)) => return Err(error),
                }
            }
        }
        Ok(())
    }
}

/// Runs the proxy on the handles the application passed; -1 with errno on failure.
fn proxy(
    frontend: *mut c_void,
    backend: *mut c_void,
    capture: *mut c_void,
    control: *mut c_void,
) -> c_int {
    if frontend.is_null() || backend.is_null() {
        return fail(libc::EFAULT, -1);
    }
    let optional = |handle: *mut c_void| (!handle.is_null()).then_some(handle);
    let mut proxy = Proxy {
        frontend,
        backend,
        capture: optional(capture),
        control: optional(control),
        frontend_stats: Stats::default(),
        backend_stats: Stats::default(),
        paused: false,
    };
    let handles = [Some(frontend), Some(backend), proxy.capture, proxy.control];
    for handle in handles.into_iter().flatten() {
        if let Err(error) = sock(handle) {
            return fail_with(error, -1);
        }
    }
    match proxy.run() {
        Ok(()) => 0,
        Err(error) => fail_with(error, -1),
    }
}

/// Forwards messages between `frontend` and `backend` in both directions, copying every frame
/// to `capture` when it is not NULL, until the sockets' context is terminated: always -1,
/// with `ETERM` then (or the error of the socket operation that failed; `EFAULT` for a NULL
/// `frontend` or `backend`, `ENOTSOCK` for a closed socket). `frontend` and `backend` may be
/// the same socket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_proxy(
    frontend: *mut c_void,
    backend: *mut c_void,
    capture: *mut c_void,
) -> c_int {
    guard(-1, || {
        proxy(frontend, backend, capture, std::ptr::null_mut())
    })
}

/// `zmq_proxy` steered by commands on `control` (when not NULL): `PAUSE`, `RESUME`,
/// `TERMINATE` (the call then returns 0) and `STATISTICS` (answered on `control` with eight
/// 64-bit counters).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_proxy_steerable(
    frontend: *mut c_void,
    backend: *mut c_void,
    capture: *mut c_void,
    control: *mut c_void,
) -> c_int {
    guard(-1, || proxy(frontend, backend, capture, control))
}

/// The old form of `zmq_proxy`, without a capture socket; `type_` is ignored, as in libzmq.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_device(
    type_: c_int,
    frontend: *mut c_void,
    backend: *mut c_void,
) -> c_int {
    let _ = type_;
    guard(-1, || {
        proxy(
            frontend,
            backend,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    })
}
