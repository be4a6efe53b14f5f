//! oxmq in a `vs-peers` worker: one context with its one I/O thread, the blocking API, HWM
//! 1000, LINGER -1 on the sending side (closing waits until everything was delivered).
//! Small messages go with `send_bytes` (copied straight into the pipe), larger ones as one
//! ref-counted payload per message; the receiver reuses one `Message` (`recv_into`).

use std::time::Duration;

use oxmq::{Context, Frame, Message, Socket, SocketType};

use super::worker::{Job, Role, WARMUP, hold_connections, ready, time_pings, time_receive};

const HWM: i32 = 1000;

pub(super) fn socket(ctx: &Context, kind: SocketType) -> Socket {
    let socket = ctx.socket(kind).expect("create a socket");
    socket.set_sndhwm(HWM).expect("set SNDHWM");
    socket.set_rcvhwm(HWM).expect("set RCVHWM");
    socket.set_linger(-1).expect("set LINGER");
    socket
}

/// Runs `job`; the measuring roles return their time.
pub fn run(job: &Job) -> Option<Duration> {
    let ctx = Context::new();
    let measured = match job.role {
        Role::Recv => {
            let pull = socket(&ctx, SocketType::Pull);
            pull.bind(&job.endpoint).expect("bind");
            ready();
            Some(receive(&pull, job))
        }
        Role::Send => {
            let push = socket(&ctx, SocketType::Push);
            push.connect(&job.endpoint).expect("connect");
            send_all(&push, job);
            None
        }
        Role::Echo => {
            let rep = socket(&ctx, SocketType::Rep);
            rep.bind(&job.endpoint).expect("bind");
            ready();
            echo(&rep, job);
            None
        }
        Role::Ping => {
            let req = socket(&ctx, SocketType::Req);
            req.connect(&job.endpoint).expect("connect");
            Some(ping(&req, job))
        }
        Role::InprocThr => {
            let pull = socket(&ctx, SocketType::Pull);
            pull.bind(&job.endpoint).expect("bind");
            let sender = spawn_peer(&ctx, job, SocketType::Push, send_all);
            let time = receive(&pull, job);
            sender.join().expect("the sending thread");
            Some(time)
        }
        Role::Hold => {
            let pull = socket(&ctx, SocketType::Pull);
            pull.bind(&job.endpoint).expect("bind");
            let mut msg = Message::new();
            Some(hold_connections(job, || {
                pull.recv_into(&mut msg, false).expect("recv");
            }))
        }
        Role::Dial => {
            let push = socket(&ctx, SocketType::Push);
            for _ in 0..job.count {
                push.connect(&job.endpoint).expect("connect");
            }
            // One message a connection: the pipes take turns.
            for _ in 0..job.count {
                push.send_bytes(b"x").expect("send");
            }
            None
        }
        Role::Publish | Role::Subscribe => unreachable!("fan-out runs in `fan_out`"),
        Role::InprocLat => {
            let rep = socket(&ctx, SocketType::Rep);
            rep.bind(&job.endpoint).expect("bind");
            let pinger = spawn_peer(&ctx, job, SocketType::Req, ping);
            echo(&rep, job);
            Some(pinger.join().expect("the pinging thread"))
        }
    };
    ctx.term();
    measured
}

/// Starts the inproc peer on a thread of its own: `work` runs on a socket of `kind`
/// connected to the job's endpoint.
fn spawn_peer<T: Send + 'static>(
    ctx: &Context,
    job: &Job,
    kind: SocketType,
    work: fn(&Socket, &Job) -> T,
) -> std::thread::JoinHandle<T> {
    let (ctx, job) = (ctx.clone(), job.clone());
    std::thread::spawn(move || {
        let socket = socket(&ctx, kind);
        socket.connect(&job.endpoint).expect("connect");
        work(&socket, &job)
    })
}

fn receive(pull: &Socket, job: &Job) -> Duration {
    let mut msg = Message::new();
    time_receive(job, || {
        pull.recv_into(&mut msg, false).expect("recv");
        if msg.len() != 1 {
            panic!("a {}-frame message", msg.len());
        }
        job.check(msg[0].len());
    })
}

fn send_all(push: &Socket, job: &Job) {
    let payload = job.payload();
    if job.size <= Frame::INLINE_CAPACITY {
        for _ in 0..job.count {
            push.send_bytes(&payload).expect("send");
        }
    } else {
        let payload = bytes::Bytes::from(payload);
        for _ in 0..job.count {
            push.send(Frame::from(payload.clone())).expect("send");
        }
    }
}

fn echo(rep: &Socket, job: &Job) {
    let mut msg = Message::new();
    for _ in 0..job.count + WARMUP {
        rep.recv_into(&mut msg, false).expect("recv");
        rep.send(std::mem::take(&mut msg)).expect("send");
    }
}

fn ping(req: &Socket, job: &Job) -> Duration {
    let payload = job.payload();
    let mut msg = Message::new();
    time_pings(job, |n| {
        for _ in 0..n {
            req.send_bytes(&payload).expect("send");
            req.recv_into(&mut msg, false).expect("recv");
            job.check(msg[0].len());
        }
    })
}
