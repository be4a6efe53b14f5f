//! REQ, REP, DEALER and ROUTER against RFC 28 and libzmq 4.3's own tests (`test_spec_req.cpp`,
//! `test_spec_rep.cpp`, `test_spec_dealer.cpp`, `test_spec_router.cpp`, `test_router_mandatory*.cpp`,
//! `test_router_handover.cpp`, `test_req_correlate.cpp`, `test_req_relaxed.cpp`,
//! `test_probe_router.cpp`, `test_connect_rid.cpp`, `test_invalid_rep.cpp`), each scenario over
//! inproc, ipc and tcp.
//!
//! Nothing waits by sleeping: where the order of connections matters, the load-balancing side
//! connects (its peers then exist, in connect order, from `connect()` on), and where a peer must
//! be known, a message from it is received first. Every receive has a timeout, so a bug fails a
//! test instead of hanging it.

mod common;

use std::time::{Duration, Instant};

use oxmq::{Context, Error, Message, Socket, SocketType};

#[derive(Clone, Copy, Debug)]
enum Transport {
    Inproc,
    Ipc,
    Tcp,
}

impl Transport {
    /// An endpoint to bind (the binder's `last_endpoint` resolves a tcp wildcard).
    fn bind_spec(self) -> String {
        match self {
            Transport::Inproc => common::inproc(),
            Transport::Ipc => common::ipc_path(),
            Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
        }
    }

    /// A concrete endpoint nobody is bound to yet (for a connect before the bind).
    fn fixed_endpoint(self) -> String {
        match self {
            Transport::Inproc => common::inproc(),
            Transport::Ipc => common::ipc_path(),
            Transport::Tcp => common::free_tcp_endpoint(),
        }
    }
}

/// Writes one test per transport for each scenario `fn(Transport)`.
macro_rules! per_transport {
    ($($name:ident => $scenario:expr;)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn inproc() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Inproc);
            }
            #[test]
            fn ipc() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Ipc);
            }
            #[test]
            fn tcp() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Tcp);
            }
        }
    )*};
}

/// How long "nothing arrives" is watched for, in milliseconds.
const QUIET_MS: i32 = 200;

fn msg(parts: &[&str]) -> Message {
    Message::from_frames(parts.iter().map(|part| part.as_bytes()))
}

fn texts(msg: &Message) -> Vec<String> {
    msg.iter()
        .map(|frame| String::from_utf8_lossy(frame).into_owned())
        .collect()
}

fn send(socket: &Socket, parts: &[&str]) {
    socket.send(msg(parts)).expect("send");
}

/// Receives a message and checks its frames.
fn expect(socket: &Socket, parts: &[&str]) {
    let got = socket.recv().expect("recv");
    assert_eq!(texts(&got), parts);
}

/// Checks that nothing arrives for [`QUIET_MS`].
fn quiet(socket: &Socket) {
    let before = socket.rcvtimeo();
    socket.set_rcvtimeo(QUIET_MS).unwrap();
    let got = socket.recv();
    socket.set_rcvtimeo(before).unwrap();
    match got {
        Err(Error::WouldBlock) => {}
        other => panic!("expected nothing, got {other:?}"),
    }
}

fn sock(ctx: &Context, socket_type: SocketType) -> Socket {
    common::socket(ctx, socket_type)
}

/// A socket bound on `transport`, and the endpoint to connect to.
fn bound(ctx: &Context, socket_type: SocketType, transport: Transport) -> (Socket, String) {
    common::bound(ctx, socket_type, &transport.bind_spec())
}

/// Retries `op` until it stops failing with `retry_on` (a peer not known yet), for up to 5 s.
fn until_known<T>(retry_on: Error, mut op: impl FnMut() -> oxmq::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match op() {
            Err(err) if err == retry_on && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            other => return other.expect("operation"),
        }
    }
}

