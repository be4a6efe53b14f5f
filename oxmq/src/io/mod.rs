//! I/O threads.
//!
//! Each I/O thread runs one [`reactor`] loop over a `mio::Poll`: listeners, connections and their
//! timers live there, one token each. Other threads reach it in two ways, both through
//! [`IoShared`]: commands (bind, connect, unbind, ...) for the rare control path, and
//! *activations* — "token N has work" — for the data path, posted by a pipe's peer only when the
//! connection announced it was idle. The thread's eventfd is written only when the thread sleeps
//! in `epoll_wait`.

pub(crate) mod endpoints;
pub(crate) mod link;
pub(crate) mod reactor;
pub(crate) mod runtime;
pub(crate) mod session;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use mio::{Poll, Token, Waker};

use crate::endpoint::{IpcEndpoint, TcpEndpoint};
use crate::engine::{ReadGate, Sweeper, WriteGate};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::pipe::{PeerId, PeerNames, PipeReader, PipeWriter};
use crate::signal::Wake;
use crate::transport::Listener;
use link::SocketLink;

/// The token of the thread's own waker.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// What other threads share with one I/O thread.
pub(crate) struct IoShared {
    waker: Waker,
    /// The thread's poller, for read gates that change what it watches (see
    /// `engine::read_gate`).
    registry: Arc<mio::Registry>,
    sleeping: AtomicBool,
    ready: Mutex<Vec<usize>>,
    commands: Mutex<Vec<IoCommand>>,
    /// Connections whose input a socket took from the poller: each gets a turn within
    /// `SWEEP_EVERY` (see `engine::read_gate`).
    sweeps: Mutex<Vec<usize>>,
}

impl Sweeper for IoShared {
    fn sweep_later(&self, token: usize) {
        lock(&self.sweeps).push(token);
        self.wake_thread();
    }
}

impl Wake for IoShared {
    /// Schedules a turn for `token` (a pipe peer has published work for it).
    fn wake(&self, token: usize) {
        lock(&self.ready).push(token);
        self.wake_thread();
    }
}

impl IoShared {
    /// Sends a command to the thread.
    pub(crate) fn send(&self, command: IoCommand) {
        lock(&self.commands).push(command);
        self.wake_thread();
    }

    fn wake_thread(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            let _ = self.waker.wake();
        }
    }
}

/// The options a transport reads, from the socket's.
/// An end of a connection as monitor events name it: `tcp://127.0.0.1:5555`,
/// `tcp://[::1]:5555`, `ipc:///tmp/x` (`ipc://@name` for an abstract name, `ipc://` for an
/// unnamed end); empty when the system did not say.
pub(crate) fn end_name_string(name: Option<crate::transport::EndName>) -> String {
    use crate::transport::EndName;
    match name {
        Some(EndName::Tcp(addr)) => crate::endpoint::tcp_endpoint_string(addr),
        Some(EndName::Ipc(name)) => format!("ipc://{}", name.unwrap_or_default()),
        None => String::new(),
    }
}

pub(crate) fn transport_options(opts: &Options) -> crate::transport::TransportOptions {
    crate::transport::TransportOptions {
        sndbuf: opts.sndbuf,
        rcvbuf: opts.rcvbuf,
        backlog: opts.backlog,
        tos: opts.tos,
        bind_device: opts.bindtodevice.clone(),
        keepalive: opts.tcp_keepalive,
        keepalive_cnt: opts.tcp_keepalive_cnt,
        keepalive_idle: opts.tcp_keepalive_idle,
        keepalive_intvl: opts.tcp_keepalive_intvl,
        maxrt: opts.tcp_maxrt,
        priority: opts.priority,
        use_fd: opts.use_fd,
    }
}

/// Locks a mutex, ignoring poisoning (no oxmq lock is held across user code).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a connecter connects to.
pub(crate) enum ConnectTarget {
    Tcp(TcpEndpoint),
    Ipc(IpcEndpoint),
}

/// The socket side's view of its own pipes for a new connecter, created at connect time unless
/// IMMEDIATE is set.
pub(crate) struct SessionPipes {
    pub outgoing: PipeReader,
    pub incoming: PipeWriter,
    /// Shared with the socket's peer for direct writes.
    pub gate: Arc<WriteGate>,
    /// Shared with the socket's peer for reads from the socket's thread.
    pub read_gate: Arc<ReadGate>,
    /// The socket's id for this peer.
    pub peer_id: PeerId,
    /// The ends of the peer's connection, which the session names at each connect.
    pub names: Arc<PeerNames>,
}

/// Control commands for an I/O thread.
// Commands are few (one per bind, connect or close), and boxing a connect's pipes would cost
// an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum IoCommand {
    /// Start accepting on a bound listener.
    Listen {
        listener: Listener,
        socket: Arc<SocketLink>,
        opts: Arc<Options>,
        endpoint_id: u64,
        /// The bound address, as monitor events name it.
        endpoint: String,
    },
    /// Start connecting (and reconnecting) to an endpoint.
    Connect {
        target: ConnectTarget,
        socket: Arc<SocketLink>,
        opts: Arc<Options>,
        endpoint_id: u64,
        /// The endpoint as given to `connect`, as monitor events name it.
        endpoint: String,
        pipes: Option<SessionPipes>,
    },
    /// Close a listener and the connections it accepted.
    Unbind {
        endpoint_id: u64,
        done: mpsc::Sender<()>,
    },
    /// Close a connecter and its connection.
    Disconnect { endpoint_id: u64 },
    /// The socket closed: drop its listeners and the connections that never got pipes.
    SocketClosed { socket_id: u64 },
    /// The context is going away: finish lingering connections, then exit.
    Stop,
}

