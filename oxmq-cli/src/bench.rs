//! Benchmark workloads: PUSH/PULL and DEALER/ROUTER throughput, PAIR and REQ/REP round trips,
//! PUB/SUB fan-out to many subscribers, and the cost of matching a message against many
//! subscriptions.
//!
//! The workloads are written once, against [`Driver`], so that the side-by-side benchmark runs
//! oxmq and libzmq through exactly the same code with the same settings. Sender and receiver run
//! on two threads with a context each (like two processes, one I/O thread each), except over
//! inproc, where both sockets must share a context.
//!
//! The PUB/SUB workloads ([`publish`]) make every subscriber receive every message: the PUB has
//! XPUB_NODROP, so a subscriber at its high-water mark holds the publisher back instead of
//! missing messages, and the figure is the rate at which all of them get everything. Each
//! subscriber's messages are counted; a message that never comes is reported as dropped
//! ([`Row::dropped`]) instead of hanging the run.
//!
//! Where the threads run is left to the operating system unless `--placement` pins them (see
//! [`crate::placement`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::placement::{Placement, Role};

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
    /// PUB (with XPUB_NODROP: see [`Driver::socket`])
    Pub,
    /// SUB
    Sub,
    /// DEALER
    Dealer,
    /// ROUTER
    Router,
    /// REQ
    Req,
    /// REP
    Rep,
}

/// A messaging library under test.
pub trait Driver: Sync {
    /// Its context type.
    type Context: Clone + Send;
    /// Its socket type.
    type Socket: Send;

    /// The library's name for reports.
    fn name(&self) -> &'static str;
    /// Whether the library has sockets of this kind.
    fn supports(&self, kind: Kind) -> bool;
    /// A context with one I/O thread.
    fn context(&self) -> Self::Context;
    /// A socket with the benchmark's settings: SNDHWM and RCVHWM [`HWM`], LINGER 0 (it only
    /// matters after the run). PUB also gets XPUB_NODROP (a full subscriber makes the publisher
    /// wait instead of missing the message); SUB gets SNDHWM 0 (that direction only carries
    /// subscriptions, which both libraries drop at the high-water mark) and RCVTIMEO
    /// [`SUB_RCVTIMEO_MS`] (so that a lost message ends the run instead of hanging it).
    fn socket(&self, ctx: &Self::Context, kind: Kind) -> Self::Socket;
    /// Binds; returns the endpoint to connect to.
    fn bind(&self, socket: &Self::Socket, endpoint: &str) -> String;
    /// Connects.
    fn connect(&self, socket: &Self::Socket, endpoint: &str);
    /// SUB: subscribes to messages that start with `prefix`.
    fn subscribe(&self, socket: &Self::Socket, prefix: &[u8]);
    /// Sends one single-frame message holding a copy of `data`.
    fn send(&self, socket: &Self::Socket, data: &[u8]);
    /// Receives one message (every frame of it); returns the size of its last frame.
    fn recv(&self, socket: &Self::Socket) -> usize;
    /// Receives one message if one is waiting (`wait` false), or waits for one up to the
    /// socket's RCVTIMEO (`wait` true); returns the size of its last frame, `None` when there
    /// was none.
    fn recv_within(&self, socket: &Self::Socket, wait: bool) -> Option<usize>;
    /// Runs the library's built-in steerable proxy (`zmq_proxy_steerable`) between `frontend`
    /// and `backend` until `control` receives `TERMINATE`; the sockets close when it returns.
    /// Only the `proxy` workload calls it, and only for a library with DEALER and ROUTER.
    fn proxy(&self, frontend: Self::Socket, backend: Self::Socket, control: Self::Socket) {
        let _ = (frontend, backend, control);
        panic!("{} has no built-in proxy", self.name());
    }
}

/// The high-water mark both drivers set on every socket, both ways (libzmq's default), except
/// the subscription direction of SUB (see [`Driver::socket`]).
pub const HWM: i32 = 1000;

/// RCVTIMEO of SUB sockets: how long a subscriber waits for a message before the run counts the
/// missing ones as dropped.
pub const SUB_RCVTIMEO_MS: i32 = 5000;

/// BACKLOG of the PUB socket in the fan-out workloads, in both drivers: with the default of 100,
/// a thousand subscribers connecting at once overflow the listen queue, and the connections
/// the kernel dropped come seconds later, after retransmits.
pub const PUB_BACKLOG: i32 = 1024;

/// `ZMQ_BACKLOG`.
const ZMQ_BACKLOG: i32 = 19;

/// oxmq behind the benchmark workloads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Oxmq;

fn oxmq_type(kind: Kind) -> oxmq::SocketType {
    match kind {
        Kind::Push => oxmq::SocketType::Push,
        Kind::Pull => oxmq::SocketType::Pull,
        Kind::Pair => oxmq::SocketType::Pair,
        Kind::Pub => oxmq::SocketType::Pub,
        Kind::Sub => oxmq::SocketType::Sub,
        Kind::Dealer => oxmq::SocketType::Dealer,
        Kind::Router => oxmq::SocketType::Router,
        Kind::Req => oxmq::SocketType::Req,
        Kind::Rep => oxmq::SocketType::Rep,
    }
}

impl Driver for Oxmq {
    type Context = oxmq::Context;
    type Socket = oxmq::Socket;

