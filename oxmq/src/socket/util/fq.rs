//! Fair queueing: messages are taken from the peers in turn, so one busy peer cannot starve the
//! others.

use super::Peer;
use crate::message::Message;

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

    pub(crate) fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.peers.retain(|peer| peer.endpoint_id != endpoint_id);
        self.next = 0;
    }

    /// The next message from the next peer that has one.
    #[inline]
    pub(crate) fn recv(&mut self) -> Option<Message> {
        let count = self.peers.len();
        let mut saw_finished = false;
        for i in 0..count {
            let index = (self.next + i) % count;
            let reader = &mut self.peers[index].reader;
            if let Some(msg) = reader.recv() {
                self.next = index + 1;
                return Some(msg);
            }
            saw_finished |= reader.is_finished();
        }
        if saw_finished {
            self.peers.retain_mut(|peer| !peer.reader.is_finished());
            self.next = 0;
        }
        None
    }

    /// Whether some peer has a message waiting.
    pub(crate) fn can_recv(&mut self) -> bool {
        self.peers.iter_mut().any(|peer| peer.reader.has_message())
    }
}
