//! ROUTER: routing by identity (RFC 28). Each received message gets the sender's routing id as
//! a new first frame; each sent message names its destination by its first frame, which is
//! removed. `util::routing` tells how peers are named.
//!
//! A message for an unknown peer, or for one whose pipe is full, is dropped, unless
//! ROUTER_MANDATORY is set: then the send fails with `EHOSTUNREACH`, or waits (`EAGAIN` when it
//! may not) while the peer is full.

use super::pattern::{Pattern, Refused};
use super::util::routing::RoutingTable;
use crate::error::Error;
use crate::message::Message;
use crate::pipe::{Peer, PeerId};

#[derive(Default)]
pub(crate) struct Router {
    table: RoutingTable,
}

impl Pattern for Router {
    fn attach(&mut self, peer: Peer) {
        self.table.attach(peer);
    }

    fn detach(&mut self, id: PeerId) {
        self.table.detach(id);
    }

    fn drops(&self) -> crate::monitor::Drops {
        self.table.drops()
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.table.detach_endpoint(endpoint_id);
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.table.for_each_peer(f);
    }

    fn send(&mut self, msg: Message) -> Result<(), Refused> {
        self.table.send(msg)
    }

    fn check_recv(&self) -> Result<(), Error> {
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        self.table.recv()
    }

    #[inline]
    fn recv_into(&mut self, out: &mut Message) -> bool {
        self.table.recv_into(out)
    }

    fn can_begin(&mut self, first: &[u8]) -> Result<bool, Error> {
        self.table.can_begin(first)
    }

    fn can_send(&mut self) -> bool {
        // Without MANDATORY every send succeeds (or drops the message), as in libzmq.
        !self.table.mandatory || self.table.can_send_any()
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.table.source.get()
    }

    fn can_recv(&mut self) -> bool {
        self.table.can_recv()
    }

    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        self.table.set_option(option, value)
    }

    fn routing_id_in_use(&mut self, id: &[u8]) -> bool {
        self.table.contains(id)
    }
}
