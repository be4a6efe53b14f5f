//! `oxmq`: benchmark oxmq, and send or receive messages from the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use oxmq::{Context, Message, SocketType};
use oxmq_cli::bench::{self, Driver, Oxmq};
use oxmq_cli::endpoint::{self, Use};
use oxmq_cli::{direction, text};

/// What the exit status means, for `--help`.
const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  sending or receiving failed (e.g. --timeout expired)
  2  bad command line: unknown or unsupported socket type, a type that cannot send (send) or
     receive (recv), a bad endpoint, a bind or connect that failed";

#[derive(Parser)]
#[command(
    name = "oxmq",
    version,
    about = "ZeroMQ in Rust: benchmarks and command-line messaging",
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Throughput and round-trip latency over inproc, ipc and tcp: PUSH/PULL and PAIR by default;
    /// DEALER/ROUTER, REQ/REP, PUB/SUB fan-out and subscription matching with --pattern.
    Bench(BenchArgs),
    /// Receive messages and print one per line (frames separated by a tab).
    #[command(after_help = EXIT_STATUS)]
    Recv(RecvArgs),
    /// Send one message made of the FRAME arguments, or one per line of standard input.
    #[command(after_help = EXIT_STATUS)]
    Send(SendArgs),
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    cases: bench::CaseArgs,
    /// Print one JSON object per result instead of a table.
    #[arg(long)]
    json: bool,
}

/// The flags `send` and `recv` share.
#[derive(Args)]
struct SocketArgs {
    /// Socket type: pair, pub, sub, xpub, xsub, req, rep, dealer, router, push, pull, stream.
    #[arg(value_name = "TYPE")]
    socket_type: String,
    /// Bind to ENDPOINT (tcp://HOST:PORT, ipc://PATH, inproc://NAME); repeat for several.
    #[arg(long, value_name = "ENDPOINT")]
    bind: Vec<String>,
    /// Connect to ENDPOINT; repeat for several.
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// Stop after N messages (recv), or send the message N times (send); N is at least 1.
    #[arg(long, value_name = "N", value_parser = bench::parse_count)]
    count: Option<u64>,
    /// Give up (exit status 1) when no message arrives within MS milliseconds (recv: RCVTIMEO),
    /// or when no connected peer takes a message within MS (send: SNDTIMEO, with IMMEDIATE so
    /// messages wait only for peers that are there).
    #[arg(long, value_name = "MS", value_parser = parse_millis)]
    timeout: Option<i32>,
}

#[derive(Args)]
struct RecvArgs {
    #[command(flatten)]
    socket: SocketArgs,
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// At exit, wait at most MS milliseconds for queued messages to go out, then drop them
    /// (LINGER; default: wait until every message is out).
    #[arg(long, value_name = "MS", value_parser = parse_millis)]
    linger: Option<i32>,
    /// The frames of the message to send.
    #[arg(value_name = "FRAME")]
    frames: Vec<String>,
}

/// Parses milliseconds for an option: 0 to 2147483647.
fn parse_millis(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|&ms| ms >= 0)
        .ok_or_else(|| format!("expected milliseconds from 0 to {}", i32::MAX))
}

/// A failure that ends the command with a one-line error.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

