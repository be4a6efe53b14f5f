//! PUB, SUB, XPUB and XSUB, modelled on libzmq's `test_pubsub.cpp`, `test_xpub_*.cpp` and
//! `test_sub_forward.cpp`, over every transport.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::raw::{RawPeer, command_body};
use common::{bind_endpoints, bound, socket};
use oxmq::{Context, Error, Message, Socket, SocketType};

/// Publishes `probe` until `sub` receives it: the subscription has reached the publisher.
/// Returns how many probes were sent.
fn sync_with(publisher: &Socket, sub: &Socket, probe: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let old = sub.rcvtimeo();
    sub.set_rcvtimeo(20).unwrap();
    loop {
        publisher.send(probe).unwrap();
        if let Ok(msg) = sub.recv() {
            if msg[0] == probe {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the subscription never arrived");
    }
    // Drain the extra probes in flight.
    while let Ok(msg) = sub.recv() {
        assert_eq!(msg[0], probe);
    }
    sub.set_rcvtimeo(old).unwrap();
}

/// Receives whatever arrives within `window` (a bounded drain).
fn drain(sub: &Socket, window: Duration) -> Vec<Message> {
    let old = sub.rcvtimeo();
    sub.set_rcvtimeo(window.as_millis() as i32).unwrap();
    let mut got = Vec::new();
    while let Ok(msg) = sub.recv() {
        got.push(msg);
    }
    sub.set_rcvtimeo(old).unwrap();
    got
}

#[test]
fn prefix_subscriptions_filter_over_every_transport() {
    for endpoint in bind_endpoints() {
        let ctx = Context::new();
        let (publisher, endpoint) = bound(&ctx, SocketType::Pub, &endpoint);
        let sub = socket(&ctx, SocketType::Sub);
        sub.connect(&endpoint).unwrap();
        sub.subscribe(b"probe").unwrap();
        sub.subscribe(b"A").unwrap();
        sync_with(&publisher, &sub, b"probe");
        for topic in ["A", "AB", "B", "BA", "", "a"] {
            publisher
                .send(Message::from_frames([topic, "payload"]))
                .unwrap();
        }
        publisher.send("probe").unwrap();
        let got: Vec<String> = drain_until(&sub, b"probe")
            .iter()
            .map(|m| {
                assert_eq!(m[1], b"payload", "multi-part kept whole");
                String::from_utf8(m[0].to_vec()).unwrap()
            })
            .collect();
        assert_eq!(got, ["A", "AB"], "over {endpoint}");
    }
}

/// Receives until a message whose first frame is `marker`; returns the ones before it.
fn drain_until(sub: &Socket, marker: &[u8]) -> Vec<Message> {
    let mut got = Vec::new();
    loop {
        let msg = sub.recv().expect("marker never arrived");
        if msg[0] == marker {
            return got;
        }
        got.push(msg);
    }
}

#[test]
fn the_empty_prefix_matches_everything_and_unsubscribe_stops_it() {
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    let sub = socket(&ctx, SocketType::Sub);
    sub.connect(&endpoint).unwrap();
    sub.subscribe(b"").unwrap();
    sync_with(&publisher, &sub, b"x");
    for topic in ["", "anything", "\u{0}\u{1}"] {
        publisher.send(topic).unwrap();
        assert_eq!(sub.recv().unwrap()[0], topic.as_bytes());
    }
    sub.subscribe(b"keep").unwrap();
    sub.unsubscribe(b"").unwrap();
    sync_with(&publisher, &sub, b"keep");
    publisher.send("dropped").unwrap();
    publisher.send("keep-marker").unwrap();
    assert_eq!(drain_until(&sub, b"keep-marker"), Vec::<Message>::new());
}

#[test]
fn duplicate_subscriptions_are_counted_and_travel_as_commands() {
    let ctx = Context::new();
    let (xpub, endpoint) = bound(&ctx, SocketType::XPub, "tcp://127.0.0.1:*");
    let sub = socket(&ctx, SocketType::Sub);
    sub.connect(&endpoint).unwrap();
    sub.subscribe(b"A").unwrap();
    sub.subscribe(b"A").unwrap();
    // XPUB (not verbose) reports a new subscription once.
    assert_eq!(xpub.recv().unwrap()[0], b"\x01A");
    sub.unsubscribe(b"A").unwrap();
    // Still counted once: no cancel travels, and messages still arrive.
    sub.subscribe(b"sync").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01sync");
    xpub.send("A1").unwrap();
    assert_eq!(sub.recv().unwrap()[0], b"A1");
    sub.unsubscribe(b"A").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x00A");
    assert_eq!(sub.topics_count().unwrap(), 1);
    assert_eq!(xpub.topics_count().unwrap(), 1);
}

#[test]
fn filtering_happens_at_the_publisher() {
    // A raw ZMTP 3.1 subscriber sees on the wire only what it subscribed to.
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    let mut raw = RawPeer::connect(&endpoint, "SUB", 1, None);
    raw.send_command(&command_body("SUBSCRIBE", b"yes"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher.send("yes-probe").unwrap();
        if raw.recv_message(Duration::from_millis(20)).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "subscription never applied");
    }
    while raw.recv_message(Duration::from_millis(50)).is_some() {}
    for i in 0..100 {
        publisher.send(format!("no-{i}")).unwrap();
    }
    publisher.send("yes-last").unwrap();
    let first = raw.recv_message(Duration::from_secs(5)).unwrap();
    assert_eq!(
        first,
        vec![b"yes-last".to_vec()],
        "unsubscribed topics reached the wire"
    );
    // A ZMTP 3.0 subscriber subscribes with a message, and gets the same filtering.
    let mut old = RawPeer::connect(&endpoint, "SUB", 0, None);
    old.send_message(&[b"\x01old"]);
    loop {
        publisher.send("old-probe").unwrap();
        if let Some(msg) = old.recv_message(Duration::from_millis(20)) {
            assert!(msg[0].starts_with(b"old"));
            break;
        }
        assert!(Instant::now() < deadline, "3.0 subscription never applied");
    }
}

#[test]
fn subscriptions_reach_a_zmtp30_publisher_as_messages_and_31_as_commands() {
    let ctx = Context::new();
    for minor in [0u8, 1] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
        drop(listener);
        let sub = socket(&ctx, SocketType::Sub);
        sub.subscribe(b"topic").unwrap();
        // The raw publisher binds: accept with std, then speak by hand.
        let server = std::net::TcpListener::bind(endpoint.trim_start_matches("tcp://")).unwrap();
        sub.connect(&endpoint).unwrap();
        let (stream, _) = server.accept().unwrap();
        let mut raw = common::raw::RawPeer::accept(stream, "PUB", minor);
        let frame = raw
            .recv_frame(Duration::from_secs(5))
            .expect("subscription");
        if minor == 0 {
            assert_eq!((frame.flags, frame.body.as_slice()), (0, &b"\x01topic"[..]));
        } else {
            assert!(frame.is_command());
            assert_eq!(frame.body, command_body("SUBSCRIBE", b"topic"));
        }
        sub.unsubscribe(b"topic").unwrap();
        let frame = raw.recv_frame(Duration::from_secs(5)).expect("cancel");
        if minor == 0 {
            assert_eq!(frame.body, b"\x00topic");
        } else {
            assert_eq!(frame.body, command_body("CANCEL", b"topic"));
        }
    }
}

#[test]
fn a_slow_subscriber_does_not_slow_the_others_and_pub_never_blocks() {
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    publisher.set_sndtimeo(0).unwrap();
    let slow = socket(&ctx, SocketType::Sub);
    slow.set_rcvhwm(10).unwrap();
    slow.connect(&endpoint).unwrap();
    slow.subscribe(b"").unwrap();
    let fast = socket(&ctx, SocketType::Sub);
    fast.connect(&endpoint).unwrap();
    fast.subscribe(b"").unwrap();
    sync_with(&publisher, &slow, b"sync");
    sync_with(&publisher, &fast, b"sync");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    const COUNT: usize = 2000;
    let reader = std::thread::spawn(move || {
        for i in 0..COUNT {
            let msg = fast.recv().expect("fast subscriber lost a message");
            assert_eq!(&msg[0][..8], &(i as u64).to_be_bytes());
            counter.store(i + 1, Ordering::Release);
        }
    });
    let body = vec![7u8; 64 * 1024];
    for i in 0..COUNT {
        let mut payload = (i as u64).to_be_bytes().to_vec();
        payload.extend_from_slice(&body);
        // Never WouldBlock (SNDTIMEO 0 would report it), although `slow` never reads.
        publisher.send(payload).unwrap();
        // Keep the fast one within its high-water mark: the point is the slow one.
        while received.load(Ordering::Acquire) + 100 < i {
            std::thread::yield_now();
        }
    }
    reader.join().unwrap();
    let slow_got = drain(&slow, Duration::from_millis(200)).len();
    assert!(
        slow_got < COUNT,
        "the slow subscriber should have missed messages"
    );
}

#[test]
fn xpub_nodrop_gives_wouldblock_at_the_high_water_mark() {
    let ctx = Context::new();
    let endpoint = common::inproc();
    let xpub = socket(&ctx, SocketType::XPub);
    xpub.set_xpub_nodrop(true).unwrap();
    xpub.set_sndhwm(5).unwrap();
    xpub.bind(&endpoint).unwrap();
    let sub = socket(&ctx, SocketType::Sub);
    sub.set_rcvhwm(5).unwrap();
    sub.connect(&endpoint).unwrap();
    sub.subscribe(b"").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01");
    let mut sent = 0;
    loop {
        match xpub.try_send("x") {
            Ok(()) => sent += 1,
            Err(err) => {
                assert_eq!(err.error(), Error::WouldBlock);
                assert_eq!(err.into_message()[0], b"x", "the message comes back");
                break;
            }
        }
        assert!(sent <= 10, "nodrop never refused");
    }
    assert_eq!(sent, 10, "inproc queue holds SNDHWM + RCVHWM");
    for _ in 0..sent {
        sub.recv().unwrap();
    }
    xpub.try_send("after").unwrap();
    assert_eq!(sub.recv().unwrap()[0], b"after");
}

#[test]
fn a_sub_resubscribes_when_its_publisher_comes_back() {
    let ctx = Context::new();
    let endpoint = common::free_tcp_endpoint();
    let sub = socket(&ctx, SocketType::Sub);
    sub.set_reconnect_ivl(20).unwrap();
    sub.subscribe(b"T").unwrap();
    sub.connect(&endpoint).unwrap();
    for round in 0..3 {
        let publisher = socket(&ctx, SocketType::Pub);
        publisher.bind(&endpoint).unwrap();
        sync_with(&publisher, &sub, b"T-sync");
        publisher.send(format!("T{round}")).unwrap();
        publisher.send("U-unwanted").unwrap();
        publisher.send("T-end").unwrap();
        let got: Vec<Message> = drain_until(&sub, b"T-end");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0][0], format!("T{round}").as_bytes());
        // Gone, with its port free again for the next round.
        publisher.unbind(&endpoint).unwrap();
        drop(publisher);
    }
}

