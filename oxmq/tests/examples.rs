//! The examples under `examples/` run to completion by themselves: `cargo test` builds them,
//! and this test runs each binary and checks what it printed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The directory cargo puts the examples in, next to this test's own binary.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples"))
        .expect("target directory")
}

/// Runs an example; returns its standard output. Fails when it fails or runs for over 60 s.
fn run(name: &str) -> String {
    let path = examples_dir().join(name);
    assert!(path.exists(), "{} not built", path.display());
    let mut child = Command::new(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start example");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("example {name} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn hello_world() {
    let out = run("hello_world");
    assert_eq!(out.matches("got World").count(), 10, "{out}");
}

#[test]
fn weather() {
    let out = run("weather");
    assert!(
        out.contains("average temperature for zipcode 10001"),
        "{out}"
    );
}

#[test]
fn ventilator() {
    let out = run("ventilator");
    assert!(out.contains("total elapsed time"), "{out}");
}

#[test]
fn broker() {
    let out = run("broker");
    assert_eq!(out.matches("World (worker").count(), 30, "{out}");
    assert!(out.contains("broker: forwarded 60 messages"), "{out}");
}

#[test]
fn msgqueue() {
    let out = run("msgqueue");
    assert!(
        out.contains("msgqueue: frontend in 100 out 100, backend in 100 out 100"),
        "{out}"
    );
    assert!(out.contains("msgqueue: stopped"), "{out}");
}

#[test]
fn wuproxy() {
    let out = run("wuproxy");
    assert!(
        out.contains("wuproxy: 20 updates for 10001 through the proxy"),
        "{out}"
    );
}

#[test]
fn lazy_pirate() {
    let out = run("lazy_pirate");
    assert!(out.contains("simulating a crash"), "{out}");
    assert!(out.contains("retrying"), "{out}");
    assert_eq!(out.matches("server replied OK").count(), 10, "{out}");
}
