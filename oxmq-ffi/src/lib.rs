//! oxmq's C ABI: a drop-in `libzmq.so.5`.
//!
//! This crate builds a shared library named `libzmq.so` with the soname `libzmq.so.5` that
//! exports libzmq 4.3's stable C API (`include/zmq.h` beside this crate), implemented on oxmq's
//! Rust sockets. A program or binding built against libzmq (pyzmq, CZMQ, cppzmq, libzmq's own
//! test suite and perf tools) runs on oxmq unchanged, by linking this library instead or by
//! finding it first on `LD_LIBRARY_PATH`.
//!
//! ```c
//! #include <zmq.h>
//! #include <assert.h>
//!
//! int main (void)
//! {
//!     void *ctx = zmq_ctx_new ();
//!     void *pull = zmq_socket (ctx, ZMQ_PULL);
//!     void *push = zmq_socket (ctx, ZMQ_PUSH);
//!     assert (zmq_bind (pull, "inproc://jobs") == 0);
//!     assert (zmq_connect (push, "inproc://jobs") == 0);
//!     assert (zmq_send (push, "job", 3, 0) == 3);
//!     char buf[8];
//!     assert (zmq_recv (pull, buf, sizeof buf, 0) == 3);
//!     zmq_close (push);
//!     zmq_close (pull);
//!     return zmq_ctx_term (ctx);
//! }
//! ```
//!
//! # Design
//!
//! - **Frames over messages.** oxmq sends and receives whole multi-part messages; the C API
//!   goes frame by frame with `ZMQ_SNDMORE` and `ZMQ_RCVMORE`. Each socket handle keeps the
//!   frames sent so far and hands the message to oxmq with its last frame, which is what libzmq
//!   does too (a message becomes visible to peers only when complete). It keeps the frames of a
//!   received message that were not read yet. A one-frame message takes the direct path
//!   (`Socket::send_bytes`) and never waits in the handle.
//! - **Handles.** `zmq_ctx_new` and `zmq_socket` return pointers to handles that carry a tag.
//!   Every call checks it: a NULL or closed socket is `ENOTSOCK`, a NULL or terminated context
//!   `EFAULT`, as in libzmq. A closed handle's memory is never given back to the allocator but
//!   kept for the next `zmq_socket`/`zmq_ctx_new`, so a call on a closed socket reads a dead
//!   tag instead of freed memory (until the handle is reused, as libzmq's would be), and the
//!   memory held is bounded by the most handles ever open at once.
//! - **`zmq_msg_t`** keeps libzmq's 64 bytes and alignment. A body of up to 48 bytes lives
//!   inside it; a larger one is a reference-counted buffer (`zmq_msg_copy` shares it, as in
//!   libzmq), and `zmq_msg_init_data` wraps the caller's buffer without copying and calls its
//!   free function exactly once, when the last reference goes.
//! - **Errors** are reported as libzmq does: -1 (or NULL) and `errno`, with libzmq's values
//!   (`oxmq::Error::errno`). A function oxmq cannot honour yet sets `ENOTSUP`; no call aborts
//!   the caller, and a Rust panic is caught at the boundary (the call then fails with
//!   `ENOTRECOVERABLE`; the panic message goes to stderr).
//! - **Threads.** As in libzmq, a context may be used from any thread, a socket from one thread
//!   at a time.
//!
//! # Not implemented yet
//!
//! PLAIN, CURVE and ZAP (`zmq_has("curve")` is 0; the CURVE key utilities work), `User-Id` in
//! `zmq_msg_gets` (it comes from ZAP), the options listed as `ENOTSUP` in
//! `oxmq::Socket::set_option_raw` (the multicast ones, ZAP_DOMAIN, ...), most of the draft
//! API (of it, `zmq_poller_*`, `zmq_socket_monitor_versioned`,
//! `zmq_socket_monitor_pipes_stats` and `zmq_msg_init_buffer` are here; the thread-safe
//! socket types are not, so `zmq_poller_fd` is always `EINVAL`), and the transports other than tcp,
//! ipc and inproc (`EPROTONOSUPPORT`).

#![deny(unsafe_op_in_unsafe_fn)]
// The exported functions take raw pointers from C callers; each checks them for NULL and
// documents what else it relies on.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{CStr, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

mod ctx;
mod handle;
mod monitor;
mod msg;
mod poll;
mod poller;
mod proxy;
mod socket;
mod util;

/// Sets the calling thread's `errno`, which `zmq_errno` and C callers read.
/// The calling thread's `errno`.
pub(crate) fn errno_now() -> c_int {
    // SAFETY: as in `set_errno`.
    unsafe { *libc::__errno_location() }
}

pub(crate) fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, valid for the
    // thread's life.
    unsafe { *libc::__errno_location() = code };
}

/// Fails a call: sets `errno` to `code` and returns `value` (-1 or NULL).
pub(crate) fn fail<T>(code: c_int, value: T) -> T {
    set_errno(code);
    value
}

/// Fails a call with an oxmq error's errno.
pub(crate) fn fail_with<T>(error: oxmq::Error, value: T) -> T {
    fail(error.errno(), value)
}

/// Runs the body of an exported function, so that a panic never unwinds into C: it becomes a
/// failed call (`on_panic`, with errno `ENOTRECOVERABLE`).
#[inline(always)]
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => fail(libc::ENOTRECOVERABLE, on_panic),
    }
}

/// Reads a NUL-terminated UTF-8 string argument; NULL or invalid UTF-8 is `EINVAL`.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn text_arg<'a>(text: *const c_char) -> Result<&'a str, oxmq::Error> {
    if text.is_null() {
        return Err(oxmq::Error::Invalid);
    }
    // SAFETY: not NULL, and NUL-terminated by the caller's contract.
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str().map_err(|_| oxmq::Error::Invalid)
}

