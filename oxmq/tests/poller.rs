//! `Poller` and the sockets' descriptors (`AsFd`): level-triggered readiness over many
//! sockets and raw descriptors, through oxmq's poller and through an epoll instance of the
//! test's own (libzmq's `test_poller.cpp` and its issue 2941, a missed `ZMQ_FD` wake-up).
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use common::{bound, inproc, socket};
use oxmq::{Context, Error, PollEvent, Poller, Readiness, Socket, SocketType};

const SHORT: Option<Duration> = Some(Duration::from_millis(20));

fn keys(events: &[PollEvent]) -> BTreeSet<usize> {
    events.iter().map(|e| e.key).collect()
}

/// `n` PULL sockets, each with a PUSH connected to it.
fn pairs(ctx: &Context, n: usize, endpoint: impl Fn(usize) -> String) -> Vec<(Socket, Socket)> {
    (0..n)
        .map(|i| {
            let (pull, ep) = bound(ctx, SocketType::Pull, &endpoint(i));
            let push = socket(ctx, SocketType::Push);
            push.connect(&ep).unwrap();
            (pull, push)
        })
        .collect()
}

/// The endpoint of the `i`th of many pairs: inproc, every tenth over tcp.
fn mostly_inproc(i: usize) -> String {
    if i % 10 == 0 {
        "tcp://127.0.0.1:*".to_owned()
    } else {
        inproc()
    }
}

/// A deterministic pseudo-random subset of `0..n` for round `round`.
fn subset(n: usize, round: u64) -> BTreeSet<usize> {
    let mut x = round.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .filter(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 7 == 0
        })
        .collect()
}

#[test]
fn a_waiting_message_is_reported_by_every_wait_until_it_is_read() {
    let ctx = Context::new();
    let (pull, ep) = bound(&ctx, SocketType::Pull, &inproc());
    let push = socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    let mut poller = Poller::new().unwrap();
    poller.add(&pull, 7, Readiness::READABLE).unwrap();
    let mut events = Vec::new();
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
    push.send("one").unwrap();
    push.send("two").unwrap();
    for _ in 0..3 {
        assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 1);
        assert_eq!(
            events,
            [PollEvent {
                key: 7,
                readiness: Readiness::READABLE
            }]
        );
    }
    // Someone else looking (and so clearing the descriptor) does not hide the message.
    assert!(pull.events().unwrap().readable);
    assert!(pull.has_incoming());
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 1);
    assert_eq!(pull.recv().unwrap()[0], b"one"[..]);
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 1);
    assert_eq!(pull.recv().unwrap()[0], b"two"[..]);
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
}

#[test]
fn a_wait_ends_when_another_thread_sends() {
    let ctx = Context::new();
    for endpoint in [inproc(), "tcp://127.0.0.1:*".to_owned()] {
        let (pull, ep) = bound(&ctx, SocketType::Pull, &endpoint);
        let mut poller = Poller::new().unwrap();
        poller.add(&pull, 1, Readiness::READABLE).unwrap();
        let mut events = Vec::new();
        let sender = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let push = socket(&ctx, SocketType::Push);
                push.connect(&ep).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                push.send("late").unwrap();
                push
            })
        };
        assert_eq!(
            poller
                .wait(&mut events, Some(Duration::from_secs(10)))
                .unwrap(),
            1,
            "{endpoint}"
        );
        assert_eq!(pull.try_recv().unwrap()[0], b"late"[..]);
        drop(sender.join().unwrap());
    }
}

#[test]
fn a_socket_that_read_its_own_connection_still_reports_the_next_message() {
    // Over tcp a blocking receive may read the connection itself (the read gate); a poller's
    // look hands it back to the I/O thread, which then announces what comes next.
    let ctx = Context::new();
    let (pull, ep) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
    let push = socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    for i in 0..100u32 {
        push.send(i.to_le_bytes().to_vec()).unwrap();
        pull.recv().unwrap();
    }
    let mut poller = Poller::new().unwrap();
    poller.add(&pull, 1, Readiness::READABLE).unwrap();
    let mut events = Vec::new();
    for round in 0..50u32 {
        assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0, "round {round}");
        push.send(round.to_le_bytes().to_vec()).unwrap();
        assert_eq!(
            poller
                .wait(&mut events, Some(Duration::from_secs(10)))
                .unwrap(),
            1,
            "round {round}"
        );
        assert_eq!(pull.try_recv().unwrap()[0], round.to_le_bytes()[..]);
    }
}

