//! A receive that blocks on the socket's only connection reads that connection from its own
//! thread (the read gate): what the I/O thread did for the connection must still happen —
//! PINGs answered, a peer's TTL kept, a hang-up seen, a signal reported — and messages must
//! come whole and in order across the hand-offs between the two threads.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::raw::{RawPeer, encode_frame, ping_body};
use common::{bound, socket, wait_for_event};
use oxmq::{Context, Error, EventKind, EventMask, Message, Monitor, SocketType};

/// A DEALER bound on tcp with a raw ROUTER connected to it, handshake done.
fn dealer_with_raw_peer(ctx: &Context) -> (oxmq::Socket, Monitor, RawPeer) {
    let dealer = socket(ctx, SocketType::Dealer);
    let monitor = dealer.monitor(EventMask::ALL).unwrap();
    dealer.bind("tcp://127.0.0.1:*").unwrap();
    let peer = RawPeer::connect(&dealer.last_endpoint(), "ROUTER", 1, None);
    assert!(
        wait_for_event(
            &monitor,
            EventKind::HandshakeSucceeded,
            Duration::from_secs(5)
        )
        .is_some()
    );
    (dealer, monitor, peer)
}

/// Sends a PING with `context` and expects its PONG within a second, though no thread of the
/// application is looking at the socket.
fn assert_ping_answered_while_away(peer: &mut RawPeer, context: &[u8]) {
    let asked = Instant::now();
    peer.send_command(&ping_body(0, context));
    let pong = peer
        .recv_frame(Duration::from_secs(2))
        .expect("a PONG while away");
    assert_eq!(pong.body, [&b"\x04PONG"[..], context].concat());
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn pings_are_answered_while_a_receive_waits() {
    let ctx = Context::new();
    let (dealer, _monitor, mut peer) = dealer_with_raw_peer(&ctx);
    {
        let receiver = thread::spawn(move || dealer.recv());
        // Let the receive settle into its wait on the connection.
        thread::sleep(Duration::from_millis(200));
        let mut both = encode_frame(0x04, &ping_body(0, b"one"));
        both.extend(encode_frame(0x04, &ping_body(0, b"two")));
        peer.write(&both);
        let first = peer.recv_frame(Duration::from_secs(3)).expect("first PONG");
        assert_eq!(first.body, b"\x04PONGone");
        let second = peer
            .recv_frame(Duration::from_secs(3))
            .expect("second PONG");
        assert_eq!(second.body, b"\x04PONGtwo");
        // The receive is still waiting, and gets what comes next.
        assert!(!receiver.is_finished());
        peer.send_message(&[b"after the pings"]);
        let msg = receiver.join().unwrap().expect("the message");
        assert_eq!(&msg[0], b"after the pings");
    }
}

/// After a receive that waited on the connection, its input stays with the socket: a PING
/// that comes while the application does something else is still answered, by the I/O
/// thread's sweep, long before any heartbeat timeout.
#[test]
fn pings_are_answered_while_the_application_is_away() {
    let ctx = Context::new();
    let (dealer, monitor, mut peer) = dealer_with_raw_peer(&ctx);
    let receiver = thread::spawn(move || {
        let msg = dealer.recv();
        // Away from the socket, long enough for a peer's heartbeat timeout to matter.
        thread::sleep(Duration::from_millis(1500));
        (msg.map(|m| m[0].to_vec()), dealer)
    });
    thread::sleep(Duration::from_millis(200));
    peer.send_message(&[b"wake up"]);
    thread::sleep(Duration::from_millis(100));
    assert_ping_answered_while_away(&mut peer, b"away");
    let (msg, dealer) = receiver.join().unwrap();
    assert_eq!(msg.unwrap(), b"wake up");
    peer.send_message(&[b"and again"]);
    assert_eq!(&dealer.recv().unwrap()[0], b"and again");
    assert!(monitor.try_recv().is_none(), "no disconnection");
}

/// The I/O thread's sweep must stay armed across a hand-off: a sweep that fires while the
/// session holds the connection (busy writing) ends its chain, and the socket's next wait on the
/// connection arms a new one, so a PING that comes after that wait, while the application is
/// away, is still answered.
#[test]
fn pings_are_answered_after_a_sweep_found_the_session_busy() {
    let ctx = Context::new();
    let (dealer, monitor, mut peer) = dealer_with_raw_peer(&ctx);
    dealer.set_rcvtimeo(5).unwrap();
    // Waits on the connection over several sweeps: the sweep keeps re-arming.
    let waiting = Instant::now();
    while waiting.elapsed() < Duration::from_millis(100) {
        assert_eq!(dealer.recv().map(|_| ()), Err(Error::WouldBlock));
    }
    // Then the session takes the connection back to write more than the peer reads, and holds
    // it over the next sweeps.
    let big = vec![7u8; 1 << 20];
    for _ in 0..16 {
        dealer.try_send(Message::from(big.clone())).unwrap();
    }
    thread::sleep(Duration::from_millis(100));
    for i in 0..16 {
        let msg = peer
            .recv_message(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("message {i}"));
        assert_eq!(msg[0].len(), big.len());
    }
    // Idle again: one more wait on the connection, then the application is away.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(dealer.recv().map(|_| ()), Err(Error::WouldBlock));
    assert_ping_answered_while_away(&mut peer, b"later");
    assert!(monitor.try_recv().is_none(), "no disconnection");
}

#[test]
fn a_peers_ttl_holds_while_a_receive_waits() {
    let ctx = Context::new();
    let (dealer, monitor, mut peer) = dealer_with_raw_peer(&ctx);
    dealer.set_rcvtimeo(3000).unwrap();
    {
        let receiver = thread::spawn(move || dealer.recv());
        thread::sleep(Duration::from_millis(200));
        // A TTL of 3 deciseconds, then silence: the connection goes after about 300 ms, though
        // the only thread looking at it is waiting in a receive.
        let sent = Instant::now();
        peer.send_command(&ping_body(3, b""));
        let _ = peer.recv_frame(Duration::from_secs(3)).expect("its PONG");
        assert!(
            wait_for_event(&monitor, EventKind::Disconnected, Duration::from_secs(5)).is_some()
        );
        let lost = sent.elapsed();
        assert!(lost >= Duration::from_millis(300), "{lost:?}");
        assert!(lost < Duration::from_millis(2000), "{lost:?}");
        assert!(peer.closed_within(Duration::from_secs(5)));
        assert_eq!(receiver.join().unwrap().map(|_| ()), Err(Error::WouldBlock));
    }
}

#[test]
fn a_hang_up_is_seen_while_a_receive_waits() {
    let ctx = Context::new();
    let (dealer, monitor, peer) = dealer_with_raw_peer(&ctx);
    dealer.set_rcvtimeo(2000).unwrap();
    let receiver = thread::spawn(move || (dealer.recv().map(|_| ()), dealer));
    thread::sleep(Duration::from_millis(200));
    drop(peer);
    assert!(
        wait_for_event(&monitor, EventKind::Disconnected, Duration::from_secs(5)).is_some(),
        "the hang-up is reported"
    );
    let (received, dealer) = receiver.join().unwrap();
    assert_eq!(received, Err(Error::WouldBlock));
    // A new peer is served as usual.
    let mut again = RawPeer::connect(&dealer.last_endpoint(), "ROUTER", 1, None);
    again.send_message(&[b"second peer"]);
    assert_eq!(&dealer.recv().unwrap()[0], b"second peer");
}

/// The frames of message `n`: its number, then a body whose size runs from 0 to 300 KiB
/// (several reads' worth) and back, sometimes in three parts.
fn numbered(n: u32) -> Vec<Vec<u8>> {
    let size = match n % 7 {
        0 => 0,
        1 => 1,
        2 => 200,
        3 => 8 * 1024,
        4 => 70 * 1024,
        5 => 300 * 1024,
        _ => 33,
    };
    let body: Vec<u8> = (0..size).map(|i| (i as u32 ^ n) as u8).collect();
    if n % 3 == 0 {
        vec![n.to_be_bytes().to_vec(), body, b"end".to_vec()]
    } else {
        vec![n.to_be_bytes().to_vec(), body]
    }
}

/// A PULL bound on `endpoint` and a PUSH connected to it that sends messages `frames(0)` to
/// `frames(count - 1)` from a thread of its own, pausing for `pause` after every `every`th.
/// Returns the PULL, the endpoint it is bound on, and the sending thread (which hands the PUSH
/// back, so that it outlives what it sent).
fn push_in_bursts(
    ctx: &Context,
    endpoint: &str,
    count: u32,
    frames: fn(u32) -> Vec<Vec<u8>>,
    every: u32,
    pause: Duration,
) -> (oxmq::Socket, String, thread::JoinHandle<oxmq::Socket>) {
    let (pull, endpoint) = bound(ctx, SocketType::Pull, endpoint);
    let push = socket(ctx, SocketType::Push);
    push.connect(&endpoint).unwrap();
    let sender = thread::spawn(move || {
        for n in 0..count {
            push.send(Message::from_frames(frames(n))).unwrap();
            if n % every == 0 {
                thread::sleep(pause);
            }
        }
        push
    });
    (pull, endpoint, sender)
}

/// Bursts with pauses between them, so that the receive keeps catching up and waiting on the
/// connection while the I/O thread reads in between: every message arrives whole, in order.
#[test]
fn messages_stay_whole_and_in_order_across_hand_offs() {
    for endpoint in ["tcp://127.0.0.1:*".to_owned(), common::ipc_path()] {
        let ctx = Context::new();
        const COUNT: u32 = 3_000;
        let (pull, endpoint, sender) = push_in_bursts(
            &ctx,
            &endpoint,
            COUNT,
            numbered,
            97,
            Duration::from_millis(2),
        );
        for n in 0..COUNT {
            let msg = pull.recv().unwrap_or_else(|e| panic!("message {n}: {e}"));
            let got: Vec<Vec<u8>> = msg.iter().map(|f| f.to_vec()).collect();
            assert!(got == numbered(n), "message {n} of {endpoint}");
        }
        drop(sender.join().unwrap());
    }
}

/// A signal handler that runs while a receive waits on the connection ends it with
/// `Error::Interrupted`, as a receive parked the usual way does.
#[test]
fn a_signal_interrupts_a_receive_waiting_on_the_connection() {
    common::install_noop_handler(libc::SIGUSR2);
    let ctx = Context::new();
    let (dealer, _monitor, mut peer) = dealer_with_raw_peer(&ctx);
    dealer.set_rcvtimeo(-1).unwrap();
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    let poker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        // SAFETY: the receiving thread is alive (it waits in recv until this signal).
        unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR2) };
    });
    let start = Instant::now();
    assert_eq!(dealer.recv().map(|_| ()), Err(Error::Interrupted));
    assert!(start.elapsed() < Duration::from_secs(5));
    poker.join().unwrap();
    // The connection is still there.
    peer.send_message(&[b"still here"]);
    dealer.set_rcvtimeo(5000).unwrap();
    assert_eq!(&dealer.recv().unwrap()[0], b"still here");
}

