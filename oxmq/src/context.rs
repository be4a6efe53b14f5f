//! The context: I/O threads, the inproc endpoint registry, and shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::io::{IoCommand, IoShared, IoThread, lock};
use crate::options::Options;
use crate::pipe::pipe;
use crate::socket::{Peer, Socket, SocketShared, SocketType};

/// A ZeroMQ context: the I/O threads and the inproc namespace that its sockets share.
///
/// Cloning a context is cheap (it is reference counted). When the last clone and the last socket
/// are gone, the context waits for its sockets' queued messages to be delivered (each socket's
/// LINGER bounds the wait) and stops its I/O threads.
///
/// ```
/// let ctx = oxmq::Context::new();
/// let push = ctx.socket(oxmq::SocketType::Push)?;
/// let pull = ctx.socket(oxmq::SocketType::Pull)?;
/// pull.bind("inproc://jobs")?;
/// push.connect("inproc://jobs")?;
/// push.send("job 1")?;
/// assert_eq!(pull.recv()?[0], b"job 1");
/// # Ok::<(), oxmq::Error>(())
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("io_threads", &self.inner.io_thread_count)
            .finish()
    }
}

impl Default for Context {
    fn default() -> Context {
        Context::new()
    }
}

impl Context {
    /// A context with one I/O thread (libzmq's default).
    pub fn new() -> Context {
        Context::with_io_threads(1)
    }

    /// A context with `count` I/O threads (at least one). Threads start on the first tcp or ipc
    /// bind or connect; a context used only for inproc never starts any.
    pub fn with_io_threads(count: usize) -> Context {
        Context {
            inner: Arc::new(ContextInner {
                io_thread_count: count.max(1),
                io: OnceLock::new(),
                next_io: AtomicUsize::new(0),
                terminated: AtomicBool::new(false),
                sockets: Mutex::new(HashMap::new()),
                sockets_closed: Condvar::new(),
                inproc: Mutex::new(Inproc::default()),
            }),
        }
    }

    /// The number of I/O threads.
    pub fn io_threads(&self) -> usize {
        self.inner.io_thread_count
    }

    /// Creates a socket. PAIR, PUSH and PULL are available so far; other types give
    /// [`Error::NotSupported`].
    pub fn socket(&self, socket_type: SocketType) -> Result<Socket> {
        if self.inner.is_terminated() {
            return Err(Error::Terminated);
        }
        Socket::new(Arc::clone(&self.inner), socket_type)
    }

    /// Shuts the context down: every blocked and later call on its sockets fails with
    /// [`Error::Terminated`] (`ETERM`), except closing them.
    pub fn shutdown(&self) {
        self.inner.terminated.store(true, Ordering::SeqCst);
        for socket in lock(&self.inner.sockets).values() {
            socket.wake();
        }
    }

