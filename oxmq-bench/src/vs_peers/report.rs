//! The figures of `vs-peers`: runs per row, medians, the ratios and bars of the performance
//! issue, and the tables (plain, Markdown) and JSON they are printed as.

use crate::Library;

/// Throughput (PUSH -> PULL) or latency (REQ/REP round trips).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Throughput,
    Latency,
}

/// One run's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Messages per second (throughput) or one-way microseconds, round trip / 2 (latency).
    pub value: f64,
    /// Payload megabytes per second (throughput).
    pub mb_per_s: f64,
    /// User + system CPU time of both processes per message, in nanoseconds.
    pub cpu_ns: f64,
}

impl Sample {
    /// The figures of a run that moved `count` messages (or round trips) of `size` bytes in
    /// `seconds`, spending `cpu` CPU seconds in all.
    pub fn new(kind: Kind, size: usize, count: u64, seconds: f64, cpu: f64) -> Sample {
        let seconds = seconds.max(1e-9);
        let count = count.max(1) as f64;
        match kind {
            Kind::Throughput => Sample {
                value: count / seconds,
                mb_per_s: count * size as f64 / seconds / 1e6,
                cpu_ns: cpu * 1e9 / count,
            },
            Kind::Latency => Sample {
                value: seconds * 1e6 / (2.0 * count),
                mb_per_s: 0.0,
                cpu_ns: cpu * 1e9 / count,
            },
        }
    }

    /// The figure for a progress line.
    pub fn show(&self, kind: Kind, size: usize) -> String {
        match kind {
            Kind::Throughput if size >= 65536 => format!("{:.0}MB/s", self.mb_per_s),
            Kind::Throughput => format!("{:.2}M", self.value / 1e6),
            Kind::Latency => format!("{:.1}us", self.value),
        }
    }
}

/// What one library did on one row.
#[derive(Clone, Debug)]
pub struct Results {
    pub library: Library,
    pub samples: Vec<Sample>,
    pub failures: Vec<String>,
}

/// One workload: a kind, a transport, a size, pinned or not, and each library's runs.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: Kind,
    pub transport: String,
    pub size: usize,
    /// Latency with every process on CPU 0.
    pub pinned: bool,
    /// Messages (throughput) or round trips (latency) per run.
    pub count: u64,
    pub libraries: Vec<Library>,
    pub results: Vec<Results>,
}

/// The median of `values` ([`oxmq_bench::median`]), `None` when there are none.
fn median(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| oxmq_bench::median(values))
}

/// 1, 64, 1k, 64k, 1m: a size in bytes for a label.
pub fn short_size(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{}m", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{}k", s >> 10),
        s => s.to_string(),
    }
}

/// The bars the performance issue sets.
pub mod bar {
    /// Small-message throughput: at least this many times libzmq's ...
    pub const VS_LIBZMQ: f64 = 1.5;
    /// ... and this many times the best pure-Rust peer's.
    pub const VS_PEER: f64 = 1.2;
    /// Large messages: at least this share of the best raw stream.
    pub const VS_RAW: f64 = 0.9;
    /// CPU per message at 64 B over tcp, both processes, nanoseconds.
    pub const CPU_NS_TCP_64: f64 = 200.0;
    /// Steadiness: the slowest run at least this share of the median.
    pub const STEADY: f64 = 0.8;
}

impl Row {
    pub fn new(
        kind: Kind,
        transport: &str,
        size: usize,
        pinned: bool,
        count: u64,
        libraries: Vec<Library>,
    ) -> Row {
        let results = libraries
            .iter()
            .map(|&library| Results {
                library,
                samples: Vec::new(),
                failures: Vec::new(),
            })
            .collect();
        Row {
            kind,
            transport: transport.to_owned(),
            size,
            pinned,
            count,
            libraries,
            results,
        }
    }

    pub fn label(&self) -> String {
        let kind = match self.kind {
            Kind::Throughput => "throughput",
            Kind::Latency => "latency",
        };
        let pinned = if self.pinned { " pinned" } else { "" };
        format!(
            "{kind} {} {}{pinned}",
            self.transport,
            human_size(self.size)
        )
    }

