//! Lock-free, unbounded, single-producer / single-consumer queue used by pipes.
//!
//! The design follows the idea behind libzmq's `ypipe`/`yqueue` pair:
//!
//! * Items live in a singly linked list of fixed-size chunks ([`CHUNK`] slots
//!   each). Item number `i` (counting from 0 since the queue was created) is
//!   always stored in slot `i % CHUNK` of the `i / CHUNK`-th chunk of the list.
//! * The producer writes items into the tail chunk without any synchronisation
//!   and only makes them visible with [`Producer::flush`], a single `Release`
//!   store of the total number of items written so far (`written`). When the
//!   tail chunk is full the producer links a new chunk (`next`) *before* it
//!   publishes any item stored in it.
//! * The consumer keeps a private copy of `written` and only reloads it
//!   (`Acquire`) once it has consumed everything it knew about, so an empty or
//!   well-fed consumer does not touch the producer's cache line on every pop.
//!   It publishes its own progress (`read`, `Release`) for flow control.
//! * When the consumer leaves a chunk it swaps it into a single `spare` slot;
//!   the producer takes the spare chunk before allocating, so a steady stream
//!   reaches a fixed memory footprint and stops allocating after warm-up.
//!
//! Dropping: a dropped [`Producer`] publishes (flushes) every item it pushed,
//! so nothing is lost for a consumer that is still alive. Once both halves are
//! gone, every item that was pushed and not popped is dropped exactly once and
//! every chunk is freed.

use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::ptr::{self, NonNull};

use self::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use self::sync::{Arc, UnsafeCell};

/// Synchronisation primitives: loom's model-checked versions under
/// `cfg(loom)`, `std` otherwise (with a zero-cost `UnsafeCell` wrapper that
/// mirrors loom's closure-based API).
mod sync {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;
    #[cfg(loom)]
    pub(crate) use loom::sync::{Arc, atomic};

    #[cfg(not(loom))]
    pub(crate) use std::sync::{Arc, atomic};

    /// `std::cell::UnsafeCell` with loom's `with_mut` access API.
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a mutable raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Number of item slots per chunk.
#[cfg(not(loom))]
const CHUNK: usize = 256;
/// Number of item slots per chunk (tiny under loom so that chunk transitions
/// and recycling are explored).
#[cfg(loom)]
const CHUNK: usize = 2;

/// Aligns (and pads) its contents to a cache line so that data written by the
/// producer and data written by the consumer never share a line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct CachePadded<T>(T);

/// A fixed-size block of item slots plus the link to the following block.
struct Chunk<T> {
    /// Item storage; slot `k` is initialised iff the item it holds has been
    /// pushed and not yet popped (or dropped).
    slots: [UnsafeCell<MaybeUninit<T>>; CHUNK],
    /// Next chunk in the list; null while this chunk is the producer's tail.
    next: AtomicPtr<Chunk<T>>,
}

impl<T> Chunk<T> {
    /// Allocates an empty, unlinked chunk on the heap.
    fn alloc() -> NonNull<Chunk<T>> {
        let chunk = Box::new(Chunk {
            slots: std::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())),
            next: AtomicPtr::new(ptr::null_mut()),
        });
        NonNull::from(Box::leak(chunk))
    }

    /// Frees a chunk without dropping any slot content.
    ///
    /// # Safety
    ///
    /// `chunk` must come from [`Chunk::alloc`], must not be freed twice and
    /// nobody may access it afterwards. Items still stored in it are leaked,
    /// so callers drop them first.
    unsafe fn free(chunk: NonNull<Chunk<T>>) {
        // SAFETY: the caller guarantees `chunk` is a live allocation made by
        // `Box` in `Chunk::alloc` that no one else references any more.
        drop(unsafe { Box::from_raw(chunk.as_ptr()) });
    }
}

