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

/// The standard output of a command that must have succeeded, and its lines as JSON objects.
fn json_lines(out: Output) -> (String, Vec<serde_json::Value>) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, rows)
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
    let (text, rows) = json_lines(out);
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
    let (text, rows) = json_lines(out);
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
fn bench_proxy_rows_move_every_message_through_the_proxy() {
    let out = oxmq()
        .args([
            "bench",
            "--json",
            "--pattern",
            "proxy",
            "--size",
            "64",
            "--count",
            "5000",
        ])
        .output()
        .unwrap();
    let (text, rows) = json_lines(out);
    let transports: Vec<&str> = rows
        .iter()
        .map(|r| r["transport"].as_str().unwrap())
        .collect();
    assert_eq!(transports.len(), 3, "{text}");
    for transport in ["inproc", "ipc", "tcp"] {
        assert!(transports.contains(&transport), "{text}");
    }
    for row in &rows {
        assert_eq!(row["pattern"], "proxy");
        assert_eq!(row["count"], 5000);
        // The receiver counted all 5,000 (it checks each size) before the clock stopped.
        assert!(row["msgs_per_s"].as_f64().unwrap() > 0.0);
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

/// Starts oxmq with `args`, its standard output and error piped.
fn spawn(args: &[&str]) -> std::process::Child {
    oxmq()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` (see [`wait`]), asserts that it succeeded and returns its standard output.
fn succeeds(child: std::process::Child) -> String {
    let out = wait(child);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts oxmq with `args` and `input` on its standard input.
fn spawn_with_input(args: &[&str], input: &[u8]) -> std::process::Child {
    let mut child = oxmq()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child
}

#[test]
fn recv_sub_gets_only_its_topics_from_send_pub_wait_subscribers() {
    let endpoint = free_endpoint();
    let recv = spawn(&[
        "recv",
        "sub",
        "--bind",
        &endpoint,
        "--subscribe",
        "alpha",
        "--subscribe",
        "beta",
        "--count",
        "3",
        "--timeout",
        "20000",
    ]);
    // The subscriber sends one subscription per topic: two.
    let send = spawn_with_input(
        &[
            "send",
            "pub",
            "--connect",
            &endpoint,
            "--wait-subscribers",
            "2",
            "--timeout",
            "20000",
        ],
        b"gamma\t1\nalpha\t2\nbeta\t3\ndelta\t4\nalphabet\t5\n",
    );
    assert_eq!(succeeds(send), "");
    assert_eq!(succeeds(recv), "alpha\t2\nbeta\t3\nalphabet\t5\n");
}

#[test]
fn send_pub_wait_subscribers_1_reaches_a_subscriber_of_everything() {
    let endpoint = free_endpoint();
    let send = spawn(&[
        "send",
        "pub",
        "--bind",
        &endpoint,
        "--wait-subscribers",
        "1",
        "--timeout",
        "20000",
        "--count",
        "3",
        "news",
    ]);
    // No --subscribe: everything.
    let recv = spawn(&[
        "recv",
        "sub",
        "--connect",
        &endpoint,
        "--count",
        "3",
        "--timeout",
        "20000",
    ]);
    assert_eq!(succeeds(send), "");
    assert_eq!(succeeds(recv), "news\n".repeat(3));
}

#[test]
fn recv_xsub_subscribes_and_send_xpub_waits_for_it() {
    let endpoint = free_endpoint();
    let recv = spawn(&[
        "recv",
        "xsub",
        "--bind",
        &endpoint,
        "--subscribe",
        "b",
        "--count",
        "1",
        "--timeout",
        "20000",
    ]);
    let send = spawn_with_input(
        &[
            "send",
            "xpub",
            "--connect",
            &endpoint,
            "--wait-subscribers",
            "1",
            "--timeout",
            "20000",
        ],
        b"a1\nb2\n",
    );
    assert_eq!(succeeds(send), "");
    assert_eq!(succeeds(recv), "b2\n");
}

#[test]
fn send_pub_wait_subscribers_gives_up_at_the_timeout() {
    let (code, stderr) = one_line_error(&[
        "send",
        "pub",
        "--bind",
        "tcp://127.0.0.1:*",
        "--wait-subscribers",
        "1",
        "--timeout",
        "200",
        "x",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("0 of 1 subscriptions"), "{stderr}");
    assert!(stderr.contains("200 ms"), "{stderr}");
}

#[test]
fn send_req_prints_the_replies_of_recv_rep_with_reply() {
    let endpoint = free_endpoint();
    let rep = spawn(&[
        "recv",
        "rep",
        "--bind",
        &endpoint,
        "--count",
        "2",
        "--timeout",
        "20000",
        "--reply",
        "ok",
        "",
        "done",
    ]);
    let req = spawn(&[
        "send",
        "req",
        "--connect",
        &endpoint,
        "--count",
        "2",
        "--timeout",
        "20000",
        "hello",
        "world",
    ]);
    assert_eq!(succeeds(req), "ok\t\tdone\n".repeat(2));
    assert_eq!(succeeds(rep), "hello\tworld\n".repeat(2));
}

#[test]
fn recv_rep_without_reply_echoes_each_request() {
    let endpoint = free_endpoint();
    let rep = spawn(&[
        "recv",
        "rep",
        "--bind",
        &endpoint,
        "--count",
        "2",
        "--timeout",
        "20000",
    ]);
    let req = spawn_with_input(
        &["send", "req", "--connect", &endpoint, "--timeout", "20000"],
        b"one\ttwo\nbell\x07\n",
    );
    let expected = "one\ttwo\nbell\\x07\n";
    assert_eq!(succeeds(req), expected);
    assert_eq!(succeeds(rep), expected);
}

#[test]
fn send_req_gives_up_when_no_reply_comes() {
    let ctx = oxmq::Context::new();
    let rep = ctx.socket(oxmq::SocketType::Rep).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = rep.last_endpoint();
    // The request is taken, never answered.
    let (code, stderr) = one_line_error(&[
        "send",
        "req",
        "--connect",
        &endpoint,
        "--timeout",
        "300",
        "anyone?",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("no reply arrived within 300 ms"),
        "{stderr}"
    );
    rep.set_rcvtimeo(10_000).unwrap();
    assert_eq!(rep.recv().unwrap()[0], b"anyone?");
}

#[test]
fn recv_router_prints_the_routing_id_first() {
    let endpoint = free_endpoint();
    let router = spawn(&[
        "recv",
        "router",
        "--bind",
        &endpoint,
        "--count",
        "1",
        "--timeout",
        "20000",
    ]);
    let dealer = spawn(&[
        "send",
        "dealer",
        "--connect",
        &endpoint,
        "--routing-id",
        "client-1",
        "--timeout",
        "20000",
        "hi",
        "there",
    ]);
    assert_eq!(succeeds(dealer), "");
    assert_eq!(succeeds(router), "client-1\thi\tthere\n");
}

#[test]
fn recv_router_prints_a_generated_routing_id_escaped() {
    let endpoint = free_endpoint();
    let router = spawn(&[
        "recv",
        "router",
        "--bind",
        &endpoint,
        "--count",
        "1",
        "--timeout",
        "20000",
    ]);
    let dealer = spawn(&[
        "send",
        "dealer",
        "--connect",
        &endpoint,
        "--timeout",
        "20000",
        "hi",
    ]);
    assert_eq!(succeeds(dealer), "");
    let out = succeeds(router);
    let (id, rest) = out.split_once('\t').unwrap();
    assert_eq!(rest, "hi\n");
    // A ROUTER makes up 5-byte ids that start with a zero byte, printed escaped.
    assert!(id.starts_with("\\x00"), "{out:?}");
    let bytes = oxmq_cli::text::unescape(id.as_bytes()).unwrap();
    assert_eq!(bytes.len(), 5, "{out:?}");
    assert_eq!(bytes[0], 0);
}

#[test]
fn send_router_addresses_a_dealer_by_its_routing_id() {
    let endpoint = free_endpoint();
    let dealer = spawn(&[
        "recv",
        "dealer",
        "--connect",
        &endpoint,
        "--routing-id",
        "worker\\x01",
        "--count",
        "2",
        "--timeout",
        "20000",
    ]);
    // The ROUTER binds; the message waits until the DEALER has connected (ROUTER_MANDATORY).
    let router = spawn(&[
        "send",
        "router",
        "--bind",
        &endpoint,
        "--timeout",
        "20000",
        "--count",
        "2",
        "worker\\x01",
        "job",
    ]);
    assert_eq!(succeeds(router), "");
    assert_eq!(succeeds(dealer), "job\njob\n");
}

#[test]
fn a_binary_routing_id_printed_by_recv_router_addresses_the_peer_in_send_router() {
    let id = b"\x01\xff\tid\\";
    let ctx = oxmq::Context::new();
    let dealer = ctx.socket(oxmq::SocketType::Dealer).unwrap();
    dealer.set_routing_id(id).unwrap();
    dealer.set_rcvtimeo(20_000).unwrap();
    let (first, second) = (free_endpoint(), free_endpoint());
    let router = spawn(&[
        "recv",
        "router",
        "--bind",
        &first,
        "--count",
        "1",
        "--timeout",
        "20000",
    ]);
    dealer.connect(&first).unwrap();
    dealer.send("hello").unwrap();
    let out = succeeds(router);
    let printed = out.strip_suffix("\thello\n").unwrap();
    assert_eq!(printed, "\\x01\\xff\\tid\\\\");
    // What recv printed, given back to send router, names the same peer (the same escapes
    // also work on standard input).
    dealer.connect(&second).unwrap();
    let router = spawn_with_input(
        &["send", "router", "--bind", &second, "--timeout", "20000"],
        format!("{printed}\tback\n").as_bytes(),
    );
    assert_eq!(succeeds(router), "");
    assert_eq!(dealer.recv().unwrap()[0], b"back");
}

#[test]
fn send_router_to_an_unknown_routing_id_fails_at_the_timeout() {
    let (code, stderr) = one_line_error(&[
        "send",
        "router",
        "--bind",
        "tcp://127.0.0.1:*",
        "--timeout",
        "200",
        "nobody",
        "x",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("no peer with routing id 'nobody'") && stderr.contains("200 ms"),
        "{stderr}"
    );
}

#[test]
fn pair_and_push_pull_and_dealer_work_as_the_generic_case() {
    for (sender, receiver) in [("pair", "pair"), ("dealer", "dealer"), ("push", "pull")] {
        let endpoint = free_endpoint();
        let recv = spawn(&[
            "recv",
            receiver,
            "--bind",
            &endpoint,
            "--count",
            "1",
            "--timeout",
            "20000",
        ]);
        let send = spawn(&[
            "send",
            sender,
            "--connect",
            &endpoint,
            "--timeout",
            "20000",
            "a",
            "b",
        ]);
        assert_eq!(succeeds(send), "", "{sender}");
        assert_eq!(succeeds(recv), "a\tb\n", "{receiver}");
    }
}

#[test]
fn recv_stream_prints_the_connection_id_and_the_raw_bytes() {
    let endpoint = free_endpoint();
    // The connect notification, then the data.
    let recv = spawn(&[
        "recv",
        "stream",
        "--bind",
        &endpoint,
        "--count",
        "2",
        "--timeout",
        "20000",
    ]);
    let addr = endpoint.trim_start_matches("tcp://");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut raw = loop {
        match std::net::TcpStream::connect(addr) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => panic!("{err}"),
        }
    };
    raw.write_all(b"raw bytes\n").unwrap();
    let out = succeeds(recv);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    let (id, empty) = lines[0].split_once('\t').unwrap();
    assert_eq!(empty, "");
    assert_eq!(lines[1], format!("{id}\traw bytes\\n"));
}

#[test]
fn options_for_other_socket_types_and_wrong_first_moves_are_exit_code_2() {
    let endpoint = "tcp://127.0.0.1:5555";
    for (args, says) in [
        (
            vec!["recv", "pull", "--connect", endpoint, "--subscribe", "a"],
            "--subscribe is for sub and xsub",
        ),
        (
            vec!["recv", "dealer", "--connect", endpoint, "--reply", "x"],
            "--reply is for rep",
        ),
        (
            vec![
                "send",
                "push",
                "--connect",
                endpoint,
                "--wait-subscribers",
                "1",
                "x",
            ],
            "--wait-subscribers is for pub and xpub",
        ),
        (
            vec!["recv", "req", "--connect", endpoint],
            "use `oxmq send req`",
        ),
        (
            vec!["send", "rep", "--connect", endpoint, "x"],
            "use `oxmq recv rep`",
        ),
        (
            vec!["send", "router", "--connect", endpoint, "bad\\q", "x"],
            "bad routing id 'bad\\q'",
        ),
        (
            vec![
                "send",
                "dealer",
                "--connect",
                endpoint,
                "--routing-id",
                "\\x00a",
                "x",
            ],
            "does not start with a zero byte",
        ),
    ] {
        let (code, stderr) = one_line_error(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn libzmq_sub_receives_from_send_pub_wait_subscribers() {
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = sub.get_last_endpoint().unwrap().unwrap();
    sub.set_subscribe(b"t").unwrap();
    sub.set_rcvtimeo(20_000).unwrap();
    let send = spawn_with_input(
        &[
            "send",
            "pub",
            "--connect",
            &endpoint,
            "--wait-subscribers",
            "1",
            "--timeout",
            "20000",
        ],
        b"x\t0\nt\t1\n",
    );
    // libzmq sends a bound SUB's subscriptions to a new peer only while the application is
    // in a call on the socket: receive first.
    assert_eq!(
        sub.recv_multipart(0).unwrap(),
        [b"t".to_vec(), b"1".to_vec()]
    );
    assert_eq!(succeeds(send), "");
}

#[test]
fn libzmq_req_and_dealer_talk_to_recv_rep_and_send_router() {
    let ctx = zmq::Context::new();
    // libzmq REQ -> oxmq recv rep --reply.
    let endpoint = free_endpoint();
    let rep = spawn(&[
        "recv",
        "rep",
        "--bind",
        &endpoint,
        "--count",
        "1",
        "--timeout",
        "20000",
        "--reply",
        "pong",
    ]);
    let req = ctx.socket(zmq::REQ).unwrap();
    req.set_rcvtimeo(20_000).unwrap();
    req.connect(&endpoint).unwrap();
    req.send("ping", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"pong");
    assert_eq!(succeeds(rep), "ping\n");
    // oxmq send req -> libzmq REP.
    let zrep = ctx.socket(zmq::REP).unwrap();
    zrep.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = zrep.get_last_endpoint().unwrap().unwrap();
    let req = spawn(&[
        "send",
        "req",
        "--connect",
        &endpoint,
        "--timeout",
        "20000",
        "q",
    ]);
    zrep.set_rcvtimeo(20_000).unwrap();
    assert_eq!(zrep.recv_bytes(0).unwrap(), b"q");
    zrep.send_multipart(["a", "b"], 0).unwrap();
    assert_eq!(succeeds(req), "a\tb\n");
    // oxmq send router -> libzmq DEALER with a routing id.
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"zd").unwrap();
    dealer.set_rcvtimeo(20_000).unwrap();
    let endpoint = free_endpoint();
    let router = spawn(&[
        "send",
        "router",
        "--bind",
        &endpoint,
        "--timeout",
        "20000",
        "zd",
        "for you",
    ]);
    dealer.connect(&endpoint).unwrap();
    assert_eq!(dealer.recv_bytes(0).unwrap(), b"for you");
    assert_eq!(succeeds(router), "");
}

#[test]
fn help_documents_what_each_socket_type_does() {
    for (command, needles) in [
        (
            "recv",
            &[
                "--subscribe <TOPIC>",
                "--reply <FRAME>...",
                "--routing-id <ID>",
                "router",
            ][..],
        ),
        (
            "send",
            &[
                "--wait-subscribers <N>",
                "--delay <MS>",
                "ROUTER_MANDATORY",
                "req",
            ][..],
        ),
    ] {
        let out = oxmq().args([command, "--help"]).output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        for needle in needles {
            assert!(help.contains(needle), "{command}: {needle}: {help}");
        }
    }
}

#[test]
fn monitor_prints_a_sockets_events_as_they_happen() {
    let endpoint = free_endpoint();
    let child = spawn(&[
        "monitor",
        "router",
        "--bind",
        &endpoint,
        "--count",
        "3",
        "--json",
        "--timeout",
        "10000",
    ]);
    // A libzmq peer connects: the monitored ROUTER accepts it and completes the handshake.
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.connect(&endpoint).unwrap();
    dealer.send("hello", 0).unwrap();
    let out = child.wait_with_output().unwrap();
    let (text, events) = json_lines(out);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["LISTENING", "ACCEPTED", "HANDSHAKE_SUCCEEDED"],
        "{text}"
    );
    for event in &events {
        assert_eq!(event["endpoint"], endpoint.as_str());
        assert_eq!(event["local"], endpoint.as_str());
        assert!(event["value"].is_u64());
    }
    // The listener has no remote end; the accepted connection's is the peer's own address.
    assert_eq!(events[0]["remote"], "", "{text}");
    let remote = events[1]["remote"].as_str().unwrap();
    assert!(
        remote.starts_with("tcp://127.0.0.1:") && remote != endpoint,
        "{text}"
    );
    assert_eq!(events[2]["remote"], remote);
}

#[test]
fn monitor_stats_count_what_the_socket_received() {
    let endpoint = free_endpoint();
    let child = spawn(&[
        "monitor",
        "pull",
        "--bind",
        &endpoint,
        "--json",
        "--stats",
        "50",
        "--count",
        "4",
        "--timeout",
        "10000",
    ]);
    // A libzmq peer connects, sends five messages, stays a while, and goes.
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect(&endpoint).unwrap();
    for i in 0..5 {
        push.send(format!("m{i}").as_bytes(), 0).unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    drop(push);
    let (text, rows) = json_lines(wait(child));
    let events: Vec<&str> = rows
        .iter()
        .map(|row| row["event"].as_str().unwrap())
        .filter(|&event| event != "STATS")
        .collect();
    assert_eq!(
        events,
        [
            "LISTENING",
            "ACCEPTED",
            "HANDSHAKE_SUCCEEDED",
            "DISCONNECTED"
        ],
        "{text}"
    );
    let stats: Vec<&serde_json::Value> =
        rows.iter().filter(|row| row["event"] == "STATS").collect();
    assert!(stats.len() >= 3, "one every 50 ms: {text}");
    // While the peer was there: five received, one peer that sent them.
    let full = stats
        .iter()
        .find(|row| row["received"] == 5 && row["peers"].as_array().is_some_and(|p| p.len() == 1))
        .unwrap_or_else(|| panic!("a STATS line with the five messages and the peer: {text}"));
    assert_eq!(full["peers"][0]["received"], 5, "{text}");
    assert_eq!(full["peers"][0]["local"], endpoint.as_str());
    assert_eq!(full["dropped"]["too_large"], 0);
    assert_eq!(full["sent"], 0);
}

#[test]
fn monitor_gives_up_after_its_timeout_and_prints_tab_separated_lines() {
    // Nothing ever answers at this endpoint: CONNECT_DELAYED / CONNECT_RETRIED, then silence
    // once --count is not reached within the timeout after the last event.
    let endpoint = free_endpoint();
    let out = oxmq()
        .args(["monitor", "dealer", "--connect", &endpoint, "--count", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = text.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 3, "{text:?}");
    assert!(
        ["CONNECT_DELAYED", "CONNECT_RETRIED"].contains(&fields[0]),
        "{text:?}"
    );
    assert_eq!(fields[2], endpoint);
    let out = oxmq()
        .args([
            "monitor",
            "pull",
            "--bind",
            &free_endpoint(),
            "--count",
            "2",
        ])
        .args(["--timeout", "300"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one LISTENING, then nothing");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no event within 300 ms"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn proxy_moves_messages_and_answers_its_control_socket() {
    let (front, back, control) = (free_endpoint(), free_endpoint(), free_endpoint());
    let mut child = spawn(&[
        "proxy",
        "pull",
        "push",
        "--frontend-bind",
        &front,
        "--backend-bind",
        &back,
        "--control-bind",
        &control,
    ]);
    // libzmq at both ends: PUSH -> [oxmq proxy] -> PULL.
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect(&front).unwrap();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_rcvtimeo(10_000).unwrap();
    pull.connect(&back).unwrap();
    for i in 0..3 {
        push.send(format!("message {i}").as_bytes(), 0).unwrap();
    }
    for i in 0..3 {
        assert_eq!(
            pull.recv_bytes(0).unwrap(),
            format!("message {i}").as_bytes()
        );
    }
    let ask = |command: &str| {
        let out = oxmq()
            .args([
                "send",
                "req",
                "--connect",
                &control,
                "--timeout",
                "10000",
                command,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        ask("STATISTICS").trim_end(),
        "frontend: in 3 msgs 27 bytes, out 0 msgs 0 bytes; backend: in 0 msgs 0 bytes, out 3 \
         msgs 27 bytes"
    );
    assert_eq!(ask("TERMINATE").trim_end(), "OK");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn proxy_refuses_a_socket_without_endpoints() {
    let out = oxmq()
        .args([
            "proxy",
            "router",
            "dealer",
            "--frontend-bind",
            &free_endpoint(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give the backend at least one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
