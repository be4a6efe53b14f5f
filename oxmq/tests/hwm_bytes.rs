//! SNDHWM_BYTES and RCVHWM_BYTES: a high-water mark in bytes beside the count of messages, so
//! that what waits for a slow peer is bounded for large messages too. Nothing queued is lost:
//! once the reader catches up, every message arrives, in order.

use std::time::Duration;

use oxmq::{Context, Error, SocketType};

const BIG: usize = 100 << 10;

/// Sends 100 KiB messages without blocking until the queue is full; returns how many went.
fn fill(push: &oxmq::Socket) -> usize {
    let mut sent = 0;
    loop {
        let mut msg = vec![0u8; BIG];
        msg[..8].copy_from_slice(&(sent as u64).to_be_bytes());
        match push.try_send(msg) {
            Ok(()) => sent += 1,
            Err(e) if e.error() == Error::WouldBlock => return sent,
            Err(e) => panic!("send failed: {}", e.error()),
        }
        assert!(sent < 10_000, "the byte bound never held");
    }
}

/// Receives `count` messages and checks they are the numbered ones, in order.
fn drain(pull: &oxmq::Socket, count: usize) {
    pull.set_rcvtimeo(10_000).unwrap();
    for i in 0..count {
        let msg = pull.recv().unwrap();
        assert_eq!(msg[0].len(), BIG);
        assert_eq!(
            msg[0][..8],
            (i as u64).to_be_bytes(),
            "message {i} in order"
        );
    }
    pull.set_rcvtimeo(50).unwrap();
    assert!(pull.recv().is_err(), "no more than was sent");
}

#[test]
fn inproc_queues_hold_both_ends_byte_bounds() {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_sndhwm_bytes(1 << 20).unwrap();
    assert_eq!(push.sndhwm_bytes(), 1 << 20);
    push.bind("inproc://hwm-bytes").unwrap();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvhwm_bytes(512 << 10).unwrap();
    pull.connect("inproc://hwm-bytes").unwrap();
    let sent = fill(&push);
    // 1 MiB + 512 KiB hold 15 messages of 100 KiB and take the 16th (the bound is checked
    // before each message).
    assert_eq!(sent, 16, "bounded by bytes, not by the 2000-message HWM");
    drain(&pull, sent);
    // Room again.
    assert_eq!(fill(&push), 16);
    drain(&pull, 16);
}

#[test]
fn a_large_message_always_fits_an_empty_queue() {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_sndhwm_bytes(1000).unwrap();
    push.bind("inproc://hwm-bytes-large").unwrap();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.connect("inproc://hwm-bytes-large").unwrap();
    push.try_send(vec![7u8; 50_000]).unwrap();
    assert!(push.try_send(vec![8u8; 10]).is_err(), "full until read");
    assert_eq!(pull.recv().unwrap()[0].len(), 50_000);
    push.try_send(vec![8u8; 10]).unwrap();
}

#[test]
fn tcp_queues_are_bounded_in_bytes_and_lose_nothing() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvhwm_bytes(1 << 20).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_sndhwm_bytes(1 << 20).unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    // Wait for the connection, then fill: what the sender holds, what is in flight and what
    // the receiver holds are bounded together.
    push.send(vec![0u8; BIG]).unwrap();
    pull.set_rcvtimeo(10_000).unwrap();
    assert_eq!(pull.recv().unwrap()[0].len(), BIG);
    let mut sent = 0;
    let mut idle = 0;
    // The queues fill in steps as the connection takes what it can: stop once nothing more
    // goes for a while.
    while idle < 20 {
        let more = fill(&push);
        sent += more;
        idle = if more == 0 { idle + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(10));
    }
    // 1 MiB a side plus the kernel's buffers and one batch each way: well under the 200 MB
    // that 2000 messages of 100 KiB would take.
    assert!(sent >= 20, "both byte bounds filled: {sent}");
    assert!(
        sent <= 120,
        "bounded by bytes: {sent} messages of 100 KiB queued"
    );
    pull.set_rcvtimeo(10_000).unwrap();
    for _ in 0..sent {
        assert_eq!(pull.recv().unwrap()[0].len(), BIG);
    }
    pull.set_rcvtimeo(50).unwrap();
    assert!(pull.recv().is_err());
}
