//! The worker side of `vs-peers`: one process running one library in one role, started by the
//! runner as `vs-peers worker <library> <role> <endpoint> <size> <count> [--cpu N]`.
//!
//! The measuring side prints one line, `RESULT <seconds>`: for throughput the time from the
//! first message received to the last, for latency the time of `count` round trips after
//! [`WARMUP`] untimed ones. Every receiver checks the size of every message.

use std::time::{Duration, Instant};

/// Untimed round trips before a latency run's clock starts (the echo side serves them too).
pub const WARMUP: u64 = 1000;

/// How long a sender waits for its receiver to hang up before it gives up.
#[cfg(feature = "peers")]
pub const HANGUP_WAIT: Duration = Duration::from_secs(120);

/// What a worker process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Binds a PULL socket (a listener for `raw`) and receives `count` messages: measures.
    Recv,
    /// Connects a PUSH socket and sends `count` messages, then waits until all were delivered.
    Send,
    /// Binds a REP socket and echoes `WARMUP + count` requests.
    Echo,
    /// Connects a REQ socket and makes `WARMUP + count` round trips: measures the last `count`.
    Ping,
    /// PUSH -> PULL over inproc, two threads of one process: measures.
    InprocThr,
    /// REQ/REP over inproc, two threads of one process: measures.
    InprocLat,
    /// Binds a PULL socket and holds `count` connections, one message from each: prints the
    /// process's resident memory before and after.
    Hold,
    /// Connects one PUSH socket `count` times to the endpoint and sends one message down each
    /// connection.
    Dial,
    /// Binds a PUB socket, sends sync messages until the runner says `GO` on stdin, then
    /// publishes `count` messages and stays until stdin closes (see `fan_out`).
    Publish,
    /// Connects `subscribers` SUB sockets, says `SYNCED` once a sync message reached each, then
    /// receives `count` messages on every one: measures.
    Subscribe,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Recv,
        Role::Send,
        Role::Echo,
        Role::Ping,
        Role::InprocThr,
        Role::InprocLat,
        Role::Hold,
        Role::Dial,
        Role::Publish,
        Role::Subscribe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Recv => "recv",
            Role::Send => "send",
            Role::Echo => "echo",
            Role::Ping => "ping",
            Role::InprocThr => "inproc-thr",
            Role::InprocLat => "inproc-lat",
            Role::Hold => "hold",
            Role::Dial => "dial",
            Role::Publish => "publish",
            Role::Subscribe => "subscribe",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// One worker's task.
#[derive(Clone, Debug)]
pub struct Job {
    pub role: Role,
    /// `tcp://127.0.0.1:PORT`, `ipc:///path` or `inproc://name`.
    pub endpoint: String,
    pub size: usize,
    pub count: u64,
    /// SUB sockets of a `subscribe` job (1 for every other role).
    pub subscribers: usize,
}

impl Job {
    /// Panics unless `len` is the job's message size: a library that delivered a wrong
    /// message makes its run fail, not count.
    #[inline]
    pub fn check(&self, len: usize) {
        if len != self.size {
            panic!("received a {len}-byte message, sent {}", self.size);
        }
    }

    /// The payload every message carries.
    pub fn payload(&self) -> Vec<u8> {
        vec![b'x'; self.size]
    }
}

/// Times a throughput receive: `take` receives (and checks) one message; the clock runs
/// from the first message to the last.
pub fn time_receive(job: &Job, mut take: impl FnMut()) -> Duration {
    take();
    let start = Instant::now();
    for _ in 1..job.count {
        take();
    }
    start.elapsed()
}

/// Times a ping: `round_trip(n)` makes `n` round trips; the first [`WARMUP`] are not timed.
pub fn time_pings(job: &Job, mut round_trips: impl FnMut(u64)) -> Duration {
    round_trips(WARMUP);
    let start = Instant::now();
    round_trips(job.count);
    start.elapsed()
}

/// Tells the runner that the binding side is listening: the connecting side starts now.
pub fn ready() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY");
    let _ = out.flush();
}

/// This process's resident memory in bytes (`/proc/self/statm`).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// Runs the binding side of an idle-connections measurement: `hold` takes one message (one
/// per connection) and is called `job.count` times once the listener is up.
pub fn hold_connections(job: &Job, mut take: impl FnMut()) -> Duration {
    let before = resident_bytes();
    println!("RSS_BEFORE {before}");
    ready();
    let start = Instant::now();
    for _ in 0..job.count {
        take();
    }
    let time = start.elapsed();
    // Let the I/O threads settle before the reading.
    std::thread::sleep(Duration::from_millis(500));
    println!("RSS_AFTER {}", resident_bytes());
    time
}

/// Puts this process (and every thread it starts from now on) on one CPU.
pub fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only read
    // and write that local value.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The path of an `ipc://` or the `host:port` of a `tcp://` endpoint.
pub fn address(endpoint: &str) -> &str {
    endpoint
        .strip_prefix("ipc://")
        .or_else(|| endpoint.strip_prefix("tcp://"))
        .unwrap_or(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("listen"), None);
    }

    #[test]
    #[should_panic(expected = "received a 3-byte message, sent 4")]
    fn a_wrong_size_fails_the_run() {
        let job = Job {
            role: Role::Recv,
            endpoint: "tcp://127.0.0.1:1".into(),
            size: 4,
            count: 1,
            subscribers: 1,
        };
        job.check(3);
    }

    #[test]
    fn addresses() {
        assert_eq!(address("tcp://127.0.0.1:5555"), "127.0.0.1:5555");
        assert_eq!(address("ipc:///tmp/x.sock"), "/tmp/x.sock");
    }
}
