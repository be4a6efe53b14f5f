//! `zmq_msg_t` and the `zmq_msg_*` functions.
//!
//! A `zmq_msg_t` is 64 bytes aligned like a pointer, as in libzmq, and holds one frame:
//!
//! ```text
//!  0        48         56           60    61    62     63
//!  | body   | metadata | routing id | len | kind | flags | magic |
//! ```
//!
//! The body is one of three kinds:
//! - up to [`INLINE`] bytes stored in place (`kind` [`KIND_INLINE`], `len` bytes);
//! - up to [`BOXED`] bytes (the most oxmq stores in place in a [`Frame`]) in a block of that
//!   size the message owns alone (`kind` [`KIND_BOXED`], `len` bytes). A message received
//!   into the same `zmq_msg_t` as the last one refills its block, and a closed or sent
//!   message leaves its block to the thread's next `zmq_msg_init_size`: sending or receiving
//!   these sizes in a loop allocates nothing. `zmq_msg_copy` copies them, as libzmq copies
//!   its small messages;
//! - a [`Bytes`] (`kind` [`KIND_SHARED`]): a reference-counted buffer that `zmq_msg_copy`
//!   shares, or the caller's own buffer from `zmq_msg_init_data`, released with its free
//!   function when the last reference goes.
//!
//! `metadata` is the connection's properties for `zmq_msg_gets` (shared with the socket; NULL
//! for inproc). `magic` tells an initialised message from a closed or never-initialised one,
//! which every function refuses with `EFAULT`.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::mem::ManuallyDrop;

use std::sync::Arc;

use bytes::Bytes;
use oxmq::{Frame, PeerMetadata};

use crate::{fail, guard};

/// libzmq's `zmq_msg_t`: 64 opaque bytes, aligned like a pointer.
#[allow(non_camel_case_types)]
#[repr(C, align(8))]
pub struct zmq_msg_t {
    _bytes: [u8; 64],
}

/// The most body bytes a message holds in place.
pub(crate) const INLINE: usize = 48;

/// The most body bytes a message holds in a block of its own.
pub(crate) const BOXED: usize = Frame::INLINE_CAPACITY;

const KIND_INLINE: u8 = 1;
const KIND_SHARED: u8 = 2;
const KIND_BOXED: u8 = 3;

/// A block of a `KIND_BOXED` body.
type Block = Box<[u8; BOXED]>;

thread_local! {
    /// The block of the last boxed message this thread closed or sent, for its next one.
    static SPARE_BLOCK: Cell<Option<Block>> = const { Cell::new(None) };
}

/// A zeroed block: the thread's spare one if it has it, else a new one.
fn new_block() -> Block {
    match SPARE_BLOCK.try_with(Cell::take) {
        Ok(Some(mut block)) => {
            block.fill(0);
            block
        }
        _ => Box::new([0; BOXED]),
    }
}

/// Keeps `block` as the thread's spare (freeing the one it replaces, if any).
fn spare_block(block: Block) {
    // During thread exit the spare slot may be gone: the block is then simply freed.
    let _ = SPARE_BLOCK.try_with(|spare| spare.set(Some(block)));
}

/// Set in `magic` while a message is initialised.
const MAGIC: u8 = 0x5a;

/// `zmq_msg_get` / `zmq_msg_set` properties.
const MORE: c_int = 1;
const SRCFD: c_int = 2;
const SHARED: c_int = 3;

/// `flags`: more frames follow (`ZMQ_MORE`).
const FLAG_MORE: u8 = 1;
/// `flags`: the body may be shared with another message (`ZMQ_SHARED`): set, as in libzmq, on
/// both messages when a large body is copied, and on a message over constant data.
const FLAG_SHARED: u8 = 2;

#[repr(C)]
union Body {
    inline: [u8; INLINE],
    shared: ManuallyDrop<Bytes>,
    boxed: ManuallyDrop<Block>,
}

/// A message's flags, routing id and metadata (see [`Msg::take_properties`]).
pub(crate) struct Properties {
    metadata: Option<Arc<PeerMetadata>>,
    routing_id: u32,
    flags: u8,
}

/// The layout behind `zmq_msg_t`.
#[repr(C)]
pub(crate) struct Msg {
    body: Body,
    metadata: Option<Arc<PeerMetadata>>,
    routing_id: u32,
    len: u8,
    kind: u8,
    flags: u8,
    magic: u8,
}

