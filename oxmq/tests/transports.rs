//! Every transport carries messages both ways, in either bind/connect order.

mod common;

use common::{bind_endpoints, bound, inproc, socket};
use oxmq::{Context, Error, Message, SocketType};

#[test]
fn push_pull_over_every_transport() {
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        let (pull, endpoint) = bound(&ctx, SocketType::Pull, &endpoint);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        push.send(Message::from_frames(["a", "", "ccc"])).unwrap();
        let msg = pull.recv().unwrap_or_else(|e| panic!("{endpoint}: {e}"));
        assert_eq!(
            msg.to_vecs(),
            vec![b"a".to_vec(), vec![], b"ccc".to_vec()],
            "{endpoint}"
        );
    }
}

#[test]
fn pair_talks_both_ways_over_every_transport() {
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        let (a, endpoint) = bound(&ctx, SocketType::Pair, &endpoint);
        let b = socket(&ctx, SocketType::Pair);
        b.connect(&endpoint).unwrap();
        b.send("ping").unwrap();
        assert_eq!(a.recv().unwrap()[0], b"ping", "{endpoint}");
        a.send("pong").unwrap();
        assert_eq!(b.recv().unwrap()[0], b"pong", "{endpoint}");
    }
}

#[test]
fn connect_before_bind() {
    let ctx = Context::new();
    for endpoint in [inproc(), common::ipc_path(), common::free_tcp_endpoint()] {
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        push.send("early").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (pull, _) = bound(&ctx, SocketType::Pull, &endpoint);
        assert_eq!(pull.recv().unwrap()[0], b"early", "{endpoint}");
    }
}

#[test]
fn ephemeral_tcp_port_is_reported() {
    let ctx = Context::new();
    for (bind, prefix) in [
        ("tcp://127.0.0.1:*", "tcp://127.0.0.1:"),
        ("tcp://127.0.0.1:0", "tcp://127.0.0.1:"),
    ] {
        let (_pull, endpoint) = bound(&ctx, SocketType::Pull, bind);
        let port: u16 = endpoint.strip_prefix(prefix).unwrap().parse().unwrap();
        assert_ne!(port, 0);
    }
    let (_any, endpoint) = bound(&ctx, SocketType::Pull, "tcp://*:*");
    assert!(endpoint.starts_with("tcp://0.0.0.0:"), "{endpoint}");
}

#[test]
fn ipv6_loopback_and_host_names() {
    let ctx = Context::new();
    let (pull, endpoint) = bound(&ctx, SocketType::Pull, "tcp://[::1]:*");
    assert!(endpoint.starts_with("tcp://[::1]:"), "{endpoint}");
    let push = socket(&ctx, SocketType::Push);
    push.connect(&endpoint).unwrap();
    push.send("v6").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"v6");

    let (pull, endpoint) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    let port = endpoint.rsplit(':').next().unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.connect(&format!("tcp://localhost:{port}")).unwrap();
    push.send("named").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"named");
}

#[test]
fn bad_endpoints_are_errors() {
    let ctx = Context::new();
    let s = socket(&ctx, SocketType::Push);
    assert_eq!(s.bind("tcp://127.0.0.1"), Err(Error::Invalid));
    assert_eq!(s.connect("tcp://127.0.0.1:*"), Err(Error::Invalid));
    assert_eq!(s.connect("bogus://x"), Err(Error::ProtocolNotSupported));
    assert_eq!(s.bind("not an endpoint"), Err(Error::Invalid));
    assert_eq!(
        s.connect("tcp://no-such-host.invalid:5555"),
        Err(Error::Invalid)
    );
    let long = format!("ipc:///tmp/{}", "x".repeat(200));
    assert_eq!(s.bind(&long), Err(Error::NameTooLong));
}

#[test]
fn address_in_use() {
    let ctx = Context::new();
    let (_a, endpoint) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    let b = socket(&ctx, SocketType::Pull);
    assert_eq!(b.bind(&endpoint), Err(Error::AddrInUse));
    let name = inproc();
    let (_c, _) = bound(&ctx, SocketType::Pull, &name);
    assert_eq!(b.bind(&name), Err(Error::AddrInUse));
}

