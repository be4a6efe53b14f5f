//! XSUB and SUB: receive what the publishers send, filtered by prefix subscriptions (RFC 29).
//!
//! Subscriptions are counted here ([`Trie`]) and travel upstream to every publisher: as
//! [`Kind::Subscribe`]/[`Kind::Cancel`] control messages, which the engine sends as ZMTP 3.1
//! SUBSCRIBE/CANCEL commands (or 1/0-prefixed messages to ZMTP 3.0 peers). A duplicate
//! subscription is sent again (the publisher keeps one per peer, which XPUB_VERBOSE relies on);
//! a cancel is sent only when the last of its duplicates goes. Every new publisher, and every
//! reconnected one, gets all current subscriptions. SUB also filters what it receives, so a
//! publisher that does not filter (or a cancel still in flight) never leaks unwanted messages.
//!
//! SUB subscribes through options (`subscribe`/`unsubscribe`) and cannot send; XSUB subscribes by
//! sending `1topic`/`0topic` messages and passes its other messages upstream. XSUB delivers
//! everything its publishers send, unfiltered, as libzmq's does: the publisher decides (an XPUB
//! in manual mode may subscribe it to other topics than those it asked for).

use super::pattern::{Pattern, Refused, bool_value, flag_value, subscription_option};
use super::util::dist::Distributor;
use super::util::trie::Trie;
use crate::error::Error;
use crate::message::{Kind, Message};
use crate::options::number;
use crate::pipe::{LastSource, Peer, PeerId};

/// SUB and XSUB (`options_only` for SUB).
pub(crate) struct XSub {
    /// SUB: subscriptions by option only, `send` is not supported, and received messages are
    /// filtered by the subscriptions.
    options_only: bool,
    /// The publishers, read in turn (fair queueing) and written to all at once.
    peers: Distributor,
    /// Where the last message delivered came from.
    source: LastSource,
    /// Next peer to read from.
    next: usize,
    subscriptions: Trie,
    only_first_subscribe: bool,
    invert_matching: bool,
    /// A message that passed the filter, read ahead by `can_recv` (so that POLLIN is never
    /// reported for a message the filter would drop).
    prefetched: Option<Message>,
}

impl XSub {
    pub(crate) fn new(options_only: bool) -> XSub {
        XSub {
            options_only,
            peers: Distributor::default(),
            source: LastSource::default(),
            next: 0,
            subscriptions: Trie::new(),
            only_first_subscribe: false,
            invert_matching: false,
            prefetched: None,
        }
    }

    /// Sends every current subscription to one peer (dropped if its pipe is full, as libzmq).
    fn send_all_subscriptions(subscriptions: &Trie, peer: &mut Peer) {
        subscriptions.for_each(|topic| {
            let _ = peer.writer.send(Message::control(Kind::Subscribe, topic));
        });
        peer.writer.signal_control();
    }

    /// Sends a subscription or cancel to every peer.
    fn send_upstream(&mut self, kind: Kind, topic: &[u8]) {
        self.peers.send_to_all(Message::control(kind, topic));
        for peer in self.peers.peers_mut() {
            peer.writer.signal_control();
        }
    }

    fn subscribe(&mut self, topic: &[u8]) {
        self.subscriptions.add(topic);
        self.send_upstream(Kind::Subscribe, topic);
    }

    fn unsubscribe(&mut self, topic: &[u8]) {
        if self.subscriptions.remove(topic) {
            self.send_upstream(Kind::Cancel, topic);
        }
    }

    /// Whether a message is delivered: SUB filters by its subscriptions, XSUB does not.
    fn matches(&self, msg: &Message) -> bool {
        !self.options_only || self.subscriptions.check(msg.first()) != self.invert_matching
    }

