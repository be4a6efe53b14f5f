//! Sockets: `zmq_socket`, `zmq_close`, `zmq_bind`/`connect`/`unbind`/`disconnect`,
//! `zmq_setsockopt`/`getsockopt`, and sending and receiving frame by frame (`zmq_send`,
//! `zmq_recv`, `zmq_msg_send`, `zmq_msg_recv`, ...).

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use oxmq::{Error, Frame, Message, OptionValue, Socket, SocketType, option_number};

use crate::ctx::{CtxShared, context};
use crate::handle::{Handle, Handles};
use crate::msg::{Msg, zmq_msg_t};
use crate::{bytes_arg, fail, fail_with, guard, int_len, text_arg};

/// `zmq_send` / `zmq_recv` flags.
pub(crate) const DONTWAIT: c_int = 1;
pub(crate) const SNDMORE: c_int = 2;

/// `ZMQ_EVENTS` bits.
pub(crate) const POLLIN: c_int = 1;
pub(crate) const POLLOUT: c_int = 2;

/// What a socket handle holds: the oxmq socket and the frames in between the C API's
/// frame-by-frame view and oxmq's whole messages.
pub(crate) struct SocketState {
    pub(crate) socket: Socket,
    ctx: Arc<CtxShared>,
    /// The frames sent with `ZMQ_SNDMORE` so far, waiting for the last one.
    outgoing: Option<Message>,
    /// [`Socket::peers_detached`] when the first of the `outgoing` frames was accepted.
    outgoing_detached: u64,
    /// The message being read: `incoming` holds its unread frames while `reading` is set.
    incoming: Message,
    reading: bool,
    /// A STREAM socket: its messages are a routing id and one frame of data, and the data
    /// frame ends the message even when sent with `ZMQ_SNDMORE`, as in libzmq.
    stream: bool,
    /// The version 2 monitor that asked for `ZMQ_EVENT_PIPES_STATS`, if one did.
    pub(crate) monitor: Option<Arc<crate::monitor::EventSocket>>,
}

impl Drop for SocketState {
    fn drop(&mut self) {
        self.ctx.socket_closed();
    }
}

impl SocketState {
    /// The context the socket belongs to.
    pub(crate) fn ctx(&self) -> &Arc<CtxShared> {
        &self.ctx
    }

    /// Sends `frame`; with `more`, it waits for the rest of its message. On failure the frame
    /// comes back (the frames before it stay, so that it can be sent again), except when the
    /// last frame cannot go because a peer went away since the first was accepted: then the
    /// whole message is dropped and the send succeeds, as libzmq drops the rest of a message
    /// whose pipe died.
    pub(crate) fn send_frame(
        &mut self,
        frame: Frame,
        more: bool,
        dont_wait: bool,
    ) -> Result<(), (Error, Frame)> {
        if self.socket.is_terminated() {
            return Err((Error::Terminated, frame));
        }
        let more = more && !(self.stream && self.outgoing.is_some());
        if more {
            match &mut self.outgoing {
                Some(msg) => msg.push(frame),
                None => {
                    // The first frame decides whether the message can go, as in libzmq.
                    if let Err(error) = self.socket.begin_send(&frame, dont_wait) {
                        return Err((error, frame));
                    }
                    self.outgoing = Some(Message::from(frame));
                    self.outgoing_detached = self.socket.peers_detached();
                }
            }
            return Ok(());
        }
        let msg = match self.outgoing.take() {
            Some(mut msg) => {
                msg.push(frame);
                msg
            }
            None => Message::from(frame),
        };
        let sent = if dont_wait {
            self.socket.try_send(msg)
        } else {
            self.socket.send_or_return(msg)
        };
        let Err(failed) = sent else {
            return Ok(());
        };
        let error = failed.error();
        let mut msg = failed.into_message();
        if error == Error::WouldBlock
            && msg.len() > 1
            && self.socket.peers_detached() != self.outgoing_detached
        {
            // A peer went away since the first frame was accepted: in libzmq those frames
            // were in its pipe and died with it, and the rest of the message is dropped
            // (`lb_t`'s dropping mode). Keeping them would glue them to the next message.
            return Ok(());
        }
        let last = match msg.pop() {
            Some(last) => {
                self.outgoing = Some(msg);
                last
            }
            None => msg.take_front(),
        };
        Err((error, last))
    }

