//! `vs-peers`: oxmq beside libzmq, the pure-Rust ZeroMQs (omq-tokio, rzmq, zeromq) and a raw
//! stream socket, on the same workloads in one run, sender and receiver in separate processes.
//!
//! Every run starts fresh worker processes of this same binary (`vs-peers worker ...`), one
//! library each, so that no two libraries share a process or an allocator: the binding side
//! first (it says `READY` once it listens), then the connecting side. Inproc runs both sides
//! as two threads of one worker. Repetitions are interleaved (each rep rotates the order of the
//! libraries) and the tables show medians, the ratios the performance issue sets bars on, the
//! CPU time both processes spent per message, and how far the slowest run fell below the
//! median.
//!
//! ```text
//! cargo build --release -p oxmq-bench --features peers
//! target/release/vs-peers --reps 3 --markdown
//! ```

mod fan_out;
mod libzmq;
#[cfg(feature = "peers")]
mod omq;
mod oxmq;
#[cfg(feature = "peers")]
mod oxmq_async;
mod raw;
mod report;
#[cfg(feature = "peers")]
mod runtime;
#[cfg(feature = "peers")]
mod rzmq;
mod worker;
#[cfg(feature = "peers")]
mod zeromq;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use report::{Kind, Row, Sample};
use worker::{Job, Role};

/// One implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Library {
    Oxmq,
    /// oxmq's async API on one current-thread tokio runtime (not in the default set).
    OxmqAsync,
    Libzmq,
    /// omq-tokio with its own I/O thread, blocking API.
    Omq,
    /// omq-tokio on one current-thread runtime.
    OmqCt,
    /// rzmq on a multi-thread runtime with one worker.
    Rzmq,
    /// rzmq on one current-thread runtime.
    RzmqCt,
    /// zeromq (zmq.rs) on tokio's default multi-thread runtime.
    Zeromq,
    /// zeromq on one current-thread runtime.
    ZeromqCt,
    /// A plain stream socket; for throughput, writes of this many bytes.
    Raw(usize),
}

/// The write sizes the raw stream is measured with beside the 64 KiB rows.
const RAW_WRITES: [usize; 3] = [64 << 10, 256 << 10, 1 << 20];

impl Library {
    /// Every library this build has, raw writes of 64 KiB first among the raw ones.
    fn available() -> Vec<Library> {
        let mut all = vec![Library::Oxmq, Library::Libzmq];
        if cfg!(feature = "peers") {
            all.extend([
                Library::OxmqAsync,
                Library::Omq,
                Library::OmqCt,
                Library::Rzmq,
                Library::RzmqCt,
                Library::Zeromq,
                Library::ZeromqCt,
            ]);
        }
        all.extend(RAW_WRITES.map(Library::Raw));
        all
    }

    fn name(self) -> String {
        match self {
            Library::Oxmq => "oxmq".into(),
            Library::OxmqAsync => "oxmq-async".into(),
            Library::Libzmq => "libzmq".into(),
            Library::Omq => "omq-tokio".into(),
            Library::OmqCt => "omq-tokio-ct".into(),
            Library::Rzmq => "rzmq".into(),
            Library::RzmqCt => "rzmq-ct".into(),
            Library::Zeromq => "zeromq".into(),
            Library::ZeromqCt => "zeromq-ct".into(),
            Library::Raw(write) => format!("raw-{}", report::short_size(write)),
        }
    }

    fn parse(name: &str) -> Option<Library> {
        Library::available().into_iter().find(|l| l.name() == name)
    }

    /// A pure-Rust ZeroMQ: the peers oxmq's bar compares with.
    fn is_peer(self) -> bool {
        !matches!(
            self,
            Library::Oxmq | Library::OxmqAsync | Library::Libzmq | Library::Raw(_)
        )
    }

    /// Run when `--libraries` names none: all but oxmq's async API, which is compared on
    /// request (`--libraries oxmq,oxmq-async,omq-tokio-ct,zeromq-ct`).
    fn default_set() -> Vec<Library> {
        Library::available()
            .into_iter()
            .filter(|l| *l != Library::OxmqAsync)
            .collect()
    }