    fn name(&self) -> &'static str {
        "oxmq"
    }

    fn supports(&self, kind: Kind) -> bool {
        let ctx = oxmq::Context::with_io_threads(1);
        !matches!(ctx.socket(oxmq_type(kind)), Err(oxmq::Error::NotSupported))
    }

    fn context(&self) -> oxmq::Context {
        oxmq::Context::with_io_threads(1)
    }

    fn socket(&self, ctx: &oxmq::Context, kind: Kind) -> oxmq::Socket {
        let socket = ctx.socket(oxmq_type(kind)).expect("create a socket");
        socket.set_sndhwm(HWM).expect("set SNDHWM");
        socket.set_rcvhwm(HWM).expect("set RCVHWM");
        // The workloads only close sockets once every message has arrived, so LINGER 0 set now
        // only matters after the run.
        socket.set_linger(0).expect("set LINGER");
        match kind {
            Kind::Pub => {
                socket.set_xpub_nodrop(true).expect("set XPUB_NODROP");
                socket
                    .set_option_raw(ZMQ_BACKLOG, &PUB_BACKLOG.to_ne_bytes())
                    .expect("set BACKLOG");
            }
            Kind::Sub => {
                socket.set_sndhwm(0).expect("set SNDHWM");
                socket.set_rcvtimeo(SUB_RCVTIMEO_MS).expect("set RCVTIMEO");
            }
            _ => {}
        }
        socket
    }

    fn bind(&self, socket: &oxmq::Socket, endpoint: &str) -> String {
        socket.bind(endpoint).expect("bind");
        socket.last_endpoint()
    }

    fn connect(&self, socket: &oxmq::Socket, endpoint: &str) {
        socket.connect(endpoint).expect("connect");
    }

    fn subscribe(&self, socket: &oxmq::Socket, prefix: &[u8]) {
        socket.subscribe(prefix).expect("subscribe");
    }

    fn send(&self, socket: &oxmq::Socket, data: &[u8]) {
        // A copy of the bytes, as libzmq's side sends them (`zmq_send`).
        socket.send_bytes(data).expect("send");
    }

    fn recv(&self, socket: &oxmq::Socket) -> usize {
        socket.recv().expect("recv").last().len()
    }

    fn recv_within(&self, socket: &oxmq::Socket, wait: bool) -> Option<usize> {
        let result = if wait {
            socket.recv()
        } else {
            socket.try_recv()
        };
        match result {
            Ok(msg) => Some(msg.last().len()),
            Err(oxmq::Error::WouldBlock) => None,
            Err(err) => panic!("recv: {err}"),
        }
    }

    fn proxy(&self, frontend: oxmq::Socket, backend: oxmq::Socket, control: oxmq::Socket) {
        oxmq::proxy_steerable(&frontend, &backend, None, &control).expect("proxy");
    }
}

/// One measured case.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The workload's name ([`Pattern::name`]): `push-pull`, `dealer-router`, `pub-sub`,
    /// `pub-match` (throughput) or `pair-rtt`, `req-rep-rtt` (round-trip latency).
    pub pattern: &'static str,
    /// The transport.
    pub transport: Transport,
    /// Message size in bytes.
    pub size: usize,
    /// Messages (throughput; for PUB/SUB, messages published) or round trips (latency).
    pub count: u64,
    /// Messages per second (round trips per second for latency; for PUB/SUB, messages
    /// published per second, each received by every subscriber).
    pub msgs_per_s: f64,
    /// Megabytes (10^6 bytes) of payload per second (for PUB/SUB, published).
    pub mb_per_s: f64,
    /// Mean round-trip time in microseconds (latency cases only).
    pub rtt_us: Option<f64>,
    /// `pub-sub`: the number of subscribers.
    pub subscribers: Option<usize>,
    /// `pub-match`: the number of distinct subscriptions.
    pub subscriptions: Option<usize>,
    /// PUB/SUB: messages that some subscriber never received (0 unless something is wrong: the
    /// publisher waits for full subscribers).
    pub dropped: Option<u64>,
    /// Where the threads ran.
    pub placement: Placement,
}

impl Row {
    /// Mean one-way latency in microseconds: half the round trip, as libzmq's `local_lat` and
    /// `remote_lat` print it (latency cases only).
    pub fn latency_us(&self) -> Option<f64> {
        self.rtt_us.map(|rtt| rtt / 2.0)
    }

    /// The row as one JSON object: `rtt_us` is the round trip, `latency_us` one way (half of it).
    /// `subscribers` (pub-sub), `subscriptions` (pub-match) and `dropped` (both) appear only in
    /// the rows they apply to.
    pub fn to_json(&self) -> String {
        let micros = |v: Option<f64>| v.map_or_else(|| "null".to_owned(), |v| format!("{v:.3}"));
        let mut fan = String::new();
        if let Some(n) = self.subscribers {
            fan.push_str(&format!(",\"subscribers\":{n}"));
        }
        if let Some(n) = self.subscriptions {
            fan.push_str(&format!(",\"subscriptions\":{n}"));
        }
        let dropped = self
            .dropped
            .map_or_else(String::new, |n| format!(",\"dropped\":{n}"));
        format!(
            "{{\"pattern\":\"{}\",\"transport\":\"{}\",\"size\":{},\"count\":{}{fan},\"placement\":\"{}\",\"msgs_per_s\":{:.1},\"mb_per_s\":{:.3},\"rtt_us\":{},\"latency_us\":{}{dropped}}}",
            self.pattern,
            self.transport.name(),
            self.size,
            self.count,
            self.placement.name(),
            self.msgs_per_s,
            self.mb_per_s,
            micros(self.rtt_us),
            micros(self.latency_us())
        )
    }

    /// Subscribers (pub-sub) or subscriptions (pub-match).
    pub fn subs(&self) -> Option<usize> {
        self.subscribers.or(self.subscriptions)
    }
}

/// Default message counts per size, chosen so that each case runs for about a second or less.
pub fn default_count(pattern: Pattern, size: usize) -> u64 {
    let stream = match size {
        s if s <= 256 => 2_000_000,
        s if s <= 4096 => 500_000,
        _ => 20_000,
    };
    let round_trips = if size <= 4096 { 20_000 } else { 5_000 };
    match pattern {
        Pattern::PushPull | Pattern::DealerRouter | Pattern::Proxy => stream,
        Pattern::PairRtt | Pattern::ReqRepRtt => round_trips,
        // A million deliveries for small messages, shared out among the subscribers, and at
        // least 2,000 messages.
        Pattern::PubSub { subscribers } => {
            (stream / 2 / subscribers.max(1) as u64).clamp(2_000.min(stream), stream)
        }
        // 500,000 small messages: each of 100,000 topics five times.
        Pattern::PubMatch { .. } => stream / 4,
    }
}

