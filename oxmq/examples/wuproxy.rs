//! Weather update forwarder (the guide's `wuproxy`): a PUB server publishes to the proxy's
//! XSUB frontend, subscribers connect to its XPUB backend; subscriptions travel up through the
//! proxy to the server, which filters at the source, and only the zip code asked for comes
//! down.
//!
//! ```sh
//! cargo run --example wuproxy
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oxmq::{Context, SocketType};

fn main() -> oxmq::Result<()> {
    const UPDATES: usize = 20;
    let ctx = Context::new();

    let frontend = ctx.socket(SocketType::XSub)?;
    frontend.bind("tcp://127.0.0.1:*")?;
    let frontend_endpoint = frontend.last_endpoint();
    let backend = ctx.socket(SocketType::XPub)?;
    backend.bind("tcp://127.0.0.1:*")?;
    let backend_endpoint = backend.last_endpoint();
    let proxy = std::thread::spawn(move || oxmq::proxy(&frontend, &backend, None));

    // The weather server: random-ish updates for many zip codes, until told to stop.
    let done = Arc::new(AtomicBool::new(false));
    let server = {
        let (ctx, done) = (ctx.clone(), Arc::clone(&done));
        std::thread::spawn(move || -> oxmq::Result<()> {
            let publisher = ctx.socket(SocketType::Pub)?;
            publisher.connect(&frontend_endpoint)?;
            let mut seed = 12345u32;
            while !done.load(Ordering::Relaxed) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let zip = 10_000 + seed % 10;
                let temperature = (seed >> 8) % 50;
                publisher.send(format!("{zip} {temperature}"))?;
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            Ok(())
        })
    };

    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect(&backend_endpoint)?;
    subscriber.subscribe(b"10001 ")?;
    let mut total = 0;
    for _ in 0..UPDATES {
        let update = subscriber.recv()?;
        let text = String::from_utf8_lossy(&update[0]).into_owned();
        assert!(text.starts_with("10001 "), "{text}");
        total += text[6..].parse::<u32>().unwrap_or(0);
    }
    println!(
        "wuproxy: {UPDATES} updates for 10001 through the proxy, average {} degrees",
        total / UPDATES as u32
    );
    done.store(true, Ordering::Relaxed);
    server.join().expect("server thread")?;
    ctx.shutdown();
    // The proxy returns when the context is shut down.
    assert_eq!(
        proxy.join().expect("proxy thread"),
        Err(oxmq::Error::Terminated)
    );
    Ok(())
}
