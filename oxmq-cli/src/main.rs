//! `oxmq`: benchmark oxmq, and send or receive messages from the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use oxmq::{Context, Message, SocketType};
use oxmq_cli::bench::{self, Driver, Oxmq};
use oxmq_cli::endpoint::{self, Use};
use oxmq_cli::{direction, text};

/// What the exit status means, for `--help`.
macro_rules! exit_status {
    () => {
        "\
Exit status:
  0  success
  1  sending or receiving failed (e.g. --timeout expired)
  2  bad command line: unknown or unsupported socket type, a type that cannot send (send) or
     receive (recv), an option the type does not take, a bad endpoint, a bind or connect that
     failed"
    };
}

const EXIT_STATUS: &str = exit_status!();

/// How `recv` uses each socket type, for `recv --help`.
const RECV_HELP: &str = concat!(
    "\
By socket type:
  sub, xsub  subscribe to each --subscribe TOPIC (a prefix; repeat for several); with none,
             to everything (xsub subscribes by sending \\x01TOPIC)
  rep        print each request, then answer it with the --reply frames, or with the request
             itself (an echo) when --reply is not given; --count N answers N requests
  router     the first frame printed is the routing id of the peer the message came from, in
             the escaped form below (an id ROUTER made up is 5 bytes: \\x00 and four more);
             `oxmq send router` reads a routing id back in that form
  stream     the first frame is the connection's routing id; an empty second frame means a
             connection was made or lost
  req        a REQ sends first: use `oxmq send req`, which prints each reply
  other      pair, dealer, pull, xpub (subscriptions, as \\x01TOPIC and \\x00TOPIC)

Output: one message per line, frames separated by a tab; a backslash, tab, newline, carriage
return, other control characters and bytes that are not UTF-8 are escaped as \\\\, \\t, \\n,
\\r and \\xNN.

",
    exit_status!()
);

/// How `send` uses each socket type, for `send --help`.
const SEND_HELP: &str = concat!(
    "\
By socket type:
  pub, xpub  wait --delay MS (default 200) after binding and connecting before the first
             message, so that subscribers still connecting do not miss it (the slow joiner);
             --wait-subscribers N instead waits until N subscriptions have arrived (each
             subscriber sends one per topic it subscribes to), within --timeout
  req        send each message, wait for its reply (within --timeout) and print the reply as
             `oxmq recv` prints a message
  router,    the first frame is the routing id of the peer to send to, in the escaped form
  stream     `oxmq recv` prints (\\xNN, \\\\, \\t, \\n, \\r; other characters as themselves); a
             message for a routing id that no connected peer has waits for that peer (router
             uses ROUTER_MANDATORY: it never drops the message silently), within --timeout
  rep        a REP receives first: use `oxmq recv rep`, which answers each request (--reply)
  other      pair, dealer, push, xsub (a frame of byte 1 then TOPIC subscribes, byte 0 then
             TOPIC unsubscribes: in bash, $'\\x01TOPIC')

",
    exit_status!()
);

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
    /// Receive messages and print one per line (frames separated by a tab); rep answers them.
    #[command(after_help = RECV_HELP)]
    Recv(RecvArgs),
    /// Send one message made of the FRAME arguments, or one per line of standard input; req
    /// prints each reply.
    #[command(after_help = SEND_HELP)]
    Send(SendArgs),
    /// Open a socket, bind or connect it, and print its monitor events as they happen, one a
    /// line (`EVENT<TAB>VALUE<TAB>ENDPOINT`, or JSON with --json); messages it receives are
    /// dropped.
    Monitor(MonitorArgs),
    /// Run the built-in proxy between a frontend and a backend socket (and a capture socket
    /// that gets a copy of every message), steered through an optional REP control socket:
    /// PAUSE, RESUME, STATISTICS and TERMINATE, each answered (`oxmq send req --connect EP
    /// STATISTICS`).
    Proxy(ProxyArgs),
}

