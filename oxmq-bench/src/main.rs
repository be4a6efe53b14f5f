//! `vs-libzmq`: runs the `oxmq bench` workloads on oxmq and on libzmq in one run, interleaved, and
//! prints the medians side by side.
//!
//! Both libraries go through the same workload code ([`oxmq_cli::bench`]) with the same settings:
//! SNDHWM/RCVHWM 1000, one I/O thread per context, LINGER 0, PUSH/PULL for throughput and PAIR
//! for round trips, two threads with a context each (one shared context over inproc), and a copy
//! of the payload per send.

use std::io::Write;

use clap::Parser;
use oxmq_cli::bench::{self, Driver, HWM, Kind, Oxmq, Pattern, Transport};

#[derive(Parser)]
#[command(
    name = "vs-libzmq",
    about = "The oxmq benchmark workloads on oxmq and on libzmq, interleaved, medians side by side"
)]
struct Cli {
    #[command(flatten)]
    cases: bench::CaseArgs,
    /// Runs of each library per case (oxmq, libzmq, oxmq, libzmq, ...); the table shows medians.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Run only this library (for profiling it): prints its medians, no comparison.
    #[arg(long, value_parser = ["oxmq", "libzmq"], conflicts_with_all = ["markdown", "json"])]
    library: Option<String>,
    /// Print Markdown tables instead of plain text.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Print one JSON object per case instead of a table.
    #[arg(long)]
    json: bool,
}

/// libzmq (through the `zmq` crate) behind the benchmark workloads.
struct Libzmq;

impl Driver for Libzmq {
    type Context = zmq::Context;
    type Socket = zmq::Socket;

    fn name(&self) -> &'static str {
        "libzmq"
    }

    fn context(&self) -> zmq::Context {
        let ctx = zmq::Context::new();
        ctx.set_io_threads(1).expect("set ZMQ_IO_THREADS");
        ctx
    }

    fn socket(&self, ctx: &zmq::Context, kind: Kind) -> zmq::Socket {
        let socket_type = match kind {
            Kind::Push => zmq::PUSH,
            Kind::Pull => zmq::PULL,
            Kind::Pair => zmq::PAIR,
        };
        let socket = ctx.socket(socket_type).expect("create a socket");
        socket.set_sndhwm(HWM).expect("set SNDHWM");
        socket.set_rcvhwm(HWM).expect("set RCVHWM");
        // As for oxmq: the workloads close sockets only after the last message arrived.
        socket.set_linger(0).expect("set LINGER");
        socket
    }

    fn bind(&self, socket: &zmq::Socket, endpoint: &str) -> String {
        socket.bind(endpoint).expect("bind");
        socket
            .get_last_endpoint()
            .expect("get ZMQ_LAST_ENDPOINT")
            .expect("ZMQ_LAST_ENDPOINT is UTF-8")
    }

    fn connect(&self, socket: &zmq::Socket, endpoint: &str) {
        socket.connect(endpoint).expect("connect");
    }

    fn send(&self, socket: &zmq::Socket, data: &[u8]) {
        // `&[u8]` becomes a zmq_msg_t holding a copy of the bytes, as in oxmq.
        socket.send(data, 0).expect("send");
    }

    fn recv(&self, socket: &zmq::Socket) -> usize {
        socket.recv_msg(0).expect("recv").len()
    }
}

/// One case, measured on both libraries.
struct Comparison {
    pattern: Pattern,
    transport: Transport,
    size: usize,
    count: u64,
    /// Messages per second (throughput) or round-trip µs (latency, `Row::rtt_us`), one per run.
    oxmq: Vec<f64>,
    libzmq: Vec<f64>,
}

impl Comparison {
    fn oxmq_median(&self) -> f64 {
        median(&self.oxmq)
    }

    fn libzmq_median(&self) -> f64 {
        median(&self.libzmq)
    }

    /// oxmq / libzmq: for throughput higher is better for oxmq, for latency lower is.
    fn ratio(&self) -> f64 {
        self.oxmq_median() / self.libzmq_median().max(f64::MIN_POSITIVE)
    }

