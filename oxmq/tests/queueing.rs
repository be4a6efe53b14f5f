//! High-water marks, non-blocking calls, timeouts, IMMEDIATE, MAXMSGSIZE.

mod common;

use std::time::{Duration, Instant};

use common::{bound, inproc, socket};
use oxmq::{Context, Error, SocketType};

/// Sends `size`-byte messages until the socket would block; returns how many went.
fn fill(push: &oxmq::Socket, size: usize) -> usize {
    let payload = vec![7u8; size];
    let mut sent = 0;
    loop {
        match push.try_send(&payload[..]).map_err(|e| e.error()) {
            Ok(()) => sent += 1,
            Err(Error::WouldBlock) => {
                // Let queued messages move down the pipeline, then try again once.
                std::thread::sleep(Duration::from_millis(100));
                match push.try_send(&payload[..]).map_err(|e| e.error()) {
                    Ok(()) => sent += 1,
                    Err(Error::WouldBlock) => return sent,
                    Err(e) => panic!("{e}"),
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn inproc_queue_holds_sndhwm_plus_rcvhwm() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(30).unwrap();
    let endpoint = inproc();
    pull.bind(&endpoint).unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(20).unwrap();
    push.connect(&endpoint).unwrap();
    assert_eq!(fill(&push, 1), 50);
    for _ in 0..50 {
        pull.recv().unwrap();
    }
    assert_eq!(pull.try_recv().map(|_| ()), Err(Error::WouldBlock));
}

/// Sends empty messages without blocking until the socket would block (at most `limit`);
/// returns how many went. For inproc, where nothing moves the queue but the receiver.
fn fill_now(push: &oxmq::Socket, limit: usize) -> usize {
    let mut sent = 0;
    while sent < limit {
        match push.try_send_bytes(b"") {
            Ok(()) => sent += 1,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
    }
    sent
}

/// Receives without blocking until nothing is left; returns how many came.
fn drain_now(pull: &oxmq::Socket) -> usize {
    let mut received = 0;
    while pull.try_recv().is_ok() {
        received += 1;
    }
    received
}

#[test]
fn inproc_connect_before_bind_adds_the_binders_hwm() {
    // libzmq's test_hwm (connect first): until the bind the queue holds the connecter's SNDHWM
    // alone; the bind adds the binder's RCVHWM, and 0 on either side is unlimited.
    let cases = [
        (1, 0, 1, 10_000),
        (0, 1, 10_000, 10_000),
        (1, 1, 1, 2),
        (3, 4, 3, 7),
    ];
    for (sndhwm, rcvhwm, before_bind, expected) in cases {
        let ctx = Context::new();
        let endpoint = inproc();
        let push = socket(&ctx, SocketType::Push);
        push.set_sndhwm(sndhwm).unwrap();
        push.connect(&endpoint).unwrap();
        let early = fill_now(&push, 10_000);
        assert_eq!(early, before_bind, "SNDHWM {sndhwm} before the bind");
        let pull = socket(&ctx, SocketType::Pull);
        pull.set_rcvhwm(rcvhwm).unwrap();
        pull.bind(&endpoint).unwrap();
        let sent = early + fill_now(&push, 10_000 - early);
        assert_eq!(sent, expected, "SNDHWM {sndhwm} + RCVHWM {rcvhwm}");
        assert_eq!(drain_now(&pull), sent);
        // There is room again.
        push.try_send_bytes(b"").unwrap();
        pull.try_recv().unwrap();
    }
}

#[test]
fn what_a_connecter_closed_before_the_bind_sent_is_delivered() {
    // libzmq's test_hwm (test_infinite_recv_connect_and_close_first) and test_inproc_connect
    // (test_multiple_threads): the connecter's queue waits for the bind even when the
    // connecter is closed.
    let ctx = Context::new();
    let endpoint = inproc();
    for _ in 0..3 {
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        push.try_send_bytes(b"early").unwrap();
        drop(push);
    }
    // Closing another socket must not lose them either.
    drop(socket(&ctx, SocketType::Pair));
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(0).unwrap();
    pull.bind(&endpoint).unwrap();
    for _ in 0..3 {
        pull.recv().unwrap();
    }
    assert_eq!(pull.try_recv().map(|_| ()), Err(Error::WouldBlock));
}

#[test]
fn hwm_changes_apply_to_existing_peers() {
    // libzmq's test_sockopt_hwm.
    let ctx = Context::new();
    // Set before the connection is complete (connect first): 2 + 2.
    let endpoint = inproc();
    let push = socket(&ctx, SocketType::Push);
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(2).unwrap();
    push.set_sndhwm(2).unwrap();
    pull.connect(&endpoint).unwrap();
    push.bind(&endpoint).unwrap();
    assert_eq!(fill_now(&push, 10_000), 4);
    // Raised after: 5 + 1 (a raise makes room at once).
    let endpoint = inproc();
    let push = socket(&ctx, SocketType::Push);
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(1).unwrap();
    push.set_sndhwm(1).unwrap();
    pull.connect(&endpoint).unwrap();
    push.bind(&endpoint).unwrap();
    assert_eq!(fill_now(&push, 10_000), 2);
    push.set_sndhwm(5).unwrap();
    assert_eq!(push.sndhwm(), 5);
    assert_eq!(fill_now(&push, 10_000), 4, "6 in all");
    // The receiver's side too: 5 + 3.
    pull.set_rcvhwm(3).unwrap();
    assert_eq!(fill_now(&push, 10_000), 2, "8 in all");
    assert_eq!(drain_now(&pull), 8);
    // Lowered when full (bind first): nothing queued is lost, and the new bound holds after.
    let endpoint = inproc();
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(100).unwrap();
    push.bind(&endpoint).unwrap();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(1).unwrap();
    pull.connect(&endpoint).unwrap();
    assert_eq!(fill_now(&push, 10_000), 101);
    push.set_sndhwm(70).unwrap();
    assert_eq!(drain_now(&pull), 101);
    assert_eq!(fill_now(&push, 10_000), 71);
    // Unlimited.
    push.set_sndhwm(0).unwrap();
    assert_eq!(fill_now(&push, 10_000), 10_000, "no bound");
}

#[test]
fn a_raised_hwm_wakes_a_blocked_sender() {
    let ctx = Context::new();
    let endpoint = inproc();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(1).unwrap();
    pull.bind(&endpoint).unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(1).unwrap();
    push.connect(&endpoint).unwrap();
    let sent = fill_now(&push, 10_000);
    assert_eq!(sent, 2);
    let sender = std::thread::spawn(move || {
        push.send("blocked").unwrap();
        push
    });
    // Most likely the sender waits by now (if not, it finds the room at once).
    std::thread::sleep(Duration::from_millis(50));
    // Raising the receiver's RCVHWM makes room in the sender's queue: the sender wakes
    // without a message being read.
    pull.set_rcvhwm(2).unwrap();
    let push = sender.join().unwrap();
    assert_eq!(drain_now(&pull), sent + 1);
    drop(push);
}

#[test]
fn tcp_queue_is_bounded_by_the_high_water_marks() {
    let ctx = Context::new();
    let (pull, endpoint) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    pull.set_rcvhwm(10).unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(10).unwrap();
    push.connect(&endpoint).unwrap();
    // The connections a bind accepts use the HWMs the socket had when it bound (as in libzmq),
    // the default 1000 here; the kernel buffers hold some more. Bounded, not exact.
    // Large messages fill the kernel buffers quickly.
    let sent = fill(&push, 64 * 1024);
    assert!(sent >= 10, "{sent}");
    assert!(sent < 1010 + 2000, "the queue never filled: {sent}");
    pull.set_rcvtimeo(300).unwrap();
    let mut received = 0;
    while pull.recv().is_ok() {
        received += 1;
    }
    assert_eq!(received, sent, "every message that was accepted arrives");
}

#[test]
fn send_blocks_at_the_hwm_until_the_peer_reads() {
    let ctx = Context::new();
    let endpoint = inproc();
    let (pull, _) = bound(&ctx, SocketType::Pull, &endpoint);
    pull.set_rcvhwm(1).unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(1).unwrap();
    push.set_sndtimeo(-1).unwrap();
    push.connect(&endpoint).unwrap();
    let filled = fill(&push, 1);
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..=filled {
            pull.recv().unwrap();
        }
        pull
    });
    let start = Instant::now();
    push.send("blocked until read").unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "send did not block"
    );
    drop(reader.join().unwrap());
}

#[test]
fn timeouts_and_non_blocking_calls() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.bind(&inproc()).unwrap();
    assert_eq!(pull.try_recv().map(|_| ()), Err(Error::WouldBlock));
    pull.set_rcvtimeo(50).unwrap();
    let start = Instant::now();
    assert_eq!(pull.recv().map(|_| ()), Err(Error::WouldBlock));
    assert!(start.elapsed() >= Duration::from_millis(40));

    // PUSH with no peer at all: blocks, so a send timeout expires.
    let push = socket(&ctx, SocketType::Push);
    push.set_sndtimeo(50).unwrap();
    assert_eq!(push.send("nobody"), Err(Error::WouldBlock));
    assert_eq!(
        push.try_send("nobody").map_err(|e| e.error()),
        Err(Error::WouldBlock)
    );
    assert_eq!(push.set_sndtimeo(-2), Err(Error::Invalid));
    assert_eq!(push.set_sndhwm(-1), Err(Error::Invalid));
}

#[test]
fn without_immediate_messages_queue_for_unreachable_peers() {
    // libzmq's test_immediate: PUSH connected to one dead and one live endpoint delivers half.
    let ctx = Context::new();
    let (pull, live) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    let dead = common::free_tcp_endpoint();
    let push = socket(&ctx, SocketType::Push);
    push.set_linger(0).unwrap();
    push.connect(&dead).unwrap();
    push.connect(&live).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..10 {
        push.send(format!("{i}")).unwrap();
    }
    pull.set_rcvtimeo(300).unwrap();
    let mut got = 0;
    while pull.recv().is_ok() {
        got += 1;
    }
    assert_eq!(got, 5);
}

#[test]
fn with_immediate_only_connected_peers_get_messages() {
    let ctx = Context::new();
    let (pull, live) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    let dead = common::free_tcp_endpoint();
    let push = socket(&ctx, SocketType::Push);
    push.set_immediate(true).unwrap();
    push.set_linger(0).unwrap();
    push.connect(&dead).unwrap();
    // Before any connection completes, there is nowhere to send.
    assert_eq!(
        push.try_send("too early").map_err(|e| e.error()),
        Err(Error::WouldBlock)
    );
    push.connect(&live).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..10 {
        push.send(format!("{i}")).unwrap();
    }
    for _ in 0..10 {
        pull.recv().unwrap();
    }
}

#[test]
fn maxmsgsize_drops_the_offending_peer_only() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_maxmsgsize(100).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.last_endpoint();
    let big = socket(&ctx, SocketType::Push);
    big.set_reconnect_ivl(-1).unwrap();
    big.connect(&endpoint).unwrap();
    big.send(vec![0u8; 101]).unwrap();
    let small = socket(&ctx, SocketType::Push);
    small.connect(&endpoint).unwrap();
    small.send(vec![1u8; 100]).unwrap();
    let msg = pull.recv().unwrap();
    assert_eq!(msg[0].len(), 100);
    pull.set_rcvtimeo(200).unwrap();
    assert_eq!(pull.recv().map(|_| ()), Err(Error::WouldBlock));
}

