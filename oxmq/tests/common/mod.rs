//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub mod ends;
pub mod raw;

use oxmq::{Context, Socket, SocketType};

static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh inproc endpoint.
pub fn inproc() -> String {
    format!("inproc://test-{}", unique())
}

/// A fresh ipc endpoint on the filesystem.
pub fn ipc_path() -> String {
    format!(
        "ipc://{}/oxmq-test-{}.sock",
        std::env::temp_dir().display(),
        unique()
    )
}

/// A fresh abstract-namespace ipc endpoint.
pub fn ipc_abstract() -> String {
    format!("ipc://@oxmq-test-{}", unique())
}

/// A tcp endpoint on a port that was free a moment ago (for connect-before-bind and for peers
/// that never come).
pub fn free_tcp_endpoint() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe bind");
    format!(
        "tcp://127.0.0.1:{}",
        probe.local_addr().expect("probe address").port()
    )
}

/// Every transport, as an endpoint to bind.
pub fn bind_endpoints() -> Vec<String> {
    vec![
        inproc(),
        ipc_path(),
        ipc_abstract(),
        "tcp://127.0.0.1:*".to_owned(),
    ]
}

/// A socket whose receives give up after 5 s, so that a bug fails a test instead of hanging it.
pub fn socket(ctx: &Context, socket_type: SocketType) -> Socket {
    let socket = ctx.socket(socket_type).expect("socket");
    socket.set_rcvtimeo(5000).unwrap();
    socket.set_sndtimeo(5000).unwrap();
    socket.set_linger(1000).unwrap();
    socket
}

/// A bound socket and the endpoint to connect to.
pub fn bound(ctx: &Context, socket_type: SocketType, endpoint: &str) -> (Socket, String) {
    let socket = socket(ctx, socket_type);
    socket.bind(endpoint).expect("bind");
    let endpoint = socket.last_endpoint();
    (socket, endpoint)
}

static IO_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Starts counting panics on oxmq's own threads (named `oxmq-*`, such as the I/O threads); test
/// threads are not counted, so failing assertions keep their normal report.
pub fn watch_io_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|name| name.starts_with("oxmq"))
            {
                IO_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

/// Waits for a monitor event of `kind`, skipping others; the time it took.
pub fn wait_for_event(
    monitor: &oxmq::Monitor,
    kind: oxmq::EventKind,
    limit: std::time::Duration,
) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while let Some(event) = monitor.recv_timeout(limit.saturating_sub(start.elapsed())) {
        if event.kind == kind {
            return Some(start.elapsed());
        }
    }
    None
}

extern "C" fn do_nothing(_: libc::c_int) {}

/// Installs a handler that does nothing for `signal`, without SA_RESTART (as Python does), so
/// that the signal interrupts a blocking call on the thread it is sent to.
pub fn install_noop_handler(signal: libc::c_int) {
    // SAFETY: a zeroed sigaction is a valid starting point; the handler is a plain function
    // that touches nothing, and the old action is not asked for.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = do_nothing as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        assert_eq!(libc::sigaction(signal, &action, std::ptr::null_mut()), 0);
    }
}

/// How many oxmq threads panicked since [`watch_io_panics`].
pub fn io_panics() -> usize {
    IO_PANICS.load(Ordering::SeqCst)
}

/// Writes one test per transport (`tcp`, `ipc`) for each scenario `fn(Transport)` (with
/// `common::ends::Transport` in scope at the call site).
#[macro_export]
macro_rules! per_transport {
    ($($name:ident => $scenario:expr;)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn tcp() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Tcp);
            }
            #[test]
            fn ipc() {
                let scenario: fn(Transport) = $scenario;
                scenario(Transport::Ipc);
            }
        }
    )*};
}
