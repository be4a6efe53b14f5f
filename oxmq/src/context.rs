//! The context: I/O threads, the inproc namespace, and shutdown.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::ThreadSettings;
use crate::io::runtime::Runtime;
use crate::socket::{Socket, SocketType};

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
    inner: Arc<Runtime>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("io_threads", &self.inner.io().count())
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
        Context::builder().io_threads(count).build()
    }

    /// A context with options other than the defaults (libzmq's context options).
    ///
    /// ```
    /// let ctx = oxmq::Context::builder()
    ///     .io_threads(2)
    ///     .max_sockets(100)
    ///     .thread_name_prefix("app")
    ///     .build();
    /// assert_eq!(ctx.io_threads(), 2);
    /// ```
    pub fn builder() -> ContextBuilder {
        ContextBuilder {
            threads: ThreadSettings::new(1),
            max_sockets: usize::MAX,
            max_msgsz: None,
        }
    }

    /// The number of I/O threads.
    pub fn io_threads(&self) -> usize {
        self.inner.io().count()
    }

    /// Creates a socket of any stable type (PAIR, PUB, SUB, REQ, REP, DEALER, ROUTER, PULL, PUSH,
    /// XPUB, XSUB, STREAM); the draft types give [`Error::NotSupported`].
    pub fn socket(&self, socket_type: SocketType) -> Result<Socket> {
        if self.inner.is_terminated() {
            return Err(Error::Terminated);
        }
        Socket::new(Arc::clone(&self.inner), socket_type)
    }

    /// Shuts the context down: every blocked and later call on its sockets fails with
    /// [`Error::Terminated`] (`ETERM`), except closing them.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// Shuts down (see [`Context::shutdown`]), waits until every socket of the context has been
    /// closed (dropped), then releases this handle. When it was the last one, this also waits for
    /// queued messages within LINGER and stops the I/O threads.
    pub fn term(self) {
        self.shutdown();
        self.inner.wait_sockets_closed();
    }
}

/// Builds a [`Context`] with libzmq's context options: [`Context::builder`].
#[derive(Clone, Debug)]
pub struct ContextBuilder {
    threads: ThreadSettings,
    max_sockets: usize,
    max_msgsz: Option<usize>,
}

impl ContextBuilder {
    /// ZMQ_IO_THREADS: how many I/O threads serve the tcp and ipc connections (default 1; 0
    /// is taken as 1, as oxmq has no thread-less mode).
    pub fn io_threads(mut self, count: usize) -> ContextBuilder {
        self.threads.count = count;
        self
    }

    /// ZMQ_MAX_SOCKETS: the most sockets open at once; a socket past it fails with
    /// [`Error::TooManyOpenFiles`] (`EMFILE`). The default has no limit: libzmq's 1023 comes
    /// from `select(2)`, which oxmq does not use (its C ABI keeps libzmq's default).
    pub fn max_sockets(mut self, count: usize) -> ContextBuilder {
        self.max_sockets = count;
        self
    }

    /// ZMQ_MAX_MSGSZ: the largest message, all its frames together, that the context's
    /// sockets send or accept. A larger one is refused at send with
    /// [`Error::MessageTooLarge`] (`EMSGSIZE`); a peer that sends one is disconnected, as a
    /// frame over MAXMSGSIZE is (libzmq keeps the value but enforces nothing).
    pub fn max_msgsz(mut self, bytes: usize) -> ContextBuilder {
        self.max_msgsz = Some(bytes);
        self
    }

    /// ZMQ_THREAD_NAME_PREFIX: the I/O threads are named `PREFIX/oxmq-io-N` (Linux shows the
    /// first 15 bytes).
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> ContextBuilder {
        self.threads.name_prefix = prefix.into();
        self
    }

    /// ZMQ_THREAD_AFFINITY_CPU_ADD: lets the I/O threads run on `cpu` (once any is added,
    /// only on those added). A CPU the machine lacks is ignored.
    pub fn thread_affinity_cpu_add(mut self, cpu: usize) -> ContextBuilder {
        if !self.threads.affinity.contains(&cpu) {
            self.threads.affinity.push(cpu);
        }
        self
    }

    /// ZMQ_THREAD_AFFINITY_CPU_REMOVE: takes back a CPU [`thread_affinity_cpu_add`] gave;
    /// [`Error::Invalid`] if it was not given, as libzmq.
    ///
    /// [`thread_affinity_cpu_add`]: ContextBuilder::thread_affinity_cpu_add
    pub fn thread_affinity_cpu_remove(mut self, cpu: usize) -> Result<ContextBuilder> {
        let at = self
            .threads
            .affinity
            .iter()
            .position(|&c| c == cpu)
            .ok_or(Error::Invalid)?;
        self.threads.affinity.remove(at);
        Ok(self)
    }

    /// The context.
    pub fn build(self) -> Context {
        Context {
            inner: Arc::new(Runtime::new(self.threads, self.max_sockets, self.max_msgsz)),
        }
    }
}