/// Waits until `socket` has a message to read, for up to 5 s.
fn wait_incoming(socket: &Socket) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.has_incoming() {
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------------------------
// REQ

/// REQ SHALL route outgoing messages to connected peers using a round-robin strategy.
fn req_round_robin_out(transport: Transport) {
    let ctx = Context::new();
    let reps: Vec<(Socket, String)> = (0..5)
        .map(|_| bound(&ctx, SocketType::Rep, transport))
        .collect();
    let req = sock(&ctx, SocketType::Req);
    for (_, endpoint) in &reps {
        req.connect(endpoint).unwrap();
    }
    for (rep, _) in &reps {
        send(&req, &["ABC"]);
        expect(rep, &["ABC"]);
        send(rep, &["DEF"]);
        expect(&req, &["DEF"]);
    }
}

/// The request on the wire is a delimiter then the body; the reply comes back without it.
fn req_message_format(transport: Transport) {
    let ctx = Context::new();
    let (req, endpoint) = bound(&ctx, SocketType::Req, transport);
    let router = sock(&ctx, SocketType::Router);
    router.connect(&endpoint).unwrap();
    send(&req, &["ABC", "DEF"]);
    let got = router.recv().unwrap();
    assert_eq!(got.len(), 4, "{got:?}");
    let id = got[0].to_vec();
    assert!(!id.is_empty());
    assert_eq!(texts(&got)[1..], ["", "ABC", "DEF"]);
    let mut reply = msg(&["", "GHI"]);
    reply.push_front(id);
    router.send(reply).unwrap();
    expect(&req, &["GHI"]);
}

/// REQ SHALL block on sending, or return a suitable error, when it has no connected peers.
fn block_on_send_no_peers(socket_type: SocketType) {
    let ctx = Context::new();
    let socket = sock(&ctx, socket_type);
    socket.set_sndtimeo(250).unwrap();
    let err = socket.try_send(msg(&["x"])).unwrap_err();
    assert_eq!(err.error(), Error::WouldBlock);
    assert_eq!(
        texts(&err.into_message()),
        ["x"],
        "the message comes back whole"
    );
    assert_eq!(socket.send(msg(&["x"])), Err(Error::WouldBlock));
}

#[test]
fn req_blocks_on_send_with_no_peers() {
    block_on_send_no_peers(SocketType::Req);
}

#[test]
fn dealer_blocks_on_send_with_no_peers() {
    block_on_send_no_peers(SocketType::Dealer);
}

/// REQ SHALL accept an incoming message only from the last peer that it sent a request to, and
/// discard the others silently.
fn req_only_listens_to_current_peer(transport: Transport) {
    let ctx = Context::new();
    let routers: Vec<(Socket, String)> = (0..3)
        .map(|_| {
            let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
            router.set_router_mandatory(true).unwrap();
            (router, endpoint)
        })
        .collect();
    let req = sock(&ctx, SocketType::Req);
    req.set_routing_id(b"A").unwrap();
    // The probe tells each ROUTER who we are before any request.
    req.set_probe_router(true).unwrap();
    for (_, endpoint) in &routers {
        req.connect(endpoint).unwrap();
    }
    for (router, _) in &routers {
        expect(router, &["A", ""]);
    }
    send(&req, &["ABC"]);
    expect(&routers[0].0, &["A", "", "ABC"]);
    // Wrong replies from the peers that were not asked, then the good one.
    send(&routers[1].0, &["A", "", "WRONG"]);
    send(&routers[2].0, &["A", "", "WRONG"]);
    send(&routers[0].0, &["A", "", "GOOD"]);
    expect(&req, &["GOOD"]);
}

/// A REQ's state machine: receive before a request, or a second request, is EFSM.
#[test]
fn req_strict_state_machine() {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, Transport::Inproc);
    let req = sock(&ctx, SocketType::Req);
    req.connect(&endpoint).unwrap();
    assert_eq!(req.try_recv().unwrap_err(), Error::InvalidState);
    assert!(req.can_send());
    send(&req, &["one"]);
    assert!(!req.can_send(), "no POLLOUT while the reply is due");
    let err = req.try_send(msg(&["two"])).unwrap_err();
    assert_eq!(err.error(), Error::InvalidState);
    assert_eq!(texts(&err.into_message()), ["two"]);
    expect(&rep, &["one"]);
    send(&rep, &["reply"]);
    expect(&req, &["reply"]);
    assert_eq!(req.try_recv().unwrap_err(), Error::InvalidState);
    send(&req, &["two"]);
    expect(&rep, &["two"]);
}

/// test_req_correlate: with REQ_CORRELATE a reply must carry the request id back.
fn req_correlate(transport: Transport) {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
    let req = sock(&ctx, SocketType::Req);
    req.set_req_correlate(true).unwrap();
    req.connect(&endpoint).unwrap();
    send(&req, &["ABC", "DEF"]);
    let got = router.recv().unwrap();
    assert_eq!(got.len(), 5, "{got:?}");
    let (peer, request_id) = (got[0].to_vec(), got[1].to_vec());
    assert_eq!(request_id.len(), 4);
    assert_eq!(texts(&got)[2..], ["", "ABC", "DEF"]);
    let mut bad_id = u32::from_ne_bytes(request_id.clone().try_into().unwrap());
    bad_id = bad_id.wrapping_add(1);
    let mut bad = msg(&["", "DATA"]);
    bad.push_front(bad_id.to_ne_bytes().to_vec());
    bad.push_front(peer.clone());
    router.send(bad).unwrap();
    let mut good = msg(&["", "GHI"]);
    good.push_front(request_id);
    good.push_front(peer);
    router.send(good).unwrap();
    expect(&req, &["GHI"]);
}

