//! PUSH: the sending end of a pipeline (RFC 30). Messages are load-balanced over the connected
//! PULL peers; when every peer is at its high-water mark, `send` blocks.

use super::pattern::{Pattern, Refused};
use super::util::duplex::Duplex;
use crate::error::Error;
use crate::message::Message;
use crate::pipe::{Peer, PeerId};

#[derive(Default)]
pub(crate) struct Push {
    peers: Duplex,
}

impl Pattern for Push {
    fn attach(&mut self, peer: Peer) {
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

    fn can_begin(&mut self, _first: &[u8]) -> Result<bool, Error> {
        Ok(self.can_send())
    }

    fn can_send(&mut self) -> bool {
        self.peers.can_send()
    }
}
