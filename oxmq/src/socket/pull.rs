//! PULL: the receiving end of a pipeline (RFC 30). Messages are fair-queued from the connected
//! PUSH peers.

use super::pattern::Pattern;
use super::util::duplex::Duplex;
use crate::error::Error;
use crate::message::Message;
use crate::pipe::{Peer, PeerId};

#[derive(Default)]
pub(crate) struct Pull {
    peers: Duplex,
}

impl Pattern for Pull {
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

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.peers.source.get()
    }

    fn can_recv(&mut self) -> bool {
        self.peers.can_recv()
    }
}