/// test_req_relaxed: a REQ connected to five REPs, relaxed and correlated.
fn relaxed_setup(ctx: &Context, transport: Transport) -> (Socket, Vec<Socket>) {
    let reps: Vec<(Socket, String)> = (0..5)
        .map(|_| bound(ctx, SocketType::Rep, transport))
        .collect();
    let req = sock(ctx, SocketType::Req);
    req.set_req_relaxed(true).unwrap();
    req.set_req_correlate(true).unwrap();
    for (_, endpoint) in &reps {
        req.connect(endpoint).unwrap();
    }
    (req, reps.into_iter().map(|(rep, _)| rep).collect())
}

fn req_relaxed(transport: Transport) {
    let ctx = Context::new();
    let (req, rep) = relaxed_setup(&ctx, transport);
    // Case 1: a second request before the reply to the first arrives.
    assert!(req.can_send() && !req.has_incoming());
    send(&req, &["A", "B"]);
    expect(&rep[0], &["A", "B"]);
    assert!(req.can_send(), "relaxed: POLLOUT while a reply is due");
    send(&req, &["C", "D"]);
    expect(&rep[1], &["C", "D"]);
    // The reply to the first request is discarded.
    send(&rep[0], &["WRONG"]);
    send(&rep[1], &["OK"]);
    expect(&req, &["OK"]);
    send(&req, &["E"]);
    expect(&rep[2], &["E"]);
    send(&rep[2], &["F", "G"]);
    expect(&req, &["F", "G"]);
    // Case 2: a second request after the reply to the first is already queued.
    send(&req, &["H"]);
    expect(&rep[3], &["H"]);
    send(&rep[3], &["BAD"]);
    wait_incoming(&req);
    send(&req, &["I"]);
    expect(&rep[4], &["I"]);
    send(&rep[4], &["GOOD"]);
    expect(&req, &["GOOD"]);
    // Case 3 (libzmq issue #1690): the relaxed sends closed no pipe, so rep[0] is next.
    send(&req, &["J"]);
    expect(&rep[0], &["J"]);
}

/// With REQ_RELAXED a REQ whose peer vanished before replying is not stuck: the next request
/// goes to a peer that is there.
#[test]
fn req_relaxed_recovers_from_a_vanished_peer() {
    let ctx = Context::new();
    let (rep0, endpoint0) = bound(&ctx, SocketType::Rep, Transport::Inproc);
    let (rep1, endpoint1) = bound(&ctx, SocketType::Rep, Transport::Inproc);
    let req = sock(&ctx, SocketType::Req);
    req.set_req_relaxed(true).unwrap();
    req.connect(&endpoint0).unwrap();
    req.connect(&endpoint1).unwrap();
    send(&req, &["lost"]);
    expect(&rep0, &["lost"]);
    drop(rep0);
    send(&req, &["again"]);
    expect(&rep1, &["again"]);
    send(&rep1, &["answer"]);
    expect(&req, &["answer"]);
}

/// test_req_relaxed case 4 (libzmq issue #1695): two requests queued before the server is
/// there; only the reply to the second is delivered.
fn req_relaxed_requests_queued_before_the_server(transport: Transport) {
    let ctx = Context::new();
    let endpoint = transport.fixed_endpoint();
    let req = sock(&ctx, SocketType::Req);
    req.set_req_relaxed(true).unwrap();
    req.set_req_correlate(true).unwrap();
    req.connect(&endpoint).unwrap();
    send(&req, &["TO_BE_DISCARDED"]);
    send(&req, &["TO_BE_ANSWERED"]);
    let router = sock(&ctx, SocketType::Router);
    router.bind(&endpoint).unwrap();
    for _ in 0..2 {
        let request = router.recv().unwrap();
        router.send(request).unwrap();
    }
    expect(&req, &["TO_BE_ANSWERED"]);
}

// ---------------------------------------------------------------------------------------------
// REP

/// REP SHALL receive incoming messages from its peers using a fair-queuing strategy, and send
/// each reply back to the peer that asked.
fn rep_fair_queue_in(transport: Transport) {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, transport);
    let reqs: Vec<Socket> = (0..5)
        .map(|_| {
            let req = sock(&ctx, SocketType::Req);
            req.connect(&endpoint).unwrap();
            req
        })
        .collect();
    send(&reqs[0], &["A"]);
    expect(&rep, &["A"]);
    send(&rep, &["A"]);
    expect(&reqs[0], &["A"]);
    for (i, req) in reqs.iter().enumerate() {
        send(req, &[&format!("{i}")]);
    }
    for _ in 0..reqs.len() {
        let request = rep.recv().unwrap();
        rep.send(request).unwrap();
    }
    for (i, req) in reqs.iter().enumerate() {
        expect(req, &[&format!("{i}")]);
    }
}