/// An I/O thread and its handle.
pub(crate) struct IoThread {
    shared: Arc<IoShared>,
    handle: Option<JoinHandle<()>>,
}

/// How a context's I/O threads are made: how many, their names' prefix and the CPUs they
/// may run on (ZMQ_IO_THREADS, ZMQ_THREAD_NAME_PREFIX, ZMQ_THREAD_AFFINITY_CPU_ADD).
#[derive(Clone, Debug)]
pub(crate) struct ThreadSettings {
    pub count: usize,
    /// Put in front of each thread's name, `PREFIX/oxmq-io-N` (empty: `oxmq-io-N`).
    pub name_prefix: String,
    /// The CPUs the threads may run on (empty: any).
    pub affinity: Vec<usize>,
}

impl ThreadSettings {
    /// `count` threads, named `oxmq-io-N`, on any CPU.
    pub(crate) fn new(count: usize) -> ThreadSettings {
        ThreadSettings {
            count,
            name_prefix: String::new(),
            affinity: Vec::new(),
        }
    }

    fn name(&self, index: usize) -> String {
        if self.name_prefix.is_empty() {
            format!("oxmq-io-{index}")
        } else {
            format!("{}/oxmq-io-{index}", self.name_prefix)
        }
    }
}

/// Pins the calling thread to `cpus` (nothing when empty). A CPU the machine does not have
/// is left out; when none is left, the thread stays where it may run.
fn pin_to(cpus: &[usize]) {
    if cpus.is_empty() {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `set` is a plain bit set, zeroed and then filled with CPU_SET, within its
        // size (CPU_SET ignores numbers past CPU_SETSIZE); sched_setaffinity reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &cpu in cpus {
                if cpu < libc::CPU_SETSIZE as usize {
                    libc::CPU_SET(cpu, &mut set);
                }
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                tracing::warn!(
                    "oxmq: cannot pin an I/O thread to CPUs {cpus:?}: {}",
                    io::Error::last_os_error()
                );
            }
        }
    }
}

impl IoThread {
    /// Starts an I/O thread.
    pub(crate) fn spawn(index: usize, settings: &ThreadSettings) -> io::Result<IoThread> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        let shared = Arc::new(IoShared {
            waker,
            registry: Arc::new(poll.registry().try_clone()?),
            sleeping: AtomicBool::new(false),
            ready: Mutex::new(Vec::new()),
            commands: Mutex::new(Vec::new()),
            sweeps: Mutex::new(Vec::new()),
        });
        let thread_shared = Arc::clone(&shared);
        let affinity = settings.affinity.clone();
        let handle = std::thread::Builder::new()
            .name(settings.name(index))
            .spawn(move || {
                pin_to(&affinity);
                reactor::Reactor::new(poll, thread_shared).run()
            })?;
        Ok(IoThread {
            shared,
            handle: Some(handle),
        })
    }

    /// Asks the thread to finish its lingering work and exit, and waits for it.
    pub(crate) fn stop(&mut self) {
        self.shared.send(IoCommand::Stop);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A context's I/O threads, started on first use.
pub(crate) struct IoPool {
    settings: ThreadSettings,
    threads: OnceLock<std::result::Result<Vec<IoThread>, Error>>,
    next: AtomicUsize,
}

impl IoPool {
    /// A pool of `settings.count` threads (at least one), none started yet.
    pub(crate) fn new(mut settings: ThreadSettings) -> IoPool {
        settings.count = settings.count.max(1);
        IoPool {
            settings,
            threads: OnceLock::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// The number of threads.
    pub(crate) fn count(&self) -> usize {
        self.settings.count
    }

    fn threads(&self) -> Result<&Vec<IoThread>> {
        self.threads
            .get_or_init(|| {
                (0..self.settings.count)
                    .map(|index| IoThread::spawn(index, &self.settings).map_err(Error::from))
                    .collect()
            })
            .as_ref()
            .map_err(|err| *err)
    }

    /// Picks a thread for a new endpoint (round robin), starting the threads if needed.
    pub(crate) fn choose(&self) -> Result<usize> {
        let count = self.threads()?.len();
        Ok(self.next.fetch_add(1, Ordering::Relaxed) % count)
    }

    /// The shared handle of thread `index`.
    pub(crate) fn get(&self, index: usize) -> Result<&Arc<IoShared>> {
        self.threads()?
            .get(index)
            .map(|thread| &thread.shared)
            .ok_or(Error::NoThread)
    }

    /// Sends a command to every started thread.
    pub(crate) fn broadcast(&self, command: impl Fn() -> IoCommand) {
        if let Some(Ok(threads)) = self.threads.get() {
            for thread in threads {
                thread.shared.send(command());
            }
        }
    }

    /// Stops every started thread, after their lingering work.
    pub(crate) fn stop(&mut self) {
        if let Some(Ok(threads)) = self.threads.take() {
            for mut thread in threads {
                thread.stop();
            }
        }
    }
}
