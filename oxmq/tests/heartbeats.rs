//! ZMTP heartbeats (HEARTBEAT_IVL, HEARTBEAT_TTL, HEARTBEAT_TIMEOUT) against raw peers that
//! answer, ping or fall silent, and against libzmq.

mod common;

use std::time::{Duration, Instant};

use common::raw::{RawPeer, ping_body};
use common::wait_for_event;
use oxmq::{Context, EventKind, EventMask, Monitor, SocketType};

/// Waits for the connection's handshake to succeed.
fn expect_handshake(monitor: &Monitor) {
    assert!(
        wait_for_event(
            monitor,
            EventKind::HandshakeSucceeded,
            Duration::from_secs(5)
        )
        .is_some(),
        "no handshake"
    );
}

#[test]
fn a_silent_peer_is_dropped_after_the_heartbeat_timeout() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.set_heartbeat_ivl(100).unwrap();
    router.set_heartbeat_timeout(200).unwrap();
    let monitor = router.monitor(EventMask::ALL).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let mut peer = RawPeer::connect(&router.last_endpoint(), "DEALER", 1, None);
    expect_handshake(&monitor);

    // The PINGs come every interval and carry no TTL (none set).
    let first = peer.recv_frame(Duration::from_secs(5)).expect("a PING");
    assert!(first.is_command(), "{first:?}");
    assert_eq!(first.body, ping_body(0, b""));
    // Not answered: the connection goes within the interval plus the timeout.
    let lost = wait_for_event(&monitor, EventKind::Disconnected, Duration::from_secs(5))
        .expect("the silent peer is dropped");
    assert!(lost < Duration::from_millis(1500), "{lost:?}");
    assert!(peer.closed_within(Duration::from_secs(5)));
}

#[test]
fn a_peer_that_talks_is_kept() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.set_heartbeat_ivl(50).unwrap();
    // Room for a stalled test thread: the ticks below are the only traffic.
    router.set_heartbeat_timeout(500).unwrap();
    router.set_heartbeat_ttl(1000).unwrap();
    let monitor = router.monitor(EventMask::ALL).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let mut peer = RawPeer::connect(&router.last_endpoint(), "DEALER", 1, None);
    // The peer never answers a PING, but sends a message every 20 ms: any traffic counts.
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_millis(600) {
        peer.send_message(&[b"tick"]);
        while let Some(frame) = peer.recv_frame(Duration::from_millis(20)) {
            assert!(frame.is_command());
            // Our TTL, in deciseconds.
            assert_eq!(frame.body, ping_body(10, b""));
            pings += 1;
        }
    }
    assert!(pings >= 5, "{pings} PINGs in 600 ms at a 50 ms interval");
    let mut ticks = 0;
    while router.try_recv().is_ok() {
        ticks += 1;
    }
    assert!(ticks > 10);
    assert_eq!(
        monitor.try_recv().map(|e| e.kind),
        Some(EventKind::Listening)
    );
    assert_eq!(
        monitor.try_recv().map(|e| e.kind),
        Some(EventKind::Accepted)
    );
    assert_eq!(
        monitor.try_recv().map(|e| e.kind),
        Some(EventKind::HandshakeSucceeded)
    );
    assert!(monitor.try_recv().is_none(), "no disconnection");
}

#[test]
fn pings_are_answered_and_a_peers_ttl_is_kept() {
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    let monitor = dealer.monitor(EventMask::ALL).unwrap();
    dealer.bind("tcp://127.0.0.1:*").unwrap();
    let mut peer = RawPeer::connect(&dealer.last_endpoint(), "ROUTER", 1, None);
    expect_handshake(&monitor);

    // Two PINGs in one write: each gets its PONG, the context cut to 16 bytes.
    let mut both = common::raw::encode_frame(0x04, &ping_body(0, b"LOL"));
    both.extend(common::raw::encode_frame(0x04, &ping_body(0, &[b'z'; 58])));
    peer.write(&both);
    let pong = peer.recv_frame(Duration::from_secs(5)).expect("first PONG");
    assert_eq!(pong.body, b"\x04PONGLOL");
    let pong = peer
        .recv_frame(Duration::from_secs(5))
        .expect("second PONG");
    assert_eq!(pong.body, [&b"\x04PONG"[..], &[b'z'; 16]].concat());

    // A PING with a TTL of 3 deciseconds, then silence: dropped after about 300 ms, though
    // this socket has no heartbeats of its own.
    let sent = Instant::now();
    peer.send_command(&ping_body(3, b""));
    let _ = peer.recv_frame(Duration::from_secs(5)).expect("its PONG");
    assert!(wait_for_event(&monitor, EventKind::Disconnected, Duration::from_secs(5)).is_some());
    let lost = sent.elapsed();
    assert!(lost >= Duration::from_millis(300), "{lost:?}");
    assert!(lost < Duration::from_millis(2000), "{lost:?}");
}

#[test]
fn heartbeats_with_libzmq_keep_an_idle_connection() {
    // libzmq pings with a short timeout: oxmq must answer, or libzmq drops the connection.
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.set_heartbeat_ivl(100).unwrap();
    router.set_heartbeat_timeout(500).unwrap();
    let monitor = router.monitor(EventMask::ALL).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let lz = zmq::Context::new();
    let dealer = lz.socket(zmq::DEALER).unwrap();
    dealer.set_heartbeat_ivl(100).unwrap();
    dealer.set_heartbeat_timeout(300).unwrap();
    dealer.set_heartbeat_ttl(1000).unwrap();
    dealer.set_identity(b"lz").unwrap();
    dealer.connect(&router.last_endpoint()).unwrap();
    expect_handshake(&monitor);
    // Idle for many intervals and timeouts.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        monitor.try_recv().is_none(),
        "the idle connection stayed up"
    );
    dealer.send("still here", 0).unwrap();
    router.set_rcvtimeo(5000).unwrap();
    let msg = router.recv().unwrap();
    assert_eq!(msg[0], b"lz");
    assert_eq!(msg[1], b"still here");
    assert!(monitor.try_recv().is_none());
}

#[test]
fn heartbeat_options_follow_libzmq() {
    let ctx = Context::new();
    let pair = ctx.socket(SocketType::Pair).unwrap();
    assert_eq!(
        (
            pair.heartbeat_ivl(),
            pair.heartbeat_ttl(),
            pair.heartbeat_timeout()
        ),
        (0, 0, -1)
    );
    pair.set_heartbeat_ttl(6_553_599).unwrap();
    assert_eq!(pair.heartbeat_ttl(), 6_553_500);
    pair.set_heartbeat_ttl(99).unwrap();
    assert_eq!(pair.heartbeat_ttl(), 0);
    assert_eq!(pair.set_heartbeat_ttl(6_553_600), Err(oxmq::Error::Invalid));
    assert_eq!(pair.set_heartbeat_ivl(-1), Err(oxmq::Error::Invalid));
    assert_eq!(pair.set_heartbeat_timeout(-1), Err(oxmq::Error::Invalid));
}
