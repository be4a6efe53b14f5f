//! REQ: the client end of request-reply (RFC 28). Each request is load-balanced to one peer
//! with an empty delimiter frame in front; the reply is accepted only from that peer and only
//! with the delimiter, which is removed. Send and receive must alternate: anything else fails
//! with `EFSM`.
//!
//! REQ_CORRELATE puts a request id (four bytes, in native byte order as libzmq writes it) in
//! front of the delimiter and accepts only a reply that carries it back. REQ_RELAXED allows a
//! new request before the reply to the last one came; the late reply is then discarded.
//! Messages that are not the awaited reply are read and dropped, so no peer's pipe stalls.

use super::pattern::{Pattern, Refused, flag_value};
use super::util::duplex::Duplex;
use super::util::routing::random_u32;
use crate::error::Error;
use crate::message::{Frame, Message};
use crate::options::number;
use crate::pipe::{Peer, PeerId};

pub(crate) struct Req {
    peers: Duplex,
    /// A request went out and its reply has not been received.
    receiving_reply: bool,
    /// The peer the last request went to; `None` once it is gone (a reply is then taken from
    /// any peer, as in libzmq).
    reply_peer: Option<PeerId>,
    /// The id of the last request (REQ_CORRELATE).
    request_id: u32,
    /// REQ_CORRELATE.
    correlate: bool,
    /// Not REQ_RELAXED.
    strict: bool,
    /// PROBE_ROUTER: greet each new peer with an empty message.
    probe_router: bool,
}

impl Default for Req {
    fn default() -> Req {
        Req {
            peers: Duplex::default(),
            receiving_reply: false,
            reply_peer: None,
            request_id: random_u32(),
            correlate: false,
            strict: true,
            probe_router: false,
        }
    }
}

impl Req {
    /// Strips the envelope of the reply to the current request; `None` when `msg` is not it.
    fn open_reply(&self, mut msg: Message) -> Option<Message> {
        if self.correlate {
            if msg.first().as_bytes() != self.request_id.to_ne_bytes() {
                return None;
            }
            msg.pop_front()?;
        }
        if !msg.first().is_empty() {
            return None;
        }
        msg.pop_front()?;
        Some(msg)
    }
}

impl Pattern for Req {
    fn attach(&mut self, mut peer: Peer) {
        if self.probe_router {
            let _ = peer.send(Message::new());
        }
        self.peers.attach(peer);
    }

    fn detach(&mut self, id: PeerId) {
        if self.reply_peer == Some(id) {
            self.reply_peer = None;
        }
        self.peers.detach(id);
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.peers.detach_endpoint(endpoint_id);
        if self.reply_peer.is_some_and(|id| !self.peers.contains(id)) {
            self.reply_peer = None;
        }
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.peers.peers_mut().iter_mut().for_each(f);
    }

    fn send(&mut self, mut msg: Message) -> Result<(), Refused> {
        if self.receiving_reply {
            if self.strict {
                return Err(Refused::Failed(Error::InvalidState, msg));
            }
            self.receiving_reply = false;
        }
        // Whatever is waiting answers an earlier request: drop it, so that it cannot pass for
        // the reply to this one.
        while self.peers.recv().is_some() {}
        self.reply_peer = None;
        let id = self.request_id.wrapping_add(1);
        msg.push_front(Frame::empty());
        if self.correlate {
            msg.push_front(Frame::copy_from_slice(&id.to_ne_bytes()));
        }
        match self.peers.send(msg) {
            Ok(peer) => {
                self.reply_peer = Some(peer);
                self.request_id = id;
                self.receiving_reply = true;
                Ok(())
            }
            Err(mut back) => {
                back.pop_front();
                if self.correlate {
                    back.pop_front();
                }
                Err(Refused::Full(back))
            }
        }
    }

    fn check_recv(&self) -> Result<(), Error> {
        if !self.receiving_reply {
            return Err(Error::InvalidState);
        }
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        while let Some((peer, msg)) = self.peers.recv() {
            if self.reply_peer.is_some_and(|asked| asked != peer) {
                continue;
            }
            if let Some(reply) = self.open_reply(msg) {
                self.receiving_reply = false;
                return Some(reply);
            }
        }
        None
    }

    fn can_begin(&mut self, _first: &[u8]) -> Result<bool, Error> {
        if self.receiving_reply && self.strict {
            return Err(Error::InvalidState);
        }
        Ok(self.peers.can_send())
    }

    fn can_send(&mut self) -> bool {
        !(self.receiving_reply && self.strict) && self.peers.can_send()
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.peers.source.get()
    }

    fn can_recv(&mut self) -> bool {
        self.receiving_reply && self.peers.can_recv()
    }

    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        match option {
            number::REQ_CORRELATE => self.correlate = flag_value(value)?,
            number::REQ_RELAXED => self.strict = !flag_value(value)?,
            number::PROBE_ROUTER => self.probe_router = flag_value(value)?,
            _ => return Err(Error::Invalid),
        }
        Ok(())
    }
}
