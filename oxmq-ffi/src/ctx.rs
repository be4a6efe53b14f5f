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
    /// Draft: receive into the buffers the connection read (oxmq always does).
    pub const ZERO_COPY_RECV: i32 = 10;
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
    /// ZMQ_THREAD_NAME_PREFIX: the I/O threads' names start with it (`zmq_ctx_set` gives a
    /// number, written in decimal, as libzmq; `zmq_ctx_set_ext` text of 1 to 16 bytes).
    thread_name_prefix: String,
    /// ZMQ_THREAD_AFFINITY_CPU_ADD / _REMOVE: the CPUs the I/O threads may run on.
    affinity: Vec<usize>,
    zero_copy_recv: bool,
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

impl Settings {
    /// The oxmq context these settings describe: made with the first socket, as libzmq
    /// starts its threads, so that settings made before apply.
    fn build_context(&self) -> Context {
        let mut builder = Context::builder()
            .io_threads(usize::try_from(self.io_threads).unwrap_or(1))
            .thread_name_prefix(self.thread_name_prefix.clone());
        for &cpu in &self.affinity {
            builder = builder.thread_affinity_cpu_add(cpu);
        }
        // libzmq's default, INT_MAX, is no limit; a smaller value caps received messages.
        if self.max_msgsz < c_int::MAX {
            builder = builder.max_msgsz(usize::try_from(self.max_msgsz).unwrap_or(0));
        }
        builder.build()
    }
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
        if settings.context.is_none() {
            settings.context = Some(settings.build_context());
        }
        let context = settings.context.as_ref().expect("made above");
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
                thread_name_prefix: String::new(),
                affinity: Vec::new(),
                zero_copy_recv: true,
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
/// `ZMQ_MAX_MSGSZ`, `ZMQ_THREAD_NAME_PREFIX`, `ZMQ_THREAD_AFFINITY_CPU_ADD` and `_REMOVE`;
/// the thread options apply to I/O threads started later, as in libzmq;
/// `ZMQ_THREAD_PRIORITY` and `ZMQ_THREAD_SCHED_POLICY` are kept and read back only).
/// `EINVAL` for an unknown option, a value out of range, or a CPU to remove that was never
/// added.
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
            number::THREAD_NAME_PREFIX => settings.thread_name_prefix = value.to_string(),
            number::THREAD_AFFINITY_CPU_ADD if value >= 0 => {
                let cpu = value as usize;
                if !settings.affinity.contains(&cpu) {
                    settings.affinity.push(cpu);
                }
            }
            number::THREAD_AFFINITY_CPU_REMOVE if value >= 0 => {
                let cpu = value as usize;
                let Some(at) = settings.affinity.iter().position(|&c| c == cpu) else {
                    return fail(libc::EINVAL, -1);
                };
                settings.affinity.remove(at);
            }
            number::ZERO_COPY_RECV if value >= 0 => settings.zero_copy_recv = value != 0,
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
            // libzmq reads the prefix as a number (atoi: 0 when it is not one).
            number::THREAD_NAME_PREFIX => leading_int(&settings.thread_name_prefix),
            number::ZERO_COPY_RECV => settings.zero_copy_recv.into(),
            _ => fail_with(Error::Invalid, -1),
        }
    })
}

/// `atoi`: the decimal number at the start of `text` (after spaces, with a sign), 0 if none.
fn leading_int(text: &str) -> c_int {
    let text = text.trim_start();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| {
        (sign * n).clamp(c_int::MIN.into(), c_int::MAX.into()) as c_int
    })
}

/// Sets a context option whose value is not an `int` (draft): `ZMQ_THREAD_NAME_PREFIX` as
/// 1 to 16 bytes of text; the `int` options through [`zmq_ctx_set`] when `optvallen` is an
/// `int`'s size. `EINVAL` otherwise, `EFAULT` for a NULL context or value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_set_ext(
    ctx: *mut c_void,
    option: c_int,
    optval: *const c_void,
    optvallen: usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, -1);
        };
        if optval.is_null() {
            return fail(libc::EFAULT, -1);
        }
        if option == number::THREAD_NAME_PREFIX && (1..=16).contains(&optvallen) {
            // SAFETY: `optvallen` readable bytes at `optval`, by the caller's contract.
            let bytes = unsafe { std::slice::from_raw_parts(optval.cast::<u8>(), optvallen) };
            let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
            // SAFETY: a live context's value is only read (settings sit behind a mutex).
            unsafe { handle.get() }.settings().thread_name_prefix =
                String::from_utf8_lossy(bytes).into_owned();
            return 0;
        }
        if optvallen == std::mem::size_of::<c_int>() {
            // SAFETY: an `int` at `optval`, by the caller's contract (unaligned allowed).
            let value = unsafe { optval.cast::<c_int>().read_unaligned() };
            // SAFETY: forwarded.
            return unsafe { zmq_ctx_set(ctx, option, value) };
        }
        fail(libc::EINVAL, -1)
    })
}

/// Reads a context option into a buffer (draft): `ZMQ_THREAD_NAME_PREFIX` as its text (NUL
/// terminated when there is room), the `int` options as an `int`. Sets `*optvallen` to the
/// length written. `EINVAL` when the buffer is too small, `EFAULT` for NULL pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_ctx_get_ext(
    ctx: *mut c_void,
    option: c_int,
    optval: *mut c_void,
    optvallen: *mut usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or from `zmq_ctx_new`, by the caller's contract.
        let Some(handle) = (unsafe { context(ctx) }) else {
            return fail(libc::EFAULT, -1);
        };
        if optval.is_null() || optvallen.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: a readable and writable length, by the caller's contract.
        let room = unsafe { *optvallen };
        if option == number::THREAD_NAME_PREFIX && room != std::mem::size_of::<c_int>() {
            // SAFETY: a live context's value is only read.
            let prefix = unsafe { handle.get() }
                .settings()
                .thread_name_prefix
                .clone();
            if room < prefix.len() {
                return fail(libc::EINVAL, -1);
            }
            let written = (prefix.len() + 1).min(room);
            // SAFETY: `room` writable bytes at `optval`, by the caller's contract, and
            // `written <= room`.
            unsafe {
                let out = std::slice::from_raw_parts_mut(optval.cast::<u8>(), written);
                out[..prefix.len()].copy_from_slice(prefix.as_bytes());
                if written > prefix.len() {
                    out[prefix.len()] = 0;
                }
                *optvallen = prefix.len();
            }
            return 0;
        }
        if room < std::mem::size_of::<c_int>() {
            return fail(libc::EINVAL, -1);
        }
        crate::set_errno(0);
        // SAFETY: forwarded.
        let value = unsafe { zmq_ctx_get(ctx, option) };
        if value == -1 && crate::errno_now() != 0 {
            return -1;
        }
        // SAFETY: room for an `int` at `optval` (checked above; unaligned allowed).
        unsafe {
            optval.cast::<c_int>().write_unaligned(value);
            *optvallen = std::mem::size_of::<c_int>();
        }
        0
    })
}
