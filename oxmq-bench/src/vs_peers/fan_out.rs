//! PUB/SUB fan-out with the publisher and the subscribers in separate processes
//! (`vs-peers --fan-out 1,10,100,1000`), oxmq beside libzmq.
//!
//! One process binds a PUB socket; another connects every SUB socket of the run, each its own
//! connection, subscribed to everything. The publisher sends sync messages (one byte longer
//! than the payload) every millisecond until the subscribing process has received one on each
//! SUB and says `SYNCED`; the runner then tells the publisher `GO` on its stdin, and it
//! publishes `count` messages. One thread of the subscribing process receives for every SUB
//! (`oxmq_cli::bench::receive_all`, as `vs-libzmq --pattern pub-sub` does in one process) and
//! measures from the first message to the last delivery. The PUB has XPUB_NODROP, so a full
//! subscriber makes it wait instead of dropping; a subscriber that gets nothing for 5 s ends
//! the run, and what it missed is reported as dropped.
//!
//! The figure is deliveries per second (messages × subscribers / seconds), and the CPU both
//! processes spent per delivery, whose growth from one subscriber to many is how the cost of
//! a delivery scales.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use oxmq_cli::bench::{self, Driver, Kind, Pattern};

use super::worker::{Job, Role, ready};
use super::{Library, OTHER_SIDE_GRACE, RUN_LIMIT, Worker, children_cpu, endpoint, report};

/// The size of every fan-out message (as `vs-libzmq`'s PUB/SUB rows).
pub const SIZE: usize = bench::DEFAULT_PUB_SIZE;

/// Messages per run for `subscribers`: a million deliveries shared out among them, at least
/// 2,000 messages (as `vs-libzmq`).
pub fn count(subscribers: usize) -> u64 {
    bench::default_count(Pattern::PubSub { subscribers }, SIZE)
}

/// Runs a `publish` or `subscribe` job of `library`; the subscribing side returns its time.
pub fn run(library: Library, job: &Job) -> Option<Duration> {
    match library {
        Library::Oxmq => work(&bench::Oxmq, job),
        Library::Libzmq => work(&oxmq_bench::Libzmq, job),
        other => panic!("{}: no fan-out runs", other.name()),
    }
}

fn work<D: Driver>(driver: &D, job: &Job) -> Option<Duration> {
    let ctx = driver.context();
    match job.role {
        Role::Publish => {
            publish(driver, &ctx, job);
            None
        }
        Role::Subscribe => Some(subscribe(driver, &ctx, job)),
        role => panic!("fan-out has no role {}", role.name()),
    }
}

/// What the runner said on the publisher's stdin.
const WAITING: u8 = 0;
const GO: u8 = 1;
const STOP: u8 = 2;

fn publish<D: Driver>(driver: &D, ctx: &D::Context, job: &Job) {
    let publisher = driver.socket(ctx, Kind::Pub);
    driver.bind(&publisher, &job.endpoint);
    ready();
    let state = AtomicU8::new(WAITING);
    std::thread::scope(|scope| {
        let state = &state;
        // `GO` starts the run; the end of stdin (the runner is done) ends the process.
        scope.spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(line) if line.trim() == "GO" => state.store(GO, Ordering::Release),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            state.store(STOP, Ordering::Release);
        });
        let sync = vec![b's'; job.size + 1];
        while state.load(Ordering::Acquire) == WAITING {
            driver.send(&publisher, &sync);
            std::thread::sleep(Duration::from_millis(1));
        }
        if state.load(Ordering::Acquire) == GO {
            let payload = job.payload();
            for _ in 0..job.count {
                driver.send(&publisher, &payload);
            }
        }
    });
}