    fn has_inproc(self) -> bool {
        !matches!(self, Library::Zeromq | Library::ZeromqCt | Library::Raw(_))
    }

    /// Runs a worker's job in this process.
    fn run(self, job: &Job) -> Option<Duration> {
        if matches!(job.role, Role::Publish | Role::Subscribe) {
            return fan_out::run(self, job);
        }
        match self {
            Library::Oxmq => oxmq::run(job),
            Library::Libzmq => libzmq::run(job),
            Library::Raw(_) => raw::run(job),
            #[cfg(feature = "peers")]
            Library::OxmqAsync => oxmq_async::run(job),
            #[cfg(feature = "peers")]
            Library::Omq => omq::run(job, runtime::Flavor::OneWorker),
            #[cfg(feature = "peers")]
            Library::OmqCt => omq::run(job, runtime::Flavor::CurrentThread),
            #[cfg(feature = "peers")]
            Library::Rzmq => rzmq::run(job, runtime::Flavor::OneWorker),
            #[cfg(feature = "peers")]
            Library::RzmqCt => rzmq::run(job, runtime::Flavor::CurrentThread),
            #[cfg(feature = "peers")]
            Library::Zeromq => zeromq::run(job, runtime::Flavor::MultiThread),
            #[cfg(feature = "peers")]
            Library::ZeromqCt => zeromq::run(job, runtime::Flavor::CurrentThread),
            #[cfg(not(feature = "peers"))]
            _ => panic!("{} needs `--features peers`", self.name()),
        }
    }
}

#[derive(Parser)]
#[command(
    name = "vs-peers",
    about = "oxmq beside libzmq, omq-tokio, rzmq, zeromq and a raw stream socket: the same \
             workloads in one run, each side in a process of its own"
)]
struct Cli {
    #[command(subcommand)]
    worker: Option<WorkerCommand>,
    /// Libraries to run, comma-separated (default: every one this build has but
    /// `oxmq-async`, oxmq's async API; it and the pure-Rust peers need `--features peers`).
    #[arg(long, value_delimiter = ',')]
    libraries: Vec<String>,
    /// Transports: tcp, ipc, inproc.
    #[arg(long, value_delimiter = ',', default_values_t = ["tcp".to_owned(), "ipc".to_owned(), "inproc".to_owned()])]
    transports: Vec<String>,
    /// Throughput message sizes in bytes (64 KiB and up are not run over inproc).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 64, 1024, 65536])]
    sizes: Vec<usize>,
    /// Latency message sizes in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 1024])]
    latency_sizes: Vec<usize>,
    /// Skip the throughput rows.
    #[arg(long)]
    no_throughput: bool,
    /// Skip the latency rows.
    #[arg(long)]
    no_latency: bool,
    /// Skip the latency rows with both processes pinned to one CPU.
    #[arg(long)]
    no_pinned: bool,
    /// Messages per throughput run (default: by size, 2,000,000 up to 64 B, 500,000 up to
    /// 1 KiB, 30,000 from 64 KiB).
    #[arg(long)]
    count: Option<u64>,
    /// Round trips per latency run.
    #[arg(long, default_value_t = 10_000)]
    round_trips: u64,
    /// Runs of each library per row, interleaved.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Instead of the workloads: the memory one socket holds per idle connection, with this
    /// many tcp connections (oxmq and libzmq).
    #[arg(long)]
    idle_connections: Option<u64>,
    /// Instead of the workloads: PUB/SUB fan-out to each of these numbers of subscribers, the
    /// PUB and the SUBs in separate processes, over tcp and ipc (oxmq and libzmq).
    #[arg(long, value_delimiter = ',')]
    fan_out: Vec<usize>,
    /// Print Markdown tables.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Print one JSON object per row.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum WorkerCommand {
    /// One side of one run (started by `vs-peers` itself).
    #[command(hide = true)]
    Worker {
        library: String,
        role: String,
        endpoint: String,
        size: usize,
        count: u64,
        /// Pin this process to one CPU.
        #[arg(long)]
        cpu: Option<usize>,
        /// SUB sockets of a `subscribe` worker.
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
    },
}

