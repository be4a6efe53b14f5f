//! Benchmark workloads: PUSH/PULL throughput and PAIR round-trip latency.
//!
//! The workloads are written once, against [`Driver`], so that the side-by-side benchmark runs
//! oxmq and libzmq through exactly the same code with the same settings. Sender and receiver run
//! on two threads with a context each (like two processes, one I/O thread each), except over
//! inproc, where both sockets must share a context.

use std::time::{Duration, Instant};

/// The transports a benchmark can run over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `inproc://`
    Inproc,
    /// `ipc://` (a Linux abstract name)
    Ipc,
    /// `tcp://127.0.0.1`
    Tcp,
}

impl Transport {
    /// All transports, in the order the table shows them.
    pub const ALL: [Transport; 3] = [Transport::Inproc, Transport::Ipc, Transport::Tcp];

    /// The transport's name (`inproc`, `ipc`, `tcp`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Inproc => "inproc",
            Transport::Ipc => "ipc",
            Transport::Tcp => "tcp",
        }
    }

    /// A fresh endpoint to bind, unique within the process.
    pub fn endpoint(self, tag: &str) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        match self {
            Transport::Inproc => format!("inproc://bench-{tag}-{n}"),
            Transport::Ipc => format!("ipc://@oxmq-bench-{}-{tag}-{n}", std::process::id()),
            Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Transport, String> {
        match text {
            "inproc" => Ok(Transport::Inproc),
            "ipc" => Ok(Transport::Ipc),
            "tcp" => Ok(Transport::Tcp),
            other => Err(format!(
                "unknown transport {other:?} (expected inproc, ipc or tcp)"
            )),
        }
    }
}

/// The socket kinds the workloads use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PUSH
    Push,
    /// PULL
    Pull,
    /// PAIR
    Pair,
}

/// A messaging library under test.
pub trait Driver: Sync {
    /// Its context type.
    type Context: Clone + Send;
    /// Its socket type.
    type Socket: Send;

    /// The library's name for reports.
    fn name(&self) -> &'static str;
    /// A context with one I/O thread.
    fn context(&self) -> Self::Context;
    /// A socket with the benchmark's settings (HWM 1000 both ways, LINGER 0 after the run).
    fn socket(&self, ctx: &Self::Context, kind: Kind) -> Self::Socket;
    /// Binds; returns the endpoint to connect to.
    fn bind(&self, socket: &Self::Socket, endpoint: &str) -> String;
    /// Connects.
    fn connect(&self, socket: &Self::Socket, endpoint: &str);
    /// Sends one single-frame message holding a copy of `data`.
    fn send(&self, socket: &Self::Socket, data: &[u8]);
    /// Receives one message; returns its size.
    fn recv(&self, socket: &Self::Socket) -> usize;
}

/// The high-water mark both drivers set on every socket, both ways (libzmq's default).
pub const HWM: i32 = 1000;

/// oxmq behind the benchmark workloads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Oxmq;

impl Driver for Oxmq {
    type Context = oxmq::Context;
    type Socket = oxmq::Socket;

    fn name(&self) -> &'static str {
        "oxmq"
    }

    fn context(&self) -> oxmq::Context {
        oxmq::Context::with_io_threads(1)
    }

    fn socket(&self, ctx: &oxmq::Context, kind: Kind) -> oxmq::Socket {
        let socket_type = match kind {
            Kind::Push => oxmq::SocketType::Push,
            Kind::Pull => oxmq::SocketType::Pull,
            Kind::Pair => oxmq::SocketType::Pair,
        };
        let socket = ctx.socket(socket_type).expect("create a socket");
        socket.set_sndhwm(HWM).expect("set SNDHWM");
        socket.set_rcvhwm(HWM).expect("set RCVHWM");
        // The workloads only close sockets once every message has arrived, so LINGER 0 set now
        // only matters after the run.
        socket.set_linger(0).expect("set LINGER");
        socket
    }

    fn bind(&self, socket: &oxmq::Socket, endpoint: &str) -> String {
        socket.bind(endpoint).expect("bind");
        socket.last_endpoint()
    }

    fn connect(&self, socket: &oxmq::Socket, endpoint: &str) {
        socket.connect(endpoint).expect("connect");
    }

    fn send(&self, socket: &oxmq::Socket, data: &[u8]) {
        // `&[u8]` becomes a message holding a copy of the bytes.
        socket.send(data).expect("send");
    }

    fn recv(&self, socket: &oxmq::Socket) -> usize {
        socket.recv().expect("recv")[0].len()
    }
}

