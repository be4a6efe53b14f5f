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

/// Set in the child: `bind ENDPOINT` or `connect ENDPOINT` (a DEALER), or `pull ENDPOINT` (a
/// PULL that connects and never reads).
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
    let kind = if how == "pull" {
        zmq::PULL
    } else {
        zmq::DEALER
    };
    let socket = ctx.socket(kind).unwrap();
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
    // The version 2 addresses: the connection's own end, and the address connected to.
    assert_eq!(event.remote, endpoint);
    assert!(event.local.starts_with("tcp://127.0.0.1:"), "{event:?}");
    assert_ne!(event.local, event.remote);
    let handshake = next(&monitor);
    assert_eq!(handshake.kind, EventKind::HandshakeSucceeded);
    assert_eq!(
        (&handshake.local, &handshake.remote),
        (&event.local, &event.remote)
    );

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
    assert_eq!(
        (listening.local.as_str(), listening.remote.as_str()),
        (endpoint.as_str(), "")
    );

    for _ in 0..2 {
        let peer = start_peer("connect", &endpoint);
        let accepted = next(&monitor);
        assert_eq!(accepted.kind, EventKind::Accepted);
        assert_eq!(accepted.endpoint, endpoint);
        // This end is the bound address; the other is the peer process's own.
        assert_eq!(accepted.local, endpoint);
        assert!(
            accepted.remote.starts_with("tcp://127.0.0.1:"),
            "{accepted:?}"
        );
        assert_ne!(accepted.remote, endpoint);
        assert_eq!(next(&monitor).kind, EventKind::HandshakeSucceeded);
        kill(peer);
        let lost = next(&monitor);
        assert_eq!(lost.kind, EventKind::Disconnected);
        assert_eq!(lost.value, accepted.value);
        assert_eq!(lost.remote, accepted.remote);
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

/// Reads `monitor` as a `futures` stream until it has seen `kinds` in order (other events
/// between them are skipped); returns the events of those kinds.
async fn stream_until(monitor: &mut Monitor, kinds: &[EventKind]) -> Vec<SocketEvent> {
    // `Monitor` is an `Iterator` too: name the stream's `next`.
    use futures_util::StreamExt;
    let mut seen = Vec::new();
    while seen.len() < kinds.len() {
        let event = StreamExt::next(monitor)
            .await
            .expect("the monitor ended early");
        if event.kind == kinds[seen.len()] {
            seen.push(event);
        }
    }
    seen
}

/// The monitor's events over ipc, read as a stream on a task: the binder's events (LISTENING,
/// ACCEPTED, HANDSHAKE_SUCCEEDED, then CLOSED and MONITOR_STOPPED when it closes) with ipc's
/// addresses, and the stream's end.
async fn ipc_events_as_a_stream(name: &str) {
    let dir = std::env::temp_dir().join(format!("oxmq-monitor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let endpoint = format!("ipc://{}", dir.display());
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let mut monitor = pull.monitor(EventMask::ALL).unwrap();
    pull.bind(&endpoint).unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&endpoint).unwrap();
    let seen = stream_until(
        &mut monitor,
        &[
            EventKind::Listening,
            EventKind::Accepted,
            EventKind::HandshakeSucceeded,
        ],
    )
    .await;
    assert_eq!(seen[0].local, endpoint);
    // An accepted ipc connection: this end has the path, the connecting end has none.
    assert_eq!(
        (seen[1].local.as_str(), seen[1].remote.as_str()),
        (endpoint.as_str(), "ipc://")
    );
    drop(pull);
    let end = stream_until(
        &mut monitor,
        &[EventKind::Closed, EventKind::MonitorStopped],
    )
    .await;
    assert_eq!(end[0].value, seen[0].value, "the listener's descriptor");
    assert!(
        futures_util::StreamExt::next(&mut monitor).await.is_none(),
        "the stream ends with the socket"
    );
    drop(push);
}

#[test]
fn the_monitor_is_a_stream_under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(WAIT, tokio::spawn(ipc_events_as_a_stream("tokio")))
            .await
            .expect("within the time limit")
            .unwrap()
    });
}

#[test]
fn the_monitor_is_a_stream_under_smol() {
    smol::block_on(async {
        let task = smol::spawn(ipc_events_as_a_stream("smol"));
        let limit = async {
            smol::Timer::after(WAIT).await;
            panic!("not within the time limit");
        };
        smol::future::or(task, limit).await
    });
}

/// `recv_async` awaits an event raised later by another thread, and a monitor replaced by
/// another ends.
#[test]
fn recv_async_waits_for_an_event_raised_later() {
    let ctx = Context::new();
    let rep = ctx.socket(SocketType::Rep).unwrap();
    let monitor = rep.monitor(EventMask::from(EventKind::Listening)).unwrap();
    let binder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        rep.bind("tcp://127.0.0.1:*").unwrap();
        rep
    });
    let event = smol::block_on(monitor.recv_async()).expect("an event");
    assert_eq!(event.kind, EventKind::Listening);
    let rep = binder.join().unwrap();
    assert_eq!(event.local, rep.last_endpoint());
    let _second = rep.monitor(EventMask::ALL).unwrap();
    assert!(
        smol::block_on(monitor.recv_async()).is_none(),
        "replaced: ended"
    );
}

/// `peer_stats`: one entry per peer, in the order they came, with the connection's addresses
/// and what is queued each way.
#[test]
fn peer_stats_count_what_is_queued_each_way() {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_sndhwm(10).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = push.last_endpoint();
    assert!(push.peer_stats().is_empty());
    // Two libzmq peer processes that connect and never read: their connections fill, then
    // the socket's pipes.
    let peers: Vec<Peer> = (0..2).map(|_| start_peer("pull", &endpoint)).collect();
    let deadline = std::time::Instant::now() + WAIT;
    while push.peer_stats().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "both peers within the limit"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let big = vec![0u8; 64 * 1024];
    push.set_sndtimeo(100).unwrap();
    let mut sent = 0;
    while push.send(big.as_slice()).is_ok() {
        sent += 1;
        assert!(sent < 100_000, "the peers' connections fill");
    }
    let stats = push.peer_stats();
    assert_eq!(stats.len(), 2);
    for peer in &stats {
        assert_eq!(peer.local, endpoint);
        assert!(peer.remote.starts_with("tcp://127.0.0.1:"), "{peer:?}");
        assert!(peer.queued_out > 0 && peer.queued_out <= 10, "{peer:?}");
        assert_eq!(peer.queued_in, 0);
    }
    assert_ne!(stats[0].remote, stats[1].remote);
    // A peer that goes away leaves the list.
    drop(peers);
    let deadline = std::time::Instant::now() + WAIT;
    while !push.peer_stats().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "gone within the limit"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // What waits to be received, over inproc.
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("inproc://peer-stats-in").unwrap();
    let sender = ctx.socket(SocketType::Push).unwrap();
    sender.connect("inproc://peer-stats-in").unwrap();
    for _ in 0..3 {
        sender.send("x").unwrap();
    }
    let stats = pull.peer_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(
        (stats[0].local.as_str(), stats[0].queued_in),
        ("inproc://peer-stats-in", 3)
    );
    pull.recv().unwrap();
    assert_eq!(pull.peer_stats()[0].queued_in, 2);
}