/// A context shut down from another thread ends a receive waiting on the connection with
/// `Error::Terminated`, as it ends a parked one.
#[test]
fn shutdown_ends_a_receive_waiting_on_the_connection() {
    let ctx = Context::new();
    let (dealer, _monitor, _peer) = dealer_with_raw_peer(&ctx);
    dealer.set_rcvtimeo(-1).unwrap();
    let shutter = {
        let ctx = ctx.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            ctx.shutdown();
        })
    };
    let start = Instant::now();
    assert_eq!(dealer.recv().map(|_| ()), Err(Error::Terminated));
    assert!(start.elapsed() < Duration::from_secs(5));
    shutter.join().unwrap();
}

/// The frames of message `n` of the mixed-waits test: its number, then 16 KiB or 40 bytes of
/// one value.
fn tagged(n: u32) -> Vec<Vec<u8>> {
    let size = if n % 2 == 0 { 16 * 1024 } else { 40 };
    vec![n.to_be_bytes().to_vec(), vec![(n % 251) as u8; size]]
}

/// Waits for `socket` to have a message the way an event loop does: `events`, then the
/// socket's descriptor, until readable.
fn wait_readable(socket: &oxmq::Socket) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.events().unwrap().readable {
        assert!(Instant::now() < deadline, "no message within 5 s");
        let mut fd = libc::pollfd {
            fd: socket.signal_fd().unwrap(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live, initialised pollfd.
        unsafe { libc::poll(&mut fd, 1, 100) };
    }
}

/// The socket's ways of waiting for a message, mixed, with pauses longer than the I/O
/// thread's sweep between them: blocking receives (which take the connection's input from
/// the I/O thread and leave it taken), event-loop waits and non-blocking receives (which give
/// it back), and receives after a pause (by which the sweep took it back). Every message
/// arrives, whole and in order, over tcp and ipc.
#[test]
fn every_way_of_waiting_hands_the_connection_over_cleanly() {
    for endpoint in ["tcp://127.0.0.1:*".to_owned(), common::ipc_path()] {
        let ctx = Context::new();
        const COUNT: u32 = 4_000;
        let (pull, endpoint, sender) =
            push_in_bursts(&ctx, &endpoint, COUNT, tagged, 50, Duration::from_millis(1));
        for n in 0..COUNT {
            let msg = match n % 4 {
                0 => pull.recv().unwrap_or_else(|e| panic!("message {n}: {e}")),
                1 => {
                    wait_readable(&pull);
                    pull.try_recv().unwrap()
                }
                2 => loop {
                    match pull.try_recv() {
                        Ok(msg) => break msg,
                        Err(Error::WouldBlock) => thread::yield_now(),
                        Err(e) => panic!("message {n}: {e}"),
                    }
                },
                _ => {
                    if n % 200 == 3 {
                        thread::sleep(Duration::from_millis(30));
                    }
                    pull.recv().unwrap_or_else(|e| panic!("message {n}: {e}"))
                }
            };
            let got: Vec<Vec<u8>> = msg.iter().map(|f| f.to_vec()).collect();
            assert!(got == tagged(n), "message {n} of {endpoint}");
        }
        drop(sender.join().unwrap());
    }
}

/// A receive that finds the I/O thread holding the connection keeps it while it parks, so the
/// session may lend the connection with input still undecoded behind a full receive pipe. With
/// a small RCVHWM and a sender that never pauses that happens at nearly every pipe-full; then
/// the application switches between blocking receives, non-blocking ones and event-loop waits
/// in stretches: whichever way it reads next, the rest of the stream is decoded, every message
/// arrives in order, and none waits for ever.
#[test]
fn input_left_behind_a_full_pipe_is_read_however_the_application_waits_next() {
    for endpoint in ["tcp://127.0.0.1:*".to_owned(), common::ipc_path()] {
        let ctx = Context::new();
        const COUNT: u32 = 60_000;
        let pull = socket(&ctx, SocketType::Pull);
        pull.set_rcvhwm(16).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind(&endpoint).unwrap();
        let endpoint = pull.last_endpoint();
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        let sender = thread::spawn(move || {
            for n in 0..COUNT {
                push.send(Message::from(n.to_be_bytes().to_vec())).unwrap();
            }
            push
        });
        for n in 0..COUNT {
            let msg = match (n / 1_000) % 3 {
                0 => pull.recv().unwrap_or_else(|e| panic!("message {n}: {e}")),
                1 => {
                    wait_readable(&pull);
                    pull.try_recv().unwrap()
                }
                _ => {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    loop {
                        match pull.try_recv() {
                            Ok(msg) => break msg,
                            Err(Error::WouldBlock) => {
                                assert!(Instant::now() < deadline, "message {n} never came");
                                thread::yield_now();
                            }
                            Err(e) => panic!("message {n}: {e}"),
                        }
                    }
                }
            };
            assert_eq!(msg[0], n.to_be_bytes()[..], "message {n} of {endpoint}");
        }
        drop(sender.join().unwrap());
    }
}
