//! PAIR: an exclusive connection to exactly one peer (RFC 31). A second peer is refused: its
//! pipes are closed as soon as it attaches, as libzmq does.

use super::pattern::{Pattern, Refused};
use crate::error::Error;
use crate::message::{Kind, Message};
use crate::pipe::{LastSource, Peer, PeerId};

#[derive(Default)]
pub(crate) struct Pair {
    peer: Option<Peer>,
    source: LastSource,
}

impl Pair {
    /// Forgets the peer once both directions are gone.
    fn prune(&mut self) {
        if self.peer.as_mut().is_some_and(Peer::is_gone) {
            self.peer = None;
        }
    }

    /// Offers a message to the peer through `send` (which says whether the peer took it);
    /// when it did not, forgets a peer that is gone.
    #[inline(always)]
    fn send_with(&mut self, send: impl FnOnce(&mut Peer) -> bool) -> bool {
        let Some(peer) = self.peer.as_mut() else {
            return false;
        };
        if send(peer) {
            return true;
        }
        self.prune();
        false
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

    fn detach(&mut self, id: PeerId) {
        if self.peer.as_ref().is_some_and(|peer| peer.id == id) {
            self.prune();
        }
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

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.peer.iter_mut().for_each(f);
    }

    fn send(&mut self, msg: Message) -> Result<(), Refused> {
        let mut msg = msg;
        match self.send_from(&mut msg) {
            Ok(true) => Ok(()),
            _ => Err(Refused::Full(msg)),
        }
    }

    #[inline]
    fn send_from(&mut self, msg: &mut Message) -> Result<bool, Error> {
        Ok(self.send_with(|peer| peer.send_from(msg)))
    }

    #[inline]
    fn send_bytes(&mut self, data: &[u8]) -> Result<bool, Error> {
        Ok(self.send_with(|peer| peer.send_bytes(data)))
    }

    fn check_recv(&self) -> Result<(), Error> {
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        let mut msg = Message::new();
        self.recv_into(&mut msg).then_some(msg)
    }

    #[inline]
    fn recv_into(&mut self, out: &mut Message) -> bool {
        let Some(peer) = self.peer.as_mut() else {
            return false;
        };
        while peer.reader.recv_into(out) {
            if out.kind() == Kind::Data {
                self.source.note(&peer.reader);
                return true;
            }
        }
        self.prune();
        false
    }

    fn can_begin(&mut self, _first: &[u8]) -> Result<bool, Error> {
        Ok(self.can_send())
    }

    fn can_send(&mut self) -> bool {
        self.peer
            .as_mut()
            .is_some_and(|peer| peer.writer.can_write())
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.source.get()
    }

    fn can_recv(&mut self) -> bool {
        self.peer
            .as_mut()
            .is_some_and(|peer| peer.reader.has_data())
    }
}
