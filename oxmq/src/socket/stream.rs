//! STREAM: raw TCP (or ipc) behind a routing-id frame, for talking to peers that do not speak
//! ZMTP (HTTP clients, telnet, a custom protocol).
//!
//! Every connection gets a routing id: the one CONNECT_ROUTING_ID gave its `connect()`, or a
//! generated five-byte one. A received message is two frames:
//! the routing id, then the bytes of one read. A message to send is the routing id, then the
//! bytes to write; an empty second frame closes that connection instead. With STREAM_NOTIFY (the
//! default) an empty message after the routing id tells when a connection is made and when it
//! is lost. Sending to an unknown routing id fails with [`Error::HostUnreachable`].

use bytes::Bytes;
use std::collections::HashMap;

use super::pattern::{Pattern, Refused};
use super::util::PeerMap;
use super::util::routing::IdGenerator;
use crate::error::Error;
use crate::message::{Kind, Message};
use crate::pipe::{LastSource, Peer, PeerId};

#[derive(Default)]
pub(crate) struct Stream {
    /// Every connection, read in turn.
    peers: Vec<Peer>,
    next: usize,
    routing_ids: PeerMap<Bytes>,
    /// Connections that can be written to.
    by_routing_id: HashMap<Bytes, PeerId>,
    generator: IdGenerator,
    /// Where the last message delivered came from.
    source: LastSource,
    /// The routing id generated last: libzmq's STREAM reports it as its own ROUTING_ID, and
    /// programs read it there to learn the id of the connection they just made.
    last_generated: Option<Bytes>,
}

impl Stream {
    fn remove(&mut self, position: usize) {
        let peer = self.peers.remove(position);
        if let Some(routing_id) = self.routing_ids.remove(&peer.id) {
            if self.by_routing_id.get(&routing_id) == Some(&peer.id) {
                self.by_routing_id.remove(&routing_id);
            }
        }
        if self.next > position {
            self.next -= 1;
        }
        if self.next >= self.peers.len() {
            self.next = 0;
        }
    }

    fn position(&self, id: PeerId) -> Option<usize> {
        self.peers.iter().position(|peer| peer.id == id)
    }

    /// The position of the connection that can be written to under `routing_id`.
    fn target(&self, routing_id: &[u8]) -> Option<usize> {
        self.by_routing_id
            .get(routing_id)
            .and_then(|&id| self.position(id))
    }
}

impl Pattern for Stream {
    fn attach(&mut self, peer: Peer) {
        // CONNECT_ROUTING_ID names the connection; else a generated id (never one in use).
        let routing_id = match peer.assigned_id.clone() {
            Some(id) if !self.by_routing_id.contains_key(&id) => id,
            _ => loop {
                let id = self.generator.next_id();
                if !self.by_routing_id.contains_key(&id) {
                    self.last_generated = Some(id.clone());
                    break id;
                }
            },
        };
        self.routing_ids.insert(peer.id, routing_id.clone());
        self.by_routing_id.insert(routing_id, peer.id);
        self.peers.push(peer);
    }

    fn detach(&mut self, id: PeerId) {
        // No more writes to it; what it sent (and the disconnect notification) is still read.
        if let Some(routing_id) = self.routing_ids.get(&id) {
            self.by_routing_id.remove(routing_id);
        }
        if let Some(position) = self.position(id) {
            if self.peers[position].reader.is_finished() {
                self.remove(position);
            }
        }
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        while let Some(position) = self.peers.iter().position(|p| p.endpoint_id == endpoint_id) {
            self.remove(position);
        }
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.peers.iter_mut().for_each(f);
    }

    fn send(&mut self, mut msg: Message) -> Result<(), Refused> {
        let Some(routing_id) = msg.pop_front() else {
            // Only a routing id: nothing to write.
            return Ok(());
        };
        let Some(position) = self.target(routing_id.as_bytes()) else {
            msg.push_front(routing_id);
            return Err(Refused::Failed(Error::HostUnreachable, msg));
        };
        if msg.len() == 1 && msg.first().is_empty() {
            // An empty frame closes the connection: dropping the peer closes its pipes, and the
            // session closes the connection once what was queued before is written.
            self.remove(position);
            return Ok(());
        }
        match self.peers[position].send(msg) {
            Ok(()) => Ok(()),
            Err(mut back) => {
                back.push_front(routing_id);
                Err(Refused::Full(back))
            }
        }
    }

    fn check_recv(&self) -> Result<(), Error> {
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        loop {
            let count = self.peers.len();
            let mut finished = None;
            let mut found = None;
            for i in 0..count {
                let position = (self.next + i) % count;
                let peer = &mut self.peers[position];
                if let Some(msg) = peer.reader.recv() {
                    self.next = position + 1;
                    if msg.kind() == Kind::Data {
                        self.source.note(&peer.reader);
                    }
                    found = Some((peer.id, msg));
                    break;
                }
                // The session closed its end and everything it sent was read: the connection
                // is gone.
                if peer.reader.is_finished() {
                    finished = Some(position);
                }
            }
            match found {
                Some((id, mut msg)) if msg.kind() == Kind::Data => {
                    let routing_id = self.routing_ids.get(&id).cloned().unwrap_or_default();
                    msg.push_front(routing_id);
                    return Some(msg);
                }
                Some(_) => continue,
                None => match finished {
                    Some(position) => self.remove(position),
                    None => return None,
                },
            }
        }
    }

    fn can_begin(&mut self, first: &[u8]) -> Result<bool, Error> {
        match self.target(first) {
            Some(position) => Ok(self.peers[position].writer.can_write()),
            None => Err(Error::HostUnreachable),
        }
    }

    fn can_send(&mut self) -> bool {
        true
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.source.get()
    }

    fn own_routing_id(&self) -> Option<Bytes> {
        self.last_generated.clone()
    }

    fn can_recv(&mut self) -> bool {
        self.peers.iter_mut().any(|peer| peer.reader.has_data())
    }
}
