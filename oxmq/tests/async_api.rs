//! `AsyncSocket` under two executors (tokio, multi-threaded and current-thread, and smol):
//! messages over every transport, cancellation that loses nothing, `Stream`/`Sink`, and a
//! context shutdown waking a pending receive.

mod common;

use std::time::Duration;

use common::{bind_endpoints, inproc, socket};
use futures_util::{SinkExt, StreamExt};
use oxmq::{AsyncSocket, Context, Error, Message, SocketType};

const COUNT: u64 = 20_000;

/// A bound PULL and a PUSH connected to it, both async, with HWMs of `hwm`.
fn pair(ctx: &Context, endpoint: &str, hwm: i32) -> (AsyncSocket, AsyncSocket) {
    let pull = socket(ctx, SocketType::Pull);
    pull.set_rcvhwm(hwm).unwrap();
    pull.bind(endpoint).unwrap();
    let endpoint = pull.last_endpoint();
    let push = socket(ctx, SocketType::Push);
    push.set_sndhwm(hwm).unwrap();
    push.connect(&endpoint).unwrap();
    (AsyncSocket::new(pull), AsyncSocket::new(push))
}

fn numbered(i: u64) -> Message {
    Message::from_frames([i.to_le_bytes().to_vec(), b"tail".to_vec()])
}

fn number_of(msg: &Message) -> u64 {
    assert_eq!(msg.len(), 2, "a message arrived without all its parts");
    assert_eq!(&msg[1][..], b"tail");
    u64::from_le_bytes(msg[0][..].try_into().expect("8 bytes"))
}

async fn send_all(mut push: AsyncSocket) -> AsyncSocket {
    for i in 0..COUNT {
        push.send(numbered(i)).await.unwrap();
    }
    push
}

async fn recv_all(mut pull: AsyncSocket) -> AsyncSocket {
    for i in 0..COUNT {
        assert_eq!(number_of(&pull.recv().await.unwrap()), i);
    }
    pull
}

#[test]
fn tokio_tasks_on_a_multi_threaded_runtime_move_messages_over_every_transport() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        // Small HWMs: both sides wait on each other many times.
        let (pull, push) = pair(&ctx, &endpoint, 50);
        rt.block_on(async {
            // `spawn` needs `Send` futures: a task owns its socket.
            let receiver = tokio::spawn(recv_all(pull));
            let sender = tokio::spawn(send_all(push));
            tokio::time::timeout(Duration::from_secs(60), async {
                sender.await.unwrap();
                receiver.await.unwrap();
            })
            .await
            .unwrap_or_else(|_| panic!("{endpoint}: stalled"));
        });
    }
}

#[test]
fn smol_tasks_move_messages_over_every_transport() {
    let ctx = Context::new();
    for endpoint in bind_endpoints() {
        let (pull, push) = pair(&ctx, &endpoint, 50);
        smol::block_on(async {
            let receiver = smol::spawn(recv_all(pull));
            let sender = smol::spawn(send_all(push));
            let both = async {
                sender.await;
                receiver.await;
            };
            let stalled = async {
                smol::Timer::after(Duration::from_secs(60)).await;
                panic!("{endpoint}: stalled");
            };
            futures_util::future::select(Box::pin(both), Box::pin(stalled)).await;
        });
    }
}

#[test]
fn a_cancelled_recv_loses_no_message() {
    let ctx = Context::new();
    let (mut pull, push) = pair(&ctx, &inproc(), 1000);
    let push = push.into_inner();
    // A blocking sender on a thread of its own, pausing now and then so that receives time out.
    let sender = std::thread::spawn(move || {
        for i in 0..COUNT {
            push.send(numbered(i)).unwrap();
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(3));
            }
        }
        push
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cancelled = rt.block_on(async {
        let mut cancelled = 0;
        let mut next = 0;
        while next < COUNT {
            match tokio::time::timeout(Duration::from_millis(1), pull.recv()).await {
                Ok(msg) => {
                    assert_eq!(number_of(&msg.unwrap()), next);
                    next += 1;
                }
                Err(_) => cancelled += 1,
            }
        }
        cancelled
    });
    assert!(
        cancelled > 0,
        "no receive was cancelled: the test tested nothing"
    );
    drop(sender.join().unwrap());
    assert_eq!(
        pull.try_recv(),
        Err(Error::WouldBlock),
        "more than was sent"
    );
}

#[test]
fn a_cancelled_send_sent_all_of_the_message_or_nothing() {
    let ctx = Context::new();
    for endpoint in [inproc(), "tcp://127.0.0.1:*".to_owned()] {
        let (pull, mut push) = pair(&ctx, &endpoint, 10);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nobody reads: sends complete until the queues are full, then time out.
        let (completed, cancelled) = rt.block_on(async {
            let (mut completed, mut cancelled) = (0u64, 0);
            while cancelled < 20 {
                match tokio::time::timeout(Duration::from_millis(5), push.send(numbered(completed)))
                    .await
                {
                    Ok(sent) => {
                        sent.unwrap();
                        completed += 1;
                    }
                    Err(_) => cancelled += 1,
                }
            }
            (completed, cancelled)
        });
        assert!(completed > 0 && cancelled == 20, "{endpoint}");
        let pull = pull.into_inner();
        // Exactly the completed sends arrive, each whole, in order.
        for i in 0..completed {
            assert_eq!(number_of(&pull.recv().unwrap()), i, "{endpoint}");
        }
        pull.set_rcvtimeo(200).unwrap();
        assert_eq!(
            pull.recv(),
            Err(Error::WouldBlock),
            "{endpoint}: a cancelled send arrived"
        );
    }
}

#[test]
fn stream_and_sink() {
    let ctx = Context::new();
    let (mut pull, mut push) = pair(&ctx, &inproc(), 100);
    smol::block_on(async {
        let sender = async {
            let mut items = futures_util::stream::iter((0..COUNT).map(|i| Ok(numbered(i))));
            push.send_all(&mut items).await.unwrap();
            push.close().await.unwrap();
        };
        let receiver = async {
            let got: Vec<u64> = (&mut pull)
                .take(COUNT as usize)
                .map(|msg| number_of(&msg.unwrap()))
                .collect()
                .await;
            assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
        };
        futures_util::future::join(sender, receiver).await;
    });
}

#[test]
fn a_context_shutdown_wakes_a_pending_receive() {
    let ctx = Context::new();
    let mut pull = AsyncSocket::new(socket(&ctx, SocketType::Pull));
    pull.bind(&inproc()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let receiver = rt.spawn(async move { pull.recv().await });
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !receiver.is_finished(),
        "a receive with nothing to receive finished"
    );
    ctx.shutdown();
    let got = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), receiver)
            .await
            .expect("the shutdown did not wake the task")
            .unwrap()
    });
    assert_eq!(got, Err(Error::Terminated));
}
