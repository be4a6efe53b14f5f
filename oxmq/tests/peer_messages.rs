//! The messages a socket makes about its peers: ROUTER_NOTIFY's `[routing id, ""]` on connect
//! and disconnect, HELLO_MSG (sent to each new peer first, again after a reconnect),
//! DISCONNECT_MSG (received when an accepted peer goes) and HICCUP_MSG (received when a
//! connection this side made breaks), over tcp, ipc and inproc.

use std::io::Write;
use std::time::Duration;

use oxmq::{Context, Error, Message, Socket, SocketType, option_number};

const WAIT: Duration = Duration::from_secs(10);

fn frames(msg: &Message) -> Vec<Vec<u8>> {
    msg.iter().map(|f| f.to_vec()).collect()
}

fn recv(socket: &Socket) -> Vec<Vec<u8>> {
    socket.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    frames(&socket.recv().expect("a message in time"))
}

fn nothing_within(socket: &Socket, ms: i32) {
    socket.set_rcvtimeo(ms).unwrap();
    match socket.recv() {
        Err(Error::WouldBlock) => {}
        other => panic!("expected nothing, got {other:?}"),
    }
}

fn dealer_named(ctx: &Context, id: &[u8]) -> Socket {
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.set_routing_id(id).unwrap();
    dealer
}

#[test]
fn router_notify_reports_connects_and_disconnects() {
    for transport in ["tcp://127.0.0.1:*", "ipc://*"] {
        let ctx = Context::new();
        let router = ctx.socket(SocketType::Router).unwrap();
        router
            .set_router_notify(option_number::NOTIFY_CONNECT | option_number::NOTIFY_DISCONNECT)
            .unwrap();
        router.bind(transport).unwrap();
        let endpoint = router.last_endpoint();
        let dealer = dealer_named(&ctx, b"X");
        dealer.connect(&endpoint).unwrap();
        assert_eq!(recv(&router), [b"X".to_vec(), Vec::new()], "{transport}");
        dealer.send("Hello").unwrap();
        assert_eq!(recv(&router), [b"X".to_vec(), b"Hello".to_vec()]);
        dealer.disconnect(&endpoint).unwrap();
        assert_eq!(recv(&router), [b"X".to_vec(), Vec::new()], "{transport}");
        nothing_within(&router, 100);
    }
}

#[test]
fn router_notify_bits_and_socket_types() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    assert_eq!(router.router_notify(), 0);
    router
        .set_router_notify(option_number::NOTIFY_DISCONNECT)
        .unwrap();
    assert_eq!(router.router_notify(), 2);
    assert_eq!(router.set_router_notify(4), Err(Error::Invalid));
    assert_eq!(router.set_router_notify(-1), Err(Error::Invalid));
    assert_eq!(router.router_notify(), 2, "a failed set changes nothing");
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    assert_eq!(dealer.set_router_notify(1), Err(Error::Invalid));
    assert_eq!(dealer.router_notify(), 0);

    // Only the connect notice: the disconnect goes unsaid.
    let router = ctx.socket(SocketType::Router).unwrap();
    router
        .set_router_notify(option_number::NOTIFY_CONNECT)
        .unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = dealer_named(&ctx, b"Y");
    dealer.connect(&router.last_endpoint()).unwrap();
    assert_eq!(recv(&router), [b"Y".to_vec(), Vec::new()]);
    drop(dealer);
    nothing_within(&router, 200);
}

#[test]
fn a_failed_handshake_is_no_connection_to_notify() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router
        .set_router_notify(option_number::NOTIFY_CONNECT | option_number::NOTIFY_DISCONNECT)
        .unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let addr = router
        .last_endpoint()
        .trim_start_matches("tcp://")
        .to_owned();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    raw.write_all(b"not-a-handshake").unwrap();
    drop(raw);
    nothing_within(&router, 300);
}

