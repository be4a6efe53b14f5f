//! `zmq_socket_monitor` and its draft forms: a socket's events in libzmq's wire form.
//!
//! The monitored socket reports to an [`EventSink`] that owns a socket (PAIR; PUB or PUSH in
//! the versioned form) bound at the given `inproc://` address. In the version 1 form each event
//! is one two-frame message, as libzmq 4.x sends them:
//!
//! 1. six bytes: the event (`uint16_t`, `ZMQ_EVENT_*`) then its value (`uint32_t`: a
//!    descriptor, an errno, an interval or a protocol error code), in the host's byte order;
//! 2. the endpoint the event concerns (empty for `ZMQ_EVENT_MONITOR_STOPPED`).
//!
//! In the version 2 form (`zmq_socket_monitor_versioned`) it is the event as a `uint64_t`, the
//! number of values as a `uint64_t`, each value as a `uint64_t`, the local address and the
//! remote address.
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
/// new PAIR socket bound at `addr`, an `inproc://` endpoint, in the version 1 form; a NULL
/// `addr` stops monitoring. A second call replaces the first monitor (which gets
/// `ZMQ_EVENT_MONITOR_STOPPED` if it asked for it). Errors as libzmq: `ENOTSOCK` for a bad
/// socket, `ETERM` after the context was terminated, `EINVAL` for bits above the 16 of event
/// version 1 or a malformed address, `EPROTONOSUPPORT` for another transport, and the bind's
/// own error (`EADDRINUSE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_socket_monitor(
    s: *mut c_void,
    addr: *const c_char,
    events: c_int,
) -> c_int {
    // libzmq takes the int as a 64-bit mask: a negative one has bits above the 16th.
    // SAFETY: forwarded from the caller.
    unsafe { start_monitor(s, addr, events as i64 as u64, 1, PAIR) }
}

/// The draft form of [`zmq_socket_monitor`]: `event_version` 1 (as `zmq_socket_monitor`) or 2
/// (each event a message of its `uint64_t` number, the count of `uint64_t` values, the values,
/// then the local and the remote address; `events` may then hold `ZMQ_EVENT_PIPES_STATS`), on
/// a socket of `type` `ZMQ_PAIR`, `ZMQ_PUB` or `ZMQ_PUSH`. `EINVAL` for another version or type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_socket_monitor_versioned(
    s: *mut c_void,
    addr: *const c_char,
    events: u64,
    event_version: c_int,
    socket_type: c_int,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { start_monitor(s, addr, events, event_version, socket_type) }
}

/// `ZMQ_PAIR`, `ZMQ_PUB`, `ZMQ_PUSH`.
const PAIR: c_int = 0;
const PUB: c_int = 1;
const PUSH: c_int = 8;
/// The draft `ZMQ_EVENT_PIPES_STATS` bit (event version 2 only).
const EVENT_PIPES_STATS: u64 = 0x10000;

