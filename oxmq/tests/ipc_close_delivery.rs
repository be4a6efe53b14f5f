//! An oxmq sender that closes right after its last send still delivers everything to a libzmq
//! receiver over ipc.
//!
//! libzmq's receiver stops reading its connection while its receive pipe is full (RCVHWM), but on
//! a Unix socket the peer's `close()` raises EPOLLHUP anyway, and libzmq then drops the
//! connection without reading what is left in the kernel (libzmq issue 4660). oxmq's close
//! therefore shuts down only its write side, and keeps the connection until the receiver has
//! taken every byte or closed it (bounded by LINGER); these tests check that nothing is lost.
//!
//! The receiver is real libzmq (the `zmq` crate) in *another process*, as in the report: the test
//! binary runs itself again (`std::env::current_exe()`) with [`RECEIVER_ENV`] set, and with
//! `--exact receiver_child`, so that only [`receiver_child`] runs there; without the variable
//! that test does nothing. The child binds the endpoint with the given RCVHWM, prints
//! `oxmq-receiver: ready`, counts messages until one reads `END` (or nothing comes for
//! [`QUIET_MS`]), and prints `oxmq-receiver: count N`. The sender is an oxmq PUSH in the test
//! process: it connects, sends [`MESSAGES`] messages of 100 B and `END`, then closes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oxmq::{Context, SocketType};

/// Set in the child: `ENDPOINT RCVHWM PAUSE_AT PAUSE_MS`.
const RECEIVER_ENV: &str = "OXMQ_CLOSE_DELIVERY_RECEIVER";
/// Messages per run, each of 100 bytes (plus the `END` marker).
const MESSAGES: u32 = 20_000;
/// The receiver gives up after this long without a message.
const QUIET_MS: i32 = 2_000;
/// Runs per scenario.
const RUNS: usize = 20;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn ipc_endpoint() -> String {
    format!(
        "ipc://{}/oxmq-close-delivery-{}-{}.sock",
        std::env::temp_dir().display(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The receiver's side: runs only in the child process.
#[test]
fn receiver_child() {
    let Ok(spec) = std::env::var(RECEIVER_ENV) else {
        return;
    };
    let mut parts = spec.split_whitespace();
    let endpoint = parts.next().expect("endpoint");
    let rcvhwm: i32 = parts.next().expect("rcvhwm").parse().expect("rcvhwm");
    let pause_at: u64 = parts.next().map_or(0, |p| p.parse().expect("pause_at"));
    let pause_ms: u64 = parts.next().map_or(0, |p| p.parse().expect("pause_ms"));
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_rcvhwm(rcvhwm).unwrap();
    pull.set_rcvtimeo(QUIET_MS).unwrap();
    pull.set_linger(0).unwrap();
    pull.bind(endpoint).unwrap();
    println!("oxmq-receiver: ready");
    let mut count = 0u64;
    let mut out_of_order = 0u64;
    loop {
        match pull.recv_bytes(0) {
            Ok(msg) if msg == b"END" => {
                count += 1;
                break;
            }
            Ok(msg) => {
                let index = u32::from_le_bytes(msg[..4].try_into().unwrap());
                if u64::from(index) != count {
                    out_of_order += 1;
                }
                count += 1;
                if pause_ms > 0 && count == pause_at {
                    // Stop reading for a while, as a busy receiver would.
                    std::thread::sleep(Duration::from_millis(pause_ms));
                }
            }
            Err(zmq::Error::EAGAIN) => break,
            Err(err) => panic!("recv: {err}"),
        }
    }
    println!("oxmq-receiver: count {count} out_of_order {out_of_order}");
}

/// How the receiver pauses: after `at` messages, for `ms` milliseconds.
#[derive(Clone, Copy, Debug, Default)]
struct Pause {
    at: u64,
    ms: u64,
}

// A panic here leaves the child unwaited until the test binary exits; the child ends by itself
// (it stops after QUIET_MS without messages).
#[allow(clippy::zombie_processes)]
fn spawn_receiver(
    endpoint: &str,
    rcvhwm: i32,
    pause: Pause,
) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "receiver_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            RECEIVER_ENV,
            format!("{endpoint} {rcvhwm} {} {}", pause.at, pause.ms),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the receiver");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the receiver ended before binding"
        );
        // libtest prints "test receiver_child ... " on the same line.
        if line.contains("oxmq-receiver: ready") {
            return (child, out);
        }
    }
}