#[test]
fn a_message_cut_short_by_the_disconnect_is_dropped_and_the_notice_comes_alone() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router
        .set_router_notify(option_number::NOTIFY_DISCONNECT)
        .unwrap();
    router.set_maxmsgsize(64).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = dealer_named(&ctx, b"X");
    dealer.connect(&router.last_endpoint()).unwrap();
    dealer
        .send(Message::from_frames([b"Hello2".to_vec(), vec![b'*'; 127]]))
        .unwrap();
    assert_eq!(recv(&router), [b"X".to_vec(), Vec::new()]);
    nothing_within(&router, 100);
}

#[test]
fn hello_goes_first_to_each_new_peer() {
    for transport in ["tcp://127.0.0.1:*", "ipc://*", "inproc://hello-first"] {
        let ctx = Context::new();
        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_hello_msg(b"H").unwrap();
        router.bind(transport).unwrap();
        let dealer = dealer_named(&ctx, b"D");
        dealer.set_hello_msg(b"from dealer").unwrap();
        dealer.connect(&router.last_endpoint()).unwrap();
        assert_eq!(recv(&dealer), [b"H".to_vec()], "{transport}");
        assert_eq!(
            recv(&router),
            [b"D".to_vec(), b"from dealer".to_vec()],
            "{transport}"
        );
        // Then the traffic, after it.
        dealer.send("next").unwrap();
        assert_eq!(recv(&router), [b"D".to_vec(), b"next".to_vec()]);
    }
}

#[test]
fn hello_reaches_an_inproc_peer_that_connected_before_the_bind() {
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.connect("inproc://hello-late").unwrap();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.set_hello_msg(b"W").unwrap();
    router.bind("inproc://hello-late").unwrap();
    assert_eq!(recv(&dealer), [b"W".to_vec()]);
}

#[test]
fn hello_is_sent_again_on_each_new_connection() {
    let ctx = Context::new();
    let first = ctx.socket(SocketType::Router).unwrap();
    first.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = first.last_endpoint();
    let dealer = dealer_named(&ctx, b"again");
    dealer.set_reconnect_ivl(20).unwrap();
    dealer.set_hello_msg(b"hi").unwrap();
    dealer.connect(&endpoint).unwrap();
    assert_eq!(recv(&first), [b"again".to_vec(), b"hi".to_vec()]);
    drop(first);
    let second = ctx.socket(SocketType::Router).unwrap();
    // The port may take a moment to be free again.
    let deadline = std::time::Instant::now() + WAIT;
    while second.bind(&endpoint).is_err() {
        assert!(std::time::Instant::now() < deadline, "rebind {endpoint}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(recv(&second), [b"again".to_vec(), b"hi".to_vec()]);
}

#[test]
fn disconnect_msg_arrives_when_a_peer_goes() {
    for transport in ["tcp://127.0.0.1:*", "ipc://*", "inproc://disconnect-msg"] {
        let ctx = Context::new();
        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_disconnect_msg(b"D").unwrap();
        router.bind(transport).unwrap();
        let dealer = dealer_named(&ctx, b"gone");
        dealer.connect(&router.last_endpoint()).unwrap();
        dealer.send("here").unwrap();
        assert_eq!(recv(&router), [b"gone".to_vec(), b"here".to_vec()]);
        drop(dealer);
        assert_eq!(
            recv(&router),
            [b"gone".to_vec(), b"D".to_vec()],
            "{transport}"
        );
        nothing_within(&router, 100);
    }
}

#[test]
fn hiccup_msg_arrives_when_a_connection_this_side_made_breaks() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.set_hiccup_msg(b"HICCUP").unwrap();
    dealer.connect(&router.last_endpoint()).unwrap();
    dealer.send("up").unwrap();
    let got = recv(&router);
    assert_eq!(got[1], b"up");
    // Nothing while the connection holds.
    nothing_within(&dealer, 100);
    drop(router);
    assert_eq!(recv(&dealer), [b"HICCUP".to_vec()]);
    // An accepting socket gets none: a ROUTER with one set ignores it, as libzmq's does.
    let router = ctx.socket(SocketType::Router).unwrap();
    router.set_hiccup_msg(b"never").unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let peer = ctx.socket(SocketType::Dealer).unwrap();
    peer.connect(&router.last_endpoint()).unwrap();
    peer.send("x").unwrap();
    recv(&router);
    drop(peer);
    nothing_within(&router, 200);
}
