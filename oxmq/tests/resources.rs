//! Memory and resource bounds (one process, one test, so the figures are not disturbed by others).
//!
//! Run with `cargo test -p oxmq --test resources -- --nocapture` to see the figures.

mod common;

use std::time::{Duration, Instant};

use oxmq::{Context, Error, SocketType};

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Waits until `f` returns the same value `settled` times in a row (background closes finish).
fn settle(f: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = f();
    let mut same = 0;
    while Instant::now() < deadline && same < 5 {
        std::thread::sleep(Duration::from_millis(20));
        let now = f();
        if now == last {
            same += 1
        } else {
            same = 0
        }
        last = now;
    }
    last
}

#[test]
fn memory_and_resources_stay_bounded() {
    non_reading_peer_bounds_memory();
    connect_disconnect_cycles_leak_nothing();
}

fn non_reading_peer_bounds_memory() {
    let ctx = Context::new();
    let pull = common::socket(&ctx, SocketType::Pull);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = common::socket(&ctx, SocketType::Push);
    push.set_linger(0).unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    let payload = vec![1u8; 1024];
    let before = rss_kib();
    let mut sent = 0u64;
    let mut peak = before;
    // Keep pushing for two seconds at a peer that never reads: sends must start failing and
    // memory must stop growing.
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        match push.try_send(&payload[..]).map_err(|e| e.error()) {
            Ok(()) => sent += 1,
            Err(Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
        peak = peak.max(rss_kib());
    }
    let growth = peak.saturating_sub(before);
    eprintln!(
        "non-reading peer: {sent} x 1 KiB accepted, RSS {before} KiB -> peak {peak} KiB (+{growth} KiB)"
    );
    // Two pipes of 1000 messages, the engines' buffers (up to 256 KiB each way) and the kernel's
    // socket buffers (not in RSS) are all that may hold data.
    assert!(
        sent < 20_000,
        "the sender was never stopped: {sent} messages accepted"
    );
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
}

fn connect_disconnect_cycles_leak_nothing() {
    let ctx = Context::new();
    let pull = common::socket(&ctx, SocketType::Pull);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.last_endpoint();
    let cycle = |i: u32| {
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect(&endpoint).unwrap();
        push.send(i.to_le_bytes().to_vec()).unwrap();
        assert_eq!(pull.recv().unwrap()[0], i.to_le_bytes());
        push.disconnect(&endpoint).unwrap();
    };
    for i in 0..100 {
        cycle(i);
    }
    let fds = settle(|| count_entries("/proc/self/fd"));
    let threads = settle(|| count_entries("/proc/self/task"));
    let rss = rss_kib();
    for i in 0..1000 {
        cycle(i);
    }
    let fds_after = settle(|| count_entries("/proc/self/fd"));
    let threads_after = settle(|| count_entries("/proc/self/task"));
    let rss_after = rss_kib();
    eprintln!(
        "1000 connect/disconnect cycles: fds {fds} -> {fds_after}, threads {threads} -> {threads_after}, RSS {rss} KiB -> {rss_after} KiB"
    );
    assert_eq!(fds_after, fds, "file descriptors leaked");
    assert_eq!(threads_after, threads, "threads leaked");
    assert!(
        rss_after < rss + 4 * 1024,
        "RSS grew from {rss} KiB to {rss_after} KiB"
    );
}
