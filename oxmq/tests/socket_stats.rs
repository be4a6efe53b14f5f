//! What a socket counts: messages sent and received, queued, and dropped by reason (a full
//! queue, no such peer, a message naming no peer), per socket and per peer, over inproc and
//! tcp with a libzmq peer.

use std::time::Duration;

use oxmq::{Context, Message, SocketType};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_pub_counts_what_a_slow_subscriber_missed() {
    let ctx = Context::new();
    let publisher = ctx.socket(SocketType::Pub).unwrap();
    publisher.set_sndhwm(10).unwrap();
    publisher.bind("inproc://stats-pub").unwrap();
    let slow = ctx.socket(SocketType::Sub).unwrap();
    slow.set_rcvhwm(10).unwrap();
    slow.subscribe(b"").unwrap();
    slow.connect("inproc://stats-pub").unwrap();
    // The subscription reaches the PUB with its next look at its peers.
    let deadline = std::time::Instant::now() + WAIT;
    while publisher.peer_stats().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    for i in 0..100u32 {
        publisher.send(i.to_be_bytes().as_slice()).unwrap();
    }
    let stats = publisher.stats();
    assert_eq!(stats.sent, 100, "each send counts once");
    // An inproc pipe holds SNDHWM + RCVHWM: 20 got through, 80 were dropped.
    assert_eq!(stats.dropped.high_water_mark, 80, "{stats:?}");
    assert_eq!(stats.queued_out, 20);
    let peers = publisher.peer_stats();
    assert_eq!(peers.len(), 1);
    assert_eq!((peers[0].sent, peers[0].dropped), (20, 80));
    // The subscriber counts what it got.
    for _ in 0..20 {
        slow.recv().unwrap();
    }
    let got = slow.stats();
    assert_eq!((got.received, got.queued_in), (20, 0));
    assert_eq!(slow.peer_stats()[0].received, 20);
}

#[test]
fn a_router_counts_no_route_and_unroutable_messages() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let zctx = zmq::Context::new();
    let dealer = zctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"known").unwrap();
    dealer.connect(&router.last_endpoint()).unwrap();
    dealer.send("hi", 0).unwrap();
    router.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    assert_eq!(router.recv().unwrap()[0], b"known"[..]);
    router
        .send(Message::from_frames(["known", "reply"]))
        .unwrap();
    router
        .send(Message::from_frames(["nobody", "lost"]))
        .unwrap();
    router
        .send(Message::from_frames(Vec::<Vec<u8>>::new()))
        .unwrap();
    dealer.set_rcvtimeo(10_000).unwrap();
    assert_eq!(dealer.recv_bytes(0).unwrap(), b"reply");
    let stats = router.stats();
    assert_eq!((stats.sent, stats.received), (3, 1));
    assert_eq!(stats.dropped.no_route, 1);
    assert_eq!(stats.dropped.unroutable, 1);
    assert_eq!(stats.dropped.high_water_mark, 0);
    assert_eq!(stats.dropped.total(), 2);
    let peers = router.peer_stats();
    assert_eq!(peers.len(), 1);
    assert_eq!((peers[0].sent, peers[0].received), (1, 1), "{peers:?}");
}
