//! The bytes a node of the subscription radix trees ([`Trie`](super::trie::Trie) and
//! [`MultiTrie`](super::mtrie::MultiTrie)) keeps: the rest of its label and its children's first
//! bytes, in one place, inline in the node when they are short.
//!
//! Both trees store a node's children by value in one array, sorted by the first byte
//! of their labels, and keep these first bytes (the *keys*) in the parent, not in the children:
//! the search for the next byte of a topic reads the keys from the node it is at, and a child's
//! own copy of its label starts after that byte (its *tail*; empty for a one-byte label), so the
//! byte the search matched is never compared again. The tail and the keys of a node are one byte
//! string, `tail ++ keys`, kept inside the node when it fits in `N` bytes and in one exact-size
//! heap allocation otherwise. A lookup therefore reads, per level of the tree, the node's own
//! bytes (its count or peers, its tail and keys, the pointer to its children) and then the child
//! it chose, instead of a child vector, a boxed node and a boxed label.
//!
//! Every representation is canonical: inline exactly when `tail.len() + keys.len() <= N`, and a
//! heap buffer holds exactly `tail ++ keys`. Changing the keys or the tail rebuilds the bytes,
//! which copies the tail: that costs no more than the walk to the node did, since the prefix
//! whose addition or removal changes a node's keys spells the node's label.

use std::mem;

/// A node's label tail followed by its keys (see the [module documentation](self)).
pub(crate) enum Bytes<const N: usize> {
    /// `buf[..tail]` is the tail, `buf[tail..tail + keys]` the keys, the rest zeroes.
    Inline { tail: u8, keys: u8, buf: [u8; N] },
    /// `buf` is the tail and then the `keys` last bytes: longer than `N`.
    Heap { keys: u16, buf: Box<[u8]> },
}