/// One measured case.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `push-pull` (throughput) or `pair-rtt` (round-trip latency).
    pub pattern: &'static str,
    /// The transport.
    pub transport: Transport,
    /// Message size in bytes.
    pub size: usize,
    /// Messages (throughput) or round trips (latency).
    pub count: u64,
    /// Messages per second (round trips per second for latency).
    pub msgs_per_s: f64,
    /// Megabytes (10^6 bytes) of payload per second.
    pub mb_per_s: f64,
    /// Mean round-trip time in microseconds (latency cases only).
    pub rtt_us: Option<f64>,
}

impl Row {
    /// Mean one-way latency in microseconds: half the round trip, as libzmq's `local_lat` and
    /// `remote_lat` print it (latency cases only).
    pub fn latency_us(&self) -> Option<f64> {
        self.rtt_us.map(|rtt| rtt / 2.0)
    }

    /// The row as one JSON object: `rtt_us` is the round trip, `latency_us` one way (half of it).
    pub fn to_json(&self) -> String {
        let micros = |v: Option<f64>| v.map_or_else(|| "null".to_owned(), |v| format!("{v:.3}"));
        format!(
            "{{\"pattern\":\"{}\",\"transport\":\"{}\",\"size\":{},\"count\":{},\"msgs_per_s\":{:.1},\"mb_per_s\":{:.3},\"rtt_us\":{},\"latency_us\":{}}}",
            self.pattern,
            self.transport.name(),
            self.size,
            self.count,
            self.msgs_per_s,
            self.mb_per_s,
            micros(self.rtt_us),
            micros(self.latency_us())
        )
    }
}

/// Default message counts per size, chosen so that each case runs for about a second or less.
pub fn default_count(pattern: Pattern, size: usize) -> u64 {
    match (pattern, size) {
        (Pattern::Throughput, s) if s <= 256 => 2_000_000,
        (Pattern::Throughput, s) if s <= 4096 => 500_000,
        (Pattern::Throughput, _) => 20_000,
        (Pattern::Latency, s) if s <= 4096 => 20_000,
        (Pattern::Latency, _) => 5_000,
    }
}

/// Which measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// PUSH → PULL throughput.
    Throughput,
    /// PAIR ↔ PAIR round trips.
    Latency,
}

/// The message sizes benchmarked by default.
pub const DEFAULT_SIZES: [usize; 4] = [1, 64, 1024, 65536];

/// One benchmark case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// Throughput or latency.
    pub pattern: Pattern,
    /// The transport.
    pub transport: Transport,
    /// Message size in bytes.
    pub size: usize,
    /// Messages or round trips.
    pub count: u64,
}

/// The flags that pick benchmark cases, shared by `oxmq bench` and `vs-libzmq`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CaseArgs {
    /// Only this transport (inproc, ipc, tcp); repeat for several.
    #[arg(long)]
    pub transport: Vec<Transport>,
    /// Only this message size in bytes; repeat for several (default 1, 64, 1024, 65536).
    #[arg(long)]
    pub size: Vec<usize>,
    /// Messages per throughput case and round trips per latency case, at least 1 (default: by
    /// size).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,
    /// Only throughput (`thr`) or only latency (`lat`).
    #[arg(long, value_parser = ["thr", "lat"])]
    pub only: Option<String>,
}

/// Parses a `--count` value: a whole number of at least 1 (a count of 0 would measure nothing).
pub fn parse_count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("the count must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(err) => Err(format!("not a count: {err}")),
    }
}

impl CaseArgs {
    /// The selected cases.
    pub fn cases(&self) -> Vec<Case> {
        select_cases(
            &self.transport,
            &self.size,
            self.only.as_deref(),
            self.count,
        )
    }
}

/// The cases that the `--transport`, `--size`, `--only` (`thr` or `lat`) and `--count` flags
/// select; an empty list or `None` means all (or the default count by size).
pub fn select_cases(
    transports: &[Transport],
    sizes: &[usize],
    only: Option<&str>,
    count: Option<u64>,
) -> Vec<Case> {
    let transports = if transports.is_empty() {
        &Transport::ALL[..]
    } else {
        transports
    };
    let sizes = if sizes.is_empty() {
        &DEFAULT_SIZES[..]
    } else {
        sizes
    };
    let patterns: &[Pattern] = match only {
        Some("thr") => &[Pattern::Throughput],
        Some("lat") => &[Pattern::Latency],
        _ => &[Pattern::Throughput, Pattern::Latency],
    };
    let mut cases = Vec::new();
    for &pattern in patterns {
        for &transport in transports {
            for &size in sizes {
                let count = count.unwrap_or_else(|| default_count(pattern, size));
                cases.push(Case {
                    pattern,
                    transport,
                    size,
                    count,
                });
            }
        }
    }
    cases
}