/// Sends oxmq's log (dropped connections and why) to standard error, at the level named by
/// `OXMQ_LOG` (`error`, `warn`, `info`, `debug`, `trace`, `off`; default `warn`).
fn init_logging() {
    let level = match std::env::var("OXMQ_LOG")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Ok("off") => return,
        Ok("error") => tracing_subscriber::filter::LevelFilter::ERROR,
        Ok("info") => tracing_subscriber::filter::LevelFilter::INFO,
        Ok("debug") => tracing_subscriber::filter::LevelFilter::DEBUG,
        Ok("trace") => tracing_subscriber::filter::LevelFilter::TRACE,
        _ => tracing_subscriber::filter::LevelFilter::WARN,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => run_bench(args),
        Command::Recv(args) => run_recv(args),
        Command::Send(args) => run_send(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("oxmq: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run_bench(args: BenchArgs) -> Result<(), Failure> {
    let mut cases = args.cases.cases();
    // Workloads whose sockets this version of oxmq does not have yet: an error when named, left
    // out with a note under `--pattern all`.
    let mut missing: Vec<bench::Workload> = Vec::new();
    for case in &cases {
        let workload = case.pattern.workload();
        if !missing.contains(&workload) && !case.pattern.kinds().iter().all(|&k| Oxmq.supports(k)) {
            missing.push(workload);
        }
    }
    for workload in &missing {
        let kinds = workload_sockets(*workload);
        if args.cases.pattern.contains(workload) {
            return Err(Failure::usage(format!(
                "{} needs {kinds} sockets, which this version of oxmq does not have yet",
                workload.name()
            )));
        }
        eprintln!(
            "oxmq bench: leaving out {} ({kinds} sockets are not in this version of oxmq yet)",
            workload.name()
        );
    }
    cases.retain(|case| !missing.contains(&case.pattern.workload()));
    // A progress line rewritten in place (escape codes) on a terminal; plain lines otherwise,
    // so logs and pipes get no control characters.
    let progress = std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    let stdout = std::io::stdout();
    for (i, case) in cases.iter().enumerate() {
        let line = format!("[{}/{}] {} ...", i + 1, cases.len(), case.label());
        if progress {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
        let row = case.run(&Oxmq);
        if args.json {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{}", row.to_json());
            let _ = out.flush();
        }
        rows.push(row);
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    for (case, row) in cases.iter().zip(&rows) {
        if let Some(dropped) = row.dropped.filter(|&n| n > 0) {
            eprintln!(
                "oxmq bench: {}: {} messages never reached a subscriber (the figure is not valid)",
                case.label(),
                bench::thousands_u64(dropped)
            );
        }
    }
    if !args.json {
        print!("{}", bench::table(&rows));
    }
    Ok(())
}

/// The socket types a workload needs, for messages.
fn workload_sockets(workload: bench::Workload) -> &'static str {
    match workload {
        bench::Workload::DealerRouter => "DEALER and ROUTER",
        bench::Workload::ReqRepRtt => "REQ and REP",
        bench::Workload::PubSub | bench::Workload::PubMatch => "PUB and SUB",
        bench::Workload::PushPull => "PUSH and PULL",
        bench::Workload::PairRtt => "PAIR",
        bench::Workload::All => "all",
    }
}

/// Which way a command moves messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Send,
    Recv,
}

/// Opens a socket of the requested type on the requested endpoints. The socket type is checked
/// (known, able to send or receive as `direction` needs) before any socket exists.
fn open(
    args: &SocketArgs,
    direction: Direction,
    ctx: &Context,
    configure: impl FnOnce(&oxmq::Socket) -> oxmq::Result<()>,
) -> Result<oxmq::Socket, Failure> {
    let socket_type: SocketType = args.socket_type.parse().map_err(|_| {
        Failure::usage(format!(
            "unknown socket type '{}' (expected pair, pub, sub, xpub, xsub, req, rep, dealer, \
             router, push, pull or stream)",
            args.socket_type
        ))
    })?;
    match direction {
        Direction::Send if !direction::can_send(socket_type) => {
            return Err(Failure::usage(format!(
                "a {socket_type} socket cannot send (use recv, or a type that sends)"
            )));
        }
        Direction::Recv if !direction::can_recv(socket_type) => {
            return Err(Failure::usage(format!(
                "a {socket_type} socket cannot receive (use send, or a type that receives)"
            )));
        }
        _ => {}
    }
    if args.bind.is_empty() && args.connect.is_empty() {
        return Err(Failure::usage(
            "give at least one --bind ENDPOINT or --connect ENDPOINT",
        ));
    }
    let socket = ctx.socket(socket_type).map_err(|err| match err {
        oxmq::Error::NotSupported => Failure::usage(format!(
            "{socket_type} sockets are not supported by this version of oxmq yet"
        )),
        err => Failure::usage(format!("cannot create a {socket_type} socket: {err}")),
    })?;
    configure(&socket)
        .map_err(|err| Failure::usage(format!("cannot set the socket's options: {err}")))?;
    let attach = |endpoint: &str, usage: Use| {
        let result = match usage {
            Use::Bind => socket.bind(endpoint),
            Use::Connect => socket.connect(endpoint),
        };
        result.map_err(|err| {
            let verb = match usage {
                Use::Bind => "bind",
                Use::Connect => "connect",
            };
            Failure::usage(match endpoint::diagnose(endpoint, usage) {
                Some(what) => format!("cannot {verb}: {what}"),
                None => format!("cannot {verb} '{endpoint}': {err}"),
            })
        })
    };
    for endpoint in &args.bind {
        attach(endpoint, Use::Bind)?;
    }
    for endpoint in &args.connect {
        attach(endpoint, Use::Connect)?;
    }
    Ok(socket)
}

fn run_recv(args: RecvArgs) -> Result<(), Failure> {
    let args = args.socket;
    let ctx = Context::new();
    let socket = open(&args, Direction::Recv, &ctx, |socket| {
        args.timeout.map_or(Ok(()), |ms| socket.set_rcvtimeo(ms))
    })?;
    let stdout = std::io::stdout();
    let mut received = 0u64;
    while args.count.is_none_or(|n| received < n) {
        let msg = socket.recv().map_err(|err| match (err, args.timeout) {
            (oxmq::Error::WouldBlock, Some(ms)) => {
                Failure::runtime(format!("no message arrived within {ms} ms (--timeout)"))
            }
            (err, _) => Failure::runtime(format!("recv failed: {err}")),
        })?;
        let line = text::message_line(msg.iter().map(|f| f.as_bytes()));
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            // The reader of our output went away (a closed pipe): stop quietly.
            return Ok(());
        }
        received += 1;
    }
    Ok(())
}

fn run_send(args: SendArgs) -> Result<(), Failure> {
    let SendArgs {
        socket: args,
        linger,
        frames,
    } = args;
    let ctx = Context::new();
    let socket = open(&args, Direction::Send, &ctx, |socket| {
        if let Some(ms) = args.timeout {
            socket.set_sndtimeo(ms)?;
            // Queue messages only for peers that are connected, so that a send to an absent
            // peer waits (and times out) instead of filling a pipe nobody will read.
            socket.set_immediate(true)?;
        }
        if let Some(ms) = linger {
            socket.set_linger(ms)?;
        }
        Ok(())
    })?;
    let send = |msg: Message| {
        socket.send(msg).map_err(|err| match (err, args.timeout) {
            (oxmq::Error::WouldBlock, Some(ms)) => Failure::runtime(format!(
                "no peer took the message within {ms} ms (--timeout)"
            )),
            (err, _) => Failure::runtime(format!("send failed: {err}")),
        })
    };
    if frames.is_empty() {
        // Lines are bytes, not necessarily UTF-8; a tab separates frames.
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = stdin
                .read_until(b'\n', &mut line)
                .map_err(|err| Failure::runtime(format!("reading standard input: {err}")))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let msg = Message::from_frames(line.split(|&b| b == b'\t'));
            for _ in 0..args.count.unwrap_or(1) {
                send(msg.clone())?;
            }
        }
    } else {
        let msg = Message::from_frames(frames.iter().map(String::as_str));
        for _ in 0..args.count.unwrap_or(1) {
            send(msg.clone())?;
        }
    }
    // Closing the socket and the context waits for queued messages to go out, for up to LINGER
    // (by default until every message is out).
    drop(socket);
    drop(ctx);
    Ok(())
}
