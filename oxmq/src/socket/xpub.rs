//! XPUB and PUB: publish to every subscriber whose subscription prefixes the message (RFC 29).
//!
//! Subscriptions arrive from the peers in-band, in order with anything else they send: as
//! [`Kind::Subscribe`]/[`Kind::Cancel`] control messages (ZMTP 3.1 SUBSCRIBE/CANCEL, or an
//! inproc SUB), or as data frames whose first byte is 1 or 0 (ZMTP 3.0, libzmq's XSUB). They
//! are applied before every send, so filtering happens here, at the publisher, and a message
//! costs one walk of the subscription tree (proportional to the topic's length) plus one copy
//! per matching subscriber.
//!
//! PUB never blocks: a subscriber at its high-water mark misses messages while the others go
//! on (XPUB_NODROP turns that into [`Error::WouldBlock`] for the sender). XPUB also hands the
//! application every new subscription and every last cancel as a message (`1topic` /
//! `0topic`; every one with XPUB_VERBOSE/XPUB_VERBOSER), and the messages its peers send that
//! are not subscriptions; with XPUB_MANUAL the application decides which subscriptions take
//! effect.
//!
//! Compared with libzmq: the pending notifications of XPUB_MANUAL remember which peer each came
//! from, so a user message from an XSUB between two subscriptions cannot shift which peer a
//! later `subscribe` applies to.

use std::collections::VecDeque;
use std::sync::Arc;

use super::pattern::{Pattern, Refused, bool_value, flag_value, subscription_option};
use super::util::dist::Distributor;
use super::util::mtrie::{MultiTrie, RemoveResult};
use crate::error::Error;
use crate::message::{Frame, Kind, Message};
use crate::options::number;
use crate::pipe::{Peer, PeerId};
use crate::signal::Activation;

/// PUB and XPUB (`publisher_only` for PUB).
pub(crate) struct XPub {
    /// PUB: the application receives nothing.
    publisher_only: bool,
    dist: Distributor,
    subscriptions: MultiTrie<PeerId>,
    /// XPUB_MANUAL: what each peer asked for, to cancel upstream when it leaves.
    manual_subscriptions: MultiTrie<PeerId>,
    verbose_subs: bool,
    verbose_unsubs: bool,
    manual: bool,
    /// XPUB_MANUAL_LAST_VALUE: the next message after a manual subscription goes only to the
    /// peer that subscribed.
    send_last_pipe: bool,
    /// Drop at a subscriber's high-water mark (not XPUB_NODROP).
    lossy: bool,
    only_first_subscribe: bool,
    invert_matching: bool,
    welcome: Option<Message>,
    /// XPUB_MANUAL: the peer of the notification the application read last.
    last_pipe: Option<PeerId>,
    /// Messages for the application, with the peer a manual subscription came from.
    pending: VecDeque<(Message, Option<PeerId>)>,
    /// The socket's activation: raised when a peer published subscriptions.
    activation: Option<Arc<Activation>>,
}

impl XPub {
    pub(crate) fn new(publisher_only: bool) -> XPub {
        XPub {
            publisher_only,
            dist: Distributor::default(),
            subscriptions: MultiTrie::new(),
            manual_subscriptions: MultiTrie::new(),
            verbose_subs: false,
            verbose_unsubs: false,
            manual: false,
            send_last_pipe: false,
            lossy: true,
            only_first_subscribe: false,
            invert_matching: false,
            welcome: None,
            last_pipe: None,
            pending: VecDeque::new(),
            activation: None,
        }
    }

    /// Applies what every peer sent.
    fn read_all(&mut self) {
        for position in 0..self.dist.peers_mut().len() {
            loop {
                let peer = &mut self.dist.peers_mut()[position];
                let id = peer.id;
                let Some(msg) = peer.reader.recv() else {
                    break;
                };
                self.on_message(id, msg);
            }
        }
    }

    /// Applies what peer `id` sent.
    fn read_peer(&mut self, id: PeerId) {
        while let Some(msg) = self.dist.peer_mut(id).and_then(|peer| peer.reader.recv()) {
            self.on_message(id, msg);
        }
    }

    fn on_message(&mut self, id: PeerId, msg: Message) {
        match msg.kind() {
            Kind::Subscribe => self.on_subscription(id, true, msg.first()),
            Kind::Cancel => self.on_subscription(id, false, msg.first()),
            Kind::RoutingId | Kind::Metadata => {}
            Kind::Data => {
                // As libzmq: every frame that starts with 1 or 0 is a subscription or a cancel,
                // unless ONLY_FIRST_SUBSCRIBE and the first frame is not one; the other frames
                // are a message from the peer for the application (XPUB only).
                let mut process = true;
                let mut upstream: Option<Message> = None;
                for (i, frame) in msg.iter().enumerate() {
                    let is_subscription =
                        (i == 0 || process) && matches!(frame.first(), Some(0 | 1));
                    if i == 0 {
                        process = !self.only_first_subscribe || is_subscription;
                    }
                    if is_subscription {
                        self.on_subscription(id, frame[0] == 1, &frame[1..]);
                    } else if !self.publisher_only {
                        match upstream.as_mut() {
                            Some(user) => user.push(frame.clone()),
                            None => upstream = Some(Message::from(frame.clone())),
                        }
                    }
                }
                if let Some(user) = upstream {
                    self.pending.push_back((user, None));
                }
            }
        }
    }

    fn on_subscription(&mut self, id: PeerId, subscribe: bool, topic: &[u8]) {
        let notify = if self.manual {
            if subscribe {
                self.manual_subscriptions.add(topic, id);
            } else {
                self.manual_subscriptions.remove(topic, id);
            }
            true
        } else if subscribe {
            self.subscriptions.add(topic, id) || self.verbose_subs
        } else {
            self.subscriptions.remove(topic, id) != RemoveResult::Remaining || self.verbose_unsubs
        };
        if notify && !self.publisher_only {
            let source = self.manual.then_some(id);
            self.pending
                .push_back((notification(subscribe, topic), source));
        }
    }

