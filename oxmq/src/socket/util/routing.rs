//! Routing by identity: the table behind ROUTER and REP (RFC 28).
//!
//! Every peer gets a routing id, unique among the socket's peers:
//!
//! * the one the socket assigned it (CONNECT_ROUTING_ID on the `connect()` that made it);
//! * else the peer's own (`Identity` from its READY, or its ROUTING_ID over inproc) when that is
//!   not empty;
//! * else a generated one: five bytes, a zero then a 32-bit big-endian counter that starts at a
//!   random value, as libzmq does.
//!
//! A peer whose routing id is unknown when it attaches (a connect made before the handshake)
//! stays anonymous until its first message, the id sent in-band
//! ([`Kind::RoutingId`]), is read. Routing ids that arrive later for a known peer (after a
//! reconnect) are skipped: the peer keeps its first id, as in libzmq.
//!
//! A peer that claims an id already in use is dropped (its connection is closed), unless
//! ROUTER_HANDOVER is on: then it takes the id over and the peer that held it is dropped.
//!
//! Incoming messages are fair-queued over the peers and delivered with the sender's routing id
//! as a new first frame; outgoing messages name their destination the same way. Sending is one
//! hash lookup.

use std::collections::HashMap;

use bytes::Bytes;

use super::PeerMap;
use crate::error::Error;
use crate::message::{Frame, Kind, Message};
use crate::options::number;
use crate::pipe::{LastSource, Peer, PeerId};
use crate::socket::pattern::{Refused, flag_value};

/// A random 32-bit value (for counters that libzmq starts at a random point).
pub(crate) fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // Each `RandomState` has fresh random keys, so even the hash of nothing differs each time.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as u32
}

/// libzmq's generated routing ids: five bytes, a zero then a 32-bit big-endian counter that
/// starts at a random value. The leading zero keeps them apart from ids that peers choose
/// (RFC 37 reserves ids starting with a zero byte).
pub(crate) struct IdGenerator {
    next: u32,
}

impl Default for IdGenerator {
    fn default() -> IdGenerator {
        IdGenerator { next: random_u32() }
    }
}

impl IdGenerator {
    /// The next id.
    pub(crate) fn next_id(&mut self) -> Bytes {
        let mut id = [0u8; 5];
        id[1..].copy_from_slice(&self.next.to_be_bytes());
        self.next = self.next.wrapping_add(1);
        Bytes::copy_from_slice(&id)
    }
}

struct Entry {
    peer: Peer,
    /// `None` while the peer is anonymous.
    /// As a frame: pushing it in front of each received message copies a few bytes and
    /// touches no reference count.
    routing_id: Option<Frame>,
    /// Its far end went away: its id is free again, its remaining messages are still read.
    detached: bool,
    /// A data message read while looking for the peer's routing id (see `take_routing_id`).
    held: Option<Message>,
}

/// What one look at a peer's pipe gave.
enum Read {
    /// A message is in the caller's place.
    Message,
    Empty,
    /// The peer was removed from the table (gone, or a duplicate).
    Removed,
}

/// The peers of a ROUTER or REP by routing id, with fair-queued receiving.
#[derive(Default)]
pub(crate) struct RoutingTable {
    /// Where the last message delivered came from.
    pub(crate) source: LastSource,
    peers: PeerMap<Entry>,
    /// Fair-queueing order.
    order: Vec<PeerId>,
    next: usize,
    /// Routing id to peer, for the peers that are identified and attached.
    ids: HashMap<Bytes, PeerId>,
    /// How many peers are anonymous.
    anonymous: usize,
    generator: IdGenerator,
    /// A message read ahead (by `can_recv`), routing id in front.
    prefetched: Option<Message>,
    /// ROUTER_HANDOVER.
    pub handover: bool,
    /// ROUTER_MANDATORY: an unroutable message fails instead of being dropped.
    pub mandatory: bool,
    /// PROBE_ROUTER: greet each new peer with an empty message.
    pub probe_router: bool,
    /// Messages dropped, by reason (see `monitor::Drops`).
    pub dropped_hwm: u64,
    pub no_route: u64,
    pub unroutable: u64,
}