/// Reads a `(pointer, length)` buffer argument. NULL with a length of zero is the empty slice;
/// NULL with a length is `EFAULT`; a length beyond what a slice can hold is `EINVAL`.
///
/// # Safety
/// Unless NULL, `data` points to `len` readable bytes that outlive the call.
pub(crate) unsafe fn bytes_arg<'a>(
    data: *const std::ffi::c_void,
    len: usize,
) -> Result<&'a [u8], oxmq::Error> {
    if len > isize::MAX as usize {
        return Err(oxmq::Error::Invalid);
    }
    if data.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(oxmq::Error::Fault)
        };
    }
    // SAFETY: not NULL, `len` bytes readable by the caller's contract, `len` in range.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// A byte count as the `int` libzmq's send and receive functions return.
pub(crate) fn int_len(len: usize) -> c_int {
    c_int::try_from(len).unwrap_or(c_int::MAX)
}

/// The version, `ZMQ_VERSION_*` of libzmq's release whose API this library offers.
pub(crate) const VERSION: (c_int, c_int, c_int) = (4, 3, 5);

/// Message-sized buffers (allocations from 512 bytes up to 8 KiB) come from mimalloc,
/// everything else from the system allocator. A buffer allocated by the sending thread and freed by the
/// receiving one goes back to its mimalloc page with one atomic operation, where glibc's
/// malloc takes its arena's lock for it on both sides (libzmq's `inproc_thr` at 1 KiB: 2.1 M
/// msgs/s with glibc alone, 6.2 M with mimalloc). Small objects stay with glibc: with all of
/// them in mimalloc, ipc throughput of 1-byte messages fell by a quarter (more CPU per message,
/// no allocation on the path: a matter of where the shared objects land), and with the I/O
/// threads' 16-256 KiB read and write buffers there too, by a tenth. Memory the application
/// lends (`zmq_msg_init_data`) is its own.
#[cfg(feature = "mimalloc")]
mod allocator {
    use std::alloc::{GlobalAlloc, Layout, System};

    use mimalloc::MiMalloc;

    /// The sizes of the allocations mimalloc makes: message buffers, not the small objects
    /// and not the I/O threads' big buffers.
    const MESSAGE_SIZES: std::ops::Range<usize> = 512..8192;

    /// Routes by size; `dealloc` gets the layout `alloc` got, so each block returns to the
    /// allocator it came from.
    pub(crate) struct BySize;

    fn large(layout: &Layout) -> bool {
        MESSAGE_SIZES.contains(&layout.size())
    }

    // SAFETY: every method forwards to an allocator that upholds GlobalAlloc's contract, and
    // a block is always handed back to the one that made it: the route depends only on the
    // layout's size, which is the same at alloc and dealloc; realloc across the threshold
    // moves the block to the other allocator by alloc, copy and dealloc.
    unsafe impl GlobalAlloc for BySize {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded contract.
            unsafe {
                if large(&layout) {
                    MiMalloc.alloc(layout)
                } else {
                    System.alloc(layout)
                }
            }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded contract.
            unsafe {
                if large(&layout) {
                    MiMalloc.alloc_zeroed(layout)
                } else if layout.size() >= MESSAGE_SIZES.end {
                    // calloc takes large blocks zeroed from the kernel.
                    System.alloc_zeroed(layout)
                } else {
                    // glibc's calloc (2.36 here) bypasses the per-thread cache: a zeroed
                    // message buffer (`zmq_msg_init_size`) took the arena path at calloc,
                    // and its free overflowed the cache into the arena too. malloc and a
                    // memset stay in the cache. (`black_box` keeps the compiler from folding
                    // the pair back into calloc.)
                    let block = std::hint::black_box(System.alloc(layout));
                    if !block.is_null() {
                        std::ptr::write_bytes(block, 0, layout.size());
                    }
                    block
                }
            }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded contract; `ptr` came from the allocator its size routes to.
            unsafe {
                if large(&layout) {
                    MiMalloc.dealloc(ptr, layout)
                } else {
                    System.dealloc(ptr, layout)
                }
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let was_large = large(&layout);
            if was_large == MESSAGE_SIZES.contains(&new_size) {
                // SAFETY: forwarded contract, within one allocator.
                return unsafe {
                    if was_large {
                        MiMalloc.realloc(ptr, layout, new_size)
                    } else {
                        System.realloc(ptr, layout, new_size)
                    }
                };
            }
            // SAFETY: the caller guarantees `new_size` with `layout`'s alignment is a valid
            // layout (GlobalAlloc::realloc's contract).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: a fresh block from the allocator its size routes to.
            let new = unsafe { self.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks are live and distinct, and each holds at least the
                // smaller of the two sizes; the old block then goes back where it came from.
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            new
        }
    }
}

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: allocator::BySize = allocator::BySize;

#[cfg(all(test, feature = "mimalloc"))]
mod allocator_tests {
    /// A buffer that grows and shrinks across both ends of the message range keeps its bytes
    /// (realloc moves it between the allocators).
    #[test]
    fn realloc_across_the_message_range_keeps_the_bytes() {
        let mut v: Vec<u8> = (0..100u8).collect();
        for size in [600, 5000, 20_000, 3000, 100] {
            let old = v.len().min(size);
            v.resize(size, 0xAB);
            v.shrink_to_fit();
            assert!(
                v[..old.min(100)]
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == i as u8)
            );
            assert_eq!(v.len(), size);
        }
        let zeroed = vec![0u8; 1024];
        assert!(zeroed.iter().all(|&b| b == 0));
    }
}