/// REP SHALL remove and store the address envelope, including the delimiter, pass the rest to
/// the application, and put the envelope back in front of the reply.
fn rep_envelope(transport: Transport) {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, transport);
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.connect(&endpoint).unwrap();
    // Minimal envelope.
    send(&dealer, &["", "A"]);
    expect(&rep, &["A"]);
    send(&rep, &["A"]);
    expect(&dealer, &["", "A"]);
    // Big envelope, as through two brokers.
    send(&dealer, &["X", "Y", "", "A", "B"]);
    expect(&rep, &["A", "B"]);
    send(&rep, &["A", "B"]);
    expect(&dealer, &["X", "Y", "", "A", "B"]);
}

/// A request without a delimiter, or with nothing after it, is dropped; the next good one is
/// answered.
fn rep_drops_malformed_requests(transport: Transport) {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, transport);
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.connect(&endpoint).unwrap();
    send(&dealer, &["no delimiter"]);
    send(&dealer, &["X", "still none"]);
    send(&dealer, &[""]);
    send(&dealer, &["", "good"]);
    expect(&rep, &["good"]);
    send(&rep, &["answer"]);
    expect(&dealer, &["", "answer"]);
}

/// A REP's state machine: send before a request, or a second receive, is EFSM.
#[test]
fn rep_state_machine() {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, Transport::Inproc);
    let req = sock(&ctx, SocketType::Req);
    req.connect(&endpoint).unwrap();
    let err = rep.try_send(msg(&["early"])).unwrap_err();
    assert_eq!(err.error(), Error::InvalidState);
    assert!(!rep.can_send());
    send(&req, &["ask"]);
    expect(&rep, &["ask"]);
    assert_eq!(rep.try_recv().unwrap_err(), Error::InvalidState);
    assert!(rep.can_send());
    send(&rep, &["answer"]);
    expect(&req, &["answer"]);
    let err = rep.try_send(msg(&["again"])).unwrap_err();
    assert_eq!(err.error(), Error::InvalidState);
}

/// A reply to a requester that has gone is dropped; the REP goes on serving.
#[test]
fn rep_reply_to_a_vanished_requester_is_dropped() {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, Transport::Inproc);
    let gone = sock(&ctx, SocketType::Req);
    gone.connect(&endpoint).unwrap();
    send(&gone, &["ask"]);
    expect(&rep, &["ask"]);
    drop(gone);
    send(&rep, &["nobody hears this"]);
    let req = sock(&ctx, SocketType::Req);
    req.connect(&endpoint).unwrap();
    send(&req, &["ask again"]);
    expect(&rep, &["ask again"]);
    send(&rep, &["answer"]);
    expect(&req, &["answer"]);
}