/// State shared by the two halves.
struct Inner<T> {
    /// Number of items published by the producer (written by the producer
    /// only, `Release` on flush).
    written: CachePadded<AtomicU64>,
    /// Number of items popped by the consumer (written by the consumer only,
    /// `Release` on each pop).
    read: CachePadded<AtomicU64>,
    /// One recycled chunk (or null): the consumer swaps emptied chunks in, the
    /// producer swaps it out before allocating.
    spare: CachePadded<AtomicPtr<Chunk<T>>>,
    /// The consumer's current chunk, recorded when the consumer is dropped so
    /// that `Inner::drop` can find the remaining items.
    final_head: AtomicPtr<Chunk<T>>,
    /// The consumer's slot index within `final_head` (`0..=CHUNK`).
    final_pos: AtomicUsize,
    /// Number of chunks allocated by this queue (tests only).
    #[cfg(test)]
    allocs: AtomicUsize,
    /// `Inner` logically owns the `T`s stored in the chunks.
    _owns: PhantomData<T>,
}

impl<T> Inner<T> {
    /// Allocates a fresh chunk for this queue.
    fn alloc_chunk(&self) -> NonNull<Chunk<T>> {
        #[cfg(test)]
        self.allocs.fetch_add(1, Ordering::Relaxed);
        Chunk::alloc()
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // `&mut self` means both halves are gone and the `Arc` drop ordered
        // all their writes before this point, so Relaxed loads suffice.
        let written = self.written.0.load(Ordering::Relaxed);
        let read = self.read.0.load(Ordering::Relaxed);
        let mut remaining = written - read;
        let mut chunk = NonNull::new(self.final_head.load(Ordering::Relaxed));
        let mut pos = self.final_pos.load(Ordering::Relaxed);
        while let Some(current) = chunk {
            // SAFETY: chunks from the consumer's last chunk to the tail are
            // still allocated (only chunks the consumer left were recycled or
            // freed) and nobody else can access them any more.
            let c = unsafe { current.as_ref() };
            while remaining > 0 && pos < CHUNK {
                // SAFETY: items `read..written` are initialised and occupy the
                // slots from (`final_head`, `final_pos`) onwards in list order;
                // each is dropped exactly once here and never touched again.
                c.slots[pos].with_mut(|p| unsafe { (*p).assume_init_drop() });
                pos += 1;
                remaining -= 1;
            }
            chunk = NonNull::new(c.next.load(Ordering::Relaxed));
            pos = 0;
            // SAFETY: `current` is unreachable once we follow `next`, its
            // items have just been dropped, and each chunk is visited once.
            unsafe { Chunk::free(current) };
        }
        debug_assert_eq!(remaining, 0);
        if let Some(spare) = NonNull::new(self.spare.0.load(Ordering::Relaxed)) {
            // SAFETY: the spare chunk is owned by the spare slot alone, holds
            // no items, and is not part of the list freed above.
            unsafe { Chunk::free(spare) };
        }
    }
}

/// Creates a new unbounded SPSC queue, returning its two halves.
pub(crate) fn channel<T: Send>() -> (Producer<T>, Consumer<T>) {
    let inner = Arc::new(Inner {
        written: CachePadded(AtomicU64::new(0)),
        read: CachePadded(AtomicU64::new(0)),
        spare: CachePadded(AtomicPtr::new(ptr::null_mut())),
        final_head: AtomicPtr::new(ptr::null_mut()),
        final_pos: AtomicUsize::new(0),
        #[cfg(test)]
        allocs: AtomicUsize::new(0),
        _owns: PhantomData,
    });
    let first = inner.alloc_chunk();
    let producer = Producer {
        inner: inner.clone(),
        tail: first,
        tail_pos: 0,
        pushed: 0,
        flushed: 0,
    };
    let consumer = Consumer {
        inner,
        head: first,
        head_pos: 0,
        read: 0,
        available: 0,
    };
    (producer, consumer)
}

/// Writing half of the queue.
pub(crate) struct Producer<T> {
    /// Shared state.
    inner: Arc<Inner<T>>,
    /// Chunk the next item goes into (the last chunk of the list).
    tail: NonNull<Chunk<T>>,
    /// Next free slot in `tail` (`0..=CHUNK`).
    tail_pos: usize,
    /// Total number of items pushed.
    pushed: u64,
    /// Total number of items published (our copy of `inner.written`).
    flushed: u64,
}

