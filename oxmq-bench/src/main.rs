//! `vs-libzmq`: runs the `oxmq bench` workloads on oxmq and on libzmq in one run, interleaved, and
//! prints the medians side by side.
//!
//! Both libraries go through the same workload code ([`oxmq_cli::bench`]) with the same settings:
//! SNDHWM/RCVHWM 1000, one I/O thread per context, LINGER 0, two threads with a context each (one
//! shared context over inproc), a copy of the payload per send; PUB with XPUB_NODROP and SUB with
//! SNDHWM 0 for the PUB/SUB workloads.

use std::io::Write;

use clap::Parser;
use oxmq_bench::{Libzmq, median};
use oxmq_cli::bench::{self, Case, Driver, Oxmq, Workload};

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

/// One case, measured on both libraries.
struct Comparison {
    case: Case,
    /// Whether oxmq has the workload's socket types (no oxmq figures when not).
    oxmq_supported: bool,
    /// Messages per second (throughput) or round-trip µs (latency, `Row::rtt_us`), one per run.
    oxmq: Vec<f64>,
    libzmq: Vec<f64>,
    /// PUB/SUB: messages some subscriber never got, over every run (0 unless a library loses
    /// messages it should not).
    oxmq_dropped: u64,
    libzmq_dropped: u64,
}

impl Comparison {
    fn latency(&self) -> bool {
        self.case.pattern.is_latency()
    }

    fn oxmq_median(&self) -> Option<f64> {
        (!self.oxmq.is_empty()).then(|| median(&self.oxmq))
    }

    fn libzmq_median(&self) -> Option<f64> {
        (!self.libzmq.is_empty()).then(|| median(&self.libzmq))
    }

    /// oxmq / libzmq: for throughput higher is better for oxmq, for latency lower is.
    fn ratio(&self) -> Option<f64> {
        Some(self.oxmq_median()? / self.libzmq_median()?.max(f64::MIN_POSITIVE))
    }

    /// The project's bar: at least 1.0x libzmq's throughput, at most 1.1x its latency.
    fn meets_bar(&self) -> Option<bool> {
        let ratio = self.ratio()?;
        Some(if self.latency() {
            ratio <= 1.1
        } else {
            ratio >= 1.0
        })
    }

    fn to_json(&self) -> String {
        let runs = |values: &[f64]| {
            let items: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            format!("[{}]", items.join(","))
        };
        let number = |v: Option<f64>, decimals: usize| {
            v.map_or_else(|| "null".to_owned(), |v| format!("{v:.decimals$}"))
        };
        let mut fan = String::new();
        match self.case.pattern {
            bench::Pattern::PubSub { subscribers } => {
                fan = format!(",\"subscribers\":{subscribers}");
            }
            bench::Pattern::PubMatch { subscriptions } => {
                fan = format!(",\"subscriptions\":{subscriptions}");
            }
            _ => {}
        }
        let dropped = if self.case.pattern.subs().is_some() {
            format!(
                ",\"oxmq_dropped\":{},\"libzmq_dropped\":{}",
                self.oxmq_dropped, self.libzmq_dropped
            )
        } else {
            String::new()
        };
        format!(
            "{{\"pattern\":\"{}\",\"transport\":\"{}\",\"size\":{},\"count\":{}{fan},\"placement\":\"{}\",\"unit\":\"{}\",\"reps\":{},\"oxmq\":{},\"libzmq\":{},\"ratio\":{},\"meets_bar\":{},\"oxmq_runs\":{},\"libzmq_runs\":{}{dropped}}}",
            self.case.pattern.name(),
            self.case.transport.name(),
            self.case.size,
            self.case.count,
            self.case.placement.name(),
            unit(self.latency()),
            self.oxmq.len().max(self.libzmq.len()),
            number(self.oxmq_median(), 3),
            number(self.libzmq_median(), 3),
            number(self.ratio(), 4),
            self.meets_bar()
                .map_or_else(|| "null".to_owned(), |b| b.to_string()),
            runs(&self.oxmq),
            runs(&self.libzmq)
        )
    }
}

/// The median; the mean of the two middle values for an even number of values.
fn unit(latency: bool) -> &'static str {
    if latency { "us" } else { "msgs/s" }
}