fn worker_main(
    library: &str,
    role: &str,
    endpoint: String,
    size: usize,
    count: u64,
    cpu: Option<usize>,
    subscribers: usize,
) {
    let Some(library) = Library::parse(library) else {
        eprintln!("vs-peers worker: no library {library} in this build");
        std::process::exit(2);
    };
    let Some(role) = Role::parse(role) else {
        eprintln!("vs-peers worker: no role {role}");
        std::process::exit(2);
    };
    if let Some(cpu) = cpu {
        worker::pin_to_cpu(cpu).expect("pin to a CPU");
    }
    let job = Job {
        role,
        endpoint,
        size,
        count,
        subscribers,
    };
    if let Some(time) = library.run(&job) {
        println!("RESULT {}", time.as_secs_f64());
    }
}

/// The default number of messages per throughput run for `size`.
fn default_count(size: usize) -> u64 {
    match size {
        0..=64 => 2_000_000,
        65..=1024 => 500_000,
        1025..=16384 => 100_000,
        _ => 30_000,
    }
}

/// What a ZeroMQ sender sends beyond its receiver's count (see `run_once`): 1 %, at least
/// 1,000 messages and at least 1 MiB of frames (a short frame has a 2-byte header).
fn extra_messages(count: u64, size: usize) -> u64 {
    let buffers = (1u64 << 20).div_ceil(size as u64 + 2);
    (count / 100).max(1000).max(buffers)
}

/// How long one run may take before its workers are killed and the run counts as failed.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// How long the side of a run that does not measure may take to end after the one that does
/// (a sender whose extra messages wait at the high-water mark for a receiver that is gone
/// never ends by itself).
const OTHER_SIDE_GRACE: Duration = Duration::from_millis(500);

/// User + system CPU seconds of the children this process has waited for.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A worker process and the lines it printed.
struct Worker {
    child: Child,
    out: BufReader<ChildStdout>,
    /// A publisher's stdin, on which the runner tells it to start (see `fan_out`).
    input: Option<ChildStdin>,
}

impl Worker {
    fn start(library: Library, job: &Job, cpu: Option<usize>) -> std::io::Result<Worker> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("worker")
            .arg(library.name())
            .arg(job.role.name())
            .arg(&job.endpoint)
            .arg(job.size.to_string())
            .arg(job.count.to_string())
            .stdin(if job.role == Role::Publish {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(cpu) = cpu {
            command.arg("--cpu").arg(cpu.to_string());
        }
        if job.subscribers != 1 {
            command
                .arg("--subscribers")
                .arg(job.subscribers.to_string());
        }
        let mut child = command.spawn()?;
        let out = BufReader::new(child.stdout.take().expect("a piped stdout"));
        let input = child.stdin.take();
        Ok(Worker { child, out, input })
    }

    /// Reads lines until `READY`; false when the worker ended first.
    fn wait_ready(&mut self) -> bool {
        self.wait_ready_keeping(&mut Vec::new())
    }

    /// [`wait_ready`](Self::wait_ready), keeping the lines before `READY`.
    fn wait_ready_keeping(&mut self, lines: &mut Vec<String>) -> bool {
        self.wait_for("READY", lines)
    }

    /// Reads lines until one is `word`, keeping those before it; false when the worker ended
    /// first.
    fn wait_for(&mut self, word: &str, lines: &mut Vec<String>) -> bool {
        let mut line = String::new();
        loop {
            line.clear();
            match self.out.read_line(&mut line) {
                Ok(0) | Err(_) => return false,
                Ok(_) if line.trim() == word => return true,
                Ok(_) => lines.push(line.trim().to_owned()),
            }
        }
    }

    /// Writes a line to the worker's stdin (a publisher's; see `fan_out`).
    fn say(&mut self, line: &str) {
        if let Some(input) = &mut self.input {
            let _ = writeln!(input, "{line}");
            let _ = input.flush();
        }
    }

    /// Closes the worker's stdin: a publisher then ends.
    fn close_stdin(&mut self) {
        self.input = None;
    }

    /// Waits for the worker to exit (killing it at `deadline`); its `RESULT` in seconds, if
    /// it printed one and exited cleanly.
    fn finish(self, deadline: Instant) -> Result<Option<f64>, String> {
        self.finish_with_output(deadline).map(|(result, _)| result)
    }

    /// [`finish`](Self::finish), with the rest of what the worker printed.
    fn finish_with_output(mut self, deadline: Instant) -> Result<(Option<f64>, String), String> {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("timed out".into());
                }
            }
        };
        let mut rest = String::new();
        let _ = self.out.read_to_string(&mut rest);
        if !status.success() {
            return Err(format!("exited with {status}"));
        }
        let result = rest
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .and_then(|v| v.trim().parse().ok());
        Ok((result, rest))
    }
}

