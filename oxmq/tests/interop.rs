//! Interoperability with real libzmq: the `zmq` crate, which builds libzmq 4.3 from source.
//!
//! Every scenario runs over tcp and ipc, with oxmq binding and with libzmq binding, and with the
//! messages going from oxmq to libzmq and from libzmq to oxmq (the `matrix!` macro writes out the
//! combinations). Both implementations sit behind the [`End`] trait, so a scenario is written once.
//! Every socket has a receive and send timeout, so a bug fails a test instead of hanging it.

use std::cell::RefCell;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use oxmq::{Context, Message, SocketType};

/// RCVTIMEO and SNDTIMEO of every socket, in milliseconds.
const TIMEOUT_MS: i32 = 10_000;

/// How long "nothing arrives" is watched for, in milliseconds.
const QUIET_MS: i32 = 300;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn ipc_path() -> PathBuf {
    std::env::temp_dir().join(format!("oxmq-interop-{}.sock", unique()))
}

impl Transport {
    /// An endpoint to bind: tcp with a wildcard port (the binder's last endpoint resolves it), ipc
    /// with a fresh path.
    fn bind_spec(self) -> String {
        match self {
            Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
            Transport::Ipc => format!("ipc://{}", ipc_path().display()),
        }
    }

    /// A concrete endpoint that nobody listens on yet: a port the kernel just handed out (and
    /// that is free again), or a fresh ipc path.
    fn fixed_endpoint(self) -> String {
        match self {
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                format!("tcp://{}", listener.local_addr().unwrap())
            }
            Transport::Ipc => self.bind_spec(),
        }
    }
}

/// One socket, of either implementation. Frames travel as byte vectors.
trait End: Send {
    /// Binds and returns the resolved endpoint.
    fn bind(&self, spec: &str) -> String;
    fn connect(&self, endpoint: &str);
    fn send(&self, frames: &[Vec<u8>]);
    /// The next message, or `None` when none arrives within `timeout_ms`.
    fn recv_within(&self, timeout_ms: i32) -> Option<Vec<Vec<u8>>>;

    /// The next message; panics when none arrives within [`TIMEOUT_MS`].
    fn recv(&self) -> Vec<Vec<u8>> {
        self.recv_within(TIMEOUT_MS)
            .unwrap_or_else(|| panic!("nothing received within {TIMEOUT_MS} ms"))
    }
}

/// An oxmq socket with a context of its own.
struct Ox {
    socket: oxmq::Socket,
    _ctx: Context,
}

fn ox(socket_type: SocketType) -> Ox {
    let ctx = Context::new();
    let socket = ctx.socket(socket_type).unwrap();
    socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
    socket.set_sndtimeo(TIMEOUT_MS).unwrap();
    socket.set_linger(0).unwrap();
    Ox { socket, _ctx: ctx }
}

impl End for Ox {
    fn bind(&self, spec: &str) -> String {
        self.socket.bind(spec).unwrap();
        self.socket.last_endpoint()
    }

    fn connect(&self, endpoint: &str) {
        self.socket.connect(endpoint).unwrap();
    }

    fn send(&self, frames: &[Vec<u8>]) {
        let msg = Message::from_frames(frames.iter().map(Vec::as_slice));
        self.socket.send(msg).unwrap();
    }

    fn recv_within(&self, timeout_ms: i32) -> Option<Vec<Vec<u8>>> {
        self.socket.set_rcvtimeo(timeout_ms).unwrap();
        let got = self.socket.recv();
        self.socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
        match got {
            Ok(msg) => Some(msg.iter().map(|frame| frame.to_vec()).collect()),
            Err(oxmq::Error::WouldBlock) => None,
            Err(err) => panic!("oxmq recv: {err}"),
        }
    }
}

/// A libzmq socket. It holds a reference to its context, which terminates when the last socket
/// of the context is closed.
struct Lz {
    socket: zmq::Socket,
    /// The ipc paths it bound: libzmq 4.3 leaves the files behind when it closes.
    ipc_files: RefCell<Vec<PathBuf>>,
}

