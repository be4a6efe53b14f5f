//! REP: the service end of request-reply (RFC 28). Requests are fair-queued in; each must carry
//! an envelope (every frame up to and including the first empty one: the routing ids of the
//! hops it came through, then the delimiter), which is kept back and put in front of the reply.
//! Receive and send must alternate: anything else fails with `EFSM`.
//!
//! As in libzmq, where REP is a ROUTER underneath, peers are known by routing id (see
//! `util::routing`): a request without an envelope is dropped, and a reply whose requester is
//! gone (or full) is dropped too.

use super::pattern::{Pattern, Refused};
use super::util::routing::RoutingTable;
use crate::error::Error;
use crate::message::{Frame, Message};
use crate::pipe::{Peer, PeerId};

#[derive(Default)]
pub(crate) struct Rep {
    table: RoutingTable,
    /// The envelope of the request being answered, routing id first; `Some` while a reply is
    /// due.
    envelope: Option<Vec<Frame>>,
    /// A well-formed request read ahead by `can_recv`: its envelope and body.
    ready: Option<(Vec<Frame>, Message)>,
}

/// Splits a request (routing id first) into its envelope and its body; `None` when it has no
/// delimiter followed by a body.
fn split(mut msg: Message) -> Option<(Vec<Frame>, Message)> {
    let delimiter = msg.iter().position(|frame| frame.is_empty())?;
    if delimiter + 1 >= msg.len() {
        return None;
    }
    let envelope = (0..=delimiter)
        .map(|_| msg.pop_front().expect("a body follows the envelope"))
        .collect();
    Some((envelope, msg))
}

impl Rep {
    /// The next well-formed request; malformed ones are dropped.
    fn next_request(&mut self) -> Option<(Vec<Frame>, Message)> {
        loop {
            let msg = self.table.recv()?;
            if let Some(request) = split(msg) {
                return Some(request);
            }
            tracing::debug!("oxmq: REP dropped a request without an envelope");
        }
    }
}

impl Pattern for Rep {
    fn attach(&mut self, peer: Peer) {
        self.table.attach(peer);
    }

    fn detach(&mut self, id: PeerId) {
        self.table.detach(id);
    }

    fn drops(&self) -> crate::monitor::Drops {
        self.table.drops()
    }

    fn detach_endpoint(&mut self, endpoint_id: u64) {
        self.table.detach_endpoint(endpoint_id);
    }

    fn for_each_peer(&mut self, f: &mut dyn FnMut(&mut Peer)) {
        self.table.for_each_peer(f);
    }

    fn send(&mut self, mut msg: Message) -> Result<(), Refused> {
        let Some(envelope) = self.envelope.take() else {
            return Err(Refused::Failed(Error::InvalidState, msg));
        };
        let depth = envelope.len();
        for frame in envelope.into_iter().rev() {
            msg.push_front(frame);
        }
        let refused = match self.table.send(msg) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        // Only with MANDATORY: the reply is still due; hand the body back.
        let strip = |mut back: Message| {
            let envelope: Vec<Frame> = (0..depth)
                .map(|_| back.pop_front().expect("the envelope came back"))
                .collect();
            (envelope, back)
        };
        let (envelope, refused) = match refused {
            Refused::Full(back) => {
                let (envelope, body) = strip(back);
                (envelope, Refused::Full(body))
            }
            Refused::Failed(error, back) => {
                let (envelope, body) = strip(back);
                (envelope, Refused::Failed(error, body))
            }
        };
        self.envelope = Some(envelope);
        Err(refused)
    }

    fn check_recv(&self) -> Result<(), Error> {
        if self.envelope.is_some() {
            return Err(Error::InvalidState);
        }
        Ok(())
    }

    fn recv(&mut self) -> Option<Message> {
        let (envelope, body) = self.ready.take().or_else(|| self.next_request())?;
        self.envelope = Some(envelope);
        Some(body)
    }

    fn can_begin(&mut self, _first: &[u8]) -> Result<bool, Error> {
        if self.envelope.is_none() {
            return Err(Error::InvalidState);
        }
        Ok(self.can_send())
    }

    fn can_send(&mut self) -> bool {
        self.envelope.is_some() && (!self.table.mandatory || self.table.can_send_any())
    }

    fn last_metadata(&self) -> Option<&std::sync::Arc<crate::metadata::PeerMetadata>> {
        self.table.source.get()
    }

    fn can_recv(&mut self) -> bool {
        if self.envelope.is_some() {
            return false;
        }
        if self.ready.is_none() {
            self.ready = self.next_request();
        }
        self.ready.is_some()
    }

    fn set_option(&mut self, option: i32, value: &[u8]) -> Result<(), Error> {
        self.table.set_option(option, value)
    }

    fn routing_id_in_use(&mut self, id: &[u8]) -> bool {
        self.table.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(msg: &Message) -> Vec<Vec<u8>> {
        msg.to_vecs()
    }

    #[test]
    fn envelope_is_everything_up_to_the_first_empty_frame() {
        let (envelope, body) =
            split(Message::from_frames(["id", "hop", "", "a", "", "b"])).unwrap();
        assert_eq!(
            envelope,
            vec![Frame::from("id"), Frame::from("hop"), Frame::empty()]
        );
        assert_eq!(frames(&body), vec![b"a".to_vec(), vec![], b"b".to_vec()]);
    }

    #[test]
    fn requests_without_a_delimiter_or_a_body_are_malformed() {
        assert!(split(Message::from_frames(["id", "body"])).is_none());
        assert!(split(Message::from_frames(["id", ""])).is_none());
        assert!(split(Message::from("id")).is_none());
    }
}
