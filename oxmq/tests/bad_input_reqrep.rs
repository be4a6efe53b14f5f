//! Broken and hostile peers of REQ, REP and ROUTER, played by a raw TCP client or server that
//! speaks ZMTP 3.1 by hand.
//!
//! Each case checks what oxmq does with the bad input (dropped, refused, connection closed),
//! that the right messages still get through, and that no oxmq thread panicked.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use oxmq::{Context, Error, Message, Socket, SocketType};

/// How long any single wait may take before the test fails.
const WITHIN: Duration = Duration::from_secs(5);
const TIMEOUT_MS: i32 = 5000;

fn assert_no_panics() {
    assert_eq!(common::io_panics(), 0, "an oxmq I/O thread panicked");
}

// ---------------------------------------------------------------------------------------------
// ZMTP by hand

const MORE: u8 = 0x01;
const LONG: u8 = 0x02;
const COMMAND: u8 = 0x04;

/// A ZMTP 3.1 NULL greeting.
fn greeting(as_server: bool) -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g[32] = u8::from(as_server);
    g
}

fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = match u8::try_from(body.len()) {
        Ok(short) => vec![flags, short],
        Err(_) => {
            let mut head = vec![flags | LONG];
            head.extend_from_slice(&(body.len() as u64).to_be_bytes());
            head
        }
    };
    out.extend_from_slice(body);
    out
}

/// A READY command announcing `socket_type` and, if given, an `Identity`.
fn ready(socket_type: &str, identity: Option<&[u8]>) -> Vec<u8> {
    let mut body = b"\x05READY".to_vec();
    let mut property = |name: &[u8], value: &[u8]| {
        body.push(name.len() as u8);
        body.extend_from_slice(name);
        body.extend_from_slice(&(value.len() as u32).to_be_bytes());
        body.extend_from_slice(value);
    };
    property(b"Socket-Type", socket_type.as_bytes());
    if let Some(identity) = identity {
        property(b"Identity", identity);
    }
    frame(COMMAND, &body)
}

/// A multi-part data message on the wire.
fn message(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let more = if i + 1 < parts.len() { MORE } else { 0 };
        out.extend(frame(more, part));
    }
    out
}

/// One side of a raw ZMTP connection.
struct Raw {
    stream: TcpStream,
}

