//! Hello World, request-reply (the ZeroMQ guide's `hwserver` and `hwclient` in one process).
//!
//! A REP server answers "World" to every "Hello"; a REQ client sends ten requests and prints
//! each reply.
//!
//! ```sh
//! cargo run --example hello_world
//! ```

use oxmq::{Context, SocketType};

fn main() -> oxmq::Result<()> {
    let ctx = Context::new();

    let server = ctx.socket(SocketType::Rep)?;
    server.bind("tcp://127.0.0.1:*")?;
    let endpoint = server.last_endpoint();
    let server = std::thread::spawn(move || -> oxmq::Result<()> {
        for _ in 0..10 {
            let request = server.recv()?;
            println!("server: received {}", String::from_utf8_lossy(&request[0]));
            server.send("World")?;
        }
        Ok(())
    });

    let client = ctx.socket(SocketType::Req)?;
    client.connect(&endpoint)?;
    for n in 0..10 {
        client.send("Hello")?;
        let reply = client.recv()?;
        println!(
            "client: request {n} got {}",
            String::from_utf8_lossy(&reply[0])
        );
    }
    server.join().expect("server thread")?;
    Ok(())
}