    /// Sends a copy of `data` as a frame.
    pub(crate) fn send_bytes(&mut self, data: &[u8], flags: c_int) -> Result<(), Error> {
        let more = flags & SNDMORE != 0;
        let dont_wait = flags & DONTWAIT != 0;
        if !more && self.outgoing.is_none() && !self.stream {
            return if dont_wait {
                self.socket.try_send_bytes(data)
            } else {
                self.socket.send_bytes(data)
            };
        }
        self.send_frame(Frame::copy_from_slice(data), more, dont_wait)
            .map_err(|(error, _)| error)
    }

    /// Makes sure a message is being read: receives the next one when none is.
    fn fill(&mut self, dont_wait: bool) -> Result<(), Error> {
        if !self.reading {
            self.socket.recv_into(&mut self.incoming, dont_wait)?;
            self.reading = true;
        }
        Ok(())
    }

    /// The next frame, and whether more of its message follow.
    pub(crate) fn recv_frame(&mut self, dont_wait: bool) -> Result<(Frame, bool), Error> {
        self.fill(dont_wait)?;
        let more = self.incoming.len() > 1;
        self.reading = more;
        Ok((self.incoming.take_front(), more))
    }

    /// Receives the next frame into `msg` (see [`Msg::receive`]); returns its size. The last
    /// frame of a message, when small, is copied from where it lies (the next receive
    /// replaces it); the others are moved out.
    pub(crate) fn recv_msg(&mut self, msg: &mut Msg, dont_wait: bool) -> Result<usize, Error> {
        self.fill(dont_wait)?;
        let more = self.incoming.len() > 1;
        self.reading = more;
        let first = self.incoming.first();
        if !more && first.len() <= crate::msg::BOXED {
            msg.receive_copy(first, false);
        } else {
            msg.receive(self.incoming.take_front(), more);
        }
        Ok(msg.data().len())
    }

    /// Copies the next frame into `buf` (truncated to its length); returns the frame's full
    /// size.
    fn recv_into(&mut self, buf: &mut [u8], dont_wait: bool) -> Result<usize, Error> {
        self.fill(dont_wait)?;
        let copy = |frame: &Frame, buf: &mut [u8]| {
            let n = frame.len().min(buf.len());
            buf[..n].copy_from_slice(&frame[..n]);
            frame.len()
        };
        if self.incoming.len() > 1 {
            let frame = self.incoming.take_front();
            Ok(copy(&frame, buf))
        } else {
            self.reading = false;
            Ok(copy(self.incoming.first(), buf))
        }
    }

    /// `ZMQ_RCVMORE`: the last frame read has more after it.
    fn rcvmore(&self) -> bool {
        self.reading
    }

    /// `ZMQ_EVENTS`: `ZMQ_POLLIN` when a frame can be read, `ZMQ_POLLOUT` when one can be
    /// sent, without blocking. `ETERM` after the context was shut down.
    ///
    /// Arms the socket's `ZMQ_FD`, as libzmq's `ZMQ_EVENTS` does: a direction found not ready
    /// makes the descriptor readable once that may have changed.
    pub(crate) fn events(&mut self) -> Result<c_int, Error> {
        let now = self.socket.events()?;
        let mut events = 0;
        if self.reading || now.readable {
            events |= POLLIN;
        }
        if self.outgoing.is_some() || now.writable {
            events |= POLLOUT;
        }
        Ok(events)
    }
}

static SOCKETS: Handles<SocketState> = Handles::new(0x6f78_736b);

