//! Small messages cost no heap allocation on the hot path, over inproc and over tcp (counted by a
//! global allocator; this file is its own process so other tests do not disturb the count).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use oxmq::{Context, SocketType};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MESSAGES: u64 = 100_000;

/// Sends and receives `MESSAGES` 64-byte messages from a `sender` to a `receiver` socket in
/// lock-step batches (so neither side blocks) and returns the allocations per message.
fn allocations_per_message(endpoint: &str, sender: SocketType, receiver: SocketType) -> f64 {
    let ctx = Context::new();
    let (pull, endpoint) = common::bound(&ctx, receiver, endpoint);
    let push = common::socket(&ctx, sender);
    push.connect(&endpoint).unwrap();
    let payload = [7u8; 64];
    let run = |count: u64| {
        for _ in 0..count / 100 {
            for i in 0..100 {
                // Both ways of sending bytes: a message made from them, and a copy into the pipe.
                if i % 2 == 0 {
                    push.send(&payload[..]).unwrap();
                } else {
                    push.send_bytes(&payload).unwrap();
                }
            }
            for _ in 0..100 {
                assert_eq!(pull.recv().unwrap().last().len(), 64);
            }
        }
    };
    run(10_000); // warm-up: buffers and queue chunks reach their steady size
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run(MESSAGES);
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    (after - before) as f64 / MESSAGES as f64
}

#[test]
fn small_messages_do_not_allocate() {
    for endpoint in [common::inproc(), "tcp://127.0.0.1:*".to_owned()] {
        let per_message = allocations_per_message(&endpoint, SocketType::Push, SocketType::Pull);
        eprintln!("{endpoint}: {per_message:.4} allocations per 64-byte message");
        assert!(
            per_message < 0.01,
            "{endpoint}: {per_message} allocations per message"
        );
    }
}

#[test]
fn a_router_receiving_small_messages_does_not_allocate() {
    // Each message gains the sender's routing id in front: a second frame.
    for endpoint in [common::inproc(), "tcp://127.0.0.1:*".to_owned()] {
        let per_message =
            allocations_per_message(&endpoint, SocketType::Dealer, SocketType::Router);
        eprintln!("{endpoint}: {per_message:.4} allocations per message received by ROUTER");
        assert!(
            per_message < 0.01,
            "{endpoint}: {per_message} allocations per message"
        );
    }
}
