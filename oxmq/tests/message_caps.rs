//! The caps on a received message: frames per message (65536 by default) and bytes across its
//! frames (the socket's max_message_size, or the context's max_msgsz). A libzmq peer that goes
//! past one is disconnected, its message is never delivered, and the socket goes on serving
//! the others.

use std::time::Duration;

use oxmq::{Context, EventKind, EventMask, Message, SocketType};

const WAIT: Duration = Duration::from_secs(10);

/// A libzmq DEALER connected to `endpoint`.
fn libzmq_dealer(ctx: &zmq::Context, endpoint: &str) -> zmq::Socket {
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_sndtimeo(10_000).unwrap();
    dealer.connect(endpoint).unwrap();
    dealer
}

/// Waits for the monitor to report a peer's connection lost.
fn disconnected(monitor: &oxmq::Monitor) {
    loop {
        let event = monitor.recv_timeout(WAIT).expect("DISCONNECTED in time");
        if event.kind == EventKind::Disconnected {
            return;
        }
    }
}

#[test]
fn too_many_frames_drop_the_peer_not_the_socket() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    assert_eq!(pull.max_message_frames(), 65_536, "the default cap");
    pull.set_max_message_frames(100).unwrap();
    let monitor = pull
        .monitor(EventMask::from(EventKind::Disconnected))
        .unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.last_endpoint();
    let zctx = zmq::Context::new();
    let bad = zctx.socket(zmq::PUSH).unwrap();
    bad.connect(&endpoint).unwrap();
    let frames: Vec<Vec<u8>> = (0..101).map(|i| vec![i as u8]).collect();
    bad.send_multipart(frames, 0).unwrap();
    disconnected(&monitor);
    // A well-behaved peer is served; the bad message never arrives.
    let good = zctx.socket(zmq::PUSH).unwrap();
    good.connect(&endpoint).unwrap();
    let frames: Vec<Vec<u8>> = (0..100).map(|i| vec![i as u8]).collect();
    good.send_multipart(frames, 0).unwrap();
    pull.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    let msg = pull.recv().unwrap();
    assert_eq!(msg.len(), 100);
    pull.set_rcvtimeo(100).unwrap();
    assert!(pull.recv().is_err(), "nothing else was delivered");
    let stats = pull.stats();
    assert_eq!(stats.dropped.too_large, 1, "{stats:?}");
    assert_eq!(stats.received, 1);
    assert!(pull.set_max_message_frames(0).is_err());
}

#[test]
fn the_context_max_msgsz_caps_bytes_across_frames() {
    let ctx = Context::builder().max_msgsz(1000).build();
    let router = ctx.socket(SocketType::Router).unwrap();
    assert_eq!(router.max_message_size(), 1000, "from the context");
    let monitor = router
        .monitor(EventMask::from(EventKind::Disconnected))
        .unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = router.last_endpoint();
    let zctx = zmq::Context::new();
    let big = libzmq_dealer(&zctx, &endpoint);
    // Each frame is small; together they are over the cap.
    big.send_multipart([vec![1u8; 600], vec![2u8; 600]], 0)
        .unwrap();
    disconnected(&monitor);
    let fits = libzmq_dealer(&zctx, &endpoint);
    fits.send_multipart([vec![3u8; 400], vec![4u8; 400]], 0)
        .unwrap();
    router.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    let msg: Message = router.recv().unwrap();
    // The routing id, then the two frames.
    assert_eq!(msg.len(), 3);
    assert_eq!(msg[1].len() + msg[2].len(), 800);
    router.set_rcvtimeo(100).unwrap();
    assert!(router.recv().is_err());
    assert_eq!(router.stats().dropped.too_large, 1);
}

#[test]
fn context_options_apply_to_sockets_and_threads() {
    let ctx = Context::builder()
        .max_sockets(2)
        .thread_name_prefix("capd")
        .thread_affinity_cpu_add(0)
        .build();
    let a = ctx.socket(SocketType::Pull).unwrap();
    let _b = ctx.socket(SocketType::Push).unwrap();
    assert_eq!(
        ctx.socket(SocketType::Pair).err(),
        Some(oxmq::Error::TooManyOpenFiles),
        "MAX_SOCKETS"
    );
    drop(a);
    let _c = ctx.socket(SocketType::Pair).unwrap();
    // The I/O thread starts with the first tcp bind: its name has the prefix, and it runs on
    // CPU 0 only.
    let pull = _c;
    pull.bind("tcp://127.0.0.1:*").unwrap();
    // The thread names itself as it starts, which the bind does not wait for.
    let deadline = std::time::Instant::now() + WAIT;
    let cpus = loop {
        let io_thread = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .find(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|name| name.trim() == "capd/oxmq-io-0")
            });
        let cpus = io_thread.map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap();
            status
                .lines()
                .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
                .unwrap()
                .trim()
                .to_owned()
        });
        // Named first, then pinned by itself: wait for both, or give the last view.
        if cpus.as_deref() == Some("0") || std::time::Instant::now() >= deadline {
            break cpus.expect("an I/O thread named capd/oxmq-io-0");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(cpus, "0", "pinned to CPU 0");
    assert!(
        Context::builder().thread_affinity_cpu_remove(3).is_err(),
        "removing a CPU never added is EINVAL, as in libzmq"
    );
}