/// A fresh endpoint for one run.
fn endpoint(transport: &str, run: u64) -> String {
    match transport {
        "tcp" => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            format!("tcp://{}", listener.local_addr().expect("its address"))
        }
        "ipc" => format!(
            "ipc://{}/vs-peers-{}-{run}.sock",
            std::env::temp_dir().display(),
            std::process::id()
        ),
        _ => format!("inproc://vs-peers-{run}"),
    }
}

/// One run of `library` on `row`: its figure and the CPU both processes spent.
fn run_once(library: Library, row: &Row, run: u64) -> Result<Sample, String> {
    let endpoint = endpoint(&row.transport, run);
    let (size, count) = match (row.kind, library) {
        // The raw stream moves the same bytes in writes of its own size.
        (Kind::Throughput, Library::Raw(write)) => {
            (write, (row.size as u64 * row.count).div_ceil(write as u64))
        }
        _ => (row.size, row.count),
    };
    let job = |role, count| Job {
        role,
        endpoint: endpoint.clone(),
        size,
        count,
        subscribers: 1,
    };
    let cpu = row.pinned.then_some(0);
    let deadline = Instant::now() + RUN_LIMIT;
    let cpu_before = children_cpu();
    let seconds = if row.transport == "inproc" {
        let role = match row.kind {
            Kind::Throughput => Role::InprocThr,
            Kind::Latency => Role::InprocLat,
        };
        let worker = Worker::start(library, &job(role, count), cpu).map_err(|e| e.to_string())?;
        worker.finish(deadline)?
    } else {
        let (bind, connect) = match row.kind {
            Kind::Throughput => (Role::Recv, Role::Send),
            Kind::Latency => (Role::Echo, Role::Ping),
        };
        // libzmq 4.3 can lose the tail of an ipc stream when its sender closes (libzmq issue
        // 4660), and its receiver would then wait for ever: what is lost can be as much as the
        // kernel's socket buffer holds (about 70,000 one-byte messages; 1 % more was not
        // enough: 4 of 12 runs at 1 B hung). A ZeroMQ sender therefore sends 1 %, and at least
        // 1 MiB of frames, more than the receiver counts (every library alike), and is stopped
        // once the receiver has its count; past the buffers, those extra messages wait at the
        // high-water mark and cost no CPU. The raw stream sends exactly what its receiver reads.
        let sent = match (row.kind, library) {
            (Kind::Throughput, Library::Raw(_)) | (Kind::Latency, _) => count,
            (Kind::Throughput, _) => count + extra_messages(count, size),
        };
        let mut binder =
            Worker::start(library, &job(bind, count), cpu).map_err(|e| e.to_string())?;
        if !binder.wait_ready() {
            let _ = binder.finish(deadline);
            return Err("the binding side failed".into());
        }
        let connector =
            Worker::start(library, &job(connect, sent), cpu).map_err(|e| e.to_string())?;
        let (measuring, other) = match row.kind {
            Kind::Throughput => (binder, connector),
            Kind::Latency => (connector, binder),
        };
        let seconds = measuring.finish(deadline);
        // The other side is done too, or about to be (a sender whose extra messages have
        // nowhere to go is stopped); how it ends does not change the figure.
        let _ = other.finish(Instant::now() + OTHER_SIDE_GRACE);
        if let Some(path) = endpoint.strip_prefix("ipc://") {
            let _ = std::fs::remove_file(path);
        }
        seconds?
    };
    let cpu = children_cpu() - cpu_before;
    let seconds = seconds.ok_or("no result printed")?;
    Ok(Sample::new(row.kind, size, count, seconds, cpu))
}