// SAFETY: `Producer` is the unique handle allowed to write slots and link
// chunks; sending it sends the `T`s it will hand over (hence `T: Send`). The
// raw chunk pointer is only dereferenced under the protocol described on each
// access, which does not depend on the thread the handle lives on.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Returns the tail chunk.
    #[inline]
    fn tail_chunk(&self) -> &Chunk<T> {
        // SAFETY: the consumer frees or recycles a chunk only after following
        // its `next` link, which we set only when moving `tail` past it; so
        // the tail chunk stays allocated while it is our tail.
        unsafe { self.tail.as_ref() }
    }

    /// Writes an item; it is not visible to the consumer until [`flush`](Self::flush).
    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        self.push_then(item, |_| {});
    }

    /// Writes `item`, then lets `fill` finish it in place, before it is published: an item
    /// completed where it is stored is not built on the stack and copied, a copy that stalls
    /// on store forwarding when the item was just written field by field.
    #[inline(always)]
    pub(crate) fn push_then(&mut self, item: T, fill: impl FnOnce(&mut T)) {
        if self.tail_pos == CHUNK {
            self.grow();
        }
        let slot = &self.tail_chunk().slots[self.tail_pos];
        // SAFETY: slot `tail_pos` of the tail chunk holds no item: its index
        // (`pushed`) is not published, so the consumer does not read it, and
        // if the chunk is recycled the consumer's move-out of the old item
        // happened-before (spare swap Release -> Acquire). Writing a
        // `MaybeUninit` overwrites nothing that needs dropping. The item is
        // ours alone until `flush` publishes it, so `fill` may change it.
        slot.with_mut(|p| unsafe {
            let item = (*p).write(item);
            fill(item);
        });
        self.tail_pos += 1;
        self.pushed += 1;
    }

    /// Links a new (recycled or freshly allocated) chunk after the full tail.
    #[cold]
    fn grow(&mut self) {
        let spare = self.inner.spare.0.swap(ptr::null_mut(), Ordering::Acquire);
        let chunk = match NonNull::new(spare) {
            Some(chunk) => {
                // SAFETY: the consumer put this chunk in `spare` after moving
                // out all its items (Acquire pairs with its Release swap) and
                // our swap removed it, so we own it exclusively.
                let c = unsafe { chunk.as_ref() };
                c.next.store(ptr::null_mut(), Ordering::Relaxed);
                chunk
            }
            None => self.inner.alloc_chunk(),
        };
        // Release is not strictly required (the `written` Release store that
        // publishes items of the new chunk orders this), but costs nothing.
        self.tail_chunk()
            .next
            .store(chunk.as_ptr(), Ordering::Release);
        self.tail = chunk;
        self.tail_pos = 0;
    }

    /// Publishes every pushed item (one Release store). Returns the total
    /// number of items published so far.
    #[inline]
    pub(crate) fn flush(&mut self) -> u64 {
        if self.pushed != self.flushed {
            self.inner.written.0.store(self.pushed, Ordering::Release);
            self.flushed = self.pushed;
        }
        self.flushed
    }

    /// Items pushed since the last flush.
    #[inline]
    pub(crate) fn unflushed(&self) -> usize {
        (self.pushed - self.flushed) as usize
    }
}

impl<T> Drop for Producer<T> {
    /// Publishes any unflushed items so that the consumer still receives them;
    /// items nobody pops are dropped when both halves are gone.
    fn drop(&mut self) {
        self.flush();
    }
}

/// Reading half of the queue.
pub(crate) struct Consumer<T> {
    /// Shared state.
    inner: Arc<Inner<T>>,
    /// Chunk holding the next item to pop (the first chunk of the list).
    head: NonNull<Chunk<T>>,
    /// Slot of the next item within `head` (`0..=CHUNK`; `CHUNK` means the
    /// chunk is exhausted and the next item is in `head.next`).
    head_pos: usize,
    /// Total number of items popped.
    read: u64,
    /// Cached copy of `inner.written`.
    available: u64,
}