    /// Shuts down (see [`Context::shutdown`]), waits until every socket of the context has been
    /// closed (dropped), then releases this handle. When it was the last one, this also waits for
    /// queued messages within LINGER and stops the I/O threads.
    pub fn term(self) {
        self.shutdown();
        let mut sockets = lock(&self.inner.sockets);
        while !sockets.is_empty() {
            sockets = self
                .inner
                .sockets_closed
                .wait(sockets)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The inproc namespace.
#[derive(Default)]
struct Inproc {
    bound: HashMap<String, Binding>,
    /// Peers of connects made before the bind, by name: the binder's ends.
    pending: HashMap<String, Vec<Peer>>,
}

struct Binding {
    socket: Arc<SocketShared>,
    sndhwm: i32,
    rcvhwm: i32,
    routing_id: Bytes,
    endpoint_id: u64,
}

/// The context's state, shared by its handles and sockets.
pub(crate) struct ContextInner {
    io_thread_count: usize,
    io: OnceLock<std::result::Result<Vec<Mutex<IoThread>>, Error>>,
    next_io: AtomicUsize,
    terminated: AtomicBool,
    sockets: Mutex<HashMap<u64, Arc<SocketShared>>>,
    sockets_closed: Condvar,
    inproc: Mutex<Inproc>,
}

/// libzmq gives an inproc pipe the sum of the sender's SNDHWM and the receiver's RCVHWM; either
/// being 0 (unlimited) makes it unlimited.
fn inproc_hwm(sndhwm: i32, rcvhwm: i32) -> usize {
    if sndhwm <= 0 || rcvhwm <= 0 {
        0
    } else {
        Options::hwm(sndhwm.saturating_add(rcvhwm))
    }
}

impl ContextInner {
    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Relaxed)
    }

    pub(crate) fn register_socket(&self, socket: &Arc<SocketShared>) -> Result<()> {
        if self.is_terminated() {
            return Err(Error::Terminated);
        }
        lock(&self.sockets).insert(socket.id(), Arc::clone(socket));
        Ok(())
    }

    /// A socket was dropped.
    pub(crate) fn socket_closed(&self, socket: &Arc<SocketShared>) {
        if let Some(Ok(threads)) = self.io.get() {
            for thread in threads {
                lock(thread).shared.send(IoCommand::SocketClosed {
                    socket_id: socket.id(),
                });
            }
        }
        // Connects that waited for a bind which never came, from sockets that are now closed.
        lock(&self.inproc).pending.retain(|_, peers| {
            peers.retain_mut(|peer| !(peer.writer.is_closed() && peer.reader.is_finished()));
            !peers.is_empty()
        });
        let mut sockets = lock(&self.sockets);
        sockets.remove(&socket.id());
        if sockets.is_empty() {
            self.sockets_closed.notify_all();
        }
    }

    fn threads(&self) -> Result<&Vec<Mutex<IoThread>>> {
        self.io
            .get_or_init(|| {
                (0..self.io_thread_count)
                    .map(|index| IoThread::spawn(index).map(Mutex::new).map_err(Error::from))
                    .collect()
            })
            .as_ref()
            .map_err(|err| *err)
    }

    /// Picks an I/O thread for a new endpoint (round robin), starting the threads if needed.
    pub(crate) fn choose_io(&self) -> Result<usize> {
        let count = self.threads()?.len();
        Ok(self.next_io.fetch_add(1, Ordering::Relaxed) % count)
    }

    /// The shared handle of I/O thread `index` (which [`choose_io`](Self::choose_io) returned).
    pub(crate) fn io(&self, index: usize) -> Result<Arc<IoShared>> {
        let threads = self.threads()?;
        threads
            .get(index)
            .map(|thread| Arc::clone(&lock(thread).shared))
            .ok_or(Error::NoThread)
    }

    /// Binds an inproc name; returns the peers of connects that were waiting for it.
    pub(crate) fn inproc_bind(
        &self,
        name: &str,
        socket: &Arc<SocketShared>,
        opts: &Options,
        endpoint_id: u64,
    ) -> Result<Vec<Peer>> {
        let mut inproc = lock(&self.inproc);
        if inproc.bound.contains_key(name) {
            return Err(Error::AddrInUse);
        }
        inproc.bound.insert(
            name.to_owned(),
            Binding {
                socket: Arc::clone(socket),
                sndhwm: opts.sndhwm,
                rcvhwm: opts.rcvhwm,
                routing_id: opts.routing_id.clone(),
                endpoint_id,
            },
        );
        let mut peers = inproc.pending.remove(name).unwrap_or_default();
        for peer in &mut peers {
            peer.writer.set_activation(socket.activation());
            peer.reader.set_activation(socket.activation());
            peer.endpoint_id = endpoint_id;
        }
        Ok(peers)
    }

    /// Connects to an inproc name (bound or not yet); returns the connecting socket's peer.
    pub(crate) fn inproc_connect(
        &self,
        name: &str,
        socket: &Arc<SocketShared>,
        opts: &Options,
        endpoint_id: u64,
    ) -> Peer {
        let mut inproc = lock(&self.inproc);
        let act = socket.activation();
        match inproc.bound.get(name) {
            Some(binding) => {
                let bact = binding.socket.activation();
                let (to_binder, binder_reads) = pipe(
                    inproc_hwm(opts.sndhwm, binding.rcvhwm),
                    Some(Arc::clone(&bact)),
                    Some(Arc::clone(&act)),
                );
                let (to_connecter, connecter_reads) = pipe(
                    inproc_hwm(binding.sndhwm, opts.rcvhwm),
                    Some(Arc::clone(&act)),
                    Some(bact),
                );
                let binder_peer = Peer {
                    writer: to_connecter,
                    reader: binder_reads,
                    endpoint_id: binding.endpoint_id,
                    routing_id: opts.routing_id.clone(),
                    gate: None,
                };
                let routing_id = binding.routing_id.clone();
                binding.socket.attach(binder_peer);
                Peer {
                    writer: to_binder,
                    reader: connecter_reads,
                    endpoint_id,
                    routing_id,
                    gate: None,
                }
            }
            None => {
                // The binder's activations are set when it binds.
                let (to_binder, binder_reads) = pipe(
                    inproc_hwm(opts.sndhwm, opts.rcvhwm),
                    None,
                    Some(Arc::clone(&act)),
                );
                let (to_connecter, connecter_reads) =
                    pipe(inproc_hwm(opts.sndhwm, opts.rcvhwm), Some(act), None);
                let binder_peer = Peer {
                    writer: to_connecter,
                    reader: binder_reads,
                    endpoint_id: 0,
                    routing_id: opts.routing_id.clone(),
                    gate: None,
                };
                inproc
                    .pending
                    .entry(name.to_owned())
                    .or_default()
                    .push(binder_peer);
                Peer {
                    writer: to_binder,
                    reader: connecter_reads,
                    endpoint_id,
                    routing_id: Bytes::new(),
                    gate: None,
                }
            }
        }
    }

    /// Releases an inproc name bound by `socket_id`.
    pub(crate) fn inproc_unbind(&self, name: &str, socket_id: u64) {
        let mut inproc = lock(&self.inproc);
        if inproc
            .bound
            .get(name)
            .is_some_and(|b| b.socket.id() == socket_id)
        {
            inproc.bound.remove(name);
        }
    }
}

impl Drop for ContextInner {
    fn drop(&mut self) {
        if let Some(Ok(threads)) = self.io.take() {
            for thread in threads {
                thread
                    .into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .stop();
            }
        }
    }
}