impl<const N: usize> Bytes<N> {
    /// The concatenation of `tail` (in parts) as the tail, and `keys`.
    pub(crate) fn new(tail: &[&[u8]], keys: &[u8]) -> Self {
        debug_assert!(N <= u8::MAX as usize && keys.len() <= 256);
        let tail_len: usize = tail.iter().map(|part| part.len()).sum();
        let len = tail_len + keys.len();
        if len <= N {
            let mut buf = [0; N];
            let mut at = 0;
            for part in tail.iter().chain([&keys]) {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            Self::Inline {
                tail: tail_len as u8,
                keys: keys.len() as u8,
                buf,
            }
        } else {
            let mut buf = Vec::with_capacity(len);
            for part in tail.iter().chain([&keys]) {
                buf.extend_from_slice(part);
            }
            Self::Heap {
                keys: keys.len() as u16,
                buf: buf.into_boxed_slice(),
            }
        }
    }

    /// The tail of the label: the label without its first byte.
    #[inline]
    pub(crate) fn tail(&self) -> &[u8] {
        match self {
            Self::Inline { tail, buf, .. } => &buf[..usize::from(*tail)],
            Self::Heap { keys, buf } => &buf[..buf.len() - usize::from(*keys)],
        }
    }

    /// The keys: the children's first bytes, in ascending order.
    #[inline]
    pub(crate) fn keys(&self) -> &[u8] {
        match self {
            Self::Inline { tail, keys, buf } => {
                &buf[usize::from(*tail)..usize::from(*tail) + usize::from(*keys)]
            }
            Self::Heap { keys, buf } => &buf[buf.len() - usize::from(*keys)..],
        }
    }

    /// The index of the child whose label starts with `byte`, or where to insert it.
    pub(crate) fn find(&self, byte: u8) -> Result<usize, usize> {
        self.keys().binary_search(&byte)
    }

    /// The index of the child whose label starts with `byte`, if any: a linear scan of up to 16
    /// keys (in the cache line already read), a binary search of more.
    #[inline]
    pub(crate) fn position(&self, byte: u8) -> Option<usize> {
        let keys = self.keys();
        if keys.len() <= 16 {
            keys.iter().position(|&key| key == byte)
        } else {
            keys.binary_search(&byte).ok()
        }
    }

    /// Inserts `byte` as the key at `index`.
    pub(crate) fn insert_key(&mut self, index: usize, byte: u8) {
        let (tail, keys) = (self.tail(), self.keys());
        let mut new = [0; 256];
        new[..index].copy_from_slice(&keys[..index]);
        new[index] = byte;
        new[index + 1..=keys.len()].copy_from_slice(&keys[index..]);
        *self = Self::new(&[tail], &new[..=keys.len()]);
    }

    /// Removes the key at `index`.
    pub(crate) fn remove_key(&mut self, index: usize) {
        let (tail, keys) = (self.tail(), self.keys());
        let mut new = [0; 256];
        new[..index].copy_from_slice(&keys[..index]);
        new[index..keys.len() - 1].copy_from_slice(&keys[index + 1..]);
        *self = Self::new(&[tail], &new[..keys.len() - 1]);
    }

    /// Replaces the keys, keeping the tail.
    pub(crate) fn set_keys(&mut self, keys: &[u8]) {
        *self = Self::new(&[self.tail()], keys);
    }

    /// The bytes allocated on the heap.
    #[cfg(test)]
    pub(crate) fn heap_size(&self) -> usize {
        match self {
            Self::Inline { .. } => 0,
            Self::Heap { buf, .. } => buf.len(),
        }
    }

    /// Panics unless the representation is the canonical one.
    #[cfg(test)]
    pub(crate) fn assert_canonical(&self) {
        match self {
            Self::Inline { tail, keys, buf } => {
                let used = usize::from(*tail) + usize::from(*keys);
                assert!(used <= N, "inline overflow");
                assert!(buf[used..].iter().all(|&b| b == 0), "inline garbage");
            }
            Self::Heap { keys, buf } => {
                assert!(buf.len() > N, "short bytes on the heap");
                assert!(usize::from(*keys) <= buf.len(), "keys");
            }
        }
        assert!(
            self.keys().windows(2).all(|pair| pair[0] < pair[1]),
            "keys out of order"
        );
    }
}

/// Inserts `value` at `index` of an exact-size array, which grows by exactly one.
pub(crate) fn insert_at<T>(slice: &mut Box<[T]>, index: usize, value: T) {
    let mut vec = mem::take(slice).into_vec();
    vec.reserve_exact(1);
    vec.insert(index, value);
    *slice = vec.into_boxed_slice();
}

/// Removes the element at `index` of an exact-size array, which shrinks by exactly one.
pub(crate) fn remove_at<T>(slice: &mut Box<[T]>, index: usize) -> T {
    let mut vec = mem::take(slice).into_vec();
    let value = vec.remove(index);
    *slice = vec.into_boxed_slice();
    value
}

/// Inserts `value` at `index` of a child array. A full array doubles (from one entry, and not
/// beyond 256, the most children a node has): filling a node costs a few reallocations, not one
/// per child, and the capacity stays within twice the length.
pub(crate) fn grow_insert<T>(vec: &mut Vec<T>, index: usize, value: T) {
    if vec.len() == vec.capacity() {
        let room = 256usize.saturating_sub(vec.len()).max(1);
        vec.reserve_exact(vec.len().clamp(1, room));
    }
    vec.insert(index, value);
}

/// Removes the element at `index` of a child array, and gives back its spare capacity once the
/// length has fallen to a quarter of it: the capacity stays within 4 × length + 4.
pub(crate) fn shrink_remove<T>(vec: &mut Vec<T>, index: usize) -> T {
    let value = vec.remove(index);
    shrink(vec);
    value
}

/// Gives back a vector's spare capacity once it is four times its length or more.
pub(crate) fn shrink<T>(vec: &mut Vec<T>) {
    if vec.len() <= vec.capacity() / 4 {
        vec.shrink_to_fit();
    }
}

/// Whether `data` starts with `tail`. An empty tail (a one-byte label) costs one test.
#[inline]
pub(crate) fn starts_with(data: &[u8], tail: &[u8]) -> bool {
    tail.is_empty() || data.get(..tail.len()) == Some(tail)
}

/// The length of the longest common prefix of `a` and `b`. Compares 32-byte chunks as slices
/// (one `memcmp` each) before the bytes of the last chunk, so long labels are compared quickly.
pub(crate) fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    const CHUNK: usize = 32;
    let len = a.len().min(b.len());
    let mut i = 0;
    while i + CHUNK <= len && a[i..i + CHUNK] == b[i..i + CHUNK] {
        i += CHUNK;
    }
    while i < len && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Marsaglia's xorshift64: a deterministic stream of pseudo-random numbers, and the topics the
/// trees' model tests are made of.
#[cfg(test)]
pub(crate) struct XorShift(pub(crate) u64);

#[cfg(test)]
impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A short string over a three-letter alphabet, so that topics share prefixes.
    pub(crate) fn topic(&mut self, max_len: u64) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| b"abc"[self.below(3) as usize]).collect()
    }

    /// A topic made to exercise the node layout: one of a few stems (empty, or long enough
    /// that a node's tail and keys no longer fit inline), then up to `max_len` bytes over a
    /// 40-letter alphabet, so that nodes have more keys than a linear scan covers.
    pub(crate) fn long_topic(&mut self, max_len: u64) -> Vec<u8> {
        let stem = [0, 19, 20, 27, 28, 60][self.below(6) as usize];
        let mut topic = vec![b'x'; stem];
        let len = self.below(max_len + 1);
        topic.extend((0..len).map(|_| b'0' + self.below(40) as u8));
        topic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_exactly_when_short() {
        let bytes = Bytes::<4>::new(&[b"ab", b"c"], b"x");
        assert!(matches!(bytes, Bytes::Inline { .. }));
        assert_eq!((bytes.tail(), bytes.keys()), (&b"abc"[..], &b"x"[..]));
        bytes.assert_canonical();
        let mut bytes = Bytes::<4>::new(&[b"abc"], b"xy");
        assert!(matches!(bytes, Bytes::Heap { .. }));
        assert_eq!(bytes.heap_size(), 5);
        assert_eq!((bytes.tail(), bytes.keys()), (&b"abc"[..], &b"xy"[..]));
        bytes.remove_key(1);
        assert!(matches!(bytes, Bytes::Inline { .. }));
        assert_eq!(bytes.heap_size(), 0);
        assert_eq!((bytes.tail(), bytes.keys()), (&b"abc"[..], &b"x"[..]));
        bytes.insert_key(0, b'a');
        assert_eq!((bytes.tail(), bytes.keys()), (&b"abc"[..], &b"ax"[..]));
        bytes.assert_canonical();
        bytes.remove_key(0);
        bytes.remove_key(0);
        bytes.assert_canonical();
        assert_eq!((bytes.tail(), bytes.keys()), (&b"abc"[..], &b""[..]));
    }

    #[test]
    fn all_256_keys() {
        let mut bytes = Bytes::<21>::new(&[], &[]);
        for (i, byte) in (0..=255u8).rev().enumerate() {
            bytes.insert_key(0, byte);
            assert_eq!(bytes.keys().len(), i + 1);
            assert_eq!(bytes.position(byte), Some(0));
            assert_eq!(bytes.find(byte), Ok(0));
        }
        bytes.assert_canonical();
        for byte in 0..=255u8 {
            assert_eq!(bytes.position(byte), Some(usize::from(byte)));
        }
        bytes.set_keys(b"az");
        assert_eq!(bytes.position(b'z'), Some(1));
        assert_eq!(bytes.position(b'b'), None);
        assert_eq!(bytes.find(b'b'), Err(1));
    }

    #[test]
    fn array_grows_and_shrinks_exactly() {
        let mut slice: Box<[u32]> = Box::default();
        insert_at(&mut slice, 0, 2);
        insert_at(&mut slice, 0, 1);
        insert_at(&mut slice, 2, 3);
        assert_eq!(&*slice, [1, 2, 3]);
        assert_eq!(remove_at(&mut slice, 1), 2);
        assert_eq!(&*slice, [1, 3]);
        let mut vec = Vec::new();
        for i in 0..256 {
            grow_insert(&mut vec, 0, i);
            assert!(vec.capacity() <= 2 * vec.len(), "{}", vec.capacity());
        }
        assert_eq!(vec.capacity(), 256);
        while !vec.is_empty() {
            shrink_remove(&mut vec, 0);
            assert!(vec.capacity() <= 4 * vec.len() + 4);
        }
        assert_eq!(vec.capacity(), 0);
        assert!(starts_with(b"abc", b""));
        assert!(starts_with(b"abc", b"ab"));
        assert!(!starts_with(b"ab", b"abc"));
        assert!(!starts_with(b"abc", b"b"));
        assert_eq!(common_prefix_len(&[7; 100], &[7; 70]), 70);
        assert_eq!(common_prefix_len(b"abcd", b"abxd"), 2);
    }
}