/// The live socket behind `s`.
///
/// # Safety
/// `s` is NULL or a pointer `zmq_socket` returned; only the calling thread uses the socket now.
#[inline]
pub(crate) unsafe fn socket_state<'a>(s: *mut c_void) -> Option<&'a mut SocketState> {
    // SAFETY: forwarded from the caller.
    let handle: &'static Handle<SocketState> = unsafe { SOCKETS.live(s) }?;
    // SAFETY: one thread at a time per socket, by the caller's contract.
    Some(unsafe { handle.get_mut() })
}

/// Runs `body` on the live socket behind `s`: -1 with `ENOTSOCK` for NULL or a closed one.
macro_rules! with_socket {
    ($s:expr, $fail:expr, |$state:ident| $body:expr) => {
        guard($fail, || {
            // SAFETY: NULL or from `zmq_socket`, used by this thread, by the caller's contract.
            match unsafe { socket_state($s) } {
                Some($state) => $body,
                None => fail(libc::ENOTSOCK, $fail),
            }
        })
    };
}

/// `0` or -1 with the error's errno.
fn status(result: Result<(), Error>) -> c_int {
    match result {
        Ok(()) => 0,
        Err(error) => fail_with(error, -1),
    }
}

/// A new socket of `type_` in context `ctx`: NULL with `EFAULT` for a bad context, `EINVAL`
/// for an unknown type (the draft types included), `ETERM` after shutdown, `EMFILE` at
/// `ZMQ_MAX_SOCKETS`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_socket(ctx: *mut c_void, type_: c_int) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, std::ptr::null_mut());
        };
        let socket_type = match SocketType::from_zmq_number(type_) {
            Some(t) if t.zmq_number() <= SocketType::Stream.zmq_number() => t,
            _ => return fail(libc::EINVAL, std::ptr::null_mut()),
        };
        // SAFETY: a live context's value is only read.
        let shared = unsafe { handle.get() };
        let (socket, defaults) = match shared.socket(socket_type) {
            Ok(made) => made,
            Err(error) => return fail_with(error, std::ptr::null_mut()),
        };
        let state = SocketState {
            socket,
            ctx: Arc::clone(shared),
            outgoing: None,
            outgoing_detached: 0,
            incoming: Message::new(),
            reading: false,
            stream: socket_type == SocketType::Stream,
            monitor: None,
        };
        if defaults.ipv6 {
            let _ = state.socket.set_ipv6(true);
        }
        if defaults.linger_zero {
            let _ = state.socket.set_linger(0);
        }
        SOCKETS.open(state)
    })
}

/// Closes the socket. Messages it queued are still delivered within LINGER, in the
/// background.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_close(s: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_socket`, by the caller's contract.
        let Some(handle) = (unsafe { SOCKETS.live(s) }) else {
            return fail(libc::ENOTSOCK, -1);
        };
        // SAFETY: closing is the socket's last use, by libzmq's contract.
        drop(unsafe { SOCKETS.close(handle) });
        0
    })
}

/// Runs an endpoint operation.
unsafe fn endpoint_op(
    s: *mut c_void,
    addr: *const c_char,
    op: fn(&Socket, &str) -> Result<(), Error>,
) -> c_int {
    with_socket!(s, -1, |state| {
        // SAFETY: NULL or a NUL-terminated string, by the caller's contract.
        let endpoint = unsafe { text_arg(addr) };
        status(endpoint.and_then(|endpoint| op(&state.socket, endpoint)))
    })
}

/// Binds the socket to an endpoint (`tcp://`, `ipc://`, `inproc://`; other transports are
/// `EPROTONOSUPPORT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_bind(s: *mut c_void, addr: *const c_char) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { endpoint_op(s, addr, Socket::bind) }
}

/// Connects the socket to an endpoint.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_connect(s: *mut c_void, addr: *const c_char) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { endpoint_op(s, addr, Socket::connect) }
}

