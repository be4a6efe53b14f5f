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
    for (args, says) in [
        (
            vec!["send", "push", "--connect", "tcp://127.0.0.1", "x"],
            "missing port",
        ),
        (
            vec!["send", "push", "--connect", "nope://x", "x"],
            "unknown transport 'nope'",
        ),
        (
            vec!["recv", "pull", "--bind", "tcp://127.0.0.1:99999"],
            "bad port",
        ),
        (
            vec!["recv", "sprocket", "--bind", "tcp://127.0.0.1:*"],
            "unknown socket type 'sprocket'",
        ),
        (vec!["recv", "pull"], "--bind"),
    ] {
        let (code, stderr) = one_line_error(&args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
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
    assert!(rows[0]["rtt_us"].is_null());
    assert!(rows[0]["latency_us"].is_null());
    assert_eq!(rows[1]["pattern"], "pair-rtt");
    let rtt = rows[1]["rtt_us"].as_f64().unwrap();
    let latency = rows[1]["latency_us"].as_f64().unwrap();
    assert!(rtt > 0.0);
    // One-way latency is half the round trip (as libzmq's perf tools print it), to the 0.001 µs
    // that both fields are printed with.
    assert!(
        (latency - rtt / 2.0).abs() <= 0.001,
        "rtt {rtt} latency {latency}"
    );
}

#[test]
fn bench_pub_sub_and_matching_rows() {
    let out = oxmq()
        .args([
            "bench",
            "--json",
            "--pattern",
            "pub-sub",
            "--pattern",
            "pub-match",
            "--transport",
            "tcp",
            "--subscribers",
            "3",
            "--subscriptions",
            "500",
            "--count",
            "3000",
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
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0]["pattern"], "pub-sub");
    assert_eq!(rows[0]["subscribers"], 3);
    assert!(rows[0].get("subscriptions").is_none(), "{text}");
    assert_eq!(rows[1]["pattern"], "pub-match");
    assert_eq!(rows[1]["subscriptions"], 500);
    for row in &rows {
        assert_eq!(row["transport"], "tcp");
        assert_eq!(row["size"], 64);
        assert_eq!(row["count"], 3000);
        assert_eq!(
            row["dropped"], 0,
            "every subscriber got every message: {text}"
        );
        assert!(row["msgs_per_s"].as_f64().unwrap() > 0.0);
        assert!(row["rtt_us"].is_null());
    }
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

/// The end (in characters) of the first occurrence of `word` in `line`.
fn end_of(line: &str, word: &str) -> usize {
    let start = line
        .find(word)
        .unwrap_or_else(|| panic!("{word:?} not in {line:?}"));
    line[..start + word.len()].chars().count()
}

#[test]
fn bench_table_header_lines_up_with_its_columns() {
    let out = oxmq()
        .args([
            "bench",
            "--transport",
            "inproc",
            "--size",
            "1",
            "--count",
            "1200",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header = lines[0];
    assert!(header.contains("round-trip"), "the header says rtt: {text}");
    for line in &lines[1..] {
        // Counts have thousands separators and end under the header's `count`.
        assert_eq!(end_of(line, " 1,200"), end_of(header, "count"), "{text}");
        assert_eq!(line.find("inproc"), header.find("transport"), "{text}");
        assert_eq!(end_of(line, " 1 B"), end_of(header, "size"), "{text}");
    }
    // The round trip ends under its title; throughput rows show `-` there.
    assert_eq!(lines[1].chars().count(), header.chars().count(), "{text}");
    assert!(lines[1].ends_with('-'), "{text}");
    assert_eq!(lines[2].chars().count(), header.chars().count(), "{text}");
}

#[test]
fn bench_progress_has_no_escape_codes_when_stderr_is_not_a_terminal() {
    let out = oxmq()
        .args([
            "bench",
            "--transport",
            "inproc",
            "--size",
            "8",
            "--count",
            "200",
        ])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "{stderr:?}"
    );
    // One plain progress line per case.
    assert_eq!(stderr.lines().count(), 2, "{stderr:?}");
    assert!(
        stderr.lines().all(|l| l.contains("inproc 8 B x 200")),
        "{stderr:?}"
    );
}

#[test]
fn count_zero_is_rejected() {
    for args in [
        vec!["bench", "--count", "0"],
        vec![
            "send",
            "push",
            "--connect",
            "tcp://127.0.0.1:5555",
            "--count",
            "0",
            "x",
        ],
        vec![
            "recv",
            "pull",
            "--bind",
            "tcp://127.0.0.1:*",
            "--count",
            "0",
        ],
    ] {
        let out = oxmq().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("--count"), "{args:?}: {stderr}");
        assert!(stderr.contains("at least 1"), "{args:?}: {stderr}");
    }
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

/// Runs oxmq with `args` and returns its exit code and its standard error, which must be one
/// line starting with `oxmq: `.
fn one_line_error(args: &[&str]) -> (Option<i32>, String) {
    let child = oxmq()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("oxmq: "), "{args:?}: {stderr}");
    (out.status.code(), stderr)
}

#[test]
fn a_socket_type_that_cannot_send_or_receive_is_exit_code_2() {
    // A listener on the endpoint: had oxmq bound it, the error would be "address in use".
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", taken.local_addr().unwrap());
    for (args, says) in [
        (
            vec!["send", "pull", "--bind", &endpoint, "x"],
            "cannot send",
        ),
        (
            vec!["send", "sub", "--connect", &endpoint, "x"],
            "cannot send",
        ),
        (vec!["recv", "push", "--bind", &endpoint], "cannot receive"),
        (vec!["recv", "pub", "--bind", &endpoint], "cannot receive"),
    ] {
        let (code, stderr) = one_line_error(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn every_stable_socket_type_name_is_accepted() {
    for name in [
        "pair", "pub", "sub", "xpub", "xsub", "req", "rep", "dealer", "router", "pull", "push",
        "stream", "PUSH", "Dealer",
    ] {
        // No endpoint: the type parses (and is checked for the direction) before that error.
        let (code, stderr) = one_line_error(&["recv", name]);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        let lower = name.to_ascii_lowercase();
        if lower == "pub" || lower == "push" {
            assert!(stderr.contains("cannot receive"), "{name}: {stderr}");
        } else {
            assert!(stderr.contains("--bind"), "{name}: {stderr}");
        }
    }
}

#[test]
fn an_unsupported_socket_type_is_a_one_line_error() {
    // A draft type that oxmq does not implement (yet).
    let (code, stderr) = one_line_error(&[
        "send",
        "channel",
        "--bind",
        "inproc://unsupported",
        "--timeout",
        "100",
        "x",
    ]);
    assert_ne!(code, Some(0), "{stderr}");
    if stderr.contains("not supported") {
        assert_eq!(code, Some(2), "{stderr}");
    }
}

#[test]
fn connect_is_repeatable_with_one_endpoint_each() {
    let (a, b) = (free_endpoint(), free_endpoint());
    let recv_a = spawn_recv(&a, "1");
    let recv_b = spawn_recv(&b, "1");
    // PUSH deals the two messages out one per peer; the value after each endpoint is a frame.
    let send = oxmq()
        .args([
            "send",
            "push",
            "--connect",
            &a,
            "--connect",
            &b,
            "--count",
            "2",
            "hello",
        ])
        .output()
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    for recv in [recv_a, recv_b] {
        let out = wait(recv);
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "hello\n");
    }
}

#[test]
fn an_endpoint_flag_takes_exactly_one_value() {
    // The value after the endpoint is the message's first frame, not a second endpoint.
    let endpoint = free_endpoint();
    let recv = spawn_recv(&endpoint, "1");
    let send = oxmq()
        .args(["send", "push", "--connect", &endpoint, "tcp://x:1", "two"])
        .output()
        .unwrap();
    assert!(send.status.success());
    let out = wait(recv);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "tcp://x:1\ttwo\n");
    // recv takes no frames, so a second value is a usage error.
    let out = oxmq()
        .args([
            "recv",
            "pull",
            "--bind",
            "tcp://127.0.0.1:*",
            "tcp://127.0.0.1:*",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_mistyped_endpoint_is_not_taken_for_a_frame() {
    for endpoint in [
        "tcp//127.0.0.1:5555",
        "tcp:/127.0.0.1:5555",
        "127.0.0.1:5555",
    ] {
        let (code, stderr) = one_line_error(&["send", "push", "--connect", endpoint, "hello"]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("'{endpoint}' is not an endpoint")),
            "{stderr}"
        );
    }
}

#[test]
fn endpoint_errors_say_what_went_wrong() {
    for (args, says) in [
        (
            vec![
                "send",
                "push",
                "--connect",
                "tcp://no-such-host.invalid:5555",
                "x",
            ],
            "unknown host 'no-such-host.invalid'",
        ),
        (
            vec!["send", "push", "--connect", "tcp://localhost", "x"],
            "missing port in 'tcp://localhost'",
        ),
        (
            vec!["send", "push", "--connect", "tcp://127.0.0.1:", "x"],
            "missing port in 'tcp://127.0.0.1:'",
        ),
        (
            vec!["recv", "pull", "--bind", "xyz://a"],
            "unknown transport 'xyz'",
        ),
        (
            vec!["recv", "pull", "--bind", "tcp://127.0.0.1:99999"],
            "bad port '99999'",
        ),
        (
            vec!["recv", "pull", "--connect", "tcp://127.0.0.1:*"],
            "needs a port number",
        ),
    ] {
        let (code, stderr) = one_line_error(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn send_with_a_timeout_to_an_absent_peer_fails() {
    let endpoint = free_endpoint();
    let (code, stderr) = one_line_error(&[
        "send",
        "push",
        "--connect",
        &endpoint,
        "--timeout",
        "200",
        "hello",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("200 ms"), "{stderr}");
}

#[test]
fn send_with_a_timeout_reaches_a_present_peer() {
    let endpoint = free_endpoint();
    let recv = spawn_recv(&endpoint, "2");
    let send = oxmq()
        .args([
            "send",
            "push",
            "--connect",
            &endpoint,
            "--timeout",
            "10000",
            "--linger",
            "10000",
            "--count",
            "2",
            "hi",
        ])
        .output()
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let out = wait(recv);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "hi\nhi\n");
}

#[test]
fn send_with_linger_to_an_absent_peer_gives_up() {
    let endpoint = free_endpoint();
    let child = oxmq()
        .args([
            "send",
            "push",
            "--connect",
            &endpoint,
            "--linger",
            "100",
            "x",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Exits (the queued message is dropped after LINGER) instead of waiting for a peer.
    let out = wait(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn recv_with_a_timeout_gives_up() {
    let (code, stderr) = one_line_error(&[
        "recv",
        "pull",
        "--bind",
        "tcp://127.0.0.1:*",
        "--timeout",
        "100",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("100 ms"), "{stderr}");
}

#[test]
fn help_documents_the_exit_status() {
    for command in ["send", "recv"] {
        let out = oxmq().args([command, "--help"]).output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        for needle in ["Exit status", "--timeout", "--connect <ENDPOINT>"] {
            assert!(help.contains(needle), "{command}: {help}");
        }
    }
}
