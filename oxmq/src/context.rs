//! The context: I/O threads, the inproc namespace, and shutdown.

use std::sync::Arc;

use crate::error::{Error, Result};
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
        Context {
            inner: Arc::new(Runtime::new(count)),
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
