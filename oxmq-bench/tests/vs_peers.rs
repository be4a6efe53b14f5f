//! `vs-peers` end to end, on a small workload: every row has a figure for every library it
//! ran, from worker processes of its own, and the JSON carries the fields scripts read.

use std::process::Command;

/// Runs vs-peers with `args` (and `--json`); one JSON object per line of its output.
fn run_json(args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_vs-peers"))
        .args(args)
        .arg("--json")
        .output()
        .expect("run vs-peers");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vs-peers failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[test]
fn a_small_run_reports_every_library() {
    let rows = run_json(&[
        "--libraries",
        "oxmq,libzmq,raw-64k",
        "--transports",
        "tcp,ipc,inproc",
        "--sizes",
        "64",
        "--latency-sizes",
        "1",
        "--no-pinned",
        "--count",
        "20000",
        "--round-trips",
        "200",
        "--reps",
        "1",
    ]);
    // Throughput and latency over three transports.
    assert_eq!(rows.len(), 6, "{rows:?}");
    for row in &rows {
        let libraries = row["libraries"].as_object().expect("libraries");
        for name in ["oxmq", "libzmq"] {
            let lib = &libraries[name];
            assert_eq!(lib["failed"], 0, "{row}");
            assert!(lib["median"].as_f64().expect("a median") > 0.0, "{row}");
            assert!(lib["cpu_ns_per_msg"].as_f64().expect("cpu") > 0.0, "{row}");
        }
        let transport = row["transport"].as_str().unwrap();
        // The raw stream has no inproc; at 64 B it only takes part in latency rows.
        let raw = libraries.contains_key("raw-64k");
        assert_eq!(
            raw,
            transport != "inproc" && row["kind"] == "latency",
            "{row}"
        );
        assert!(row["vs_libzmq"].as_f64().expect("a ratio") > 0.0, "{row}");
        assert!(row["meets_bar"].is_boolean(), "{row}");
    }
}

#[test]
fn idle_connections_report_memory_per_connection() {
    let rows = run_json(&["--idle-connections", "200", "--reps", "1"]);
    let libraries: Vec<&str> = rows
        .iter()
        .map(|r| r["library"].as_str().unwrap())
        .collect();
    assert_eq!(libraries, ["oxmq", "libzmq"], "{rows:?}");
    for row in &rows {
        assert_eq!(row["connections"], 200, "{row}");
        assert_eq!(row["runs"], 1, "{row}");
        // 200 connections cost each library some memory, and not megabytes each.
        let per = row["bytes_per_connection"].as_f64().expect("bytes");
        assert!(per > 0.0 && per < 1e6, "{row}");
        assert!(
            row["rss_after"].as_f64() > row["rss_before"].as_f64(),
            "{row}"
        );
    }
}

#[test]
fn fan_out_reports_deliveries_for_both_libraries() {
    let rows = run_json(&[
        "--fan-out",
        "1,20",
        "--transports",
        "tcp,ipc,inproc",
        "--reps",
        "1",
    ]);
    // inproc cannot cross processes: tcp and ipc, each at 1 and 20 subscribers.
    let shape: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["kind"], "fan-out", "{r}");
            (
                r["transport"].as_str().unwrap(),
                r["subscribers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [("tcp", 1), ("tcp", 20), ("ipc", 1), ("ipc", 20)],
        "{rows:?}"
    );
    for row in &rows {
        // A million deliveries shared out among the subscribers.
        let messages = row["messages"].as_u64().unwrap();
        assert_eq!(
            messages * row["subscribers"].as_u64().unwrap(),
            1_000_000,
            "{row}"
        );
        for name in ["oxmq", "libzmq"] {
            let lib = &row[name];
            assert_eq!(lib["runs"], 1, "{row}");
            assert_eq!(lib["dropped"], 0, "{row}");
            assert!(lib["deliveries_per_s"].as_f64().unwrap() > 0.0, "{row}");
            assert!(lib["cpu_ns_per_delivery"].as_f64().unwrap() > 0.0, "{row}");
        }
    }
}