impl Drop for Lz {
    fn drop(&mut self) {
        for path in self.ipc_files.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn lz_in(ctx: &zmq::Context, socket_type: zmq::SocketType) -> Lz {
    let socket = ctx.socket(socket_type).unwrap();
    socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
    socket.set_sndtimeo(TIMEOUT_MS).unwrap();
    socket.set_linger(0).unwrap();
    Lz {
        socket,
        ipc_files: RefCell::default(),
    }
}

fn lz(socket_type: zmq::SocketType) -> Lz {
    lz_in(&zmq::Context::new(), socket_type)
}

impl End for Lz {
    fn bind(&self, spec: &str) -> String {
        self.socket.bind(spec).unwrap();
        if let Some(path) = spec.strip_prefix("ipc://") {
            self.ipc_files.borrow_mut().push(path.into());
        }
        self.socket.get_last_endpoint().unwrap().unwrap()
    }

    fn connect(&self, endpoint: &str) {
        self.socket.connect(endpoint).unwrap();
    }

    fn send(&self, frames: &[Vec<u8>]) {
        self.socket
            .send_multipart(frames.iter().map(Vec::as_slice), 0)
            .unwrap();
    }

    fn recv_within(&self, timeout_ms: i32) -> Option<Vec<Vec<u8>>> {
        self.socket.set_rcvtimeo(timeout_ms).unwrap();
        let got = self.socket.recv_multipart(0);
        self.socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
        match got {
            Ok(frames) => Some(frames),
            Err(zmq::Error::EAGAIN) => None,
            Err(err) => panic!("libzmq recv: {err}"),
        }
    }
}

/// The socket types of a scenario.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// PAIR with PAIR.
    Pair,
    /// PUSH on the sending side, PULL on the receiving side.
    PushPull,
}

/// Where a scenario runs: the transport, which implementation binds, which one sends.
#[derive(Clone, Copy, Debug)]
struct Setup {
    transport: Transport,
    oxmq_binds: bool,
    oxmq_sends: bool,
}

type Boxed = Box<dyn End>;

/// A socket of `socket_type` from oxmq or from libzmq.
fn socket(oxmq: bool, socket_type: SocketType) -> Boxed {
    if oxmq {
        return Box::new(ox(socket_type));
    }
    Box::new(lz(match socket_type {
        SocketType::Pair => zmq::PAIR,
        SocketType::Push => zmq::PUSH,
        SocketType::Pull => zmq::PULL,
        other => unreachable!("oxmq has no {other:?} sockets yet"),
    }))
}

/// A connected (sender, receiver) pair for `setup`.
fn link(setup: Setup, kind: Kind) -> (Boxed, Boxed) {
    let (sender_type, receiver_type) = match kind {
        Kind::Pair => (SocketType::Pair, SocketType::Pair),
        Kind::PushPull => (SocketType::Push, SocketType::Pull),
    };
    let sender = socket(setup.oxmq_sends, sender_type);
    let receiver = socket(!setup.oxmq_sends, receiver_type);
    let sender_binds = setup.oxmq_binds == setup.oxmq_sends;
    let (binder, connecter) = if sender_binds {
        (&sender, &receiver)
    } else {
        (&receiver, &sender)
    };
    let endpoint = binder.bind(&setup.transport.bind_spec());
    connecter.connect(&endpoint);
    (sender, receiver)
}

/// Writes one test per transport, binder and direction for each scenario `fn(Setup)`.
macro_rules! matrix {
    ($($name:ident => $scenario:expr;)*) => {$(
        mod $name {
            use super::*;

            fn run(transport: Transport, oxmq_binds: bool, oxmq_sends: bool) {
                let setup = Setup { transport, oxmq_binds, oxmq_sends };
                let scenario: fn(Setup) = $scenario;
                scenario(setup);
            }

            #[test]
            fn tcp_oxmq_binds_oxmq_sends() {
                run(Transport::Tcp, true, true);
            }
            #[test]
            fn tcp_oxmq_binds_libzmq_sends() {
                run(Transport::Tcp, true, false);
            }
            #[test]
            fn tcp_libzmq_binds_oxmq_sends() {
                run(Transport::Tcp, false, true);
            }
            #[test]
            fn tcp_libzmq_binds_libzmq_sends() {
                run(Transport::Tcp, false, false);
            }
            #[test]
            fn ipc_oxmq_binds_oxmq_sends() {
                run(Transport::Ipc, true, true);
            }
            #[test]
            fn ipc_oxmq_binds_libzmq_sends() {
                run(Transport::Ipc, true, false);
            }
            #[test]
            fn ipc_libzmq_binds_oxmq_sends() {
                run(Transport::Ipc, false, true);
            }
            #[test]
            fn ipc_libzmq_binds_libzmq_sends() {
                run(Transport::Ipc, false, false);
            }
        }
    )*};
}

/// Writes one test per transport for each scenario `fn(Transport)`.
macro_rules! per_transport {
    ($($name:ident => $scenario:expr;)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn tcp() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Tcp);
            }
            #[test]
            fn ipc() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Ipc);
            }
        }
    )*};
}

