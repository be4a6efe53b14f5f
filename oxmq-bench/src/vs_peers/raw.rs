//! A plain stream socket in a `vs-peers` worker: the kernel's ceiling for the same workload.
//! tcp (TCP_NODELAY) for `tcp://` endpoints, a unix stream socket for `ipc://`. Throughput:
//! the sender writes `count` buffers of `size` bytes, the receiver reads with a buffer of
//! `size` bytes until all arrived. Latency: `size` bytes each way per round trip.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use super::worker::{Job, Role, WARMUP, address, ready, time_pings};

/// A connected stream of either kind.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn accept(endpoint: &str) -> Stream {
    let addr = address(endpoint);
    if endpoint.starts_with("ipc://") {
        let _ = std::fs::remove_file(addr);
        let listener = UnixListener::bind(addr).expect("bind");
        ready();
        let (stream, _) = listener.accept().expect("accept");
        let _ = std::fs::remove_file(addr);
        Stream::Unix(stream)
    } else {
        let listener = TcpListener::bind(addr).expect("bind");
        ready();
        let (stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Stream::Tcp(stream)
    }
}

/// Connects, retrying for a while: the listener may not be up yet.
fn connect(endpoint: &str) -> Stream {
    let addr = address(endpoint);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let connected = if endpoint.starts_with("ipc://") {
            UnixStream::connect(addr).map(Stream::Unix)
        } else {
            TcpStream::connect(addr).map(|s| {
                s.set_nodelay(true).expect("TCP_NODELAY");
                Stream::Tcp(s)
            })
        };
        match connected {
            Ok(stream) => return stream,
            Err(e) if Instant::now() < deadline => {
                if !matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) {
                    panic!("connect to {endpoint}: {e}");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("connect to {endpoint}: {e}"),
        }
    }
}

/// Runs `job`; the measuring roles return their time.
pub fn run(job: &Job) -> Option<Duration> {
    match job.role {
        Role::Recv => {
            let mut stream = accept(&job.endpoint);
            let io = stream.io();
            let mut buf = vec![0u8; job.size.max(1)];
            let total = job.size as u64 * job.count;
            let mut got = io.read(&mut buf).expect("read") as u64;
            assert!(got > 0, "the sender hung up");
            let start = Instant::now();
            while got < total {
                let n = io.read(&mut buf).expect("read");
                assert!(n > 0, "the sender hung up after {got} of {total} bytes");
                got += n as u64;
            }
            Some(start.elapsed())
        }
        Role::Send => {
            let mut stream = connect(&job.endpoint);
            let io = stream.io();
            let payload = job.payload();
            for _ in 0..job.count {
                io.write_all(&payload).expect("write");
            }
            // Wait for the receiver to close: everything arrived.
            let _ = io.read(&mut [0u8; 1]);
            None
        }
        Role::Echo => {
            let mut stream = accept(&job.endpoint);
            let io = stream.io();
            let mut buf = job.payload();
            for _ in 0..job.count + WARMUP {
                io.read_exact(&mut buf).expect("read");
                io.write_all(&buf).expect("write");
            }
            None
        }
        Role::Ping => {
            let mut stream = connect(&job.endpoint);
            let io = stream.io();
            let mut buf = job.payload();
            Some(time_pings(job, |n| {
                for _ in 0..n {
                    io.write_all(&buf).expect("write");
                    io.read_exact(&mut buf).expect("read");
                }
            }))
        }
        Role::Hold | Role::Dial => panic!("idle connections are measured on oxmq and libzmq"),
        Role::Publish | Role::Subscribe => panic!("fan-out is measured on oxmq and libzmq"),
        Role::InprocThr | Role::InprocLat => panic!("a stream socket has no inproc"),
    }
}