    fn to_json(&self) -> String {
        let runs = |values: &[f64]| {
            let items: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            format!("[{}]", items.join(","))
        };
        format!(
            "{{\"pattern\":\"{}\",\"transport\":\"{}\",\"size\":{},\"count\":{},\"unit\":\"{}\",\"reps\":{},\"oxmq\":{:.3},\"libzmq\":{:.3},\"ratio\":{:.4},\"oxmq_runs\":{},\"libzmq_runs\":{}}}",
            pattern_name(self.pattern),
            self.transport.name(),
            self.size,
            self.count,
            unit(self.pattern),
            self.oxmq.len(),
            self.oxmq_median(),
            self.libzmq_median(),
            self.ratio(),
            runs(&self.oxmq),
            runs(&self.libzmq)
        )
    }
}

/// The median; the mean of the two middle values for an even number of values.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn pattern_name(pattern: Pattern) -> &'static str {
    match pattern {
        Pattern::Throughput => "push-pull",
        Pattern::Latency => "pair-rtt",
    }
}

fn unit(pattern: Pattern) -> &'static str {
    match pattern {
        Pattern::Throughput => "msgs/s",
        Pattern::Latency => "us",
    }
}

/// A measured value for people: msgs/s with separators, µs with one decimal.
fn value(pattern: Pattern, v: f64) -> String {
    match pattern {
        Pattern::Throughput => bench::thousands(v),
        Pattern::Latency => format!("{v:.1}"),
    }
}

/// Runs one case on one library and returns its figure.
fn measure<D: Driver>(driver: &D, case: &Comparison) -> f64 {
    let row = bench::run(driver, case.pattern, case.transport, case.size, case.count);
    match case.pattern {
        Pattern::Throughput => row.msgs_per_s,
        Pattern::Latency => row.rtt_us.expect("latency rows carry a round-trip time"),
    }
}

fn title(pattern: Pattern) -> &'static str {
    match pattern {
        Pattern::Throughput => {
            "Throughput, PUSH -> PULL, messages/s (ratio = oxmq / libzmq; higher is better for oxmq)"
        }
        Pattern::Latency => {
            "Latency, PAIR round trip, µs (ratio = oxmq / libzmq round-trip time; lower is better for oxmq)"
        }
    }
}

fn print_plain(results: &[Comparison], patterns: &[Pattern], reps: u32) {
    let (major, minor, patch) = zmq::version();
    println!("oxmq vs libzmq {major}.{minor}.{patch}: medians of {reps} interleaved runs each");
    for &pattern in patterns {
        let (a, b) = match pattern {
            Pattern::Throughput => ("oxmq msgs/s", "libzmq msgs/s"),
            Pattern::Latency => ("oxmq rtt µs", "libzmq rtt µs"),
        };
        println!();
        println!("{}", title(pattern));
        println!(
            "{:<10} {:<9} {:>7} {:>10} {:>14} {:>14} {:>7}",
            "pattern", "transport", "size", "count", a, b, "ratio"
        );
        for case in results.iter().filter(|c| c.pattern == pattern) {
            println!(
                "{:<10} {:<9} {:>7} {:>10} {:>14} {:>14} {:>7.2}",
                pattern_name(pattern),
                case.transport.name(),
                bench::human_size(case.size),
                bench::thousands_u64(case.count),
                value(pattern, case.oxmq_median()),
                value(pattern, case.libzmq_median()),
                case.ratio()
            );
        }
    }
}

fn print_markdown(results: &[Comparison], patterns: &[Pattern], reps: u32) {
    let (major, minor, patch) = zmq::version();
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "oxmq vs libzmq {major}.{minor}.{patch}, medians of {reps} interleaved runs each \
         (`cargo run --release -p oxmq-bench -- {}`).",
        args.join(" ")
    );
    for &pattern in patterns {
        println!();
        println!("**{}**", title(pattern));
        println!();
        match pattern {
            Pattern::Throughput => {
                println!(
                    "| transport | size | count | oxmq msgs/s | libzmq msgs/s | oxmq / libzmq |"
                )
            }
            Pattern::Latency => {
                println!("| transport | size | round trips | oxmq µs | libzmq µs | oxmq / libzmq |")
            }
        }
        println!("|---|---:|---:|---:|---:|---:|");
        for case in results.iter().filter(|c| c.pattern == pattern) {
            println!(
                "| {} | {} | {} | {} | {} | {:.2} |",
                case.transport.name(),
                bench::human_size(case.size),
                bench::thousands_u64(case.count),
                value(pattern, case.oxmq_median()),
                value(pattern, case.libzmq_median()),
                case.ratio()
            );
        }
    }
}

