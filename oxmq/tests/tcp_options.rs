//! The tcp connection options, checked on the connections themselves: TCP_KEEPALIVE and its
//! count, idle time and interval, TCP_MAXRT, PRIORITY (read back from the kernel with `getsockopt` on the
//! descriptors the monitor reports), CONNECT_TIMEOUT (a connect to a listener whose queue is
//! full never completes) and RECONNECT_STOP (a refused connect, a failed handshake).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use oxmq::{Context, EventKind, EventMask, Monitor, SocketEvent, SocketType, option_number};

const WAIT: Duration = Duration::from_secs(10);

fn next(monitor: &Monitor) -> SocketEvent {
    monitor.recv_timeout(WAIT).expect("an event in time")
}

/// The next event of `kind`, skipping others.
fn next_of(monitor: &Monitor, kind: EventKind) -> SocketEvent {
    loop {
        let event = next(monitor);
        if event.kind == kind {
            return event;
        }
    }
}

fn int_sockopt(fd: u64, level: i32, name: i32) -> i32 {
    let mut value: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writing; a bad descriptor is an error return.
    let rc = unsafe {
        libc::getsockopt(
            fd as i32,
            level,
            name,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

#[test]
fn keepalive_and_maxrt_reach_both_ends_of_a_connection() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    for socket in [&pull, &push] {
        socket.set_tcp_keepalive(1).unwrap();
        socket.set_tcp_keepalive_cnt(3).unwrap();
        socket.set_tcp_keepalive_idle(7).unwrap();
        socket.set_tcp_keepalive_intvl(2).unwrap();
        socket.set_tcp_maxrt(1500).unwrap();
        socket.set_priority(3).unwrap();
    }
    let accepted = pull.monitor(EventMask::from(EventKind::Accepted)).unwrap();
    let connected = push.monitor(EventMask::from(EventKind::Connected)).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    let fds = [next(&accepted).value, next(&connected).value];
    push.send("alive").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"alive"[..]);
    for fd in fds {
        assert_eq!(int_sockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        assert_eq!(int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 7);
        assert_eq!(int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 2);
        assert_eq!(
            int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            1500
        );
    }
    // By number, as the C ABI sets and reads them.
    assert_eq!(
        push.option_value(option_number::TCP_KEEPALIVE_IDLE)
            .unwrap(),
        oxmq::OptionValue::Int(7)
    );
    assert!(push.set_tcp_keepalive(2).is_err(), "only -1, 0 and 1");
    assert!(push.set_tcp_keepalive_cnt(-2).is_err());
    assert!(push.set_tcp_maxrt(-1).is_err());
}

#[test]
fn keepalive_off_and_default_leave_probes_off() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    assert_eq!(push.tcp_keepalive(), -1, "libzmq's default: the kernel's");
    pull.set_tcp_keepalive(0).unwrap();
    let accepted = pull.monitor(EventMask::from(EventKind::Accepted)).unwrap();
    let connected = push.monitor(EventMask::from(EventKind::Connected)).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    let (a, c) = (next(&accepted).value, next(&connected).value);
    assert_eq!(int_sockopt(a, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    assert_eq!(int_sockopt(c, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    assert_eq!(int_sockopt(c, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 0);
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it
/// stays in progress. Returns the listener, its port and the connections that fill it.
fn full_listener() -> (socket2::Socket, u16, Vec<std::net::TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let port = listener
        .local_addr()
        .unwrap()
        .as_socket()
        .expect("an inet address")
        .port();
    let mut fillers = Vec::new();
    // Backlog 0 holds one connection; a few more make sure the queue is full.
    for _ in 0..3 {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        let _ = socket.connect(
            &format!("127.0.0.1:{port}")
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        );
        fillers.push(std::net::TcpStream::from(socket));
    }
    std::thread::sleep(Duration::from_millis(100));
    (listener, port, fillers)
}

#[test]
fn connect_timeout_gives_up_a_connect_that_hangs_and_retries() {
    let (_listener, port, _fillers) = full_listener();
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.set_connect_timeout(200).unwrap();
    dealer.set_reconnect_ivl(100).unwrap();
    let monitor = dealer.monitor(EventMask::ALL).unwrap();
    let started = Instant::now();
    dealer.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let delayed = next(&monitor);
    assert_eq!(delayed.kind, EventKind::ConnectDelayed, "{delayed:?}");
    let closed = next(&monitor);
    assert_eq!(closed.kind, EventKind::Closed, "{closed:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "given up after CONNECT_TIMEOUT, not the kernel's minutes: {waited:?}"
    );
    assert_eq!(next(&monitor).kind, EventKind::ConnectRetried);
    // The next attempt hangs and is given up the same way.
    assert_eq!(next_of(&monitor, EventKind::Closed).kind, EventKind::Closed);
}

#[test]
fn reconnect_stop_on_a_refused_connect() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = Context::new();
    // By default a refused connect is tried again.
    let keeps = ctx.socket(SocketType::Dealer).unwrap();
    keeps.set_reconnect_ivl(20).unwrap();
    let keeps_events = keeps.monitor(EventMask::ALL).unwrap();
    keeps.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    for _ in 0..3 {
        next_of(&keeps_events, EventKind::ConnectRetried);
    }

    let stops = ctx.socket(SocketType::Dealer).unwrap();
    stops.set_reconnect_ivl(20).unwrap();
    stops
        .set_reconnect_stop(option_number::RECONNECT_STOP_CONN_REFUSED)
        .unwrap();
    let events = stops.monitor(EventMask::ALL).unwrap();
    stops.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let mut event = next(&events);
    if event.kind == EventKind::ConnectDelayed {
        event = next(&events);
    }
    assert_eq!(event.kind, EventKind::Closed, "{event:?}");
    let after = events.recv_timeout(Duration::from_millis(300));
    assert!(after.is_none(), "no retry after a refusal: {after:?}");
}

#[test]
fn reconnect_stop_on_a_failed_handshake() {
    // A peer that answers the greeting with something else.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut accepted = 0;
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    accepted += 1;
                    let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
                    let mut buf = [0u8; 64];
                    let _ = stream.read(&mut buf);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        accepted
    });
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.set_reconnect_ivl(20).unwrap();
    dealer
        .set_reconnect_stop(option_number::RECONNECT_STOP_HANDSHAKE_FAILED)
        .unwrap();
    let events = dealer.monitor(EventMask::ALL).unwrap();
    dealer.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let failed = next_of(&events, EventKind::HandshakeFailedProtocol);
    assert!(failed.value > 0, "libzmq's protocol error code: {failed:?}");
    assert_eq!(next(&events).kind, EventKind::Disconnected);
    let after = events.recv_timeout(Duration::from_millis(300));
    assert!(
        after.is_none(),
        "no retry after a failed handshake: {after:?}"
    );
    assert_eq!(
        server.join().unwrap(),
        1,
        "the peer saw one connection only"
    );
}