/// `zmq_socket_monitor_versioned`'s work, in libzmq's order of checks.
unsafe fn start_monitor(
    s: *mut c_void,
    addr: *const c_char,
    events: u64,
    version: c_int,
    socket_type: c_int,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_socket`, used by this thread, by the caller's contract.
        let Some(state) = (unsafe { socket_state(s) }) else {
            return fail(libc::ENOTSOCK, -1);
        };
        if state.socket.is_terminated() {
            return fail(oxmq::errno::ETERM, -1);
        }
        let known = match version {
            1 => 0xFFFF,
            2 => 0xFFFF | EVENT_PIPES_STATS,
            _ => return fail(libc::EINVAL, -1),
        };
        if events & !known != 0 {
            return fail(libc::EINVAL, -1);
        }
        if addr.is_null() {
            state.socket.stop_monitor();
            state.monitor = None;
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
        let kind = match socket_type {
            PAIR => SocketType::Pair,
            PUB => SocketType::Pub,
            PUSH => SocketType::Push,
            _ => return fail(libc::EINVAL, -1),
        };
        // The monitor before goes first, so that its address is free to bind again.
        state.socket.stop_monitor();
        state.monitor = None;
        let sink = match EventSocket::bind(state.ctx(), kind, endpoint, version) {
            Ok(sink) => Arc::new(sink),
            Err(error) => return fail_with(error, -1),
        };
        let mask = EventMask::from_bits((events & 0xFFFF) as u32);
        match state
            .socket
            .monitor_with(mask, Arc::clone(&sink) as Arc<dyn EventSink>)
        {
            Ok(()) => {
                if events & EVENT_PIPES_STATS != 0 {
                    state.monitor = Some(sink);
                }
                0
            }
            Err(error) => fail_with(error, -1),
        }
    })
}

/// Asks for a `ZMQ_EVENT_PIPES_STATS` event per peer of socket `s`: the messages queued
/// towards the peer and from it, with the connection's local and remote address. `ENOTSOCK`
/// for a bad socket, `EINVAL` unless a version 2 monitor asked for these events, `EAGAIN`
/// when the socket has no peer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_socket_monitor_pipes_stats(s: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_socket`, used by this thread, by the caller's contract.
        let Some(state) = (unsafe { socket_state(s) }) else {
            return fail(libc::ENOTSOCK, -1);
        };
        let Some(sink) = state.monitor.clone() else {
            return fail(libc::EINVAL, -1);
        };
        let peers = state.socket.peer_stats();
        if peers.is_empty() {
            return fail(libc::EAGAIN, -1);
        }
        for peer in peers {
            sink.send_v2(
                EVENT_PIPES_STATS,
                &[peer.queued_out, peer.queued_in],
                &peer.local,
                &peer.remote,
            );
        }
        0
    })
}

/// Writes events on a PAIR, PUB or PUSH socket in libzmq's version 1 or 2 form.
pub(crate) struct EventSocket {
    socket: Mutex<Socket>,
    ctx: Arc<CtxShared>,
    version: c_int,
}

impl EventSocket {
    /// A socket of the monitored socket's context, bound at `endpoint`, lingering 0 so that
    /// events nobody read never hold up the context's end.
    fn bind(
        ctx: &Arc<CtxShared>,
        kind: SocketType,
        endpoint: &str,
        version: c_int,
    ) -> Result<EventSocket, oxmq::Error> {
        let (socket, _) = ctx.socket(kind)?;
        // Counted as a socket of the context from here: dropping the sink uncounts it.
        let sink = EventSocket {
            socket: Mutex::new(socket),
            ctx: Arc::clone(ctx),
            version,
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

    /// Sends without blocking: with no reader connected yet, or one too far behind, the
    /// event is dropped (see the module's notes).
    fn send(&self, msg: Message) {
        let _ = self.socket().try_send(msg);
    }

    /// One event in the version 2 form.
    fn send_v2(&self, event: u64, values: &[u64], local: &str, remote: &str) {
        let mut frames = Vec::with_capacity(4 + values.len());
        frames.push(event.to_ne_bytes().to_vec());
        frames.push((values.len() as u64).to_ne_bytes().to_vec());
        frames.extend(values.iter().map(|v| v.to_ne_bytes().to_vec()));
        frames.push(local.as_bytes().to_vec());
        frames.push(remote.as_bytes().to_vec());
        self.send(Message::from_frames(frames));
    }
}

impl EventSink for EventSocket {
    fn event(&self, event: &SocketEvent) {
        if self.version == 1 {
            self.send(Message::from_frames([
                wire_head(event).to_vec(),
                event.endpoint.clone().into_bytes(),
            ]));
        } else {
            self.send_v2(
                u64::from(event.kind.bit()),
                &[event.value],
                &event.local,
                &event.remote,
            );
        }
    }
}

impl Drop for EventSocket {
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
            local: "tcp://127.0.0.1:5555".into(),
            remote: "tcp://127.0.0.1:40000".into(),
        });
        assert_eq!(u16::from_ne_bytes([head[0], head[1]]), 0x0020);
        assert_eq!(
            u32::from_ne_bytes([head[2], head[3], head[4], head[5]]),
            0x0102_0304
        );
    }
}