#[test]
fn several_binds_and_connects_on_one_socket() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    let mut pushes = Vec::new();
    for endpoint in bind_endpoints() {
        pull.bind(&endpoint).unwrap();
        let push = socket(&ctx, SocketType::Push);
        push.connect(&pull.last_endpoint()).unwrap();
        pushes.push(push);
    }
    for (i, push) in pushes.iter().enumerate() {
        push.send(format!("from {i}")).unwrap();
    }
    let mut got: Vec<String> = (0..pushes.len())
        .map(|_| pull.recv().unwrap()[0].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        (0..pushes.len())
            .map(|i| format!("from {i}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn unbind_and_disconnect() {
    let ctx = Context::new();
    let (pull, endpoint) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    let push = socket(&ctx, SocketType::Push);
    push.connect(&endpoint).unwrap();
    push.send("one").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"one");

    assert_eq!(push.disconnect("tcp://127.0.0.1:1"), Err(Error::NotFound));
    push.disconnect(&endpoint).unwrap();
    assert_eq!(
        push.try_send("dropped").map_err(|e| e.error()),
        Err(Error::WouldBlock),
        "no peer after disconnect"
    );

    assert_eq!(pull.unbind("tcp://127.0.0.1:1"), Err(Error::NotFound));
    pull.unbind(&endpoint).unwrap();
    // The port is free again at once.
    let (again, _) = bound(&ctx, SocketType::Pull, &endpoint);
    drop(again);

    let name = inproc();
    let (pull2, _) = bound(&ctx, SocketType::Pull, &name);
    pull2.unbind(&name).unwrap();
    let (_other, _) = bound(&ctx, SocketType::Pull, &name);
}

#[test]
fn socket_types_without_send_or_recv() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    assert_eq!(pull.send("x"), Err(Error::NotSupported));
    let push = socket(&ctx, SocketType::Push);
    assert_eq!(push.recv().map(|_| ()), Err(Error::NotSupported));
    // Draft socket types are not available.
    assert_eq!(
        ctx.socket(SocketType::Channel).map(|_| ()),
        Err(Error::NotSupported)
    );
}

#[test]
fn connect_from_a_source_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().port();
    // A free port to connect from.
    let source = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = Context::new();
    let push = socket(&ctx, SocketType::Push);
    push.connect(&format!("tcp://127.0.0.1:{source};127.0.0.1:{target}"))
        .unwrap();
    let (stream, peer) = listener.accept().unwrap();
    assert_eq!(
        peer.port(),
        source,
        "the connection comes from the source port"
    );
    drop(stream);
    // A source that is no local address or interface is refused at connect.
    assert_eq!(
        push.connect(&format!("tcp://no-such-interface-x:1;127.0.0.1:{target}")),
        Err(Error::NoDevice)
    );
}

/// A socket bound to an ipc path right after another one bound there closed keeps the path:
/// the closed listener, dropped later on its I/O thread, does not remove the new one's file
/// (libzmq's test_rebind_ipc).
#[test]
fn rebinding_an_ipc_path_right_after_close_keeps_it() {
    let ctx = Context::new();
    let path = std::env::temp_dir().join(format!("oxmq-rebind-{}.ipc", std::process::id()));
    let endpoint = format!("ipc://{}", path.display());
    for round in 0..20 {
        let first = socket(&ctx, SocketType::Push);
        first.set_linger(0).unwrap();
        first.bind(&endpoint).unwrap();
        drop(first);
        let second = socket(&ctx, SocketType::Push);
        second.set_linger(0).unwrap();
        second.bind(&endpoint).unwrap();
        // Give the first listener's teardown time to run on the I/O thread.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            path.exists(),
            "round {round}: the new listener's file is gone"
        );
        let pull = socket(&ctx, SocketType::Pull);
        pull.set_rcvtimeo(5000).unwrap();
        pull.connect(&endpoint).unwrap();
        second.send("42").unwrap();
        assert_eq!(pull.recv().unwrap()[0], b"42", "round {round}");
    }
}

