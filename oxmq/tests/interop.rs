//! Interoperability with real libzmq: the `zmq` crate, which builds libzmq 4.3 from source.
//!
//! Every scenario runs over tcp and ipc, with oxmq binding and with libzmq binding, and with the
//! messages going from oxmq to libzmq and from libzmq to oxmq (the `matrix!` macro writes out the
//! combinations). Both implementations sit behind the [`End`] trait, so a scenario is written once.
//! Every socket has a receive and send timeout, so a bug fails a test instead of hanging it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::ends::{End, Lz, QUIET_MS, TIMEOUT_MS, Transport, lz_in, ox, unique};
use oxmq::SocketType;

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
    common::ends::either(oxmq, socket_type)
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