/// One idle-connections run: the binding process's resident bytes before and after `n`
/// connections, and the seconds until a message had come through each.
fn idle_once(library: Library, n: u64, run: u64) -> Result<(u64, u64, f64), String> {
    let endpoint = endpoint("tcp", run);
    let job = |role| Job {
        role,
        endpoint: endpoint.clone(),
        size: 1,
        count: n,
        subscribers: 1,
    };
    let deadline = Instant::now() + RUN_LIMIT;
    let mut holder = Worker::start(library, &job(Role::Hold), None).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    if !holder.wait_ready_keeping(&mut lines) {
        let _ = holder.finish(deadline);
        return Err("the binding side failed".into());
    }
    let dialer = Worker::start(library, &job(Role::Dial), None).map_err(|e| e.to_string())?;
    let (seconds, rest) = holder.finish_with_output(deadline)?;
    let _ = dialer.finish(Instant::now() + OTHER_SIDE_GRACE);
    lines.extend(rest.lines().map(str::to_owned));
    let value = |key: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("no {key}line"))
    };
    Ok((
        value("RSS_BEFORE ")?,
        value("RSS_AFTER ")?,
        seconds.ok_or("no result printed")?,
    ))
}

/// Measures and prints the memory per idle connection of each library.
fn idle_connections(n: u64, libraries: &[Library], reps: u32, json: bool) {
    if !json {
        println!(
            "Idle connections: one PULL socket bound on tcp holding {n} connections from one PUSH \
         socket in another process, a message through each; resident memory of the binding \
         process (medians of {reps})"
        );
        println!(
            "{:<10} {:>14} {:>14} {:>16} {:>12}",
            "library", "RSS before", "RSS after", "bytes/connection", "seconds"
        );
    }
    let mut run = 0;
    for &library in libraries {
        let mut per = Vec::new();
        let mut befores = Vec::new();
        let mut afters = Vec::new();
        let mut times = Vec::new();
        for _ in 0..reps {
            run += 1;
            match idle_once(library, n, run) {
                Ok((before, after, secs)) => {
                    befores.push(before as f64);
                    afters.push(after as f64);
                    per.push(after.saturating_sub(before) as f64 / n as f64);
                    times.push(secs);
                }
                Err(why) => eprintln!("vs-peers: {} idle connections: {why}", library.name()),
            }
        }
        let med = oxmq_bench::median;
        if json {
            println!(
                "{{\"kind\":\"idle-connections\",\"library\":\"{}\",\"connections\":{n},\"rss_before\":{:.0},\"rss_after\":{:.0},\"bytes_per_connection\":{:.0},\"seconds\":{:.3},\"runs\":{}}}",
                library.name(),
                med(&befores),
                med(&afters),
                med(&per),
                med(&times),
                per.len()
            );
        } else {
            println!(
                "{:<10} {:>14.0} {:>14.0} {:>16.0} {:>12.2}",
                library.name(),
                med(&befores),
                med(&afters),
                med(&per),
                med(&times)
            );
        }
    }
}

/// The rows of a run, in order.
fn plan(cli: &Cli, libraries: &[Library]) -> Vec<Row> {
    // The libraries of a row: the ZeroMQs with the transport, and the raw stream on tcp and
    // ipc where it says something (the ceiling of the large-message rows, in each of its
    // write sizes; the floor of the latency rows, once).
    let of_row = |transport: &str, raw: &dyn Fn(usize) -> bool| -> Vec<Library> {
        libraries
            .iter()
            .copied()
            .filter(|l| match l {
                Library::Raw(write) => transport != "inproc" && raw(*write),
                l => transport != "inproc" || l.has_inproc(),
            })
            .collect()
    };
    let mut rows = Vec::new();
    if !cli.no_throughput {
        for transport in &cli.transports {
            for &size in &cli.sizes {
                if transport == "inproc" && size >= 65536 {
                    continue;
                }
                let count = cli.count.unwrap_or_else(|| default_count(size));
                let libraries = of_row(transport, &|_| size >= 65536);
                rows.push(Row::new(
                    Kind::Throughput,
                    transport,
                    size,
                    false,
                    count,
                    libraries,
                ));
            }
        }
    }
    if !cli.no_latency {
        for pinned in [false, true] {
            if pinned && cli.no_pinned {
                continue;
            }
            for transport in &cli.transports {
                for &size in &cli.latency_sizes {
                    let libraries = of_row(transport, &|write| write == RAW_WRITES[0]);
                    rows.push(Row::new(
                        Kind::Latency,
                        transport,
                        size,
                        pinned,
                        cli.round_trips,
                        libraries,
                    ));
                }
            }
        }
    }
    rows
}