/// A measured value for people: msgs/s with separators, µs with one decimal; `n/a` for none.
fn value(latency: bool, v: Option<f64>) -> String {
    match v {
        None => "n/a".to_owned(),
        Some(v) if latency => format!("{v:.1}"),
        Some(v) => bench::thousands(v),
    }
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}"))
}

fn bar_text(meets: Option<bool>, markdown: bool) -> &'static str {
    match (meets, markdown) {
        (None, _) => "n/a",
        (Some(true), _) => "yes",
        (Some(false), false) => "NO",
        (Some(false), true) => "**no**",
    }
}

/// Runs one case on one library; returns its figure and the messages it dropped.
fn measure<D: Driver>(driver: &D, case: &Case) -> (f64, u64) {
    let row = case.run(driver);
    let figure = if case.pattern.is_latency() {
        row.rtt_us.expect("latency rows carry a round-trip time")
    } else {
        row.msgs_per_s
    };
    (figure, row.dropped.unwrap_or(0))
}

fn title(workload: Workload) -> &'static str {
    match workload {
        Workload::PushPull => {
            "Throughput, PUSH -> PULL, messages/s (ratio = oxmq / libzmq; higher is better for oxmq)"
        }
        Workload::DealerRouter => {
            "Throughput, DEALER -> ROUTER, messages/s (ratio = oxmq / libzmq; higher is better for oxmq)"
        }
        Workload::Proxy => {
            "Throughput through each library's own ROUTER/DEALER proxy, DEALER -> [ROUTER | proxy | DEALER] -> ROUTER, messages/s (ratio = oxmq / libzmq; higher is better for oxmq)"
        }
        Workload::PubSub => {
            "Fan-out, PUB -> N SUBs each receiving every message (XPUB_NODROP), messages published/s (ratio = oxmq / libzmq; higher is better for oxmq)"
        }
        Workload::PubMatch => {
            "Matching, PUB -> SUB with N subscriptions, each message matching one, messages/s (ratio = oxmq / libzmq; higher is better for oxmq)"
        }
        Workload::PairRtt => {
            "Latency, PAIR round trip, µs (ratio = oxmq / libzmq round-trip time; lower is better for oxmq)"
        }
        Workload::ReqRepRtt => {
            "Latency, REQ/REP round trip, µs (ratio = oxmq / libzmq round-trip time; lower is better for oxmq)"
        }
        Workload::All => "",
    }
}

/// The title of the subscriber or subscription column of a workload's table, if it has one.
fn subs_title(workload: Workload) -> Option<&'static str> {
    match workload {
        Workload::PubSub => Some("subscribers"),
        Workload::PubMatch => Some("subscriptions"),
        _ => None,
    }
}

fn subs_cell(case: &Case) -> String {
    case.pattern
        .subs()
        .map_or_else(String::new, |n| bench::thousands_u64(n as u64))
}

fn workloads_of(results: &[Comparison]) -> Vec<Workload> {
    Workload::EVERY
        .into_iter()
        .filter(|w| results.iter().any(|c| c.case.pattern.workload() == *w))
        .collect()
}

fn print_plain(results: &[Comparison], reps: u32) {
    let (major, minor, patch) = zmq::version();
    println!(
        "oxmq vs libzmq {major}.{minor}.{patch}: medians of {reps} interleaved runs each; bar: oxmq at \
         least 1.0x libzmq's throughput, at most 1.1x its round trip"
    );
    for workload in workloads_of(results) {
        let (a, b) = if workload.is_latency() {
            ("oxmq rtt µs", "libzmq rtt µs")
        } else {
            ("oxmq msgs/s", "libzmq msgs/s")
        };
        println!();
        println!("{}", title(workload));
        let subs = subs_title(workload).map(|t| format!(" {t:>13}"));
        println!(
            "{:<13} {:<9}{} {:>7} {:>10} {:>14} {:>14} {:>7} {:>4}",
            "pattern",
            "transport",
            subs.as_deref().unwrap_or(""),
            "size",
            "count",
            a,
            b,
            "ratio",
            "bar"
        );
        for c in results
            .iter()
            .filter(|c| c.case.pattern.workload() == workload)
        {
            let subs = subs_title(workload).map(|_| format!(" {:>13}", subs_cell(&c.case)));
            println!(
                "{:<13} {:<9}{} {:>7} {:>10} {:>14} {:>14} {:>7} {:>4}",
                workload.name(),
                c.case.transport.name(),
                subs.as_deref().unwrap_or(""),
                bench::human_size(c.case.size),
                bench::thousands_u64(c.case.count),
                value(c.latency(), c.oxmq_median()),
                value(c.latency(), c.libzmq_median()),
                ratio_text(c.ratio()),
                bar_text(c.meets_bar(), false)
            );
        }
    }
    print_drops(results);
}

