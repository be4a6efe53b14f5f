//! Message queue broker with the built-in proxy (the guide's `msgqueue`): clients' REQs connect
//! to a ROUTER, workers' REPs to a DEALER, and `proxy_steerable` moves everything between
//! them on a thread of its own; the control socket asks it for its statistics and stops it.
//!
//! ```sh
//! cargo run --example msgqueue
//! ```

use oxmq::{Context, Error, SocketType};

fn main() -> oxmq::Result<()> {
    const CLIENTS: usize = 4;
    const WORKERS: usize = 2;
    const REQUESTS: usize = 25;
    let ctx = Context::new();

    let proxy = {
        let ctx = ctx.clone();
        let (ready, started) = std::sync::mpsc::channel();
        let proxy = std::thread::spawn(move || -> oxmq::Result<()> {
            let frontend = ctx.socket(SocketType::Router)?;
            frontend.bind("inproc://msgqueue-frontend")?;
            let backend = ctx.socket(SocketType::Dealer)?;
            backend.bind("inproc://msgqueue-backend")?;
            let control = ctx.socket(SocketType::Pair)?;
            control.bind("inproc://msgqueue-control")?;
            let _ = ready.send(());
            oxmq::proxy_steerable(&frontend, &backend, None, &control)
        });
        let _ = started.recv();
        proxy
    };

    for id in 0..WORKERS {
        let ctx = ctx.clone();
        std::thread::spawn(move || -> oxmq::Result<()> {
            let worker = ctx.socket(SocketType::Rep)?;
            worker.connect("inproc://msgqueue-backend")?;
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
            std::thread::spawn(move || -> oxmq::Result<()> {
                let client = ctx.socket(SocketType::Req)?;
                client.connect("inproc://msgqueue-frontend")?;
                for n in 0..REQUESTS {
                    client.send(format!("Hello {id}.{n}"))?;
                    let reply = client.recv()?;
                    let text = String::from_utf8_lossy(&reply[0]).into_owned();
                    assert!(text.ends_with(&format!("for Hello {id}.{n})")), "{text}");
                }
                Ok(())
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread")?;
    }

    let control = ctx.socket(SocketType::Pair)?;
    control.connect("inproc://msgqueue-control")?;
    control.send("STATISTICS")?;
    let stats = control.recv()?;
    let value = |i: usize| u64::from_ne_bytes(stats[i][..].try_into().unwrap_or([0; 8]));
    println!(
        "msgqueue: frontend in {} out {}, backend in {} out {}",
        value(0),
        value(2),
        value(4),
        value(6)
    );
    control.send("TERMINATE")?;
    proxy.join().expect("proxy thread")?;
    println!("msgqueue: stopped");
    ctx.shutdown();
    Ok(())
}
