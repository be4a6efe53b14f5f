//! Socket monitor events, as libzmq raises them, with real peers: a libzmq peer in a child
//! process that is killed and started again, raw TCP peers that break the handshake, and the
//! socket's own binds, unbinds and close.
//!
//! The child is this test binary run again with [`PEER_ENV`] set and `--exact peer_child`: it
//! binds or connects a libzmq socket and then waits to be killed.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oxmq::{Context, EventKind, EventMask, Monitor, SocketEvent, SocketType};

/// Set in the child: `bind ENDPOINT` or `connect ENDPOINT`.
const PEER_ENV: &str = "OXMQ_MONITOR_PEER";
/// How long an expected event may take.
const WAIT: Duration = Duration::from_secs(10);

/// The libzmq peer's side: runs only in the child process.
#[test]
fn peer_child() {
    let Ok(spec) = std::env::var(PEER_ENV) else {
        return;
    };
    let (how, endpoint) = spec.split_once(' ').expect("HOW ENDPOINT");
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::DEALER).unwrap();
    if how == "bind" {
        socket.bind(endpoint).unwrap();
    } else {
        socket.connect(endpoint).unwrap();
    }
    // Killed by the test.
    std::thread::sleep(Duration::from_secs(60));
}

/// A libzmq peer process, killed when dropped (a failed assertion too ends it).
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_peer(how: &str, endpoint: &str) -> Peer {
    Peer(
        Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "peer_child", "--nocapture", "--test-threads=1"])
            .env(PEER_ENV, format!("{how} {endpoint}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the libzmq peer"),
    )
}

fn kill(peer: Peer) {
    drop(peer);
}

fn free_tcp_endpoint() -> String {
    let probe = TcpListener::bind("127.0.0.1:0").expect("probe");
    format!("tcp://{}", probe.local_addr().unwrap())
}

fn next(monitor: &Monitor) -> SocketEvent {
    monitor
        .recv_timeout(WAIT)
        .expect("an event within the time limit")
}

#[test]
fn a_connecter_sees_its_peer_process_die_and_come_back() {
    let endpoint = free_tcp_endpoint();
    let peer = start_peer("bind", &endpoint);
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.set_reconnect_ivl(100).unwrap();
    let monitor = dealer.monitor(EventMask::ALL).unwrap();
    dealer.connect(&endpoint).unwrap();

    // Until the child has bound, attempts fail: CONNECT_DELAYED, CLOSED, CONNECT_RETRIED.
    let mut event = next(&monitor);
    while event.kind != EventKind::Connected {
        assert!(
            matches!(
                event.kind,
                EventKind::ConnectDelayed | EventKind::Closed | EventKind::ConnectRetried
            ),
            "{event:?}"
        );
        if event.kind == EventKind::ConnectDelayed {
            assert_eq!(event.value, libc::EINPROGRESS as u64);
        }
        event = next(&monitor);
    }
    assert_eq!(event.endpoint, endpoint);
    assert!(event.value > 2, "a descriptor: {event:?}");
    assert_eq!(next(&monitor).kind, EventKind::HandshakeSucceeded);

    kill(peer);
    let lost = next(&monitor);
    assert_eq!(lost.kind, EventKind::Disconnected);
    assert_eq!(lost.value, event.value, "the same connection's descriptor");
    let retried = next(&monitor);
    assert_eq!(retried.kind, EventKind::ConnectRetried);
    assert!((100..200).contains(&retried.value), "{retried:?}");

    let peer = start_peer("bind", &endpoint);
    let mut event = next(&monitor);
    while event.kind != EventKind::Connected {
        event = next(&monitor);
    }
    assert_eq!(next(&monitor).kind, EventKind::HandshakeSucceeded);
    kill(peer);
    assert_eq!(next(&monitor).kind, EventKind::Disconnected);

    drop(dealer);
    let mut last = next(&monitor);
    while last.kind != EventKind::MonitorStopped {
        last = next(&monitor);
    }
    assert_eq!(last.endpoint, "");
    assert!(monitor.recv_timeout(Duration::from_millis(100)).is_none());
}

#[test]
fn a_listener_sees_peer_processes_come_and_go() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    let monitor = router.monitor(EventMask::ALL).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = router.last_endpoint();
    let listening = next(&monitor);
    assert_eq!(listening.kind, EventKind::Listening);
    assert_eq!(listening.endpoint, endpoint);

    for _ in 0..2 {
        let peer = start_peer("connect", &endpoint);
        let accepted = next(&monitor);
        assert_eq!(accepted.kind, EventKind::Accepted);
        assert_eq!(accepted.endpoint, endpoint);
        assert_eq!(next(&monitor).kind, EventKind::HandshakeSucceeded);
        kill(peer);
        let lost = next(&monitor);
        assert_eq!(lost.kind, EventKind::Disconnected);
        assert_eq!(lost.value, accepted.value);
    }

    drop(router);
    let closed = next(&monitor);
    assert_eq!(closed.kind, EventKind::Closed);
    assert_eq!(closed.value, listening.value);
    assert_eq!(next(&monitor).kind, EventKind::MonitorStopped);
    assert!(monitor.recv().is_none(), "the monitor ends with the socket");
}