const _: () = assert!(std::mem::size_of::<Msg>() == std::mem::size_of::<zmq_msg_t>());
const _: () = assert!(std::mem::align_of::<Msg>() <= std::mem::align_of::<zmq_msg_t>());
const _: () = assert!(std::mem::size_of::<zmq_msg_t>() == 64);

impl Msg {
    pub(crate) const fn empty() -> Msg {
        Msg {
            body: Body {
                inline: [0; INLINE],
            },
            metadata: None,
            routing_id: 0,
            len: 0,
            kind: KIND_INLINE,
            flags: 0,
            magic: MAGIC,
        }
    }

    fn from_bytes(bytes: Bytes) -> Msg {
        Msg {
            body: Body {
                shared: ManuallyDrop::new(bytes),
            },
            metadata: None,
            routing_id: 0,
            len: 0,
            kind: KIND_SHARED,
            flags: 0,
            magic: MAGIC,
        }
    }

    /// A message of `size` zero bytes in a block of its own (`INLINE < size <= BOXED`).
    fn boxed(size: usize) -> Msg {
        debug_assert!(size > INLINE && size <= BOXED);
        Msg {
            body: Body {
                boxed: ManuallyDrop::new(new_block()),
            },
            metadata: None,
            routing_id: 0,
            len: size as u8,
            kind: KIND_BOXED,
            flags: 0,
            magic: MAGIC,
        }
    }

    /// A message of `size` zero bytes.
    #[inline]
    pub(crate) fn zeroed(size: usize) -> Msg {
        if size <= INLINE {
            let mut msg = Msg::empty();
            msg.len = size as u8;
            msg
        } else if size <= BOXED {
            Msg::boxed(size)
        } else {
            Msg::from_bytes(Bytes::from(vec![0u8; size]))
        }
    }

    /// A message holding a copy of `data`.
    #[inline]
    fn copy_of(data: &[u8]) -> Msg {
        if data.len() <= INLINE {
            let mut msg = Msg::empty();
            // SAFETY: `empty` made the inline variant.
            unsafe { msg.body.inline[..data.len()].copy_from_slice(data) };
            msg.len = data.len() as u8;
            msg
        } else if data.len() <= BOXED {
            let mut msg = Msg::boxed(data.len());
            msg.data_mut().copy_from_slice(data);
            msg
        } else {
            Msg::from_bytes(Bytes::copy_from_slice(data))
        }
    }

