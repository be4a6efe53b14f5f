//! Load balancing out and fair queueing in over one set of peers (PUSH, PULL, DEALER, REQ).
//!
//! Each message goes to the next peer, in turn, that has room for it; messages are taken from
//! the peers in turn, so one busy peer cannot starve the others.

use crate::message::{Kind, Message};
use crate::pipe::{LastSource, Peer, PeerId};

/// Sends round-robin to the peers with room, reads round-robin from the peers with messages.
///
/// A peer whose far end went away takes no more messages; it is forgotten once what it sent
/// has been read.
#[derive(Default)]
pub(crate) struct Duplex {
    peers: Vec<Peer>,
    /// Where the last message delivered came from.
    pub(crate) source: LastSource,
    next_out: usize,
    next_in: usize,
}

impl Duplex {
    pub(crate) fn attach(&mut self, peer: Peer) {
        self.peers.push(peer);
    }

    /// The far end of peer `id` went away.
    pub(crate) fn detach(&mut self, id: PeerId) {
        if let Some(index) = self.peers.iter().position(|peer| peer.id == id) {
            if self.peers[index].reader.is_finished() {
                self.remove(index);
            }
        }
    }

    /// Forgets the peers that came through `endpoint_id`.
    pub(crate) fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.peers.retain(|peer| peer.endpoint_id != endpoint_id);
        self.next_out = 0;
        self.next_in = 0;
    }

    /// The peers.
    pub(crate) fn peers_mut(&mut self) -> &mut [Peer] {
        &mut self.peers
    }

    /// Whether peer `id` is still here.
    pub(crate) fn contains(&self, id: PeerId) -> bool {
        self.peers.iter().any(|peer| peer.id == id)
    }

    fn remove(&mut self, index: usize) {
        self.peers.remove(index);
        for next in [&mut self.next_out, &mut self.next_in] {
            if *next > index {
                *next -= 1;
            }
            if *next >= self.peers.len() {
                *next = 0;
            }
        }
    }

    /// Forgets the peers that are gone for good.
    fn prune(&mut self) {
        let mut index = 0;
        while index < self.peers.len() {
            if self.peers[index].is_gone() {
                self.remove(index);
            } else {
                index += 1;
            }
        }
    }

    /// Sends to the next peer with room, or hands the message back when none has any. Returns
    /// the id of the peer that took it.
    #[inline]
    pub(crate) fn send(&mut self, msg: Message) -> Result<PeerId, Message> {
        let mut msg = msg;
        self.send_from(&mut msg).ok_or(msg)
    }

    /// [`send`](Self::send) from the caller's place: when a peer takes the message, its id is
    /// returned and `msg` holds something to drop; when none has room, the message stays in
    /// `msg`.
    #[inline]
    pub(crate) fn send_from(&mut self, msg: &mut Message) -> Option<PeerId> {
        self.send_with(|peer| peer.send_from(msg))
    }

    /// Sends a one-frame message holding a copy of `data` to the next peer with room (see
    /// [`Peer::send_bytes`]). Returns the id of the peer that took it.
    #[inline]
    pub(crate) fn send_bytes(&mut self, data: &[u8]) -> Option<PeerId> {
        self.send_with(|peer| peer.send_bytes(data))
    }

    /// Offers a message to the peers in turn, from the next one out, through `send` (which
    /// says whether the peer took it), until one takes it.
    #[inline(always)]
    fn send_with(&mut self, mut send: impl FnMut(&mut Peer) -> bool) -> Option<PeerId> {
        let count = self.peers.len();
        let mut saw_closed = false;
        let mut index = self.next_out;
        let mut sent = None;
        for _ in 0..count {
            if index >= count {
                index = 0;
            }
            let peer = &mut self.peers[index];
            if peer.writer.is_closed() {
                saw_closed = true;
            } else if send(peer) {
                sent = Some(peer.id);
                self.next_out = index + 1;
                break;
            }
            index += 1;
        }
        if saw_closed {
            self.prune();
        }
        sent
    }

    /// Whether some peer could take a message now.
    pub(crate) fn can_send(&mut self) -> bool {
        self.peers.iter_mut().any(|peer| peer.writer.can_write())
    }

    /// The next data message from the next peer that has one, with that peer's id. Control
    /// messages (which these socket types have no use for) are dropped.
    #[inline]
    pub(crate) fn recv(&mut self) -> Option<(PeerId, Message)> {
        let mut msg = Message::new();
        let id = self.recv_into(&mut msg)?;
        Some((id, msg))
    }

    /// [`recv`](Self::recv) into `out` (see `Pattern::recv_into`): returns the id of the peer
    /// that sent the message, if there was one.
    #[inline]
    pub(crate) fn recv_into(&mut self, out: &mut Message) -> Option<PeerId> {
        let count = self.peers.len();
        let mut saw_finished = false;
        let mut index = self.next_in;
        for _ in 0..count {
            if index >= count {
                index = 0;
            }
            let peer = &mut self.peers[index];
            while peer.reader.recv_into(out) {
                if out.kind() == Kind::Data {
                    self.next_in = index + 1;
                    self.source.note(&peer.reader);
                    return Some(peer.id);
                }
            }
            saw_finished |= peer.reader.is_finished();
            index += 1;
        }
        if saw_finished {
            self.prune();
        }
        None
    }

    /// Whether some peer has a message waiting.
    pub(crate) fn can_recv(&mut self) -> bool {
        self.peers.iter_mut().any(|peer| peer.reader.has_data())
    }
}
