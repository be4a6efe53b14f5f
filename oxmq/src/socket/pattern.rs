//! The routing rule of a socket type, as the socket sees it.

use crate::error::Error;
use crate::message::Message;
use crate::pipe::{Peer, PeerId};

/// Why a pattern did not take a message. Either way the message comes back to the caller.
#[derive(Debug)]
pub(crate) enum Refused {
    /// No peer can take it now (every pipe is at its high-water mark, or there is no peer):
    /// a blocking send waits and tries again.
    Full(Message),
    /// The send is invalid or impossible (EFSM, EHOSTUNREACH, ENOTSUP, ...): reported at once.
    Failed(Error, Message),
}

/// The routing rule of a socket type: how messages are spread over its peers, and which peers'
/// messages are delivered. One implementation per socket type (`pair.rs`, `push.rs`, ...).
///
/// The socket calls these on its own thread, after applying the peer events in its mailbox.
pub(crate) trait Pattern: Send {
    /// A new peer: its handshake finished, or an inproc socket connected.
    fn attach(&mut self, peer: Peer);

    /// The far end of peer `id` went away. Stop sending to it; messages it sent before may
    /// still be read.
    fn detach(&mut self, id: PeerId);

    /// Peer `id` reconnected; its pipes survived, but what the far end knew of us is lost.
    fn hiccup(&mut self, id: PeerId) {
        let _ = id;
    }

    /// Forgets the peers that came through `endpoint_id` (unbind, disconnect).
    fn detach_endpoint(&mut self, endpoint_id: u64);

    /// The messages this socket type dropped so far, by reason (see [`Drops`]); the socket
    /// adds those dropped as too large.
    ///
    /// [`Drops`]: crate::monitor::Drops
    fn drops(&self) -> crate::monitor::Drops {
        crate::monitor::Drops::default()
    }