/// `len` bytes that differ with `seed` and do not repeat with any short period, so a shifted,
/// truncated or swapped frame cannot compare equal.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| {
            let x = i
                .wrapping_add(seed.wrapping_mul(0x9E37_79B9))
                .wrapping_mul(0x85EB_CA6B);
            (x >> 24) as u8
        })
        .collect()
}

/// Asserts that `got` is `want`, naming the first differing frame and byte (frames can be
/// megabytes long, too long to print).
fn check(got: &[Vec<u8>], want: &[Vec<u8>]) {
    let lens = |frames: &[Vec<u8>]| frames.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(lens(got), lens(want), "frame count or sizes differ");
    for (index, (g, w)) in got.iter().zip(want).enumerate() {
        if let Some(at) = g.iter().zip(w).position(|(a, b)| a != b) {
            panic!(
                "frame {index} ({} bytes) differs first at byte {at}: {} != {}",
                w.len(),
                g[at],
                w[at]
            );
        }
    }
}

/// Asserts that nothing more arrives for a while.
fn quiet(end: &dyn End) {
    if let Some(extra) = end.recv_within(QUIET_MS) {
        panic!("an unexpected message of {} frames", extra.len());
    }
}

fn frames(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|part| part.to_vec()).collect()
}

/// A few multi-frame messages one way; over PAIR also replies the other way.
fn basic(setup: Setup, kind: Kind) {
    let (sender, receiver) = link(setup, kind);
    for i in 0..10u32 {
        let msg = frames(&[b"request", &i.to_le_bytes(), b""]);
        sender.send(&msg);
        check(&receiver.recv(), &msg);
    }
    if let Kind::Pair = kind {
        for i in 0..10u32 {
            let reply = frames(&[b"reply", &i.to_le_bytes()]);
            receiver.send(&reply);
            check(&sender.recv(), &reply);
        }
    }
    quiet(&*receiver);
}

/// Frame sizes across every boundary that matters: empty, ZMTP's short/long frame header switch
/// at 255/256, oxmq's inline frames (70 bytes), large bodies.
const SIZES: [usize; 9] = [0, 1, 70, 71, 255, 256, 65_536, 65_537, 4 * 1024 * 1024];

fn multipart(setup: Setup, kind: Kind) {
    let (sender, receiver) = link(setup, kind);
    let mut seed = 0;
    let mut next = |len| {
        seed += 1;
        pattern(len, seed)
    };
    let mut messages: Vec<Vec<Vec<u8>>> = Vec::new();
    // Each size alone.
    for len in SIZES {
        messages.push(vec![next(len)]);
    }
    // All sizes in one message, ascending, with empty frames before, between and after.
    let mut mixed = vec![Vec::new()];
    for len in SIZES {
        mixed.push(next(len));
        mixed.push(Vec::new());
    }
    messages.push(mixed);
    // Descending, without separators.
    messages.push(SIZES.iter().rev().map(|&len| next(len)).collect());
    // Only empty frames.
    messages.push(vec![Vec::new(); 5]);
    // Many small frames.
    messages.push((0..300).map(|i| next(i % 7)).collect());

    for msg in &messages {
        sender.send(msg);
    }
    for msg in &messages {
        check(&receiver.recv(), msg);
    }
    quiet(&*receiver);
}

const STREAM_LEN: u32 = 100_000;

/// Message `seq` of a stream: the sequence number and a body whose size cycles through 0..300.
fn stream_message(seq: u32) -> Vec<Vec<u8>> {
    vec![
        seq.to_le_bytes().to_vec(),
        pattern((seq % 300) as usize, seq),
    ]
}

