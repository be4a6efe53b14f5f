//! Bad input for the publish-subscribe types, from raw ZMTP peers: each gets libzmq's behaviour
//! or a dropped connection, never a panic, a hang, unbounded memory or a lost message for the
//! other subscribers.

mod common;

use std::time::{Duration, Instant};

use common::raw::{RawPeer, command_body, encode_frame};
use common::{bound, socket};
use oxmq::{Context, Message, Socket, SocketType};

/// A well-behaved subscriber to `topic`, already receiving.
fn subscriber(ctx: &Context, publisher: &Socket, endpoint: &str, topic: &[u8]) -> Socket {
    let sub = socket(ctx, SocketType::Sub);
    sub.connect(endpoint).unwrap();
    sub.subscribe(topic).unwrap();
    sub.set_rcvtimeo(20).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut probe = topic.to_vec();
    probe.extend_from_slice(b"-probe");
    loop {
        publisher.send(probe.as_slice()).unwrap();
        if sub.recv().is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "well-behaved subscriber never served"
        );
    }
    while sub.recv().is_ok() {}
    sub.set_rcvtimeo(5000).unwrap();
    sub
}

fn assert_still_served(publisher: &Socket, sub: &Socket, topic: &[u8]) {
    let mut msg = topic.to_vec();
    msg.extend_from_slice(b"-after");
    publisher.send(Message::from(msg.clone())).unwrap();
    assert_eq!(sub.recv().unwrap()[0], msg.as_slice());
}

#[test]
fn malformed_subscription_commands_close_only_that_connection() {
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    let good = subscriber(&ctx, &publisher, &endpoint, b"good");
    let cases: [(&str, Vec<u8>); 4] = [
        ("name longer than the frame", b"\x09SUBSCRIB".to_vec()),
        ("zero-length name", b"\x00SUBSCRIBE".to_vec()),
        ("name of non-letters", b"\x09SUBSCRIB\x01topic".to_vec()),
        ("empty command", Vec::new()),
    ];
    for (what, body) in cases {
        let mut raw = RawPeer::connect(&endpoint, "SUB", 1, None);
        raw.write(&encode_frame(0x04, &body));
        // The publisher reads it when it next sends.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut closed = false;
        while Instant::now() < deadline && !closed {
            publisher.send("poke").unwrap();
            closed = raw.closed_within(Duration::from_millis(20));
        }
        assert!(closed, "{what}: connection not closed");
        assert_still_served(&publisher, &good, b"good");
    }
}

#[test]
fn a_cancel_for_a_topic_never_subscribed_is_harmless() {
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    let good = subscriber(&ctx, &publisher, &endpoint, b"good");
    let mut raw = RawPeer::connect(&endpoint, "SUB", 1, None);
    raw.send_command(&command_body("CANCEL", b"never"));
    raw.send_command(&command_body("CANCEL", b""));
    raw.send_command(&command_body("SUBSCRIBE", b"raw"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher.send("raw-probe").unwrap();
        if let Some(msg) = raw.recv_message(Duration::from_millis(20)) {
            assert_eq!(msg, vec![b"raw-probe".to_vec()]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the raw subscriber was not served"
        );
    }
    assert_still_served(&publisher, &good, b"good");
    // XPUB passes such a cancel on, as libzmq does (the application decides).
    let (xpub, endpoint) = bound(&ctx, SocketType::XPub, "tcp://127.0.0.1:*");
    let mut raw = RawPeer::connect(&endpoint, "SUB", 1, None);
    raw.send_command(&command_body("CANCEL", b"never"));
    assert_eq!(xpub.recv().unwrap()[0], b"\x00never");
    assert_eq!(xpub.topics_count().unwrap(), 0);
}

/// This process's resident set size in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_million_distinct_subscriptions_cost_memory_in_proportion() {
    const COUNT: u32 = 1_000_000;
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    let good = subscriber(&ctx, &publisher, &endpoint, b"good");
    let before = rss();
    let mut raw = RawPeer::connect(&endpoint, "SUB", 1, None);
    let mut sent_bytes = 0u64;
    let mut batch = Vec::with_capacity(1 << 20);
    for i in 0..COUNT {
        let frame = encode_frame(
            0x04,
            &command_body("SUBSCRIBE", format!("t{i:08x}").as_bytes()),
        );
        sent_bytes += frame.len() as u64;
        batch.extend(frame);
        if batch.len() >= 1 << 20 || i + 1 == COUNT {
            // The publisher applies subscriptions as it sends: keep it sending.
            let writer = std::thread::scope(|scope| {
                let handle = scope.spawn(|| raw.write(&batch));
                while !handle.is_finished() {
                    publisher.send("tick").unwrap();
                }
                handle.join()
            });
            writer.unwrap();
            batch.clear();
        }
    }
    // The last subscription is applied once a message for it is delivered.
    let last = format!("t{:08x}-last", COUNT - 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        publisher.send(last.as_str()).unwrap();
        if raw
            .recv_message(Duration::from_millis(50))
            .is_some_and(|m| m[0] == last.as_bytes())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscriptions not applied in time"
        );
    }
    let grown = rss().saturating_sub(before);
    eprintln!(
        "{COUNT} subscriptions: {sent_bytes} bytes sent, RSS grew by {grown} bytes ({:.1}x)",
        grown as f64 / sent_bytes as f64
    );
    assert!(
        grown < 16 * sent_bytes,
        "memory grew by {grown} bytes for {sent_bytes} bytes of subscriptions"
    );
    assert_still_served(&publisher, &good, b"good");
    // Gone with the peer: the subscriptions go with it.
    drop(raw);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher.send("tick").unwrap();
        let count = publisher.topics_count().unwrap();
        if count == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{count} topics left after the peer left"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
