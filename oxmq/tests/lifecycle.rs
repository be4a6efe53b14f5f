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
    // The lost connection's peer left the PAIR (as in libzmq), so connecting again works.
    push.connect(&pair_endpoint).unwrap();
    again.set_rcvtimeo(5000).unwrap();
    push.send("third").unwrap();
    assert_eq!(again.recv().unwrap()[0], b"third");
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
    let mut raw = std::net::TcpStream::connect(endpoint.trim_start_matches("tcp://")).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    zmtp_hello(&mut raw, socket_type);
    raw
}

/// A raw ZMTP peer over ipc (a filesystem path endpoint) that has completed the handshake.
fn raw_ipc_peer(endpoint: &str, socket_type: &str) -> std::os::unix::net::UnixStream {
    let mut raw =
        std::os::unix::net::UnixStream::connect(endpoint.trim_start_matches("ipc://")).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    zmtp_hello(&mut raw, socket_type);
    raw
}

/// Sends the greeting and READY of a `socket_type` and reads oxmq's.
fn zmtp_hello<S: std::io::Read + std::io::Write>(raw: &mut S, socket_type: &str) {
    use oxmq::proto::command::Command;
    use oxmq::proto::greeting::{Greeting, MechanismName};
    use oxmq::proto::metadata::Metadata;
    let mut hello = Greeting::new(MechanismName::NULL, false).encode().to_vec();
    let mut md = Metadata::new();
    md.insert("Socket-Type", socket_type.to_owned());
    Command::Ready(md).encode(&mut hello);
    raw.write_all(&hello).unwrap();
    // oxmq's greeting (64 bytes) and READY (a short command frame).
    let mut reply = [0u8; 64 + 2];
    raw.read_exact(&mut reply).unwrap();
    let mut body = vec![0u8; reply[65] as usize];
    raw.read_exact(&mut body).unwrap();
}

/// A PUSH bound over ipc with LINGER `linger`, a raw PULL peer connected to it, and `count`
/// messages of 1000 bytes sent (and given time to be written).
fn push_with_raw_ipc_peer(
    linger: i32,
    count: usize,
) -> (Context, oxmq::Socket, std::os::unix::net::UnixStream) {
    let ctx = Context::new();
    let (push, endpoint) = bound(&ctx, SocketType::Push, &common::ipc_path());
    push.set_linger(linger).unwrap();
    let raw = raw_ipc_peer(&endpoint, "PULL");
    for _ in 0..count {
        push.send(vec![7u8; 1000]).unwrap();
    }
    // Let the I/O thread write them all: what follows measures only the wait for the peer.
    std::thread::sleep(Duration::from_millis(100));
    (ctx, push, raw)
}

#[test]
fn close_waits_within_linger_for_the_peer_to_read() {
    // Everything is written, but the peer has not read it: a close() now would make an ipc peer
    // see a hang-up before the data (libzmq then drops it, issue 4660). The close waits for the
    // peer, within LINGER, and the peer still reads everything, then the end of the stream.
    for linger in [0, 300] {
        let (ctx, push, mut raw) = push_with_raw_ipc_peer(linger, 50);
        drop(push);
        let start = Instant::now();
        drop(ctx);
        let waited = start.elapsed();
        if linger == 0 {
            assert!(waited < Duration::from_millis(200), "linger 0: {waited:?}");
        } else {
            assert!(
                waited >= Duration::from_millis(270),
                "linger {linger}: {waited:?}"
            );
            assert!(
                waited < Duration::from_millis(2300),
                "linger {linger}: {waited:?}"
            );
        }
        let mut received = Vec::new();
        std::io::Read::read_to_end(&mut raw, &mut received).unwrap();
        assert!(
            received.len() >= 50 * 1000,
            "linger {linger}: {}",
            received.len()
        );
    }
}

#[test]
fn close_ends_once_the_peer_has_read_everything() {
    // With LINGER -1 the close waits for the peer to take what was written, not for it to close:
    // a peer that read everything (and saw the end of the stream) but keeps its end open does not
    // hold the context's termination.
    let (ctx, push, mut raw) = push_with_raw_ipc_peer(-1, 50);
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut received = Vec::new();
        std::io::Read::read_to_end(&mut raw, &mut received).unwrap();
        got_tx.send(received.len()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
        drop(raw);
    });
    drop(push);
    let start = Instant::now();
    drop(ctx);
    let waited = start.elapsed();
    let received = got_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    release_tx.send(()).unwrap();
    reader.join().unwrap();
    assert!(waited < Duration::from_millis(1000), "{waited:?}");
    assert!(received >= 50 * 1000, "{received}");
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

/// A signal handler that runs while a receive blocks ends it with `Error::Interrupted` (EINTR,
/// as in libzmq), so that a program's Ctrl-C handler gets to run; a receive with a timeout is
/// interrupted the same way.
#[test]
fn a_signal_interrupts_a_blocking_receive() {
    common::install_noop_handler(libc::SIGUSR1);
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    for timeout in [-1, 10_000] {
        pull.set_rcvtimeo(timeout).unwrap();
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as usize;
        let poker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: the receiving thread is alive (it waits in recv until this signal).
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
        });
        let start = Instant::now();
        assert_eq!(
            pull.recv().map(|_| ()),
            Err(Error::Interrupted),
            "RCVTIMEO {timeout}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        poker.join().unwrap();
    }
}