    /// The body of an inline or boxed message, writable.
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.len);
        match self.kind {
            // SAFETY: the kind says which variant is set; `len` never exceeds its size.
            KIND_BOXED => unsafe { &mut (*self.body.boxed)[..len] },
            KIND_INLINE => unsafe { &mut self.body.inline[..len] },
            _ => unreachable!("a shared body is not written through a reference"),
        }
    }

    /// Makes this message the frame just received (`more`: others of its message follow),
    /// refilling its own block when the frame needs one and it has one.
    #[inline]
    pub(crate) fn receive(&mut self, frame: Frame, more: bool) {
        if frame.len() <= BOXED {
            self.receive_copy(&frame, more);
        } else {
            *self = Msg::from_frame(frame, more);
        }
    }

    /// [`receive`](Self::receive) of a copy of a small frame (at most [`BOXED`] bytes).
    #[inline]
    pub(crate) fn receive_copy(&mut self, frame: &Frame, more: bool) {
        let len = frame.len();
        let fits = match self.kind {
            KIND_INLINE => len <= INLINE,
            KIND_BOXED => len > INLINE && len <= BOXED,
            _ => false,
        };
        if fits {
            self.len = len as u8;
            self.data_mut().copy_from_slice(frame);
            self.metadata = None;
            self.routing_id = 0;
            self.flags = if more { FLAG_MORE } else { 0 };
        } else {
            *self = Msg::copy_of(frame);
            self.set_more(more);
        }
    }

    /// A message holding `frame` (a small one copied, a large one moved).
    pub(crate) fn from_frame(frame: Frame, more: bool) -> Msg {
        let mut msg = if frame.len() <= BOXED {
            Msg::copy_of(&frame)
        } else {
            Msg::from_bytes(Bytes::from(frame))
        };
        msg.set_more(more);
        msg
    }

    /// The body's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        let len = usize::from(self.len);
        match self.kind {
            // SAFETY: the kind says which variant is set; `len` never exceeds its size.
            KIND_SHARED => unsafe { &self.body.shared },
            KIND_BOXED => unsafe { &self.body.boxed[..len] },
            _ => unsafe { &self.body.inline[..len] },
        }
    }

    fn data_ptr(&mut self) -> *mut u8 {
        match self.kind {
            // Writing through this pointer is what the C API allows the owner of a message (as
            // libzmq does): the buffer is heap memory that `Bytes` reaches through a raw
            // pointer, and a copy made by `zmq_msg_copy` sees the change, as in libzmq.
            // SAFETY: the kind says which variant is set.
            KIND_SHARED => unsafe { self.body.shared.as_ptr().cast_mut() },
            // SAFETY: as above.
            KIND_BOXED => unsafe { (*self.body.boxed).as_mut_ptr() },
            // SAFETY: as above.
            _ => unsafe { self.body.inline.as_mut_ptr() },
        }
    }

    /// The body as a frame: a small one copied, a large one moved. Leaves this message empty.
    pub(crate) fn take_frame(&mut self) -> Frame {
        if self.kind != KIND_SHARED {
            let frame = Frame::copy_from_slice(self.data());
            *self = Msg::empty();
            return frame;
        }
        let mut taken = std::mem::replace(self, Msg::empty());
        drop(taken.metadata.take());
        let taken = ManuallyDrop::new(taken);
        // SAFETY: the kind says the `Bytes` variant is set; `taken` is never dropped, so the
        // `Bytes` is moved out exactly once.
        Frame::from(unsafe { std::ptr::read(&*taken.body.shared) })
    }

    /// Takes what a message carries besides its body (its metadata moved out, not shared),
    /// for [`restore_properties`](Self::restore_properties).
    pub(crate) fn take_properties(&mut self) -> Properties {
        Properties {
            metadata: self.metadata.take(),
            routing_id: self.routing_id,
            flags: self.flags,
        }
    }

    /// Gives the message back what [`take_properties`](Self::take_properties) took.
    pub(crate) fn restore_properties(&mut self, properties: Properties) {
        self.metadata = properties.metadata;
        self.routing_id = properties.routing_id;
        self.flags = properties.flags;
    }

    /// Sets the metadata of the connection the message came from.
    pub(crate) fn set_metadata(&mut self, metadata: Option<Arc<PeerMetadata>>) {
        self.metadata = metadata;
    }

    pub(crate) fn more(&self) -> bool {
        self.flags & FLAG_MORE != 0
    }

    pub(crate) fn set_more(&mut self, more: bool) {
        if more {
            self.flags |= FLAG_MORE;
        } else {
            self.flags &= !FLAG_MORE;
        }
    }
}

impl Drop for Msg {
    #[inline]
    fn drop(&mut self) {
        if self.kind != KIND_INLINE {
            self.release_body();
        }
    }
}

impl Msg {
    /// Drops a body that is not in place, leaving the message empty: `drop`'s work, out of
    /// line so that dropping an inline message costs one comparison.
    #[inline(never)]
    fn release_body(&mut self) {
        let kind = std::mem::replace(&mut self.kind, KIND_INLINE);
        self.len = 0;
        match kind {
            // SAFETY: the kind said the `Bytes` variant is set; it is dropped once, here (the
            // kind now says inline).
            KIND_SHARED => unsafe { ManuallyDrop::drop(&mut self.body.shared) },
            // SAFETY: as above, for the block variant.
            KIND_BOXED => spare_block(unsafe { ManuallyDrop::take(&mut self.body.boxed) }),
            _ => {}
        }
    }
}

/// The initialised message behind `msg`, or `None` (NULL, closed, never initialised).
///
/// # Safety
/// `msg` is NULL or points to a `zmq_msg_t` (initialised or not) that only this thread uses.
#[inline]
pub(crate) unsafe fn live<'a>(msg: *mut zmq_msg_t) -> Option<&'a mut Msg> {
    if msg.is_null() {
        return None;
    }
    // SAFETY: a `zmq_msg_t` is 64 bytes aligned for `Msg`; every byte pattern is a valid
    // `magic`, and the rest is read only when `magic` says the message was initialised here.
    let raw = msg.cast::<Msg>();
    if unsafe { (*raw).magic } != MAGIC {
        return None;
    }
    // SAFETY: initialised by `init`, and used by this thread only.
    Some(unsafe { &mut *raw })
}

