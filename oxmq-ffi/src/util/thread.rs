//! `zmq_threadstart` and `zmq_threadclose`: a portable way for C programs to run a function on
//! a new thread and wait for it.
//!
//! As in libzmq, the thread is named `ZMQapp`, has every signal blocked (signals go to the
//! program's other threads), and gets the platform's default thread stack size (what
//! `pthread_create` would give it). A NULL function, and a thread the system cannot create,
//! where libzmq would crash or abort, are NULL with errno `EFAULT` or the system's error.

use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr;
use std::thread::{Builder, JoinHandle};

use crate::{fail, guard};

/// `zmq_thread_fn`: the function a thread runs, with its argument.
pub type ZmqThreadFn = unsafe extern "C" fn(arg: *mut c_void);

/// What a new thread runs.
struct Start {
    func: ZmqThreadFn,
    arg: *mut c_void,
}

// SAFETY: handing `arg` to the function on another thread is what the caller asks for; the
// pointer is not used by this library.
unsafe impl Send for Start {}

impl Start {
    /// Runs the function, on the new thread.
    fn run(self) {
        block_signals();
        // SAFETY: a function of the `zmq_thread_fn` type with the argument the caller gave it.
        unsafe { (self.func)(self.arg) }
    }
}

/// Blocks every signal on the calling thread, as libzmq does on its threads.
fn block_signals() {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigfillset` initialises the set; `pthread_sigmask` reads it, and NULL asks for no
    // copy of the old mask.
    unsafe {
        if libc::sigfillset(set.as_mut_ptr()) == 0 {
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), ptr::null_mut());
        }
    }
}

/// The stack size `pthread_create` gives a thread by default (from `RLIMIT_STACK` with glibc),
/// which C code run on the thread may count on; Rust's own default is smaller.
fn default_stack_size() -> usize {
    const FALLBACK: usize = 8 << 20;
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    let mut size = 0;
    // SAFETY: `pthread_attr_init` initialises `attr`, which is destroyed after its stack size is
    // read; nothing else uses it.
    unsafe {
        if libc::pthread_attr_init(attr.as_mut_ptr()) != 0 {
            return FALLBACK;
        }
        let rc = libc::pthread_attr_getstacksize(attr.as_ptr(), &mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if rc != 0 || size == 0 {
            return FALLBACK;
        }
    }
    size
}

/// Starts a thread that runs `func(arg)` and returns its handle, for `zmq_threadclose`. NULL
/// with errno `EFAULT` when `func` is NULL, or the system's error (`EAGAIN`, ...) when it cannot
/// create a thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_threadstart(
    func: Option<ZmqThreadFn>,
    arg: *mut c_void,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let Some(func) = func else {
            return fail(libc::EFAULT, ptr::null_mut());
        };
        let start = Start { func, arg };
        let spawned = Builder::new()
            .name("ZMQapp".to_owned())
            .stack_size(default_stack_size())
            .spawn(move || start.run());
        match spawned {
            Ok(handle) => Box::into_raw(Box::new(handle)).cast(),
            Err(error) => fail(
                error.raw_os_error().unwrap_or(libc::EAGAIN),
                ptr::null_mut(),
            ),
        }
    })
}

/// Waits for the thread `thread` (from `zmq_threadstart`) to return, and frees its handle. A
/// NULL thread sets errno to `EFAULT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_threadclose(thread: *mut c_void) {
    guard((), || {
        if thread.is_null() {
            return fail(libc::EFAULT, ());
        }
        // SAFETY: a handle from `zmq_threadstart` (made by `Box::into_raw`), not closed before,
        // by the caller's contract.
        let handle = unsafe { Box::from_raw(thread.cast::<JoinHandle<()>>()) };
        // The thread runs a C function, which cannot panic; there is no result to report.
        let _ = handle.join();
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::set_errno;
    use crate::util::zmq_errno;

    /// What `observe` saw on its thread.
    #[derive(Default)]
    struct Seen {
        runs: AtomicUsize,
        name: std::sync::Mutex<Option<String>>,
        sigint_blocked: std::sync::atomic::AtomicBool,
    }

    unsafe extern "C" fn observe(arg: *mut c_void) {
        // SAFETY: the test passes a `Seen` that outlives the thread.
        let seen = unsafe { &*arg.cast::<Seen>() };
        seen.runs.fetch_add(1, Ordering::SeqCst);
        *seen.name.lock().unwrap() = std::thread::current().name().map(str::to_owned);
        let mut mask = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `pthread_sigmask` fills `mask` with the current mask; `sigismember` reads it.
        let blocked = unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), mask.as_mut_ptr()) == 0
                && libc::sigismember(mask.as_ptr(), libc::SIGINT) == 1
        };
        seen.sigint_blocked.store(blocked, Ordering::SeqCst);
    }

    #[test]
    fn runs_the_function_and_joins() {
        let seen = Seen::default();
        let arg = ptr::from_ref(&seen).cast_mut().cast();
        // SAFETY: `observe` takes a `Seen`, alive until the thread is closed below.
        let thread = unsafe { zmq_threadstart(Some(observe), arg) };
        assert!(!thread.is_null());
        // SAFETY: a live thread handle, closed once.
        unsafe { zmq_threadclose(thread) };
        assert_eq!(seen.runs.load(Ordering::SeqCst), 1);
        assert_eq!(seen.name.lock().unwrap().as_deref(), Some("ZMQapp"));
        assert!(seen.sigint_blocked.load(Ordering::SeqCst));
    }

    #[test]
    fn null_arguments_are_efault() {
        set_errno(0);
        // SAFETY: a NULL function is checked.
        assert!(unsafe { zmq_threadstart(None, ptr::null_mut()) }.is_null());
        assert_eq!(zmq_errno(), libc::EFAULT);
        set_errno(0);
        // SAFETY: a NULL thread is checked.
        unsafe { zmq_threadclose(ptr::null_mut()) };
        assert_eq!(zmq_errno(), libc::EFAULT);
    }

    #[test]
    fn default_stack_size_is_sane() {
        assert!(default_stack_size() >= 64 << 10);
    }
}
