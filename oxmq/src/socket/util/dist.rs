//! Distribution: one message to many peers (PUB/XPUB fan-out, XSUB upstream).
//!
//! A round of [`Distributor::send_to_matched`] starts with [`Distributor::unmatch`], marks the
//! peers that should get the message ([`Distributor::mark`], idempotent, O(1) per call through
//! an id index), and then writes one copy to each of them. Copies share large bodies (they are
//! reference counted) and copy small inline frames. A peer at its high-water mark misses the
//! message; one slow peer never holds up the others.

use super::PeerMap;
use crate::message::Message;
use crate::pipe::{Peer, PeerId};

/// The peers a message is distributed to.
#[derive(Default)]
pub(crate) struct Distributor {
    peers: Vec<Peer>,
    /// Position of each peer in `peers`.
    index: PeerMap<usize>,
    /// `marks[i] == round`: peer `i` is matched in this round.
    marks: Vec<u64>,
    round: u64,
    /// Positions matched this round, in marking order.
    matched: Vec<usize>,
    /// Copies dropped because their peer was at its high-water mark.
    pub(crate) dropped: u64,
}

/// The outcome of a distribution.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Copies written.
    pub delivered: usize,
    /// Peers whose far end is gone (found while sending): forgotten already, reported so the
    /// socket can drop their state.
    pub closed: Vec<PeerId>,
}

impl Distributor {
    pub(crate) fn attach(&mut self, peer: Peer) {
        self.index.insert(peer.id, self.peers.len());
        self.peers.push(peer);
        self.marks.push(0);
    }

    /// Forgets a peer; returns it.
    pub(crate) fn detach(&mut self, id: PeerId) -> Option<Peer> {
        let position = self.index.remove(&id)?;
        let peer = self.peers.swap_remove(position);
        self.marks.swap_remove(position);
        if let Some(moved) = self.peers.get(position) {
            self.index.insert(moved.id, position);
        }
        // Positions changed: start the round over.
        self.unmatch();
        Some(peer)
    }

    /// The ids of the peers that came through `endpoint_id`.
    pub(crate) fn peers_of_endpoint(&self, endpoint_id: u64) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|peer| peer.endpoint_id == endpoint_id)
            .map(|peer| peer.id)
            .collect()
    }

    /// The peer with id `id`.
    pub(crate) fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        let position = *self.index.get(&id)?;
        self.peers.get_mut(position)
    }

    /// All peers.
    pub(crate) fn peers_mut(&mut self) -> &mut [Peer] {
        &mut self.peers
    }

    /// Starts a new round: no peer is matched.
    #[inline]
    pub(crate) fn unmatch(&mut self) {
        self.round += 1;
        self.matched.clear();
    }

    /// Matches peer `id` for this round (again is a no-op; unknown ids are ignored).
    #[inline]
    pub(crate) fn mark(&mut self, id: PeerId) {
        if let Some(&position) = self.index.get(&id) {
            if self.marks[position] != self.round {
                self.marks[position] = self.round;
                self.matched.push(position);
            }
        }
    }

    /// Matches every peer.
    pub(crate) fn mark_all(&mut self) {
        self.unmatch();
        self.matched.extend(0..self.peers.len());
        let round = self.round;
        self.marks.iter_mut().for_each(|mark| *mark = round);
    }

    /// Matches exactly the peers that are not matched now (INVERT_MATCHING).
    pub(crate) fn invert(&mut self) {
        let old = self.round;
        self.round += 1;
        self.matched.clear();
        for (position, mark) in self.marks.iter_mut().enumerate() {
            if *mark != old {
                *mark = self.round;
                self.matched.push(position);
            }
        }
    }

    /// Whether every matched peer has room for one more message (XPUB_NODROP).
    pub(crate) fn matched_have_room(&mut self) -> bool {
        let peers = &mut self.peers;
        self.matched.iter().all(|&position| {
            peers[position].writer.can_write() || peers[position].writer.is_closed()
        })
    }

    /// Writes a copy of `msg` to every matched peer with room. Peers found closed are forgotten
    /// and reported.
    pub(crate) fn send_to_matched(&mut self, msg: Message) -> Sent {
        let mut sent = Sent::default();
        let Some((&last, rest)) = self.matched.split_last() else {
            return sent;
        };
        for &position in rest {
            self.dropped += Self::write(&mut self.peers[position], msg.clone(), &mut sent);
        }
        self.dropped += Self::write(&mut self.peers[last], msg, &mut sent);
        for id in &sent.closed {
            self.detach(*id);
        }
        sent
    }

    /// Writes a copy of `msg` to every peer with room.
    pub(crate) fn send_to_all(&mut self, msg: Message) -> Sent {
        self.mark_all();
        self.send_to_matched(msg)
    }

    /// Writes `msg` to `peer`; returns 1 when it was dropped at the peer's high-water mark.
    #[inline]
    fn write(peer: &mut Peer, msg: Message, sent: &mut Sent) -> u64 {
        if peer.writer.is_closed() {
            sent.closed.push(peer.id);
        } else if peer.writer.send(msg).is_ok() {
            sent.delivered += 1;
        } else {
            peer.dropped += 1;
            return 1;
        }
        0
    }
}
