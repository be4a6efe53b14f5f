//! PUSH load-balances, PULL fair-queues, PAIR stays exclusive, multi-part messages are atomic.

mod common;

use std::time::Duration;

use common::{bind_endpoints, bound, socket};
use oxmq::{Context, Error, Message, SocketType};

#[test]
fn push_round_robins_over_its_peers() {
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        let (push, endpoint) = bound(&ctx, SocketType::Push, &endpoint);
        let pulls: Vec<_> = (0..3)
            .map(|_| {
                let pull = socket(&ctx, SocketType::Pull);
                pull.connect(&endpoint).unwrap();
                pull
            })
            .collect();
        // Wait until all three peers are attached: each must be able to receive.
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..30 {
            push.send(format!("{i}")).unwrap();
        }
        for pull in &pulls {
            pull.set_rcvtimeo(300).unwrap();
            let mut got = 0;
            while pull.recv().is_ok() {
                got += 1;
            }
            assert_eq!(got, 10, "{endpoint}: a peer got {got} of 30");
        }
    }
}

#[test]
fn pull_fair_queues_busy_peers() {
    let ctx = Context::new();
    let (pull, endpoint) = bound(&ctx, SocketType::Pull, &common::inproc());
    let a = socket(&ctx, SocketType::Push);
    let b = socket(&ctx, SocketType::Push);
    a.connect(&endpoint).unwrap();
    b.connect(&endpoint).unwrap();
    for _ in 0..100 {
        a.send("a").unwrap();
    }
    for _ in 0..10 {
        b.send("b").unwrap();
    }
    // The first 20 messages alternate between the two peers instead of draining `a` first.
    let first: Vec<u8> = (0..20).map(|_| pull.recv().unwrap()[0][0]).collect();
    assert_eq!(
        first.iter().filter(|&&c| c == b'b').count(),
        10,
        "{:?}",
        String::from_utf8_lossy(&first)
    );
}

#[test]
fn pair_refuses_a_second_peer() {
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        let (a, endpoint) = bound(&ctx, SocketType::Pair, &endpoint);
        let b = socket(&ctx, SocketType::Pair);
        b.connect(&endpoint).unwrap();
        b.send("first").unwrap();
        assert_eq!(a.recv().unwrap()[0], b"first");
        let intruder = socket(&ctx, SocketType::Pair);
        intruder.connect(&endpoint).unwrap();
        let _ = intruder.try_send("intruder");
        b.send("second").unwrap();
        assert_eq!(a.recv().unwrap()[0], b"second", "{endpoint}");
        a.set_rcvtimeo(200).unwrap();
        assert_eq!(
            a.recv().map(|_| ()),
            Err(Error::WouldBlock),
            "{endpoint}: the intruder got through"
        );
    }
}

#[test]
fn multipart_messages_arrive_whole_and_in_order() {
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        let (pull, endpoint) = bound(&ctx, SocketType::Pull, &endpoint);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        let sizes = [0usize, 1, 70, 71, 255, 256, 8191, 8192, 100_000];
        for round in 0..50u32 {
            let frames: Vec<Vec<u8>> = sizes
                .iter()
                .map(|&n| vec![(round % 251) as u8; n])
                .collect();
            push.send(Message::from_frames(frames)).unwrap();
        }
        for round in 0..50u32 {
            let msg = pull.recv().unwrap();
            assert_eq!(msg.len(), sizes.len());
            for (frame, &n) in msg.iter().zip(&sizes) {
                assert_eq!(frame.len(), n);
                assert!(
                    frame.iter().all(|&b| b == (round % 251) as u8),
                    "{endpoint}: round {round}"
                );
            }
        }
    }
}

#[test]
fn replies_after_a_receive_stay_in_order_with_what_follows() {
    // After a receive, the first send may be written directly from the caller's thread while
    // the ones after it go through the pipe and the I/O thread: the peer must see them in order.
    let ctx = Context::new();
    for endpoint in [common::ipc_path(), "tcp://127.0.0.1:*".to_owned()] {
        let (a, endpoint) = bound(&ctx, SocketType::Pair, &endpoint);
        let b = socket(&ctx, SocketType::Pair);
        b.connect(&endpoint).unwrap();
        for round in 0..200u32 {
            b.send(round.to_le_bytes().to_vec()).unwrap();
            assert_eq!(a.recv().unwrap()[0], round.to_le_bytes());
            let burst = 1 + round % 50;
            for i in 0..burst {
                let size = if i % 7 == 0 { 9000 } else { 8 };
                let mut body = vec![0u8; size];
                body[..4].copy_from_slice(&round.to_le_bytes());
                body[4..8].copy_from_slice(&i.to_le_bytes());
                a.send(Message::from_frames([body, b"tail".to_vec()]))
                    .unwrap();
            }
            for i in 0..burst {
                let msg = b.recv().unwrap();
                assert_eq!(&msg[0][..4], round.to_le_bytes(), "{endpoint}");
                assert_eq!(&msg[0][4..8], i.to_le_bytes(), "{endpoint}: round {round}");
                assert_eq!(msg[1], b"tail");
            }
        }
    }
}