#[test]
fn handshake_failures_carry_their_reason() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let monitor = pull.monitor(EventMask::ALL).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(next(&monitor).kind, EventKind::Listening);
    let addr = pull.last_endpoint().trim_start_matches("tcp://").to_owned();

    // Not ZMTP at all.
    let mut raw = TcpStream::connect(&addr).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(next(&monitor).kind, EventKind::Accepted);
    let failed = next(&monitor);
    assert_eq!(failed.kind, EventKind::HandshakeFailedProtocol);
    assert_eq!(
        failed.value, 0x1000_0000,
        "ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED"
    );
    assert_eq!(next(&monitor).kind, EventKind::Disconnected);

    // Another security mechanism.
    let mut raw = TcpStream::connect(&addr).unwrap();
    let mut greeting = [0u8; 64];
    greeting[0] = 0xFF;
    greeting[9] = 0x7F;
    greeting[10] = 3;
    greeting[12..17].copy_from_slice(b"PLAIN");
    raw.write_all(&greeting).unwrap();
    assert_eq!(next(&monitor).kind, EventKind::Accepted);
    let failed = next(&monitor);
    assert_eq!(failed.kind, EventKind::HandshakeFailedProtocol);
    assert_eq!(
        failed.value, 0x1100_0002,
        "ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH"
    );
    assert_eq!(next(&monitor).kind, EventKind::Disconnected);

    // Gone before its greeting was complete (having read ours, so that it closes cleanly).
    let mut raw = TcpStream::connect(&addr).unwrap();
    raw.write_all(&greeting[..5]).unwrap();
    let mut signature = [0u8; 10];
    std::io::Read::read_exact(&mut raw, &mut signature).unwrap();
    assert_eq!((signature[0], signature[9]), (0xFF, 0x7F));
    assert_eq!(next(&monitor).kind, EventKind::Accepted);
    drop(raw);
    let failed = next(&monitor);
    assert_eq!(failed.kind, EventKind::HandshakeFailedNoDetail);
    assert_eq!(failed.value, libc::EPIPE as u64);
    assert_eq!(next(&monitor).kind, EventKind::Disconnected);

    // Silent past HANDSHAKE_IVL, on a listener of its own with a short one.
    let quick = ctx.socket(SocketType::Pull).unwrap();
    quick.set_handshake_ivl(200).unwrap();
    let monitor = quick.monitor(EventMask::ALL).unwrap();
    quick.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(next(&monitor).kind, EventKind::Listening);
    let _silent = TcpStream::connect(quick.last_endpoint().trim_start_matches("tcp://")).unwrap();
    assert_eq!(next(&monitor).kind, EventKind::Accepted);
    let failed = next(&monitor);
    assert_eq!(failed.kind, EventKind::HandshakeFailedNoDetail);
    assert_eq!(failed.value, libc::ETIMEDOUT as u64);
    assert_eq!(next(&monitor).kind, EventKind::Disconnected);
}

#[test]
fn binds_unbinds_and_masks() {
    let ctx = Context::new();
    let taken = ctx.socket(SocketType::Pub).unwrap();
    taken.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = taken.last_endpoint();

    let publisher = ctx.socket(SocketType::Pub).unwrap();
    let everything = publisher.monitor(EventMask::ALL).unwrap();
    assert!(publisher.bind(&endpoint).is_err());
    let failed = next(&everything);
    assert_eq!(failed.kind, EventKind::BindFailed);
    assert_eq!(failed.value, libc::EADDRINUSE as u64);
    assert_eq!(failed.endpoint, endpoint);

    let ipc = format!("ipc:///tmp/oxmq-monitor-{}", std::process::id());
    publisher.bind(&ipc).unwrap();
    let listening = next(&everything);
    assert_eq!(
        (listening.kind, listening.endpoint.as_str()),
        (EventKind::Listening, ipc.as_str())
    );
    publisher.unbind(&ipc).unwrap();
    let closed = next(&everything);
    assert_eq!(
        (closed.kind, closed.value),
        (EventKind::Closed, listening.value)
    );

    // A second monitor replaces the first, which is told; this one wants only CLOSED.
    let closes = publisher
        .monitor(EventMask::from(EventKind::Closed))
        .unwrap();
    assert_eq!(next(&everything).kind, EventKind::MonitorStopped);
    assert!(everything.recv().is_none());
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let bound = publisher.last_endpoint();
    let subscriber = ctx.socket(SocketType::Sub).unwrap();
    subscriber.connect(&bound).unwrap();
    publisher.unbind(&bound).unwrap();
    let closed = next(&closes);
    assert_eq!(
        (closed.kind, closed.endpoint.as_str()),
        (EventKind::Closed, bound.as_str())
    );
    // No LISTENING, ACCEPTED, handshake, nor MONITOR_STOPPED at the end.
    publisher.stop_monitor();
    assert!(closes.recv().is_none());

    // Nothing is reported once monitoring stopped.
    let late = publisher.monitor(EventMask::ALL).unwrap();
    publisher.stop_monitor();
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(late.recv().map(|e| e.kind), Some(EventKind::MonitorStopped));
    assert!(late.recv().is_none());
}

#[test]
fn inproc_connections_raise_no_events() {
    let ctx = Context::new();
    let pair = ctx.socket(SocketType::Pair).unwrap();
    let monitor = pair.monitor(EventMask::ALL).unwrap();
    pair.bind("inproc://monitor-quiet").unwrap();
    let other = ctx.socket(SocketType::Pair).unwrap();
    other.connect("inproc://monitor-quiet").unwrap();
    other.send("hello").unwrap();
    assert_eq!(pair.recv().unwrap()[0], b"hello");
    assert!(monitor.try_recv().is_none());
}
