//! What `recv_into` replaces is dropped: on a socket whose peers are all inproc, a batch at a
//! time (so a body shared with the sending thread does not have its reference count moved
//! between CPUs once per message), never more than a bounded number held, and all of it by the
//! time the socket is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use oxmq::{Context, Frame, Message, SocketType};

/// A body that counts its drops.
struct Counted {
    drops: Arc<AtomicUsize>,
    data: Vec<u8>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn inproc_receives_drop_what_they_replace_in_bounded_batches() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("inproc://replaced").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect("inproc://replaced").unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    const N: usize = 1_000;
    let mut msg = Message::new();
    let mut most_held = 0;
    for i in 0..N {
        let body = Counted {
            drops: Arc::clone(&drops),
            data: vec![i as u8; 1024],
        };
        push.send(Frame::from(Bytes::from_owner(body))).unwrap();
        pull.recv_into(&mut msg, false).unwrap();
        assert!(msg[0].len() == 1024 && msg[0][0] == i as u8, "message {i}");
        // Received i + 1, one of them in hand: the rest are dropped or wait in a batch.
        let held = i - drops.load(Ordering::SeqCst);
        assert!(held <= 128, "{held} replaced messages held after {i}");
        most_held = most_held.max(held);
    }
    assert!(
        most_held > 1,
        "replaced messages were dropped one at a time"
    );
    drop(msg);
    drop(pull);
    drop(push);
    ctx.term();
    assert_eq!(drops.load(Ordering::SeqCst), N);
}
