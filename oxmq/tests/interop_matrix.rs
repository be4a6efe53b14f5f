//! Every compatible pair of socket types against real libzmq: oxmq on either side of the pair,
//! binding or connecting, over tcp and ipc, with multi-part messages. One test per pair runs its
//! eight combinations.
//!
//! A subscriber or ROUTER that binds learns of a new peer only when it is next used (in libzmq
//! as in oxmq), so the exchanges poll rather than wait once where that matters.

mod common;

use std::time::{Duration, Instant};

use common::ends::{End, Transport, either};
use oxmq::SocketType::{self, *};

/// How the two ends of a pair talk.
fn exchange(first_type: SocketType, first: &dyn End, second_type: SocketType, second: &dyn End) {
    let v = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    match (first_type, second_type) {
        (Pair, Pair) | (Dealer, Dealer) => {
            first.send(&v(&[b"ping", b"", b"three"]));
            assert_eq!(second.recv(), v(&[b"ping", b"", b"three"]));
            second.send(&v(&[b"pong", b"2"]));
            assert_eq!(first.recv(), v(&[b"pong", b"2"]));
        }
        (Push, Pull) => {
            for i in 0..20u8 {
                first.send(&v(&[&[i], b"body"]));
            }
            for i in 0..20u8 {
                assert_eq!(second.recv(), v(&[&[i], b"body"]));
            }
        }
        (Pub | XPub, Sub | XSub) => {
            second.subscribe(b"A");
            if first_type == XPub {
                // A subscriber that binds learns of a new peer only when it is next used (in
                // libzmq as in oxmq): keep using it until the subscription arrives.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    if let Some(msg) = first.recv_within(20) {
                        assert_eq!(msg, v(&[b"\x01A"]), "the subscription reaches XPUB");
                        break;
                    }
                    assert!(second.recv_within(1).is_none());
                    assert!(Instant::now() < deadline, "no subscription");
                }
            }
            // Publish probes until the subscription has reached the publisher.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                first.send(&v(&[b"A-probe"]));
                if second.recv_within(20).is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "subscription never applied");
            }
            while second.recv_within(50).is_some() {}
            first.send(&v(&[b"A-one", b"more", b"frames"]));
            first.send(&v(&[b"B-not", b"this"]));
            first.send(&v(&[b"A-two"]));
            assert_eq!(second.recv(), v(&[b"A-one", b"more", b"frames"]));
            assert_eq!(second.recv(), v(&[b"A-two"]));
        }
        (Req, Rep) => {
            for round in 0..3u8 {
                first.send(&v(&[b"hello", &[round]]));
                assert_eq!(second.recv(), v(&[b"hello", &[round]]));
                second.send(&v(&[b"world", &[round]]));
                assert_eq!(first.recv(), v(&[b"world", &[round]]));
            }
        }
        (Req, Router) => {
            first.send(&v(&[b"question", b"2"]));
            let got = second.recv();
            assert_eq!(got.len(), 4, "{got:?}");
            assert_eq!(&got[1..], v(&[b"", b"question", b"2"]).as_slice());
            second.send(&[got[0].clone(), Vec::new(), b"answer".to_vec()]);
            assert_eq!(first.recv(), v(&[b"answer"]));
        }
        (Dealer, Rep) => {
            first.send(&v(&[b"", b"q1", b"q2"]));
            assert_eq!(second.recv(), v(&[b"q1", b"q2"]));
            second.send(&v(&[b"r"]));
            assert_eq!(first.recv(), v(&[b"", b"r"]));
        }
        (Dealer, Router) => {
            first.send(&v(&[b"a", b"b"]));
            let got = second.recv();
            assert_eq!(got[0], b"dealer", "the DEALER's routing id");
            assert_eq!(&got[1..], v(&[b"a", b"b"]).as_slice());
            second.send(&v(&[b"dealer", b"c", b"d"]));
            assert_eq!(first.recv(), v(&[b"c", b"d"]));
        }
        (Router, Router) => {
            // The first side names the second; it can send once the connection is up.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !first.try_send(&v(&[b"second", b"hi", b"there"])) {
                assert!(Instant::now() < deadline, "the peer never became routable");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(second.recv(), v(&[b"first", b"hi", b"there"]));
            second.send(&v(&[b"first", b"back"]));
            assert_eq!(first.recv(), v(&[b"second", b"back"]));
        }
        other => panic!("no exchange for {other:?}"),
    }
}

/// Runs the pair in all eight combinations of implementation, binder and transport.
fn pair(first_type: SocketType, second_type: SocketType) {
    for transport in [Transport::Tcp, Transport::Ipc] {
        for oxmq_first in [true, false] {
            for first_binds in [true, false] {
                let first = either(oxmq_first, first_type);
                let second = either(!oxmq_first, second_type);
                if first_type == Dealer && second_type == Router {
                    first.set_routing_id(b"dealer");
                }
                if first_type == Router && second_type == Router {
                    first.set_routing_id(b"first");
                    second.set_routing_id(b"second");
                    first.set_router_mandatory();
                }
                let (binder, connecter) = if first_binds {
                    (&first, &second)
                } else {
                    (&second, &first)
                };
                let endpoint = binder.bind(&transport.bind_spec());
                connecter.connect(&endpoint);
                eprintln!(
                    "{first_type:?} ({}) with {second_type:?} ({}), {transport:?}, {} binds",
                    if oxmq_first { "oxmq" } else { "libzmq" },
                    if oxmq_first { "libzmq" } else { "oxmq" },
                    if first_binds { "first" } else { "second" },
                );
                exchange(first_type, first.as_ref(), second_type, second.as_ref());
            }
        }
    }
}

#[test]
fn pair_pair() {
    pair(Pair, Pair);
}

#[test]
fn push_pull() {
    pair(Push, Pull);
}

#[test]
fn pub_sub() {
    pair(Pub, Sub);
}

#[test]
fn pub_xsub() {
    pair(Pub, XSub);
}

#[test]
fn xpub_sub() {
    pair(XPub, Sub);
}

#[test]
fn xpub_xsub() {
    pair(XPub, XSub);
}

#[test]
fn req_rep() {
    pair(Req, Rep);
}

#[test]
fn req_router() {
    pair(Req, Router);
}

#[test]
fn dealer_rep() {
    pair(Dealer, Rep);
}

#[test]
fn dealer_router() {
    pair(Dealer, Router);
}

#[test]
fn dealer_dealer() {
    pair(Dealer, Dealer);
}

#[test]
fn router_router() {
    pair(Router, Router);
}