/// A REP that connects (before or after the REQ binds) learns its peer's id in-band and
/// answers it.
fn rep_connects(transport: Transport) {
    for connect_first in [true, false] {
        let ctx = Context::new();
        let rep = sock(&ctx, SocketType::Rep);
        let req = sock(&ctx, SocketType::Req);
        if connect_first {
            let endpoint = transport.fixed_endpoint();
            rep.connect(&endpoint).unwrap();
            req.bind(&endpoint).unwrap();
        } else {
            req.bind(&transport.bind_spec()).unwrap();
            rep.connect(&req.last_endpoint()).unwrap();
        }
        for round in 0..2 {
            send(&req, &["ask", &format!("{round}")]);
            expect(&rep, &["ask", &format!("{round}")]);
            send(&rep, &["answer"]);
            expect(&req, &["answer"]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DEALER

/// DEALER SHALL route outgoing messages to available peers using a round-robin strategy.
fn dealer_round_robin_out(transport: Transport) {
    let ctx = Context::new();
    let reps: Vec<(Socket, String)> = (0..5)
        .map(|_| bound(&ctx, SocketType::Rep, transport))
        .collect();
    let dealer = sock(&ctx, SocketType::Dealer);
    for (_, endpoint) in &reps {
        dealer.connect(endpoint).unwrap();
    }
    for _ in &reps {
        send(&dealer, &["", "ABC"]);
    }
    for (rep, _) in &reps {
        expect(rep, &["ABC"]);
    }
}

/// DEALER SHALL receive incoming messages from its peers using a fair-queuing strategy.
fn dealer_fair_queue_in(transport: Transport) {
    let ctx = Context::new();
    let (receiver, endpoint) = bound(&ctx, SocketType::Dealer, transport);
    let senders: Vec<Socket> = (0..5)
        .map(|_| {
            let sender = sock(&ctx, SocketType::Dealer);
            sender.connect(&endpoint).unwrap();
            sender
        })
        .collect();
    send(&senders[0], &["A"]);
    expect(&receiver, &["A"]);
    send(&senders[0], &["A"]);
    expect(&receiver, &["A"]);
    for (i, sender) in senders.iter().enumerate() {
        send(sender, &["B", &format!("{i}")]);
    }
    let mut from: Vec<String> = (0..senders.len())
        .map(|_| {
            let got = receiver.recv().unwrap();
            assert_eq!(texts(&got)[0], "B");
            texts(&got)[1].clone()
        })
        .collect();
    from.sort();
    assert_eq!(from, ["0", "1", "2", "3", "4"]);
}

/// test_probe_router: a DEALER with PROBE_ROUTER greets the ROUTER with an empty message.
fn dealer_probe_router(transport: Transport) {
    let ctx = Context::new();
    let (server, endpoint) = bound(&ctx, SocketType::Router, transport);
    let client = sock(&ctx, SocketType::Dealer);
    client.set_routing_id(b"X").unwrap();
    client.set_probe_router(true).unwrap();
    client.connect(&endpoint).unwrap();
    expect(&server, &["X", ""]);
    send(&server, &["X", "Hello"]);
    expect(&client, &["Hello"]);
}

// ---------------------------------------------------------------------------------------------
// ROUTER

/// ROUTER SHALL receive incoming messages from its peers using a fair-queuing strategy, each
/// with the sender's routing id in front.
fn router_fair_queue_in(transport: Transport) {
    let ctx = Context::new();
    let (receiver, endpoint) = bound(&ctx, SocketType::Router, transport);
    let names = ["A", "B", "C", "D", "E"];
    let senders: Vec<Socket> = names
        .iter()
        .map(|name| {
            let sender = sock(&ctx, SocketType::Dealer);
            sender.set_routing_id(name.as_bytes()).unwrap();
            sender.connect(&endpoint).unwrap();
            sender
        })
        .collect();
    send(&senders[0], &["M"]);
    expect(&receiver, &["A", "M"]);
    send(&senders[0], &["M"]);
    expect(&receiver, &["A", "M"]);
    for sender in &senders {
        send(sender, &["M"]);
    }
    let mut from: Vec<String> = (0..senders.len())
        .map(|_| {
            let got = texts(&receiver.recv().unwrap());
            assert_eq!(got.len(), 2);
            assert_eq!(got[1], "M");
            got[0].clone()
        })
        .collect();
    from.sort();
    assert_eq!(from, names);
}

/// Peers without a routing id get a generated one: five bytes, a zero then a counter.
fn router_generates_ids(transport: Transport) {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
    let mut ids = Vec::new();
    let dealers: Vec<Socket> = (0..3).map(|_| sock(&ctx, SocketType::Dealer)).collect();
    for dealer in &dealers {
        dealer.connect(&endpoint).unwrap();
        send(dealer, &["hi"]);
        let got = router.recv().unwrap();
        assert_eq!(texts(&got)[1], "hi");
        let id = got[0].to_vec();
        assert_eq!(id.len(), 5, "{id:?}");
        assert_eq!(id[0], 0);
        ids.push(id);
    }
    for (i, dealer) in dealers.iter().enumerate() {
        let mut reply = msg(&[&format!("to {i}")]);
        reply.push_front(ids[i].clone());
        router.send(reply).unwrap();
        expect(dealer, &[&format!("to {i}")]);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "generated ids are distinct");
}

/// test_router_mandatory (basic): an unknown peer is dropped silently, or EHOSTUNREACH with
/// ROUTER_MANDATORY; a one-frame message names a peer but carries nothing, and is dropped.
fn router_mandatory(transport: Transport) {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
    send(&router, &["UNKNOWN", "DATA"]);
    assert!(
        router.can_send(),
        "without MANDATORY a ROUTER can always send"
    );
    router.set_router_mandatory(true).unwrap();
    assert!(!router.can_send(), "MANDATORY and no peer: no POLLOUT");
    let err = router.try_send(msg(&["UNKNOWN", "DATA"])).unwrap_err();
    assert_eq!(err.error(), Error::HostUnreachable);
    assert_eq!(texts(&err.into_message()), ["UNKNOWN", "DATA"]);
    assert_eq!(
        router.send(msg(&["UNKNOWN", "DATA"])),
        Err(Error::HostUnreachable),
        "a blocking send fails at once too"
    );
    send(&router, &["UNKNOWN"]);
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.set_routing_id(b"X").unwrap();
    dealer.connect(&endpoint).unwrap();
    send(&dealer, &["Hello"]);
    expect(&router, &["X", "Hello"]);
    assert!(router.can_send());
    send(&router, &["X", "Hello"]);
    expect(&dealer, &["Hello"]);
}

/// test_router_mandatory_hwm: with MANDATORY a full peer gives EAGAIN (the message comes
/// back); without it the message is dropped.
fn router_mandatory_hwm(transport: Transport) {
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(1).unwrap();
    router.bind(&transport.bind_spec()).unwrap();
    let endpoint = router.last_endpoint();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.set_routing_id(b"X").unwrap();
    dealer.set_rcvhwm(1).unwrap();
    dealer.connect(&endpoint).unwrap();
    send(&dealer, &["Hello"]);
    expect(&router, &["X", "Hello"]);
    let body = vec![0u8; 65536];
    let mut sent = 0;
    let full = loop {
        let mut m = Message::from(body.clone());
        m.push_front("X");
        match router.try_send(m) {
            Ok(()) => sent += 1,
            Err(err) => break err,
        }
        assert!(sent < 100_000, "MANDATORY never reported a full peer");
    };
    assert_eq!(full.error(), Error::WouldBlock);
    assert_eq!(full.message().len(), 2, "the message comes back whole");
    assert_eq!(&full.message()[0], b"X");
    // Over tcp and ipc the connection keeps draining the pipe into the kernel's buffers, so only
    // inproc has exact counts.
    let inproc = matches!(transport, Transport::Inproc);
    if inproc {
        // inproc queues SNDHWM + RCVHWM.
        assert_eq!(sent, 2);
        router.set_sndtimeo(50).unwrap();
        assert_eq!(
            router.send(full.into_message()),
            Err(Error::WouldBlock),
            "a blocking send waits for room, up to SNDTIMEO"
        );
    }
    // Without MANDATORY, the full peer's messages are dropped.
    router.set_router_mandatory(false).unwrap();
    for _ in 0..10 {
        let mut m = Message::from(body.clone());
        m.push_front("X");
        router.try_send(m).expect("dropped, not refused");
    }
    let mut got = 0;
    dealer.set_rcvtimeo(QUIET_MS).unwrap();
    while dealer.recv().is_ok() {
        got += 1;
    }
    assert!(got >= sent, "the queued messages arrive ({got} of {sent})");
    if inproc {
        assert_eq!(got, sent, "the overflow was dropped");
    }
}

/// test_router_handover: with ROUTER_HANDOVER a new peer takes over a routing id in use.
fn router_handover(transport: Transport) {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
    router.set_router_handover(true).unwrap();
    let one = sock(&ctx, SocketType::Dealer);
    one.set_routing_id(b"X").unwrap();
    one.connect(&endpoint).unwrap();
    send(&one, &["Hello"]);
    expect(&router, &["X", "Hello"]);
    let two = sock(&ctx, SocketType::Dealer);
    two.set_routing_id(b"X").unwrap();
    two.connect(&endpoint).unwrap();
    send(&two, &["Hello 2"]);
    expect(&router, &["X", "Hello 2"]);
    send(&router, &["X", "Hello"]);
    expect(&two, &["Hello"]);
    quiet(&one);
}

/// test_router_handover without the option: the second peer with the same id is ignored.
fn router_without_handover(transport: Transport) {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
    let one = sock(&ctx, SocketType::Dealer);
    one.set_routing_id(b"X").unwrap();
    one.connect(&endpoint).unwrap();
    send(&one, &["Hello"]);
    expect(&router, &["X", "Hello"]);
    let two = sock(&ctx, SocketType::Dealer);
    two.set_routing_id(b"X").unwrap();
    two.connect(&endpoint).unwrap();
    send(&two, &["Hello 2"]);
    quiet(&router);
    send(&router, &["X", "Hello"]);
    expect(&one, &["Hello"]);
    quiet(&two);
}

/// When a peer goes away its routing id is free again: a new peer may take it.
fn router_id_free_after_peer_leaves(transport: Transport) {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router, transport);
    let one = sock(&ctx, SocketType::Dealer);
    one.set_routing_id(b"X").unwrap();
    one.connect(&endpoint).unwrap();
    send(&one, &["from one"]);
    expect(&router, &["X", "from one"]);
    drop(one);
    let two = sock(&ctx, SocketType::Dealer);
    two.set_routing_id(b"X").unwrap();
    two.connect(&endpoint).unwrap();
    // Until the ROUTER has seen the first peer go, the second one is refused and reconnects.
    send(&two, &["from two"]);
    expect(&router, &["X", "from two"]);
    send(&router, &["X", "back"]);
    expect(&two, &["back"]);
}

/// test_probe_router (ROUTER to ROUTER): the probe carries the client's id; the server's id
/// for the client is generated since the server set none.
fn router_probe_router(transport: Transport) {
    let ctx = Context::new();
    let (server, endpoint) = bound(&ctx, SocketType::Router, transport);
    let client = sock(&ctx, SocketType::Router);
    client.set_routing_id(b"X").unwrap();
    client.set_probe_router(true).unwrap();
    client.connect(&endpoint).unwrap();
    expect(&server, &["X", ""]);
    send(&server, &["X", "Hello"]);
    let got = client.recv().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), 5, "a generated id");
    assert_eq!(&got[1], b"Hello");
}

/// test_connect_rid (router to router): CONNECT_ROUTING_ID names the peer of the next connect,
/// so the connecting ROUTER can send at once.
fn router_connect_routing_id(transport: Transport, named: bool) {
    let ctx = Context::new();
    let rbind = sock(&ctx, SocketType::Router);
    let rconn = sock(&ctx, SocketType::Router);
    if named {
        rbind.set_routing_id(b"X").unwrap();
        rconn.set_routing_id(b"Y").unwrap();
    }
    rbind.bind(&transport.bind_spec()).unwrap();
    let endpoint = rbind.last_endpoint();
    rconn.set_connect_routing_id(b"conn1").unwrap();
    rconn.connect(&endpoint).unwrap();
    send(&rconn, &["conn1", "hi 1"]);
    let got = rbind.recv().unwrap();
    let id = got[0].to_vec();
    if named {
        assert_eq!(id, b"Y");
    } else {
        assert_eq!((id.len(), id[0]), (5, 0), "a generated id");
    }
    assert_eq!(&got[1], b"hi 1");
    let mut reply = msg(&["ok"]);
    reply.push_front(id);
    rbind.send(reply).unwrap();
    expect(&rconn, &["conn1", "ok"]);
}

fn router_connect_routing_id_unnamed(transport: Transport) {
    router_connect_routing_id(transport, false);
}

fn router_connect_routing_id_named(transport: Transport) {
    router_connect_routing_id(transport, true);
}

/// test_connect_rid (while receiving): a ROUTER that both accepts and connects routes by the
/// ids it assigned.
fn router_connect_routing_id_while_receiving(transport: Transport) {
    let ctx = Context::new();
    let xbind = sock(&ctx, SocketType::Router);
    let zbind = sock(&ctx, SocketType::Router);
    let yconn = sock(&ctx, SocketType::Router);
    xbind.set_routing_id(b"X").unwrap();
    yconn.set_routing_id(b"Y").unwrap();
    zbind.set_routing_id(b"Z").unwrap();
    xbind.bind(&transport.bind_spec()).unwrap();
    let x_endpoint = xbind.last_endpoint();
    zbind.bind(&transport.bind_spec()).unwrap();
    let z_endpoint = zbind.last_endpoint();
    yconn.set_connect_routing_id(b"X").unwrap();
    yconn.connect(&x_endpoint).unwrap();
    send(&yconn, &["X", "hi 1"]);
    expect(&xbind, &["Y", "hi 1"]);
    xbind.set_connect_routing_id(b"Z").unwrap();
    xbind.connect(&z_endpoint).unwrap();
    send(&xbind, &["Z", "hi 2"]);
    expect(&zbind, &["X", "hi 2"]);
    quiet(&yconn);
}

/// A ROUTER that connects learns its peer's id from the handshake, after `connect()` returned:
/// the id comes in-band and names the peer as soon as it has arrived.
fn router_learns_connected_peer_id(transport: Transport) {
    let ctx = Context::new();
    let endpoint = transport.fixed_endpoint();
    let client = sock(&ctx, SocketType::Router);
    client.set_routing_id(b"client").unwrap();
    client.set_router_mandatory(true).unwrap();
    client.connect(&endpoint).unwrap();
    let server = sock(&ctx, SocketType::Router);
    server.set_routing_id(b"server").unwrap();
    server.bind(&endpoint).unwrap();
    until_known(Error::HostUnreachable, || {
        client
            .try_send(msg(&["server", "hello"]))
            .map_err(Error::from)
    });
    expect(&server, &["client", "hello"]);
    send(&server, &["client", "hi"]);
    expect(&client, &["server", "hi"]);
}

/// Two REQs with the same routing id at one REP: as in libzmq (REP is a ROUTER underneath),
/// the second is ignored while the first is there.
#[test]
fn rep_ignores_a_duplicate_routing_id() {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, Transport::Inproc);
    let one = sock(&ctx, SocketType::Req);
    one.set_routing_id(b"same").unwrap();
    one.connect(&endpoint).unwrap();
    let two = sock(&ctx, SocketType::Req);
    two.set_routing_id(b"same").unwrap();
    two.connect(&endpoint).unwrap();
    send(&two, &["ignored"]);
    send(&one, &["served"]);
    expect(&rep, &["served"]);
    send(&rep, &["answer"]);
    expect(&one, &["answer"]);
    quiet(&rep);
}