/// Stops listening on an endpoint the socket bound.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_unbind(s: *mut c_void, addr: *const c_char) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { endpoint_op(s, addr, Socket::unbind) }
}

/// Disconnects from an endpoint the socket connected to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_disconnect(s: *mut c_void, addr: *const c_char) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { endpoint_op(s, addr, Socket::disconnect) }
}

/// Sets a socket option (see `oxmq::Socket::set_option_raw` for the table).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_setsockopt(
    s: *mut c_void,
    option: c_int,
    optval: *const c_void,
    optvallen: usize,
) -> c_int {
    with_socket!(s, -1, |state| {
        if state.socket.is_terminated() {
            return fail(oxmq::errno::ETERM, -1);
        }
        // An empty proxy address is refused; NULL (also empty here) removes the proxy.
        if option == option_number::SOCKS_PROXY && !optval.is_null() && optvallen == 0 {
            return fail(libc::EINVAL, -1);
        }
        // SAFETY: NULL or `optvallen` readable bytes, by the caller's contract.
        let value = unsafe { bytes_arg(optval, optvallen) };
        status(value.and_then(|value| state.socket.set_option_raw(option, value)))
    })
}

/// Reads a socket option into `optval` (`*optvallen` bytes), setting `*optvallen` to the size
/// written. A buffer too small is `EINVAL`, as in libzmq.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_getsockopt(
    s: *mut c_void,
    option: c_int,
    optval: *mut c_void,
    optvallen: *mut usize,
) -> c_int {
    with_socket!(s, -1, |state| {
        if optval.is_null() || optvallen.is_null() {
            return fail(libc::EFAULT, -1);
        }
        if state.socket.is_terminated() {
            return fail(oxmq::errno::ETERM, -1);
        }
        let value = match option {
            option_number::RCVMORE => Ok(OptionValue::Int(state.rcvmore().into())),
            option_number::EVENTS => state.events().map(OptionValue::Int),
            option_number::FD => state.socket.signal_fd().map(OptionValue::Int),
            _ => state.socket.option_value(option),
        };
        match value {
            // SAFETY: not NULL; `*optvallen` writable bytes at `optval`, by the caller's
            // contract.
            Ok(value) => unsafe { write_option(value, optval, optvallen) },
            Err(error) => fail_with(error, -1),
        }
    })
}

/// Writes an option value the way libzmq does: numbers need room for their type (the rest of
/// the buffer is zeroed), strings room for their terminating NUL, binary values their length.
///
/// # Safety
/// `optval` points to `*optvallen` writable bytes.
unsafe fn write_option(value: OptionValue, optval: *mut c_void, optvallen: *mut usize) -> c_int {
    // SAFETY: by the caller's contract.
    let room = unsafe { *optvallen };
    let (bytes, zero_rest): (Vec<u8>, bool) = match value {
        OptionValue::Int(v) => (v.to_ne_bytes().to_vec(), true),
        OptionValue::Long(v) => (v.to_ne_bytes().to_vec(), true),
        OptionValue::Bytes(v) => (v, false),
        OptionValue::Text(text) => {
            let mut bytes = text.into_bytes();
            bytes.push(0);
            (bytes, false)
        }
    };
    if room < bytes.len() {
        return fail(libc::EINVAL, -1);
    }
    // SAFETY: `room >= bytes.len()` writable bytes at `optval`.
    unsafe {
        if zero_rest {
            std::ptr::write_bytes(optval.cast::<u8>(), 0, room);
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), optval.cast::<u8>(), bytes.len());
        *optvallen = bytes.len();
    }
    0
}

/// Sends `len` bytes at `buf` as one frame (`ZMQ_SNDMORE`: more frames of the message
/// follow; `ZMQ_DONTWAIT`: `EAGAIN` instead of blocking). Returns the number of bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_send(
    s: *mut c_void,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> c_int {
    with_socket!(s, -1, |state| {
        // SAFETY: NULL or `len` readable bytes, by the caller's contract.
        let data = match unsafe { bytes_arg(buf, len) } {
            Ok(data) => data,
            Err(error) => return fail_with(error, -1),
        };
        match state.send_bytes(data, flags) {
            Ok(()) => int_len(len),
            Err(error) => fail_with(error, -1),
        }
    })
}

