//! Contexts: `zmq_ctx_new`, `zmq_ctx_term`, `zmq_ctx_shutdown`, `zmq_ctx_set`, `zmq_ctx_get`,
//! and the old names `zmq_init`, `zmq_term`, `zmq_ctx_destroy`.
//!
//! The oxmq [`Context`] is made when the first socket is, so that `ZMQ_IO_THREADS` set before
//! it takes effect, as in libzmq.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use oxmq::{Context, Error};

use crate::handle::{Handle, Handles};
use crate::{fail, fail_with, guard};

/// Context option numbers (`zmq_ctx_set` / `zmq_ctx_get`).
mod number {
    pub const IO_THREADS: i32 = 1;
    pub const MAX_SOCKETS: i32 = 2;
    pub const SOCKET_LIMIT: i32 = 3;
    pub const THREAD_PRIORITY: i32 = 3;
    pub const THREAD_SCHED_POLICY: i32 = 4;
    pub const MAX_MSGSZ: i32 = 5;
    pub const MSG_T_SIZE: i32 = 6;
    pub const THREAD_AFFINITY_CPU_ADD: i32 = 7;
    pub const THREAD_AFFINITY_CPU_REMOVE: i32 = 8;
    pub const THREAD_NAME_PREFIX: i32 = 9;
    pub const IPV6: i32 = 42;
    pub const BLOCKY: i32 = 70;
}

/// The most sockets a context can be allowed (`ZMQ_SOCKET_LIMIT`).
const SOCKET_LIMIT: c_int = 65_535;

/// The context settings, with libzmq's defaults.
struct Settings {
    io_threads: c_int,
    max_sockets: c_int,
    ipv6: bool,
    blocky: bool,
    max_msgsz: c_int,
    thread_priority: c_int,
    thread_sched_policy: c_int,
    thread_name_prefix: c_int,
    /// `zmq_ctx_shutdown` or `zmq_ctx_term` was called.
    shut_down: bool,
    /// The oxmq context, made with the first socket.
    context: Option<Context>,
}

/// What a context handle holds; sockets keep a reference to count themselves out when closed.
pub(crate) struct CtxShared {
    settings: Mutex<Settings>,
    sockets: AtomicUsize,
}

/// The defaults a new socket takes from its context.
pub(crate) struct SocketDefaults {
    pub ipv6: bool,
    /// Blocky off: new sockets linger 0.
    pub linger_zero: bool,
}

impl CtxShared {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a socket: `ETERM` after shutdown, `EMFILE` at `ZMQ_MAX_SOCKETS`.
    pub(crate) fn socket(
        &self,
        socket_type: oxmq::SocketType,
    ) -> Result<(oxmq::Socket, SocketDefaults), Error> {
        let mut settings = self.settings();
        if settings.shut_down {
            return Err(Error::Terminated);
        }
        let max = usize::try_from(settings.max_sockets).unwrap_or(0);
        if self.sockets.load(Ordering::Relaxed) >= max {
            return Err(Error::TooManyOpenFiles);
        }
        let threads = usize::try_from(settings.io_threads).unwrap_or(1);
        let context = settings
            .context
            .get_or_insert_with(|| Context::with_io_threads(threads));
        let socket = context.socket(socket_type)?;
        self.sockets.fetch_add(1, Ordering::Relaxed);
        Ok((
            socket,
            SocketDefaults {
                ipv6: settings.ipv6,
                linger_zero: !settings.blocky,
            },
        ))
    }

    /// A socket of this context was closed.
    pub(crate) fn socket_closed(&self) {
        self.sockets.fetch_sub(1, Ordering::Relaxed);
    }

    fn shutdown(&self) {
        let mut settings = self.settings();
        settings.shut_down = true;
        if let Some(context) = &settings.context {
            context.shutdown();
        }
    }
}

static CONTEXTS: Handles<Arc<CtxShared>> = Handles::new(0x6f78_6374);

/// The live context behind `ctx`.
///
/// # Safety
/// `ctx` is NULL or a pointer `zmq_ctx_new` returned.
pub(crate) unsafe fn context(ctx: *mut c_void) -> Option<&'static Handle<Arc<CtxShared>>> {
    // SAFETY: forwarded from the caller.
    unsafe { CONTEXTS.live(ctx) }
}

