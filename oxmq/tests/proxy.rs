//! `proxy` and `proxy_steerable` (libzmq's `test_proxy*.cpp`): a ROUTER/DEALER queue, an
//! XSUB/XPUB forwarder, capture, steering (PAUSE, RESUME, STATISTICS, TERMINATE), a full
//! destination holding messages back without losing any, and one socket as both ends.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::{bound, inproc, socket};
use oxmq::{Context, Error, Message, ProxyStats, SocketType, proxy, proxy_steerable};

/// Starts `proxy_steerable` on a thread with sockets bound to fresh endpoints; returns the
/// frontend's and backend's endpoints, a PAIR connected to the control socket (a PAIR, so
/// that commands without replies and STATISTICS with one can follow each other), and the
/// thread.
struct Running {
    frontend: String,
    backend: String,
    control: oxmq::Socket,
    thread: std::thread::JoinHandle<oxmq::Result<()>>,
}

fn start(
    ctx: &Context,
    front: SocketType,
    back: SocketType,
    capture: Option<String>,
    hwm: i32,
) -> Running {
    let (frontend, backend, control) = (inproc(), inproc(), inproc());
    let thread = {
        let (ctx, frontend, backend, control) = (
            ctx.clone(),
            frontend.clone(),
            backend.clone(),
            control.clone(),
        );
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let f = socket(&ctx, front);
            f.set_sndhwm(hwm).unwrap();
            f.set_rcvhwm(hwm).unwrap();
            f.bind(&frontend).unwrap();
            let b = socket(&ctx, back);
            b.set_sndhwm(hwm).unwrap();
            b.set_rcvhwm(hwm).unwrap();
            b.bind(&backend).unwrap();
            let c = socket(&ctx, SocketType::Pair);
            c.bind(&control).unwrap();
            let capture = capture.map(|endpoint| {
                let capture = socket(&ctx, SocketType::Push);
                capture.connect(&endpoint).unwrap();
                capture
            });
            ready_tx.send(()).unwrap();
            proxy_steerable(&f, &b, capture.as_ref(), &c)
        });
        ready_rx.recv().unwrap();
        thread
    };
    let steer = socket(ctx, SocketType::Pair);
    steer.connect(&control).unwrap();
    Running {
        frontend,
        backend,
        control: steer,
        thread,
    }
}

impl Running {
    fn command(&self, command: &str) {
        self.control.send(command).unwrap();
    }

    fn statistics(&self) -> [ProxyStats; 2] {
        self.control.send("STATISTICS").unwrap();
        let reply = self.control.recv().unwrap();
        assert_eq!(reply.len(), 8);
        let value = |i: usize| u64::from_ne_bytes(reply[i][..].try_into().unwrap());
        let stats = |at: usize| ProxyStats {
            messages_in: value(at),
            bytes_in: value(at + 1),
            messages_out: value(at + 2),
            bytes_out: value(at + 3),
        };
        [stats(0), stats(4)]
    }

    fn terminate(self) {
        self.control.send("TERMINATE").unwrap();
        assert_eq!(self.thread.join().unwrap(), Ok(()));
    }
}