/// `zmq_send` of a constant buffer, which the caller keeps unchanged for as long as the
/// message may be in flight: libzmq sends it without copying; oxmq copies small frames, which
/// it stores in place anyway (`Frame::from(Bytes)`), and takes large ones by reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_send_const(
    s: *mut c_void,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> c_int {
    with_socket!(s, -1, |state| {
        // SAFETY: NULL or `len` readable bytes, by the caller's contract.
        let data = match unsafe { bytes_arg(buf, len) } {
            Ok(data) => data,
            Err(error) => return fail_with(error, -1),
        };
        // SAFETY: the caller promises the buffer stays valid and unchanged while the message
        // is in flight (the contract of `zmq_send_const`); a `Bytes` never frees a static slice.
        let data: &'static [u8] = unsafe { std::slice::from_raw_parts(data.as_ptr(), len) };
        let frame = Frame::from(bytes::Bytes::from_static(data));
        let sent = state.send_frame(frame, flags & SNDMORE != 0, flags & DONTWAIT != 0);
        match sent {
            Ok(()) => int_len(len),
            Err((error, _)) => fail_with(error, -1),
        }
    })
}

/// Receives the next frame into `buf`: at most `len` bytes are copied, the frame's full size
/// is returned (so a larger result means the frame was truncated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_recv(
    s: *mut c_void,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
) -> c_int {
    with_socket!(s, -1, |state| {
        if buf.is_null() && len != 0 {
            return fail(libc::EFAULT, -1);
        }
        if len > isize::MAX as usize {
            return fail(libc::EINVAL, -1);
        }
        let buf: &mut [u8] = if len == 0 {
            &mut []
        } else {
            // SAFETY: not NULL, `len` writable bytes, by the caller's contract.
            unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) }
        };
        match state.recv_into(buf, flags & DONTWAIT != 0) {
            Ok(size) => int_len(size),
            Err(error) => fail_with(error, -1),
        }
    })
}

/// Sends the message's content as one frame; on success the message is left empty, on
/// failure unchanged. Returns the number of bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_send(msg: *mut zmq_msg_t, s: *mut c_void, flags: c_int) -> c_int {
    with_socket!(s, -1, |state| {
        // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
        let Some(live) = (unsafe { crate::msg::live(msg) }) else {
            return fail(libc::EFAULT, -1);
        };
        let size = live.data().len();
        if size <= Frame::INLINE_CAPACITY {
            // A frame this small is stored in place on its way anyway: its bytes are copied
            // straight into the queue towards the peer (no `Frame` or `Message` is built and
            // moved), and the message is then closed here.
            return match state.send_bytes(live.data(), flags) {
                Ok(()) => {
                    *live = Msg::empty();
                    int_len(size)
                }
                Err(error) => fail_with(error, -1),
            };
        }
        // Kept for a failed send, which leaves the message as it was (`take_frame` empties it).
        let properties = live.take_properties();
        let frame = live.take_frame();
        match state.send_frame(frame, flags & SNDMORE != 0, flags & DONTWAIT != 0) {
            Ok(()) => int_len(size),
            Err((error, frame)) => {
                // Unchanged for the caller: the same body, flags, routing id and metadata.
                *live = Msg::from_frame(frame, false);
                live.restore_properties(properties);
                fail_with(error, -1)
            }
        }
    })
}

