//! Load balancing: each message goes to the next peer, in turn, that has room for it.

use crate::message::Message;
use crate::pipe::{Peer, PeerId};

/// Round-robin over the peers whose pipes are below their high-water mark.
#[derive(Default)]
pub(crate) struct LoadBalancer {
    peers: Vec<Peer>,
    next: usize,
}

impl LoadBalancer {
    pub(crate) fn attach(&mut self, peer: Peer) {
        self.peers.push(peer);
    }

    /// Forgets a peer; returns it.
    pub(crate) fn detach(&mut self, id: PeerId) -> Option<Peer> {
        let index = self.peers.iter().position(|peer| peer.id == id)?;
        let peer = self.peers.remove(index);
        if self.next > index {
            self.next -= 1;
        }
        if self.next >= self.peers.len() {
            self.next = 0;
        }
        Some(peer)
    }

    /// Forgets the peers that came through `endpoint_id`.
    pub(crate) fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.peers.retain(|peer| peer.endpoint_id != endpoint_id);
        self.next = 0;
    }

    /// The peers, in attach order.
    #[allow(dead_code)] // the routing socket types, next
    pub(crate) fn peers_mut(&mut self) -> &mut [Peer] {
        &mut self.peers
    }

    /// Sends to the next peer with room, or hands the message back when none has any. Returns
    /// the id of the peer that took it.
    #[inline]
    pub(crate) fn send(&mut self, mut msg: Message) -> Result<PeerId, Message> {
        let count = self.peers.len();
        let mut saw_closed = false;
        for i in 0..count {
            let index = (self.next + i) % count;
            let peer = &mut self.peers[index];
            if peer.writer.is_closed() {
                saw_closed = true;
                continue;
            }
            match peer.send(msg) {
                Ok(()) => {
                    let id = peer.id;
                    self.next = index + 1;
                    if saw_closed {
                        self.prune();
                    }
                    return Ok(id);
                }
                Err(back) => msg = back,
            }
        }
        if saw_closed {
            self.prune();
        }
        Err(msg)
    }

    /// Whether some peer could take a message now.
    pub(crate) fn can_send(&mut self) -> bool {
        self.peers.iter_mut().any(|peer| peer.writer.can_write())
    }

    fn prune(&mut self) {
        self.peers.retain(|peer| !peer.writer.is_closed());
        if self.next >= self.peers.len() {
            self.next = 0;
        }
    }
}
