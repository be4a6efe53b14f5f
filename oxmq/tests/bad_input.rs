//! Hostile and broken peers on the wire (RELIABILITY-CHECKLIST §1.1, §1.4).
//!
//! Every test binds an oxmq socket on `tcp://127.0.0.1:*` and plays a misbehaving peer with a raw
//! `std::net::TcpStream`. For each case it checks that:
//!
//! 1. oxmq closes that connection (the raw client reads EOF or a reset within a few seconds,
//!    after discarding oxmq's own greeting and READY);
//! 2. no oxmq I/O thread panicked (a panic hook counts panics on `oxmq-*` threads);
//! 3. the socket still serves a legitimate oxmq peer from a separate context, and nothing the bad
//!    peer sent was delivered (the first message received is the legitimate one).
//!
//! Cases about sizes also check that memory is not allocated from announced sizes.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use oxmq::{Context, Socket, SocketType};

/// How long oxmq gets to drop a bad connection.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);
/// RCVTIMEO / SNDTIMEO for the legitimate-peer check, so a failure cannot hang the suite.
const LEGIT_TIMEOUT_MS: i32 = 5000;
/// HANDSHAKE_IVL for the cases about silent peers.
const SHORT_HANDSHAKE_IVL_MS: i32 = 200;
/// A connection dropped by the handshake timer must not go before this (the timer is 200 ms).
const HANDSHAKE_TIMER_FLOOR: Duration = Duration::from_millis(100);
/// What the legitimate peer sends.
const LEGIT: &[u8] = b"legitimate peer";
/// A data frame ("sneaky") appended after bad handshakes: it must never be delivered.
const SNEAKY_FRAME: &[u8] = b"\x00\x06sneaky";

// ---------------------------------------------------------------------------------------------
// Panic watch

// ---------------------------------------------------------------------------------------------
// The oxmq side

/// An oxmq socket bound to a loopback port. Fields drop in order: socket, then context.
struct Server {
    sock: Socket,
    _ctx: Context,
    /// `127.0.0.1:port`.
    addr: String,
    endpoint: String,
}

impl Server {
    fn bind(socket_type: SocketType, configure: impl FnOnce(&Socket)) -> Server {
        common::watch_io_panics();
        let ctx = Context::new();
        let sock = ctx.socket(socket_type).expect("socket");
        sock.set_linger(0).expect("linger");
        sock.set_rcvtimeo(LEGIT_TIMEOUT_MS).expect("rcvtimeo");
        sock.set_sndtimeo(LEGIT_TIMEOUT_MS).expect("sndtimeo");
        configure(&sock);
        sock.bind("tcp://127.0.0.1:*").expect("bind");
        let endpoint = sock.last_endpoint();
        let addr = endpoint
            .strip_prefix("tcp://")
            .expect("tcp endpoint")
            .to_owned();
        Server {
            sock,
            _ctx: ctx,
            addr,
            endpoint,
        }
    }

    fn pull() -> Server {
        Server::bind(SocketType::Pull, |_| {})
    }

    /// A PULL whose handshakes time out after [`SHORT_HANDSHAKE_IVL_MS`].
    fn pull_with_short_handshake_ivl() -> Server {
        Server::bind(SocketType::Pull, |s| {
            s.set_handshake_ivl(SHORT_HANDSHAKE_IVL_MS)
                .expect("handshake_ivl")
        })
    }