/// Which measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// PUSH → PULL throughput (`push-pull`).
    PushPull,
    /// PAIR ↔ PAIR round trips (`pair-rtt`).
    PairRtt,
    /// DEALER → ROUTER throughput (`dealer-router`): the ROUTER receives `[id][body]`.
    DealerRouter,
    /// DEALER → ROUTER throughput through the library's own proxy (`proxy`): the sender's
    /// DEALER → the proxy's ROUTER frontend, its DEALER backend → the receiving ROUTER, which
    /// receives `[backend id][sender id][body]`.
    Proxy,
    /// REQ ↔ REP round trips (`req-rep-rtt`).
    ReqRepRtt,
    /// One PUB → `subscribers` SUBs, each subscribed to everything (`pub-sub`).
    PubSub {
        /// How many SUB sockets.
        subscribers: usize,
    },
    /// One PUB → one SUB with `subscriptions` distinct topics; each message matches one
    /// (`pub-match`).
    PubMatch {
        /// How many topics the SUB subscribes to.
        subscriptions: usize,
    },
}

impl Pattern {
    /// The name in reports and JSON (`push-pull`, `pair-rtt`, `dealer-router`, `req-rep-rtt`,
    /// `pub-sub`, `pub-match`).
    pub fn name(self) -> &'static str {
        self.workload().name()
    }

    /// The workload without its parameters.
    pub fn workload(self) -> Workload {
        match self {
            Pattern::PushPull => Workload::PushPull,
            Pattern::PairRtt => Workload::PairRtt,
            Pattern::DealerRouter => Workload::DealerRouter,
            Pattern::Proxy => Workload::Proxy,
            Pattern::ReqRepRtt => Workload::ReqRepRtt,
            Pattern::PubSub { .. } => Workload::PubSub,
            Pattern::PubMatch { .. } => Workload::PubMatch,
        }
    }

    /// Round trips (the figure is a time, lower is better) rather than throughput.
    pub fn is_latency(self) -> bool {
        self.workload().is_latency()
    }

    /// The socket kinds the workload needs.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Pattern::PushPull => &[Kind::Push, Kind::Pull],
            Pattern::PairRtt => &[Kind::Pair],
            Pattern::DealerRouter | Pattern::Proxy => &[Kind::Dealer, Kind::Router],
            Pattern::ReqRepRtt => &[Kind::Req, Kind::Rep],
            Pattern::PubSub { .. } | Pattern::PubMatch { .. } => &[Kind::Pub, Kind::Sub],
        }
    }

    /// Subscribers (pub-sub) or subscriptions (pub-match).
    pub fn subs(self) -> Option<usize> {
        match self {
            Pattern::PubSub { subscribers } => Some(subscribers),
            Pattern::PubMatch { subscriptions } => Some(subscriptions),
            _ => None,
        }
    }
}

/// A workload by name, as `--pattern` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Workload {
    /// PUSH → PULL throughput.
    PushPull,
    /// PAIR round trips.
    PairRtt,
    /// DEALER → ROUTER throughput.
    DealerRouter,
    /// DEALER → ROUTER throughput through the library's ROUTER/DEALER proxy.
    Proxy,
    /// REQ/REP round trips.
    ReqRepRtt,
    /// PUB → N SUBs fan-out throughput (`--subscribers`, default 1, 10, 100).
    PubSub,
    /// PUB → SUB throughput with N subscriptions (`--subscriptions`, default 10, 100000).
    PubMatch,
    /// Every workload.
    All,
}

impl Workload {
    /// Every workload, in report order.
    pub const EVERY: [Workload; 7] = [
        Workload::PushPull,
        Workload::DealerRouter,
        Workload::Proxy,
        Workload::PubSub,
        Workload::PubMatch,
        Workload::PairRtt,
        Workload::ReqRepRtt,
    ];

    /// The name in reports, JSON and `--pattern`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PushPull => "push-pull",
            Workload::PairRtt => "pair-rtt",
            Workload::DealerRouter => "dealer-router",
            Workload::Proxy => "proxy",
            Workload::ReqRepRtt => "req-rep-rtt",
            Workload::PubSub => "pub-sub",
            Workload::PubMatch => "pub-match",
            Workload::All => "all",
        }
    }

    /// Round trips rather than throughput.
    pub fn is_latency(self) -> bool {
        matches!(self, Workload::PairRtt | Workload::ReqRepRtt)
    }
}

/// The message sizes benchmarked by default.
pub const DEFAULT_SIZES: [usize; 4] = [1, 64, 1024, 65536];

/// The message size the PUB/SUB workloads use by default.
pub const DEFAULT_PUB_SIZE: usize = 64;

/// The subscriber counts `pub-sub` runs by default.
pub const DEFAULT_SUBSCRIBERS: [usize; 3] = [1, 10, 100];

/// The subscription counts `pub-match` runs by default.
pub const DEFAULT_SUBSCRIPTIONS: [usize; 2] = [10, 100_000];

/// One benchmark case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The workload.
    pub pattern: Pattern,
    /// The transport.
    pub transport: Transport,
    /// Message size in bytes.
    pub size: usize,
    /// Messages or round trips.
    pub count: u64,
    /// Where the threads run.
    pub placement: Placement,
}

impl Case {
    /// The case for progress lines: `pub-sub x10 tcp 64 B x 40,000`.
    pub fn label(&self) -> String {
        let subs = self
            .pattern
            .subs()
            .map_or_else(String::new, |n| format!(" x{}", thousands_u64(n as u64)));
        let placed = match self.placement {
            Placement::Os => String::new(),
            placement => format!(" ({})", placement.name()),
        };
        format!(
            "{}{subs} {} {} x {}{placed}",
            self.pattern.name(),
            self.transport.name(),
            human_size(self.size),
            thousands_u64(self.count)
        )
    }

    /// Runs the case on `driver`. With a placement, it runs in a thread of its own, which
    /// pins itself (and through it the threads it starts) and ends with the case.
    pub fn run<D: Driver>(&self, driver: &D) -> Row {
        let run = || run_case(driver, self);
        match self.placement {
            Placement::Os => run(),
            _ => std::thread::scope(|scope| {
                scope.spawn(run).join().expect("benchmark thread panicked")
            }),
        }
    }
}

