//! Accept filters: TCP_ACCEPT_FILTER address masks and IPC_FILTER_UID/GID/PID credentials,
//! with libzmq peers connecting.

use std::time::Duration;

use oxmq::{Context, EventKind, EventMask, IpcFilter, SocketType};

/// Whether a libzmq PUSH connecting to `endpoint` gets a message through to `pull`: `true`
/// when it arrives, `false` when `pull` reports the connection refused (ACCEPT_FAILED, EACCES)
/// and nothing arrives.
fn delivers(pull: &oxmq::Socket, endpoint: &str) -> bool {
    let refusals = pull
        .monitor(EventMask::from(EventKind::AcceptFailed))
        .unwrap();
    let lz = zmq::Context::new();
    let push = lz.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.connect(endpoint).unwrap();
    push.send("through", 0).unwrap();
    if let Some(refused) = refusals.recv_timeout(Duration::from_millis(500)) {
        assert_eq!(refused.value, libc::EACCES as u64);
        pull.set_rcvtimeo(200).unwrap();
        assert!(pull.recv().is_err(), "a refused peer's message arrived");
        return false;
    }
    pull.set_rcvtimeo(5000).unwrap();
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
    refused.bind("tcp://127.0.0.1:*").unwrap();
    assert!(!delivers(&refused, &refused.last_endpoint()));

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
    // A group this process is not in, primary or supplementary.
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most `groups.len()` ids into the buffer.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(n).unwrap_or(0));
    let foreign_gid = (gid + 1..).find(|g| !groups.contains(g)).unwrap();
    let ctx = Context::new();
    let cases = [
        (IpcFilter::Uid(uid), true),
        (IpcFilter::Uid(uid.wrapping_add(1)), false),
        (IpcFilter::Gid(gid), true),
        (IpcFilter::Gid(foreign_gid), false),
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