/// How the sender closes.
#[derive(Clone, Copy, Debug)]
enum Close {
    /// Drop the socket, then the context (its last handle: the I/O thread stops).
    SocketThenContext,
    /// `Context::term()` on another thread while the socket is still open; then the socket is
    /// dropped, which lets `term` return.
    Term,
}

/// One run: returns the number of messages the receiver got (`MESSAGES + 1` when all arrived)
/// and how long the sender's close took.
fn run_once(rcvhwm: i32, close: Close, pause: Pause, messages: u32) -> (u64, Duration) {
    let endpoint = ipc_endpoint();
    let (mut child, mut out) = spawn_receiver(&endpoint, rcvhwm, pause);
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_sndtimeo(10_000).unwrap();
    push.connect(&endpoint).unwrap();
    let mut payload = vec![b'x'; 100];
    for i in 0..messages {
        payload[..4].copy_from_slice(&i.to_le_bytes());
        push.send(payload.clone()).unwrap();
    }
    push.send("END").unwrap();
    let start = Instant::now();
    match close {
        Close::SocketThenContext => {
            drop(push);
            drop(ctx);
        }
        Close::Term => {
            let term = std::thread::spawn(move || ctx.term());
            std::thread::sleep(Duration::from_millis(1));
            drop(push);
            term.join().unwrap();
        }
    }
    let closed_in = start.elapsed();
    let mut count = None;
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some((_, rest)) = line.trim().split_once("oxmq-receiver: count ") {
            let mut fields = rest.split_whitespace();
            count = Some(fields.next().unwrap().parse::<u64>().unwrap());
            assert_eq!(fields.nth(1), Some("0"), "messages out of order: {line}");
        }
        line.clear();
    }
    assert!(child.wait().unwrap().success(), "the receiver failed");
    let _ = std::fs::remove_file(endpoint.trim_start_matches("ipc://"));
    (count.expect("the receiver's count"), closed_in)
}

fn scenario(rcvhwm: i32, close: Close) {
    let expected = u64::from(MESSAGES) + 1;
    let mut losses = Vec::new();
    let mut slowest = Duration::ZERO;
    for _ in 0..RUNS {
        let (count, closed_in) = run_once(rcvhwm, close, Pause::default(), MESSAGES);
        slowest = slowest.max(closed_in);
        losses.push(expected - count);
    }
    let failed = losses.iter().filter(|&&l| l > 0).count();
    eprintln!(
        "RCVHWM {rcvhwm}, {close:?}: {failed}/{RUNS} runs lost messages; lost per run {losses:?}; \
         slowest close {slowest:?}"
    );
    assert_eq!(failed, 0, "lost per run: {losses:?}");
}

#[test]
fn close_delivers_everything_rcvhwm_1000() {
    scenario(1000, Close::SocketThenContext);
}

#[test]
fn close_delivers_everything_rcvhwm_10() {
    scenario(10, Close::SocketThenContext);
}

#[test]
fn term_delivers_everything_rcvhwm_1000() {
    scenario(1000, Close::Term);
}

#[test]
fn term_delivers_everything_rcvhwm_10() {
    scenario(10, Close::Term);
}

/// The receiver stops reading for 1.5 s near the end, long enough for the sender to have
/// written everything and closed (the report's "paused and resumed" case): with the default
/// LINGER (-1) the sender's close waits for it to read the rest.
#[test]
fn a_paused_receiver_still_gets_everything() {
    let pause = Pause {
        at: 46_500,
        ms: 1500,
    };
    let (count, closed_in) = run_once(1000, Close::SocketThenContext, pause, 50_000);
    eprintln!("paused receiver: got {count} of 50001; the close took {closed_in:?}");
    assert_eq!(count, 50_001);
}