#[test]
fn options_belong_to_their_socket_types() {
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    let router = ctx.socket(SocketType::Router).unwrap();
    let req = ctx.socket(SocketType::Req).unwrap();
    let rep = ctx.socket(SocketType::Rep).unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    assert_eq!(dealer.set_router_mandatory(true), Err(Error::Invalid));
    assert_eq!(dealer.set_req_correlate(true), Err(Error::Invalid));
    assert_eq!(dealer.set_probe_router(true), Ok(()));
    assert_eq!(router.set_req_relaxed(true), Err(Error::Invalid));
    assert_eq!(router.set_router_mandatory(true), Ok(()));
    assert_eq!(router.set_router_handover(true), Ok(()));
    assert_eq!(router.set_probe_router(true), Ok(()));
    assert_eq!(req.set_req_correlate(true), Ok(()));
    assert_eq!(req.set_req_relaxed(true), Ok(()));
    assert_eq!(req.set_probe_router(true), Ok(()));
    assert_eq!(req.set_router_mandatory(true), Err(Error::Invalid));
    assert_eq!(rep.set_req_correlate(true), Err(Error::Invalid));
    assert_eq!(push.set_probe_router(true), Err(Error::Invalid));
    // A negative value is invalid, as in libzmq.
    let minus_one = (-1i32).to_ne_bytes();
    let number = oxmq::option_number::ROUTER_MANDATORY;
    assert_eq!(
        router.set_option_raw(number, &minus_one),
        Err(Error::Invalid)
    );
    assert_eq!(router.set_option_raw(number, &[1]), Err(Error::Invalid));
    // CONNECT_ROUTING_ID: ROUTER and REP only, 1 to 255 bytes.
    assert_eq!(dealer.set_connect_routing_id(b"x"), Err(Error::Invalid));
    assert_eq!(req.set_connect_routing_id(b"x"), Err(Error::Invalid));
    assert_eq!(router.set_connect_routing_id(b""), Err(Error::Invalid));
    assert_eq!(
        router.set_connect_routing_id(&[7; 256]),
        Err(Error::Invalid)
    );
    assert_eq!(router.set_connect_routing_id(&[7; 255]), Ok(()));
    assert_eq!(rep.set_connect_routing_id(b"x"), Ok(()));
}