// SAFETY: `Consumer` is the unique handle allowed to move items out of slots
// and to free or recycle chunks; sending it sends the `T`s it receives (hence
// `T: Send`). Its raw chunk pointer is used only under the queue protocol,
// which does not depend on the thread the handle lives on.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// Returns the head chunk.
    #[inline]
    fn head_chunk(&self) -> &Chunk<T> {
        // SAFETY: only the consumer frees or recycles chunks, and only after
        // moving `head` past them; the producer never frees chunks.
        unsafe { self.head.as_ref() }
    }

    /// Whether a published item is available (may refresh the cached counter).
    #[inline]
    pub(crate) fn has_item(&mut self) -> bool {
        self.ready() != 0
    }

    /// How many published items are ready to pop: those seen at the last look at the shared
    /// counter, or, when they are used up, those a new look finds.
    #[inline]
    pub(crate) fn ready(&mut self) -> usize {
        if self.read == self.available {
            self.available = self.inner.written.0.load(Ordering::Acquire);
        }
        (self.available - self.read) as usize
    }

    /// Next published item, if any. Cheap when empty: only re-reads the
    /// shared counter when its cached copy is exhausted.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<T> {
        if !self.has_item() {
            return None;
        }
        Some(self.take())
    }

    /// Moves the next published item into `out` (dropping what `out` held), if there is one.
    /// Returns whether it did. The item goes from its slot to `out` in one copy, where a
    /// returned `Option` would be copied again on its way out.
    #[inline(always)]
    pub(crate) fn pop_into(&mut self, out: &mut T) -> bool {
        if !self.has_item() {
            return false;
        }
        *out = self.take();
        true
    }

    /// Runs `f` on the next of the items seen published (those seen at the last look at the
    /// shared counter; `None` once they are used up, without looking again),
    /// where it is stored, then drops it there: for a consumer that only reads the item, this
    /// saves moving it out.
    #[inline(always)]
    pub(crate) fn pop_seen_with<R>(&mut self, f: impl FnOnce(&T) -> R) -> Option<R> {
        if self.read == self.available {
            return None;
        }
        // SAFETY: `consume` hands over the slot of item `read`, published and
        // initialised, and counts it read once this returns, so this is its
        // only use; it is dropped here, once, after `f` is done with it (if `f`
        // panics, the item stays queued, untouched).
        Some(self.consume(|p| unsafe {
            let result = f((*p).assume_init_ref());
            (*p).assume_init_drop();
            result
        }))
    }

    /// Runs `f` on the next published item, if any, without taking it.
    #[inline]
    pub(crate) fn peek_with<R>(&mut self, f: impl FnOnce(&T) -> R) -> Option<R> {
        if !self.has_item() {
            return None;
        }
        if self.head_pos == CHUNK {
            // Every item of the current chunk was read: moving on is what the next pop does.
            self.advance();
        }
        // SAFETY: the item is published (`has_item` loaded `written` with Acquire after the
        // producer's Release store that followed the slot write), so it is initialised; the
        // producer does not touch the slot until the item is counted read, which `peek_with`
        // does not do.
        Some(self.head_chunk().slots[self.head_pos].with(|p| unsafe { f((*p).assume_init_ref()) }))
    }

    /// Moves the next item out; the caller checked that it is published.
    #[inline(always)]
    fn take(&mut self) -> T {
        // SAFETY: `consume` hands over the slot of item `read`, published and
        // initialised, and counts it read once this returns: this is its only
        // move-out.
        self.consume(|p| unsafe { p.read().assume_init() })
    }

    /// Runs `f` on the slot of the next item, then counts that item read. The
    /// caller checked that it is published (`read < available`, loaded with
    /// Acquire after the producer's Release store that followed the slot
    /// write), so the slot is initialised, and the producer won't touch it
    /// again unless the chunk is recycled, which happens only after the item
    /// is counted read. `f` must move the item out or drop it.
    #[inline(always)]
    fn consume<R>(&mut self, f: impl FnOnce(*mut MaybeUninit<T>) -> R) -> R {
        if self.head_pos == CHUNK {
            self.advance();
        }
        let result = self.head_chunk().slots[self.head_pos].with_mut(f);
        self.head_pos += 1;
        self.read += 1;
        self.inner.read.0.store(self.read, Ordering::Release);
        result
    }

    /// Moves to the next chunk and recycles the exhausted one.
    #[cold]
    fn advance(&mut self) {
        // The next item is published, so the producer linked its chunk before
        // the `written` Release store we acquired.
        let next = NonNull::new(self.head_chunk().next.load(Ordering::Acquire))
            .expect("published item must have its chunk linked");
        let old = mem::replace(&mut self.head, next);
        self.head_pos = 0;
        // Release: our move-outs of `old`'s items happen-before the producer
        // reuses it (pairs with the Acquire swap in `Producer::grow`).
        let prev = self.inner.spare.0.swap(old.as_ptr(), Ordering::Release);
        if let Some(prev) = NonNull::new(prev) {
            // SAFETY: only the consumer stores non-null into `spare`, so
            // `prev` is a chunk we emptied earlier; our swap took it back out
            // and nobody else references it.
            unsafe { Chunk::free(prev) };
        }
    }

    /// Total items popped so far.
    #[inline]
    pub(crate) fn read_count(&self) -> u64 {
        self.read
    }
}