/// A new context.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_ctx_new() -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        CONTEXTS.open(Arc::new(CtxShared {
            settings: Mutex::new(Settings {
                io_threads: 1,
                max_sockets: 1023,
                ipv6: false,
                blocky: true,
                max_msgsz: c_int::MAX,
                thread_priority: -1,
                thread_sched_policy: -1,
                thread_name_prefix: -1,
                shut_down: false,
                context: None,
            }),
            sockets: AtomicUsize::new(0),
        }))
    })
}

/// The old `zmq_init(io_threads)`: a context with that many I/O threads.
#[unsafe(no_mangle)]
pub extern "C" fn zmq_init(io_threads: c_int) -> *mut c_void {
    if io_threads < 0 {
        return fail(libc::EINVAL, std::ptr::null_mut());
    }
    let ctx = zmq_ctx_new();
    if !ctx.is_null() {
        // SAFETY: just made by `zmq_ctx_new`.
        unsafe { zmq_ctx_set(ctx, number::IO_THREADS, io_threads) };
    }
    ctx
}

/// Shuts the context down (every blocked and later call on its sockets fails with `ETERM`),
/// waits until all its sockets are closed, and frees it. Within each socket's LINGER, queued
/// messages are delivered first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_term(ctx: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, -1);
        };
        // SAFETY: a context's value is only read until it is closed below.
        let shared = Arc::clone(unsafe { handle.get() });
        shared.shutdown();
        let context = shared.settings().context.take();
        if let Some(context) = context {
            context.term();
        }
        // SAFETY: the application terminates a context once; its sockets are all closed.
        unsafe { CONTEXTS.close(handle) };
        0
    })
}

/// The old name of `zmq_ctx_term`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_term(ctx: *mut c_void) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { zmq_ctx_term(ctx) }
}

/// The old name of `zmq_ctx_term`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_destroy(ctx: *mut c_void) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { zmq_ctx_term(ctx) }
}

/// Shuts the context down without waiting: blocked and later calls on its sockets fail with
/// `ETERM`; `zmq_ctx_term` must still be called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_shutdown(ctx: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, -1);
        };
        // SAFETY: a live context's value is only read.
        unsafe { handle.get() }.shutdown();
        0
    })
}

/// Sets a context option (`ZMQ_IO_THREADS`, `ZMQ_MAX_SOCKETS`, `ZMQ_IPV6`, `ZMQ_BLOCKY`,
/// `ZMQ_MAX_MSGSZ`, and the thread options, which are kept and read back but not applied to
/// oxmq's I/O threads yet). `EINVAL` for an unknown option or a value out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_set(ctx: *mut c_void, option: c_int, value: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, -1);
        };
        // SAFETY: a live context's value is only read (settings sit behind a mutex).
        let mut settings = unsafe { handle.get() }.settings();
        match option {
            number::IO_THREADS if value >= 0 => settings.io_threads = value,
            number::MAX_SOCKETS if (1..=SOCKET_LIMIT).contains(&value) => {
                settings.max_sockets = value
            }
            number::IPV6 if value >= 0 => settings.ipv6 = value != 0,
            number::BLOCKY if value >= 0 => settings.blocky = value != 0,
            number::MAX_MSGSZ if value >= 0 => settings.max_msgsz = value,
            number::THREAD_PRIORITY if value >= 0 => settings.thread_priority = value,
            number::THREAD_SCHED_POLICY if value >= 0 => settings.thread_sched_policy = value,
            number::THREAD_NAME_PREFIX if value >= 0 => settings.thread_name_prefix = value,
            number::THREAD_AFFINITY_CPU_ADD | number::THREAD_AFFINITY_CPU_REMOVE if value >= 0 => {}
            _ => return fail(libc::EINVAL, -1),
        }
        0
    })
}

/// Reads a context option; -1 with `EINVAL` for an unknown one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_get(ctx: *mut c_void, option: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, -1);
        };
        // SAFETY: a live context's value is only read.
        let settings = unsafe { handle.get() }.settings();
        match option {
            number::IO_THREADS => settings.io_threads,
            number::MAX_SOCKETS => settings.max_sockets,
            number::SOCKET_LIMIT => SOCKET_LIMIT,
            number::IPV6 => settings.ipv6.into(),
            number::BLOCKY => settings.blocky.into(),
            number::MAX_MSGSZ => settings.max_msgsz,
            number::MSG_T_SIZE => std::mem::size_of::<crate::msg::zmq_msg_t>() as c_int,
            number::THREAD_SCHED_POLICY => settings.thread_sched_policy,
            number::THREAD_NAME_PREFIX => settings.thread_name_prefix,
            _ => fail_with(Error::Invalid, -1),
        }
    })
}
