//! Host names: resolved again at every reconnect, off the I/O thread, and every address they
//! give tried in turn (libzmq resolves once, at connect, and tries the first address only:
//! libzmq issue 2297).
//!
//! The name is in a hosts file the test owns: the test binary runs itself again in a mount
//! namespace of its own (`unshare -m`) with that file bind-mounted over `/etc/hosts`, so the
//! child can change what the name resolves to while the machine's resolver stays untouched.
//! The listeners are on loopback addresses other than 127.0.0.1 (all of 127/8 is local).
//!
//! Needs root and `unshare` (util-linux). Outside CI, a machine without them skips with a note;
//! under CI (`CI` set) they are required.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oxmq::{Context, Socket, SocketType};

/// Set in the child: the hosts file bind-mounted over /etc/hosts.
const CHILD_ENV: &str = "OXMQ_RESOLVE_HOSTS";
const NAME: &str = "oxmq-resolve-test";

fn write_hosts(path: &Path, lines: &[&str]) {
    // In place (same inode): the bind mount shows the file, not the path.
    let text: String = lines.iter().map(|ip| format!("{ip} {NAME}\n")).collect();
    std::fs::write(path, text).expect("write the hosts file");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pull_on(ctx: &Context, ip: &str, port: u16) -> Socket {
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvtimeo(5000).unwrap();
    pull.bind(&format!("tcp://{ip}:{port}")).unwrap();
    pull
}

/// The child's part: runs only with the hosts file mounted.
#[test]
fn resolve_child() {
    let Some(hosts) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let hosts = PathBuf::from(hosts);
    let ctx = Context::new();

    // Two addresses, the first refused: the second is tried at once, not after the
    // reconnect interval (10 s here).
    write_hosts(&hosts, &["127.0.0.5", "127.0.0.6"]);
    let port = free_port();
    let second = pull_on(&ctx, "127.0.0.6", port);
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_reconnect_ivl(10_000).unwrap();
    let started = Instant::now();
    push.connect(&format!("tcp://{NAME}:{port}")).unwrap();
    push.send("to the second address").unwrap();
    assert_eq!(second.recv().unwrap()[0], b"to the second address"[..]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the second address was tried in turn, not after RECONNECT_IVL: {:?}",
        started.elapsed()
    );
    drop(push);
    drop(second);

    // Resolved again at the reconnect: the name moves to another address while connected.
    write_hosts(&hosts, &["127.0.0.5"]);
    let port = free_port();
    let old = pull_on(&ctx, "127.0.0.5", port);
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_reconnect_ivl(50).unwrap();
    push.connect(&format!("tcp://{NAME}:{port}")).unwrap();
    push.send("before").unwrap();
    assert_eq!(old.recv().unwrap()[0], b"before"[..]);
    write_hosts(&hosts, &["127.0.0.7"]);
    let new = pull_on(&ctx, "127.0.0.7", port);
    drop(old);
    // Sent until the new address takes one: the reconnect found it by name.
    let deadline = Instant::now() + Duration::from_secs(10);
    new.set_rcvtimeo(100).unwrap();
    loop {
        push.send("after").unwrap();
        if let Ok(msg) = new.recv() {
            assert_eq!(msg[0], b"after"[..]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reconnect resolved the name again"
        );
    }
}

#[test]
fn a_host_name_is_resolved_again_and_each_address_tried() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let hosts = std::env::temp_dir().join(format!("oxmq-resolve-hosts-{}", std::process::id()));
    std::fs::write(&hosts, "").unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "mount --bind '{}' /etc/hosts && exec '{}' --exact resolve_child --nocapture --test-threads=1",
        hosts.display(),
        exe.display()
    );
    let probe = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            &format!("mount --bind '{}' /etc/hosts", hosts.display()),
        ])
        .output();
    if !probe.is_ok_and(|out| out.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to make a mount namespace (root and unshare)"
        );
        eprintln!("skipped: cannot make a mount namespace here (needs root and unshare)");
        let _ = std::fs::remove_file(&hosts);
        return;
    }
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env(CHILD_ENV, &hosts)
        .output()
        .expect("run the child");
    let _ = std::fs::remove_file(&hosts);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(
        text.contains("test resolve_child ... ok"),
        "the child ran its test:\n{text}"
    );
}