impl Raw {
    fn new(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(WITHIN)).unwrap();
        stream.set_write_timeout(Some(WITHIN)).unwrap();
        Raw { stream }
    }

    /// Connects to `endpoint` (`tcp://host:port`) and sends a greeting and READY.
    fn dial(endpoint: &str, socket_type: &str, identity: Option<&[u8]>) -> Raw {
        let addr = endpoint.strip_prefix("tcp://").expect("tcp endpoint");
        let mut raw = Raw::new(TcpStream::connect(addr).expect("connect"));
        raw.write(&greeting(false));
        raw.write(&ready(socket_type, identity));
        raw
    }

    /// Accepts a connection on `listener` and sends a greeting and READY.
    fn accept(listener: &TcpListener, socket_type: &str) -> Raw {
        let (stream, _) = listener.accept().expect("accept");
        let mut raw = Raw::new(stream);
        raw.write(&greeting(true));
        raw.write(&ready(socket_type, None));
        raw
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    fn send(&mut self, parts: &[&[u8]]) {
        self.write(&message(parts));
    }

    fn read_exact(&mut self, buf: &mut [u8]) {
        self.stream.read_exact(buf).expect("read from oxmq");
    }

    /// Reads one frame: (flags, body).
    fn read_frame(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        self.read_exact(&mut head);
        let size = if head[0] & LONG == 0 {
            u64::from(head[1])
        } else {
            let mut long = [0u8; 8];
            long[0] = head[1];
            self.read_exact(&mut long[1..]);
            u64::from_be_bytes(long)
        };
        assert!(size < 1 << 20, "frame of {size} bytes");
        let mut body = vec![0u8; size as usize];
        self.read_exact(&mut body);
        (head[0], body)
    }

    /// Reads oxmq's greeting and READY.
    fn handshake(&mut self) {
        let mut g = [0u8; 64];
        self.read_exact(&mut g);
        assert_eq!((g[0], g[10]), (0xFF, 3), "greeting {g:?}");
        let (flags, body) = self.read_frame();
        assert!(flags & COMMAND != 0 && body.starts_with(b"\x05READY"));
    }

    /// Reads the next data message (commands are skipped).
    fn recv(&mut self) -> Vec<Vec<u8>> {
        let mut parts = Vec::new();
        loop {
            let (flags, body) = self.read_frame();
            if flags & COMMAND != 0 {
                continue;
            }
            parts.push(body);
            if flags & MORE == 0 {
                return parts;
            }
        }
    }

    /// Waits until oxmq closes the connection (EOF or reset); fails after [`WITHIN`].
    fn assert_closed(self) {
        self.assert_closed_while(|| {});
    }

    /// Waits until oxmq closes the connection, calling `poke` every few milliseconds (a socket
    /// applies what its peers did when it is used).
    fn assert_closed_while(mut self, poke: impl Fn()) {
        let deadline = Instant::now() + WITHIN;
        let mut buf = [0u8; 4096];
        loop {
            poke();
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "oxmq kept the connection open");
            let step = left.min(Duration::from_millis(5));
            self.stream.set_read_timeout(Some(step)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The oxmq side

fn sock(ctx: &Context, socket_type: SocketType) -> Socket {
    common::watch_io_panics();
    let socket = ctx.socket(socket_type).unwrap();
    socket.set_linger(0).unwrap();
    socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
    socket.set_sndtimeo(TIMEOUT_MS).unwrap();
    socket
}

fn bound(ctx: &Context, socket_type: SocketType) -> (Socket, String) {
    let socket = sock(ctx, socket_type);
    socket.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = socket.last_endpoint();
    (socket, endpoint)
}

fn texts(msg: &Message) -> Vec<Vec<u8>> {
    msg.to_vecs()
}

fn parts(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|part| part.to_vec()).collect()
}

// ---------------------------------------------------------------------------------------------
// Cases

/// A request without the envelope delimiter is dropped; the connection stays, and the next good
/// request is answered; a well-behaved REQ is served too.
#[test]
fn rep_drops_a_request_without_a_delimiter() {
    let ctx = Context::new();
    let (rep, endpoint) = bound(&ctx, SocketType::Rep);
    let mut raw = Raw::dial(&endpoint, "DEALER", None);
    raw.handshake();
    raw.send(&[b"no delimiter"]);
    raw.send(&[b"hop", b"still no delimiter"]);
    raw.send(&[b""]);
    raw.send(&[b"", b"good"]);
    let got = rep.recv().unwrap();
    assert_eq!(texts(&got), parts(&[b"good"]));
    rep.send("answer").unwrap();
    assert_eq!(raw.recv(), parts(&[b"", b"answer"]));

    let legit = sock(&ctx, SocketType::Req);
    legit.connect(&endpoint).unwrap();
    legit.send("legit").unwrap();
    assert_eq!(texts(&rep.recv().unwrap()), parts(&[b"legit"]));
    rep.send("served").unwrap();
    assert_eq!(texts(&legit.recv().unwrap()), parts(&[b"served"]));
    assert_no_panics();
}

/// A reply without the empty delimiter is dropped; the right reply is still delivered.
#[test]
fn req_drops_a_reply_without_a_delimiter() {
    let ctx = Context::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .unwrap();
    req.send("ask").unwrap();
    let mut server = Raw::accept(&listener, "REP");
    server.handshake();
    assert_eq!(server.recv(), parts(&[b"", b"ask"]));
    server.send(&[b"no delimiter"]);
    server.send(&[b"x", b"", b"wrong first frame"]);
    server.send(&[b""]);
    server.send(&[b"", b"good"]);
    assert_eq!(texts(&req.recv().unwrap()), parts(&[b"good"]));
    assert_no_panics();
}

/// A reply from a peer the REQ did not ask is dropped; the asked peer's reply is delivered.
#[test]
fn req_drops_a_reply_from_a_peer_it_did_not_ask() {
    let ctx = Context::new();
    let asked = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let req = sock(&ctx, SocketType::Req);
    // The first connected peer gets the first request.
    req.connect(&format!("tcp://{}", asked.local_addr().unwrap()))
        .unwrap();
    req.connect(&format!("tcp://{}", other.local_addr().unwrap()))
        .unwrap();
    req.send("ask").unwrap();
    let mut asked = Raw::accept(&asked, "REP");
    asked.handshake();
    let mut other = Raw::accept(&other, "ROUTER");
    other.handshake();
    other.send(&[b"", b"not asked"]);
    assert_eq!(asked.recv(), parts(&[b"", b"ask"]));
    // Let the unsolicited reply reach the REQ first, so that it is really read and dropped.
    let deadline = Instant::now() + WITHIN;
    while !req.has_incoming() {
        assert!(
            Instant::now() < deadline,
            "the unsolicited reply never came"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    asked.send(&[b"", b"from the asked peer"]);
    assert_eq!(
        texts(&req.recv().unwrap()),
        parts(&[b"from the asked peer"])
    );
    assert_no_panics();
}

/// A ROUTER sending to an unknown id: dropped, or EHOSTUNREACH with ROUTER_MANDATORY; the known
/// peer is unaffected.
#[test]
fn router_send_to_an_unknown_id() {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router);
    let mut raw = Raw::dial(&endpoint, "DEALER", Some(b"raw"));
    raw.handshake();
    raw.send(&[b"hello"]);
    assert_eq!(texts(&router.recv().unwrap()), parts(&[b"raw", b"hello"]));
    router
        .send(Message::from_frames(["nobody", "lost"]))
        .expect("dropped silently");
    router.set_router_mandatory(true).unwrap();
    let err = router
        .try_send(Message::from_frames(["nobody", "lost"]))
        .unwrap_err();
    assert_eq!(err.error(), Error::HostUnreachable);
    router
        .send(Message::from_frames(["raw", "for you", "two parts"]))
        .unwrap();
    assert_eq!(raw.recv(), parts(&[b"for you", b"two parts"]));
    assert_no_panics();
}

/// An Identity of 256 bytes is refused by the handshake: the connection is closed and nothing
/// it sent is delivered; other peers are still served.
#[test]
fn router_refuses_a_routing_id_of_256_bytes() {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router);
    let long = [b'x'; 256];
    let mut raw = Raw::dial(&endpoint, "DEALER", Some(&long));
    raw.send(&[b"sneaky"]);
    raw.assert_closed();
    let mut legit = Raw::dial(&endpoint, "DEALER", Some(&long[..255]));
    legit.handshake();
    legit.send(&[b"legit"]);
    let got = router.recv().unwrap();
    assert_eq!(got[0].len(), 255, "the longest id allowed");
    assert_eq!(&got[1], b"legit");
    assert_no_panics();
}

/// An empty Identity gets a generated 5-byte id, by which the peer can be answered.
#[test]
fn router_names_an_empty_routing_id() {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router);
    let mut raw = Raw::dial(&endpoint, "DEALER", Some(b""));
    raw.handshake();
    raw.send(&[b"anonymous"]);
    let got = router.recv().unwrap();
    assert_eq!(got.len(), 2);
    let id = got[0].to_vec();
    assert_eq!((id.len(), id[0]), (5, 0), "{id:?}");
    let mut reply = Message::from("answer");
    reply.push_front(id);
    router.send(reply).unwrap();
    assert_eq!(raw.recv(), parts(&[b"answer"]));
    assert_no_panics();
}

/// A peer that claims a routing id already in use is dropped (its connection closed) and the
/// holder keeps it; nothing the impostor sent is delivered.
#[test]
fn router_drops_a_peer_claiming_an_id_in_use() {
    let ctx = Context::new();
    let (router, endpoint) = bound(&ctx, SocketType::Router);
    let mut holder = Raw::dial(&endpoint, "DEALER", Some(b"X"));
    holder.handshake();
    holder.send(&[b"first"]);
    assert_eq!(texts(&router.recv().unwrap()), parts(&[b"X", b"first"]));
    let mut impostor = Raw::dial(&endpoint, "DEALER", Some(b"X"));
    impostor.send(&[b"impostor"]);
    // The ROUTER applies what its peers did whenever it is used.
    impostor.assert_closed_while(|| {
        router.has_incoming();
    });
    router
        .send(Message::from_frames(["X", "still yours"]))
        .unwrap();
    assert_eq!(holder.recv(), parts(&[b"still yours"]));
    holder.send(&[b"second"]);
    assert_eq!(texts(&router.recv().unwrap()), parts(&[b"X", b"second"]));
    assert_no_panics();
}