/// `send_bytes` (the copy-in path `zmq_send` takes) queues, blocks and fails exactly as `send`
/// does, for the types that copy straight into a pipe and for those that go through a message.
#[test]
fn send_bytes_behaves_like_send() {
    let ctx = Context::new();

    // At the high-water marks: as many messages fit as with `try_send`, then WouldBlock, and a
    // blocking send gives up at SNDTIMEO.
    for via_bytes in [false, true] {
        let endpoint = inproc();
        let pull = socket(&ctx, SocketType::Pull);
        pull.set_rcvhwm(5).unwrap();
        pull.bind(&endpoint).unwrap();
        let push = socket(&ctx, SocketType::Push);
        push.set_sndhwm(3).unwrap();
        push.set_sndtimeo(30).unwrap();
        push.connect(&endpoint).unwrap();
        let mut sent = 0;
        loop {
            let result = if via_bytes {
                push.try_send_bytes(b"x")
            } else {
                push.try_send(&b"x"[..]).map_err(|e| e.error())
            };
            match result {
                Ok(()) => sent += 1,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(sent, 8, "SNDHWM 3 + RCVHWM 5 (bytes: {via_bytes})");
        assert_eq!(push.send_bytes(b"late"), Err(Error::WouldBlock));
        for _ in 0..sent {
            assert_eq!(pull.recv().unwrap()[0], b"x");
        }
    }

    // Small and large messages over tcp, from each kind of sender, arrive whole and in order.
    let large = vec![9u8; 100_000];
    for (sender, receiver) in [
        (SocketType::Push, SocketType::Pull),
        (SocketType::Pair, SocketType::Pair),
        (SocketType::Dealer, SocketType::Dealer),
        (SocketType::Pub, SocketType::Sub),
    ] {
        let (rx, endpoint) = bound(&ctx, receiver, "tcp://127.0.0.1:*");
        if receiver == SocketType::Sub {
            rx.subscribe(b"").unwrap();
        }
        let tx = socket(&ctx, sender);
        tx.connect(&endpoint).unwrap();
        if sender == SocketType::Pub {
            // Wait until the subscription reached the publisher.
            let start = Instant::now();
            loop {
                tx.send_bytes(b"probe").unwrap();
                if rx.try_recv().is_ok() || start.elapsed() > Duration::from_secs(5) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        for round in 0..100u8 {
            tx.send_bytes(&[round; 3]).unwrap();
            tx.send_bytes(&large).unwrap();
        }
        // Probes still in flight come first.
        let mut next = rx.recv().unwrap();
        while next[0] == b"probe" {
            next = rx.recv().unwrap();
        }
        for round in 0..100u8 {
            assert_eq!(next[0], [round; 3], "{sender:?}");
            assert_eq!(rx.recv().unwrap()[0], large[..], "{sender:?}");
            if round < 99 {
                next = rx.recv().unwrap();
            }
        }
    }

    // Replies right after a receive go straight to an idle connection (the direct write): a
    // small one whole, a large one cut short by the kernel with the rest sent by the I/O
    // thread; both arrive intact and in order, round after round.
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    for endpoint in ["tcp://127.0.0.1:*", "ipc://*"] {
        let (server, endpoint) = bound(&ctx, SocketType::Pair, endpoint);
        let client = socket(&ctx, SocketType::Pair);
        client.connect(&endpoint).unwrap();
        for round in 0..20u8 {
            client.send_bytes(&[round]).unwrap();
            assert_eq!(server.recv().unwrap()[0], [round]);
            if round % 5 == 0 {
                server.send_bytes(&big).unwrap();
            }
            server.send_bytes(&[round, round]).unwrap();
            if round % 5 == 0 {
                assert_eq!(client.recv().unwrap()[0], big[..], "{endpoint}");
            }
            assert_eq!(client.recv().unwrap()[0], [round, round], "{endpoint}");
        }
    }

    // A type whose send has rules keeps them: REQ alternates, PULL cannot send.
    let (rep, endpoint) = bound(&ctx, SocketType::Rep, &inproc());
    let req = socket(&ctx, SocketType::Req);
    req.connect(&endpoint).unwrap();
    req.send_bytes(b"question").unwrap();
    assert_eq!(req.send_bytes(b"again"), Err(Error::InvalidState));
    assert_eq!(rep.recv().unwrap()[0], b"question");
    rep.send_bytes(b"answer").unwrap();
    assert_eq!(req.recv().unwrap()[0], b"answer");
    let pull = socket(&ctx, SocketType::Pull);
    assert_eq!(pull.send_bytes(b"no"), Err(Error::NotSupported));
}
