//! omq-tokio (omq.rs) 0.33 in a `vs-peers` worker, configured as its authors run it for speed.
//!
//! - `omq-tokio`: `Context::new()`, the library's default of one owned I/O thread (a
//!   current-thread tokio runtime on its own OS thread), blocking sockets on the main thread:
//!   the shape of libzmq's application + one I/O thread.
//! - `omq-tokio-ct`: `Context::current()` inside one current-thread runtime, sockets and
//!   application on one thread (omq's own benchmark default).
//!
//! Options: the library's defaults (HWM 1000, REQ/REP tuned for latency), except LINGER
//! forever on the sending side (omq's default LINGER of 0 drops what is queued at close). A
//! sender waits for the receiver to hang up (its monitor's DISCONNECTED) before it closes.
//! Payloads are one ref-counted buffer per message, as omq's benchmark sends them.

use std::time::Duration;

use bytes::Bytes;
use omq_tokio::{Context, Message, MonitorEvent, MonitorStream, Options, SocketType};

use super::runtime::{Flavor, runtime};
use super::worker::{HANGUP_WAIT, Job, Role, WARMUP, ready, time_pings, time_receive};

fn check(job: &Job, msg: &Message) {
    if msg.len() != 1 {
        panic!("a {}-frame message", msg.len());
    }
    job.check(msg.byte_len());
}

async fn wait_hangup(mut monitor: MonitorStream) {
    let hung_up = tokio::time::timeout(HANGUP_WAIT, async {
        while let Ok(event) = monitor.recv().await {
            if matches!(event, MonitorEvent::Disconnected { .. }) {
                break;
            }
        }
    })
    .await;
    if hung_up.is_err() {
        eprintln!("omq-tokio: the receiver never hung up");
    }
}

/// Runs `job` with `Context::new()` (`flavor` OneWorker) or `Context::current()`
/// (CurrentThread); the measuring roles return their time.
pub fn run(job: &Job, flavor: Flavor) -> Option<Duration> {
    match flavor {
        Flavor::CurrentThread => runtime(Flavor::CurrentThread).block_on(current(job)),
        _ => blocking(job),
    }
}

fn blocking(job: &Job) -> Option<Duration> {
    let ctx = Context::new();
    let linger = || Options::default().linger_forever();
    let payload = Bytes::from(job.payload());
    match job.role {
        Role::Recv | Role::InprocThr => {
            let pull = ctx.blocking_socket(SocketType::Pull, Options::default());
            pull.bind(job.endpoint.as_str()).expect("bind");
            if job.role == Role::Recv {
                ready();
            }
            let sender = (job.role == Role::InprocThr).then(|| {
                let push = ctx.blocking_socket(SocketType::Push, linger());
                push.connect(job.endpoint.as_str()).expect("connect");
                let (payload, count) = (payload.clone(), job.count);
                std::thread::spawn(move || {
                    for _ in 0..count {
                        push.send(Message::single(payload.clone())).expect("send");
                    }
                    push
                })
            });
            let time = time_receive(job, || check(job, &pull.recv().expect("recv")));
            if let Some(sender) = sender {
                sender.join().expect("the sending thread").close().ok();
            }
            pull.close().ok();
            Some(time)
        }
        Role::Send => {
            let push = ctx.blocking_socket(SocketType::Push, linger());
            let monitor = push.monitor();
            push.connect(job.endpoint.as_str()).expect("connect");
            for _ in 0..job.count {
                // A send fails once the receiver, which has its count, hung up: the extra
                // messages have nowhere to go.
                if push.send(Message::single(payload.clone())).is_err() {
                    break;
                }
            }
            ctx.block_on(wait_hangup(monitor));
            push.close().ok();
            None
        }
        Role::Echo | Role::InprocLat => {
            let rep = ctx.blocking_socket(SocketType::Rep, linger());
            rep.bind(job.endpoint.as_str()).expect("bind");
            if job.role == Role::Echo {
                ready();
            }
            let pinger = (job.role == Role::InprocLat).then(|| {
                let req = ctx.blocking_socket(SocketType::Req, Options::default());
                req.connect(job.endpoint.as_str()).expect("connect");
                let (job, payload) = (job.clone(), payload.clone());
                std::thread::spawn(move || {
                    time_pings(&job, |n| {
                        for _ in 0..n {
                            req.send(Message::single(payload.clone())).expect("send");
                            check(&job, &req.recv().expect("recv"));
                        }
                    })
                })
            });
            for _ in 0..job.count + WARMUP {
                let msg = rep.recv().expect("recv");
                rep.send(msg).expect("send");
            }
            let time = pinger.map(|p| p.join().expect("the pinging thread"));
            if time.is_none() {
                // The last reply leaves before the socket closes.
                std::thread::sleep(Duration::from_millis(200));
            }
            rep.close().ok();
            time
        }
        Role::Hold | Role::Dial => panic!("idle connections are measured on oxmq and libzmq"),
        Role::Publish | Role::Subscribe => panic!("fan-out is measured on oxmq and libzmq"),
        Role::Ping => {
            let req = ctx.blocking_socket(SocketType::Req, Options::default());
            req.connect(job.endpoint.as_str()).expect("connect");
            let time = time_pings(job, |n| {
                for _ in 0..n {
                    req.send(Message::single(payload.clone())).expect("send");
                    check(job, &req.recv().expect("recv"));
                }
            });
            req.close().ok();
            Some(time)
        }
    }
}

