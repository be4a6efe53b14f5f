//! DEALER: asynchronous requests and replies (RFC 28). Messages are load-balanced over the peers
//! that have room and fair-queued in from all of them, unchanged: a DEALER adds and removes no
//! envelope.

use super::pattern::{Pattern, Refused, flag_value};
use super::util::duplex::Duplex;
use crate::error::Error;
use crate::message::Message;
use crate::options::number;
use crate::pipe::{Peer, PeerId};

#[derive(Default)]
pub(crate) struct Dealer {
    peers: Duplex,
    /// PROBE_ROUTER: greet each new peer with an empty message.
    probe_router: bool,
}

impl Pattern for Dealer {
    fn attach(&mut self, mut peer: Peer) {
        if self.probe_router {
            let _ = peer.send(Message::new());
        }
        self.peers.attach(peer);
    }

    fn detach(&mut self, id: PeerId) {
        self.peers.detach(id);
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.peers.detach_endpoint(endpoint_id);
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.peers.peers_mut().iter_mut().for_each(f);
    }

    fn send(&mut self, msg: Message) -> Result<(), Refused> {
        self.peers.send(msg).map(drop).map_err(Refused::Full)
    }

    #[inline]
    fn send_from(&mut self, msg: &mut Message) -> Result<bool, Error> {
        Ok(self.peers.send_from(msg).is_some())
    }

    #[inline]
    fn send_bytes(&mut self, data: &[u8]) -> Result<bool, Error> {
        Ok(self.peers.send_bytes(data).is_some())
    }

    fn check_recv(&self) -> Result<(), Error> {
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        self.peers.recv().map(|(_, msg)| msg)
    }

    #[inline]
    fn recv_into(&mut self, out: &mut Message) -> bool {
        self.peers.recv_into(out).is_some()
    }

    fn can_begin(&mut self, _first: &[u8]) -> Result<bool, Error> {
        Ok(self.can_send())
    }

    fn can_send(&mut self) -> bool {
        self.peers.can_send()
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.peers.source.get()
    }

    fn can_recv(&mut self) -> bool {
        self.peers.can_recv()
    }

    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        match option {
            number::PROBE_ROUTER => self.probe_router = flag_value(value)?,
            _ => return Err(Error::Invalid),
        }
        Ok(())
    }
}