    pub fn record(&mut self, library: Library, sample: Result<Sample, String>) {
        let results = self
            .results
            .iter_mut()
            .find(|r| r.library == library)
            .expect("a library of the row");
        match sample {
            Ok(s) => results.samples.push(s),
            Err(why) => results.failures.push(why),
        }
    }

    fn results(&self, library: Library) -> Option<&Results> {
        self.results.iter().find(|r| r.library == library)
    }

    /// The median figure of `library` on this row.
    pub fn median(&self, library: Library) -> Option<f64> {
        self.median_of(library, |s| s.value)
    }

    fn median_of(&self, library: Library, field: fn(&Sample) -> f64) -> Option<f64> {
        let r = self.results(library)?;
        median(&r.samples.iter().map(field).collect::<Vec<_>>())
    }

    /// `a` is better than `b`: more messages per second, or less time per trip.
    fn better(&self, a: f64, b: f64) -> bool {
        match self.kind {
            Kind::Throughput => a > b,
            Kind::Latency => a < b,
        }
    }

    /// The pure-Rust peer with the best median, and that median.
    pub fn best_peer(&self) -> Option<(Library, f64)> {
        self.results
            .iter()
            .filter(|r| r.library.is_peer())
            .filter_map(|r| Some((r.library, self.median(r.library)?)))
            .fold(None, |best, (l, v)| match best {
                Some((_, b)) if !self.better(v, b) => best,
                _ => Some((l, v)),
            })
    }

    /// The raw stream's best median in MB/s over its write sizes (throughput rows).
    pub fn raw_best_mb(&self) -> Option<(Library, f64)> {
        if self.kind != Kind::Throughput {
            return None;
        }
        self.results
            .iter()
            .filter(|r| matches!(r.library, Library::Raw(_)))
            .filter_map(|r| Some((r.library, self.median_of(r.library, |s| s.mb_per_s)?)))
            .fold(None, |best, (l, v)| match best {
                Some((_, b)) if v <= b => best,
                _ => Some((l, v)),
            })
    }

    /// oxmq / libzmq of the medians.
    pub fn vs_libzmq(&self) -> Option<f64> {
        Some(self.median(Library::Oxmq)? / self.median(Library::Libzmq)?)
    }

    /// oxmq / the best peer of the medians.
    pub fn vs_peer(&self) -> Option<f64> {
        Some(self.median(Library::Oxmq)? / self.best_peer()?.1)
    }

    /// oxmq's MB/s / the raw stream's best.
    pub fn vs_raw(&self) -> Option<f64> {
        Some(self.median_of(Library::Oxmq, |s| s.mb_per_s)? / self.raw_best_mb()?.1)
    }

    /// Whether oxmq meets the bar on this row (None without the figures it needs).
    /// Small messages: 1.5x libzmq and 1.2x the best peer (libzmq alone when no peer ran).
    /// Large messages: the best peer's figure and 90 % of the best raw stream. Latency: at
    /// most the best peer's (or libzmq's when no peer ran).
    pub fn meets_bar(&self) -> Option<bool> {
        match self.kind {
            Kind::Throughput if self.size < 65536 => {
                let libzmq = self.vs_libzmq()? >= bar::VS_LIBZMQ;
                Some(libzmq && self.vs_peer().is_none_or(|r| r >= bar::VS_PEER))
            }
            Kind::Throughput => {
                let raw = self.vs_raw().is_none_or(|r| r >= bar::VS_RAW);
                let peer = match self.vs_peer() {
                    Some(r) => r >= 1.0,
                    None => self.vs_libzmq()? >= 1.0,
                };
                Some(raw && peer)
            }
            Kind::Latency => Some(match self.vs_peer() {
                Some(r) => r <= 1.0,
                None => self.vs_libzmq()? <= 1.0,
            }),
        }
    }

    /// The slowest run over the median, for `library` (1.0 = steady; lower is worse).
    pub fn steadiness(&self, library: Library) -> Option<f64> {
        let median = self.median(library)?;
        let values = self.results(library)?.samples.iter().map(|s| s.value);
        Some(match self.kind {
            Kind::Throughput => values.fold(f64::INFINITY, f64::min) / median,
            Kind::Latency => median / values.fold(0.0, f64::max),
        })
    }