fn main() {
    let cli = Cli::parse();
    if let Some(WorkerCommand::Worker {
        library,
        role,
        endpoint,
        size,
        count,
        cpu,
        subscribers,
    }) = cli.worker
    {
        worker_main(&library, &role, endpoint, size, count, cpu, subscribers);
        return;
    }
    let libraries: Vec<Library> = if cli.libraries.is_empty() {
        Library::default_set()
    } else {
        let mut chosen = Vec::new();
        for name in &cli.libraries {
            match Library::parse(name) {
                Some(l) => chosen.push(l),
                None => {
                    let names: Vec<String> =
                        Library::available().iter().map(|l| l.name()).collect();
                    eprintln!(
                        "vs-peers: no library {name} in this build (have: {}; the pure-Rust peers need --features peers)",
                        names.join(", ")
                    );
                    std::process::exit(2);
                }
            }
        }
        chosen
    };
    for transport in &cli.transports {
        if !["tcp", "ipc", "inproc"].contains(&transport.as_str()) {
            eprintln!("vs-peers: no transport {transport} (tcp, ipc, inproc)");
            std::process::exit(2);
        }
    }
    if let Some(n) = cli.idle_connections {
        let libraries: Vec<Library> = libraries
            .into_iter()
            .filter(|l| matches!(l, Library::Oxmq | Library::Libzmq))
            .collect();
        idle_connections(n, &libraries, cli.reps, cli.json);
        return;
    }
    if !cli.fan_out.is_empty() {
        fan_out::measure(
            &cli.fan_out,
            &cli.transports,
            &libraries,
            cli.reps,
            cli.json,
            cli.markdown,
        );
        return;
    }
    let mut rows = plan(&cli, &libraries);
    let total = rows.len();
    eprintln!(
        "vs-peers: {total} rows x {} reps; libraries: {}",
        cli.reps,
        libraries
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut run = 0u64;
    for (i, row) in rows.iter_mut().enumerate() {
        for rep in 0..cli.reps {
            eprint!(
                "[{}/{total}] {} rep {}/{}:",
                i + 1,
                row.label(),
                rep + 1,
                cli.reps
            );
            let n = row.libraries.len();
            for k in 0..n {
                let library = row.libraries[(k + rep as usize) % n];
                run += 1;
                match run_once(library, row, run) {
                    Ok(sample) => {
                        eprint!(" {} {}", library.name(), sample.show(row.kind, row.size));
                        row.record(library, Ok(sample));
                    }
                    Err(why) => {
                        eprint!(" {} FAILED ({why})", library.name());
                        row.record(library, Err(why));
                    }
                }
            }
            eprintln!();
        }
        if cli.json {
            println!("{}", row.to_json());
        }
    }
    if cli.markdown {
        report::print(&rows, true);
    } else if !cli.json {
        report::print(&rows, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_messages_cover_a_socket_buffer() {
        // 1 B: a mebibyte of 3-byte frames, far more than 1 %.
        assert_eq!(extra_messages(2_000_000, 1), 349_526);
        // 64 KiB: 1,000 messages, more than a mebibyte and 1 % of 30,000.
        assert_eq!(extra_messages(30_000, 65536), 1000);
        // Many messages: 1 %.
        assert_eq!(extra_messages(1_000_000_000, 1024), 10_000_000);
    }

    #[test]
    fn libraries_parse_by_name() {
        for library in Library::available() {
            assert_eq!(Library::parse(&library.name()), Some(library));
        }
        assert_eq!(Library::parse("raw-64k"), Some(Library::Raw(65536)));
        assert_eq!(Library::parse("zmq"), None);
    }
}
