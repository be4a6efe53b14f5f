//! The `oxmq` binary as users and scripts see it.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn oxmq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxmq"))
}

fn free_endpoint() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://127.0.0.1:{}", probe.local_addr().unwrap().port())
}

/// Waits for a child with a deadline, killing it on expiry so a bug fails instead of hanging.
fn wait(mut child: std::process::Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("oxmq did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn spawn_recv(endpoint: &str, count: &str) -> std::process::Child {
    oxmq()
        .args(["recv", "pull", "--bind", endpoint, "--count", count])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn send_and_recv_round_trip() {
    let endpoint = free_endpoint();
    let recv = spawn_recv(&endpoint, "3");
    let send = oxmq()
        .args([
            "send",
            "push",
            "--connect",
            &endpoint,
            "--count",
            "3",
            "hello",
            "world",
        ])
        .output()
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let out = wait(recv);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "hello\tworld\n".repeat(3)
    );
}

#[test]
fn send_reads_standard_input_and_recv_escapes() {
    let endpoint = free_endpoint();
    let recv = spawn_recv(&endpoint, "2");
    let mut send = oxmq()
        .args(["send", "push", "--connect", &endpoint])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    send.stdin
        .take()
        .unwrap()
        .write_all(b"one\ttwo\nbell\x07 and \xff\n")
        .unwrap();
    let sent = wait(send);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let out = wait(recv);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["one\ttwo", "bell\\x07 and \\xff"]);
}

#[test]
fn bad_endpoint_or_type_is_a_one_line_error_with_exit_code_2() {
    for args in [
        vec!["send", "push", "--connect", "tcp://127.0.0.1", "x"],
        vec!["send", "push", "--connect", "nope://x", "x"],
        vec!["recv", "pull", "--bind", "tcp://127.0.0.1:99999"],
        vec!["recv", "sprocket", "--bind", "tcp://127.0.0.1:*"],
        vec!["recv", "pull"],
    ] {
        let out = oxmq().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("oxmq: "), "{stderr}");
    }
}

#[test]
fn bench_json_has_the_contract_fields() {
    let out = oxmq()
        .args([
            "bench",
            "--json",
            "--transport",
            "inproc",
            "--size",
            "64",
            "--count",
            "2000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "one throughput and one latency row: {text}");
    for row in &rows {
        assert_eq!(row["transport"], "inproc");
        assert_eq!(row["size"], 64);
        assert_eq!(row["count"], 2000);
        assert!(row["msgs_per_s"].as_f64().unwrap() > 0.0);
        assert!(row["mb_per_s"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(rows[0]["pattern"], "push-pull");
    assert!(rows[0]["latency_us"].is_null());
    assert_eq!(rows[1]["pattern"], "pair-rtt");
    assert!(rows[1]["latency_us"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_table_lists_every_case() {
    let out = oxmq()
        .args([
            "bench",
            "--transport",
            "tcp",
            "--transport",
            "ipc",
            "--size",
            "1",
            "--count",
            "500",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().contains("msgs/s"));
    assert_eq!(text.lines().count(), 1 + 4, "{text}");
}

#[test]
fn dropped_connections_are_logged_with_their_reason() {
    let endpoint = free_endpoint();
    let recv = oxmq()
        .args(["recv", "pull", "--bind", &endpoint, "--count", "1"])
        .env("OXMQ_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = endpoint.trim_start_matches("tcp://");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut raw = loop {
        match std::net::TcpStream::connect(addr) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => panic!("{err}"),
        }
    };
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let send = oxmq()
        .args(["send", "push", "--connect", &endpoint, "ok"])
        .output()
        .unwrap();
    assert!(send.status.success());
    let out = wait(recv);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ok\n");
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(
        log.contains("closing connection") && log.contains("greeting"),
        "log: {log}"
    );
}