#[test]
fn xpub_verbose_reports_every_subscription_and_verboser_every_cancel() {
    let ctx = Context::new();
    let endpoint = common::inproc();
    let (xpub, _) = bound(&ctx, SocketType::XPub, &endpoint);
    let sub1 = socket(&ctx, SocketType::Sub);
    let sub2 = socket(&ctx, SocketType::Sub);
    sub1.connect(&endpoint).unwrap();
    sub2.connect(&endpoint).unwrap();
    sub1.subscribe(b"A").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01A");
    sub2.subscribe(b"A").unwrap();
    assert_eq!(
        xpub.try_recv().map(|m| m.to_vecs()),
        Err(Error::WouldBlock),
        "not verbose"
    );
    xpub.set_xpub_verbose(true).unwrap();
    sub2.subscribe(b"B").unwrap();
    sub1.subscribe(b"B").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01B");
    assert_eq!(
        xpub.recv().unwrap()[0],
        b"\x01B",
        "verbose passes duplicates"
    );
    // Cancels: only the last one without VERBOSER.
    sub1.unsubscribe(b"B").unwrap();
    sub1.subscribe(b"mark1").unwrap();
    assert_eq!(
        xpub.recv().unwrap()[0],
        b"\x01mark1",
        "a cancel that leaves subscribers is silent"
    );
    xpub.set_xpub_verboser(true).unwrap();
    sub2.unsubscribe(b"A").unwrap();
    assert_eq!(
        xpub.recv().unwrap()[0],
        b"\x00A",
        "verboser passes every cancel"
    );
    sub1.unsubscribe(b"A").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x00A");
    // A subscriber that leaves cancels what only it had.
    drop(sub1);
    assert_eq!(xpub.recv().unwrap()[0], b"\x00mark1");
}