/// Warns about PUB/SUB runs that lost messages (their figures do not count).
fn print_drops(results: &[Comparison]) {
    for c in results {
        for (library, dropped) in [("oxmq", c.oxmq_dropped), ("libzmq", c.libzmq_dropped)] {
            if dropped > 0 {
                eprintln!(
                    "vs-libzmq: {} on {library}: {} messages never reached a subscriber (the figure is not valid)",
                    c.case.label(),
                    bench::thousands_u64(dropped)
                );
            }
        }
    }
}

fn print_markdown(results: &[Comparison], reps: u32) {
    let (major, minor, patch) = zmq::version();
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "oxmq vs libzmq {major}.{minor}.{patch}, medians of {reps} interleaved runs each \
         (`cargo run --release -p oxmq-bench -- {}`). Bar: at least 1.0x libzmq's throughput and \
         at most 1.1x its round trip.",
        args.join(" ")
    );
    for workload in workloads_of(results) {
        println!();
        println!("**{}**", title(workload));
        println!();
        let subs = subs_title(workload).map(|t| format!(" {t} |"));
        let subs = subs.as_deref().unwrap_or("");
        if workload.is_latency() {
            println!(
                "| transport |{subs} size | round trips | oxmq µs | libzmq µs | oxmq / libzmq | bar |"
            );
        } else {
            println!(
                "| transport |{subs} size | count | oxmq msgs/s | libzmq msgs/s | oxmq / libzmq | bar |"
            );
        }
        let rule = if subs.is_empty() { "" } else { "---:|" };
        println!("|---|{rule}---:|---:|---:|---:|---:|---|");
        for c in results
            .iter()
            .filter(|c| c.case.pattern.workload() == workload)
        {
            let subs = subs_title(workload).map(|_| format!(" {} |", subs_cell(&c.case)));
            println!(
                "| {} |{} {} | {} | {} | {} | {} | {} |",
                c.case.transport.name(),
                subs.as_deref().unwrap_or(""),
                bench::human_size(c.case.size),
                bench::thousands_u64(c.case.count),
                value(c.latency(), c.oxmq_median()),
                value(c.latency(), c.libzmq_median()),
                ratio_text(c.ratio()),
                bar_text(c.meets_bar(), true)
            );
        }
    }
    print_drops(results);
}

/// Measures one run of `case` on `driver` and shows the figure on the progress line.
fn measure_logged<D: Driver>(driver: &D, case: &Case) -> (f64, u64) {
    let (figure, dropped) = measure(driver, case);
    let latency = case.pattern.is_latency();
    let unit = if latency { "us round trip" } else { "msgs/s" };
    let drops = if dropped > 0 {
        format!(" ({dropped} DROPPED)")
    } else {
        String::new()
    };
    eprint!(
        "{} {} {unit}{drops} ",
        driver.name(),
        value(latency, Some(figure))
    );
    (figure, dropped)
}