/// 100,000 messages, all of them, in order.
fn stream(setup: Setup) {
    let (sender, receiver) = link(setup, Kind::PushPull);
    let started = Instant::now();
    let sending = thread::spawn(move || {
        for seq in 0..STREAM_LEN {
            sender.send(&stream_message(seq));
        }
        // Kept open until the receiver has everything: LINGER is 0.
        sender
    });
    for seq in 0..STREAM_LEN {
        let got = receiver.recv();
        let got_seq = u32::from_le_bytes(got[0][..].try_into().unwrap());
        assert_eq!(got_seq, seq, "lost or reordered");
        check(&got, &stream_message(seq));
    }
    let _sender = sending.join().unwrap();
    quiet(&*receiver);
    eprintln!("{STREAM_LEN} messages in {:?}", started.elapsed());
}

matrix! {
    pair => |setup| basic(setup, Kind::Pair);
    push_pull => |setup| basic(setup, Kind::PushPull);
    pair_multipart => |setup| multipart(setup, Kind::Pair);
    push_pull_multipart => |setup| multipart(setup, Kind::PushPull);
    push_pull_100k_in_order => stream;
}

/// A libzmq socket with a monitor that reports all its events.
struct Monitored {
    end: Lz,
    monitor: zmq::Socket,
}

fn monitored(socket_type: zmq::SocketType) -> Monitored {
    let ctx = zmq::Context::new();
    let end = lz_in(&ctx, socket_type);
    let address = format!("inproc://monitor-{}", unique());
    end.socket
        .monitor(&address, zmq::SocketEvent::ALL as i32)
        .unwrap();
    let monitor = ctx.socket(zmq::PAIR).unwrap();
    monitor.set_linger(0).unwrap();
    monitor.connect(&address).unwrap();
    Monitored { end, monitor }
}

impl Monitored {
    /// The next event and its value, or `None` when none comes within `timeout_ms`.
    fn event_within(&self, timeout_ms: i32) -> Option<(zmq::SocketEvent, u32)> {
        self.monitor.set_rcvtimeo(timeout_ms).unwrap();
        let event = match self.monitor.recv_multipart(0) {
            Ok(event) => event,
            Err(zmq::Error::EAGAIN) => return None,
            Err(err) => panic!("monitor: {err}"),
        };
        let raw = &event[0];
        let kind = u16::from_le_bytes([raw[0], raw[1]]);
        let value = u32::from_le_bytes([raw[2], raw[3], raw[4], raw[5]]);
        Some((zmq::SocketEvent::from_raw(kind), value))
    }

    /// Waits for `wanted`, returning the events before it.
    fn events_until(&self, wanted: zmq::SocketEvent) -> Vec<(zmq::SocketEvent, u32)> {
        let mut before = Vec::new();
        loop {
            match self.event_within(TIMEOUT_MS) {
                Some((event, _)) if event == wanted => return before,
                Some(other) => before.push(other),
                None => panic!("no {wanted:?} within {TIMEOUT_MS} ms, only {before:?}"),
            }
        }
    }
}

/// libzmq must see oxmq's Socket-Type: an incompatible libzmq peer (`bad`) must see oxmq's READY
/// and give up, and a compatible one (`good`) on the same oxmq socket must then work. The
/// incompatible peer connects first, so that an oxmq socket that took it for a peer (a PAIR has
/// room for only one) would show.
///
/// libzmq 4.3 reports an incompatible Socket-Type in the peer's READY as a protocol error with no
/// monitor event of its own: the connection goes from CONNECTED to DISCONNECTED, no
/// HANDSHAKE_FAILED_* event, and the connecting session gives up (no CONNECT_RETRIED). A peer
/// that closes the connection before its READY is out shows up as HANDSHAKE_FAILED_NO_DETAIL
/// (EPIPE) instead, and libzmq redials it. (A libzmq binder has that race too and loses it now
/// and then; oxmq must always send its READY before it closes.)
fn incompatible_peer(
    transport: Transport,
    ox_type: SocketType,
    bad_type: zmq::SocketType,
    good_type: zmq::SocketType,
) {
    let ours = ox(ox_type);
    let endpoint = ours.bind(&transport.bind_spec());

    let bad = monitored(bad_type);
    bad.end.connect(&endpoint);
    if matches!(bad_type, zmq::PUSH | zmq::PAIR) {
        // Queued for the connection being made (unless libzmq already dropped it): it must never
        // reach oxmq.
        let _ = bad
            .end
            .socket
            .send("from an incompatible peer", zmq::DONTWAIT);
    }
    let before = bad.events_until(zmq::SocketEvent::DISCONNECTED);
    assert!(
        before.iter().all(|(event, _)| !matches!(
            event,
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED
                | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL
                | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL
        )),
        "libzmq {bad_type:?} with oxmq {ox_type:?}: {before:?} (HANDSHAKE_FAILED_NO_DETAIL 32 is \
         EPIPE: oxmq closed the connection without sending its READY)"
    );
    let after = bad.event_within(QUIET_MS);
    assert_eq!(
        after, None,
        "libzmq {bad_type:?} did not give up on oxmq {ox_type:?}"
    );

    let good = monitored(good_type);
    good.end.connect(&endpoint);
    good.events_until(zmq::SocketEvent::HANDSHAKE_SUCCEEDED);
    if matches!(ox_type, SocketType::Pull | SocketType::Pair) {
        let msg = frames(&[b"from a compatible peer"]);
        good.end.send(&msg);
        check(&ours.recv(), &msg);
        quiet(&ours);
    }
    if matches!(ox_type, SocketType::Push | SocketType::Pair) {
        // All of them: none load-balanced to the incompatible peer.
        for i in 0..10u32 {
            ours.send(&frames(&[&i.to_le_bytes()]));
        }
        for i in 0..10u32 {
            check(&good.end.recv(), &frames(&[&i.to_le_bytes()]));
        }
    }
}

