//! The foundation's benchmarks before and after the reshaping, in one run (issue 10, point 6).
//!
//! Runs the foundation's two workloads (PUSH -> PULL throughput and PAIR round trips, every
//! transport and size) on three libraries in turn within one process: the foundation's oxmq
//! (commit 6a56473), this checkout's oxmq and libzmq. All three go through the same workload code
//! (`oxmq_cli::bench`), and each repetition runs the three back to back, so a period of the
//! machine being slow or fast touches all of them. For each case it prints both ratios to libzmq
//! (higher is better: throughput over libzmq's, or libzmq's round trip over ours) and their
//! quotient, `change` (below 1 means the ratio fell).
//!
//! Environment: `PLACEMENT` (os, one, paired, split, crossed), `REPS` (default 5), `TRANSPORT`
//! and `SIZE` (comma-separated filters), `ONLY` (`thr` or `lat`), `JSON=1` for one JSON object
//! per case.

use oxmq_bench::{Libzmq, median};
use oxmq_cli::bench::{self, Case, Driver, HWM, Kind, Oxmq, Workload};
use oxmq_cli::placement::Placement;

/// The foundation's oxmq (PUSH, PULL and PAIR only).
struct Foundation;

fn foundation_type(kind: Kind) -> foundation::SocketType {
    match kind {
        Kind::Push => foundation::SocketType::Push,
        Kind::Pull => foundation::SocketType::Pull,
        Kind::Pair => foundation::SocketType::Pair,
        other => panic!("the foundation has no {other:?} sockets"),
    }
}

impl Driver for Foundation {
    type Context = foundation::Context;
    type Socket = foundation::Socket;

    fn name(&self) -> &'static str {
        "foundation"
    }

    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Push | Kind::Pull | Kind::Pair)
    }

    fn context(&self) -> foundation::Context {
        foundation::Context::with_io_threads(1)
    }

    fn socket(&self, ctx: &foundation::Context, kind: Kind) -> foundation::Socket {
        let socket = ctx.socket(foundation_type(kind)).expect("socket");
        socket.set_sndhwm(HWM).expect("SNDHWM");
        socket.set_rcvhwm(HWM).expect("RCVHWM");
        socket.set_linger(0).expect("LINGER");
        socket
    }

    fn bind(&self, socket: &foundation::Socket, endpoint: &str) -> String {
        socket.bind(endpoint).expect("bind");
        socket.last_endpoint()
    }

    fn connect(&self, socket: &foundation::Socket, endpoint: &str) {
        socket.connect(endpoint).expect("connect");
    }

    fn subscribe(&self, _socket: &foundation::Socket, _prefix: &[u8]) {
        unreachable!("the foundation's workloads have no SUB");
    }

    fn send(&self, socket: &foundation::Socket, data: &[u8]) {
        // The foundation's benchmark sent this way: a message made from the slice.
        socket.send(data).expect("send");
    }

    fn recv(&self, socket: &foundation::Socket) -> usize {
        socket.recv().expect("recv")[0].len()
    }

    fn recv_within(&self, socket: &foundation::Socket, wait: bool) -> Option<usize> {
        let result = if wait {
            socket.recv()
        } else {
            socket.try_recv()
        };
        match result {
            Ok(msg) => Some(msg[0].len()),
            Err(foundation::Error::WouldBlock) => None,
            Err(err) => panic!("recv: {err}"),
        }
    }
}

/// One run's figure: messages/s, or the mean round trip in µs.
fn figure<D: Driver>(driver: &D, case: &Case) -> f64 {
    let row = case.run(driver);
    if case.pattern.is_latency() {
        row.rtt_us.expect("a latency case has a round trip")
    } else {
        row.msgs_per_s
    }
}

fn show(latency: bool, value: f64) -> String {
    if latency {
        format!("{value:.1} µs")
    } else if value >= 1e6 {
        format!("{:.3} M", value / 1e6)
    } else {
        format!("{:.1} k", value / 1e3)
    }
}

fn spread(latency: bool, values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let parts: Vec<String> = sorted
        .iter()
        .map(|&v| {
            if latency {
                format!("{v:.1}")
            } else if v >= 1e6 {
                format!("{:.2}M", v / 1e6)
            } else {
                format!("{:.1}k", v / 1e3)
            }
        })
        .collect();
    parts.join(" ")
}

fn env_list<T: std::str::FromStr>(name: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    std::env::var(name).map_or_else(
        |_| Vec::new(),
        |v| {
            v.split(',')
                .map(|s| s.trim().parse().expect(name))
                .collect()
        },
    )
}

fn main() {
    let reps: usize = std::env::var("REPS").map_or(5, |v| v.parse().expect("REPS"));
    let placement = match std::env::var("PLACEMENT").as_deref().unwrap_or("os") {
        "os" => Placement::Os,
        "one" => Placement::One,
        "paired" => Placement::Paired,
        "split" => Placement::Split,
        "crossed" => Placement::Crossed,
        other => panic!("PLACEMENT: unknown placement {other}"),
    };
    placement.check().expect("placement");
    let json = std::env::var("JSON").is_ok_and(|v| v == "1");
    let args = bench::CaseArgs {
        pattern: vec![Workload::PushPull, Workload::PairRtt],
        transport: env_list("TRANSPORT"),
        size: env_list("SIZE"),
        only: std::env::var("ONLY").ok(),
        placement,
        ..Default::default()
    };
    let (major, minor, patch) = zmq::version();
    if !json {
        println!(
            "\nplacement `{}`: medians of {reps} runs each, foundation (6a56473), now and libzmq \
             {major}.{minor}.{patch} interleaved\n",
            placement.name()
        );
        println!(
            "| case | foundation | now | libzmq | foundation / libzmq | now / libzmq | change | \
             foundation runs | now runs |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---|---|");
    }
    let mut fell = 0;
    let cases = args.cases();
    for case in &cases {
        let (mut before, mut now, mut libzmq) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            before.push(figure(&Foundation, case));
            now.push(figure(&Oxmq, case));
            libzmq.push(figure(&Libzmq, case));
        }
        let latency = case.pattern.is_latency();
        let (b, n, l) = (median(&before), median(&now), median(&libzmq));
        // Higher is better for both: throughput over libzmq's, libzmq's round trip over ours.
        let (ratio_before, ratio_now) = if latency {
            (l / b, l / n)
        } else {
            (b / l, n / l)
        };
        let change = ratio_now / ratio_before;
        if change < 1.0 {
            fell += 1;
        }
        let label = format!(
            "{} {} {}",
            case.pattern.name(),
            case.transport.name(),
            bench::human_size(case.size)
        );
        if json {
            println!(
                "{{\"case\":\"{label}\",\"placement\":\"{}\",\"latency\":{latency},\
                 \"foundation_runs\":{before:?},\"now_runs\":{now:?},\"libzmq_runs\":{libzmq:?},\
                 \"ratio_before\":{ratio_before:.3},\"ratio_now\":{ratio_now:.3},\
                 \"change\":{change:.3}}}",
                placement.name()
            );
        } else {
            println!(
                "| {label} | {} | {} | {} | {ratio_before:.2} | {ratio_now:.2} | {change:.2} | {} | {} |",
                show(latency, b),
                show(latency, n),
                show(latency, l),
                spread(latency, &before),
                spread(latency, &now),
            );
        }
    }
    if !json {
        println!(
            "\n{} of {} ratios held or rose; {fell} fell (ratios: higher is better)",
            cases.len() - fell,
            cases.len()
        );
    }
}