#[test]
fn writable_follows_the_high_water_mark() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    pull.set_rcvhwm(1).unwrap();
    let ep = inproc();
    pull.bind(&ep).unwrap();
    let push = socket(&ctx, SocketType::Push);
    push.set_sndhwm(1).unwrap();
    let mut poller = Poller::new().unwrap();
    poller.add(&push, 3, Readiness::WRITABLE).unwrap();
    let mut events = Vec::new();
    assert_eq!(
        poller.wait(&mut events, SHORT).unwrap(),
        0,
        "no peer: not writable"
    );
    push.connect(&ep).unwrap();
    assert_eq!(
        poller
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap(),
        1
    );
    assert_eq!(events[0].readiness, Readiness::WRITABLE);
    let mut sent = 0;
    while push.try_send("x").is_ok() {
        sent += 1;
        assert!(sent < 100, "the high-water mark never filled");
    }
    assert_eq!(
        poller.wait(&mut events, SHORT).unwrap(),
        0,
        "full: not writable"
    );
    pull.recv().unwrap();
    assert_eq!(
        poller
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap(),
        1
    );
    assert!(events[0].readiness.is_writable());
    // Full again; then room, seen first by someone else's look (which clears the
    // descriptor): the poller still reports it.
    while push.try_send("x").is_ok() {}
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
    pull.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !push.events().unwrap().writable {
        assert!(Instant::now() < deadline, "room never came");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 1);
    assert!(events[0].readiness.is_writable());
}

#[test]
fn raw_descriptors_beside_sockets() {
    let ctx = Context::new();
    let (pull, ep) = bound(&ctx, SocketType::Pull, &inproc());
    let push = socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut poller = Poller::new().unwrap();
    poller.add(&pull, 1, Readiness::READABLE).unwrap();
    poller
        .add_fd(a.as_raw_fd(), 2, Readiness::READABLE | Readiness::ERROR)
        .unwrap();
    let mut events = Vec::new();
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
    b.write_all(b"ping").unwrap();
    push.send("msg").unwrap();
    assert_eq!(
        poller
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap(),
        2
    );
    assert_eq!(keys(&events), BTreeSet::from([1, 2]));
    // Level-triggered for descriptors too.
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 2);
    let mut buf = [0u8; 4];
    a.read_exact(&mut buf).unwrap();
    pull.recv().unwrap();
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
    // Writable once asked for; readable at the peer's hang-up.
    poller
        .modify_fd(a.as_raw_fd(), Readiness::WRITABLE)
        .unwrap();
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 1);
    assert_eq!(events[0].readiness, Readiness::WRITABLE);
    poller
        .modify_fd(a.as_raw_fd(), Readiness::READABLE)
        .unwrap();
    drop(b);
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 1);
    assert!(events[0].readiness.is_readable());
    poller.remove_fd(a.as_raw_fd()).unwrap();
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
    assert_eq!(poller.len(), 1);
}

#[test]
fn misuse_is_an_error() {
    let ctx = Context::new();
    let pull = socket(&ctx, SocketType::Pull);
    let other = socket(&ctx, SocketType::Pull);
    let mut poller = Poller::new().unwrap();
    poller.add(&pull, 1, Readiness::READABLE).unwrap();
    assert_eq!(
        poller.add(&pull, 2, Readiness::READABLE),
        Err(Error::Invalid)
    );
    assert_eq!(
        poller.modify(&other, Readiness::READABLE),
        Err(Error::Invalid)
    );
    assert_eq!(poller.remove(&other), Err(Error::Invalid));
    assert_eq!(poller.remove_fd(0), Err(Error::Invalid));
    let file = std::fs::File::open("/proc/self/status").unwrap();
    assert_eq!(
        poller.add_fd(file.as_raw_fd(), 3, Readiness::READABLE),
        Err(Error::Invalid),
        "epoll cannot watch a regular file"
    );
    poller.remove(&pull).unwrap();
    assert!(poller.is_empty());
    poller.add(&pull, 1, Readiness::READABLE).unwrap();
    ctx.shutdown();
    let mut events = Vec::new();
    assert_eq!(
        poller.wait(&mut events, Some(Duration::from_secs(5))),
        Err(Error::Terminated)
    );
}

