//! No failure inside oxmq takes the process or a thread's other work down with it: a panic on
//! an I/O thread (here, application code run there: the drop of a message body the application
//! made, after the body was written) closes that one connection, which reconnects, and the
//! thread goes on serving every other socket.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use oxmq::{Context, Frame, Message, SocketType};

/// The thread the panicking drop ran on.
static DROPPED_ON: Mutex<Option<String>> = Mutex::new(None);

/// A body whose drop panics.
struct Explosive(Vec<u8>);

impl AsRef<[u8]> for Explosive {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Explosive {
    fn drop(&mut self) {
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        *DROPPED_ON.lock().unwrap() = Some(name);
        panic!("a body whose drop panics");
    }
}

#[test]
fn a_panic_on_an_io_thread_closes_one_connection_and_nothing_else() {
    let ctx = Context::new();
    // A bystander pair on the same (only) I/O thread.
    let by_pull = ctx.socket(SocketType::Pull).unwrap();
    by_pull.set_rcvtimeo(5000).unwrap();
    by_pull.bind("tcp://127.0.0.1:*").unwrap();
    let by_push = ctx.socket(SocketType::Push).unwrap();
    by_push.connect(&by_pull.last_endpoint()).unwrap();
    by_push.send("warm").unwrap();
    assert_eq!(by_pull.recv().unwrap()[0], b"warm"[..]);

    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvtimeo(5000).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_reconnect_ivl(20).unwrap();
    push.connect(&pull.last_endpoint()).unwrap();
    push.send("warm").unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"warm"[..]);
    // Large enough to be written from where it lies, and dropped where it was written.
    let body = Bytes::from_owner(Explosive(vec![7u8; 256 << 10]));
    push.send(Message::from(Frame::from(body))).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while DROPPED_ON.lock().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the body was dropped");
        std::thread::sleep(Duration::from_millis(5));
    }
    let thread = DROPPED_ON.lock().unwrap().clone().unwrap();
    assert!(
        thread.starts_with("oxmq-io-"),
        "the drop ran on an I/O thread (else this test shows nothing): {thread}"
    );
    // The thread still serves the bystanders...
    by_push.send("still here").unwrap();
    assert_eq!(by_pull.recv().unwrap()[0], b"still here"[..]);
    // ...and the broken connection is made again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    pull.set_rcvtimeo(100).unwrap();
    loop {
        push.send("after").unwrap();
        match pull.recv() {
            Ok(msg) if msg[0] == b"after"[..] => break,
            _ => assert!(std::time::Instant::now() < deadline, "reconnected"),
        }
    }
}
