//! PAIR: an exclusive connection to exactly one peer (RFC 31). A second peer is refused: its
//! pipes are closed as soon as it attaches, as libzmq does.

use super::{Pattern, Peer};
use crate::message::Message;

#[derive(Default)]
pub(crate) struct Pair {
    peer: Option<Peer>,
}

impl Pair {
    /// Forgets the peer once both directions are gone.
    fn prune(&mut self) {
        if let Some(peer) = self.peer.as_mut() {
            if peer.writer.is_closed() && peer.reader.is_finished() {
                self.peer = None;
            }
        }
    }
}

impl Pattern for Pair {
    fn attach(&mut self, peer: Peer) {
        self.prune();
        if self.peer.is_none() {
            self.peer = Some(peer);
        }
        // Otherwise `peer` is dropped here, which closes its pipes and so its connection.
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        if self
            .peer
            .as_ref()
            .is_some_and(|peer| peer.endpoint_id == endpoint_id)
        {
            self.peer = None;
        }
    }

    fn can_send_type(&self) -> bool {
        true
    }

    fn can_recv_type(&self) -> bool {
        true
    }

    fn send(&mut self, msg: Message, direct: bool) -> Result<(), Message> {
        match self.peer.as_mut() {
            Some(peer) => {
                let result = peer.send(msg, direct);
                if result.is_err() {
                    self.prune();
                }
                result
            }
            None => Err(msg),
        }
    }

    fn recv(&mut self) -> Option<Message> {
        let peer = self.peer.as_mut()?;
        let msg = peer.reader.recv();
        if msg.is_none() {
            self.prune();
        }
        msg
    }

    fn can_send(&mut self) -> bool {
        self.peer
            .as_mut()
            .is_some_and(|peer| peer.writer.can_write())
    }

    fn can_recv(&mut self) -> bool {
        self.peer
            .as_mut()
            .is_some_and(|peer| peer.reader.has_message())
    }
}
