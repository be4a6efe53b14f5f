//! `zmq_socket_monitor`: a socket's events in libzmq's wire form, on a PAIR socket.
//!
//! The monitored socket reports to an [`EventSink`] that owns a PAIR socket bound at the given
//! `inproc://` address; each event is one two-frame message, as libzmq 4.x sends them:
//!
//! 1. six bytes: the event (`uint16_t`, `ZMQ_EVENT_*`) then its value (`uint32_t`: a
//!    descriptor, an errno, an interval or a protocol error code), in the host's byte order;
//! 2. the endpoint the event concerns (empty for `ZMQ_EVENT_MONITOR_STOPPED`).
//!
//! Events are sent without blocking. libzmq sends them with a blocking send from whichever
//! thread raised them, so an I/O thread stalls while nobody has connected to the monitor
//! address or the reader is 1000 events behind; here such an event is dropped instead.

use std::ffi::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};

use oxmq::{EventMask, EventSink, Message, Socket, SocketEvent, SocketType};

use crate::ctx::CtxShared;
use crate::socket::socket_state;
use crate::{fail, fail_with, guard, text_arg};

/// Publishes the events of socket `s` named in `events` (a mask of `ZMQ_EVENT_*` bits) on a
/// new PAIR socket bound at `addr`, an `inproc://` endpoint; a NULL `addr` stops monitoring.
/// A second call replaces the first monitor (which gets `ZMQ_EVENT_MONITOR_STOPPED` if it
/// asked for it). Errors as libzmq: `ENOTSOCK` for a bad socket, `ETERM` after the context
/// was terminated, `EINVAL` for bits above the 16 of event version 1 or a malformed address,
/// `EPROTONOSUPPORT` for another transport, and the bind's own error (`EADDRINUSE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_socket_monitor(
    s: *mut c_void,
    addr: *const c_char,
    events: c_int,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_socket`, used by this thread, by the caller's contract.
        let Some(state) = (unsafe { socket_state(s) }) else {
            return fail(libc::ENOTSOCK, -1);
        };
        if state.socket.is_terminated() {
            return fail(oxmq::errno::ETERM, -1);
        }
        // libzmq takes the int as a 64-bit mask: a negative one has bits above the 16th.
        let Ok(mask) = u16::try_from(events) else {
            return fail(libc::EINVAL, -1);
        };
        if addr.is_null() {
            state.socket.stop_monitor();
            return 0;
        }
        // SAFETY: a NUL-terminated string, by the caller's contract.
        let endpoint = match unsafe { text_arg(addr) } {
            Ok(endpoint) if endpoint.starts_with("inproc://") => endpoint,
            Ok(endpoint) if endpoint.contains("://") => {
                return fail(libc::EPROTONOSUPPORT, -1);
            }
            _ => return fail(libc::EINVAL, -1),
        };
        // The monitor before goes first, so that its address is free to bind again.
        state.socket.stop_monitor();
        let sink = match PairSink::bind(state.ctx(), endpoint) {
            Ok(sink) => sink,
            Err(error) => return fail_with(error, -1),
        };
        match state
            .socket
            .monitor_with(EventMask::from_bits(u32::from(mask)), Arc::new(sink))
        {
            Ok(()) => 0,
            Err(error) => fail_with(error, -1),
        }
    })
}

/// Writes events on a PAIR socket in libzmq's two-frame form.
struct PairSink {
    socket: Mutex<Socket>,
    ctx: Arc<CtxShared>,
}

impl PairSink {
    /// A PAIR socket of the monitored socket's context, bound at `endpoint`, lingering 0 so
    /// that events nobody read never hold up the context's end.
    fn bind(ctx: &Arc<CtxShared>, endpoint: &str) -> Result<PairSink, oxmq::Error> {
        let (socket, _) = ctx.socket(SocketType::Pair)?;
        // Counted as a socket of the context from here: dropping the sink uncounts it.
        let sink = PairSink {
            socket: Mutex::new(socket),
            ctx: Arc::clone(ctx),
        };
        {
            let socket = sink.socket();
            socket.set_linger(0)?;
            socket.bind(endpoint)?;
        }
        Ok(sink)
    }

    fn socket(&self) -> std::sync::MutexGuard<'_, Socket> {
        self.socket.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventSink for PairSink {
    fn event(&self, event: &SocketEvent) {
        let msg = Message::from_frames([
            wire_head(event).to_vec(),
            event.endpoint.clone().into_bytes(),
        ]);
        // No reader connected yet, or one too far behind: the event is dropped (see above).
        let _ = self.socket().try_send(msg);
    }
}

impl Drop for PairSink {
    fn drop(&mut self) {
        self.ctx.socket_closed();
    }
}

/// The first frame of an event: its `ZMQ_EVENT_*` bit and its value (truncated to 32 bits, as
/// libzmq's version 1 form does), in host byte order.
fn wire_head(event: &SocketEvent) -> [u8; 6] {
    let mut head = [0u8; 6];
    head[..2].copy_from_slice(&event.kind.bit().to_ne_bytes());
    head[2..].copy_from_slice(&(event.value as u32).to_ne_bytes());
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxmq::EventKind;

    #[test]
    fn head_is_event_then_value_in_host_order() {
        let head = wire_head(&SocketEvent {
            kind: EventKind::Accepted,
            value: 0x0102_0304,
            endpoint: "tcp://127.0.0.1:5555".into(),
        });
        assert_eq!(u16::from_ne_bytes([head[0], head[1]]), 0x0020);
        assert_eq!(
            u32::from_ne_bytes([head[2], head[3], head[4], head[5]]),
            0x0102_0304
        );
    }
}
