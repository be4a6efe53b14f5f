//! Runs the C programs in `tests/c/` against the `libzmq.so` this crate builds: each is
//! compiled with the system C compiler against `include/zmq.h`, linked to the library under the
//! soname `libzmq.so.5` as a program built for libzmq would be, and must exit 0.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the `libzmq.so` this test run built: `cargo test` writes the library
/// beside the test binaries (`target/<profile>/deps`) and, unlike `cargo build`, does not copy
/// it up to `target/<profile>`, where an older one may lie.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().expect("target/<profile>/deps");
    assert!(
        dir.join("libzmq.so").exists(),
        "no libzmq.so in {}",
        dir.display()
    );
    dir.to_path_buf()
}

/// A directory holding `libzmq.so` and `libzmq.so.5`, both the library built by cargo.
fn link_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxmq-c-abi-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lib = library_dir().join("libzmq.so");
    for link in ["libzmq.so", "libzmq.so.5"] {
        let path = dir.join(link);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(&lib, &path).unwrap();
    }
    dir
}

/// Compiles `tests/c/<name>.c` and runs it; fails with its output unless it exits 0.
fn run_c(name: &str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = link_dir(name);
    let exe = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let compiled = Command::new(&cc)
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-D_DEFAULT_SOURCE",
            "-o",
        ])
        .arg(&exe)
        .arg(manifest.join("tests/c").join(format!("{name}.c")))
        .arg("-I")
        .arg(manifest.join("include"))
        .arg("-L")
        .arg(&dir)
        .args(["-lzmq", "-lpthread"])
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .output()
        .expect("run the C compiler");
    assert!(
        compiled.status.success(),
        "{cc} failed on {name}.c:\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let ran = Command::new(&exe).output().expect("run the C test");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        ran.status.success(),
        "{name} failed ({}):\n{}{}",
        ran.status,
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// NULL pointers, closed sockets, messages used after close, options of the wrong size or
/// unknown, impossible lengths, sockets of a terminated context: -1 with libzmq's errno.
#[test]
fn bad_input_at_the_boundary() {
    run_c("boundary");
}

/// Frames, messages and options through the C API, over inproc, ipc and tcp.
#[test]
fn frames_and_messages() {
    run_c("frames");
}

/// zmq_proxy (a ROUTER/DEALER queue with a capture socket), zmq_proxy_steerable (PAUSE,
/// RESUME, STATISTICS, TERMINATE) and zmq_device, and their errors.
#[test]
fn proxy() {
    run_c("proxy");
}

/// The draft zmq_poller_* API: level-triggered sockets and descriptors, wait_all's order and
/// room, timeouts, and a socket closed while in a poller.
#[test]
fn poller() {
    run_c("poller");
}