#[derive(Args)]
struct ProxyArgs {
    /// The frontend's socket type (router, xsub, pull, ...).
    #[arg(value_name = "FRONTEND")]
    frontend: String,
    /// The backend's socket type (dealer, xpub, push, ...).
    #[arg(value_name = "BACKEND")]
    backend: String,
    /// Bind the frontend to ENDPOINT; repeat for several.
    #[arg(long, value_name = "ENDPOINT")]
    frontend_bind: Vec<String>,
    /// Connect the frontend to ENDPOINT; repeat for several.
    #[arg(long, value_name = "ENDPOINT")]
    frontend_connect: Vec<String>,
    /// Bind the backend to ENDPOINT; repeat for several.
    #[arg(long, value_name = "ENDPOINT")]
    backend_bind: Vec<String>,
    /// Connect the backend to ENDPOINT; repeat for several.
    #[arg(long, value_name = "ENDPOINT")]
    backend_connect: Vec<String>,
    /// Bind a PUB capture socket to ENDPOINT (watch it with `oxmq recv sub --connect`).
    #[arg(long, value_name = "ENDPOINT")]
    capture_bind: Vec<String>,
    /// Bind the REP control socket to ENDPOINT.
    #[arg(long, value_name = "ENDPOINT")]
    control_bind: Vec<String>,
}

#[derive(Args)]
struct MonitorArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// Print one JSON object a line: `event` (libzmq's name, without ZMQ_EVENT_), `value`
    /// (a descriptor, an errno, an interval or a protocol error code), `endpoint`, and the
    /// connection's `local` and `remote` ends.
    #[arg(long)]
    json: bool,
    /// Every MS milliseconds, also print the socket's counters: a `STATS` line (messages
    /// sent, received, queued each way, and dropped by reason: `hwm`, `no_route`,
    /// `too_large`, `unroutable`), with `--json` an object that lists each peer's too.
    #[arg(long, value_name = "MS", value_parser = parse_millis)]
    stats: Option<i32>,
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
    /// Stop after N messages (recv; rep: after answering N requests), or send the message N
    /// times (send); N is at least 1.
    #[arg(long, value_name = "N", value_parser = bench::parse_count)]
    count: Option<u64>,
    /// Give up (exit status 1) when no message arrives within MS milliseconds (recv: RCVTIMEO),
    /// or when no connected peer takes a message within MS (send: SNDTIMEO, with IMMEDIATE so
    /// messages wait only for peers that are there). Also bounds the wait for each reply
    /// (send req), for a peer with the routing id (send router, stream) and for subscribers
    /// (send --wait-subscribers).
    #[arg(long, value_name = "MS", value_parser = parse_millis)]
    timeout: Option<i32>,
    /// The routing id this socket announces to its peers (ROUTING_ID: 1 to 255 bytes, not
    /// starting with a zero byte), in the escaped form recv prints, so that a ROUTER peer can
    /// address it (`oxmq send router ID ...`).
    #[arg(long, value_name = "ID")]
    routing_id: Option<String>,
}

#[derive(Args)]
struct RecvArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// sub, xsub: receive the messages whose first frame starts with TOPIC; repeat for several.
    /// Without it, every message.
    #[arg(long, value_name = "TOPIC")]
    subscribe: Vec<String>,
    /// rep: answer each request with a message of these frames (one or more) instead of
    /// echoing the request back.
    #[arg(long, value_name = "FRAME", num_args = 1..)]
    reply: Option<Vec<String>>,
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// At exit, wait at most MS milliseconds for queued messages to go out, then drop them
    /// (LINGER; default: wait until every message is out).
    #[arg(long, value_name = "MS", value_parser = parse_millis)]
    linger: Option<i32>,
    /// pub, xpub: before sending, wait until N subscriptions have arrived (within --timeout).
    /// A subscriber sends one per topic, so N subscribers of one topic each are N.
    #[arg(long, value_name = "N", value_parser = bench::parse_count)]
    wait_subscribers: Option<u64>,
    /// Wait MS milliseconds after binding and connecting before the first message (default:
    /// 200 for pub and xpub without --wait-subscribers, 0 otherwise).
    #[arg(long, value_name = "MS", value_parser = parse_millis)]
    delay: Option<i32>,
    /// The frames of the message to send (router, stream: the first is the routing id, in the
    /// escaped form recv prints).
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
        Command::Monitor(args) => run_monitor(args),
        Command::Proxy(args) => run_proxy(args),
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
    args.cases.placement.check().map_err(Failure::usage)?;
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
        bench::Workload::DealerRouter | bench::Workload::Proxy => "DEALER and ROUTER",
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

