//! Handles: what `zmq_ctx_new` and `zmq_socket` return to C.
//!
//! A handle is a tag and a value. Every call checks the tag before it touches the value, so a
//! NULL pointer or a handle already closed gives an error instead of a crash. Handles are never
//! freed: a closed one keeps a dead tag and waits in a free list for the next handle of its
//! kind. A call on a closed handle therefore reads memory that is still a handle (until it is
//! reused, when it is the new handle, as a libzmq pointer would be), and the memory kept is
//! bounded by the most handles ever open at once.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// The tag of a handle that is not in use.
const DEAD: u32 = 0xdead_10cc;

/// A tagged slot that C code holds a pointer to.
///
/// `repr(C)` puts the tag first, so a check of a pointer to something that is not a handle
/// (libzmq's tests pass the address of a NULL pointer variable) reads only its first 4 bytes.
#[repr(C)]
pub(crate) struct Handle<T> {
    tag: AtomicU32,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: the value is reached only through `get` (which needs `T: Sync`) and `get_mut`, whose
// callers uphold libzmq's threading contract: a socket is used by one thread at a time, so its
// value only needs to move between threads (`Send`).
unsafe impl<T: Send> Sync for Handle<T> {}

/// The handles of one kind, live and free.
pub(crate) struct Handles<T: 'static> {
    tag: u32,
    free: Mutex<Vec<&'static Handle<T>>>,
}

impl<T: Send + 'static> Handles<T> {
    /// The handles that carry `tag` while in use.
    pub(crate) const fn new(tag: u32) -> Handles<T> {
        Handles {
            tag,
            free: Mutex::new(Vec::new()),
        }
    }

    /// Makes a live handle holding `value` (a free one when there is one) and returns the
    /// pointer for C.
    pub(crate) fn open(&self, value: T) -> *mut c_void {
        let reused = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let handle: &'static Handle<T> = match reused {
            Some(handle) => {
                // SAFETY: a free handle is dead: no caller that checks the tag reaches its
                // value, and it is in no one else's hands.
                unsafe { *handle.value.get() = Some(value) };
                handle
            }
            None => Box::leak(Box::new(Handle {
                tag: AtomicU32::new(DEAD),
                value: UnsafeCell::new(Some(value)),
            })),
        };
        handle.tag.store(self.tag, Ordering::Release);
        std::ptr::from_ref(handle).cast_mut().cast()
    }

    /// The live handle behind `ptr`, or `None` for NULL or a closed handle.
    ///
    /// # Safety
    /// `ptr` is NULL or a pointer this `Handles` returned from `open`.
    #[inline]
    pub(crate) unsafe fn live(&self, ptr: *mut c_void) -> Option<&'static Handle<T>> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: handles are never freed, so a pointer `open` returned stays valid.
        let handle = unsafe { &*ptr.cast::<Handle<T>>() };
        (handle.tag.load(Ordering::Acquire) == self.tag).then_some(handle)
    }

    /// Marks `handle` dead, takes its value out, and keeps the handle for reuse.
    ///
    /// # Safety
    /// No other thread uses the handle's value now (libzmq's contract for closing).
    pub(crate) unsafe fn close(&self, handle: &'static Handle<T>) -> Option<T> {
        handle.tag.store(DEAD, Ordering::Release);
        // SAFETY: by the caller's contract nobody else holds the value.
        let value = unsafe { (*handle.value.get()).take() };
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
        value
    }
}

impl<T: Sync> Handle<T> {
    /// The value, shared.
    ///
    /// # Safety
    /// The handle is live and no thread changes its value meanwhile (contexts: the value is set
    /// once, before the pointer is handed out, and only read until the context is terminated).
    #[inline]
    pub(crate) unsafe fn get(&self) -> &T {
        // SAFETY: by the caller's contract the value is set and not being changed.
        let value = unsafe { &*self.value.get() };
        value.as_ref().expect("a live handle holds its value")
    }
}

impl<T> Handle<T> {
    /// The value, exclusively.
    ///
    /// # Safety
    /// The handle is live and only the calling thread uses it now (libzmq's contract for
    /// sockets: one thread at a time).
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get_mut(&self) -> &mut T {
        // SAFETY: by the caller's contract this thread has the handle to itself.
        let value = unsafe { &mut *self.value.get() };
        value.as_mut().expect("a live handle holds its value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_HANDLES: Handles<Vec<u8>> = Handles::new(0x7465_7374);

    #[test]
    fn closed_handles_are_dead_until_reused() {
        let a = TEST_HANDLES.open(vec![1, 2, 3]);
        // SAFETY: pointers from `open`, used by this thread only.
        unsafe {
            let live = TEST_HANDLES.live(a).expect("just opened");
            assert_eq!(live.get_mut().as_slice(), &[1, 2, 3]);
            assert!(TEST_HANDLES.live(std::ptr::null_mut()).is_none());
            assert_eq!(TEST_HANDLES.close(live), Some(vec![1, 2, 3]));
            assert!(TEST_HANDLES.live(a).is_none(), "a closed handle is dead");
            // The next handle reuses the closed one's memory.
            let b = TEST_HANDLES.open(vec![4]);
            assert_eq!(a, b);
            let live = TEST_HANDLES.live(b).expect("reused and live");
            assert_eq!(live.get().as_slice(), &[4]);
            assert_eq!(TEST_HANDLES.close(live), Some(vec![4]));
        }
    }
}
