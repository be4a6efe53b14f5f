//! Lazy Pirate: a reliable request-reply client (the guide's `lpclient` and `lpserver`).
//!
//! The client waits for each reply with a timeout; when none comes it closes its REQ socket,
//! opens a new one and sends the request again, up to three times. The server "crashes" in the
//! middle (its socket goes away without replying) and restarts a moment later on the same
//! endpoint; the client carries on without losing a request.
//!
//! ```sh
//! cargo run --example lazy_pirate
//! ```

use std::time::Duration;

use oxmq::{Context, Error, Socket, SocketType};

const REQUEST_TIMEOUT_MS: i32 = 1000;
const RETRIES: usize = 3;
const REQUESTS: u32 = 10;
const CRASH_AT: u32 = 4;

/// A REQ socket connected to the server, with the request timeout.
fn client_socket(ctx: &Context, endpoint: &str) -> oxmq::Result<Socket> {
    let client = ctx.socket(SocketType::Req)?;
    client.set_rcvtimeo(REQUEST_TIMEOUT_MS)?;
    client.set_linger(0)?;
    client.connect(endpoint)?;
    Ok(client)
}

/// A REP socket bound to `endpoint`, retrying while the old one still holds the address.
fn server_socket(ctx: &Context, endpoint: &str) -> oxmq::Result<Socket> {
    let server = ctx.socket(SocketType::Rep)?;
    for _ in 0..200 {
        match server.bind(endpoint) {
            Ok(()) => return Ok(server),
            Err(Error::AddrInUse) => std::thread::sleep(Duration::from_millis(10)),
            Err(err) => return Err(err),
        }
    }
    server.bind(endpoint).map(|()| server)
}

fn main() -> oxmq::Result<()> {
    let ctx = Context::new();
    let endpoint = {
        let probe = server_socket(&ctx, "tcp://127.0.0.1:*")?;
        let endpoint = probe.last_endpoint();
        probe.unbind(&endpoint)?;
        endpoint
    };

    let server = std::thread::spawn({
        let ctx = ctx.clone();
        let endpoint = endpoint.clone();
        move || -> oxmq::Result<()> {
            let mut server = server_socket(&ctx, &endpoint)?;
            let mut crashed = false;
            let mut replied = 0;
            while replied < REQUESTS {
                let request = server.recv()?;
                let sequence: u32 = String::from_utf8_lossy(&request[0]).parse().unwrap_or(0);
                if sequence == CRASH_AT && !crashed {
                    crashed = true;
                    println!("server: simulating a crash at request {sequence}");
                    drop(server);
                    std::thread::sleep(Duration::from_millis(300));
                    server = server_socket(&ctx, &endpoint)?;
                    println!("server: restarted");
                    continue;
                }
                println!("server: normal request ({sequence})");
                server.send(request)?;
                replied += 1;
            }
            Ok(())
        }
    });

    let mut client = client_socket(&ctx, &endpoint)?;
    for sequence in 1..=REQUESTS {
        let request = sequence.to_string();
        client.send(request.as_str())?;
        let mut retries_left = RETRIES;
        loop {
            match client.recv() {
                Ok(reply) if reply[0] == request.as_bytes() => {
                    println!("client: server replied OK ({request})");
                    break;
                }
                Ok(reply) => println!("client: malformed reply {reply:?}"),
                Err(Error::WouldBlock) => {
                    retries_left -= 1;
                    if retries_left == 0 {
                        println!("client: server seems to be offline, abandoning");
                        return Err(Error::WouldBlock);
                    }
                    println!("client: no response from server, retrying...");
                    // The old socket is confused (it still waits for a reply): a new one.
                    client = client_socket(&ctx, &endpoint)?;
                    client.send(request.as_str())?;
                }
                Err(err) => return Err(err),
            }
        }
    }
    server.join().expect("server thread")?;
    Ok(())
}