/// A CONNECT_ROUTING_ID that names a known peer is refused (libzmq aborts on it); it is used
/// up by the connect that took it.
#[test]
fn connect_routing_id_duplicate_is_refused_and_each_is_used_once() {
    let ctx = Context::new();
    let (a, a_endpoint) = bound(&ctx, SocketType::Router, Transport::Inproc);
    let (b, b_endpoint) = bound(&ctx, SocketType::Router, Transport::Inproc);
    let router = sock(&ctx, SocketType::Router);
    router.set_routing_id(b"me").unwrap();
    router.set_connect_routing_id(b"peer").unwrap();
    router.connect(&a_endpoint).unwrap();
    router.set_connect_routing_id(b"peer").unwrap();
    assert_eq!(router.connect(&b_endpoint), Err(Error::Invalid));
    // Still set: a different one replaces it, and the next connect takes it.
    router.set_connect_routing_id(b"other").unwrap();
    router.connect(&b_endpoint).unwrap();
    send(&router, &["peer", "to a"]);
    expect(&a, &["me", "to a"]);
    send(&router, &["other", "to b"]);
    expect(&b, &["me", "to b"]);
    // Used up: a third connect names its peer by the peer's own id.
    let c = sock(&ctx, SocketType::Router);
    c.set_routing_id(b"c").unwrap();
    let c_endpoint = common::inproc();
    c.bind(&c_endpoint).unwrap();
    router.connect(&c_endpoint).unwrap();
    send(&router, &["c", "to c"]);
    expect(&c, &["me", "to c"]);
}