#[test]
fn a_router_dealer_queue_serves_clients_and_workers() {
    let ctx = Context::new();
    let running = start(&ctx, SocketType::Router, SocketType::Dealer, None, 1000);
    let workers: Vec<_> = (0..2)
        .map(|id| {
            let (ctx, backend) = (ctx.clone(), running.backend.clone());
            std::thread::spawn(move || {
                let rep = socket(&ctx, SocketType::Rep);
                rep.connect(&backend).unwrap();
                let mut served = 0;
                loop {
                    match rep.recv() {
                        Ok(request) => {
                            let mut reply = request[0].to_vec();
                            reply.extend_from_slice(format!(" by {id}").as_bytes());
                            rep.send(reply).unwrap();
                            served += 1;
                        }
                        Err(Error::Terminated) => return served,
                        Err(Error::WouldBlock) => continue,
                        Err(err) => panic!("worker {id}: {err}"),
                    }
                }
            })
        })
        .collect();
    let clients: Vec<_> = (0..3)
        .map(|id| {
            let (ctx, frontend) = (ctx.clone(), running.frontend.clone());
            std::thread::spawn(move || {
                let req = socket(&ctx, SocketType::Req);
                req.connect(&frontend).unwrap();
                for n in 0..100 {
                    let request = format!("{id}.{n}");
                    req.send(request.as_str()).unwrap();
                    let reply = req.recv().unwrap();
                    let reply = String::from_utf8_lossy(&reply[0]).into_owned();
                    assert!(reply.starts_with(&format!("{request} by ")), "{reply}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let [front, back] = running.statistics();
    // Each request goes through with its envelope (routing id, delimiter), each reply too.
    assert_eq!((front.messages_in, front.messages_out), (300, 300));
    assert_eq!((back.messages_in, back.messages_out), (300, 300));
    assert!(front.bytes_in > 0 && back.bytes_out == front.bytes_in);
    running.terminate();
    ctx.shutdown();
    let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(served, 300);
}

#[test]
fn an_xsub_xpub_forwarder_passes_subscriptions_up_and_messages_down() {
    let ctx = Context::new();
    let running = start(&ctx, SocketType::XSub, SocketType::XPub, None, 1000);
    let publisher = socket(&ctx, SocketType::Pub);
    publisher.connect(&running.frontend).unwrap();
    let subscriber = socket(&ctx, SocketType::Sub);
    subscriber.subscribe(b"weather").unwrap();
    subscriber.connect(&running.backend).unwrap();
    // The subscription travels SUB -> XPUB -> proxy -> XSUB -> PUB: publish until it arrives.
    subscriber.set_rcvtimeo(20).unwrap();
    let mut got = None;
    for _ in 0..500 {
        publisher.send("sports 1").unwrap();
        publisher.send("weather 22").unwrap();
        if let Ok(msg) = subscriber.recv() {
            got = Some(msg);
            break;
        }
    }
    assert_eq!(&got.expect("nothing forwarded")[0][..], b"weather 22");
    running.terminate();
}

#[test]
fn capture_gets_a_copy_of_every_message_and_command() {
    let ctx = Context::new();
    let (capture, capture_endpoint) = bound(&ctx, SocketType::Pull, &inproc());
    let running = start(
        &ctx,
        SocketType::Pull,
        SocketType::Push,
        Some(capture_endpoint),
        1000,
    );
    let push = socket(&ctx, SocketType::Push);
    push.connect(&running.frontend).unwrap();
    let pull = socket(&ctx, SocketType::Pull);
    pull.connect(&running.backend).unwrap();
    for i in 0..100u32 {
        push.send(Message::from_frames([
            i.to_le_bytes().to_vec(),
            b"two".to_vec(),
        ]))
        .unwrap();
    }
    for i in 0..100u32 {
        let msg = pull.recv().unwrap();
        assert_eq!(msg.len(), 2);
        assert_eq!(&msg[0][..], i.to_le_bytes());
        assert_eq!(&capture.recv().unwrap()[0][..], i.to_le_bytes());
    }
    running.command("PAUSE");
    assert_eq!(&capture.recv().unwrap()[0][..], b"PAUSE");
    running.terminate();
}

#[test]
fn pause_holds_messages_and_resume_lets_them_through() {
    let ctx = Context::new();
    let running = start(&ctx, SocketType::Pull, SocketType::Push, None, 1000);
    let push = socket(&ctx, SocketType::Push);
    push.connect(&running.frontend).unwrap();
    let pull = socket(&ctx, SocketType::Pull);
    pull.connect(&running.backend).unwrap();
    push.send("before").unwrap();
    assert_eq!(&pull.recv().unwrap()[0][..], b"before");
    running.command("PAUSE");
    let [front, _] = running.statistics();
    assert_eq!(front.messages_in, 1);
    push.send("during").unwrap();
    pull.set_rcvtimeo(200).unwrap();
    assert_eq!(
        pull.recv(),
        Err(Error::WouldBlock),
        "forwarded while paused"
    );
    running.command("RESUME");
    pull.set_rcvtimeo(5000).unwrap();
    assert_eq!(&pull.recv().unwrap()[0][..], b"during");
    let [front, back] = running.statistics();
    assert_eq!((front.messages_in, back.messages_out), (2, 2));
    assert_eq!((front.bytes_in, back.bytes_out), (12, 12));
    running.terminate();
}

#[test]
fn a_full_destination_holds_messages_back_and_loses_none() {
    let ctx = Context::new();
    let running = start(&ctx, SocketType::Pull, SocketType::Push, None, 10);
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(10).unwrap();
    push.connect(&running.frontend).unwrap();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(10).unwrap();
    pull.connect(&running.backend).unwrap();
    // Nobody reads: the proxy holds back, the queues fill, and the sender is pushed back.
    let mut sent = 0u32;
    while push.try_send(sent.to_le_bytes().to_vec()).is_ok() {
        sent += 1;
        assert!(sent < 100_000, "no back-pressure");
        if sent % 100 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    while push.try_send(sent.to_le_bytes().to_vec()).is_ok() {
        sent += 1;
    }
    assert!(sent < 1000, "{sent} messages queued with HWMs of 10");
    for i in 0..sent {
        assert_eq!(&pull.recv().unwrap()[0][..], i.to_le_bytes(), "message {i}");
    }
    pull.set_rcvtimeo(100).unwrap();
    assert_eq!(pull.recv(), Err(Error::WouldBlock));
    running.terminate();
}

#[test]
fn one_socket_as_frontend_and_backend() {
    // libzmq's test_proxy_single_socket: a REP-facing DEALER that is both ends echoes every
    // request back to the REQ that sent it.
    let ctx = Context::new();
    let (dealer, endpoint) = bound(&ctx, SocketType::Dealer, &inproc());
    let req = socket(&ctx, SocketType::Req);
    req.connect(&endpoint).unwrap();
    let (control, control_endpoint) = bound(&ctx, SocketType::Pair, &inproc());
    let steer = socket(&ctx, SocketType::Pair);
    steer.connect(&control_endpoint).unwrap();
    let proxy_thread =
        std::thread::spawn(move || proxy_steerable(&dealer, &dealer, None, &control));
    for n in 0..10 {
        let text = format!("echo {n}");
        req.send(text.as_str()).unwrap();
        assert_eq!(&req.recv().unwrap()[0][..], text.as_bytes());
    }
    steer.send("TERMINATE").unwrap();
    assert_eq!(proxy_thread.join().unwrap(), Ok(()));
}

#[test]
fn a_plain_proxy_ends_with_the_context() {
    let ctx = Context::new();
    let (frontend, _) = bound(&ctx, SocketType::Pull, &inproc());
    let (backend, _) = bound(&ctx, SocketType::Push, &inproc());
    let thread = std::thread::spawn(move || proxy(&frontend, &backend, None));
    std::thread::sleep(Duration::from_millis(50));
    ctx.shutdown();
    assert_eq!(thread.join().unwrap(), Err(Error::Terminated));
}
