//! Parallel pipeline, PUSH/PULL (the guide's `taskvent`, `taskwork` and `tasksink`).
//!
//! A ventilator pushes 100 tasks (each "sleep N ms") to four workers, which load-balance them;
//! the workers push a result per task to a sink, which fair-queues them and reports the total
//! time: about a quarter of the total work, because the workers run in parallel.
//!
//! ```sh
//! cargo run --example ventilator
//! ```

use std::time::{Duration, Instant};

use oxmq::{Context, SocketType};

fn main() -> oxmq::Result<()> {
    const TASKS: u32 = 100;
    const WORKERS: usize = 4;
    let ctx = Context::new();

    let sink = ctx.socket(SocketType::Pull)?;
    sink.bind("tcp://127.0.0.1:*")?;
    let sink_endpoint = sink.last_endpoint();
    let ventilator = ctx.socket(SocketType::Push)?;
    ventilator.bind("tcp://127.0.0.1:*")?;
    let tasks_endpoint = ventilator.last_endpoint();

    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            let ctx = ctx.clone();
            let (tasks_endpoint, sink_endpoint) = (tasks_endpoint.clone(), sink_endpoint.clone());
            std::thread::spawn(move || -> oxmq::Result<u32> {
                let receiver = ctx.socket(SocketType::Pull)?;
                receiver.connect(&tasks_endpoint)?;
                let sender = ctx.socket(SocketType::Push)?;
                sender.connect(&sink_endpoint)?;
                let mut done = 0;
                loop {
                    let task = receiver.recv()?;
                    let ms: u64 = String::from_utf8_lossy(&task[0]).parse().unwrap_or(0);
                    if ms == 0 {
                        return Ok(done); // the end-of-work signal
                    }
                    std::thread::sleep(Duration::from_millis(ms));
                    sender.send(format!("{id}"))?;
                    done += 1;
                }
            })
        })
        .collect();

    // Wait until every worker is connected, so that the first one does not get all the tasks
    // (the guide asks the user to press Enter here).
    std::thread::sleep(Duration::from_millis(200));
    let mut total_ms = 0;
    for n in 0..TASKS {
        let ms = 1 + u64::from(n * 7 % 10);
        total_ms += ms;
        ventilator.send(format!("{ms}"))?;
    }
    println!("total expected cost: {total_ms} ms");

    let start = Instant::now();
    let mut per_worker = [0u32; WORKERS];
    for _ in 0..TASKS {
        let result = sink.recv()?;
        let worker: usize = String::from_utf8_lossy(&result[0]).parse().unwrap_or(0);
        per_worker[worker] += 1;
    }
    println!(
        "total elapsed time: {} ms; tasks per worker: {per_worker:?}",
        start.elapsed().as_millis()
    );
    for _ in 0..WORKERS {
        ventilator.send("0")?;
    }
    let handled: u32 = workers
        .into_iter()
        .map(|w| w.join().expect("worker thread"))
        .sum::<oxmq::Result<u32>>()?;
    assert_eq!(handled, TASKS);
    Ok(())
}