/// The metadata of a message's connection: the peer's READY properties, and Peer-Address over
/// tcp; none over inproc (as libzmq). The peer is libzmq.
#[test]
fn messages_carry_their_connections_metadata() {
    let ctx = Context::new();
    let router = socket(&ctx, SocketType::Router);
    router.bind("tcp://127.0.0.1:*").unwrap();
    router.set_rcvtimeo(5000).unwrap();
    let zctx = zmq::Context::new();
    let dealer = zctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"client-7").unwrap();
    dealer.connect(&router.last_endpoint()).unwrap();
    dealer.send("hello", 0).unwrap();
    let msg = router.recv().unwrap();
    assert_eq!(msg[0], b"client-7");
    let meta = router
        .last_metadata()
        .expect("a tcp connection has metadata");
    assert_eq!(meta.get_str("Socket-Type"), Some("DEALER"));
    assert_eq!(meta.get("Identity"), Some(&b"client-7"[..]));
    assert_eq!(meta.get_str("Peer-Address"), Some("127.0.0.1"));

    // ipc: READY properties, no address.
    let pull = socket(&ctx, SocketType::Pull);
    pull.bind("ipc://*").unwrap();
    pull.set_rcvtimeo(5000).unwrap();
    let push = zctx.socket(zmq::PUSH).unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    push.send("over ipc", 0).unwrap();
    pull.recv().unwrap();
    let meta = pull
        .last_metadata()
        .expect("an ipc connection has metadata");
    assert_eq!(meta.get_str("Socket-Type"), Some("PUSH"));
    assert_eq!(meta.get("Peer-Address"), None);

    // inproc: none.
    let (a, endpoint) = bound(&ctx, SocketType::Pull, &inproc());
    let b = socket(&ctx, SocketType::Push);
    b.connect(&endpoint).unwrap();
    b.send("inproc").unwrap();
    a.recv().unwrap();
    assert!(a.last_metadata().is_none());
}

/// ZMQ_TOS and ZMQ_BINDTODEVICE reach the tcp sockets: bound to a device that does not exist,
/// a bind fails (ENODEV); bound to the loopback device, with a TOS, traffic flows.
#[test]
fn tos_and_bindtodevice_apply_to_tcp_sockets() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_bindtodevice(b"no-such-dev0").unwrap();
    assert_eq!(pull.bind("tcp://127.0.0.1:*"), Err(Error::NoDevice));
    assert_eq!(pull.set_bindtodevice(&[b'x'; 16]), Err(Error::Invalid));
    pull.set_bindtodevice(b"lo\0").unwrap();
    assert_eq!(
        pull.option_value(oxmq::option_number::BINDTODEVICE),
        Ok(oxmq::OptionValue::Text("lo".into()))
    );
    pull.set_tos(0x28).unwrap();
    pull.set_rcvtimeo(5000).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_tos(0x58).unwrap();
    assert_eq!(push.tos(), 0x58);
    push.set_bindtodevice(b"lo").unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    push.send("marked").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"marked");
}

/// ZMQ_USE_FD: a bind adopts the application's listening socket (tcp and ipc); a descriptor
/// that is no listening socket is refused.
#[test]
fn a_bind_adopts_a_listening_socket_given_with_use_fd() {
    use std::os::fd::IntoRawFd;
    let ctx = Context::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvtimeo(5000).unwrap();
    pull.set_use_fd(listener.into_raw_fd()).unwrap();
    pull.bind(&endpoint).unwrap();
    assert_eq!(pull.use_fd(), -1, "used up by the bind");
    let push = socket(&ctx, SocketType::Push);
    push.connect(&endpoint).unwrap();
    push.send("through the adopted listener").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"through the adopted listener");

    let path = std::env::temp_dir().join(format!("oxmq-use-fd-{}.ipc", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let ipc_endpoint = format!("ipc://{}", path.display());
    let ipc_pull = socket(&ctx, SocketType::Pull);
    ipc_pull.set_rcvtimeo(5000).unwrap();
    ipc_pull.set_use_fd(unix.into_raw_fd()).unwrap();
    ipc_pull.bind(&ipc_endpoint).unwrap();
    push.connect(&ipc_endpoint).unwrap();
    push.disconnect(&endpoint).unwrap();
    push.send("over ipc").unwrap();
    assert_eq!(ipc_pull.recv().unwrap()[0], b"over ipc");
    drop(ipc_pull);
    let _ = std::fs::remove_file(&path);

    // A descriptor that does not listen.
    let file = std::fs::File::open("/dev/null").unwrap();
    let bad = socket(&ctx, SocketType::Pull);
    bad.set_use_fd(file.into_raw_fd()).unwrap();
    assert_eq!(bad.bind("tcp://127.0.0.1:*"), Err(Error::Invalid));
}