/// The flags that pick benchmark cases, shared by `oxmq bench` and `vs-libzmq`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CaseArgs {
    /// Only this workload; repeat for several (default: push-pull and pair-rtt; `all` for
    /// every one).
    #[arg(long, value_enum, value_name = "NAME")]
    pub pattern: Vec<Workload>,
    /// Only this transport (inproc, ipc, tcp); repeat for several.
    #[arg(long)]
    pub transport: Vec<Transport>,
    /// Only this message size in bytes; repeat for several (default 1, 64, 1024, 65536; 64 for
    /// pub-sub and pub-match, whose messages are at least as long as their topic).
    #[arg(long)]
    pub size: Vec<usize>,
    /// Messages per throughput case (for pub-sub and pub-match: messages published) and round
    /// trips per latency case, at least 1 (default: by size, and by subscribers for pub-sub).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,
    /// Only throughput (`thr`) or only latency (`lat`).
    #[arg(long, value_parser = ["thr", "lat"])]
    pub only: Option<String>,
    /// pub-sub: this many subscribers; repeat for several (default 1, 10, 100).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub subscribers: Vec<u64>,
    /// pub-match: this many subscriptions; repeat for several (default 10, 100000).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub subscriptions: Vec<u64>,
    /// Where the threads run: `os` (the scheduler decides), `one` (all on one CPU), `paired`
    /// (each side's application and I/O threads share a CPU), `split` (application threads on
    /// one CPU, I/O threads on the other), `crossed` (each application thread shares a CPU with
    /// the other side's I/O thread). Uses the first two CPUs the process may run on.
    #[arg(long, value_enum, default_value_t = Placement::Os, value_name = "WHERE")]
    pub placement: Placement,
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
    /// The selected workloads, in report order (push-pull and pair-rtt when none is named).
    pub fn workloads(&self) -> Vec<Workload> {
        let named = if self.pattern.is_empty() {
            vec![Workload::PushPull, Workload::PairRtt]
        } else {
            self.pattern.clone()
        };
        Workload::EVERY
            .into_iter()
            .filter(|w| named.contains(w) || named.contains(&Workload::All))
            .filter(|w| match self.only.as_deref() {
                Some("thr") => !w.is_latency(),
                Some("lat") => w.is_latency(),
                _ => true,
            })
            .collect()
    }

    /// The selected cases.
    pub fn cases(&self) -> Vec<Case> {
        let transports = if self.transport.is_empty() {
            &Transport::ALL[..]
        } else {
            &self.transport[..]
        };
        let or_default = |given: &[u64], default: &[usize]| -> Vec<usize> {
            if given.is_empty() {
                default.to_vec()
            } else {
                given.iter().map(|&n| n as usize).collect()
            }
        };
        let mut cases = Vec::new();
        for workload in self.workloads() {
            let patterns: Vec<Pattern> = match workload {
                Workload::PushPull => vec![Pattern::PushPull],
                Workload::PairRtt => vec![Pattern::PairRtt],
                Workload::DealerRouter => vec![Pattern::DealerRouter],
                Workload::Proxy => vec![Pattern::Proxy],
                Workload::ReqRepRtt => vec![Pattern::ReqRepRtt],
                Workload::PubSub => or_default(&self.subscribers, &DEFAULT_SUBSCRIBERS)
                    .into_iter()
                    .map(|subscribers| Pattern::PubSub { subscribers })
                    .collect(),
                Workload::PubMatch => or_default(&self.subscriptions, &DEFAULT_SUBSCRIPTIONS)
                    .into_iter()
                    .map(|subscriptions| Pattern::PubMatch { subscriptions })
                    .collect(),
                Workload::All => Vec::new(),
            };
            let sizes: &[usize] = match (self.size.is_empty(), workload) {
                (false, _) => &self.size,
                (true, Workload::PubSub | Workload::PubMatch) => &[DEFAULT_PUB_SIZE],
                (true, _) => &DEFAULT_SIZES,
            };
            for &pattern in &patterns {
                for &transport in transports {
                    for &size in sizes {
                        let count = self.count.unwrap_or_else(|| default_count(pattern, size));
                        cases.push(Case {
                            pattern,
                            transport,
                            size,
                            count,
                            placement: self.placement,
                        });
                    }
                }
            }
        }
        cases
    }
}

/// Runs one case.
pub fn run<D: Driver>(
    driver: &D,
    pattern: Pattern,
    transport: Transport,
    size: usize,
    count: u64,
) -> Row {
    unplaced(pattern, transport, size, count).run(driver)
}

/// A case whose threads run where the operating system puts them.
fn unplaced(pattern: Pattern, transport: Transport, size: usize, count: u64) -> Case {
    Case {
        pattern,
        transport,
        size,
        count,
        placement: Placement::Os,
    }
}