/// Measures one run of `case` on `driver` and shows the figure on the progress line.
fn measure_logged<D: Driver>(driver: &D, case: &Comparison) -> f64 {
    let figure = measure(driver, case);
    let unit = match case.pattern {
        Pattern::Throughput => unit(case.pattern),
        Pattern::Latency => "us round trip",
    };
    eprint!("{} {} {unit} ", driver.name(), value(case.pattern, figure));
    figure
}

fn main() {
    let cli = Cli::parse();
    let mut cases: Vec<Comparison> = cli
        .cases
        .cases()
        .into_iter()
        .map(|case| Comparison {
            pattern: case.pattern,
            transport: case.transport,
            size: case.size,
            count: case.count,
            oxmq: Vec::new(),
            libzmq: Vec::new(),
        })
        .collect();
    let patterns: Vec<Pattern> = [Pattern::Throughput, Pattern::Latency]
        .into_iter()
        .filter(|pattern| cases.iter().any(|case| case.pattern == *pattern))
        .collect();
    let (major, minor, patch) = zmq::version();
    eprintln!(
        "vs-libzmq: {} cases x {} reps, oxmq and libzmq {major}.{minor}.{patch} interleaved",
        cases.len(),
        cli.reps
    );
    let total = cases.len();
    let stdout = std::io::stdout();
    for (i, case) in cases.iter_mut().enumerate() {
        for rep in 1..=cli.reps {
            eprint!(
                "[{}/{total}] {} {} {} x {} rep {rep}/{}: ",
                i + 1,
                pattern_name(case.pattern),
                case.transport.name(),
                bench::human_size(case.size),
                bench::thousands_u64(case.count),
                cli.reps
            );
            if cli.library.as_deref() != Some("libzmq") {
                let ours = measure_logged(&Oxmq, case);
                case.oxmq.push(ours);
            }
            if cli.library.as_deref() != Some("oxmq") {
                let theirs = measure_logged(&Libzmq, case);
                case.libzmq.push(theirs);
            }
            eprintln!();
        }
        if let Some(library) = &cli.library {
            let runs = if case.oxmq.is_empty() {
                &case.libzmq
            } else {
                &case.oxmq
            };
            println!(
                "{} {} {} x {}: {library} {} {} (median of {})",
                pattern_name(case.pattern),
                case.transport.name(),
                bench::human_size(case.size),
                bench::thousands_u64(case.count),
                value(case.pattern, median(runs)),
                unit(case.pattern),
                runs.len()
            );
            continue;
        }
        if cli.json {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{}", case.to_json());
            let _ = out.flush();
        }
    }
    if cli.library.is_some() {
        return;
    }
    if cli.markdown {
        print_markdown(&cases, &patterns, cli.reps);
    } else if !cli.json {
        print_plain(&cases, &patterns, cli.reps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn json_has_the_contract_fields() {
        let case = Comparison {
            pattern: Pattern::Latency,
            transport: Transport::Ipc,
            size: 64,
            count: 10,
            oxmq: vec![20.0, 22.0, 21.0],
            libzmq: vec![40.0, 42.0, 44.0],
        };
        let json = case.to_json();
        for field in [
            "\"pattern\":\"pair-rtt\"",
            "\"transport\":\"ipc\"",
            "\"size\":64",
            "\"count\":10",
            "\"oxmq\":21.000",
            "\"libzmq\":42.000",
            "\"ratio\":0.5000",
        ] {
            assert!(json.contains(field), "{json} lacks {field}");
        }
    }
}
