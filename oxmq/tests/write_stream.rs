//! A socket that sends fast writes its connection itself, in batches ("streams", see the write
//! gate in the engine): what arrives is exactly what was sent, in order, whatever mix of small,
//! large and multi-part messages goes out, at whatever moment the sender stops, waits or
//! closes, and whether the receiver is oxmq or libzmq.

mod common;

use std::time::Duration;

use oxmq::{Context, Frame, Message, SocketType};

/// The `i`th message of a mixed run: mostly small (the ones a stream takes), now and then a
/// large one or a multi-part one (which take the pipe and end the stream).
fn mixed(i: u32) -> Vec<Vec<u8>> {
    let mut first = i.to_le_bytes().to_vec();
    if i % 997 == 0 {
        first.resize(2048, (i % 251) as u8);
        vec![first]
    } else if i % 499 == 0 {
        vec![first, b"second".to_vec(), vec![(i % 7) as u8; 300]]
    } else {
        first.resize(4 + (i % 61) as usize, (i % 251) as u8);
        vec![first]
    }
}

fn send_mixed(socket: &oxmq::Socket, i: u32) {
    let parts = mixed(i);
    if parts.len() == 1 {
        socket.send_bytes(&parts[0]).expect("send");
    } else {
        socket
            .send(Message::from_frames(parts.into_iter().map(Frame::from)))
            .expect("send");
    }
}

fn check_mixed(i: u32, got: &[Vec<u8>]) {
    assert_eq!(got, mixed(i).as_slice(), "message {i}");
}

const COUNT: u32 = 200_000;

/// Connects a PUSH (LINGER -1) to `endpoint` and sends [`COUNT`] mixed messages from a thread
/// of its own, closing it right after the last (which still delivers them all).
fn spawn_mixed_sender(ctx: &Context, endpoint: &str) -> std::thread::JoinHandle<()> {
    let push = common::socket(ctx, SocketType::Push);
    push.set_linger(-1).unwrap();
    push.connect(endpoint).unwrap();
    std::thread::spawn(move || {
        for i in 0..COUNT {
            send_mixed(&push, i);
        }
        drop(push);
    })
}

#[test]
fn mixed_messages_arrive_in_order_over_tcp_and_ipc() {
    for endpoint in [common::free_tcp_endpoint(), common::ipc_path()] {
        let ctx = Context::new();
        let pull = common::socket(&ctx, SocketType::Pull);
        pull.bind(&endpoint).unwrap();
        let sender = spawn_mixed_sender(&ctx, &pull.last_endpoint());
        pull.set_rcvtimeo(10_000).unwrap();
        for i in 0..COUNT {
            let msg = pull.recv().expect("every message arrives");
            let got: Vec<Vec<u8>> = msg.iter().map(|f| f.to_vec()).collect();
            check_mixed(i, &got);
        }
        sender.join().unwrap();
    }
}

#[test]
fn a_libzmq_receiver_reads_a_stream() {
    let zctx = zmq::Context::new();
    let pull = zctx.socket(zmq::PULL).unwrap();
    pull.set_rcvtimeo(10_000).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().expect("a UTF-8 endpoint");
    let ctx = Context::new();
    let sender = spawn_mixed_sender(&ctx, &endpoint);
    for i in 0..COUNT {
        let got = pull.recv_multipart(0).expect("every message arrives");
        check_mixed(i, &got);
    }
    sender.join().unwrap();
}

#[test]
fn a_burst_arrives_whole_while_the_sender_does_nothing() {
    let ctx = Context::new();
    let pull = common::socket(&ctx, SocketType::Pull);
    pull.bind(&common::ipc_path()).unwrap();
    let push = common::socket(&ctx, SocketType::Push);
    push.connect(&pull.last_endpoint()).unwrap();
    pull.set_rcvtimeo(10_000).unwrap();
    for round in 0..3u32 {
        for i in 0..20_000u32 {
            push.send_bytes(&(round * 20_000 + i).to_le_bytes())
                .unwrap();
        }
        // The sender neither sends, nor waits, nor closes: the tail of its stream still goes.
        for i in 0..20_000u32 {
            let msg = pull.recv().expect("the whole burst arrives");
            assert_eq!(msg[0], (round * 20_000 + i).to_le_bytes());
        }
    }
}

#[test]
fn requests_streamed_before_a_blocking_receive_are_all_answered() {
    let ctx = Context::new();
    let router = common::socket(&ctx, SocketType::Router);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = router.last_endpoint();
    let dealer = common::socket(&ctx, SocketType::Dealer);
    dealer.connect(&endpoint).unwrap();
    dealer.set_rcvtimeo(10_000).unwrap();
    let count = 50_000u32;
    let echo = std::thread::spawn(move || {
        router.set_rcvtimeo(10_000).unwrap();
        for _ in 0..count {
            let msg = router.recv().expect("a request");
            router.send(msg).unwrap();
        }
    });
    for i in 0..count {
        dealer.send_bytes(&i.to_le_bytes()).unwrap();
    }
    for i in 0..count {
        assert_eq!(dealer.recv().expect("a reply")[0], i.to_le_bytes());
    }
    echo.join().unwrap();
}

#[test]
fn non_blocking_sends_deliver_exactly_what_they_took() {
    let ctx = Context::new();
    let pull = common::socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(10).unwrap();
    pull.bind(&common::ipc_path()).unwrap();
    let push = common::socket(&ctx, SocketType::Push);
    push.set_sndhwm(10).unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    // Wait for the connection: a message sent before it is up queues in the pipe anyway.
    push.send_bytes(b"hello").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"hello"[..]);
    // The receiver does not read: the kernel's buffers fill, then the pipe, then sends fail.
    let mut taken = 0u32;
    let mut refused = 0;
    while refused < 1_000 {
        match push.try_send_bytes(&taken.to_le_bytes()) {
            Ok(()) => taken += 1,
            Err(oxmq::Error::WouldBlock) => {
                refused += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(err) => panic!("send: {err}"),
        }
        assert!(taken < 10_000_000, "the sends were never refused");
    }
    pull.set_rcvtimeo(5_000).unwrap();
    for i in 0..taken {
        assert_eq!(pull.recv().expect("a message taken")[0], i.to_le_bytes());
    }
    pull.set_rcvtimeo(200).unwrap();
    assert_eq!(
        pull.recv().err(),
        Some(oxmq::Error::WouldBlock),
        "nothing more"
    );
}