fn main() {
    let cli = Cli::parse();
    if let Err(err) = cli.cases.placement.check() {
        eprintln!("vs-libzmq: {err}");
        std::process::exit(2);
    }
    let mut cases: Vec<Comparison> = cli
        .cases
        .cases()
        .into_iter()
        .map(|case| Comparison {
            case,
            oxmq_supported: case.pattern.kinds().iter().all(|&k| Oxmq.supports(k)),
            oxmq: Vec::new(),
            libzmq: Vec::new(),
            oxmq_dropped: 0,
            libzmq_dropped: 0,
        })
        .collect();
    let (major, minor, patch) = zmq::version();
    eprintln!(
        "vs-libzmq: {} cases x {} reps, oxmq and libzmq {major}.{minor}.{patch} interleaved",
        cases.len(),
        cli.reps
    );
    let total = cases.len();
    let stdout = std::io::stdout();
    for (i, c) in cases.iter_mut().enumerate() {
        let run_oxmq = cli.library.as_deref() != Some("libzmq") && c.oxmq_supported;
        let run_libzmq = cli.library.as_deref() != Some("oxmq");
        for rep in 1..=cli.reps {
            eprint!(
                "[{}/{total}] {} rep {rep}/{}: ",
                i + 1,
                c.case.label(),
                cli.reps
            );
            if run_oxmq {
                let (ours, dropped) = measure_logged(&Oxmq, &c.case);
                c.oxmq.push(ours);
                c.oxmq_dropped += dropped;
            } else if rep == 1 && cli.library.as_deref() != Some("libzmq") {
                eprint!("oxmq n/a (no such sockets yet) ");
            }
            if run_libzmq {
                let (theirs, dropped) = measure_logged(&Libzmq, &c.case);
                c.libzmq.push(theirs);
                c.libzmq_dropped += dropped;
            }
            eprintln!();
        }
        if let Some(library) = &cli.library {
            let runs = if library == "oxmq" {
                &c.oxmq
            } else {
                &c.libzmq
            };
            println!(
                "{}: {library} {} {} (median of {})",
                c.case.label(),
                value(c.latency(), (!runs.is_empty()).then(|| median(runs))),
                unit(c.latency()),
                runs.len()
            );
            continue;
        }
        if cli.json {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{}", c.to_json());
            let _ = out.flush();
        }
    }
    if cli.library.is_some() {
        return;
    }
    if cli.markdown {
        print_markdown(&cases, cli.reps);
    } else if cli.json {
        print_drops(&cases);
    } else {
        print_plain(&cases, cli.reps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxmq_cli::bench::{Pattern, Transport};
    use oxmq_cli::placement::Placement;

    #[test]
    fn json_has_the_contract_fields() {
        let case = Comparison {
            case: Case {
                pattern: Pattern::PairRtt,
                transport: Transport::Ipc,
                size: 64,
                count: 10,
                placement: Placement::Split,
            },
            oxmq_supported: true,
            oxmq: vec![20.0, 22.0, 21.0],
            libzmq: vec![40.0, 42.0, 44.0],
            oxmq_dropped: 0,
            libzmq_dropped: 0,
        };
        let json = case.to_json();
        for field in [
            "\"pattern\":\"pair-rtt\"",
            "\"transport\":\"ipc\"",
            "\"size\":64",
            "\"count\":10",
            "\"placement\":\"split\"",
            "\"oxmq\":21.000",
            "\"libzmq\":42.000",
            "\"ratio\":0.5000",
            "\"meets_bar\":true",
        ] {
            assert!(json.contains(field), "{json} lacks {field}");
        }
        assert!(!json.contains("dropped"), "{json}");
    }

    #[test]
    fn pub_sub_json_and_the_bar() {
        let mut case = Comparison {
            case: Case {
                pattern: Pattern::PubSub { subscribers: 10 },
                transport: Transport::Tcp,
                size: 64,
                count: 1000,
                placement: Placement::Os,
            },
            oxmq_supported: true,
            oxmq: vec![90.0],
            libzmq: vec![100.0],
            oxmq_dropped: 0,
            libzmq_dropped: 3,
        };
        let json = case.to_json();
        for field in [
            "\"pattern\":\"pub-sub\"",
            "\"subscribers\":10,",
            "\"ratio\":0.9000",
            "\"meets_bar\":false",
            "\"oxmq_dropped\":0,\"libzmq_dropped\":3",
        ] {
            assert!(json.contains(field), "{json} lacks {field}");
        }
        // Round trips may be up to 10 % slower.
        case.case.pattern = Pattern::ReqRepRtt;
        case.oxmq = vec![109.0];
        assert_eq!(case.meets_bar(), Some(true));
        case.oxmq = vec![111.0];
        assert_eq!(case.meets_bar(), Some(false));
        // No oxmq figures: no ratio.
        case.oxmq_supported = false;
        case.oxmq.clear();
        let json = case.to_json();
        assert!(json.contains("\"oxmq\":null"), "{json}");
        assert!(json.contains("\"ratio\":null,\"meets_bar\":null"), "{json}");
    }
}