#[test]
fn xpub_manual_lets_the_application_decide() {
    let ctx = Context::new();
    let endpoint = common::inproc();
    let (xpub, _) = bound(&ctx, SocketType::XPub, &endpoint);
    xpub.set_xpub_manual(true).unwrap();
    let sub = socket(&ctx, SocketType::Sub);
    sub.connect(&endpoint).unwrap();
    sub.subscribe(b"A").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01A");
    // Not applied by itself: the application subscribes the peer to something else.
    xpub.subscribe(b"B").unwrap();
    xpub.send("A-not").unwrap();
    xpub.send("B-yes").unwrap();
    // SUB filters too, so subscribe it to B as well to see what the XPUB sent.
    sub.subscribe(b"B").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01B");
    xpub.send("B-second").unwrap();
    let got = drain(&sub, Duration::from_millis(200));
    let got: Vec<_> = got.iter().map(|m| m[0].to_vec()).collect();
    assert!(!got.contains(&b"A-not".to_vec()), "{got:?}");
    assert!(got.contains(&b"B-second".to_vec()), "{got:?}");
}

#[test]
fn xsub_receives_what_a_manual_xpub_subscribed_it_to() {
    // test_xpub_manual's test_basic: an XSUB does not filter (only SUB does, as in libzmq), so
    // it gets what the publisher decided to send it, not what it asked for.
    let ctx = Context::new();
    let endpoint = common::inproc();
    let (xpub, _) = bound(&ctx, SocketType::XPub, &endpoint);
    xpub.set_xpub_manual(true).unwrap();
    let xsub = socket(&ctx, SocketType::XSub);
    xsub.connect(&endpoint).unwrap();
    xsub.send(&b"\x01A"[..]).unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01A");
    // The application subscribes the peer to B instead.
    xpub.subscribe(b"B").unwrap();
    xpub.send("A").unwrap();
    xpub.send("B").unwrap();
    assert_eq!(xsub.try_recv().unwrap()[0], b"B");
    assert_eq!(xsub.try_recv(), Err(Error::WouldBlock), "A was not sent");
}