async fn current(job: &Job) -> Option<Duration> {
    let ctx = Context::current();
    let linger = || Options::default().linger_forever();
    let payload = Bytes::from(job.payload());
    match job.role {
        Role::Recv | Role::InprocThr => {
            let pull = ctx.socket(SocketType::Pull, Options::default());
            pull.bind(job.endpoint.as_str()).await.expect("bind");
            if job.role == Role::Recv {
                ready();
            }
            let receive = async {
                let msg = pull.recv().await.expect("recv");
                check(job, &msg);
                let start = std::time::Instant::now();
                for _ in 1..job.count {
                    check(job, &pull.recv().await.expect("recv"));
                }
                start.elapsed()
            };
            let time = if job.role == Role::InprocThr {
                let push = ctx.socket(SocketType::Push, linger());
                push.connect(job.endpoint.as_str()).await.expect("connect");
                let send = async {
                    for _ in 0..job.count {
                        push.send(Message::single(payload.clone()))
                            .await
                            .expect("send");
                    }
                };
                let ((), time) = tokio::join!(send, receive);
                push.close().await.ok();
                time
            } else {
                receive.await
            };
            pull.close().await.ok();
            Some(time)
        }
        Role::Send => {
            let push = ctx.socket(SocketType::Push, linger());
            let monitor = push.monitor();
            push.connect(job.endpoint.as_str()).await.expect("connect");
            for _ in 0..job.count {
                // As above: the receiver may be gone.
                if push.send(Message::single(payload.clone())).await.is_err() {
                    break;
                }
            }
            wait_hangup(monitor).await;
            push.close().await.ok();
            None
        }
        Role::Echo | Role::InprocLat => {
            let rep = ctx.socket(SocketType::Rep, linger());
            rep.bind(job.endpoint.as_str()).await.expect("bind");
            if job.role == Role::Echo {
                ready();
            }
            let echo = async {
                for _ in 0..job.count + WARMUP {
                    let msg = rep.recv().await.expect("recv");
                    rep.send(msg).await.expect("send");
                }
            };
            let time = if job.role == Role::InprocLat {
                let req = ctx.socket(SocketType::Req, Options::default());
                req.connect(job.endpoint.as_str()).await.expect("connect");
                let ping = ping(&req, job, &payload);
                let ((), time) = tokio::join!(echo, ping);
                req.close().await.ok();
                Some(time)
            } else {
                echo.await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                None
            };
            rep.close().await.ok();
            time
        }
        Role::Hold | Role::Dial => panic!("idle connections are measured on oxmq and libzmq"),
        Role::Publish | Role::Subscribe => panic!("fan-out is measured on oxmq and libzmq"),
        Role::Ping => {
            let req = ctx.socket(SocketType::Req, Options::default());
            req.connect(job.endpoint.as_str()).await.expect("connect");
            let time = ping(&req, job, &payload).await;
            req.close().await.ok();
            Some(time)
        }
    }
}

async fn ping(req: &omq_tokio::Socket, job: &Job, payload: &Bytes) -> Duration {
    for _ in 0..WARMUP {
        req.send(Message::single(payload.clone()))
            .await
            .expect("send");
        req.recv().await.expect("recv");
    }
    let start = std::time::Instant::now();
    for _ in 0..job.count {
        req.send(Message::single(payload.clone()))
            .await
            .expect("send");
        check(job, &req.recv().await.expect("recv"));
    }
    start.elapsed()
}