    /// Median CPU nanoseconds per message of `library`.
    pub fn cpu_ns(&self, library: Library) -> Option<f64> {
        self.median_of(library, |s| s.cpu_ns)
    }

    pub fn to_json(&self) -> String {
        let num = |v: Option<f64>| match v {
            Some(v) if v.is_finite() => format!("{v:.4}"),
            _ => "null".to_owned(),
        };
        let libs: Vec<String> = self
            .results
            .iter()
            .map(|r| {
                let runs: Vec<String> = r.samples.iter().map(|s| format!("{:.3}", s.value)).collect();
                let mb: Vec<String> = r
                    .samples
                    .iter()
                    .map(|s| format!("{:.1}", s.mb_per_s))
                    .collect();
                format!(
                    "\"{}\":{{\"median\":{},\"runs\":[{}],\"mb_per_s\":[{}],\"cpu_ns_per_msg\":{},\"slowest_over_median\":{},\"failed\":{}}}",
                    r.library.name(),
                    num(self.median(r.library)),
                    runs.join(","),
                    mb.join(","),
                    num(self.cpu_ns(r.library)),
                    num(self.steadiness(r.library)),
                    r.failures.len()
                )
            })
            .collect();
        let best = self
            .best_peer()
            .map_or_else(|| "null".to_owned(), |(l, _)| format!("\"{}\"", l.name()));
        let raw = self
            .raw_best_mb()
            .map_or_else(|| "null".to_owned(), |(l, _)| format!("\"{}\"", l.name()));
        format!(
            "{{\"kind\":\"{}\",\"transport\":\"{}\",\"size\":{},\"pinned\":{},\"count\":{},\"unit\":\"{}\",\"libraries\":{{{}}},\"best_peer\":{best},\"vs_libzmq\":{},\"vs_best_peer\":{},\"raw_best\":{raw},\"vs_raw\":{},\"meets_bar\":{}}}",
            match self.kind {
                Kind::Throughput => "throughput",
                Kind::Latency => "latency",
            },
            self.transport,
            self.size,
            self.pinned,
            self.count,
            match self.kind {
                Kind::Throughput => "msgs/s",
                Kind::Latency => "us one-way",
            },
            libs.join(","),
            num(self.vs_libzmq()),
            num(self.vs_peer()),
            num(self.vs_raw()),
            self.meets_bar()
                .map_or_else(|| "null".to_owned(), |b| b.to_string())
        )
    }
}

