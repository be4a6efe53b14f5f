//! `oxmq`: benchmark oxmq, and send or receive messages from the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use oxmq::{Context, Message, SocketType};
use oxmq_cli::bench::{self, Oxmq, Pattern};
use oxmq_cli::text;

#[derive(Parser)]
#[command(
    name = "oxmq",
    version,
    about = "ZeroMQ in Rust: benchmarks and command-line messaging"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PUSH/PULL throughput and PAIR round-trip latency over inproc, ipc and tcp.
    Bench(BenchArgs),
    /// Receive messages and print one per line (frames separated by a tab).
    Recv(EndpointArgs),
    /// Send one message made of the FRAME arguments, or one per line of standard input.
    Send(EndpointArgs),
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    cases: bench::CaseArgs,
    /// Print one JSON object per result instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EndpointArgs {
    /// Socket type: pair, push, pull, ...
    #[arg(value_name = "TYPE")]
    socket_type: String,
    /// Bind to the endpoints that follow.
    #[arg(long, num_args = 1.., value_name = "ENDPOINT")]
    bind: Vec<String>,
    /// Connect to the endpoints that follow.
    #[arg(long, num_args = 1.., value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// Stop after N messages (recv), or send the message N times (send); N is at least 1.
    #[arg(long, value_name = "N", value_parser = bench::parse_count)]
    count: Option<u64>,
    /// The frames of the message to send (send only).
    #[arg(value_name = "FRAME")]
    frames: Vec<String>,
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
    let cases = args.cases.cases();
    // A progress line rewritten in place (escape codes) on a terminal; plain lines otherwise,
    // so logs and pipes get no control characters.
    let progress = std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    let stdout = std::io::stdout();
    for (
        i,
        &bench::Case {
            pattern,
            transport,
            size,
            count,
        },
    ) in cases.iter().enumerate()
    {
        let what = match pattern {
            Pattern::Throughput => "push-pull",
            Pattern::Latency => "pair-rtt",
        };
        let line = format!(
            "[{}/{}] {what} {} {} x {} ...",
            i + 1,
            cases.len(),
            transport.name(),
            bench::human_size(size),
            bench::thousands_u64(count)
        );
        if progress {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
        let row = bench::run(&Oxmq, pattern, transport, size, count);
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
    if !args.json {
        print!("{}", bench::table(&rows));
    }
    Ok(())
}

/// Opens a socket of the requested type on the requested endpoints.
fn open(args: &mut EndpointArgs, ctx: &Context) -> Result<oxmq::Socket, Failure> {
    // `--connect a b c` takes every following value; those that are not endpoints are frames.
    let mut frames = Vec::new();
    for list in [&mut args.bind, &mut args.connect] {
        let (endpoints, others): (Vec<String>, Vec<String>) =
            list.drain(..).partition(|v| v.contains("://"));
        *list = endpoints;
        frames.extend(others);
    }
    frames.append(&mut args.frames);
    args.frames = frames;
    if args.bind.is_empty() && args.connect.is_empty() {
        return Err(Failure::usage(
            "give --bind or --connect and at least one endpoint",
        ));
    }
    let socket_type: SocketType = args
        .socket_type
        .parse()
        .map_err(|_| Failure::usage(format!("unknown socket type {:?}", args.socket_type)))?;
    let socket = ctx
        .socket(socket_type)
        .map_err(|err| Failure::usage(format!("cannot create a {socket_type} socket: {err}")))?;
    for endpoint in &args.bind {
        socket
            .bind(endpoint)
            .map_err(|err| Failure::usage(format!("cannot bind {endpoint}: {err}")))?;
    }
    for endpoint in &args.connect {
        socket
            .connect(endpoint)
            .map_err(|err| Failure::usage(format!("cannot connect {endpoint}: {err}")))?;
    }
    Ok(socket)
}

fn run_recv(mut args: EndpointArgs) -> Result<(), Failure> {
    let ctx = Context::new();
    let socket = open(&mut args, &ctx)?;
    if !args.frames.is_empty() {
        return Err(Failure::usage(format!(
            "recv takes no frames (got {:?})",
            args.frames
        )));
    }
    let stdout = std::io::stdout();
    let mut received = 0u64;
    while args.count.is_none_or(|n| received < n) {
        let msg = socket
            .recv()
            .map_err(|err| Failure::runtime(format!("recv failed: {err}")))?;
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

fn run_send(mut args: EndpointArgs) -> Result<(), Failure> {
    let ctx = Context::new();
    let socket = open(&mut args, &ctx)?;
    let send = |msg: Message| {
        socket
            .send(msg)
            .map_err(|err| Failure::runtime(format!("send failed: {err}")))
    };
    if args.frames.is_empty() {
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
        let msg = Message::from_frames(args.frames.iter().map(String::as_str));
        for _ in 0..args.count.unwrap_or(1) {
            send(msg.clone())?;
        }
    }
    // LINGER is infinite: closing the socket and the context waits until every message is out.
    drop(socket);
    drop(ctx);
    Ok(())
}