fn subscribe<D: Driver>(driver: &D, ctx: &D::Context, job: &Job) -> Duration {
    let subs: Vec<D::Socket> = (0..job.subscribers)
        .map(|_| {
            let sub = driver.socket(ctx, Kind::Sub);
            driver.connect(&sub, &job.endpoint);
            driver.subscribe(&sub, b"");
            sub
        })
        .collect();
    let delivery = bench::receive_all(driver, &subs, job.size, job.count, || {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "SYNCED");
        let _ = out.flush();
    })
    .unwrap_or_else(|| {
        eprintln!("vs-peers: a subscriber got no sync message");
        std::process::exit(1);
    });
    let dropped: u64 = delivery.received.iter().map(|got| job.count - got).sum();
    println!("DROPPED {dropped}");
    let first = delivery.first.unwrap_or(delivery.end);
    delivery.end.saturating_duration_since(first)
}

/// One run: deliveries per second, CPU seconds of both processes, messages dropped.
fn run_once(
    library: Library,
    transport: &str,
    subscribers: usize,
    run: u64,
) -> Result<(f64, f64, u64), String> {
    let endpoint = endpoint(transport, run);
    let count = count(subscribers);
    let job = |role| Job {
        role,
        endpoint: endpoint.clone(),
        size: SIZE,
        count,
        subscribers,
    };
    let deadline = Instant::now() + RUN_LIMIT;
    let cpu_before = children_cpu();
    let mut publisher =
        Worker::start(library, &job(Role::Publish), None).map_err(|e| e.to_string())?;
    if !publisher.wait_ready() {
        let _ = publisher.finish(deadline);
        return Err("the publisher failed".into());
    }
    let mut subscriber =
        Worker::start(library, &job(Role::Subscribe), None).map_err(|e| e.to_string())?;
    let synced = subscriber.wait_for("SYNCED", &mut Vec::new());
    if synced {
        publisher.say("GO");
    }
    let result = subscriber.finish_with_output(deadline);
    publisher.close_stdin();
    let _ = publisher.finish(Instant::now() + OTHER_SIDE_GRACE);
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
    let (seconds, rest) = result?;
    let seconds = seconds.ok_or("no result printed")?;
    let dropped = rest
        .lines()
        .find_map(|l| l.strip_prefix("DROPPED "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no DROPPED line")?;
    let deliveries = count as f64 * subscribers as f64;
    Ok((
        deliveries / seconds.max(1e-9),
        children_cpu() - cpu_before,
        dropped,
    ))
}

/// One row's figures for one library: medians of its runs.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    deliveries_per_s: f64,
    cpu_ns_per_delivery: f64,
    dropped: u64,
    runs: usize,
}

/// Measures and prints fan-out to each number of `subscribers` over each of `transports`, for
/// oxmq and libzmq (whichever of them `libraries` has), `reps` interleaved runs each.
pub fn measure(
    subscribers: &[usize],
    transports: &[String],
    libraries: &[Library],
    reps: u32,
    json: bool,
    markdown: bool,
) {
    let libraries: Vec<Library> = libraries
        .iter()
        .copied()
        .filter(|l| matches!(l, Library::Oxmq | Library::Libzmq))
        .collect();
    let transports: Vec<&String> = transports.iter().filter(|t| *t != "inproc").collect();
    let mut rows = Vec::new();
    let mut run = 0;
    for transport in &transports {
        for &n in subscribers {
            let mut samples = vec![Vec::new(); libraries.len()];
            for rep in 0..reps {
                eprint!(
                    "[fan-out {transport} {n} subscribers] rep {}/{reps}:",
                    rep + 1
                );
                for k in 0..libraries.len() {
                    let i = (k + rep as usize) % libraries.len();
                    run += 1;
                    match run_once(libraries[i], transport, n, run) {
                        Ok(sample) => {
                            eprint!(
                                " {} {:.2} M deliveries/s",
                                libraries[i].name(),
                                sample.0 / 1e6
                            );
                            samples[i].push(sample);
                        }
                        Err(why) => eprint!(" {} FAILED ({why})", libraries[i].name()),
                    }
                }
                eprintln!();
            }
            let figures: Vec<Figures> = samples
                .iter()
                .map(|runs| {
                    let med = |f: &dyn Fn(&(f64, f64, u64)) -> f64| {
                        oxmq_bench::median(&runs.iter().map(f).collect::<Vec<_>>())
                    };
                    let deliveries = (count(n) * n as u64) as f64;
                    Figures {
                        deliveries_per_s: med(&|s| s.0),
                        cpu_ns_per_delivery: med(&|s| s.1 * 1e9 / deliveries),
                        dropped: runs.iter().map(|s| s.2).max().unwrap_or(0),
                        runs: runs.len(),
                    }
                })
                .collect();
            if json {
                let fields: Vec<String> = libraries
                    .iter()
                    .zip(&figures)
                    .map(|(l, f)| {
                        // A library whose every run failed has no figures: null.
                        let num = |v: f64, places: usize| {
                            if v.is_finite() {
                                format!("{v:.places$}")
                            } else {
                                "null".to_owned()
                            }
                        };
                        format!(
                            "\"{}\":{{\"deliveries_per_s\":{},\"cpu_ns_per_delivery\":{},\"dropped\":{},\"runs\":{}}}",
                            l.name(),
                            num(f.deliveries_per_s, 0),
                            num(f.cpu_ns_per_delivery, 1),
                            f.dropped,
                            f.runs
                        )
                    })
                    .collect();
                println!(
                    "{{\"kind\":\"fan-out\",\"transport\":\"{transport}\",\"subscribers\":{n},\"size\":{SIZE},\"messages\":{},{}}}",
                    count(n),
                    fields.join(",")
                );
            }
            rows.push((transport.to_string(), n, figures));
        }
    }
    if !json {
        print(&rows, &libraries, markdown);
    }
}

/// The fan-out table: deliveries per second and CPU per delivery for each library, the ratio
/// of oxmq to libzmq, and each library's CPU per delivery against its own at the row's
/// transport with the fewest subscribers (how a delivery's cost grows).
fn print(rows: &[(String, usize, Vec<Figures>)], libraries: &[Library], markdown: bool) {
    let names: Vec<String> = libraries.iter().map(|l| l.name()).collect();
    let mut header = vec!["row".to_owned()];
    for name in &names {
        header.push(format!("{name} deliveries/s"));
    }
    for name in &names {
        header.push(format!("{name} CPU ns/delivery (x fewest)"));
    }
    let ratio = names.len() == 2;
    if ratio {
        header.push(format!("{}/{}", names[0], names[1]));
    }
    header.push("dropped".to_owned());
    let mut lines = Vec::new();
    for (transport, n, figures) in rows {
        let base = rows
            .iter()
            .find(|(t, _, _)| t == transport)
            .map(|(_, _, f)| f)
            .expect("the row itself");
        let mut cells = vec![format!("fan-out {transport} {n} subscribers")];
        for f in figures {
            cells.push(format!("{:.2} M", f.deliveries_per_s / 1e6));
        }
        for (f, b) in figures.iter().zip(base) {
            cells.push(format!(
                "{:.0} ({:.2})",
                f.cpu_ns_per_delivery,
                f.cpu_ns_per_delivery / b.cpu_ns_per_delivery
            ));
        }
        if ratio {
            cells.push(format!(
                "{:.2}",
                figures[0].deliveries_per_s / figures[1].deliveries_per_s
            ));
        }
        cells.push(figures.iter().map(|f| f.dropped).sum::<u64>().to_string());
        lines.push(cells);
    }
    report::print_table(
        &format!(
            "PUB/SUB fan-out, the PUB and the SUBs in separate processes, {SIZE} B messages: \
             medians of deliveries per second and of CPU (both processes) per delivery"
        ),
        &header,
        &lines,
        markdown,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_deliveries_shared_out() {
        assert_eq!(count(1), 1_000_000);
        assert_eq!(count(10), 100_000);
        assert_eq!(count(1000), 2_000);
    }
}
