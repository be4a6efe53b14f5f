//! rzmq 0.5 in a `vs-peers` worker, configured as its authors run it for speed.
//!
//! - `rzmq`: a tokio multi-thread runtime with one worker: the application on the main
//!   thread, rzmq's actors on the worker.
//! - `rzmq-ct`: one current-thread runtime for both.
//!
//! Options: SNDHWM = RCVHWM = 1000 (rzmq's default is 256, libzmq's 1000), the rest its
//! defaults (LINGER -1, batching of 128 messages / 256 KiB per write). A sender waits for the
//! receiver to hang up (its monitor's Disconnected) before it terminates the context.
//! Payloads are one ref-counted buffer per message.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rzmq::socket::{RCVHWM, SNDHWM, SocketEvent};
use rzmq::{Context, Msg, Socket, SocketType};

use super::runtime::{Flavor, runtime};
use super::worker::{HANGUP_WAIT, Job, Role, WARMUP, ready};

/// Runs `job` on a runtime of `flavor`; the measuring roles return their time.
pub fn run(job: &Job, flavor: Flavor) -> Option<Duration> {
    runtime(flavor).block_on(run_async(job))
}

fn check(job: &Job, msg: &Msg) {
    if msg.is_more() {
        panic!("a multi-frame message");
    }
    job.check(msg.size());
}

async fn socket(ctx: &Context, kind: SocketType) -> Socket {
    let socket = ctx.socket(kind).expect("create a socket");
    socket
        .set_option(SNDHWM, 1000i32)
        .await
        .expect("set SNDHWM");
    socket
        .set_option(RCVHWM, 1000i32)
        .await
        .expect("set RCVHWM");
    socket
}

async fn run_async(job: &Job) -> Option<Duration> {
    let ctx = Context::new().expect("an rzmq context");
    let payload = Bytes::from(job.payload());
    let ep = job.endpoint.as_str();
    let measured = match job.role {
        Role::Recv | Role::InprocThr => {
            let pull = socket(&ctx, SocketType::Pull).await;
            pull.bind(ep).await.expect("bind");
            if job.role == Role::Recv {
                ready();
            }
            let receive = async {
                check(job, &pull.recv().await.expect("recv"));
                let start = Instant::now();
                for _ in 1..job.count {
                    check(job, &pull.recv().await.expect("recv"));
                }
                start.elapsed()
            };
            if job.role == Role::InprocThr {
                let push = socket(&ctx, SocketType::Push).await;
                push.connect(ep).await.expect("connect");
                let ((), time) = tokio::join!(send_all(&push, job, &payload), receive);
                Some(time)
            } else {
                Some(receive.await)
            }
        }
        Role::Send => {
            let push = socket(&ctx, SocketType::Push).await;
            let monitor = push.monitor_default().await.expect("a monitor");
            push.connect(ep).await.expect("connect");
            send_all(&push, job, &payload).await;
            let hung_up = tokio::time::timeout(HANGUP_WAIT, async {
                while let Ok(event) = monitor.recv().await {
                    if matches!(event, SocketEvent::Disconnected { .. }) {
                        break;
                    }
                }
            })
            .await;
            if hung_up.is_err() {
                eprintln!("rzmq: the receiver never hung up");
            }
            None
        }
        Role::Echo | Role::InprocLat => {
            let rep = socket(&ctx, SocketType::Rep).await;
            rep.bind(ep).await.expect("bind");
            if job.role == Role::Echo {
                ready();
            }
            let echo = async {
                for _ in 0..job.count + WARMUP {
                    let msg = rep.recv().await.expect("recv");
                    rep.send(msg).await.expect("send");
                }
            };
            if job.role == Role::InprocLat {
                let req = socket(&ctx, SocketType::Req).await;
                req.connect(ep).await.expect("connect");
                let ((), time) = tokio::join!(echo, ping(&req, job, &payload));
                Some(time)
            } else {
                echo.await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                None
            }
        }
        Role::Hold | Role::Dial => panic!("idle connections are measured on oxmq and libzmq"),
        Role::Publish | Role::Subscribe => panic!("fan-out is measured on oxmq and libzmq"),
        Role::Ping => {
            let req = socket(&ctx, SocketType::Req).await;
            req.connect(ep).await.expect("connect");
            Some(ping(&req, job, &payload).await)
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(15), ctx.term()).await;
    measured
}

async fn send_all(push: &Socket, job: &Job, payload: &Bytes) {
    for _ in 0..job.count {
        // A send fails once the receiver, which has its count, hung up: the extra messages
        // have nowhere to go.
        if push.send(Msg::from_bytes(payload.clone())).await.is_err() {
            break;
        }
    }
}

async fn ping(req: &Socket, job: &Job, payload: &Bytes) -> Duration {
    for _ in 0..WARMUP {
        req.send(Msg::from_bytes(payload.clone()))
            .await
            .expect("send");
        req.recv().await.expect("recv");
    }
    let start = Instant::now();
    for _ in 0..job.count {
        req.send(Msg::from_bytes(payload.clone()))
            .await
            .expect("send");
        check(job, &req.recv().await.expect("recv"));
    }
    start.elapsed()
}