#[test]
fn a_thousand_sockets_through_one_poller() {
    let ctx = Context::new();
    let n = 1000;
    let pairs = pairs(&ctx, n, mostly_inproc);
    let mut poller = Poller::new().unwrap();
    for (i, (pull, _)) in pairs.iter().enumerate() {
        poller.add(pull, i, Readiness::READABLE).unwrap();
    }
    let mut events = Vec::new();
    assert_eq!(poller.wait(&mut events, SHORT).unwrap(), 0);
    for round in 1..=20u64 {
        let chosen = subset(n, round);
        for &i in &chosen {
            pairs[i].1.send(round.to_le_bytes().to_vec()).unwrap();
        }
        // tcp deliveries arrive over a while: wait until every chosen socket was reported.
        let mut seen = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.len() < chosen.len() && Instant::now() < deadline {
            poller
                .wait(&mut events, Some(Duration::from_secs(1)))
                .unwrap();
            let got = keys(&events);
            assert!(
                got.is_subset(&chosen),
                "round {round}: reported {:?} not sent to",
                got.difference(&chosen)
            );
            for &i in &got {
                if seen.insert(i) {
                    assert_eq!(pairs[i].0.try_recv().unwrap()[0], round.to_le_bytes()[..]);
                }
            }
        }
        assert_eq!(seen, chosen, "round {round}");
        assert_eq!(
            poller.wait(&mut events, Some(Duration::ZERO)).unwrap(),
            0,
            "round {round}: all read"
        );
    }
}

/// An epoll instance of the test's own, watching the sockets' descriptors as tokio's `AsyncFd`
/// does (edge-triggered): a socket whose descriptor fires is received from until
/// `WouldBlock`; every message arrives, and once all are read no descriptor stays readable.
#[test]
fn a_thousand_socket_descriptors_through_one_epoll() {
    let ctx = Context::new();
    let n = 1000;
    let pairs = pairs(&ctx, n, mostly_inproc);
    // SAFETY: epoll_create1 takes no pointers.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epoll >= 0);
    for (i, (pull, _)) in pairs.iter().enumerate() {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: i as u64,
        };
        // SAFETY: a live epoll_event; the descriptor is the socket's, open while it lives.
        let rc = unsafe {
            libc::epoll_ctl(
                epoll,
                libc::EPOLL_CTL_ADD,
                pull.as_fd().as_raw_fd(),
                &mut event,
            )
        };
        assert_eq!(rc, 0);
        // The first lending writes the descriptor once; receiving until WouldBlock clears it.
        assert_eq!(pull.try_recv(), Err(Error::WouldBlock));
    }
    let wait = |ms: i32| -> Vec<usize> {
        let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; n];
        // SAFETY: `buf` has room for `n` events.
        let got = unsafe { libc::epoll_wait(epoll, buf.as_mut_ptr(), n as i32, ms) };
        assert!(got >= 0);
        buf[..got as usize].iter().map(|e| e.u64 as usize).collect()
    };
    // Drain the wake-ups of the first lending.
    while !wait(0).is_empty() {}
    for round in 1..=20u64 {
        let chosen = subset(n, round);
        for &i in &chosen {
            for part in 0..2u64 {
                pairs[i]
                    .1
                    .send((round * 10 + part).to_le_bytes().to_vec())
                    .unwrap();
            }
        }
        let mut received = vec![0usize; n];
        let deadline = Instant::now() + Duration::from_secs(10);
        while chosen.iter().any(|&i| received[i] < 2) && Instant::now() < deadline {
            for i in wait(1000) {
                assert!(
                    chosen.contains(&i),
                    "round {round}: socket {i} woke with nothing sent"
                );
                loop {
                    match pairs[i].0.try_recv() {
                        Ok(msg) => {
                            assert_eq!(msg[0], (round * 10 + received[i] as u64).to_le_bytes()[..]);
                            received[i] += 1;
                        }
                        Err(Error::WouldBlock) => break,
                        Err(err) => panic!("socket {i}: {err}"),
                    }
                }
            }
        }
        for &i in &chosen {
            assert_eq!(received[i], 2, "round {round}: socket {i}");
        }
        // Everything read: no descriptor fires (a spurious wake-up or two may remain from
        // a wake that raced a receive, but then receiving finds nothing and clears it).
        for i in wait(20) {
            assert_eq!(pairs[i].0.try_recv(), Err(Error::WouldBlock));
        }
        assert!(
            wait(20).is_empty(),
            "round {round}: a descriptor stays readable"
        );
    }
    // SAFETY: our own epoll descriptor, closed once.
    unsafe { libc::close(epoll) };
}
