//! The shared state of a context: its I/O threads, its inproc namespace and its open sockets.
//!
//! The face's `Context` is a handle to a [`Runtime`]; every socket holds one too, so the runtime
//! lives until the last of them is gone, and then stops its threads after their lingering work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::link::SocketLink;
use super::{IoCommand, IoPool, ThreadSettings, lock};
use crate::error::{Error, Result};
use crate::transport::inproc::Registry;

/// The context's state, shared by its handles and sockets.
pub(crate) struct Runtime {
    io: IoPool,
    /// The most sockets open at once (ZMQ_MAX_SOCKETS).
    max_sockets: usize,
    /// The largest message a socket of the context sends or accepts, all frames together
    /// (ZMQ_MAX_MSGSZ; `None`: no limit).
    max_msgsz: Option<usize>,
    terminated: AtomicBool,
    sockets: Mutex<HashMap<u64, Arc<SocketLink>>>,
    sockets_closed: Condvar,
    inproc: Registry,
}

impl Runtime {
    /// A runtime with the I/O threads `threads` describes (started on first use).
    pub(crate) fn new(
        threads: ThreadSettings,
        max_sockets: usize,
        max_msgsz: Option<usize>,
    ) -> Runtime {
        Runtime {
            io: IoPool::new(threads),
            max_sockets,
            max_msgsz,
            terminated: AtomicBool::new(false),
            sockets: Mutex::new(HashMap::new()),
            sockets_closed: Condvar::new(),
            inproc: Registry::default(),
        }
    }

    /// Makes every blocked and later call fail with ETERM, waking the blocked ones.
    pub(crate) fn shutdown(&self) {
        self.terminated.store(true, Ordering::SeqCst);
        for socket in lock(&self.sockets).values() {
            socket.wake();
        }
    }

    /// Waits until every socket has been closed.
    pub(crate) fn wait_sockets_closed(&self) {
        let mut sockets = lock(&self.sockets);
        while !sockets.is_empty() {
            sockets = self
                .sockets_closed
                .wait(sockets)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Relaxed)
    }

    /// The I/O threads.
    pub(crate) fn io(&self) -> &IoPool {
        &self.io
    }

    /// The inproc namespace.
    pub(crate) fn inproc(&self) -> &Registry {
        &self.inproc
    }

    pub(crate) fn register_socket(&self, socket: &Arc<SocketLink>) -> Result<()> {
        if self.is_terminated() {
            return Err(Error::Terminated);
        }
        let mut sockets = lock(&self.sockets);
        if sockets.len() >= self.max_sockets {
            return Err(Error::TooManyOpenFiles);
        }
        sockets.insert(socket.id(), Arc::clone(socket));
        Ok(())
    }

    /// ZMQ_MAX_MSGSZ: the largest message, all frames together.
    pub(crate) fn max_msgsz(&self) -> Option<usize> {
        self.max_msgsz
    }

    /// A socket was dropped.
    pub(crate) fn socket_closed(&self, socket: &Arc<SocketLink>) {
        let socket_id = socket.id();
        self.io.broadcast(|| IoCommand::SocketClosed { socket_id });
        // Connects that waited for a bind which never came, from sockets that are now closed.
        self.inproc.prune_pending();
        let mut sockets = lock(&self.sockets);
        sockets.remove(&socket_id);
        if sockets.is_empty() {
            self.sockets_closed.notify_all();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.io.stop();
    }
}