/// The connecting side is a PUSH that lives through the whole test; the binding side is a PULL
/// that comes late, goes away, and comes back on the same endpoint.
fn reconnect(transport: Transport, oxmq_connects: bool) {
    let endpoint = transport.fixed_endpoint();
    let pull = || socket(!oxmq_connects, SocketType::Pull);
    let push = socket(oxmq_connects, SocketType::Push);
    let message = |seq: u32| frames(&[&seq.to_le_bytes()]);

    // Connect before anyone binds: the messages wait for the peer.
    push.connect(&endpoint);
    const EARLY: u32 = 10;
    for seq in 0..EARLY {
        push.send(&message(seq));
    }
    // A few failed connection attempts (the reconnect interval is 100 ms).
    thread::sleep(Duration::from_millis(250));
    let first = pull();
    assert_eq!(first.bind(&endpoint), endpoint);
    for seq in 0..EARLY {
        check(&first.recv(), &message(seq));
    }

    // The peer goes away (its context terminates with it, so the endpoint is free), and a new
    // one binds the same endpoint.
    drop(first);
    let second = pull();
    assert_eq!(second.bind(&endpoint), endpoint);

    // Messages written into the dead connection before the sender noticed are lost; from the
    // first one that arrives, delivery must be complete and in order.
    let stop = Arc::new(AtomicBool::new(false));
    let sending = thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut seq = EARLY;
            while !stop.load(Ordering::Relaxed) {
                push.send(&message(seq));
                seq += 1;
                thread::sleep(Duration::from_millis(2));
            }
            push
        }
    });
    let seq_of = |got: Vec<Vec<u8>>| u32::from_le_bytes(got[0][..].try_into().unwrap());
    let resumed = seq_of(second.recv());
    assert!(resumed >= EARLY);
    for expected in resumed + 1..resumed + 50 {
        assert_eq!(seq_of(second.recv()), expected, "lost or reordered");
    }
    stop.store(true, Ordering::Relaxed);
    let _push = sending.join().unwrap();
    eprintln!("resumed at {resumed}");
}

per_transport! {
    pull_refuses_libzmq_pair => |t| incompatible_peer(t, SocketType::Pull, zmq::PAIR, zmq::PUSH);
    pull_refuses_libzmq_pull => |t| incompatible_peer(t, SocketType::Pull, zmq::PULL, zmq::PUSH);
    push_refuses_libzmq_push => |t| incompatible_peer(t, SocketType::Push, zmq::PUSH, zmq::PULL);
    pair_refuses_libzmq_push => |t| incompatible_peer(t, SocketType::Pair, zmq::PUSH, zmq::PAIR);
    pair_refuses_libzmq_pull => |t| incompatible_peer(t, SocketType::Pair, zmq::PULL, zmq::PAIR);
    oxmq_push_reconnects_to_libzmq_pull => |t| reconnect(t, true);
    libzmq_push_reconnects_to_oxmq_pull => |t| reconnect(t, false);
}
