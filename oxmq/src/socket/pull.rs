//! PULL: the receiving end of a pipeline (RFC 30). Messages are fair-queued from the connected
//! PUSH peers.

use super::fq::FairQueue;
use super::{Pattern, Peer};
use crate::message::Message;

#[derive(Default)]
pub(crate) struct Pull {
    fq: FairQueue,
}

impl Pattern for Pull {
    fn attach(&mut self, peer: Peer) {
        self.fq.attach(peer);
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.fq.detach_endpoint(endpoint_id);
    }

    fn can_recv_type(&self) -> bool {
        true
    }

    fn recv(&mut self) -> Option<Message> {
        self.fq.recv()
    }

    fn can_recv(&mut self) -> bool {
        self.fq.can_recv()
    }
}
