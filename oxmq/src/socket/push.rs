//! PUSH: the sending end of a pipeline (RFC 30). Messages are load-balanced over the connected
//! PULL peers; when every peer is at its high-water mark, `send` blocks.

use super::lb::LoadBalancer;
use super::{Pattern, Peer};
use crate::message::Message;

#[derive(Default)]
pub(crate) struct Push {
    lb: LoadBalancer,
}

impl Pattern for Push {
    fn attach(&mut self, peer: Peer) {
        self.lb.attach(peer);
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.lb.detach_endpoint(endpoint_id);
    }

    fn can_send_type(&self) -> bool {
        true
    }

    fn send(&mut self, msg: Message, direct: bool) -> Result<(), Message> {
        self.lb.send(msg, direct)
    }

    fn can_send(&mut self) -> bool {
        self.lb.can_send()
    }
}