/// 1 B, 64 B, 1 KiB, 64 KiB.
pub fn human_size(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// A row's figure for `library` as the tables show it: msgs/s in millions (MB/s for 64 KiB
/// and up), one-way µs.
fn cell(row: &Row, library: Library) -> String {
    let failed = row.results(library).is_some_and(|r| !r.failures.is_empty());
    let mark = if failed { "!" } else { "" };
    let value = match row.kind {
        Kind::Throughput if row.size >= 65536 => row
            .median_of(library, |s| s.mb_per_s)
            .map(|v| format!("{v:.0} MB/s")),
        Kind::Throughput => row.median(library).map(|v| format!("{:.2} M", v / 1e6)),
        Kind::Latency => row.median(library).map(|v| format!("{v:.1}")),
    };
    match value {
        Some(v) => format!("{v}{mark}"),
        None if failed => "failed".to_owned(),
        None => "-".to_owned(),
    }
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

/// Prints one table: a bold title and Markdown rows with `markdown`, aligned plain text
/// otherwise (the first column left, the others right).
pub fn print_table(title: &str, head: &[String], body: &[Vec<String>], markdown: bool) {
    println!();
    if markdown {
        println!("**{title}**");
        println!();
        println!("| {} |", head.join(" | "));
        let rule: Vec<&str> = head
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect();
        println!("|{}|", rule.join("|"));
        for line in body {
            println!("| {} |", line.join(" | "));
        }
    } else {
        println!("{title}");
        let widths: Vec<usize> = (0..head.len())
            .map(|i| {
                body.iter()
                    .map(|l| l[i].chars().count())
                    .chain([head[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 0 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            println!("{}", parts.join("  "));
        };
        line(head);
        for l in body {
            line(l);
        }
    }
}

/// Prints the tables; `markdown` for Markdown, plain text otherwise.
pub fn print(rows: &[Row], markdown: bool) {
    let table = |title: &str, head: Vec<String>, body: Vec<Vec<String>>| {
        print_table(title, &head, &body, markdown)
    };
    let yes_no = |b: Option<bool>| match (b, markdown) {
        (None, _) => "-".to_owned(),
        (Some(true), _) => "yes".to_owned(),
        (Some(false), true) => "**no**".to_owned(),
        (Some(false), false) => "NO".to_owned(),
    };
    for kind in [Kind::Throughput, Kind::Latency] {
        let rows: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        if rows.is_empty() {
            continue;
        }
        let mut libraries: Vec<Library> = Vec::new();
        for r in &rows {
            for l in &r.libraries {
                if !libraries.contains(l) {
                    libraries.push(*l);
                }
            }
        }
        let name = |l: Library| match (kind, l) {
            (Kind::Latency, Library::Raw(_)) => "raw".to_owned(),
            (_, l) => l.name(),
        };
        let mut head = vec!["row".to_owned()];
        head.extend(libraries.iter().map(|&l| name(l)));
        head.extend(["oxmq/libzmq", "oxmq/best peer", "best peer"].map(String::from));
        if kind == Kind::Throughput {
            head.push("oxmq/raw".into());
        }
        head.push("bar".into());
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let mut line = vec![r.label()];
                line.extend(libraries.iter().map(|&l| cell(r, l)));
                line.push(ratio(r.vs_libzmq()));
                line.push(ratio(r.vs_peer()));
                line.push(
                    r.best_peer()
                        .map_or_else(|| "-".to_owned(), |(l, _)| l.name()),
                );
                if kind == Kind::Throughput {
                    line.push(ratio(r.vs_raw()));
                }
                line.push(yes_no(r.meets_bar()));
                line
            })
            .collect();
        let title = match kind {
            Kind::Throughput => format!(
                "Throughput, PUSH -> PULL, sender and receiver in separate processes (inproc: two threads): \
                 medians, millions of msgs/s (MB/s from 64 KiB). Bar: {}x libzmq and {}x the best \
                 pure-Rust peer; from 64 KiB the best peer and {:.0} % of the best raw stream",
                bar::VS_LIBZMQ,
                bar::VS_PEER,
                bar::VS_RAW * 100.0
            ),
            Kind::Latency => "Latency, REQ/REP, one way (round trip / 2), µs, medians; pinned: \
                 every process on CPU 0. Bar: at most the best pure-Rust peer's"
                .to_owned(),
        };
        table(&title, head, body);
        if kind == Kind::Throughput {
            let mut head = vec!["row".to_owned()];
            head.extend(
                libraries
                    .iter()
                    .filter(|l| !matches!(l, Library::Raw(_)))
                    .map(|l| l.name()),
            );
            let body = rows
                .iter()
                .map(|r| {
                    let mut line = vec![r.label()];
                    line.extend(
                        libraries
                            .iter()
                            .filter(|l| !matches!(l, Library::Raw(_)))
                            .map(|&l| {
                                r.cpu_ns(l)
                                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
                            }),
                    );
                    line
                })
                .collect();
            table(
                &format!(
                    "CPU per message, user + system of both processes, ns (bar at tcp 64 B: at most {:.0} and below every peer)",
                    bar::CPU_NS_TCP_64
                ),
                head,
                body,
            );
        }
        let mut head = vec!["row".to_owned()];
        head.extend(libraries.iter().map(|&l| name(l)));
        let body = rows
            .iter()
            .map(|r| {
                let mut line = vec![r.label()];
                line.extend(libraries.iter().map(|&l| {
                    r.steadiness(l)
                        .map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
                }));
                line
            })
            .collect();
        table(
            &format!(
                "Steadiness, {}: the slowest run over the median (bar: at least {})",
                match kind {
                    Kind::Throughput => "throughput",
                    Kind::Latency => "latency",
                },
                bar::STEADY
            ),
            head,
            body,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(value: f64) -> Sample {
        Sample {
            value,
            mb_per_s: value / 1e6,
            cpu_ns: 100.0,
        }
    }

    fn row(kind: Kind, size: usize, figures: &[(Library, &[f64])]) -> Row {
        let mut row = Row::new(
            kind,
            "tcp",
            size,
            false,
            1000,
            figures.iter().map(|(l, _)| *l).collect(),
        );
        for (library, values) in figures {
            for &v in *values {
                row.record(*library, Ok(sample(v)));
            }
        }
        row
    }

    #[test]
    fn samples_from_a_run() {
        let thr = Sample::new(Kind::Throughput, 64, 1_000_000, 0.5, 1.0);
        assert_eq!(thr.value, 2_000_000.0);
        assert_eq!(thr.mb_per_s, 128.0);
        assert_eq!(thr.cpu_ns, 1000.0);
        let lat = Sample::new(Kind::Latency, 1, 10_000, 0.5, 0.1);
        assert_eq!(lat.value, 25.0);
    }

    #[test]
    fn small_messages_need_both_ratios() {
        let mut r = row(
            Kind::Throughput,
            64,
            &[
                (Library::Oxmq, &[15.0, 16.0, 14.0]),
                (Library::Libzmq, &[10.0, 9.0, 11.0]),
            ],
        );
        assert_eq!(r.vs_libzmq(), Some(1.5));
        assert_eq!(r.vs_peer(), None);
        assert_eq!(r.meets_bar(), Some(true));
        if cfg!(feature = "peers") {
            r.libraries.push(Library::Omq);
            r.results.push(Results {
                library: Library::Omq,
                samples: vec![sample(13.0)],
                failures: vec![],
            });
            assert_eq!(r.best_peer().map(|(l, _)| l), Some(Library::Omq));
            // 15 / 13 < 1.2
            assert_eq!(r.meets_bar(), Some(false));
        }
        assert!((r.steadiness(Library::Oxmq).unwrap() - 14.0 / 15.0).abs() < 1e-9);
    }

    #[test]
    fn latency_prefers_the_lower_figure() {
        let r = row(
            Kind::Latency,
            1,
            &[
                (Library::Oxmq, &[30.0, 31.0, 29.0]),
                (Library::Libzmq, &[40.0, 60.0]),
            ],
        );
        assert_eq!(r.meets_bar(), Some(true));
        // The slowest libzmq run took 60 against a median of 50.
        assert!((r.steadiness(Library::Libzmq).unwrap() - 50.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn large_messages_against_the_raw_stream() {
        let r = row(
            Kind::Throughput,
            65536,
            &[
                (Library::Oxmq, &[3000e6]),
                (Library::Libzmq, &[1000e6]),
                (Library::Raw(65536), &[2000e6]),
                (Library::Raw(1 << 20), &[4000e6]),
            ],
        );
        assert_eq!(r.raw_best_mb().map(|(l, _)| l), Some(Library::Raw(1 << 20)));
        assert_eq!(r.vs_raw(), Some(0.75));
        assert_eq!(r.meets_bar(), Some(false));
        let json = r.to_json();
        for field in [
            "\"kind\":\"throughput\"",
            "\"size\":65536",
            "\"raw_best\":\"raw-1m\"",
            "\"vs_raw\":0.7500",
            "\"meets_bar\":false",
            "\"oxmq\":{\"median\":3000000000.0000",
        ] {
            assert!(json.contains(field), "{json} lacks {field}");
        }
    }

    #[test]
    fn failures_are_kept_and_shown() {
        let mut r = row(Kind::Throughput, 1, &[(Library::Oxmq, &[1.0])]);
        r.record(Library::Oxmq, Err("timed out".into()));
        assert_eq!(cell(&r, Library::Oxmq), "0.00 M!");
        assert!(r.to_json().contains("\"failed\":1"));
    }

    #[test]
    fn sizes() {
        assert_eq!(short_size(65536), "64k");
        assert_eq!(short_size(1 << 20), "1m");
        assert_eq!(human_size(1024), "1 KiB");
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
