//! zeromq (zmq.rs) 0.7 in a `vs-peers` worker: `zeromq-ct` on one current-thread tokio
//! runtime (its fastest configuration here), `zeromq` on tokio's default multi-thread runtime.
//! zmq.rs has no LINGER and no inproc: a sender stays up until the receiver hangs up (its
//! PUSH notices only when a write fails, so it pokes the connection with an empty message
//! every 200 ms until its monitor reports the disconnection). Payloads are one ref-counted
//! buffer per message.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use zeromq::{PullSocket, PushSocket, RepSocket, ReqSocket, SocketEvent, ZmqMessage, prelude::*};

use super::runtime::{Flavor, runtime};
use super::worker::{HANGUP_WAIT, Job, Role, WARMUP, ready};

/// Runs `job` on a runtime of `flavor`; the measuring roles return their time.
pub fn run(job: &Job, flavor: Flavor) -> Option<Duration> {
    runtime(flavor).block_on(run_async(job))
}

fn check(job: &Job, msg: &ZmqMessage) {
    if msg.len() != 1 {
        panic!("a {}-frame message", msg.len());
    }
    job.check(msg.get(0).map_or(0, |f| f.len()));
}

async fn run_async(job: &Job) -> Option<Duration> {
    let payload = Bytes::from(job.payload());
    let ep = job.endpoint.as_str();
    match job.role {
        Role::Recv => {
            let mut pull = PullSocket::new();
            pull.bind(ep).await.expect("bind");
            ready();
            check(job, &pull.recv().await.expect("recv"));
            let start = Instant::now();
            for _ in 1..job.count {
                check(job, &pull.recv().await.expect("recv"));
            }
            Some(start.elapsed())
        }
        Role::Send => {
            let mut push = PushSocket::new();
            let mut monitor = push.monitor();
            push.connect(ep).await.expect("connect");
            for _ in 0..job.count {
                // A send fails once the receiver, which has its count, hung up: the extra
                // messages have nowhere to go.
                if push.send(ZmqMessage::from(payload.clone())).await.is_err() {
                    break;
                }
            }
            let deadline = tokio::time::Instant::now() + HANGUP_WAIT;
            'wait: loop {
                let tick = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(tick);
                loop {
                    tokio::select! {
                        event = monitor.next() => match event {
                            Some(SocketEvent::Disconnected(_)) | None => break 'wait,
                            Some(_) => {}
                        },
                        _ = &mut tick => break,
                    }
                }
                if tokio::time::Instant::now() > deadline {
                    eprintln!("zeromq: the receiver never hung up");
                    break;
                }
                let probe = push.send(ZmqMessage::from(Bytes::new()));
                let _ = tokio::time::timeout(Duration::from_millis(200), probe).await;
            }
            None
        }
        Role::Echo => {
            let mut rep = RepSocket::new();
            rep.bind(ep).await.expect("bind");
            ready();
            for _ in 0..job.count + WARMUP {
                let msg = rep.recv().await.expect("recv");
                rep.send(msg).await.expect("send");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            None
        }
        Role::Ping => {
            let mut req = ReqSocket::new();
            req.connect(ep).await.expect("connect");
            for _ in 0..WARMUP {
                req.send(ZmqMessage::from(payload.clone()))
                    .await
                    .expect("send");
                req.recv().await.expect("recv");
            }
            let start = Instant::now();
            for _ in 0..job.count {
                req.send(ZmqMessage::from(payload.clone()))
                    .await
                    .expect("send");
                check(job, &req.recv().await.expect("recv"));
            }
            Some(start.elapsed())
        }
        Role::Hold | Role::Dial => panic!("idle connections are measured on oxmq and libzmq"),
        Role::Publish | Role::Subscribe => panic!("fan-out is measured on oxmq and libzmq"),
        Role::InprocThr | Role::InprocLat => panic!("zeromq has no inproc transport"),
    }
}
