//! LINGER, context shutdown and termination, reconnects.

mod common;

use std::time::{Duration, Instant};

use common::{bound, free_tcp_endpoint, inproc, socket};
use oxmq::{Context, Error, SocketType};

#[test]
fn shutdown_wakes_blocked_calls_with_terminated() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind(&inproc()).unwrap();
    let waiter = std::thread::spawn(move || {
        let result = pull.recv().map(|_| ());
        (result, pull)
    });
    std::thread::sleep(Duration::from_millis(50));
    ctx.shutdown();
    let (result, pull) = waiter.join().unwrap();
    assert_eq!(result, Err(Error::Terminated));
    assert_eq!(pull.try_recv().map(|_| ()), Err(Error::Terminated));
    assert_eq!(
        ctx.socket(SocketType::Push).map(|_| ()),
        Err(Error::Terminated)
    );
}

#[test]
fn term_waits_for_sockets_to_close() {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(push);
    });
    let start = Instant::now();
    ctx.term();
    assert!(start.elapsed() >= Duration::from_millis(80));
    closer.join().unwrap();
}

#[test]
fn linger_bounds_the_wait_for_undeliverable_messages() {
    for linger in [0, 300] {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(linger).unwrap();
        push.connect(&free_tcp_endpoint()).unwrap();
        push.send("nobody will ever read this").unwrap();
        drop(push);
        let start = Instant::now();
        drop(ctx);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(linger as u64 * 9 / 10),
            "linger {linger}: {waited:?}"
        );
        assert!(
            waited < Duration::from_millis(linger as u64 + 2000),
            "linger {linger}: {waited:?}"
        );
    }
}

#[test]
fn messages_sent_before_close_are_delivered() {
    // The sender closes right after sending; with the default (infinite) LINGER, dropping its
    // context waits until all of them are out. libzmq can lose this tail over ipc (issue 4660).
    for endpoint in [common::ipc_path(), "tcp://127.0.0.1:*".to_owned()] {
        let rx_ctx = Context::new();
        let (pull, endpoint) = bound(&rx_ctx, SocketType::Pull, &endpoint);
        let sender = std::thread::spawn(move || {
            let ctx = Context::new();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.connect(&endpoint).unwrap();
            for i in 0..20_000u32 {
                push.send(i.to_le_bytes().to_vec()).unwrap();
            }
        });
        for i in 0..20_000u32 {
            let msg = pull.recv().unwrap();
            assert_eq!(msg[0], i.to_le_bytes());
        }
        sender.join().unwrap();
    }
}

#[test]
fn reconnects_after_the_peer_comes_back() {
    let ctx = Context::new();
    let endpoint = free_tcp_endpoint();
    let push = socket(&ctx, SocketType::Push);
    push.set_reconnect_ivl(20).unwrap();
    push.set_reconnect_ivl_max(200).unwrap();
    push.connect(&endpoint).unwrap();
    for round in 0..3 {
        let (pull, _) = bound(&ctx, SocketType::Pull, &endpoint);
        push.send(format!("round {round}")).unwrap();
        assert_eq!(pull.recv().unwrap()[0], format!("round {round}").as_bytes());
        pull.unbind(&endpoint).unwrap();
        drop(pull);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reconnect_ivl_minus_one_never_reconnects() {
    let ctx = Context::new();
    let push = socket(&ctx, SocketType::Pair);
    push.set_reconnect_ivl(-1).unwrap();
    let (pair, pair_endpoint) = bound(&ctx, SocketType::Pair, "tcp://127.0.0.1:*");
    push.connect(&pair_endpoint).unwrap();
    push.send("first").unwrap();
    assert_eq!(pair.recv().unwrap()[0], b"first");
    pair.unbind(&pair_endpoint).unwrap();
    drop(pair);
    std::thread::sleep(Duration::from_millis(100));
    let (again, _) = bound(&ctx, SocketType::Pair, &pair_endpoint);
    again.set_rcvtimeo(300).unwrap();
    let _ = push.try_send("second");
    assert_eq!(
        again.recv().map(|_| ()),
        Err(Error::WouldBlock),
        "it reconnected"
    );
}

#[test]
fn handshake_timeout_drops_a_silent_peer() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_handshake_ivl(100).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let addr = pull.last_endpoint().trim_start_matches("tcp://").to_owned();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match std::io::Read::read(&mut raw, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(80) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[test]
fn routing_id_is_sent_in_ready() {
    // A raw ZMTP peer reads oxmq's READY and finds the Identity property.
    let ctx = Context::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_routing_id(b"worker-7").unwrap();
    assert_eq!(push.set_routing_id(b""), Err(Error::Invalid));
    assert_eq!(push.set_routing_id(b"\0bad"), Err(Error::Invalid));
    push.connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .unwrap();
    let (mut raw, _) = listener.accept().unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut greeting =
        oxmq::proto::greeting::Greeting::new(oxmq::proto::greeting::MechanismName::NULL, false)
            .encode()
            .to_vec();
    let mut ready = Vec::new();
    oxmq::proto::command::Command::Ready({
        let mut md = oxmq::proto::metadata::Metadata::new();
        md.insert("Socket-Type", "PULL");
        md
    })
    .encode(&mut ready);
    greeting.extend_from_slice(&ready);
    std::io::Write::write_all(&mut raw, &greeting).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 512];
    while !received.windows(8).any(|w| w == b"worker-7") {
        let n = std::io::Read::read(&mut raw, &mut buf).unwrap();
        assert!(n > 0, "closed before READY");
        received.extend_from_slice(&buf[..n]);
    }
    assert!(received.windows(8).any(|w| w == b"Identity"));
}

/// A raw ZMTP peer of `socket_type` that has completed the NULL handshake.
fn raw_peer(endpoint: &str, socket_type: &str) -> std::net::TcpStream {
    use oxmq::proto::command::Command;
    use oxmq::proto::greeting::{Greeting, MechanismName};
    use oxmq::proto::metadata::Metadata;
    let mut raw = std::net::TcpStream::connect(endpoint.trim_start_matches("tcp://")).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut hello = Greeting::new(MechanismName::NULL, false).encode().to_vec();
    let mut md = Metadata::new();
    md.insert("Socket-Type", socket_type.to_owned());
    Command::Ready(md).encode(&mut hello);
    std::io::Write::write_all(&mut raw, &hello).unwrap();
    // oxmq's greeting (64 bytes) and READY (a short command frame).
    let mut reply = [0u8; 64 + 2];
    std::io::Read::read_exact(&mut raw, &mut reply).unwrap();
    let mut body = vec![0u8; reply[65] as usize];
    std::io::Read::read_exact(&mut raw, &mut body).unwrap();
    raw
}

#[test]
fn a_peer_closing_right_after_its_last_message_is_noticed() {
    // The last message and the end of the stream arrive together: PAIR must still notice the
    // peer is gone and accept the next one.
    let ctx = Context::new();
    let (pair, endpoint) = bound(&ctx, SocketType::Pair, "tcp://127.0.0.1:*");
    for round in 0..20u8 {
        let mut raw = raw_peer(&endpoint, "PAIR");
        std::io::Write::write_all(&mut raw, &[0, 2, b'h', round]).unwrap();
        raw.shutdown(std::net::Shutdown::Both).unwrap();
        drop(raw);
        assert_eq!(pair.recv().unwrap()[0], [b'h', round]);
        std::thread::sleep(Duration::from_millis(300));
    }
    let next = socket(&ctx, SocketType::Pair);
    next.connect(&endpoint).unwrap();
    next.send("still served").unwrap();
    assert_eq!(pair.recv().unwrap()[0], b"still served");
}