/// Runs one case.
pub fn run<D: Driver>(
    driver: &D,
    pattern: Pattern,
    transport: Transport,
    size: usize,
    count: u64,
) -> Row {
    match pattern {
        Pattern::Throughput => throughput(driver, transport, size, count),
        Pattern::Latency => latency(driver, transport, size, count),
    }
}

fn contexts<D: Driver>(driver: &D, transport: Transport) -> (D::Context, D::Context) {
    let a = driver.context();
    let b = if transport == Transport::Inproc {
        a.clone()
    } else {
        driver.context()
    };
    (a, b)
}

/// PUSH/PULL throughput: the receiver's clock runs from the first message to the last.
pub fn throughput<D: Driver>(driver: &D, transport: Transport, size: usize, count: u64) -> Row {
    let count = count.max(1);
    let (rx_ctx, tx_ctx) = contexts(driver, transport);
    let pull = driver.socket(&rx_ctx, Kind::Pull);
    let endpoint = driver.bind(&pull, &transport.endpoint("thr"));
    let (elapsed, pull) = std::thread::scope(|scope| {
        let receiver = scope.spawn(move || {
            let first = driver.recv(&pull);
            assert_eq!(first, size, "received a message of the wrong size");
            let start = Instant::now();
            for _ in 1..count {
                driver.recv(&pull);
            }
            (start.elapsed(), pull)
        });
        let push = driver.socket(&tx_ctx, Kind::Push);
        driver.connect(&push, &endpoint);
        let payload = vec![0x5a_u8; size];
        for _ in 0..count {
            driver.send(&push, &payload);
        }
        let elapsed = receiver.join().expect("receiver thread panicked");
        drop(push);
        elapsed
    });
    drop(pull);
    let secs = elapsed.as_secs_f64().max(1e-9);
    // The clock starts at the first message, so it measures count - 1 messages.
    let measured = count.saturating_sub(1).max(1) as f64;
    let msgs_per_s = measured / secs;
    Row {
        pattern: "push-pull",
        transport,
        size,
        count,
        msgs_per_s,
        mb_per_s: msgs_per_s * size as f64 / 1e6,
        rtt_us: None,
    }
}

/// PAIR round trips: one side sends and waits for the echo, `count` times.
pub fn latency<D: Driver>(driver: &D, transport: Transport, size: usize, count: u64) -> Row {
    let count = count.max(1);
    let (a_ctx, b_ctx) = contexts(driver, transport);
    let echo = driver.socket(&a_ctx, Kind::Pair);
    let endpoint = driver.bind(&echo, &transport.endpoint("lat"));
    let (elapsed, echo): (Duration, D::Socket) = std::thread::scope(|scope| {
        let echoer = scope.spawn(move || {
            let payload = vec![0xa5_u8; size];
            for _ in 0..count {
                driver.recv(&echo);
                driver.send(&echo, &payload);
            }
            echo
        });
        let pinger = driver.socket(&b_ctx, Kind::Pair);
        driver.connect(&pinger, &endpoint);
        let payload = vec![0x5a_u8; size];
        // One warm-up round trip so connection setup is not timed.
        driver.send(&pinger, &payload);
        driver.recv(&pinger);
        let start = Instant::now();
        for _ in 1..count {
            driver.send(&pinger, &payload);
            driver.recv(&pinger);
        }
        let elapsed = start.elapsed();
        let echo = echoer.join().expect("echo thread panicked");
        drop(pinger);
        (elapsed, echo)
    });
    drop(echo);
    let round_trips = count.saturating_sub(1).max(1) as f64;
    let secs = elapsed.as_secs_f64().max(1e-9);
    Row {
        pattern: "pair-rtt",
        transport,
        size,
        count,
        msgs_per_s: round_trips / secs,
        mb_per_s: round_trips * size as f64 * 2.0 / secs / 1e6,
        rtt_us: Some(secs * 1e6 / round_trips),
    }
}

/// Formats a count with thousands separators (rounded to a whole number).
pub fn thousands(value: f64) -> String {
    group_digits(&format!("{:.0}", value.max(0.0)))
}