    /// Drops the subscriptions of a peer that left; the cancels that leave no subscriber are
    /// passed to the application (every one with XPUB_VERBOSER or XPUB_MANUAL).
    fn forget(&mut self, id: PeerId) {
        let mut cancelled: Vec<Vec<u8>> = Vec::new();
        if self.manual {
            // Every subscription of the peer, even one another peer shares, as libzmq does: the
            // application applied each peer's subscriptions one by one, and forwards them
            // upstream one by one (an XSUB counts them), so it must see each go.
            self.manual_subscriptions
                .remove_peer_each(id, |topic, _| cancelled.push(topic.to_vec()));
            self.subscriptions.remove_peer(id, |_| {});
        } else if self.verbose_unsubs {
            self.subscriptions
                .remove_peer_each(id, |topic, _| cancelled.push(topic.to_vec()));
        } else {
            self.subscriptions
                .remove_peer(id, |topic| cancelled.push(topic.to_vec()));
        }
        if self.last_pipe == Some(id) {
            self.last_pipe = None;
        }
        if !self.publisher_only {
            for topic in cancelled {
                self.pending.push_back((notification(false, &topic), None));
            }
        }
    }

    fn detach_peer(&mut self, id: PeerId) {
        if self.dist.detach(id).is_some() {
            self.forget(id);
        }
    }
}

/// A subscription as the application sees it: `1topic` or `0topic`.
fn notification(subscribe: bool, topic: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(1 + topic.len());
    bytes.push(u8::from(subscribe));
    bytes.extend_from_slice(topic);
    Message::from(Frame::from(bytes))
}

impl Pattern for XPub {
    fn attach(&mut self, mut peer: Peer) {
        if self.activation.is_none() {
            self.activation = peer.reader.activation().cloned();
        }
        if let Some(welcome) = &self.welcome {
            let _ = peer.writer.send(welcome.clone());
        }
        let id = peer.id;
        self.dist.attach(peer);
        // Subscriptions may be waiting already.
        self.read_peer(id);
    }

    fn detach(&mut self, id: PeerId) {
        self.detach_peer(id);
    }

    fn drops(&self) -> crate::monitor::Drops {
        crate::monitor::Drops {
            high_water_mark: self.dist.dropped,
            ..Default::default()
        }
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        for id in self.dist.peers_of_endpoint(endpoint_id) {
            self.detach_peer(id);
        }
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.dist.peers_mut().iter_mut().for_each(f);
    }

    fn send(&mut self, msg: Message) -> Result<(), Refused> {
        if self
            .activation
            .as_ref()
            .is_some_and(|act| act.take_control())
        {
            self.read_all();
        }
        self.dist.unmatch();
        let dist = &mut self.dist;
        match self
            .last_pipe
            .filter(|_| self.manual && self.send_last_pipe)
        {
            Some(last) => {
                self.subscriptions.matching(msg.first(), |id| {
                    if id == last {
                        dist.mark(id);
                    }
                });
                self.last_pipe = None;
            }
            None => self.subscriptions.matching(msg.first(), |id| dist.mark(id)),
        }
        if self.invert_matching {
            self.dist.invert();
        }
        if !self.lossy && !self.dist.matched_have_room() {
            return Err(Refused::Full(msg));
        }
        let sent = self.dist.send_to_matched(msg);
        for id in sent.closed {
            self.forget(id);
        }
        Ok(())
    }

    fn check_recv(&self) -> Result<(), Error> {
        if self.publisher_only {
            return Err(Error::NotSupported);
        }
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        self.read_all();
        let (msg, source) = self.pending.pop_front()?;
        if self.manual {
            self.last_pipe = source;
        }
        Some(msg)
    }

    fn can_send(&mut self) -> bool {
        // A publisher never blocks (with XPUB_NODROP a full subscriber makes the send fail
        // with WouldBlock, as in libzmq, whose PUB always reports POLLOUT).
        true
    }

    fn can_recv(&mut self) -> bool {
        if self.publisher_only {
            return false;
        }
        self.read_all();
        !self.pending.is_empty()
    }

    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        let flag = || flag_value(value);
        match option {
            number::XPUB_VERBOSE => {
                self.verbose_subs = flag()?;
                self.verbose_unsubs = false;
            }
            number::XPUB_VERBOSER => {
                self.verbose_subs = flag()?;
                self.verbose_unsubs = self.verbose_subs;
            }
            number::XPUB_MANUAL => self.manual = flag()?,
            number::XPUB_MANUAL_LAST_VALUE => {
                self.manual = flag()?;
                self.send_last_pipe = self.manual;
            }
            number::XPUB_NODROP => self.lossy = !flag()?,
            number::ONLY_FIRST_SUBSCRIBE => self.only_first_subscribe = flag()?,
            number::INVERT_MATCHING => self.invert_matching = bool_value(value)?,
            number::XPUB_WELCOME_MSG => {
                self.welcome = (!value.is_empty()).then(|| Message::from(value));
            }
            number::SUBSCRIBE if self.manual => {
                if let Some(last) = self.last_pipe {
                    self.subscriptions.add(value, last);
                }
            }
            number::UNSUBSCRIBE if self.manual => {
                if let Some(last) = self.last_pipe {
                    self.subscriptions.remove(value, last);
                }
            }
            _ => return Err(Error::Invalid),
        }
        Ok(())
    }

    fn option(&self, option: i32) -> Result<i32, Error> {
        subscription_option(option, self.subscriptions.len(), self.invert_matching)
    }
}