/// Writes `value` over `msg` without dropping what was there (it is uninitialised or moved
/// out).
///
/// # Safety
/// `msg` is not NULL and points to a writable `zmq_msg_t`.
#[inline]
pub(crate) unsafe fn init(msg: *mut zmq_msg_t, value: Msg) {
    // SAFETY: by the caller's contract; `Msg` fits `zmq_msg_t`.
    unsafe { std::ptr::write(msg.cast::<Msg>(), value) };
}

/// Closes `msg` if it is initialised, then puts `value` in its place.
///
/// # Safety
/// As [`live`]; `msg` is not NULL.
pub(crate) unsafe fn replace(msg: *mut zmq_msg_t, value: Msg) {
    // SAFETY: by the caller's contract.
    unsafe {
        if let Some(old) = live(msg) {
            std::ptr::drop_in_place(old);
        }
        init(msg, value);
    }
}

/// Initialises an empty message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_init(msg: *mut zmq_msg_t) -> c_int {
    if msg.is_null() {
        return fail(libc::EFAULT, -1);
    }
    // SAFETY: not NULL; the caller passes a writable `zmq_msg_t`.
    unsafe { init(msg, Msg::empty()) };
    0
}

/// Initialises a message of `size` bytes (zeroed), for the caller to fill through
/// `zmq_msg_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_init_size(msg: *mut zmq_msg_t, size: usize) -> c_int {
    guard(-1, || {
        if msg.is_null() {
            return fail(libc::EFAULT, -1);
        }
        if size > isize::MAX as usize {
            return fail(libc::ENOMEM, -1);
        }
        // SAFETY: not NULL; the caller passes a writable `zmq_msg_t`.
        unsafe { init(msg, Msg::zeroed(size)) };
        0
    })
}

/// Initialises a message holding a copy of `size` bytes at `data` (libzmq 4.3.5's
/// `zmq_msg_init_buffer`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_init_buffer(
    msg: *mut zmq_msg_t,
    data: *const c_void,
    size: usize,
) -> c_int {
    guard(-1, || {
        if msg.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: NULL or `size` readable bytes, by the caller's contract.
        let data = match unsafe { crate::bytes_arg(data, size) } {
            Ok(data) => data,
            Err(error) => return crate::fail_with(error, -1),
        };
        // SAFETY: not NULL; the caller passes a writable `zmq_msg_t`.
        unsafe { init(msg, Msg::copy_of(data)) };
        0
    })
}

/// The free function of `zmq_msg_init_data`.
pub type FreeFn = unsafe extern "C" fn(data: *mut c_void, hint: *mut c_void);

/// A caller's buffer lent to a message: read in place, and handed back to its free function
/// when the last reference is dropped.
struct Lent {
    data: *mut c_void,
    size: usize,
    free: Option<FreeFn>,
    hint: *mut c_void,
}

// SAFETY: the caller gave the buffer to the message (libzmq's contract for
// `zmq_msg_init_data`): it is read from whatever thread holds the message, and freed from
// whichever thread drops the last reference, as libzmq does.
unsafe impl Send for Lent {}
// SAFETY: as above; the buffer is only read through shared references.
unsafe impl Sync for Lent {}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        if self.size == 0 {
            return &[];
        }
        // SAFETY: `size` readable bytes at `data`, until the free function is called (in
        // `drop`).
        unsafe { std::slice::from_raw_parts(self.data.cast::<u8>(), self.size) }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: called exactly once, with the caller's own pointer and hint.
            unsafe { free(self.data, self.hint) };
        }
    }
}

/// Initialises a message over the caller's buffer, without copying it. `ffn`, when not NULL,
/// is called exactly once with `data` and `hint` when the message (and every copy) is done
/// with it, from whichever thread drops it last. A NULL `ffn` means the buffer outlives the
/// message (constant data).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_init_data(
    msg: *mut zmq_msg_t,
    data: *mut c_void,
    size: usize,
    ffn: Option<FreeFn>,
    hint: *mut c_void,
) -> c_int {
    guard(-1, || {
        if msg.is_null() || (data.is_null() && size != 0) || size > isize::MAX as usize {
            return fail(libc::EFAULT, -1);
        }
        let lent = Lent {
            data,
            size,
            free: ffn,
            hint,
        };
        let mut value = Msg::from_bytes(Bytes::from_owner(lent));
        if ffn.is_none() {
            value.flags |= FLAG_SHARED;
        }
        // SAFETY: not NULL; the caller passes a writable `zmq_msg_t`.
        unsafe { init(msg, value) };
        0
    })
}