/// Formats an integer with thousands separators: `1,000,000`.
pub fn thousands_u64(value: u64) -> String {
    group_digits(&value.to_string())
}

fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A message size for people: `64 B`, `1 KiB`, `64 KiB`.
pub fn human_size(size: usize) -> String {
    if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// The column titles of [`table`]; the last column is the round trip, not one-way latency.
pub const TABLE_COLUMNS: [&str; 7] = [
    "pattern",
    "transport",
    "size",
    "count",
    "msgs/s",
    "MB/s",
    "round-trip µs",
];

impl Row {
    /// The row's cells under [`TABLE_COLUMNS`].
    fn cells(&self) -> [String; 7] {
        [
            self.pattern.to_owned(),
            self.transport.name().to_owned(),
            human_size(self.size),
            thousands_u64(self.count),
            thousands(self.msgs_per_s),
            format!("{:.1}", self.mb_per_s),
            self.rtt_us
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
        ]
    }
}

/// The results as a table: a header line, then one line per row, every column as wide as its
/// widest cell (text columns left-aligned, numbers right-aligned), without trailing spaces.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 7]> = rows.iter().map(Row::cells).collect();
    let header = TABLE_COLUMNS.map(str::to_owned);
    let mut widths = [0usize; 7];
    for line in std::iter::once(&header).chain(&cells) {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&cells) {
        let mut text = String::new();
        for (column, (cell, &width)) in line.iter().zip(&widths).enumerate() {
            if column > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(width - cell.chars().count());
            if column < 2 {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_contract_fields() {
        let row = Row {
            pattern: "push-pull",
            transport: Transport::Tcp,
            size: 64,
            count: 10,
            msgs_per_s: 100.0,
            mb_per_s: 0.0064,
            rtt_us: None,
        };
        let json = row.to_json();
        for field in [
            "\"pattern\":",
            "\"transport\":",
            "\"size\":",
            "\"count\":",
            "\"msgs_per_s\":",
            "\"mb_per_s\":",
            "\"rtt_us\":null",
            "\"latency_us\":null",
        ] {
            assert!(json.contains(field), "{json} lacks {field}");
        }
        let lat = Row {
            pattern: "pair-rtt",
            rtt_us: Some(50.0),
            ..row
        };
        let json = lat.to_json();
        assert!(json.contains("\"rtt_us\":50.000"), "{json}");
        assert!(json.contains("\"latency_us\":25.000"), "{json}");
    }

    #[test]
    fn table_columns_line_up() {
        let rows = [
            Row {
                pattern: "push-pull",
                transport: Transport::Inproc,
                size: 65536,
                count: 2_000_000,
                msgs_per_s: 12_345_678.0,
                mb_per_s: 1234.5,
                rtt_us: None,
            },
            Row {
                pattern: "pair-rtt",
                transport: Transport::Tcp,
                size: 1,
                count: 500,
                msgs_per_s: 10_000.0,
                mb_per_s: 0.02,
                rtt_us: Some(83.94),
            },
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("round-trip µs"), "{text}");
        assert!(lines[1].contains("2,000,000"), "{text}");
        // Right-aligned columns end where their header ends; left-aligned ones start with it.
        let end_of = |line: &str, word: &str| {
            line.find(word)
                .map(|i| line[..i + word.len()].chars().count())
        };
        for (title, cell) in [
            ("count", "2,000,000"),
            ("msgs/s", "12,345,678"),
            ("MB/s", "1234.5"),
        ] {
            assert_eq!(end_of(lines[0], title), end_of(lines[1], cell), "{text}");
        }
        assert_eq!(end_of(lines[0], "count"), end_of(lines[2], "500"), "{text}");
        assert_eq!(end_of(lines[0], "µs"), end_of(lines[2], "83.9"), "{text}");
        assert_eq!(lines[0].find("transport"), lines[2].find("tcp"), "{text}");
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text}");
    }

    #[test]
    fn counts_are_positive() {
        assert_eq!(parse_count("1"), Ok(1));
        assert_eq!(parse_count("1000000"), Ok(1_000_000));
        assert!(parse_count("0").unwrap_err().contains("at least 1"));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("x").is_err());
    }

    #[test]
    fn number_formatting() {
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands_u64(1_000_000), "1,000,000");
        assert_eq!(thousands_u64(0), "0");
        assert_eq!(human_size(65536), "64 KiB");
        assert_eq!(human_size(64), "64 B");
    }
}