/// The socket type named on the command line, checked (known, able to send or receive as
/// `direction` needs) before any socket exists, and with at least one endpoint to use.
fn checked_type(args: &SocketArgs, direction: Direction) -> Result<SocketType, Failure> {
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
    Ok(socket_type)
}

/// Opens a socket of `socket_type` on the endpoints of `args`, configured before it binds or
/// connects.
fn open(
    args: &SocketArgs,
    socket_type: SocketType,
    ctx: &Context,
    configure: impl FnOnce(&oxmq::Socket) -> oxmq::Result<()>,
) -> Result<oxmq::Socket, Failure> {
    let routing_id = args
        .routing_id
        .as_deref()
        .map(|id| {
            let bytes = text::unescape(id.as_bytes())
                .map_err(|err| Failure::usage(format!("bad --routing-id '{id}': {err}")))?;
            if bytes.is_empty() || bytes.len() > 255 || bytes[0] == 0 {
                return Err(Failure::usage(format!(
                    "bad --routing-id '{id}': a routing id is 1 to 255 bytes and does not start \
                     with a zero byte (\\x00 starts the ids a ROUTER makes up)"
                )));
            }
            Ok(bytes)
        })
        .transpose()?;
    let socket = ctx.socket(socket_type).map_err(|err| match err {
        oxmq::Error::NotSupported => Failure::usage(format!(
            "{socket_type} sockets are not supported by this version of oxmq yet"
        )),
        err => Failure::usage(format!("cannot create a {socket_type} socket: {err}")),
    })?;
    if let Some(id) = &routing_id {
        socket
            .set_routing_id(id)
            .map_err(|err| Failure::usage(format!("cannot set the routing id: {err}")))?;
    }
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

/// Prints `msg` as one line, as `recv` does. `false` when the reader of our output went away
/// (a closed pipe), so the command stops quietly.
fn print_message(msg: &Message) -> bool {
    let line = text::message_line(msg.iter().map(|f| f.as_bytes()));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
}

/// A failed recv in words.
fn recv_failure(err: oxmq::Error, timeout: Option<i32>, what: &str) -> Failure {
    match (err, timeout) {
        (oxmq::Error::WouldBlock, Some(ms)) => {
            Failure::runtime(format!("no {what} arrived within {ms} ms (--timeout)"))
        }
        (err, _) => Failure::runtime(format!("recv failed: {err}")),
    }
}

/// A failed send in words.
fn send_failure(err: oxmq::Error, timeout: Option<i32>) -> Failure {
    match (err, timeout) {
        (oxmq::Error::WouldBlock, Some(ms)) => Failure::runtime(format!(
            "no peer took the message within {ms} ms (--timeout)"
        )),
        (err, _) => Failure::runtime(format!("send failed: {err}")),
    }
}

fn run_recv(args: RecvArgs) -> Result<(), Failure> {
    let RecvArgs {
        socket: args,
        subscribe,
        reply,
    } = args;
    let socket_type = checked_type(&args, Direction::Recv)?;
    if !subscribe.is_empty() && !matches!(socket_type, SocketType::Sub | SocketType::XSub) {
        return Err(Failure::usage(format!(
            "--subscribe is for sub and xsub sockets, not {socket_type}"
        )));
    }
    if reply.is_some() && socket_type != SocketType::Rep {
        return Err(Failure::usage(format!(
            "--reply is for rep sockets, not {socket_type}"
        )));
    }
    if socket_type == SocketType::Req {
        return Err(Failure::usage(
            "a req socket sends first: use `oxmq send req`, which prints each reply",
        ));
    }
    // No --subscribe: the empty prefix, which every message starts with.
    let topics: Vec<&[u8]> = if subscribe.is_empty() {
        vec![b""]
    } else {
        subscribe.iter().map(|t| t.as_bytes()).collect()
    };
    let ctx = Context::new();
    let socket = open(&args, socket_type, &ctx, |socket| {
        if let Some(ms) = args.timeout {
            socket.set_rcvtimeo(ms)?;
        }
        match socket_type {
            SocketType::Sub => {
                for topic in &topics {
                    socket.subscribe(topic)?;
                }
            }
            SocketType::XSub => {
                // XSUB keeps what it sent and sends it to every peer that connects later.
                for topic in &topics {
                    socket.send([&[1u8][..], topic].concat())?;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let reply = reply.map(|frames| Message::from_frames(frames.iter().map(String::as_str)));
    let mut received = 0u64;
    while args.count.is_none_or(|n| received < n) {
        let msg = socket
            .recv()
            .map_err(|err| recv_failure(err, args.timeout, "message"))?;
        if !print_message(&msg) {
            return Ok(());
        }
        if socket_type == SocketType::Rep {
            let answer = reply.clone().unwrap_or(msg);
            socket
                .send(answer)
                .map_err(|err| Failure::runtime(format!("sending the reply failed: {err}")))?;
        }
        received += 1;
    }
    // Closing the socket and the context waits for the last reply to go out.
    drop(socket);
    drop(ctx);
    Ok(())
}

/// A message of `frames`. For router and stream (`routed`) the first frame is a routing id in
/// the escaped form `recv` prints, read back to its bytes.
fn make_message<'a>(
    frames: impl IntoIterator<Item = &'a [u8]>,
    routed: bool,
) -> Result<Message, String> {
    let mut msg = Message::from_frames(frames);
    if routed {
        let id = msg.pop_front().unwrap_or_default();
        let bytes = text::unescape(id.as_bytes()).map_err(|err| {
            format!(
                "bad routing id '{}': {err}",
                String::from_utf8_lossy(id.as_bytes())
            )
        })?;
        msg.push_front(bytes);
    }
    Ok(msg)
}

/// Waits until `wanted` subscriptions have arrived at an XPUB (with XPUB_VERBOSE, so that a
/// topic another subscriber has already subscribed to counts again), within `timeout`.
fn wait_for_subscribers(
    socket: &oxmq::Socket,
    wanted: u64,
    timeout: Option<i32>,
) -> Result<(), Failure> {
    let deadline =
        timeout.map(|ms| Instant::now() + Duration::from_millis(ms.unsigned_abs().into()));
    let mut seen = 0u64;
    while seen < wanted {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            socket
                .set_rcvtimeo(ms)
                .map_err(|err| Failure::runtime(format!("cannot set RCVTIMEO: {err}")))?;
        }
        match socket.recv() {
            // A subscription is `\x01TOPIC`; `\x00TOPIC` cancels one.
            Ok(msg) if msg.first().first() == Some(&1) => seen += 1,
            Ok(_) => {}
            Err(oxmq::Error::WouldBlock) if timeout.is_some() => {
                return Err(Failure::runtime(format!(
                    "{seen} of {wanted} subscriptions arrived within {} ms (--timeout)",
                    timeout.unwrap_or_default()
                )));
            }
            Err(err) => return Err(Failure::runtime(format!("recv failed: {err}"))),
        }
    }
    Ok(())
}

/// Sends a message whose first frame is a routing id (ROUTER with ROUTER_MANDATORY, STREAM):
/// while no connected peer has that id, tries again until one has, within `timeout`.
fn send_routed(socket: &oxmq::Socket, msg: Message, timeout: Option<i32>) -> Result<(), Failure> {
    let deadline =
        timeout.map(|ms| Instant::now() + Duration::from_millis(ms.unsigned_abs().into()));
    let mut msg = msg;
    loop {
        match socket.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(err) if err.error() == oxmq::Error::HostUnreachable => {
                msg = err.into_message();
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let mut id = String::new();
                    text::escape_into(&mut id, msg.first().as_bytes());
                    return Err(Failure::runtime(format!(
                        "no peer with routing id '{id}' connected within {} ms (--timeout)",
                        timeout.unwrap_or_default()
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // The peer is there but full: wait for room as any send does (SNDTIMEO).
            Err(err) if err.error() == oxmq::Error::WouldBlock => {
                return socket
                    .send(err.into_message())
                    .map_err(|err| send_failure(err, timeout));
            }
            Err(err) => return Err(send_failure(err.error(), timeout)),
        }
    }
}

fn run_send(args: SendArgs) -> Result<(), Failure> {
    let SendArgs {
        socket: args,
        linger,
        wait_subscribers,
        delay,
        frames,
    } = args;
    let socket_type = checked_type(&args, Direction::Send)?;
    let publisher = matches!(socket_type, SocketType::Pub | SocketType::XPub);
    if wait_subscribers.is_some() && !publisher {
        return Err(Failure::usage(format!(
            "--wait-subscribers is for pub and xpub sockets, not {socket_type}"
        )));
    }
    if socket_type == SocketType::Rep {
        return Err(Failure::usage(
            "a rep socket receives first: use `oxmq recv rep`, which answers each request \
             (--reply)",
        ));
    }
    let routed = matches!(socket_type, SocketType::Router | SocketType::Stream);
    // Frames given as arguments are checked before any socket exists.
    let message = if frames.is_empty() {
        None
    } else {
        Some(make_message(frames.iter().map(|f| f.as_bytes()), routed).map_err(Failure::usage)?)
    };
    // A PUB cannot tell its subscriptions; an XPUB, which publishes the same way, can.
    let created = match socket_type {
        SocketType::Pub if wait_subscribers.is_some() => SocketType::XPub,
        other => other,
    };
    let ctx = Context::new();
    let socket = open(&args, created, &ctx, |socket| {
        if let Some(ms) = args.timeout {
            socket.set_sndtimeo(ms)?;
            // Queue messages only for peers that are connected, so that a send to an absent
            // peer waits (and times out) instead of filling a pipe nobody will read.
            socket.set_immediate(true)?;
            if socket_type == SocketType::Req {
                socket.set_rcvtimeo(ms)?;
            }
        }
        if let Some(ms) = linger {
            socket.set_linger(ms)?;
        }
        if wait_subscribers.is_some() {
            socket.set_xpub_verbose(true)?;
        }
        if socket_type == SocketType::Router {
            socket.set_router_mandatory(true)?;
        }
        Ok(())
    })?;
    if let Some(wanted) = wait_subscribers {
        wait_for_subscribers(&socket, wanted, args.timeout)?;
    }
    let delay = delay.unwrap_or(if publisher && wait_subscribers.is_none() {
        DEFAULT_PUB_DELAY_MS
    } else {
        0
    });
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay.unsigned_abs().into()));
    }
    // Sends one message (and for req, waits for its reply and prints it); `false` when the
    // reader of our output went away.
    let send = |msg: Message| -> Result<bool, Failure> {
        if routed {
            send_routed(&socket, msg, args.timeout)?;
        } else {
            socket
                .send(msg)
                .map_err(|err| send_failure(err, args.timeout))?;
        }
        if socket_type == SocketType::Req {
            let reply = socket
                .recv()
                .map_err(|err| recv_failure(err, args.timeout, "reply"))?;
            return Ok(print_message(&reply));
        }
        Ok(true)
    };
    let send_times = |msg: &Message| -> Result<bool, Failure> {
        for _ in 0..args.count.unwrap_or(1) {
            if !send(msg.clone())? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if let Some(msg) = message {
        send_times(&msg)?;
    } else {
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
            let msg = make_message(line.split(|&b| b == b'\t'), routed)
                .map_err(|err| Failure::runtime(format!("standard input: {err}")))?;
            if !send_times(&msg)? {
                break;
            }
        }
    }
    // Closing the socket and the context waits for queued messages to go out, for up to LINGER
    // (by default until every message is out).
    drop(socket);
    drop(ctx);
    Ok(())
}

/// How long `send pub` waits before its first message by default, in milliseconds: enough for
/// subscribers connecting at the same time, on one machine, to subscribe.
const DEFAULT_PUB_DELAY_MS: i32 = 200;

/// `oxmq monitor`: the socket's events, one a line, until --count events or --timeout without
/// one.
fn run_monitor(args: MonitorArgs) -> Result<(), Failure> {
    let MonitorArgs {
        socket: args,
        json,
        stats,
    } = args;
    let stats_every = stats.map(|ms| std::time::Duration::from_millis(ms.max(1) as u64));
    let mut next_stats = stats_every.map(|every| std::time::Instant::now() + every);
    let socket_type: SocketType = args
        .socket_type
        .parse()
        .map_err(|_| Failure::usage(format!("unknown socket type '{}'", args.socket_type)))?;
    if args.bind.is_empty() && args.connect.is_empty() {
        return Err(Failure::usage(
            "give at least one --bind ENDPOINT or --connect ENDPOINT",
        ));
    }
    let ctx = Context::new();
    let mut monitor = None;
    let socket = open(&args, socket_type, &ctx, |socket| {
        // Before binding and connecting, so that LISTENING and CONNECTED are seen too.
        monitor = Some(socket.monitor(oxmq::EventMask::ALL)?);
        Ok(())
    })?;
    let Some(monitor) = monitor else {
        return Err(Failure::runtime("the monitor did not start"));
    };
    let receives = direction::can_recv(socket_type);
    let limit = args
        .timeout
        .map(|ms| std::time::Duration::from_millis(ms as u64));
    let mut last = std::time::Instant::now();
    let mut printed = 0u64;
    while args.count.is_none_or(|n| printed < n) {
        // Messages are not what is watched: drop them so that peers are not held back.
        while receives && socket.try_recv().is_ok() {}
        if let (Some(at), Some(every)) = (next_stats, stats_every) {
            if std::time::Instant::now() >= at {
                next_stats = Some(at + every);
                if print_line(&stats_line(&socket, json)).is_err() {
                    return Ok(());
                }
            }
        }
        let Some(event) = monitor.recv_timeout(std::time::Duration::from_millis(50)) else {
            if limit.is_some_and(|limit| last.elapsed() >= limit) {
                return Err(Failure::runtime(format!(
                    "no event within {} ms",
                    args.timeout.unwrap_or(0)
                )));
            }
            continue;
        };
        last = std::time::Instant::now();
        let line = if json {
            format!(
                "{{\"event\":\"{}\",\"value\":{},\"endpoint\":{},\"local\":{},\"remote\":{}}}",
                event.kind.name(),
                event.value,
                json_string(&event.endpoint),
                json_string(&event.local),
                json_string(&event.remote)
            )
        } else {
            let mut endpoint = String::new();
            text::escape_into(&mut endpoint, event.endpoint.as_bytes());
            format!("{}\t{}\t{endpoint}", event.kind.name(), event.value)
        };
        if print_line(&line).is_err() {
            return Ok(());
        }
        printed += 1;
    }
    Ok(())
}

/// Prints one line on standard output, at once.
fn print_line(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush())
}

/// The `STATS` line of `oxmq monitor --stats`: `STATS<TAB>sent N received N ... dropped hwm N
/// ...`, or with `json` one object that lists each peer's counters too.
fn stats_line(socket: &oxmq::Socket, json: bool) -> String {
    let stats = socket.stats();
    let d = stats.dropped;
    let counts = [
        ("sent", stats.sent),
        ("received", stats.received),
        ("queued_out", stats.queued_out),
        ("queued_in", stats.queued_in),
    ];
    let drops = [
        ("hwm", d.high_water_mark),
        ("no_route", d.no_route),
        ("too_large", d.too_large),
        ("unroutable", d.unroutable),
    ];
    let join = |pairs: &[(&str, u64)], pair: &dyn Fn(&str, u64) -> String, sep: &str| {
        pairs
            .iter()
            .map(|&(name, value)| pair(name, value))
            .collect::<Vec<_>>()
            .join(sep)
    };
    if !json {
        let text = |name: &str, value: u64| format!("{name} {value}");
        return format!(
            "STATS\t{} dropped {}",
            join(&counts, &text, " "),
            join(&drops, &text, " ")
        );
    }
    let field = |name: &str, value: u64| format!("\"{name}\":{value}");
    let peers: Vec<String> = socket
        .peer_stats()
        .iter()
        .map(|p| {
            let peer_counts = [
                ("sent", p.sent),
                ("received", p.received),
                ("queued_out", p.queued_out),
                ("queued_in", p.queued_in),
                ("dropped", p.dropped),
            ];
            format!(
                "{{\"local\":{},\"remote\":{},{}}}",
                json_string(&p.local),
                json_string(&p.remote),
                join(&peer_counts, &field, ",")
            )
        })
        .collect();
    format!(
        "{{\"event\":\"STATS\",{},\"dropped\":{{{}}},\"peers\":[{}]}}",
        join(&counts, &field, ","),
        join(&drops, &field, ","),
        peers.join(",")
    )
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `oxmq proxy`: the proxy on a thread of its own, steered through an inproc PAIR by this
/// thread, which answers the REP control socket's commands.
fn run_proxy(args: ProxyArgs) -> Result<(), Failure> {
    let role = |kind: &str, bind: &[String], connect: &[String], what: &str| {
        let role = SocketArgs {
            socket_type: kind.to_owned(),
            bind: bind.to_vec(),
            connect: connect.to_vec(),
            count: None,
            timeout: None,
            routing_id: None,
        };
        let socket_type: SocketType = kind
            .parse()
            .map_err(|_| Failure::usage(format!("unknown {what} socket type '{kind}'")))?;
        if bind.is_empty() && connect.is_empty() {
            return Err(Failure::usage(format!(
                "give the {what} at least one --{what}-bind or --{what}-connect ENDPOINT"
            )));
        }
        Ok((role, socket_type))
    };
    let (front_args, front_type) = role(
        &args.frontend,
        &args.frontend_bind,
        &args.frontend_connect,
        "frontend",
    )?;
    let (back_args, back_type) = role(
        &args.backend,
        &args.backend_bind,
        &args.backend_connect,
        "backend",
    )?;
    let ctx = Context::new();
    let frontend = open(&front_args, front_type, &ctx, |_| Ok(()))?;
    let backend = open(&back_args, back_type, &ctx, |_| Ok(()))?;
    let capture = if args.capture_bind.is_empty() {
        None
    } else {
        let (capture_args, capture_type) = role("pub", &args.capture_bind, &[], "capture")?;
        Some(open(&capture_args, capture_type, &ctx, |_| Ok(()))?)
    };
    let control = if args.control_bind.is_empty() {
        None
    } else {
        let (control_args, control_type) = role("rep", &args.control_bind, &[], "control")?;
        Some(open(&control_args, control_type, &ctx, |_| Ok(()))?)
    };
    let failed = |err: oxmq::Error| Failure::runtime(format!("the proxy failed: {err}"));
    let steer_endpoint = format!("inproc://oxmq-cli-proxy-{}", std::process::id());
    let steered = ctx.socket(SocketType::Pair).map_err(failed)?;
    steered.bind(&steer_endpoint).map_err(failed)?;
    let steer = ctx.socket(SocketType::Pair).map_err(failed)?;
    steer.connect(&steer_endpoint).map_err(failed)?;
    let proxy = std::thread::spawn(move || {
        oxmq::proxy_steerable(&frontend, &backend, capture.as_ref(), &steered)
    });
    let Some(control) = control else {
        // No control socket: runs until the process is stopped.
        return proxy
            .join()
            .map_err(|_| Failure::runtime("the proxy thread failed"))?
            .map_err(failed);
    };
    loop {
        let command = control.recv().map_err(failed)?;
        let word = String::from_utf8_lossy(&command[0]).into_owned();
        let reply = match word.as_str() {
            "PAUSE" | "RESUME" | "TERMINATE" => {
                steer.send(word.as_str()).map_err(failed)?;
                "OK".to_owned()
            }
            "STATISTICS" => {
                steer.send("STATISTICS").map_err(failed)?;
                let stats = steer.recv().map_err(failed)?;
                let value = |i: usize| {
                    stats
                        .get(i)
                        .and_then(|f| <[u8; 8]>::try_from(&f[..]).ok())
                        .map_or(0, u64::from_ne_bytes)
                };
                format!(
                    "frontend: in {} msgs {} bytes, out {} msgs {} bytes; backend: in {} msgs {} \
                     bytes, out {} msgs {} bytes",
                    value(0),
                    value(1),
                    value(2),
                    value(3),
                    value(4),
                    value(5),
                    value(6),
                    value(7)
                )
            }
            other => format!("unknown command '{other}' (PAUSE, RESUME, STATISTICS, TERMINATE)"),
        };
        control.send(reply).map_err(failed)?;
        if word == "TERMINATE" {
            return proxy
                .join()
                .map_err(|_| Failure::runtime("the proxy thread failed"))?
                .map_err(failed);
        }
    }
}