/// Runs one case on the calling thread, pinning its threads as the case's placement says (the
/// calling thread included).
fn run_case<D: Driver>(driver: &D, case: &Case) -> Row {
    match case.pattern {
        Pattern::PushPull | Pattern::DealerRouter => stream(driver, case),
        Pattern::Proxy => proxied_stream(driver, case),
        Pattern::PairRtt | Pattern::ReqRepRtt => round_trips(driver, case),
        Pattern::PubSub { subscribers } => publish_case(driver, case, (subscribers, None)),
        Pattern::PubMatch { subscriptions } => publish_case(driver, case, (1, Some(subscriptions))),
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
    stream(driver, &unplaced(Pattern::PushPull, transport, size, count))
}

/// PAIR round trips: one side sends and waits for the echo, `count` times.
pub fn latency<D: Driver>(driver: &D, transport: Transport, size: usize, count: u64) -> Row {
    round_trips(driver, &unplaced(Pattern::PairRtt, transport, size, count))
}

/// A row of `case` with no figures and no PUB/SUB fields; `size` and `count` are those the
/// workload used.
fn plain_row(case: &Case, size: usize, count: u64) -> Row {
    Row {
        pattern: case.pattern.name(),
        transport: case.transport,
        size,
        count,
        msgs_per_s: 0.0,
        mb_per_s: 0.0,
        rtt_us: None,
        subscribers: None,
        subscriptions: None,
        dropped: None,
        placement: case.placement,
    }
}

/// One-way throughput, PUSH → PULL or DEALER → ROUTER (the receiving side binds): the receiver's
/// clock runs from the first message to the last.
fn stream<D: Driver>(driver: &D, case: &Case) -> Row {
    let &Case {
        pattern,
        transport,
        size,
        count,
        placement,
    } = case;
    let (tx_kind, rx_kind) = match pattern {
        Pattern::DealerRouter => (Kind::Dealer, Kind::Router),
        _ => (Kind::Push, Kind::Pull),
    };
    let count = count.max(1);
    let (rx_ctx, tx_ctx) = contexts(driver, transport);
    // Each context starts its I/O threads with its first socket or endpoint, on this
    // thread's CPU.
    placement.pin(Role::ReceiverIo);
    let receiver = driver.socket(&rx_ctx, rx_kind);
    let endpoint = driver.bind(&receiver, &transport.endpoint("thr"));
    let (elapsed, receiver) = std::thread::scope(|scope| {
        let receiving =
            scope.spawn(move || receive_timed(driver, receiver, size, count, placement));
        placement.pin(Role::SenderIo);
        let sender = driver.socket(&tx_ctx, tx_kind);
        driver.connect(&sender, &endpoint);
        send_count(driver, &sender, size, count, placement);
        let elapsed = receiving.join().expect("receiver thread panicked");
        drop(sender);
        elapsed
    });
    drop(receiver);
    stream_row(case, size, count, elapsed)
}

/// The row of a stream of `count` messages of `size` bytes received in `elapsed`, timed from
/// the first message (so it measures count - 1 messages).
fn stream_row(case: &Case, size: usize, count: u64, elapsed: Duration) -> Row {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let measured = count.saturating_sub(1).max(1) as f64;
    let msgs_per_s = measured / secs;
    Row {
        msgs_per_s,
        mb_per_s: msgs_per_s * size as f64 / 1e6,
        ..plain_row(case, size, count)
    }
}

/// The receiving side of a stream, on its own thread: receives `count` messages of `size`
/// bytes; the clock runs from the first to the last. Returns the time and the socket.
fn receive_timed<D: Driver>(
    driver: &D,
    receiver: D::Socket,
    size: usize,
    count: u64,
    placement: Placement,
) -> (Duration, D::Socket) {
    placement.pin(Role::ReceiverApp);
    let first = driver.recv(&receiver);
    assert_eq!(first, size, "received a message of the wrong size");
    let start = Instant::now();
    for _ in 1..count {
        driver.recv(&receiver);
    }
    (start.elapsed(), receiver)
}

/// The sending side of a stream: `count` messages of `size` bytes.
fn send_count<D: Driver>(
    driver: &D,
    sender: &D::Socket,
    size: usize,
    count: u64,
    placement: Placement,
) {
    placement.pin(Role::SenderApp);
    let payload = vec![0x5a_u8; size];
    for _ in 0..count {
        driver.send(sender, &payload);
    }
}

/// DEALER → ROUTER throughput through the library's proxy, on a thread of its own with a
/// context of its own (over inproc, one context for all): the receiving ROUTER binds, the
/// proxy's DEALER backend connects to it, the sender's DEALER connects to the proxy's ROUTER
/// frontend. The receiver's clock runs from the first message to the last; after the run a
/// PAIR tells the proxy to TERMINATE.
fn proxied_stream<D: Driver>(driver: &D, case: &Case) -> Row {
    let &Case {
        transport,
        size,
        count,
        placement,
        ..
    } = case;
    let count = count.max(1);
    let proxy_ctx = driver.context();
    let (rx_ctx, tx_ctx) = if transport == Transport::Inproc {
        (proxy_ctx.clone(), proxy_ctx.clone())
    } else {
        (driver.context(), driver.context())
    };
    placement.pin(Role::ReceiverIo);
    let receiver = driver.socket(&rx_ctx, Kind::Router);
    let rx_endpoint = driver.bind(&receiver, &transport.endpoint("proxy-rx"));
    let frontend = driver.socket(&proxy_ctx, Kind::Router);
    let fe_endpoint = driver.bind(&frontend, &transport.endpoint("proxy-fe"));
    let backend = driver.socket(&proxy_ctx, Kind::Dealer);
    driver.connect(&backend, &rx_endpoint);
    let control = driver.socket(&proxy_ctx, Kind::Pair);
    let control_endpoint = driver.bind(&control, &Transport::Inproc.endpoint("proxy-ctl"));
    let steer = driver.socket(&proxy_ctx, Kind::Pair);
    driver.connect(&steer, &control_endpoint);
    let elapsed = std::thread::scope(|scope| {
        let proxy = scope.spawn(move || driver.proxy(frontend, backend, control));
        let receiving =
            scope.spawn(move || receive_timed(driver, receiver, size, count, placement));
        placement.pin(Role::SenderIo);
        let sender = driver.socket(&tx_ctx, Kind::Dealer);
        driver.connect(&sender, &fe_endpoint);
        send_count(driver, &sender, size, count, placement);
        let (elapsed, receiver) = receiving.join().expect("receiver thread panicked");
        driver.send(&steer, b"TERMINATE");
        proxy.join().expect("proxy thread panicked");
        drop((sender, receiver, steer));
        elapsed
    });
    drop((rx_ctx, tx_ctx, proxy_ctx));
    stream_row(case, size, count, elapsed)
}

/// Round trips, PAIR ↔ PAIR or REQ → REP (the echoing side binds): one side sends and waits for
/// the echo, `count` times.
fn round_trips<D: Driver>(driver: &D, case: &Case) -> Row {
    let &Case {
        pattern,
        transport,
        size,
        count,
        placement,
    } = case;
    let (client_kind, server_kind) = match pattern {
        Pattern::ReqRepRtt => (Kind::Req, Kind::Rep),
        _ => (Kind::Pair, Kind::Pair),
    };
    let count = count.max(1);
    let (a_ctx, b_ctx) = contexts(driver, transport);
    // The echoing side receives first: it takes the receiver's places.
    placement.pin(Role::ReceiverIo);
    let echo = driver.socket(&a_ctx, server_kind);
    let endpoint = driver.bind(&echo, &transport.endpoint("lat"));
    let (elapsed, echo): (Duration, D::Socket) = std::thread::scope(|scope| {
        let echoer = scope.spawn(move || {
            placement.pin(Role::ReceiverApp);
            let payload = vec![0xa5_u8; size];
            for _ in 0..count {
                driver.recv(&echo);
                driver.send(&echo, &payload);
            }
            echo
        });
        placement.pin(Role::SenderIo);
        let pinger = driver.socket(&b_ctx, client_kind);
        driver.connect(&pinger, &endpoint);
        placement.pin(Role::SenderApp);
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
        msgs_per_s: round_trips / secs,
        mb_per_s: round_trips * size as f64 * 2.0 / secs / 1e6,
        rtt_us: Some(secs * 1e6 / round_trips),
        ..plain_row(case, size, count)
    }
}

/// The first bytes of every `pub-match` topic; the rest is the topic's number.
const TOPIC_PREFIX: &[u8] = b"topic.";

/// The subscription that lets the sync messages through in `pub-match` (no topic starts with it).
const SYNC_TOPIC: &[u8] = b"~";

/// The number of digits in the `pub-match` topics for `n` subscriptions: at least 6.
fn topic_digits(n: usize) -> usize {
    n.saturating_sub(1).max(1).to_string().len().max(6)
}

/// Writes topic number `k` (of `n`) at the start of `buf`: `topic.000042`.
fn write_topic(buf: &mut [u8], k: usize, n: usize) {
    let digits = topic_digits(n);
    buf[..TOPIC_PREFIX.len()].copy_from_slice(TOPIC_PREFIX);
    let mut rest = k;
    for at in (TOPIC_PREFIX.len()..TOPIC_PREFIX.len() + digits).rev() {
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// A step through the topics that visits each once per `n` messages, in an order that jumps
/// about the subscription tree instead of walking it in sequence: the smallest number from
/// 7,919 up that shares no factor with `n`.
fn topic_stride(n: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    (7919..).find(|&s| gcd(s, n) == 1).unwrap_or(1)
}

/// The publish-side state shared with the receiving thread.
const WAITING: u8 = 0;
const SYNCED: u8 = 1;
const FAILED: u8 = 2;

/// PUB/SUB: one PUB, `subscribers` SUBs, every message to every subscriber.
///
/// With `topics` `None` (`pub-sub`) each SUB subscribes to everything. With `Some(n)`
/// (`pub-match`; one SUB) the SUB subscribes to `n` distinct topics (`topic.000000`, ...) and
/// each message starts with one of them, chosen in an order that jumps about (so both the
/// publisher's and the subscriber's filters look up a different topic each time), and matches
/// exactly that one subscription: the difference between few and many subscriptions is the
/// cost of matching.
///
/// Before the clock starts, the publisher sends sync messages (one byte longer than the
/// payload) every millisecond until each subscriber has received one, so every subscription has
/// reached the PUB (subscriptions travel in order on each connection, the sync one last). Then
/// it sends `count` messages; one thread receives for all subscribers, round-robin without
/// blocking, and when none has a message waiting, blocks on the subscriber that is furthest
/// behind (it must get the next message). The clock runs from the first send to the last
/// message any subscriber receives. The PUB has XPUB_NODROP, so no message is dropped at a
/// high-water mark; a subscriber that gets nothing for [`SUB_RCVTIMEO_MS`] ends the run, and
/// what it missed is reported as dropped.
#[allow(clippy::too_many_arguments)]
pub fn publish<D: Driver>(
    driver: &D,
    pattern: Pattern,
    transport: Transport,
    size: usize,
    count: u64,
    subscribers: usize,
    topics: Option<usize>,
) -> Row {
    publish_case(
        driver,
        &unplaced(pattern, transport, size, count),
        (subscribers, topics),
    )
}

/// [`publish`] for `case`, its threads pinned as the case's placement says; `fan` is the
/// subscribers and the subscriptions of each.
fn publish_case<D: Driver>(driver: &D, case: &Case, fan: (usize, Option<usize>)) -> Row {
    let &Case {
        transport,
        size,
        count,
        placement,
        ..
    } = case;
    let (subscribers, topics) = fan;
    let count = count.max(1);
    let subscribers = subscribers.max(1);
    let size = match topics {
        Some(n) => size.max(TOPIC_PREFIX.len() + topic_digits(n)),
        None => size,
    };
    let (pub_ctx, sub_ctx) = contexts(driver, transport);
    placement.pin(Role::SenderIo);
    let publisher = driver.socket(&pub_ctx, Kind::Pub);
    let endpoint = driver.bind(&publisher, &transport.endpoint("pub"));
    placement.pin(Role::ReceiverIo);
    let subs: Vec<D::Socket> = (0..subscribers)
        .map(|_| {
            let sub = driver.socket(&sub_ctx, Kind::Sub);
            driver.connect(&sub, &endpoint);
            match topics {
                None => driver.subscribe(&sub, b""),
                Some(n) => {
                    let mut topic = vec![0u8; TOPIC_PREFIX.len() + topic_digits(n)];
                    for k in 0..n {
                        write_topic(&mut topic, k, n);
                        driver.subscribe(&sub, &topic);
                    }
                    driver.subscribe(&sub, SYNC_TOPIC);
                }
            }
            sub
        })
        .collect();
    let state = AtomicU8::new(WAITING);
    let (start, end, received, subs) = std::thread::scope(|scope| {
        let state = &state;
        let receiving = scope.spawn(move || {
            placement.pin(Role::ReceiverApp);
            let delivery = receive_all(driver, &subs, size, count, || {
                state.store(SYNCED, Ordering::Release)
            });
            if delivery.is_none() {
                state.store(FAILED, Ordering::Release);
            }
            let (end, received) = delivery.map_or_else(
                || (Instant::now(), vec![0; subs.len()]),
                |d| (d.end, d.received),
            );
            (end, received, subs)
        });
        placement.pin(Role::SenderApp);
        let mut sync = vec![0u8; size + 1];
        sync[..SYNC_TOPIC.len()].copy_from_slice(SYNC_TOPIC);
        while state.load(Ordering::Acquire) == WAITING {
            driver.send(&publisher, &sync);
            std::thread::sleep(Duration::from_millis(1));
        }
        let start = Instant::now();
        if state.load(Ordering::Acquire) == SYNCED {
            let mut payload = vec![0x5a_u8; size];
            match topics {
                None => {
                    for _ in 0..count {
                        driver.send(&publisher, &payload);
                    }
                }
                Some(n) => {
                    let stride = topic_stride(n);
                    let mut k = 0;
                    for _ in 0..count {
                        write_topic(&mut payload, k, n);
                        driver.send(&publisher, &payload);
                        k = (k + stride) % n;
                    }
                }
            }
        }
        let (end, received, subs) = receiving.join().expect("receiver thread panicked");
        (start, end, received, subs)
    });
    assert_ne!(
        state.load(Ordering::Acquire),
        FAILED,
        "{}: a subscriber got no sync message within {SUB_RCVTIMEO_MS} ms",
        driver.name()
    );
    drop(subs);
    drop(publisher);
    let dropped: u64 = received.iter().map(|&got| count - got).sum();
    let secs = end.saturating_duration_since(start).as_secs_f64().max(1e-9);
    let msgs_per_s = count as f64 / secs;
    Row {
        msgs_per_s,
        mb_per_s: msgs_per_s * size as f64 / 1e6,
        subscribers: topics.is_none().then_some(subscribers),
        subscriptions: topics,
        dropped: Some(dropped),
        ..plain_row(case, size, count)
    }
}

/// What [`receive_all`] saw.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// When the first message of the run (not a sync message) arrived, on any subscriber.
    pub first: Option<Instant>,
    /// When the last one arrived, or a subscriber gave up waiting.
    pub end: Instant,
    /// How many messages each subscriber received.
    pub received: Vec<u64>,
}

/// The receiving side of [`publish`] (and of fan-out runs whose publisher is another process):
/// waits for a sync message (one byte longer than the payload) on every subscriber, calls
/// `synced` (the publisher may start), then counts `count` messages of `size` bytes on each.
/// `None` when a subscriber got no sync message within its RCVTIMEO.
pub fn receive_all<D: Driver>(
    driver: &D,
    subs: &[D::Socket],
    size: usize,
    count: u64,
    synced: impl FnOnce(),
) -> Option<Delivery> {
    let mut received = vec![0u64; subs.len()];
    // Before the publisher sends the payload, only sync messages arrive: one on each
    // subscriber shows that its subscriptions are in place.
    for sub in subs {
        driver.recv_within(sub, true)?;
    }
    synced();
    let mut first = None;
    let mut counted = |got: &mut u64, remaining: &mut usize| {
        if first.is_none() {
            first = Some(Instant::now());
        }
        *got += 1;
        if *got == count {
            *remaining -= 1;
        }
    };
    let mut remaining = subs.len();
    while remaining > 0 {
        let mut progress = false;
        for (sub, got) in subs.iter().zip(received.iter_mut()) {
            while *got < count {
                match driver.recv_within(sub, false) {
                    // Sync messages still on their way are one byte longer: skip them.
                    Some(len) => {
                        progress = true;
                        if len == size {
                            counted(got, &mut remaining);
                        }
                    }
                    None => break,
                }
            }
        }
        if progress || remaining == 0 {
            continue;
        }
        // Nothing waiting anywhere: wait on the subscriber furthest behind, which must receive
        // the next message the publisher sends.
        let (laggard, got) = received
            .iter_mut()
            .enumerate()
            .filter(|(_, got)| **got < count)
            .min_by_key(|(_, got)| **got)
            .expect("a subscriber still waits");
        match driver.recv_within(&subs[laggard], true) {
            Some(len) if len == size => counted(got, &mut remaining),
            Some(_) => {}
            // Nothing for SUB_RCVTIMEO_MS: what did not come was dropped.
            None => break,
        }
    }
    Some(Delivery {
        first,
        end: Instant::now(),
        received,
    })
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
/// Tables with PUB/SUB rows have one more, [`SUBS_COLUMN`], after the transport.
pub const TABLE_COLUMNS: [&str; 7] = [
    "pattern",
    "transport",
    "size",
    "count",
    "msgs/s",
    "MB/s",
    "round-trip µs",
];

/// The column that [`table`] adds after the transport when a row has subscribers (pub-sub) or
/// subscriptions (pub-match).
pub const SUBS_COLUMN: &str = "subs";

impl Row {
    /// The row's cells under [`TABLE_COLUMNS`], with the subscriber or subscription count after
    /// the transport when `subs`.
    fn cells(&self, subs: bool) -> Vec<String> {
        let mut cells = vec![self.pattern.to_owned(), self.transport.name().to_owned()];
        if subs {
            cells.push(
                self.subs()
                    .map_or_else(|| "-".to_owned(), |n| thousands_u64(n as u64)),
            );
        }
        cells.extend([
            human_size(self.size),
            thousands_u64(self.count),
            thousands(self.msgs_per_s),
            format!("{:.1}", self.mb_per_s),
            self.rtt_us
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
        ]);
        cells
    }
}

/// The results as a table: a header line, then one line per row, every column as wide as its
/// widest cell (text columns left-aligned, numbers right-aligned), without trailing spaces. A
/// `subs` column (subscribers for pub-sub, subscriptions for pub-match) follows the transport
/// when any row has one.
pub fn table(rows: &[Row]) -> String {
    let subs = rows.iter().any(|row| row.subs().is_some());
    let cells: Vec<Vec<String>> = rows.iter().map(|row| row.cells(subs)).collect();
    let mut header: Vec<String> = TABLE_COLUMNS.iter().map(|&t| t.to_owned()).collect();
    if subs {
        header.insert(2, SUBS_COLUMN.to_owned());
    }
    let mut widths = vec![0usize; header.len()];
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
            subscribers: None,
            subscriptions: None,
            dropped: None,
            placement: Placement::Crossed,
        };
        let json = row.to_json();
        for field in [
            "\"pattern\":",
            "\"transport\":",
            "\"size\":",
            "\"count\":",
            "\"placement\":\"crossed\"",
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
                subscribers: None,
                subscriptions: None,
                dropped: None,
                placement: Placement::Os,
            },
            Row {
                pattern: "pair-rtt",
                transport: Transport::Tcp,
                size: 1,
                count: 500,
                msgs_per_s: 10_000.0,
                mb_per_s: 0.02,
                rtt_us: Some(83.94),
                subscribers: None,
                subscriptions: None,
                dropped: None,
                placement: Placement::Os,
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

    #[test]
    fn pub_rows_carry_their_fan_in_json_and_table() {
        let row = Row {
            pattern: "pub-sub",
            transport: Transport::Tcp,
            size: 64,
            count: 4000,
            msgs_per_s: 1000.0,
            mb_per_s: 0.064,
            rtt_us: None,
            subscribers: Some(100),
            subscriptions: None,
            dropped: Some(0),
            placement: Placement::Os,
        };
        let json = row.to_json();
        assert!(json.contains("\"subscribers\":100,"), "{json}");
        assert!(!json.contains("subscriptions"), "{json}");
        assert!(json.ends_with("\"dropped\":0}"), "{json}");
        let matching = Row {
            pattern: "pub-match",
            subscribers: None,
            subscriptions: Some(100_000),
            ..row.clone()
        };
        assert!(matching.to_json().contains("\"subscriptions\":100000,"));
        let plain = Row {
            pattern: "push-pull",
            subscribers: None,
            dropped: None,
            ..row.clone()
        };
        assert!(!plain.to_json().contains("dropped"));
        assert!(!table(std::slice::from_ref(&plain)).contains("subs"));
        let text = table(&[plain, row, matching]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("pattern    transport     subs  size"),
            "{text}"
        );
        let end_of = |line: &str, word: &str| {
            line.find(word)
                .map(|i| line[..i + word.len()].chars().count())
        };
        assert_eq!(end_of(lines[0], "subs"), end_of(lines[1], " -"), "{text}");
        assert_eq!(end_of(lines[0], "subs"), end_of(lines[2], " 100"), "{text}");
        assert_eq!(
            end_of(lines[0], "subs"),
            end_of(lines[3], "100,000"),
            "{text}"
        );
    }

    #[test]
    fn a_placed_case_runs_in_a_thread_of_its_own_and_reports_where() {
        let args = CaseArgs {
            pattern: vec![Workload::PushPull],
            transport: vec![Transport::Inproc],
            size: vec![64],
            count: Some(2_000),
            placement: Placement::One,
            ..CaseArgs::default()
        };
        let cases = args.cases();
        assert!(cases.iter().all(|c| c.placement == Placement::One));
        assert!(cases[0].label().ends_with(" (one)"), "{}", cases[0].label());
        let before = core_affinity::get_core_ids().unwrap_or_default();
        let row = cases[0].run(&Oxmq);
        assert_eq!(row.placement, Placement::One);
        assert!(row.to_json().contains("\"placement\":\"one\""));
        assert!(row.msgs_per_s > 0.0);
        // The calling thread was not pinned: the case pinned a thread of its own.
        assert_eq!(core_affinity::get_core_ids().unwrap_or_default(), before);
    }

    #[test]
    fn pattern_flags_pick_cases() {
        let args = |pattern: Vec<Workload>| CaseArgs {
            pattern,
            transport: vec![Transport::Inproc],
            ..CaseArgs::default()
        };
        let names = |cases: &[Case]| -> Vec<String> { cases.iter().map(Case::label).collect() };
        // The default stays push-pull and pair-rtt over every size.
        let default = args(Vec::new()).cases();
        assert_eq!(default.len(), 8, "{:?}", names(&default));
        assert!(
            default
                .iter()
                .all(|c| matches!(c.pattern, Pattern::PushPull | Pattern::PairRtt))
        );
        let fan = args(vec![Workload::PubSub]).cases();
        assert_eq!(
            fan.iter().map(|c| c.pattern.subs()).collect::<Vec<_>>(),
            [Some(1), Some(10), Some(100)]
        );
        assert!(fan.iter().all(|c| c.size == DEFAULT_PUB_SIZE));
        let matching = CaseArgs {
            subscriptions: vec![7],
            count: Some(99),
            ..args(vec![Workload::PubMatch])
        }
        .cases();
        assert_eq!(matching.len(), 1);
        assert_eq!(matching[0].pattern, Pattern::PubMatch { subscriptions: 7 });
        assert_eq!(matching[0].count, 99);
        assert_eq!(matching[0].label(), "pub-match x7 inproc 64 B x 99");
        let all = args(vec![Workload::All]).cases();
        let workloads: Vec<&str> = all.iter().map(|c| c.pattern.name()).collect();
        for name in [
            "push-pull",
            "dealer-router",
            "proxy",
            "pub-sub",
            "pub-match",
            "pair-rtt",
            "req-rep-rtt",
        ] {
            assert!(workloads.contains(&name), "{name} missing: {workloads:?}");
        }
        let latency = CaseArgs {
            only: Some("lat".to_owned()),
            ..args(vec![Workload::All])
        };
        assert_eq!(
            latency.workloads(),
            [Workload::PairRtt, Workload::ReqRepRtt]
        );
    }

    #[test]
    fn topics_are_distinct_and_visited_once_per_round() {
        let n = 100_000;
        let stride = topic_stride(n);
        let mut seen = vec![false; n];
        let mut k = 0;
        for _ in 0..n {
            assert!(!seen[k], "topic {k} twice");
            seen[k] = true;
            k = (k + stride) % n;
        }
        let mut buf = [0u8; 16];
        write_topic(&mut buf, 42, n);
        assert_eq!(&buf[..12], b"topic.000042");
        write_topic(&mut buf, 1_234_567, 2_000_000);
        assert_eq!(&buf[..13], b"topic.1234567");
        assert_eq!(topic_stride(10), 7919);
    }

    #[test]
    fn pub_sub_counts() {
        let fan = |subscribers, size| default_count(Pattern::PubSub { subscribers }, size);
        assert_eq!(fan(1, 64), 1_000_000);
        assert_eq!(fan(100, 64), 10_000);
        assert_eq!(fan(10_000, 64), 2_000);
        assert_eq!(fan(1, 65536), 10_000);
        let matching = |subscriptions| default_count(Pattern::PubMatch { subscriptions }, 64);
        assert_eq!(matching(100_000), 500_000);
    }
}