impl<T> Drop for Consumer<T> {
    /// Records the consumer's position so that the last half to go can drop
    /// the remaining items (the `Arc` drop orders these stores).
    fn drop(&mut self) {
        self.inner
            .final_head
            .store(self.head.as_ptr(), Ordering::Relaxed);
        self.inner.final_pos.store(self.head_pos, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::thread;

    /// Item that counts its drops in a shared counter.
    #[derive(Debug)]
    struct Counted(u64, StdArc<StdAtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counter() -> StdArc<StdAtomicUsize> {
        StdArc::new(StdAtomicUsize::new(0))
    }

    #[test]
    fn halves_are_send() {
        fn assert_send<S: Send>() {}
        assert_send::<Producer<Box<u8>>>();
        assert_send::<Consumer<Box<u8>>>();
    }

    #[test]
    fn fifo_across_many_chunks() {
        let (mut p, mut c) = channel::<u64>();
        for i in 0..10_000 {
            p.push(i);
        }
        assert_eq!(p.flush(), 10_000);
        for i in 0..10_000 {
            assert_eq!(c.pop(), Some(i));
        }
        assert_eq!(c.pop(), None);
        assert_eq!(c.read_count(), 10_000);
    }

    #[test]
    fn interleaved_fifo() {
        let (mut p, mut c) = channel::<u64>();
        let mut next_in = 0;
        let mut next_out = 0;
        for round in 0..200u64 {
            for _ in 0..(round * 7) % 300 {
                p.push(next_in);
                next_in += 1;
            }
            p.flush();
            for _ in 0..(round * 5) % 280 {
                match c.pop() {
                    Some(v) => {
                        assert_eq!(v, next_out);
                        next_out += 1;
                    }
                    None => break,
                }
            }
        }
        while let Some(v) = c.pop() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
    }

    #[test]
    fn ready_counts_what_was_seen_and_looks_again_only_when_used_up() {
        let (mut p, mut c) = channel::<u32>();
        assert_eq!(c.ready(), 0);
        for i in 0..3 {
            p.push(i);
        }
        assert_eq!(c.ready(), 0, "nothing is seen before the flush");
        p.flush();
        assert_eq!(c.ready(), 3);
        assert_eq!(c.pop(), Some(0));
        p.push(3);
        p.push(4);
        p.flush();
        assert_eq!(c.ready(), 2, "no new look while seen items remain");
        assert_eq!(c.pop_seen_with(|i| *i), Some(1));
        assert_eq!(c.pop_seen_with(|i| *i), Some(2));
        assert_eq!(c.pop_seen_with(|i| *i), None);
        assert_eq!(c.ready(), 2, "a new look once they are used up");
        assert_eq!(c.pop_seen_with(|i| *i), Some(3));
        assert_eq!(c.pop_seen_with(|i| *i), Some(4));
        assert_eq!(c.ready(), 0);
    }

    #[test]
    fn flush_visibility() {
        let (mut p, mut c) = channel::<u32>();
        assert!(!c.has_item());
        p.push(1);
        p.push(2);
        assert_eq!(p.unflushed(), 2);
        assert!(!c.has_item());
        assert_eq!(c.pop(), None);
        assert_eq!(p.flush(), 2);
        assert_eq!(p.unflushed(), 0);
        assert_eq!(p.flush(), 2);
        p.push(3);
        assert!(c.has_item());
        assert_eq!(c.pop(), Some(1));
        assert_eq!(c.pop(), Some(2));
        assert_eq!(c.pop(), None, "item 3 is not flushed");
        assert_eq!(p.flush(), 3);
        assert_eq!(c.pop(), Some(3));
        assert_eq!(c.read_count(), 3);
        assert_eq!(c.inner.read.0.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn unflushed_items_across_chunk_boundary_are_invisible() {
        let (mut p, mut c) = channel::<usize>();
        for i in 0..CHUNK - 1 {
            p.push(i);
        }
        p.flush();
        for i in CHUNK - 1..CHUNK + 10 {
            p.push(i);
        }
        for i in 0..CHUNK - 1 {
            assert_eq!(c.pop(), Some(i));
        }
        assert_eq!(c.pop(), None);
        p.flush();
        for i in CHUNK - 1..CHUNK + 10 {
            assert_eq!(c.pop(), Some(i));
        }
        assert_eq!(c.pop(), None);
    }

    #[test]
    fn in_place_push_and_pop_keep_fifo_across_chunks_and_drop_each_item_once() {
        let drops = counter();
        let (mut p, mut c) = channel();
        let total = 3 * CHUNK as u64 + 5;
        for i in 0..total {
            // Pushed as a placeholder, completed in its slot.
            p.push_then(Counted(u64::MAX, drops.clone()), |item| item.0 = i);
        }
        assert_eq!(drops.load(Ordering::Relaxed), 0, "push_then drops nothing");
        p.flush();
        let mut next = 0;
        let mut out = Counted(u64::MAX, drops.clone());
        while next < total {
            // Alternate the three ways out: read where stored, moved into a place, popped.
            match next % 3 {
                0 => {
                    // Only what the last look saw: nothing, until `has_item` looks again.
                    let seen = c.pop_seen_with(|item| item.0).or_else(|| {
                        assert!(c.has_item());
                        c.pop_seen_with(|item| item.0)
                    });
                    assert_eq!(seen, Some(next));
                }
                1 => {
                    assert!(c.pop_into(&mut out));
                    assert_eq!(out.0, next);
                }
                _ => assert_eq!(c.pop().map(|item| item.0), Some(next)),
            }
            next += 1;
        }
        assert!(c.pop_seen_with(|item| item.0).is_none());
        assert!(!c.pop_into(&mut out));
        drop(out);
        // Every item dropped once, plus the placeholder `out` held at first.
        assert_eq!(drops.load(Ordering::Relaxed), total as usize + 1);
        drop((p, c));
        assert_eq!(drops.load(Ordering::Relaxed), total as usize + 1);
    }

    #[test]
    fn drops_items_left_in_queue() {
        let drops = counter();
        let (mut p, mut c) = channel();
        for i in 0..10 {
            p.push(Counted(i, drops.clone()));
        }
        p.flush();
        drop(c.pop());
        drop(c.pop());
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        drop(p);
        drop(c);
        assert_eq!(drops.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn drops_items_across_chunk_boundaries() {
        for popped in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7] {
            let drops = counter();
            let total = 3 * CHUNK + 7;
            let (mut p, mut c) = channel();
            for i in 0..total {
                p.push(Counted(i as u64, drops.clone()));
            }
            p.flush();
            for i in 0..popped {
                assert_eq!(c.pop().map(|x| x.0), Some(i as u64));
            }
            assert_eq!(drops.load(Ordering::Relaxed), popped);
            // Drop consumer first this time.
            drop(c);
            assert_eq!(drops.load(Ordering::Relaxed), popped);
            drop(p);
            assert_eq!(drops.load(Ordering::Relaxed), total, "popped {popped}");
        }
    }

    #[test]
    fn producer_dropped_with_unflushed_items_publishes_them() {
        let drops = counter();
        let (mut p, mut c) = channel();
        for i in 0..CHUNK as u64 + 3 {
            p.push(Counted(i, drops.clone()));
        }
        p.flush();
        for i in 0..5 {
            p.push(Counted(1000 + i, drops.clone()));
        }
        drop(p);
        let mut n = 0;
        while let Some(x) = c.pop() {
            n += 1;
            drop(x);
        }
        assert_eq!(n, CHUNK + 8);
        assert_eq!(drops.load(Ordering::Relaxed), CHUNK + 8);
        drop(c);
        assert_eq!(drops.load(Ordering::Relaxed), CHUNK + 8);
    }

    #[test]
    fn consumer_dropped_first_then_more_pushes() {
        let drops = counter();
        let (mut p, mut c) = channel();
        for i in 0..CHUNK as u64 {
            p.push(Counted(i, drops.clone()));
        }
        p.flush();
        for _ in 0..CHUNK {
            drop(c.pop());
        }
        // Consumer sits at the very end of a full chunk.
        drop(c);
        for i in 0..2 * CHUNK as u64 + 1 {
            p.push(Counted(i, drops.clone()));
        }
        p.flush();
        p.push(Counted(99, drops.clone()));
        drop(p);
        assert_eq!(drops.load(Ordering::Relaxed), 3 * CHUNK + 2);
    }

    #[test]
    fn unused_channel_drops_cleanly() {
        let (p, c) = channel::<String>();
        drop(c);
        drop(p);
        let (mut p, c) = channel::<String>();
        p.push("unflushed".to_owned());
        drop(p);
        drop(c);
    }

    #[test]
    fn no_allocation_after_warm_up() {
        let (mut p, mut c) = channel::<[u64; 12]>();
        let mut next = 0u64;
        let mut step = |p: &mut Producer<[u64; 12]>, c: &mut Consumer<[u64; 12]>, batch: u64| {
            for k in 0..batch {
                p.push([next + k; 12]);
            }
            p.flush();
            for _ in 0..batch {
                let v = c.pop().expect("flushed item");
                assert_eq!(v[0], next);
                next += 1;
            }
        };
        for _ in 0..4 * CHUNK {
            step(&mut p, &mut c, 1);
        }
        let warm = c.inner.allocs.load(Ordering::Relaxed);
        assert!(warm <= 2, "warm-up allocated {warm} chunks");
        for i in 0..200_000 {
            step(&mut p, &mut c, 1 + (i % 97));
        }
        assert_eq!(c.inner.allocs.load(Ordering::Relaxed), warm);
    }

    #[test]
    fn no_allocation_cross_thread_with_bounded_lag() {
        const N: u64 = 500_000;
        let (mut p, mut c) = channel::<u64>();
        let inner = p.inner.clone();
        let producer = thread::spawn(move || {
            for i in 0..N {
                // Keep the consumer less than half a chunk behind.
                while i - p.inner.read.0.load(Ordering::Acquire) >= CHUNK as u64 / 2 {
                    std::hint::spin_loop();
                    thread::yield_now();
                }
                p.push(i);
                p.flush();
            }
        });
        let mut expected = 0;
        while expected < N {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                None => std::hint::spin_loop(),
            }
        }
        producer.join().unwrap();
        // The initial chunk plus at most one more before recycling kicks in.
        assert!(inner.allocs.load(Ordering::Relaxed) <= 2);
    }

    #[test]
    fn two_thread_stress_one_million() {
        const N: u64 = 1_000_000;
        let (mut p, mut c) = channel::<(u64, Box<u64>)>();
        let producer = thread::spawn(move || {
            for i in 0..N {
                p.push((i, Box::new(i)));
                if i % 13 == 0 || i % 256 == 255 {
                    p.flush();
                }
            }
            // Remaining items are published by drop.
        });
        let mut expected = 0;
        while expected < N {
            match c.pop() {
                Some((i, b)) => {
                    assert_eq!(i, expected);
                    assert_eq!(*b, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(c.pop(), None);
        assert_eq!(c.read_count(), N);
    }

    #[test]
    fn two_thread_drop_race() {
        for round in 0..200u64 {
            let drops = counter();
            let (mut p, mut c) = channel();
            let d = drops.clone();
            let total = 3 * CHUNK as u64 + round;
            let producer = thread::spawn(move || {
                for i in 0..total {
                    p.push(Counted(i, d.clone()));
                    if i % 5 == 0 {
                        p.flush();
                    }
                }
            });
            let mut expected = 0;
            while expected < round * 3 {
                if let Some(x) = c.pop() {
                    assert_eq!(x.0, expected);
                    expected += 1;
                }
            }
            drop(c);
            producer.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed) as u64, total);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    /// Runs `f` under loom; `bound` limits preemptions (`None`: exhaustive).
    fn model(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = bound;
        builder.check(f);
    }

    /// Item whose drops are tallied per id.
    struct Tracked(usize, Arc<Vec<AtomicUsize>>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.1[self.0].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Producer pushes and flushes `n` items one by one; consumer checks order.
    fn fifo(n: usize) {
        let (mut p, mut c) = channel::<usize>();
        let t = thread::spawn(move || {
            for i in 0..n {
                p.push(i);
                assert_eq!(p.flush(), i as u64 + 1);
            }
        });
        let mut next = 0;
        while next < n {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        t.join().unwrap();
        assert_eq!(c.pop(), None);
        assert_eq!(c.read_count(), n as u64);
    }

    #[test]
    fn loom_fifo_with_chunk_recycling() {
        // 5 items span 3 chunks of 2: the third chunk may reuse the first, or
        // be freshly allocated, in which case the first gets freed later.
        model(None, || fifo(5));
    }

    #[test]
    fn loom_fifo_long_bounded() {
        // 4 chunks, several recycling rounds; bounded to keep the run short.
        model(Some(3), || fifo(7));
    }

    #[test]
    fn loom_batched_flush_and_producer_drop() {
        model(None, || {
            let (mut p, mut c) = channel::<usize>();
            let t = thread::spawn(move || {
                p.push(0);
                p.push(1);
                p.push(2);
                assert_eq!(p.flush(), 3);
                p.push(3);
                // Dropping publishes item 3.
            });
            let mut next = 0;
            while next < 4 {
                if c.has_item() {
                    assert_eq!(c.pop(), Some(next));
                    next += 1;
                } else {
                    thread::yield_now();
                }
            }
            t.join().unwrap();
            assert_eq!(c.pop(), None);
        });
    }

    #[test]
    fn loom_in_place_push_and_the_three_ways_out() {
        // Items completed in their slot (push_then), taken out by reading them where they are
        // (pop_seen_with), by moving them into a place (pop_into) and by pop, across chunk
        // recycling: every item arrives once, in order.
        model(Some(3), || {
            let (mut p, mut c) = channel::<usize>();
            let t = thread::spawn(move || {
                for i in 0..5 {
                    p.push_then(usize::MAX, |item| *item = i);
                    p.flush();
                }
            });
            let mut next = 0;
            let mut out = usize::MAX;
            while next < 5 {
                if !c.has_item() {
                    thread::yield_now();
                    continue;
                }
                let got = match next % 3 {
                    0 => c.pop_seen_with(|item| *item),
                    1 => c.pop_into(&mut out).then_some(out),
                    _ => c.pop(),
                };
                assert_eq!(got, Some(next));
                next += 1;
            }
            t.join().unwrap();
            assert_eq!(c.pop(), None);
        });
    }

    #[test]
    fn loom_drops_exactly_once() {
        const N: usize = 5;
        model(None, || {
            let counts: Arc<Vec<AtomicUsize>> =
                Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
            let (mut p, mut c) = channel::<Tracked>();
            let pc = counts.clone();
            let t = thread::spawn(move || {
                for i in 0..N {
                    p.push(Tracked(i, pc.clone()));
                    if i % 2 == 1 {
                        p.flush();
                    }
                }
                // Item 4 is unflushed when the producer is dropped.
            });
            // Pop what is there on two attempts, then drop mid-way.
            let mut next = 0;
            for _ in 0..2 {
                while let Some(x) = c.pop() {
                    assert_eq!(x.0, next);
                    next += 1;
                }
                thread::yield_now();
            }
            drop(c);
            t.join().unwrap();
            for (i, n) in counts.iter().enumerate() {
                assert_eq!(n.load(Ordering::Relaxed), 1, "item {i}");
            }
        });
    }
}
