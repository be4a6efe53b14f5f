//! Fair queueing: messages are taken from the peers in turn, so one busy peer cannot starve the
//! others.

use crate::message::Message;
use crate::pipe::{Peer, PeerId};

/// Round-robin reads over the peers' receive pipes.
#[derive(Default)]
pub(crate) struct FairQueue {
    peers: Vec<Peer>,
    next: usize,
}

impl FairQueue {
    pub(crate) fn attach(&mut self, peer: Peer) {
        self.peers.push(peer);
    }

    /// The far end of a peer closed: it is forgotten once everything it sent has been read
    /// (right away if nothing is left).
    pub(crate) fn detach(&mut self, id: PeerId) {
        if let Some(index) = self.peers.iter().position(|peer| peer.id == id) {
            if self.peers[index].reader.is_finished() {
                self.remove(index);
            }
        }
    }

    fn remove(&mut self, index: usize) -> Peer {
        let peer = self.peers.remove(index);
        if self.next > index {
            self.next -= 1;
        }
        if self.next >= self.peers.len() {
            self.next = 0;
        }
        peer
    }

    /// Forgets the peers that came through `endpoint_id`.
    pub(crate) fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.peers.retain(|peer| peer.endpoint_id != endpoint_id);
        self.next = 0;
    }

    /// The peer with id `id`.
    #[allow(dead_code)] // the routing socket types, next
    pub(crate) fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|peer| peer.id == id)
    }

    /// The peers, in attach order.
    #[allow(dead_code)] // the routing socket types, next
    pub(crate) fn peers_mut(&mut self) -> &mut [Peer] {
        &mut self.peers
    }

    /// The next message from the next peer that has one, with that peer's id.
    #[inline]
    pub(crate) fn recv(&mut self) -> Option<(PeerId, Message)> {
        let count = self.peers.len();
        let mut saw_finished = false;
        for i in 0..count {
            let index = (self.next + i) % count;
            let peer = &mut self.peers[index];
            if let Some(msg) = peer.reader.recv() {
                self.next = index + 1;
                return Some((peer.id, msg));
            }
            saw_finished |= peer.reader.is_finished();
        }
        if saw_finished {
            self.peers.retain_mut(|peer| !peer.reader.is_finished());
            self.next = 0;
        }
        None
    }

    /// The next data message (control messages a socket type has no use for are dropped).
    #[inline]
    pub(crate) fn recv_data(&mut self) -> Option<(PeerId, Message)> {
        loop {
            let (id, msg) = self.recv()?;
            if msg.kind() == crate::message::Kind::Data {
                return Some((id, msg));
            }
        }
    }

    /// Whether some peer has a message waiting.
    pub(crate) fn can_recv(&mut self) -> bool {
        self.peers.iter_mut().any(|peer| peer.reader.has_message())
    }
}
