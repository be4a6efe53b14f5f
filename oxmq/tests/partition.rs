//! A network partition, for real: the peer runs in a process of its own inside a network
//! namespace this test makes (`ip netns`, a veth pair), and mid-stream an iptables DROP rule
//! in that namespace makes it fall silent without closing anything. With heartbeats the
//! connection is dropped within HEARTBEAT_IVL + HEARTBEAT_TIMEOUT; without, TCP would not
//! notice for minutes (checked too, so the detection is the heartbeats').
//!
//! Needs root, iproute2 and iptables (CI installs them). Outside CI, a machine without them
//! skips with a note; under CI (`CI` set) missing privileges fail the test.
#![cfg(target_os = "linux")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::wait_for_event;
use oxmq::{Context, EventKind, EventMask, SocketType};

/// Set in the peer process: the endpoint to bind.
const PEER_ENV: &str = "OXMQ_PARTITION_PEER";

fn run(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A network namespace with a veth pair to it, removed when dropped.
struct Namespace {
    name: String,
    /// The host's end of the veth pair.
    host_if: String,
    host_ip: String,
    peer_ip: String,
}

impl Namespace {
    /// `slot` keeps the namespaces of tests running at once on different subnets.
    fn make(tag: &str, slot: u32) -> Option<Namespace> {
        let id = std::process::id() % 10_000;
        let name = format!("oxmq-{tag}-{id}");
        let subnet = 100 + (id * 2 + slot) % 150;
        let (host_if, peer_if) = (format!("oxh{tag}{id}"), format!("oxp{tag}{id}"));
        let ns = Namespace {
            host_ip: format!("10.213.{subnet}.1"),
            peer_ip: format!("10.213.{subnet}.2"),
            name,
            host_if: host_if.clone(),
        };
        let _ = run(&["ip", "link", "del", &host_if]);
        let _ = run(&["ip", "netns", "del", &ns.name]);
        let ok = run(&["ip", "netns", "add", &ns.name])
            && run(&[
                "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
            ])
            && run(&["ip", "link", "set", &peer_if, "netns", &ns.name])
            && run(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", ns.host_ip),
                "dev",
                &host_if,
            ])
            && run(&["ip", "link", "set", &host_if, "up"])
            && ns.exec(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", ns.peer_ip),
                "dev",
                &peer_if,
            ])
            && ns.exec(&["ip", "link", "set", &peer_if, "up"])
            && ns.exec(&["ip", "link", "set", "lo", "up"])
            && ns.exec(&["iptables", "-L", "-n"]);
        ok.then_some(ns)
    }

    fn exec(&self, args: &[&str]) -> bool {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Starts this test binary in the namespace as the peer, bound to `endpoint`.
    fn spawn_peer(&self, endpoint: &str) -> Child {
        let exe = std::env::current_exe().expect("test binary");
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(exe)
            .args([
                "--exact",
                "partition_peer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PEER_ENV, endpoint)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the peer")
    }

    /// Drops every packet into and out of the namespace.
    fn partition(&self) {
        assert!(self.exec(&["iptables", "-A", "INPUT", "-j", "DROP"]));
        assert!(self.exec(&["iptables", "-A", "OUTPUT", "-j", "DROP"]));
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The pair goes with either end; the namespace itself lives on (unlisted) while the
        // peer's orphaned connection retransmits into the DROP rule.
        let _ = run(&["ip", "link", "del", &self.host_if]);
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// The peer's role, run in its own process inside the namespace: a PULL that reads whatever
/// comes until it is killed. As a plain test (no environment variable) it does nothing.
#[test]
fn partition_peer() {
    let Ok(endpoint) = std::env::var(PEER_ENV) else {
        return;
    };
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind(&endpoint).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let _ = pull.recv();
    }
}

fn namespace_or_skip(tag: &str, slot: u32) -> Option<Namespace> {
    let ns = Namespace::make(tag, slot);
    if ns.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot make a network namespace with iptables (root, iproute2, iptables)"
        );
        eprintln!("skipped: cannot make a network namespace with iptables here");
    }
    ns
}

/// Streams to the peer in the namespace, then partitions; returns how long after the DROP
/// rule the connection was reported lost, if it was within `limit`.
fn lost_after_partition(ns: &Namespace, heartbeats: bool, limit: Duration) -> Option<Duration> {
    let port = 25_000 + std::process::id() % 20_000;
    let endpoint = format!("tcp://{}:{port}", ns.peer_ip);
    let mut peer = ns.spawn_peer(&endpoint);
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    if heartbeats {
        push.set_heartbeat_ivl(200).unwrap();
        push.set_heartbeat_timeout(600).unwrap();
    }
    push.set_sndhwm(100_000).unwrap();
    push.set_linger(0).unwrap();
    let monitor = push.monitor(EventMask::ALL).unwrap();
    push.connect(&endpoint).unwrap();
    assert!(
        wait_for_event(
            &monitor,
            EventKind::HandshakeSucceeded,
            Duration::from_secs(10)
        )
        .is_some(),
        "no handshake with the peer in the namespace"
    );
    // Mid-stream: messages flow while the rule goes in, and keep being queued after.
    let body = vec![7u8; 1024];
    for _ in 0..2_000 {
        push.send(body.clone()).unwrap();
    }
    ns.partition();
    let cut = Instant::now();
    let mut lost = None;
    while cut.elapsed() < limit && lost.is_none() {
        let _ = push.try_send(body.clone());
        if let Some(event) = monitor.recv_timeout(Duration::from_millis(5)) {
            if event.kind == EventKind::Disconnected {
                lost = Some(cut.elapsed());
            }
        }
    }
    let _ = peer.kill();
    let _ = peer.wait();
    lost
}

#[test]
fn a_silent_peer_behind_a_drop_rule_is_noticed_by_heartbeats() {
    let Some(ns) = namespace_or_skip("hb", 0) else {
        return;
    };
    // HEARTBEAT_IVL 200 ms + HEARTBEAT_TIMEOUT 600 ms, with room for a loaded machine.
    let lost = lost_after_partition(&ns, true, Duration::from_secs(5))
        .expect("the partition was not noticed within 5 s");
    eprintln!("partition noticed after {lost:?} (IVL + TIMEOUT: 800 ms)");
    assert!(
        lost <= Duration::from_millis(800 + 700),
        "noticed {lost:?} after the partition; IVL + TIMEOUT is 800 ms"
    );
}

#[test]
fn without_heartbeats_the_same_partition_goes_unnoticed() {
    let Some(ns) = namespace_or_skip("nh", 1) else {
        return;
    };
    assert_eq!(
        lost_after_partition(&ns, false, Duration::from_secs(3)),
        None,
        "TCP alone noticed a silent peer within 3 s"
    );
}
