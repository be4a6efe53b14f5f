//! Subscriptions survive the publisher being restarted: a subscriber in this process, a
//! publisher in another process that is started five times on the same endpoint. After every
//! restart the subscriber's subscription must reach the new publisher again (the subscriber
//! resends it on reconnect) and every message published after it must arrive.
//!
//! The publisher is an XPUB, so it knows when the subscription has arrived: it waits for it,
//! publishes [`MESSAGES`] messages on the subscribed topic (and some on another topic, which
//! must be filtered out), then exits after a clean close (LINGER delivers what is queued). It
//! runs in a child process: the test binary runs itself again with [`PUBLISHER_ENV`] set and
//! `--exact publisher_child`, so that only [`publisher_child`] runs there; without the variable
//! that test does nothing. Both directions are covered: oxmq subscriber with libzmq publisher,
//! and libzmq subscriber with oxmq publisher.

use std::process::{Command, Stdio};

/// Set in the child: `LIBRARY ENDPOINT` (`oxmq` or `libzmq`).
const PUBLISHER_ENV: &str = "OXMQ_RESUBSCRIBE_PUBLISHER";
/// Messages per publisher run on the subscribed topic.
const MESSAGES: u32 = 200;
/// Publisher restarts.
const RESTARTS: u32 = 5;

fn wanted(i: u32) -> Vec<u8> {
    format!("weather {i}").into_bytes()
}

/// The publisher's side: runs only in the child process.
#[test]
fn publisher_child() {
    let Ok(spec) = std::env::var(PUBLISHER_ENV) else {
        return;
    };
    let (library, endpoint) = spec.split_once(' ').expect("LIBRARY ENDPOINT");
    let publish = |recv_subscription: &dyn Fn() -> Vec<u8>, send: &dyn Fn(&[u8])| {
        assert_eq!(recv_subscription(), b"\x01weather");
        for i in 0..MESSAGES {
            send(b"sports, not subscribed");
            send(&wanted(i));
        }
        send(b"weather end");
    };
    if library == "oxmq" {
        let ctx = oxmq::Context::new();
        let xpub = ctx.socket(oxmq::SocketType::XPub).unwrap();
        xpub.set_rcvtimeo(10_000).unwrap();
        xpub.set_linger(5_000).unwrap();
        xpub.bind(endpoint).unwrap();
        publish(&|| xpub.recv().unwrap()[0].to_vec(), &|m| {
            xpub.send(m).unwrap()
        });
    } else {
        let ctx = zmq::Context::new();
        let xpub = ctx.socket(zmq::XPUB).unwrap();
        xpub.set_rcvtimeo(10_000).unwrap();
        xpub.set_linger(5_000).unwrap();
        xpub.bind(endpoint).unwrap();
        publish(&|| xpub.recv_bytes(0).unwrap(), &|m| {
            xpub.send(m, 0).unwrap()
        });
    }
}

/// Starts the publisher process and waits for it to finish; panics if it fails.
fn run_publisher(library: &str, endpoint: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "publisher_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PUBLISHER_ENV, format!("{library} {endpoint}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start publisher")
}

fn free_endpoint() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    format!("tcp://{}", probe.local_addr().expect("address"))
}

/// Receives one publisher run's messages through `recv` and checks that none is missing.
fn expect_run(recv: &dyn Fn() -> Vec<u8>, round: u32) {
    for i in 0..MESSAGES {
        let got = recv();
        assert_eq!(
            got,
            wanted(i),
            "round {round}: message {i} lost or out of order"
        );
    }
    assert_eq!(recv(), b"weather end", "round {round}");
}

/// Restarts the publisher of `library` five times on `endpoint`, expecting every run's
/// messages through `recv`, from a subscriber that connected once.
fn survive_restarts(library: &str, endpoint: &str, recv: &dyn Fn() -> Vec<u8>) {
    for round in 0..RESTARTS {
        let mut publisher = run_publisher(library, endpoint);
        expect_run(recv, round);
        assert!(
            publisher.wait().expect("publisher").success(),
            "round {round}"
        );
    }
}

/// An oxmq SUB subscribed to the topic, connected to `endpoint`.
fn oxmq_subscriber(ctx: &oxmq::Context, endpoint: &str) -> oxmq::Socket {
    let sub = ctx.socket(oxmq::SocketType::Sub).unwrap();
    sub.set_rcvtimeo(20_000).unwrap();
    sub.set_reconnect_ivl(20).unwrap();
    sub.subscribe(b"weather").unwrap();
    sub.connect(endpoint).unwrap();
    sub
}

#[test]
fn an_oxmq_subscriber_survives_five_libzmq_publisher_restarts() {
    let endpoint = free_endpoint();
    let ctx = oxmq::Context::new();
    let sub = oxmq_subscriber(&ctx, &endpoint);
    survive_restarts("libzmq", &endpoint, &|| {
        sub.recv().expect("message")[0].to_vec()
    });
}

#[test]
fn a_libzmq_subscriber_survives_five_oxmq_publisher_restarts() {
    let endpoint = free_endpoint();
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_rcvtimeo(20_000).unwrap();
    sub.set_reconnect_ivl(20).unwrap();
    sub.set_subscribe(b"weather").unwrap();
    sub.connect(&endpoint).unwrap();
    survive_restarts("oxmq", &endpoint, &|| sub.recv_bytes(0).expect("message"));
}

#[test]
fn an_oxmq_subscriber_survives_five_oxmq_publisher_restarts() {
    let endpoint = free_endpoint();
    let ctx = oxmq::Context::new();
    let sub = oxmq_subscriber(&ctx, &endpoint);
    survive_restarts("oxmq", &endpoint, &|| {
        sub.recv().expect("message")[0].to_vec()
    });
}