    /// The next message that passes the filter, from the next peer in turn.
    fn next_message(&mut self) -> Option<Message> {
        loop {
            let count = self.peers.peers_mut().len();
            let mut gone = None;
            let mut found = None;
            for i in 0..count {
                let position = (self.next + i) % count;
                let peer = &mut self.peers.peers_mut()[position];
                if let Some(msg) = peer.reader.recv() {
                    self.next = position + 1;
                    if msg.kind() == Kind::Data {
                        self.source.note(&peer.reader);
                    }
                    found = Some(msg);
                    break;
                }
                if peer.is_gone() {
                    gone = Some(peer.id);
                }
            }
            match found {
                Some(msg) if msg.kind() == Kind::Data && self.matches(&msg) => return Some(msg),
                // A message nobody subscribed to (a cancel may still be in flight), or a
                // control message: dropped.
                Some(_) => continue,
                None => {
                    let id = gone?;
                    self.peers.detach(id);
                    self.next = 0;
                }
            }
        }
    }
}

impl Pattern for XSub {
    fn attach(&mut self, mut peer: Peer) {
        Self::send_all_subscriptions(&self.subscriptions, &mut peer);
        self.peers.attach(peer);
    }

    fn detach(&mut self, id: PeerId) {
        // Forgotten once what it sent has been read.
        if self
            .peers
            .peer_mut(id)
            .is_some_and(|peer| peer.reader.is_finished())
        {
            self.peers.detach(id);
            self.next = 0;
        }
    }

    fn hiccup(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.peer_mut(id) {
            Self::send_all_subscriptions(&self.subscriptions, peer);
        }
    }

    fn drops(&self) -> crate::monitor::Drops {
        crate::monitor::Drops {
            high_water_mark: self.peers.dropped,
            ..Default::default()
        }
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        for id in self.peers.peers_of_endpoint(endpoint_id) {
            self.peers.detach(id);
        }
        self.next = 0;
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.peers.peers_mut().iter_mut().for_each(f);
    }

    fn send(&mut self, msg: Message) -> Result<(), Refused> {
        if self.options_only {
            return Err(Refused::Failed(Error::NotSupported, msg));
        }
        // As libzmq: frames that start with 1 or 0 subscribe or cancel (after the first frame
        // only while they keep doing so, with ONLY_FIRST_SUBSCRIBE); the other frames go
        // upstream as a message to every publisher, which XPUB hands to its application.
        let mut process = !self.only_first_subscribe;
        let mut upstream: Option<Message> = None;
        for (i, frame) in msg.iter().enumerate() {
            let first = frame.first().copied();
            let is_subscription = (i == 0 || process) && matches!(first, Some(0 | 1));
            if is_subscription {
                process = true;
                if first == Some(1) {
                    self.subscribe(&frame[1..]);
                } else {
                    self.unsubscribe(&frame[1..]);
                }
            } else {
                match upstream.as_mut() {
                    Some(user) => user.push(frame.clone()),
                    None => upstream = Some(Message::from(frame.clone())),
                }
            }
        }
        if let Some(user) = upstream {
            self.peers.send_to_all(user);
        }
        Ok(())
    }

    fn check_recv(&self) -> Result<(), Error> {
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        self.prefetched.take().or_else(|| self.next_message())
    }

    fn can_send(&mut self) -> bool {
        !self.options_only
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.source.get()
    }

    fn can_recv(&mut self) -> bool {
        if self.prefetched.is_none() {
            self.prefetched = self.next_message();
        }
        self.prefetched.is_some()
    }

    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        match option {
            number::SUBSCRIBE if self.options_only => self.subscribe(value),
            number::UNSUBSCRIBE if self.options_only => self.unsubscribe(value),
            number::ONLY_FIRST_SUBSCRIBE if !self.options_only => {
                self.only_first_subscribe = flag_value(value)?;
            }
            number::INVERT_MATCHING => self.invert_matching = bool_value(value)?,
            _ => return Err(Error::Invalid),
        }
        Ok(())
    }

    fn option(&self, option: i32) -> Result<i32, Error> {
        subscription_option(option, self.subscriptions.len(), self.invert_matching)
    }
}
