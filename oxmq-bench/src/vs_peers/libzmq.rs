//! libzmq in a `vs-peers` worker, through the `zmq` crate (libzmq 4.3.4 built from source):
//! one I/O thread, HWM 1000, LINGER -1 (terminating the context waits until everything was
//! delivered). Sends copy the payload (`zmq_send`), as libzmq's own perf tools do; the
//! receiver reuses one `zmq::Message`.

use std::time::Duration;

use super::worker::{Job, Role, WARMUP, hold_connections, ready, time_pings, time_receive};

const HWM: i32 = 1000;

fn socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let socket = ctx.socket(kind).expect("create a socket");
    socket.set_sndhwm(HWM).expect("set SNDHWM");
    socket.set_rcvhwm(HWM).expect("set RCVHWM");
    socket.set_linger(-1).expect("set LINGER");
    socket
}

/// Runs `job`; the measuring roles return their time.
pub fn run(job: &Job) -> Option<Duration> {
    let ctx = zmq::Context::new();
    ctx.set_io_threads(1).expect("set ZMQ_IO_THREADS");
    let measured = match job.role {
        Role::Recv => {
            let pull = socket(&ctx, zmq::PULL);
            pull.bind(&job.endpoint).expect("bind");
            ready();
            Some(receive(&pull, job))
        }
        Role::Send => {
            let push = socket(&ctx, zmq::PUSH);
            push.connect(&job.endpoint).expect("connect");
            send_all(&push, job);
            None
        }
        Role::Echo => {
            let rep = socket(&ctx, zmq::REP);
            rep.bind(&job.endpoint).expect("bind");
            ready();
            echo(&rep, job);
            None
        }
        Role::Ping => {
            let req = socket(&ctx, zmq::REQ);
            req.connect(&job.endpoint).expect("connect");
            Some(ping(&req, job))
        }
        Role::InprocThr => {
            let pull = socket(&ctx, zmq::PULL);
            pull.bind(&job.endpoint).expect("bind");
            let sender = spawn_peer(&ctx, job, zmq::PUSH, send_all);
            let time = receive(&pull, job);
            sender.join().expect("the sending thread");
            Some(time)
        }
        Role::Hold => {
            let pull = socket(&ctx, zmq::PULL);
            pull.bind(&job.endpoint).expect("bind");
            let mut msg = zmq::Message::new();
            Some(hold_connections(job, || {
                pull.recv(&mut msg, 0).expect("recv");
            }))
        }
        Role::Dial => {
            let push = socket(&ctx, zmq::PUSH);
            for _ in 0..job.count {
                push.connect(&job.endpoint).expect("connect");
            }
            // One message a connection: the pipes take turns.
            for _ in 0..job.count {
                push.send(&b"x"[..], 0).expect("send");
            }
            None
        }
        Role::Publish | Role::Subscribe => unreachable!("fan-out runs in `fan_out`"),
        Role::InprocLat => {
            let rep = socket(&ctx, zmq::REP);
            rep.bind(&job.endpoint).expect("bind");
            let pinger = spawn_peer(&ctx, job, zmq::REQ, ping);
            echo(&rep, job);
            Some(pinger.join().expect("the pinging thread"))
        }
    };
    drop(ctx);
    measured
}

/// Starts the inproc peer on a thread of its own: `work` runs on a socket of `kind`
/// connected to the job's endpoint.
fn spawn_peer<T: Send + 'static>(
    ctx: &zmq::Context,
    job: &Job,
    kind: zmq::SocketType,
    work: fn(&zmq::Socket, &Job) -> T,
) -> std::thread::JoinHandle<T> {
    let (ctx, job) = (ctx.clone(), job.clone());
    std::thread::spawn(move || {
        let socket = socket(&ctx, kind);
        socket.connect(&job.endpoint).expect("connect");
        work(&socket, &job)
    })
}

fn receive(pull: &zmq::Socket, job: &Job) -> Duration {
    let mut msg = zmq::Message::new();
    time_receive(job, || {
        pull.recv(&mut msg, 0).expect("recv");
        if msg.get_more() {
            panic!("a multi-frame message");
        }
        job.check(msg.len());
    })
}

fn send_all(push: &zmq::Socket, job: &Job) {
    let payload = job.payload();
    for _ in 0..job.count {
        push.send(&payload[..], 0).expect("send");
    }
}

fn echo(rep: &zmq::Socket, job: &Job) {
    let mut msg = zmq::Message::new();
    for _ in 0..job.count + WARMUP {
        rep.recv(&mut msg, 0).expect("recv");
        rep.send(std::mem::replace(&mut msg, zmq::Message::new()), 0)
            .expect("send");
    }
}

fn ping(req: &zmq::Socket, job: &Job) -> Duration {
    let payload = job.payload();
    let mut msg = zmq::Message::new();
    time_pings(job, |n| {
        for _ in 0..n {
            req.send(&payload[..], 0).expect("send");
            req.recv(&mut msg, 0).expect("recv");
            job.check(msg.len());
        }
    })
}
