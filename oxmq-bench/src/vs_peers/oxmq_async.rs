//! oxmq's async API (`AsyncSocket`) in a `vs-peers` worker (`oxmq-async`): the same context,
//! I/O thread and options as the blocking `oxmq` worker, with every send and receive awaited
//! on one current-thread tokio runtime, as an async application would run it (the inproc
//! peer is a second task on the same thread, as omq-tokio-ct's is).

use std::time::{Duration, Instant};

use oxmq::{AsyncSocket, Context, Frame, Message, SocketType};

use super::oxmq::socket;
use super::runtime::{Flavor, runtime};
use super::worker::{Job, Role, WARMUP, ready};

fn async_socket(ctx: &Context, kind: SocketType) -> AsyncSocket {
    AsyncSocket::new(socket(ctx, kind))
}

/// One message of the job's size: copied into an inline frame when small, else a share of
/// one ref-counted payload (as the blocking worker sends them).
fn message(job: &Job, payload: &bytes::Bytes) -> Message {
    if job.size <= Frame::INLINE_CAPACITY {
        Message::from(&payload[..])
    } else {
        Message::from(Frame::from(payload.clone()))
    }
}

fn check(job: &Job, msg: &Message) {
    if msg.len() != 1 {
        panic!("a {}-frame message", msg.len());
    }
    job.check(msg[0].len());
}

/// Runs `job`; the measuring roles return their time.
pub fn run(job: &Job) -> Option<Duration> {
    let ctx = Context::new();
    let measured = runtime(Flavor::CurrentThread).block_on(async {
        match job.role {
            Role::Recv => {
                let mut pull = async_socket(&ctx, SocketType::Pull);
                pull.bind(&job.endpoint).expect("bind");
                ready();
                Some(receive(&mut pull, job).await)
            }
            Role::Send => {
                let mut push = async_socket(&ctx, SocketType::Push);
                push.connect(&job.endpoint).expect("connect");
                send_all(&mut push, job).await;
                None
            }
            Role::InprocThr => {
                let mut pull = async_socket(&ctx, SocketType::Pull);
                pull.bind(&job.endpoint).expect("bind");
                let mut push = async_socket(&ctx, SocketType::Push);
                push.connect(&job.endpoint).expect("connect");
                let job2 = job.clone();
                let sender = tokio::spawn(async move {
                    send_all(&mut push, &job2).await;
                    push
                });
                let time = receive(&mut pull, job).await;
                drop(sender.await.expect("the sending task"));
                Some(time)
            }
            Role::Echo => {
                let mut rep = async_socket(&ctx, SocketType::Rep);
                rep.bind(&job.endpoint).expect("bind");
                ready();
                echo(&mut rep, job).await;
                None
            }
            Role::Ping => {
                let mut req = async_socket(&ctx, SocketType::Req);
                req.connect(&job.endpoint).expect("connect");
                Some(ping(&mut req, job).await)
            }
            Role::InprocLat => {
                let mut rep = async_socket(&ctx, SocketType::Rep);
                rep.bind(&job.endpoint).expect("bind");
                let mut req = async_socket(&ctx, SocketType::Req);
                req.connect(&job.endpoint).expect("connect");
                let job2 = job.clone();
                let echoer = tokio::spawn(async move {
                    echo(&mut rep, &job2).await;
                    rep
                });
                let time = ping(&mut req, job).await;
                drop(echoer.await.expect("the echoing task"));
                Some(time)
            }
            Role::Hold | Role::Dial => panic!("idle connections are measured on oxmq and libzmq"),
            Role::Publish | Role::Subscribe => panic!("fan-out is measured on oxmq and libzmq"),
        }
    });
    ctx.term();
    measured
}

async fn send_all(push: &mut AsyncSocket, job: &Job) {
    let payload = bytes::Bytes::from(job.payload());
    for _ in 0..job.count {
        push.send(message(job, &payload)).await.expect("send");
    }
}

/// The clock runs from the first message to the last (as `worker::time_receive`).
async fn receive(pull: &mut AsyncSocket, job: &Job) -> Duration {
    check(job, &pull.recv().await.expect("recv"));
    let start = Instant::now();
    for _ in 1..job.count {
        check(job, &pull.recv().await.expect("recv"));
    }
    start.elapsed()
}

async fn echo(rep: &mut AsyncSocket, job: &Job) {
    for _ in 0..job.count + WARMUP {
        let msg = rep.recv().await.expect("recv");
        rep.send(msg).await.expect("send");
    }
}

/// The first [`WARMUP`] round trips are not timed (as `worker::time_pings`).
async fn ping(req: &mut AsyncSocket, job: &Job) -> Duration {
    let payload = bytes::Bytes::from(job.payload());
    let mut round_trips = async |n: u64| {
        for _ in 0..n {
            req.send(message(job, &payload)).await.expect("send");
            check(job, &req.recv().await.expect("recv"));
        }
    };
    round_trips(WARMUP).await;
    let start = Instant::now();
    round_trips(job.count).await;
    start.elapsed()
}
