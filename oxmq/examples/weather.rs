//! Weather updates, publish-subscribe (the guide's `wuserver` and `wuclient`).
//!
//! The server publishes "zipcode temperature humidity" for random zip codes; the client
//! subscribes to one zip code only (the filter runs at the publisher) and averages the
//! temperature over 50 updates.
//!
//! ```sh
//! cargo run --example weather
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oxmq::{Context, SocketType};

/// A small xorshift generator: the example needs no random-number crate.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() -> oxmq::Result<()> {
    const UPDATES: usize = 50;
    const ZIP: &str = "10001 ";
    let ctx = Context::new();

    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.bind("tcp://127.0.0.1:*")?;
    let endpoint = publisher.last_endpoint();
    let done = Arc::new(AtomicBool::new(false));
    let server = std::thread::spawn({
        let done = Arc::clone(&done);
        move || -> oxmq::Result<u64> {
            let mut random = Random(0x2545_F491_4F6C_DD1D);
            let mut sent = 0;
            while !done.load(Ordering::Relaxed) {
                // Every hundredth update is for the client's zip code, so it is not starved.
                let zipcode = if sent % 100 == 0 {
                    10001
                } else {
                    random.below(100_000)
                };
                let temperature = random.below(215) as i64 - 80;
                let humidity = random.below(50) + 10;
                publisher.send(format!("{zipcode:05} {temperature} {humidity}"))?;
                sent += 1;
            }
            Ok(sent)
        }
    });

    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect(&endpoint)?;
    subscriber.subscribe(ZIP.as_bytes())?;
    let mut total = 0i64;
    for _ in 0..UPDATES {
        let update = subscriber.recv()?;
        let text = String::from_utf8_lossy(&update[0]).into_owned();
        assert!(text.starts_with(ZIP), "the filter let {text:?} through");
        let temperature: i64 = text
            .split(' ')
            .nth(1)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        total += temperature;
    }
    done.store(true, Ordering::Relaxed);
    let sent = server.join().expect("server thread")?;
    println!(
        "average temperature for zipcode {} was {}F ({UPDATES} of {sent} updates)",
        ZIP.trim(),
        total / UPDATES as i64
    );
    Ok(())
}
