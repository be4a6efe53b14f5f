//! Request-reply broker, ROUTER/DEALER (the guide's `rrclient`, `rrworker` and `rrbroker`).
//!
//! Clients send REQ requests to the broker's ROUTER frontend; the broker passes each message,
//! envelope and all, to its DEALER backend, which load-balances over REP workers; replies come
//! back the same way and the ROUTER routes each to the client that asked, by the routing id at
//! the front of the envelope.
//!
//! The broker waits on both sockets at once with a `Poller` (the guide's `zmq_poll` loop);
//! `msgqueue` does the same with the built-in proxy.
//!
//! ```sh
//! cargo run --example broker
//! ```

use oxmq::{Context, Error, Poller, Readiness, SocketType};

fn main() -> oxmq::Result<()> {
    const CLIENTS: usize = 3;
    const WORKERS: usize = 2;
    const REQUESTS: usize = 10;
    let ctx = Context::new();

    let frontend = ctx.socket(SocketType::Router)?;
    frontend.bind("tcp://127.0.0.1:*")?;
    let frontend_endpoint = frontend.last_endpoint();
    let backend = ctx.socket(SocketType::Dealer)?;
    backend.bind("tcp://127.0.0.1:*")?;
    let backend_endpoint = backend.last_endpoint();

    for id in 0..WORKERS {
        let ctx = ctx.clone();
        let endpoint = backend_endpoint.clone();
        std::thread::spawn(move || -> oxmq::Result<()> {
            let worker = ctx.socket(SocketType::Rep)?;
            worker.connect(&endpoint)?;
            loop {
                let request = match worker.recv() {
                    Ok(request) => request,
                    Err(Error::Terminated) => return Ok(()),
                    Err(err) => return Err(err),
                };
                let text = String::from_utf8_lossy(&request[0]).into_owned();
                worker.send(format!("World (worker {id}, for {text})"))?;
            }
        });
    }

    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let ctx = ctx.clone();
            let endpoint = frontend_endpoint.clone();
            std::thread::spawn(move || -> oxmq::Result<()> {
                let client = ctx.socket(SocketType::Req)?;
                client.connect(&endpoint)?;
                for n in 0..REQUESTS {
                    client.send(format!("Hello {id}.{n}"))?;
                    let reply = client.recv()?;
                    let text = String::from_utf8_lossy(&reply[0]).into_owned();
                    assert!(text.ends_with(&format!("for Hello {id}.{n})")), "{text}");
                    println!("client {id}: {text}");
                }
                Ok(())
            })
        })
        .collect();

    const FRONTEND: usize = 0;
    const BACKEND: usize = 1;
    let mut poller = Poller::new()?;
    poller.add(&frontend, FRONTEND, Readiness::READABLE)?;
    poller.add(&backend, BACKEND, Readiness::READABLE)?;
    let mut events = Vec::new();
    let mut forwarded = 0;
    while forwarded < 2 * CLIENTS * REQUESTS {
        poller.wait(&mut events, None)?;
        for event in &events {
            let (from, to) = match event.key {
                FRONTEND => (&frontend, &backend),
                _ => (&backend, &frontend),
            };
            // Level-triggered: what is not read now is reported again by the next wait.
            let message = from.recv()?;
            to.send(message)?;
            forwarded += 1;
        }
    }
    for client in clients {
        client.join().expect("client thread")?;
    }
    println!("broker: forwarded {forwarded} messages");
    // Dropping the context handle and the broker's sockets; the workers see ETERM.
    ctx.shutdown();
    Ok(())
}