#[test]
fn xpub_manual_cancels_each_leaving_peers_subscriptions() {
    // test_xpub_manual's test_xpub_proxy_unsubscribe_on_disconnect: in manual mode the
    // application subscribed each peer by hand (and a proxy forwarded each subscription
    // upstream), so each peer that leaves cancels its subscriptions, shared or not.
    let ctx = Context::new();
    let endpoint = common::inproc();
    let (xpub, _) = bound(&ctx, SocketType::XPub, &endpoint);
    xpub.set_xpub_manual(true).unwrap();
    let mut subs = Vec::new();
    for _ in 0..2 {
        let sub = socket(&ctx, SocketType::Sub);
        sub.connect(&endpoint).unwrap();
        sub.subscribe(b"1").unwrap();
        assert_eq!(xpub.recv().unwrap()[0], b"\x011");
        xpub.subscribe(b"1").unwrap();
        subs.push(sub);
    }
    drop(subs);
    for _ in 0..2 {
        assert_eq!(xpub.recv().unwrap()[0], b"\x001");
    }
    assert_eq!(xpub.try_recv(), Err(Error::WouldBlock));
}

#[test]
fn xpub_manual_last_value_sends_the_next_message_only_to_the_new_subscriber() {
    let ctx = Context::new();
    let endpoint = common::inproc();
    let (xpub, _) = bound(&ctx, SocketType::XPub, &endpoint);
    xpub.set_xpub_manual_last_value(true).unwrap();
    let sub1 = socket(&ctx, SocketType::Sub);
    sub1.connect(&endpoint).unwrap();
    sub1.subscribe(b"A").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01A");
    xpub.subscribe(b"A").unwrap();
    xpub.send("A-first").unwrap();
    assert_eq!(sub1.recv().unwrap()[0], b"A-first");
    let sub2 = socket(&ctx, SocketType::Sub);
    sub2.connect(&endpoint).unwrap();
    sub2.subscribe(b"A").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01A");
    xpub.subscribe(b"A").unwrap();
    xpub.send("A-last-value").unwrap();
    assert_eq!(sub2.recv().unwrap()[0], b"A-last-value");
    xpub.send("A-everyone").unwrap();
    assert_eq!(
        sub1.recv().unwrap()[0],
        b"A-everyone",
        "sub1 skipped the last value"
    );
    assert_eq!(sub2.recv().unwrap()[0], b"A-everyone");
}

