//! REQ, REP, DEALER and ROUTER against real libzmq (the `zmq` crate builds libzmq 4.3).
//!
//! Each scenario pairs a client (REQ or DEALER) with a server (REP or ROUTER) and runs over tcp
//! and ipc, with oxmq binding or libzmq binding, and with oxmq as the client or as the server
//! (the `matrix!` macro writes out the eight combinations). Messages are multi-part.

mod common;

use common::ends::{End, Transport, either, ox};
use oxmq::{Message, SocketType};

/// A socket of either implementation (see `common::ends`).
type Sock = Box<dyn End>;

fn frames(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|part| part.as_bytes().to_vec()).collect()
}

/// Where a scenario runs.
#[derive(Clone, Copy, Debug)]
struct Setup {
    transport: Transport,
    oxmq_binds: bool,
    /// oxmq plays the client (REQ, DEALER); libzmq the server, or the other way round.
    oxmq_is_client: bool,
}

/// A client and a server, the server bound or connected as `setup` says, the client configured
/// by `configure` before it connects.
fn pair(
    setup: Setup,
    client_type: SocketType,
    server_type: SocketType,
    configure: impl Fn(&Sock),
) -> (Sock, Sock) {
    let client = either(setup.oxmq_is_client, client_type);
    let server = either(!setup.oxmq_is_client, server_type);
    configure(&client);
    let client_binds = setup.oxmq_binds == setup.oxmq_is_client;
    if client_binds {
        let endpoint = client.bind(&setup.transport.bind_spec());
        server.connect(&endpoint);
    } else {
        let endpoint = server.bind(&setup.transport.bind_spec());
        client.connect(&endpoint);
    }
    (client, server)
}

/// REQ to REP: multi-part requests and replies, several rounds.
fn req_rep(setup: Setup) {
    let (req, rep) = pair(setup, SocketType::Req, SocketType::Rep, |_| {});
    for round in 0..3 {
        let request = frames(&["request", &format!("{round}"), ""]);
        req.send(&request);
        assert_eq!(rep.recv(), request);
        let reply = frames(&["reply", "", &format!("{round}")]);
        rep.send(&reply);
        assert_eq!(req.recv(), reply);
    }
}

/// REQ with REQ_CORRELATE to REP: the request id travels in the envelope and back.
fn req_correlate_rep(setup: Setup) {
    let (req, rep) = pair(setup, SocketType::Req, SocketType::Rep, |socket: &Sock| {
        socket.set_req_correlate()
    });
    for round in 0..3 {
        req.send(&frames(&["ask", &format!("{round}")]));
        assert_eq!(rep.recv(), frames(&["ask", &format!("{round}")]));
        rep.send(&frames(&["answer", &format!("{round}")]));
        assert_eq!(req.recv(), frames(&["answer", &format!("{round}")]));
    }
}

/// DEALER with a routing id to ROUTER: the ROUTER sees the id and routes the reply by it.
fn dealer_router(setup: Setup) {
    let (dealer, router) = pair(setup, SocketType::Dealer, SocketType::Router, |s| {
        s.set_routing_id(b"dealer-1")
    });
    dealer.send(&frames(&["a", "", "b"]));
    assert_eq!(router.recv(), frames(&["dealer-1", "a", "", "b"]));
    router.send(&frames(&["dealer-1", "c", "d"]));
    assert_eq!(dealer.recv(), frames(&["c", "d"]));
}

/// DEALER without a routing id to ROUTER: the ROUTER generates one (five bytes, a zero first).
fn anonymous_dealer_router(setup: Setup) {
    let (dealer, router) = pair(setup, SocketType::Dealer, SocketType::Router, |_| {});
    dealer.send(&frames(&["hello", "there"]));
    let got = router.recv();
    assert_eq!(got.len(), 3);
    assert_eq!((got[0].len(), got[0][0]), (5, 0), "{:?}", got[0]);
    assert_eq!(got[1..], frames(&["hello", "there"]));
    router.send(&[got[0].clone(), b"back".to_vec(), b"!".to_vec()]);
    assert_eq!(dealer.recv(), frames(&["back", "!"]));
}

/// REQ to ROUTER: the ROUTER sees the id and the delimiter.
fn req_router(setup: Setup) {
    let (req, router) = pair(setup, SocketType::Req, SocketType::Router, |_| {});
    req.send(&frames(&["ABC", "DEF"]));
    let got = router.recv();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(!got[0].is_empty());
    assert_eq!(got[1..], frames(&["", "ABC", "DEF"]));
    router.send(&[got[0].clone(), vec![], b"GHI".to_vec(), b"JKL".to_vec()]);
    assert_eq!(req.recv(), frames(&["GHI", "JKL"]));
}

/// DEALER to REP: the DEALER writes the envelope itself, of any depth.
fn dealer_rep(setup: Setup) {
    let (dealer, rep) = pair(setup, SocketType::Dealer, SocketType::Rep, |_| {});
    dealer.send(&frames(&["", "A", "B"]));
    assert_eq!(rep.recv(), frames(&["A", "B"]));
    rep.send(&frames(&["C", "D"]));
    assert_eq!(dealer.recv(), frames(&["", "C", "D"]));
    dealer.send(&frames(&["hop 1", "hop 2", "", "E"]));
    assert_eq!(rep.recv(), frames(&["E"]));
    rep.send(&frames(&["F"]));
    assert_eq!(dealer.recv(), frames(&["hop 1", "hop 2", "", "F"]));
}