    /// A raw TCP client connected to this socket.
    fn dial(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(CLOSE_WITHIN))
            .expect("write timeout");
        stream
    }

    /// Dials and sends `bytes`. Write errors are ignored: oxmq may already have closed.
    fn send_raw(&self, bytes: &[u8]) -> TcpStream {
        let mut stream = self.dial();
        let _ = stream.write_all(bytes);
        stream
    }

    /// Dials and completes a NULL handshake as a PUSH peer, consuming oxmq's greeting and READY.
    fn raw_push_peer(&self) -> TcpStream {
        let mut stream = self.dial();
        let mut hello = greeting().to_vec();
        hello.extend(command(&ready_body(&[(b"Socket-Type", b"PUSH")])));
        stream.write_all(&hello).expect("send greeting and READY");
        read_greeting_and_ready(&mut stream);
        stream
    }

    /// The socket still works for a well-behaved oxmq peer, and nothing a bad peer sent was
    /// delivered ahead of it. Also checks that no oxmq thread panicked.
    fn assert_serves_legit_peer(&self) {
        let ctx = Context::new();
        match self.sock.socket_type() {
            SocketType::Pull => {
                let push = ctx.socket(SocketType::Push).expect("socket");
                push.set_linger(LEGIT_TIMEOUT_MS).expect("linger");
                push.connect(&self.endpoint).expect("connect");
                push.send(LEGIT).expect("legit send");
                let msg = self
                    .sock
                    .recv()
                    .expect("PULL must still receive from a good peer");
                assert_eq!(msg.len(), 1, "unexpected message {:?}", msg.to_vecs());
                assert_eq!(msg[0], LEGIT, "unexpected message {:?}", msg.to_vecs());
            }
            SocketType::Push => {
                let pull = ctx.socket(SocketType::Pull).expect("socket");
                pull.set_linger(0).expect("linger");
                pull.set_rcvtimeo(LEGIT_TIMEOUT_MS).expect("rcvtimeo");
                pull.connect(&self.endpoint).expect("connect");
                self.sock
                    .send(LEGIT)
                    .expect("PUSH must still send to a good peer");
                let msg = pull.recv().expect("good peer must receive from the PUSH");
                assert_eq!(msg[0], LEGIT);
            }
            other => panic!("no legit-peer check for {other:?}"),
        }
        assert_eq!(common::io_panics(), 0, "an oxmq I/O thread panicked");
    }
}

// ---------------------------------------------------------------------------------------------
// Wire helpers

/// A ZMTP 3.1 NULL greeting, as-server 0.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A frame with `flags`; the LONG form is used above 255 bytes.
fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = match u8::try_from(body.len()) {
        Ok(short) => vec![flags, short],
        Err(_) => long_header(flags, body.len() as u64),
    };
    out.extend_from_slice(body);
    out
}

/// A LONG frame header announcing `size` (no body).
fn long_header(flags: u8, size: u64) -> Vec<u8> {
    let mut out = vec![flags | 0x02];
    out.extend_from_slice(&size.to_be_bytes());
    out
}

fn command(body: &[u8]) -> Vec<u8> {
    frame(0x04, body)
}

/// A metadata property: name and value.
type Property<'a> = (&'a [u8], &'a [u8]);

/// A READY command body with the given properties, encoded honestly.
fn ready_body(props: &[Property]) -> Vec<u8> {
    let mut body = b"\x05READY".to_vec();
    for (name, value) in props {
        body.push(u8::try_from(name.len()).expect("name length"));
        body.extend_from_slice(name);
        body.extend_from_slice(&u32::try_from(value.len()).expect("value").to_be_bytes());
        body.extend_from_slice(value);
    }
    body
}

/// Greeting, a READY with `body`, then a data frame that must not get through.
fn handshake_then_sneaky(ready: &[u8]) -> Vec<u8> {
    let mut bytes = greeting().to_vec();
    bytes.extend(command(ready));
    bytes.extend_from_slice(SNEAKY_FRAME);
    bytes
}

/// Reads exactly `buf.len()` bytes, failing the test after [`CLOSE_WITHIN`].
fn read_exact_in_time(stream: &mut TcpStream, buf: &mut [u8], what: &str) {
    stream
        .set_read_timeout(Some(CLOSE_WITHIN))
        .expect("read timeout");
    stream
        .read_exact(buf)
        .unwrap_or_else(|err| panic!("reading {what}: {err}"));
}

/// Reads oxmq's 64-byte greeting and its READY command.
fn read_greeting_and_ready(stream: &mut TcpStream) {
    let mut g = [0u8; 64];
    read_exact_in_time(stream, &mut g, "oxmq's greeting");
    assert_eq!((g[0], g[9] & 1, g[10]), (0xFF, 1, 3), "greeting {g:?}");
    assert_eq!(&g[12..17], b"NULL\0");
    let mut head = [0u8; 2];
    read_exact_in_time(stream, &mut head, "oxmq's READY header");
    assert_eq!(head[0] & 0x04, 0x04, "first frame must be a command");
    let size = if head[0] & 0x02 == 0 {
        u64::from(head[1])
    } else {
        let mut long = [0u8; 8];
        long[0] = head[1];
        read_exact_in_time(stream, &mut long[1..], "oxmq's READY size");
        u64::from_be_bytes(long)
    };
    assert!(size < 4096, "READY of {size} bytes");
    let mut body = vec![0u8; size as usize];
    read_exact_in_time(stream, &mut body, "oxmq's READY body");
    assert!(body.starts_with(b"\x05READY"), "READY body {body:?}");
}