/// Receives the next frame into the message (closing what it held); `zmq_msg_more` then tells
/// whether more frames follow. Returns the number of bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_recv(msg: *mut zmq_msg_t, s: *mut c_void, flags: c_int) -> c_int {
    with_socket!(s, -1, |state| {
        // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
        let Some(live) = (unsafe { crate::msg::live(msg) }) else {
            return fail(libc::EFAULT, -1);
        };
        match state.recv_msg(live, flags & DONTWAIT != 0) {
            Ok(size) => {
                live.set_metadata(state.socket.last_metadata());
                int_len(size)
            }
            Err(error) => {
                if error == Error::WouldBlock {
                    // As libzmq: no message now leaves an empty one.
                    *live = Msg::empty();
                }
                fail_with(error, -1)
            }
        }
    })
}

/// The old name of `zmq_msg_send`, with the arguments in the old order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_sendmsg(s: *mut c_void, msg: *mut zmq_msg_t, flags: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { zmq_msg_send(msg, s, flags) }
}

/// The old name of `zmq_msg_recv`, with the arguments in the old order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_recvmsg(s: *mut c_void, msg: *mut zmq_msg_t, flags: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { zmq_msg_recv(msg, s, flags) }
}

/// libzmq's `struct iovec` use: base pointer and length.
#[repr(C)]
pub struct IoVec {
    base: *mut c_void,
    len: usize,
}

/// Sends `count` buffers as the frames of one message: the last one ends it whatever `flags`
/// say (`ZMQ_SNDMORE` applies to the others), as in libzmq. Returns the size of the last frame,
/// as libzmq does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_sendiov(
    s: *mut c_void,
    iov: *mut IoVec,
    count: usize,
    flags: c_int,
) -> c_int {
    with_socket!(s, -1, |state| {
        if count == 0 || iov.is_null() {
            return fail(libc::EINVAL, -1);
        }
        // SAFETY: `count` iovecs at `iov`, by the caller's contract.
        let iov = unsafe { std::slice::from_raw_parts(iov, count) };
        let mut last = 0;
        for (i, part) in iov.iter().enumerate() {
            // SAFETY: each iovec points to `len` readable bytes, by the caller's contract.
            let data = match unsafe { bytes_arg(part.base, part.len) } {
                Ok(data) => data,
                Err(error) => return fail_with(error, -1),
            };
            let part_flags = if i + 1 < count {
                flags | SNDMORE
            } else {
                flags & !SNDMORE
            };
            if let Err(error) = state.send_bytes(data, part_flags) {
                return fail_with(error, -1);
            }
            last = int_len(part.len);
        }
        last
    })
}

/// Receives up to `*count` frames of one message into buffers it allocates with `malloc`
/// (the caller frees them); sets `*count` to the number received and returns it, as libzmq
/// does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_recviov(
    s: *mut c_void,
    iov: *mut IoVec,
    count: *mut usize,
    flags: c_int,
) -> c_int {
    with_socket!(s, -1, |state| {
        if iov.is_null() || count.is_null() {
            return fail(libc::EINVAL, -1);
        }
        // SAFETY: not NULL, by the caller's contract a readable and writable count.
        let room = unsafe { *count };
        if room == 0 {
            return fail(libc::EINVAL, -1);
        }
        let mut received = 0;
        let dont_wait = flags & DONTWAIT != 0;
        while received < room {
            let (frame, more) = match state.recv_frame(dont_wait) {
                Ok(next) => next,
                Err(error) => return fail_with(error, -1),
            };
            // SAFETY: `malloc` of at least one byte; checked below.
            let buf = unsafe { libc::malloc(frame.len().max(1)) };
            if buf.is_null() {
                return fail(libc::ENOMEM, -1);
            }
            // SAFETY: `buf` holds `frame.len()` bytes; `iov` has `room` entries.
            unsafe {
                std::ptr::copy_nonoverlapping(frame.as_ptr(), buf.cast::<u8>(), frame.len());
                *iov.add(received) = IoVec {
                    base: buf,
                    len: frame.len(),
                };
            }
            received += 1;
            if !more {
                break;
            }
        }
        // SAFETY: as above.
        unsafe { *count = received };
        int_len(received)
    })
}