#[test]
fn xpub_welcome_message_greets_each_subscriber() {
    let ctx = Context::new();
    let (xpub, endpoint) = bound(&ctx, SocketType::XPub, "tcp://127.0.0.1:*");
    xpub.set_xpub_welcome_msg(b"W").unwrap();
    let sub = socket(&ctx, SocketType::Sub);
    sub.subscribe(b"W").unwrap();
    sub.connect(&endpoint).unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01W");
    assert_eq!(sub.recv().unwrap()[0], b"W");
}

#[test]
fn invert_matching_delivers_what_does_not_match() {
    let ctx = Context::new();
    let (publisher, endpoint) = bound(&ctx, SocketType::Pub, "tcp://127.0.0.1:*");
    publisher.set_invert_matching(true).unwrap();
    let sub = socket(&ctx, SocketType::Sub);
    sub.set_invert_matching(true).unwrap();
    sub.connect(&endpoint).unwrap();
    sub.subscribe(b"prefix").unwrap();
    // Everything except "prefix..." flows: wait until the connection is up.
    sync_with(&publisher, &sub, b"other");
    publisher.send("prefix-hidden").unwrap();
    publisher.send("shown").unwrap();
    assert_eq!(sub.recv().unwrap()[0], b"shown");
}

#[test]
fn xsub_forwards_subscriptions_and_messages_upstream() {
    // test_sub_forward: SUB -> XPUB | XSUB -> PUB, with the application as the proxy.
    let ctx = Context::new();
    let (publisher, upstream) = bound(&ctx, SocketType::XPub, "tcp://127.0.0.1:*");
    let (xpub, downstream) = bound(&ctx, SocketType::XPub, "tcp://127.0.0.1:*");
    let xsub = socket(&ctx, SocketType::XSub);
    xsub.connect(&upstream).unwrap();
    let sub = socket(&ctx, SocketType::Sub);
    sub.connect(&downstream).unwrap();
    sub.subscribe(b"").unwrap();
    let subscription = xpub.recv().unwrap();
    assert_eq!(subscription[0], b"\x01");
    xsub.send(subscription).unwrap();
    assert_eq!(publisher.recv().unwrap()[0], b"\x01");
    // A message that is not a subscription goes upstream as a message.
    xsub.send("hello upstream").unwrap();
    assert_eq!(publisher.recv().unwrap()[0], b"hello upstream");
    publisher.send("data").unwrap();
    let msg = xsub.recv().unwrap();
    xpub.send(msg).unwrap();
    assert_eq!(sub.recv().unwrap()[0], b"data");
}