/// Releases the message's body. `EFAULT` for a message that is not initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_close(msg: *mut zmq_msg_t) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
        let Some(live) = (unsafe { live(msg) }) else {
            return fail(libc::EFAULT, -1);
        };
        live.magic = 0;
        // SAFETY: initialised; dropped once (the magic is cleared, so it is not used again).
        unsafe { std::ptr::drop_in_place(live) };
        0
    })
}

/// What `zmq_msg_move` and `zmq_msg_copy` share: both messages must be initialised (as in
/// libzmq), a message given as both is left as it is, and `dest` gets what `take` makes of
/// `src` (what it held is closed).
///
/// # Safety
/// Each pointer is NULL or a `zmq_msg_t` of this thread.
unsafe fn transfer(
    dest: *mut zmq_msg_t,
    src: *mut zmq_msg_t,
    take: impl FnOnce(&mut Msg) -> Msg,
) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
        if unsafe { live(dest) }.is_none() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: as above.
        let Some(source) = (unsafe { live(src) }) else {
            return fail(libc::EFAULT, -1);
        };
        if std::ptr::eq(dest, src) {
            return 0;
        }
        let value = take(source);
        // SAFETY: `dest` is initialised (checked above) and of this thread.
        unsafe { replace(dest, value) };
        0
    })
}

/// Moves `src`'s content to `dest` (closing what `dest` held; both must be initialised);
/// `src` becomes empty.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_move(dest: *mut zmq_msg_t, src: *mut zmq_msg_t) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { transfer(dest, src, |source| std::mem::replace(source, Msg::empty())) }
}

/// Makes `dest` a copy of `src` (closing what `dest` held; both must be initialised): a large
/// body is shared, not copied, as in libzmq.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_copy(dest: *mut zmq_msg_t, src: *mut zmq_msg_t) -> c_int {
    let make_copy = |source: &mut Msg| {
        let mut copy = match source.kind {
            KIND_SHARED => {
                source.flags |= FLAG_SHARED;
                // SAFETY: the kind says the `Bytes` variant is set.
                Msg::from_bytes(Bytes::clone(unsafe { &source.body.shared }))
            }
            _ => Msg::copy_of(source.data()),
        };
        copy.flags = source.flags;
        copy.routing_id = source.routing_id;
        copy.metadata.clone_from(&source.metadata);
        copy
    };
    // SAFETY: forwarded from the caller.
    unsafe { transfer(dest, src, make_copy) }
}

/// A pointer to the message's body (NULL for a message that is not initialised).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_data(msg: *mut zmq_msg_t) -> *mut c_void {
    // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
    match unsafe { live(msg) } {
        Some(msg) => msg.data_ptr().cast(),
        None => fail(libc::EFAULT, std::ptr::null_mut()),
    }
}

/// The message's size in bytes (0 for a message that is not initialised).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_size(msg: *const zmq_msg_t) -> usize {
    // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
    match unsafe { live(msg.cast_mut()) } {
        Some(msg) => msg.data().len(),
        None => fail(libc::EFAULT, 0),
    }
}

/// 1 when more frames of the same message follow this one (it was received with more).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_more(msg: *const zmq_msg_t) -> c_int {
    // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
    match unsafe { live(msg.cast_mut()) } {
        Some(msg) => msg.more().into(),
        None => fail(libc::EFAULT, -1),
    }
}

/// A message property: `ZMQ_MORE`, `ZMQ_SRCFD` (the file descriptor of the message's tcp or
/// ipc connection, -1 for inproc) or `ZMQ_SHARED` (whether the body may be shared with another
/// message: after a `zmq_msg_copy` of a body of more than [`BOXED`] bytes, or over constant
/// data; libzmq shares bodies of more than 33 bytes, oxmq copies those up to 70).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_get(msg: *const zmq_msg_t, property: c_int) -> c_int {
    // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
    let Some(msg) = (unsafe { live(msg.cast_mut()) }) else {
        return fail(libc::EFAULT, -1);
    };
    match property {
        MORE => msg.more().into(),
        SRCFD => msg
            .metadata
            .as_ref()
            .and_then(|meta| meta.source_fd())
            .unwrap_or(-1),
        SHARED => c_int::from(msg.flags & FLAG_SHARED != 0),
        _ => fail(libc::EINVAL, -1),
    }
}