/// Reads (and discards) until oxmq closes the connection (EOF or an error such as a reset).
/// Fails if it is still open at `deadline`. Returns when the close was seen.
fn wait_closed_by(stream: &mut TcpStream, deadline: Instant, what: &str) -> Instant {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: oxmq kept the connection open for {CLOSE_WITHIN:?}"
        );
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return Instant::now(),
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Instant::now(), // reset: closed too
        }
    }
}

fn assert_closed(mut stream: TcpStream, what: &str) {
    wait_closed_by(&mut stream, Instant::now() + CLOSE_WITHIN, what);
}

/// Deterministic pseudo-random bytes (xorshift64).
fn noise(mut seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// This process's (virtual size, resident size) in bytes, from `/proc/self/statm`.
fn memory() -> (u64, u64) {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let mut pages = statm
        .split_whitespace()
        .map(|v| v.parse::<u64>().expect("statm field"));
    let size = pages.next().expect("size");
    let resident = pages.next().expect("resident");
    const PAGE: u64 = 4096;
    (size * PAGE, resident * PAGE)
}

/// Runs each `(label, bytes)` client against a fresh socket from `server`: sends the bytes,
/// expects the connection to be closed, then checks a legitimate peer.
fn refuse_each(server: fn() -> Server, cases: &[(&str, Vec<u8>)]) {
    for (label, bytes) in cases {
        let s = server();
        assert_closed(s.send_raw(bytes), label);
        s.assert_serves_legit_peer();
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// Control: the raw peer used below is a valid PUSH, so the cases after the handshake really
/// test frames, the sneaky frame would be caught if delivered, and MAXMSGSIZE is inclusive.
#[test]
fn control_well_behaved_raw_peer_is_served() {
    let s = Server::bind(SocketType::Pull, |sock| {
        sock.set_maxmsgsize(1000).expect("maxmsgsize")
    });
    let mut stream = s.raw_push_peer();
    stream
        .write_all(&frame(0x00, &[0x5A; 1000]))
        .expect("send 1000 bytes");
    let msg = s.sock.recv().expect("frame at MAXMSGSIZE delivered");
    assert_eq!(msg[0].as_bytes(), &[0x5A; 1000][..]);
    let honest = s.send_raw(&handshake_then_sneaky(&ready_body(&[(
        b"Socket-Type",
        b"PUSH",
    )])));
    let msg = s.sock.recv().expect("honest peer's frame delivered");
    assert_eq!(msg[0], b"sneaky");
    drop((stream, honest));
    s.assert_serves_legit_peer();
}

#[test]
fn garbage_instead_of_greeting() {
    let mut cases = vec![
        ("HTTP GET", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("single zero byte (nmap)", vec![0x00]),
        (
            "TLS ClientHello prefix",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(),
        ),
    ];
    for seed in [1, 0x9E37_79B9_7F4A_7C15, 0xDEAD_BEEF] {
        cases.push(("64 random bytes", noise(seed, 64)));
    }
    refuse_each(Server::pull, &cases);
}

/// Every proper prefix of a valid greeting, then the client half-closes.
#[test]
fn greeting_cut_short_then_peer_closes() {
    let s = Server::pull();
    let g = greeting();
    for len in 1..g.len() {
        let stream = s.send_raw(&g[..len]);
        stream.shutdown(Shutdown::Write).expect("half-close");
        assert_closed(stream, &format!("greeting cut at {len} bytes, then FIN"));
    }
    s.assert_serves_legit_peer();
}

/// Every proper prefix of a valid greeting, then silence: HANDSHAKE_IVL must drop them all.
#[test]
fn greeting_cut_short_then_silence() {
    let s = Server::pull_with_short_handshake_ivl();
    let g = greeting();
    // All 63 connections stall at once, so the timer is exercised with many pending handshakes.
    let mut stalled: Vec<(usize, Instant, TcpStream)> = (1..g.len())
        .map(|len| (len, Instant::now(), s.send_raw(&g[..len])))
        .collect();
    let deadline = Instant::now() + CLOSE_WITHIN;
    for (len, opened, stream) in &mut stalled {
        let what = format!("greeting cut at {len} bytes, then silence");
        let closed = wait_closed_by(stream, deadline, &what);
        assert!(
            closed - *opened >= HANDSHAKE_TIMER_FLOOR,
            "{what}: closed after {:?}, before HANDSHAKE_IVL",
            closed - *opened
        );
    }
    s.assert_serves_legit_peer();
}

#[test]
fn zmtp1_greeting_refused() {
    let mut poc_1488 = vec![0xFF];
    poc_1488.extend_from_slice(&0xFFFF_FFFF_FFFF_FFDAu64.to_be_bytes());
    poc_1488.push(0x00);
    poc_1488.extend_from_slice(&[b'A'; 5000]);
    let mut identity_2_37 = vec![0xFF, 0x00, 0x00, 0x00, 0x20];
    identity_2_37.extend_from_slice(&[0; 59]);
    refuse_each(
        Server::pull,
        &[
            (
                "anonymous ZMTP 1.0 identity, then a frame",
                b"\x01\x00\x08\x00sneaky\x00".to_vec(),
            ),
            ("ZMTP 1.0 long frame (libzmq #1488)", poc_1488),
            ("ZMTP 1.0 identity of 2^37 bytes (96d3cb39)", identity_2_37),
        ],
    );
}

#[test]
fn zmtp2_greeting_refused() {
    // ZMTP 2.0: signature, revision 1, socket type PUSH (8), then an empty identity frame
    // (flags, size) and a data frame.
    let mut v2 = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x08, 0x00, 0x00];
    v2.extend_from_slice(SNEAKY_FRAME);
    let mut v2_padded = v2.clone();
    v2_padded.resize(64, 0);
    refuse_each(
        Server::pull,
        &[
            ("ZMTP 2.0 greeting", v2),
            ("ZMTP 2.0 greeting padded to 64", v2_padded),
        ],
    );
}

/// MAXMSGSIZE 1000, a 2000-byte frame: refused, and from its header alone.
#[test]
fn frame_above_maxmsgsize() {
    let header = long_header(0x00, 2000);
    let whole = frame(0x00, &[0x5A; 2000]);
    for (label, bytes) in [("2000-byte frame", whole), ("its header only", header)] {
        let s = Server::bind(SocketType::Pull, |sock| {
            sock.set_maxmsgsize(1000).expect("maxmsgsize")
        });
        let mut stream = s.raw_push_peer();
        let _ = stream.write_all(&bytes);
        assert_closed(stream, label);
        s.assert_serves_legit_peer();
    }
}

/// A LONG size of 2^63 or more is outside the grammar (CVE-2019-6250 shape).
#[test]
fn long_size_of_2_63_or_more() {
    let cases: [(u8, u64); 5] = [
        (0x02, 1 << 63),
        (0x02, u64::MAX),
        (0x02, 0xFFFF_FFFF_FFFF_FF00),
        (0x03, 1 << 63),
        (0x06, u64::MAX),
    ];
    for (flags, size) in cases {
        let s = Server::pull();
        let mut stream = s.raw_push_peer();
        let mut bytes = long_header(flags, size);
        bytes.extend_from_slice(&[b'A'; 5000]);
        let _ = stream.write_all(&bytes);
        assert_closed(stream, &format!("flags {flags:#04x}, size {size:#x}"));
        s.assert_serves_legit_peer();
    }
}

/// Frames announcing 2^62 bytes and 4 GiB, followed by silence, allocate nothing near that.
///
/// RSS alone cannot see a reservation the kernel has not backed yet, so the virtual size is
/// bounded too: eight connections preallocating their announced sizes would add at least 16 GiB.
#[test]
fn huge_announcements_do_not_allocate() {
    const CONNECTIONS: usize = 8;
    const RSS_BUDGET: u64 = 64 << 20;
    const VSZ_BUDGET: u64 = 8 << 30;
    let s = Server::pull();
    let (vsz_before, rss_before) = memory();
    let mut ping = b"\x04PING\x00\x00".to_vec();
    ping.extend_from_slice(b"mem");
    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let size = if i % 2 == 0 { 1 << 62 } else { 4 << 30 };
        let mut stream = s.raw_push_peer();
        // A PING in the same write: its PONG proves oxmq has parsed the announcement after it.
        let mut bytes = command(&ping);
        bytes.extend(long_header(0x00, size));
        bytes.extend_from_slice(&[0x5A; 4096]);
        stream.write_all(&bytes).expect("announce");
        let mut pong = [0u8; 10];
        read_exact_in_time(&mut stream, &mut pong, "PONG");
        assert_eq!(&pong, b"\x04\x08\x04PONGmem");
        clients.push(stream);
    }
    std::thread::sleep(Duration::from_millis(200));
    let (vsz_after, rss_after) = memory();
    let rss_growth = rss_after.saturating_sub(rss_before);
    let vsz_growth = vsz_after.saturating_sub(vsz_before);
    assert!(
        rss_growth < RSS_BUDGET,
        "RSS grew by {} MiB",
        rss_growth >> 20
    );
    assert!(
        vsz_growth < VSZ_BUDGET,
        "virtual size grew by {} MiB",
        vsz_growth >> 20
    );
    // The peers are silent, not broken: oxmq may keep waiting. Closing them must free the
    // socket for others.
    drop(clients);
    s.assert_serves_legit_peer();
}

#[test]
fn ready_with_lying_lengths() {
    let props = |tail: &[u8]| {
        let mut body = b"\x05READY".to_vec();
        body.extend_from_slice(tail);
        body
    };
    let mut trailing = ready_body(&[(b"Socket-Type", b"PUSH")]);
    trailing.push(b'X');
    let mut trailing_zero = ready_body(&[(b"Socket-Type", b"PUSH")]);
    trailing_zero.push(0);
    let cases = [
        (
            "value length beyond the body",
            props(b"\x0bSocket-Type\x00\x00\x00\xffPUSH"),
        ),
        (
            "value length 2^32-1",
            props(b"\x0bSocket-Type\xff\xff\xff\xffPUSH"),
        ),
        ("value length cut short", props(b"\x0bSocket-Type\x00\x00")),
        ("name length beyond the body", props(b"\xffSocket-Type")),
        ("name length one past the body", props(b"\x0cSocket-Type")),
        (
            "zero-length name",
            props(b"\x00\x00\x00\x00\x04PUSH\x0bSocket-Type\x00\x00\x00\x04PUSH"),
        ),
        ("trailing byte after the properties", trailing),
        ("trailing zero byte after the properties", trailing_zero),
        ("command name length beyond the body", b"\x05RE".to_vec()),
        ("empty command", Vec::new()),
    ];
    let cases: Vec<(&str, Vec<u8>)> = cases
        .into_iter()
        .map(|(label, body)| (label, handshake_then_sneaky(&body)))
        .collect();
    refuse_each(Server::pull, &cases);
}

/// PUSH to PUSH must be refused, and so must unknown or missing socket types.
#[test]
fn incompatible_or_unknown_socket_type() {
    let cases: [(SocketType, &[Property]); 7] = [
        (SocketType::Push, &[(b"Socket-Type", b"PUSH")]),
        (SocketType::Pull, &[(b"Socket-Type", b"PULL")]),
        (SocketType::Pull, &[(b"Socket-Type", b"PUB")]),
        (SocketType::Pull, &[(b"Socket-Type", b"FOO")]),
        (SocketType::Pull, &[(b"Socket-Type", b"push")]),
        (SocketType::Pull, &[(b"Socket-Type", b"")]),
        (SocketType::Pull, &[(b"X-Foo", b"PUSH")]),
    ];
    for (server_type, props) in cases {
        let s = Server::bind(server_type, |_| {});
        let stream = s.send_raw(&handshake_then_sneaky(&ready_body(props)));
        let label = format!("{props:?} to {server_type:?}");
        assert_closed(stream, &label);
        s.assert_serves_legit_peer();
    }
}

/// A peer that stops after its greeting (or part of its READY): HANDSHAKE_IVL drops it.
#[test]
fn silent_mid_handshake() {
    let ready = command(&ready_body(&[(b"Socket-Type", b"PUSH")]));
    for cut in [0, 1, 5, ready.len() - 1] {
        let s = Server::pull_with_short_handshake_ivl();
        let opened = Instant::now();
        let mut stream = s.dial();
        let mut bytes = greeting().to_vec();
        bytes.extend_from_slice(&ready[..cut]);
        stream.write_all(&bytes).expect("greeting");
        read_greeting_and_ready(&mut stream);
        let what = format!("greeting and {cut} bytes of READY, then silence");
        let closed = wait_closed_by(&mut stream, opened + CLOSE_WITHIN, &what);
        assert!(
            closed - opened >= HANDSHAKE_TIMER_FLOOR,
            "{what}: closed after {:?}, before HANDSHAKE_IVL",
            closed - opened
        );
        s.assert_serves_legit_peer();
    }
}