impl RoutingTable {
    /// Sets ROUTER_MANDATORY, ROUTER_HANDOVER or PROBE_ROUTER (the options ROUTER and REP share).
    pub(crate) fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        let flag = flag_value(value);
        match option {
            number::ROUTER_MANDATORY => self.mandatory = flag?,
            number::ROUTER_HANDOVER => self.handover = flag?,
            number::PROBE_ROUTER => self.probe_router = flag?,
            _ => return Err(Error::Invalid),
        }
        Ok(())
    }

    /// Adds a peer, and names it if its routing id is known.
    pub(crate) fn attach(&mut self, mut peer: Peer) {
        if self.probe_router {
            let _ = peer.send(Message::new());
        }
        let id = peer.id;
        let known = peer.assigned_id.clone().or_else(|| peer.routing_id.clone());
        self.peers.insert(
            id,
            Entry {
                peer,
                routing_id: None,
                detached: false,
                held: None,
            },
        );
        self.order.push(id);
        self.anonymous += 1;
        if let Some(known) = known {
            self.identify(id, &known);
        }
    }

    /// The far end of peer `id` went away: its routing id is free at once (a reconnecting peer
    /// can take it back); what it sent is still delivered.
    pub(crate) fn detach(&mut self, id: PeerId) {
        let Some(entry) = self.peers.get_mut(&id) else {
            return;
        };
        entry.detached = true;
        if let Some(routing_id) = &entry.routing_id {
            if self.ids.get(routing_id.as_bytes()) == Some(&id) {
                self.ids.remove(routing_id.as_bytes());
            }
        }
        if entry.peer.reader.is_finished() {
            self.remove(id);
        }
    }

    /// Calls `f` with every peer.
    pub(crate) fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        for entry in self.peers.values_mut() {
            f(&mut entry.peer);
        }
    }

    /// Forgets the peers that came through `endpoint_id`.
    pub(crate) fn detach_endpoint(&mut self, endpoint_id: u64) {
        let ids: Vec<PeerId> = self
            .peers
            .values()
            .filter(|entry| entry.peer.endpoint_id == endpoint_id)
            .map(|entry| entry.peer.id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    /// The messages dropped so far, by reason.
    pub(crate) fn drops(&self) -> crate::monitor::Drops {
        crate::monitor::Drops {
            high_water_mark: self.dropped_hwm,
            no_route: self.no_route,
            unroutable: self.unroutable,
            ..Default::default()
        }
    }

    /// Whether an attached peer is named `routing_id`.
    pub(crate) fn contains(&mut self, routing_id: &[u8]) -> bool {
        self.lookup(routing_id).is_some()
    }

    /// Sends `msg` to the peer its first frame names. Without `mandatory`, a message for an
    /// unknown peer or a full one is dropped; with it, they give `HostUnreachable` and `Full`.
    /// A message of one frame names a peer but carries nothing: it is dropped.
    pub(crate) fn send(&mut self, mut msg: Message) -> Result<(), Refused> {
        let mandatory = self.mandatory;
        let Some(routing_id) = msg.pop_front() else {
            self.unroutable += 1;
            return Ok(());
        };
        let Some(id) = self.lookup(&routing_id) else {
            return if mandatory {
                msg.push_front(routing_id);
                Err(Refused::Failed(Error::HostUnreachable, msg))
            } else {
                self.no_route += 1;
                Ok(())
            };
        };
        let entry = self.peers.get_mut(&id).expect("routing ids map to peers");
        match entry.peer.send(msg) {
            Ok(()) => Ok(()),
            Err(mut back) if mandatory => {
                let closed = entry.peer.writer.is_closed();
                back.push_front(routing_id);
                if closed {
                    Err(Refused::Failed(Error::HostUnreachable, back))
                } else {
                    Err(Refused::Full(back))
                }
            }
            Err(_) if entry.peer.writer.is_closed() => {
                self.no_route += 1;
                Ok(())
            }
            Err(_) => {
                entry.peer.dropped += 1;
                self.dropped_hwm += 1;
                Ok(())
            }
        }
    }

    /// Whether a message for `routing_id` could be sent now (see `Pattern::can_begin`): without
    /// MANDATORY always (a message for an unknown or full peer is dropped); with it, an unknown
    /// or closed peer is `HostUnreachable` and a full one must wait.
    pub(crate) fn can_begin(&mut self, routing_id: &[u8]) -> Result<bool, Error> {
        if !self.mandatory {
            return Ok(true);
        }
        let Some(id) = self.lookup(routing_id) else {
            return Err(Error::HostUnreachable);
        };
        let writer = &mut self
            .peers
            .get_mut(&id)
            .expect("routing ids map to peers")
            .peer
            .writer;
        if writer.is_closed() {
            Err(Error::HostUnreachable)
        } else {
            Ok(writer.can_write())
        }
    }

    /// Whether some named peer could take a message now.
    pub(crate) fn can_send_any(&mut self) -> bool {
        let peers = &mut self.peers;
        self.ids.values().any(|id| {
            peers
                .get_mut(id)
                .is_some_and(|entry| entry.peer.writer.can_write())
        })
    }

    /// The next message, with its sender's routing id as the first frame.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        let mut msg = Message::new();
        self.recv_into(&mut msg).then_some(msg)
    }

    /// [`recv`](Self::recv) into `out` (see `Pattern::recv_into`): returns whether there was a
    /// message.
    #[inline]
    pub(crate) fn recv_into(&mut self, out: &mut Message) -> bool {
        if let Some(msg) = self.prefetched.take() {
            *out = msg;
            return true;
        }
        self.read_next(out)
    }

    /// Whether a message is waiting (reads it ahead).
    pub(crate) fn can_recv(&mut self) -> bool {
        if self.prefetched.is_none() {
            let mut msg = Message::new();
            self.prefetched = self.read_next(&mut msg).then_some(msg);
        }
        self.prefetched.is_some()
    }

    /// The peer named `routing_id`, identifying anonymous peers whose ids have come in first
    /// if it is not known yet.
    fn lookup(&mut self, routing_id: &[u8]) -> Option<PeerId> {
        if let Some(id) = self.ids.get(routing_id) {
            return Some(*id);
        }
        if self.anonymous > 0 {
            self.identify_waiting();
            return self.ids.get(routing_id).copied();
        }
        None
    }

    /// Reads the in-band routing ids that anonymous peers have sent.
    fn identify_waiting(&mut self) {
        let anonymous: Vec<PeerId> = self
            .peers
            .values()
            .filter(|entry| entry.routing_id.is_none())
            .map(|entry| entry.peer.id)
            .collect();
        for id in anonymous {
            self.take_routing_id(id);
        }
    }

    /// Names anonymous peer `id` if its routing id has arrived; reads nothing else.
    fn take_routing_id(&mut self, id: PeerId) {
        loop {
            let Some(entry) = self.peers.get_mut(&id) else {
                return;
            };
            if entry.routing_id.is_some() {
                return;
            }
            let Some(msg) = entry.peer.reader.recv() else {
                return;
            };
            match msg.kind() {
                Kind::RoutingId => {
                    self.identify(id, msg.first());
                    return;
                }
                Kind::Data => {
                    // The pipe protocol puts the id first; name the peer anyway, and keep the
                    // message for `recv`.
                    entry.held = Some(msg);
                    self.identify(id, &[]);
                    return;
                }
                _ => {}
            }
        }
    }

    /// Fair-queues over the peers.
    fn read_next(&mut self, out: &mut Message) -> bool {
        let mut tried = 0;
        while tried < self.order.len() {
            let index = self.next % self.order.len();
            match self.read_from(self.order[index], out) {
                Read::Message => {
                    self.next = index + 1;
                    return true;
                }
                Read::Empty => {
                    self.next = index + 1;
                    tried += 1;
                }
                // The entry at `index` is gone: the next peer moved into its place.
                Read::Removed => self.next = index,
            }
        }
        false
    }

    /// Reads peer `id`'s next data message into `out`, identifying the peer on the way if it is
    /// anonymous.
    fn read_from(&mut self, id: PeerId, out: &mut Message) -> Read {
        loop {
            let Some(entry) = self.peers.get_mut(&id) else {
                return Read::Removed;
            };
            let got = match entry.held.take() {
                Some(held) => {
                    *out = held;
                    true
                }
                None => entry.peer.reader.recv_into(out),
            };
            if !got {
                if entry.peer.is_gone() || entry.detached && entry.peer.reader.is_finished() {
                    self.remove(id);
                    return Read::Removed;
                }
                return Read::Empty;
            }
            match (&entry.routing_id, out.kind()) {
                (Some(routing_id), Kind::Data) => {
                    out.push_front(routing_id.clone());
                    self.source.note(&entry.peer.reader);
                    return Read::Message;
                }
                (None, Kind::RoutingId) => {
                    let kept = self.identify(id, out.first());
                    if !kept {
                        return Read::Removed;
                    }
                }
                (None, Kind::Data) => {
                    // The pipe protocol puts the id first; name the peer anyway.
                    if !self.identify(id, &[]) {
                        return Read::Removed;
                    }
                    let entry = self.peers.get(&id).expect("identified above");
                    let routing_id = entry.routing_id.clone().expect("identified above");
                    out.push_front(routing_id);
                    return Read::Message;
                }
                // Routing ids after a reconnect, and control messages with no meaning here.
                _ => {}
            }
        }
    }

    /// Names peer `id` (an empty `own` id gets a generated one). Returns `false` when the peer
    /// was dropped as a duplicate.
    fn identify(&mut self, id: PeerId, own: &[u8]) -> bool {
        let routing_id = if own.is_empty() {
            self.generate()
        } else {
            Bytes::copy_from_slice(own)
        };
        let detached = self.peers.get(&id).is_some_and(|entry| entry.detached);
        if !detached {
            if let Some(&holder) = self.ids.get(&routing_id) {
                if holder != id {
                    if !self.handover {
                        tracing::debug!("oxmq: a peer's routing id is in use: peer dropped");
                        drop(self.remove(id));
                        return false;
                    }
                    drop(self.remove(holder));
                }
            }
            self.ids.insert(routing_id.clone(), id);
        }
        if let Some(entry) = self.peers.get_mut(&id) {
            if entry.routing_id.is_none() {
                self.anonymous -= 1;
            }
            entry.routing_id = Some(Frame::from(routing_id));
        }
        true
    }

    /// A fresh generated routing id, not in use.
    fn generate(&mut self) -> Bytes {
        loop {
            let id = self.generator.next_id();
            if !self.ids.contains_key(&id) {
                return id;
            }
        }
    }

    /// Removes peer `id`; dropping the returned peer closes its pipes.
    fn remove(&mut self, id: PeerId) -> Option<Peer> {
        let entry = self.peers.remove(&id)?;
        match &entry.routing_id {
            Some(routing_id) => {
                if self.ids.get(routing_id.as_bytes()) == Some(&id) {
                    self.ids.remove(routing_id.as_bytes());
                }
            }
            None => self.anonymous -= 1,
        }
        if let Some(index) = self.order.iter().position(|&p| p == id) {
            self.order.remove(index);
            if self.next > index {
                self.next -= 1;
            }
        }
        Some(entry.peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_five_bytes_with_a_leading_zero_and_count_up() {
        let mut ids = IdGenerator::default();
        let a = ids.next_id();
        let b = ids.next_id();
        assert_eq!(a.len(), 5);
        assert_eq!(a[0], 0);
        let n = |id: &Bytes| u32::from_be_bytes(id[1..].try_into().unwrap());
        assert_eq!(n(&b), n(&a).wrapping_add(1));
    }
}