    /// Calls `f` with every peer (SNDHWM and RCVHWM apply to the peers the socket has).
    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer));

    /// Routes a message.
    fn send(&mut self, msg: Message) -> Result<(), Refused> {
        Err(Refused::Failed(Error::NotSupported, msg))
    }

    /// [`send`](Self::send) from the caller's place: `Ok(true)` when the message was taken
    /// (`msg` then holds something to drop), `Ok(false)` when it must wait (it stays in `msg`),
    /// `Err` when it cannot be sent (it stays in `msg`). The socket's send path uses this: a
    /// type that can move a message straight into a pipe saves copying it back and forth.
    #[inline]
    fn send_from(&mut self, msg: &mut Message) -> Result<bool, Error> {
        match self.send(std::mem::take(msg)) {
            Ok(()) => Ok(true),
            Err(Refused::Full(back)) => {
                *msg = back;
                Ok(false)
            }
            Err(Refused::Failed(error, back)) => {
                *msg = back;
                Err(error)
            }
        }
    }

    /// [`send_from`](Self::send_from) for a one-frame message holding a copy of `data`
    /// (`Socket::send_bytes`, and `zmq_send` in the C ABI): `Ok(true)` when it was taken,
    /// `Ok(false)` when it must wait, `Err` when it cannot be sent. PUSH, PAIR and DEALER copy
    /// the bytes straight into the pipe's slot; the default builds a message.
    #[inline]
    fn send_bytes(&mut self, data: &[u8]) -> Result<bool, Error> {
        self.send_from(&mut Message::from(data))
    }

    /// Whether receiving is allowed now: ENOTSUP for a type that never receives, EFSM for a
    /// REQ that has no request out or a REP that owes a reply. Checked once per receive call.
    fn check_recv(&self) -> Result<(), Error> {
        Err(Error::NotSupported)
    }

    /// The next message to deliver, if one is waiting ([`check_recv`](Self::check_recv)
    /// passed).
    fn recv(&mut self) -> Option<Message> {
        None
    }

    /// [`recv`](Self::recv) into `out` (dropping what it held); returns whether a message was
    /// waiting (when none was, what `out` holds is unspecified). The socket's receive path uses
    /// this: a type that can move a message straight from its pipe into `out` saves copying it
    /// through an `Option`.
    #[inline]
    fn recv_into(&mut self, out: &mut Message) -> bool {
        match self.recv() {
            Some(msg) => {
                *out = msg;
                true
            }
            None => false,
        }
    }

    /// Whether a message whose first frame is `first` could be sent now: the C API sends a
    /// message frame by frame, and libzmq decides at the first frame whether the message can
    /// go (it blocks there, or fails with `EAGAIN`, `EFSM` or `EHOSTUNREACH`), while the frames
    /// after it never wait. `Ok(true)`: it can go; `Ok(false)`: wait; `Err`: it cannot be sent.
    /// The default lets the whole message decide when it is complete; types that can block or
    /// refuse a message say so here.
    fn can_begin(&mut self, first: &[u8]) -> Result<bool, Error> {
        let _ = first;
        Ok(true)
    }

    /// Whether a send would succeed now (`ZMQ_POLLOUT`).
    fn can_send(&mut self) -> bool {
        false
    }

    /// Whether a receive would succeed now (`ZMQ_POLLIN`).
    fn can_recv(&mut self) -> bool {
        false
    }

    /// Sets an option of this socket type (libzmq's number; the value as `zmq_setsockopt`
    /// takes it: an `int` in native byte order, or bytes). `Invalid` when the type has no such
    /// option.
    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        let _ = (option, value);
        Err(Error::Invalid)
    }

    /// Reads an integer option of this socket type.
    fn option(&self, option: i32) -> Result<i32, Error> {
        let _ = option;
        Err(Error::Invalid)
    }

    /// The metadata of the connection the last message delivered came from (`None` for an
    /// inproc peer, or a type that does not track it).
    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        None
    }

    /// What ROUTING_ID reads, when the type has its own idea of it (STREAM: the routing id it
    /// generated last, as in libzmq); `None` reads the option as set.
    fn own_routing_id(&self) -> Option<bytes::Bytes> {
        None
    }

    /// Whether a peer is known by routing id `id` (ROUTER, REP): a CONNECT_ROUTING_ID that
    /// names one is refused.
    fn routing_id_in_use(&mut self, id: &[u8]) -> bool {
        let _ = id;
        false
    }
}

/// Reads an `int` option value as `zmq_setsockopt` passes it.
pub(crate) fn int_value(value: &[u8]) -> Result<i32, Error> {
    <[u8; 4]>::try_from(value)
        .map(i32::from_ne_bytes)
        .map_err(|_| Error::Invalid)
}

/// Reads a boolean option value (an `int`; any non-zero is true, as in libzmq).
pub(crate) fn bool_value(value: &[u8]) -> Result<bool, Error> {
    int_value(value).map(|v| v != 0)
}

/// Reads an on/off option of a socket type as libzmq does: an `int`, 0 is off, positive is
/// on, negative is invalid.
pub(crate) fn flag_value(value: &[u8]) -> Result<bool, Error> {
    match int_value(value)? {
        v if v < 0 => Err(Error::Invalid),
        v => Ok(v != 0),
    }
}

/// The integer options the publish-subscribe types answer: TOPICS_COUNT (`topics`) and
/// INVERT_MATCHING.
pub(crate) fn subscription_option(option: i32, topics: usize, invert: bool) -> Result<i32, Error> {
    match option {
        crate::options::number::TOPICS_COUNT => Ok(i32::try_from(topics).unwrap_or(i32::MAX)),
        crate::options::number::INVERT_MATCHING => Ok(i32::from(invert)),
        _ => Err(Error::Invalid),
    }
}

/// The pattern of a closed socket: no peers, nothing to send or receive.
pub(crate) struct Closed;

impl Pattern for Closed {
    fn attach(&mut self, _peer: Peer) {}
    fn detach(&mut self, _id: PeerId) {}
    fn detach_endpoint(&mut self, _endpoint_id: u64) {}
    fn for_each_peer(&mut self, _f: &mut dyn FnMut(&mut Peer)) {}
}