per_transport! {
    req_round_robin => req_round_robin_out;
    req_format => req_message_format;
    req_listens_to_current_peer => req_only_listens_to_current_peer;
    req_correlated => req_correlate;
    req_relaxed_cases => req_relaxed;
    req_relaxed_queued_before_server => req_relaxed_requests_queued_before_the_server;
    rep_fair_queue => rep_fair_queue_in;
    rep_envelopes => rep_envelope;
    rep_malformed => rep_drops_malformed_requests;
    rep_connecting => rep_connects;
    dealer_round_robin => dealer_round_robin_out;
    dealer_fair_queue => dealer_fair_queue_in;
    dealer_probe => dealer_probe_router;
    router_fair_queue => router_fair_queue_in;
    router_generated_ids => router_generates_ids;
    router_mandatory_unknown => router_mandatory;
    router_mandatory_full => router_mandatory_hwm;
    router_handover_on => router_handover;
    router_handover_off => router_without_handover;
    router_id_reused => router_id_free_after_peer_leaves;
    router_probe => router_probe_router;
    router_connect_rid_unnamed => router_connect_routing_id_unnamed;
    router_connect_rid_named => router_connect_routing_id_named;
    router_connect_rid_while_receiving => router_connect_routing_id_while_receiving;
    router_connects_first => router_learns_connected_peer_id;
}
