//! PULL: the receiving end of a pipeline (RFC 30). Messages are fair-queued from the connected
//! PUSH peers.

use super::pattern::Pattern;
use super::util::fq::FairQueue;
use crate::error::Error;
use crate::message::Message;
use crate::pipe::{Peer, PeerId};

#[derive(Default)]
pub(crate) struct Pull {
    fq: FairQueue,
}

impl Pattern for Pull {
    fn attach(&mut self, peer: Peer) {
        self.fq.attach(peer);
    }

    fn detach(&mut self, id: PeerId) {
        self.fq.detach(id);
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.fq.detach_endpoint(endpoint_id);
    }

    fn recv(&mut self) -> Result<Option<Message>, Error> {
        Ok(self.fq.recv_data().map(|(_, msg)| msg))
    }

    fn can_recv(&mut self) -> bool {
        self.fq.can_recv()
    }
}