/// Message properties cannot be set (`EINVAL`), as in libzmq.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_set(
    msg: *mut zmq_msg_t,
    _property: c_int,
    _value: c_int,
) -> c_int {
    // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
    if unsafe { live(msg) }.is_none() {
        return fail(libc::EFAULT, -1);
    }
    fail(libc::EINVAL, -1)
}

/// A metadata property of the connection the message came from: `Socket-Type`, `Identity`
/// (or `Routing-Id`), `Peer-Address` (tcp), and any property the peer announced. The string
/// lives as long as the message. `EINVAL` for a property the message does not carry (every
/// property of a message from an inproc peer, as in libzmq; `User-Id` until ZAP comes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_msg_gets(
    msg: *const zmq_msg_t,
    property: *const c_char,
) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a `zmq_msg_t` of this thread, by the caller's contract.
        let Some(live) = (unsafe { live(msg.cast_mut()) }) else {
            return fail(libc::EFAULT, std::ptr::null());
        };
        if property.is_null() {
            return fail(libc::EFAULT, std::ptr::null());
        }
        // SAFETY: a NUL-terminated string, by the caller's contract.
        let Ok(name) = (unsafe { std::ffi::CStr::from_ptr(property) }).to_str() else {
            return fail(libc::EINVAL, std::ptr::null());
        };
        match live.metadata.as_deref().and_then(|meta| meta.get_c(name)) {
            Some(value) => value.as_ptr(),
            None => fail(libc::EINVAL, std::ptr::null()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What C callers pass to the init functions: memory holding anything.
    fn new_msg() -> zmq_msg_t {
        zmq_msg_t { _bytes: [0xab; 64] }
    }

    fn data_of(msg: &mut zmq_msg_t) -> Vec<u8> {
        // SAFETY: an initialised message of this thread.
        unsafe {
            let size = zmq_msg_size(msg);
            std::slice::from_raw_parts(zmq_msg_data(msg).cast::<u8>(), size).to_vec()
        }
    }

    #[test]
    fn sizes_around_the_inline_limit_round_trip_through_frames() {
        for size in [0, 1, INLINE - 1, INLINE, INLINE + 1, 70, 71, 1000, 100_000] {
            let mut msg = new_msg();
            // SAFETY: a writable message; `zmq_msg_data` has `size` bytes.
            unsafe {
                assert_eq!(zmq_msg_init_size(&mut msg, size), 0);
                let data = zmq_msg_data(&mut msg).cast::<u8>();
                for i in 0..size {
                    *data.add(i) = (i % 251) as u8;
                }
            }
            let expected = data_of(&mut msg);
            assert_eq!(expected.len(), size);
            // SAFETY: initialised above.
            let live = unsafe { live(&mut msg) }.unwrap();
            let frame = live.take_frame();
            assert_eq!(frame.as_bytes(), &expected[..]);
            assert!(
                live.data().is_empty(),
                "taking the frame leaves the message empty"
            );
            *live = Msg::from_frame(frame, true);
            assert_eq!(data_of(&mut msg), expected);
            // SAFETY: initialised.
            unsafe {
                assert_eq!(zmq_msg_more(&msg), 1);
                assert_eq!(zmq_msg_close(&mut msg), 0);
                assert_eq!(zmq_msg_close(&mut msg), -1, "a second close is refused");
            }
        }
    }

    #[test]
    fn receiving_into_a_message_refills_its_block_for_every_size_change() {
        let frame = |size: usize, byte: u8| Frame::copy_from_slice(&vec![byte; size]);
        let mut msg = new_msg();
        // SAFETY: a writable message.
        unsafe { assert_eq!(zmq_msg_init(&mut msg), 0) };
        // SAFETY: initialised above.
        let live = unsafe { live(&mut msg) }.unwrap();
        let mut last_block = None;
        for (round, size) in [60, 70, 49, 10, 64, 1000, 55, 0, BOXED]
            .into_iter()
            .enumerate()
        {
            let byte = round as u8 + 1;
            live.receive(frame(size, byte), round % 2 == 0);
            assert_eq!(live.data(), &vec![byte; size][..], "round {round}");
            assert_eq!(live.more(), round % 2 == 0);
            if size > INLINE && size <= BOXED {
                assert_eq!(live.kind, KIND_BOXED);
                let block = live.data_ptr();
                if let Some(previous) = last_block {
                    assert_eq!(block, previous, "a boxed message refills its own block");
                }
                last_block = Some(block);
            } else {
                last_block = None;
            }
        }
        // SAFETY: initialised.
        unsafe { assert_eq!(zmq_msg_close(&mut msg), 0) };
    }

    #[test]
    fn a_boxed_message_is_copied_not_shared_and_its_block_comes_back_zeroed() {
        let (mut a, mut b) = (new_msg(), new_msg());
        // SAFETY: writable messages; `zmq_msg_data` has 60 bytes.
        unsafe {
            assert_eq!(zmq_msg_init_size(&mut a, 60), 0);
            std::ptr::write_bytes(zmq_msg_data(&mut a).cast::<u8>(), 9, 60);
            assert_eq!(zmq_msg_init(&mut b), 0);
            assert_eq!(zmq_msg_copy(&mut b, &mut a), 0);
            *zmq_msg_data(&mut b).cast::<u8>() = 1;
            assert_eq!(zmq_msg_get(&a, SHARED), 0, "a small body is not shared");
        }
        assert_eq!(data_of(&mut a), vec![9u8; 60]);
        assert_eq!(data_of(&mut b)[..2], [1, 9]);
        // SAFETY: initialised; the closed message's block is the thread's spare, which the
        // next message of that size takes.
        unsafe {
            assert_eq!(zmq_msg_close(&mut a), 0);
            assert_eq!(zmq_msg_close(&mut b), 0);
            assert_eq!(zmq_msg_init_size(&mut a, 70), 0);
        }
        assert_eq!(data_of(&mut a), vec![0u8; 70], "a reused block is zeroed");
        // SAFETY: initialised.
        unsafe { assert_eq!(zmq_msg_close(&mut a), 0) };
    }

    static FREED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count_free(data: *mut c_void, hint: *mut c_void) {
        assert_eq!(hint as usize, 7);
        FREED.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the box given to `zmq_msg_init_data` below.
        drop(unsafe { Box::from_raw(data.cast::<[u8; 100]>()) });
    }

    #[test]
    fn lent_buffers_are_freed_once_after_every_copy_and_move() {
        FREED.store(0, Ordering::SeqCst);
        let buffer = Box::into_raw(Box::new([3u8; 100]));
        let (mut a, mut b, mut c) = (new_msg(), new_msg(), new_msg());
        // SAFETY: valid messages and a buffer handed over with its free function.
        unsafe {
            assert_eq!(
                zmq_msg_init_data(
                    &mut a,
                    buffer.cast(),
                    100,
                    Some(count_free),
                    7 as *mut c_void
                ),
                0
            );
            assert_eq!(zmq_msg_init(&mut b), 0);
            assert_eq!(zmq_msg_init(&mut c), 0);
            assert_eq!(zmq_msg_copy(&mut b, &mut a), 0);
            assert_eq!(zmq_msg_get(&b, SHARED), 1);
            assert_eq!(zmq_msg_move(&mut c, &mut a), 0);
            assert_eq!(zmq_msg_size(&a), 0, "moved out");
            assert_eq!(data_of(&mut c), vec![3u8; 100]);
            assert_eq!(zmq_msg_close(&mut a), 0);
            assert_eq!(zmq_msg_close(&mut b), 0);
            assert_eq!(FREED.load(Ordering::SeqCst), 0, "a copy still holds it");
            assert_eq!(zmq_msg_get(&c, SHARED), 1, "as in libzmq, the flag stays");
            assert_eq!(zmq_msg_close(&mut c), 0);
        }
        assert_eq!(FREED.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn copying_over_a_message_releases_what_it_held() {
        let (mut small, mut big) = (new_msg(), new_msg());
        // SAFETY: valid messages.
        unsafe {
            assert_eq!(zmq_msg_init_buffer(&mut small, b"hi".as_ptr().cast(), 2), 0);
            assert_eq!(zmq_msg_init_size(&mut big, 4096), 0);
            assert_eq!(zmq_msg_copy(&mut big, &mut small), 0);
            assert_eq!(data_of(&mut big), b"hi");
            assert_eq!(
                zmq_msg_copy(&mut small, &mut small),
                0,
                "copying onto itself"
            );
            assert_eq!(zmq_msg_close(&mut small), 0);
            assert_eq!(zmq_msg_close(&mut big), 0);
        }
    }
}
