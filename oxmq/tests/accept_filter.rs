//! Accept filters: TCP_ACCEPT_FILTER address masks and IPC_FILTER_UID/GID/PID credentials,
//! with libzmq peers connecting.

use std::time::Duration;

use oxmq::{Context, EventKind, EventMask, IpcFilter, SocketType};

/// Whether a libzmq PUSH connecting to `endpoint` gets a message through to `pull`.
fn delivers(pull: &oxmq::Socket, endpoint: &str) -> bool {
    let lz = zmq::Context::new();
    let push = lz.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.connect(endpoint).unwrap();
    push.send("through", 0).unwrap();
    pull.set_rcvtimeo(500).unwrap();
    pull.recv().is_ok()
}

#[test]
fn tcp_masks_let_in_only_the_addresses_they_cover() {
    let ctx = Context::new();
    for bad in ["foo", "0.0.0.0/", "0.0.0.0/33", "0.0.0.0/-1", "localhost"] {
        let pull = ctx.socket(SocketType::Pull).unwrap();
        assert_eq!(
            pull.add_tcp_accept_filter(bad),
            Err(oxmq::Error::Invalid),
            "{bad}"
        );
    }

    let refused = ctx.socket(SocketType::Pull).unwrap();
    refused.add_tcp_accept_filter("127.0.0.255/32").unwrap();
    let monitor = refused
        .monitor(EventMask::from(EventKind::AcceptFailed))
        .unwrap();
    refused.bind("tcp://127.0.0.1:*").unwrap();
    assert!(!delivers(&refused, &refused.last_endpoint()));
    let event = monitor
        .recv_timeout(Duration::from_secs(5))
        .expect("ACCEPT_FAILED");
    assert_eq!(event.value, libc::EACCES as u64);

    // Cleared before the bind: everyone is let in.
    let cleared = ctx.socket(SocketType::Pull).unwrap();
    cleared.add_tcp_accept_filter("127.0.0.255/32").unwrap();
    cleared.clear_tcp_accept_filters();
    cleared.bind("tcp://127.0.0.1:*").unwrap();
    assert!(delivers(&cleared, &cleared.last_endpoint()));

    // Any matching mask is enough.
    let matching = ctx.socket(SocketType::Pull).unwrap();
    matching.add_tcp_accept_filter("10.0.0.0/8").unwrap();
    matching.add_tcp_accept_filter("127.0.0.0/8").unwrap();
    matching.bind("tcp://127.0.0.1:*").unwrap();
    assert!(delivers(&matching, &matching.last_endpoint()));
}

#[test]
fn ipc_filters_check_the_peer_process() {
    // SAFETY: getuid, getgid and getpid cannot fail and touch no memory.
    let (uid, gid, pid) = unsafe { (libc::getuid(), libc::getgid(), libc::getpid()) };
    let ctx = Context::new();
    let cases = [
        (IpcFilter::Uid(uid), true),
        (IpcFilter::Uid(uid.wrapping_add(1)), false),
        (IpcFilter::Gid(gid), true),
        (IpcFilter::Gid(gid.wrapping_add(1000)), false),
        (IpcFilter::Pid(pid), true),
        (IpcFilter::Pid(pid + 1), false),
    ];
    for (i, (filter, allowed)) in cases.into_iter().enumerate() {
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.add_ipc_accept_filter(filter);
        let endpoint = format!("ipc:///tmp/oxmq-filter-{}-{i}", std::process::id());
        pull.bind(&endpoint).unwrap();
        assert_eq!(delivers(&pull, &endpoint), allowed, "{filter:?}");
    }
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.add_ipc_accept_filter(IpcFilter::Uid(uid.wrapping_add(1)));
    pull.clear_ipc_accept_filters();
    let endpoint = format!("ipc:///tmp/oxmq-filter-{}-cleared", std::process::id());
    pull.bind(&endpoint).unwrap();
    assert!(delivers(&pull, &endpoint));
}