/// Writes one test per transport, binder and role for each scenario `fn(Setup)`.
macro_rules! matrix {
    ($($name:ident => $scenario:expr;)*) => {$(
        mod $name {
            use super::*;

            fn run(transport: Transport, oxmq_binds: bool, oxmq_is_client: bool) {
                let scenario: fn(Setup) = $scenario;
                scenario(Setup { transport, oxmq_binds, oxmq_is_client });
            }

            #[test]
            fn tcp_oxmq_binds_oxmq_client() {
                run(Transport::Tcp, true, true);
            }
            #[test]
            fn tcp_oxmq_binds_oxmq_server() {
                run(Transport::Tcp, true, false);
            }
            #[test]
            fn tcp_libzmq_binds_oxmq_client() {
                run(Transport::Tcp, false, true);
            }
            #[test]
            fn tcp_libzmq_binds_oxmq_server() {
                run(Transport::Tcp, false, false);
            }
            #[test]
            fn ipc_oxmq_binds_oxmq_client() {
                run(Transport::Ipc, true, true);
            }
            #[test]
            fn ipc_oxmq_binds_oxmq_server() {
                run(Transport::Ipc, true, false);
            }
            #[test]
            fn ipc_libzmq_binds_oxmq_client() {
                run(Transport::Ipc, false, true);
            }
            #[test]
            fn ipc_libzmq_binds_oxmq_server() {
                run(Transport::Ipc, false, false);
            }
        }
    )*};
}

matrix! {
    req_to_rep => req_rep;
    req_correlate_to_rep => req_correlate_rep;
    dealer_to_router => dealer_router;
    anonymous_dealer_to_router => anonymous_dealer_router;
    req_to_router => req_router;
    dealer_to_rep => dealer_rep;
}

/// An oxmq ROUTER with several libzmq DEALERs that set ROUTING_ID: each is known by its id.
fn router_with_named_libzmq_peers(transport: Transport) {
    let router = either(true, SocketType::Router);
    let endpoint = router.bind(&transport.bind_spec());
    let names = ["alpha", "beta", "gamma"];
    let dealers: Vec<Sock> = names
        .iter()
        .map(|name| {
            let dealer = either(false, SocketType::Dealer);
            dealer.set_routing_id(name.as_bytes());
            dealer.connect(&endpoint);
            dealer
        })
        .collect();
    for dealer in &dealers {
        dealer.send(&frames(&["hello"]));
    }
    let mut from: Vec<Vec<u8>> = (0..names.len())
        .map(|_| {
            let got = router.recv();
            assert_eq!(got[1..], frames(&["hello"]));
            got[0].clone()
        })
        .collect();
    from.sort();
    assert_eq!(from, frames(&names));
    // Reverse order, so that routing (not arrival order) decides.
    for name in names.iter().rev() {
        router.send(&frames(&[name, "for", name]));
    }
    for (dealer, name) in dealers.iter().zip(names) {
        assert_eq!(dealer.recv(), frames(&["for", name]));
    }
}

/// A libzmq ROUTER with oxmq DEALERs that set ROUTING_ID (the Identity in our READY).
fn libzmq_router_with_named_oxmq_peers(transport: Transport) {
    let router = either(false, SocketType::Router);
    let endpoint = router.bind(&transport.bind_spec());
    let names = ["one", "two"];
    let dealers: Vec<Sock> = names
        .iter()
        .map(|name| {
            let dealer = either(true, SocketType::Dealer);
            dealer.set_routing_id(name.as_bytes());
            dealer.connect(&endpoint);
            dealer.send(&frames(&["hi"]));
            dealer
        })
        .collect();
    let mut from: Vec<Vec<u8>> = (0..names.len()).map(|_| router.recv()[0].clone()).collect();
    from.sort();
    assert_eq!(from, frames(&names));
    for name in names.iter().rev() {
        router.send(&frames(&[name, name]));
    }
    for (dealer, name) in dealers.iter().zip(names) {
        assert_eq!(dealer.recv(), frames(&[name]));
    }
}

/// An oxmq ROUTER connects to a libzmq ROUTER with CONNECT_ROUTING_ID and sends at once; the
/// libzmq ROUTER answers by the oxmq ROUTER's own ROUTING_ID.
fn router_to_libzmq_router_with_connect_routing_id(transport: Transport) {
    let server = either(false, SocketType::Router);
    let endpoint = server.bind(&transport.bind_spec());
    let ox = ox(SocketType::Router);
    let client = &ox.socket;
    client.set_routing_id(b"client").unwrap();
    client.set_connect_routing_id(b"server").unwrap();
    client.connect(&endpoint).unwrap();
    client
        .send(Message::from_frames(["server", "hello", "world"]))
        .unwrap();
    assert_eq!(server.recv(), frames(&["client", "hello", "world"]));
    server.send(&frames(&["client", "hi"]));
    assert_eq!(client.recv().unwrap().to_vecs(), frames(&["server", "hi"]));
}

per_transport! {
    router_named_libzmq_peers => router_with_named_libzmq_peers;
    libzmq_router_named_oxmq_peers => libzmq_router_with_named_oxmq_peers;
    router_connect_routing_id_to_libzmq => router_to_libzmq_router_with_connect_routing_id;
}