#[test]
fn sub_cannot_send_and_pub_cannot_receive() {
    let ctx = Context::new();
    let sub = ctx.socket(SocketType::Sub).unwrap();
    assert_eq!(sub.try_send("x").unwrap_err().error(), Error::NotSupported);
    let publisher = ctx.socket(SocketType::Pub).unwrap();
    assert_eq!(publisher.try_recv(), Err(Error::NotSupported));
    assert_eq!(publisher.subscribe(b"x"), Err(Error::Invalid));
    let xsub = ctx.socket(SocketType::XSub).unwrap();
    assert_eq!(
        xsub.subscribe(b"x"),
        Err(Error::Invalid),
        "XSUB subscribes by message"
    );
}

#[test]
fn a_huge_topic_works_on_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let ctx = Context::new();
            let endpoint = common::inproc();
            let (xpub, _) = bound(&ctx, SocketType::XPub, &endpoint);
            let sub = socket(&ctx, SocketType::Sub);
            sub.connect(&endpoint).unwrap();
            let topic = vec![b'x'; 8 << 20];
            sub.subscribe(&topic).unwrap();
            assert_eq!(xpub.recv().unwrap()[0].len(), topic.len() + 1);
            let mut msg = topic.clone();
            msg.extend_from_slice(b"tail");
            xpub.send(msg).unwrap();
            assert_eq!(sub.recv().unwrap()[0].len(), topic.len() + 4);
            sub.unsubscribe(&topic).unwrap();
            assert_eq!(xpub.recv().unwrap()[0].len(), topic.len() + 1);
            assert_eq!(xpub.topics_count().unwrap(), 0);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn conflate_keeps_only_the_newest_message_whole() {
    for endpoint in [common::inproc(), "tcp://127.0.0.1:*".to_owned()] {
        let ctx = Context::new();
        let (publisher, endpoint) = bound(&ctx, SocketType::Pub, &endpoint);
        let sub = socket(&ctx, SocketType::Sub);
        sub.set_conflate(true).unwrap();
        sub.connect(&endpoint).unwrap();
        sub.subscribe(b"").unwrap();
        // A subscriber without CONFLATE sees everything: when it has the last message, the
        // conflating one has been sent all of them too.
        let witness = socket(&ctx, SocketType::Sub);
        witness.connect(&endpoint).unwrap();
        witness.subscribe(b"").unwrap();
        sync_with(&publisher, &sub, b"sync");
        sync_with(&publisher, &witness, b"sync");
        for i in 0..1000 {
            publisher
                .send(Message::from_frames([
                    format!("{i}"),
                    "second frame".into(),
                ]))
                .unwrap();
        }
        for i in 0..1000 {
            assert_eq!(witness.recv().unwrap()[0], format!("{i}").as_bytes());
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut received = 0;
        let newest = loop {
            let msg = sub.recv().unwrap();
            received += 1;
            if msg[0] == b"999" {
                break msg;
            }
        };
        assert_eq!(newest.len(), 2, "kept whole");
        assert!(
            received < 10,
            "{received} of 1000 messages kept over {endpoint}"
        );
        assert_eq!(sub.try_recv(), Err(Error::WouldBlock), "over {endpoint}");
    }
}

#[test]
fn has_incoming_is_false_while_only_unwanted_messages_wait() {
    let ctx = Context::new();
    let endpoint = common::inproc();
    // A publisher in manual mode that sends everything to the subscriber, whatever it asked
    // for: the subscriber's own filter must drop what it did not subscribe to.
    let xpub = socket(&ctx, SocketType::XPub);
    xpub.set_xpub_manual(true).unwrap();
    xpub.bind(&endpoint).unwrap();
    let sub = socket(&ctx, SocketType::Sub);
    sub.connect(&endpoint).unwrap();
    sub.subscribe(b"want").unwrap();
    assert_eq!(xpub.recv().unwrap()[0], b"\x01want");
    xpub.subscribe(b"").unwrap();
    xpub.send("unwanted").unwrap();
    assert!(
        !sub.has_incoming(),
        "a message the filter drops is not incoming"
    );
    xpub.send("wanted").unwrap();
    assert!(sub.has_incoming());
    assert_eq!(sub.recv().unwrap()[0], b"wanted");
}
