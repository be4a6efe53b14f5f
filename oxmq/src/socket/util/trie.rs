//! Counted prefix set: the subscriptions of a SUB or XSUB socket (libzmq's `trie_t`).
//!
//! A SUB socket keeps the topics it subscribed to and, for every incoming message, asks whether
//! one of them is a prefix of the message's first frame. The same topic may be subscribed several
//! times; it stays subscribed until it has been unsubscribed as many times, so every prefix
//! carries a count. [`Trie::for_each`] lists the subscriptions again when a connection is
//! re-established.
//!
//! # Design
//!
//! The set is a radix tree (a compressed trie). Every edge carries a non-empty label, so a topic
//! that shares nothing with the others is a single node however long it is, and the concatenated
//! labels from the root to a node spell the prefix that node stands for. A node stores how many
//! times its prefix was added (0 for a node that only exists because two longer prefixes share
//! its label) and its children.
//!
//! The layout follows what a lookup reads (see [`radix`](super::radix)): a node's children are
//! stored by value in one array, sorted by the first byte of their labels (no two share one); the node keeps these first bytes, its *keys*, and a child keeps only the rest of
//! its label, its *tail*. Tail and keys are one byte string inside the node, on the heap only
//! when they are longer than 29 bytes. A node is 64 bytes, aligned to a cache line, so a lookup
//! reads one cache line per level of the tree: the count, the keys (scanned for the next byte of
//! the topic: linearly up to 16 keys, by binary search beyond), and the pointer to the children;
//! then the chosen child's line, whose tail is compared with the topic (not at all for a one-byte
//! label). A 256-slot table would find the child with one load, but would cost 2 KiB of pointers
//! per node whatever its fan-out, so memory would follow the number of nodes times 256 instead of
//! the number of subscriptions (libzmq's tables, which span the range of the children's first
//! bytes, have the same worst case).
//!
//! The tree keeps these invariants between calls:
//!
//! - the root has no label (an empty tail and no key); every other node's label is its key in its
//!   parent followed by its tail;
//! - every node other than the root either is counted or has at least two children (a node with
//!   one child and no count is merged with that child, a node with neither is removed);
//! - a node has as many keys as children, in ascending order; a child array's capacity is at
//!   most four times its length, plus four (it doubles when full, and is shrunk
//!   when its length falls to a quarter of its capacity); heap bytes are allocated to their exact
//!   length, and tail and keys are inline exactly when they fit.
//!
//! # No recursion
//!
//! Nothing recurses, so no call's stack use grows with the length of a topic or the depth of the
//! tree. [`Trie::add`], [`Trie::remove`] and [`Trie::check`] are loops that follow one path from
//! the root; [`Trie::for_each`] and the tree's destruction walk it with an explicit stack on the
//! heap. A derived `Drop` of nested arrays would recurse once per level, so [`Trie`] implements
//! `Drop` itself: it detaches each node's children before the node is freed, and nodes are only
//! ever dropped without children.
//!
//! # Memory
//!
//! Adding a prefix creates at most two nodes (a new leaf and, when the prefix diverges inside an
//! edge, the node that splits that edge). Each node but the root is counted or has two children,
//! so there are at most `2 × len() + 1` nodes of 64 bytes, and the heap bytes hold at most the
//! total length of the distinct prefixes plus one key per node: memory is O(distinct prefix
//! bytes + distinct prefixes), whatever the number of duplicates. Removing a prefix gives its
//! memory back at once: the leaf is removed from its parent's array, which is shrunk when its
//! length falls to a quarter of its capacity, and a node left with one child and no count is
//! merged with that child.
//!
//! # Complexity
//!
//! With `n` the length of the argument: `check` is O(n) (at most one search of at most 256 keys
//! per node on the path and one byte comparison per byte, with tails compared as whole slices),
//! does not allocate, and does not depend on the number of subscriptions. `add` and `remove` are
//! O(n + fan-out) plus the copy of at most two labels, one child array and one key string.
//! `for_each` is linear in the size of the tree plus the bytes it hands out.

use std::fmt;
use std::mem;

use super::radix::{Bytes, common_prefix_len, grow_insert, shrink_remove, starts_with};

/// A set of byte-string prefixes, each counted, matched against message topics.
///
/// See the [module documentation](self) for the design.
pub(crate) struct Trie {
    /// The node of the empty prefix.
    root: Node,
    /// The number of distinct prefixes whose count is not zero.
    len: usize,
}

/// The bytes inline in a node: 29, so that a node is 64 bytes.
const INLINE: usize = 29;

/// One node of the radix tree: 64 bytes, one cache line.
#[repr(align(64))]
struct Node {
    /// The tail of the label and the children's keys.
    bytes: Bytes<INLINE>,
    /// How many times the prefix this node spells was added and not removed yet.
    count: usize,
    /// The children, in the order of their keys.
    children: Vec<Node>,
}

const _: () = assert!(mem::size_of::<Node>() == 64);

/// An empty one, as `new()`.
impl Default for Trie {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows the number of prefixes only, not the tree: it may be large.
impl fmt::Debug for Trie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trie")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Trie {
    /// An empty set. Does not allocate.
    pub(crate) fn new() -> Self {
        Self {
            root: Node::leaf(&[], 0),
            len: 0,
        }
    }

    /// The number of distinct prefixes in the set, duplicates counted once (`ZMQ_TOPICS_COUNT`).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no prefix.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one count of `prefix`. Returns `true` when the prefix was not in the set before (its
    /// count went from 0 to 1), `false` for a duplicate.
    pub(crate) fn add(&mut self, prefix: &[u8]) -> bool {
        let mut node = &mut self.root;
        let mut rest = prefix;
        while let Some((&first, after)) = rest.split_first() {
            let index = match node.bytes.find(first) {
                Ok(index) => index,
                Err(index) => {
                    node.insert_child(index, first, Node::leaf(after, 1));
                    self.len += 1;
                    return true;
                }
            };
            let child = &mut node.children[index];
            let tail = child.bytes.tail();
            let common = common_prefix_len(tail, after);
            if common < tail.len() {
                child.split(common);
            }
            rest = &after[common..];
            node = child;
        }
        node.count += 1;
        let added = node.count == 1;
        if added {
            self.len += 1;
        }
        added
    }

    /// Removes one count of `prefix`. Returns `true` when this removed the prefix from the set (its
    /// count reached 0), `false` when it is still counted or was not in the set (then nothing
    /// changes).
    pub(crate) fn remove(&mut self, prefix: &[u8]) -> bool {
        if prefix.is_empty() {
            return release(&mut self.root.count, &mut self.len);
        }
        let mut parent = &mut self.root;
        let mut parent_is_root = true;
        let mut rest = prefix;
        while let Some((&first, after)) = rest.split_first() {
            let Ok(index) = parent.bytes.find(first) else {
                return false;
            };
            let tail = parent.children[index].bytes.tail();
            if !after.starts_with(tail) {
                return false;
            }
            if tail.len() < after.len() {
                rest = &after[tail.len()..];
                parent = &mut parent.children[index];
                parent_is_root = false;
                continue;
            }
            let node = &mut parent.children[index];
            if !release(&mut node.count, &mut self.len) {
                return false;
            }
            match node.children.len() {
                0 => {
                    parent.remove_child(index);
                    if !parent_is_root && parent.count == 0 && parent.children.len() == 1 {
                        parent.merge_with_only_child();
                    }
                }
                1 => node.merge_with_only_child(),
                _ => {}
            }
            return true;
        }
        false
    }

    /// Whether a prefix in the set is a prefix of `data`. The empty prefix, once added, matches
    /// every `data`; empty `data` is matched by the empty prefix only.
    ///
    /// Costs O(`data.len()`) whatever the number of prefixes, and does not allocate.
    #[inline]
    pub(crate) fn check(&self, data: &[u8]) -> bool {
        let mut node = &self.root;
        let mut rest = data;
        loop {
            if node.count != 0 {
                return true;
            }
            let Some((&first, after)) = rest.split_first() else {
                return false;
            };
            let Some(child) = node
                .bytes
                .position(first)
                .and_then(|index| node.children.get(index))
            else {
                return false;
            };
            let tail = child.bytes.tail();
            if !starts_with(after, tail) {
                return false;
            }
            rest = &after[tail.len()..];
            node = child;
        }
    }

    /// Calls `f` once with each prefix in the set, whatever its count, in lexicographic byte
    /// order. The slice is only valid for the call: `f` copies what it keeps.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let mut prefix = Vec::new();
        // Nodes still to visit, each with the length of its parent's prefix and its key.
        let mut stack: Vec<(&Node, usize, Option<u8>)> = vec![(&self.root, 0, None)];
        while let Some((node, depth, key)) = stack.pop() {
            prefix.truncate(depth);
            prefix.extend(key);
            prefix.extend_from_slice(node.bytes.tail());
            if node.count != 0 {
                f(&prefix);
            }
            let depth = prefix.len();
            stack.extend(
                node.bytes
                    .keys()
                    .iter()
                    .zip(&node.children)
                    .rev()
                    .map(|(&key, child)| (child, depth, Some(key))),
            );
        }
    }

    /// The number of nodes in the tree, the root included.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            count += 1;
            stack.extend(node.children.iter());
        }
        count
    }

    /// The bytes the tree allocated on the heap: child arrays and heap bytes.
    #[cfg(test)]
    fn heap_size(&self) -> usize {
        let mut size = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            size += node.children.capacity() * mem::size_of::<Node>() + node.bytes.heap_size();
            stack.extend(node.children.iter());
        }
        size
    }

    /// Panics unless the tree keeps the invariants listed in the module documentation.
    #[cfg(test)]
    fn assert_invariants(&self) {
        assert!(self.root.bytes.tail().is_empty(), "root label");
        let mut counted = 0;
        let mut stack = vec![(&self.root, true)];
        while let Some((node, is_root)) = stack.pop() {
            if node.count != 0 {
                counted += 1;
            }
            if !is_root {
                assert!(
                    node.count != 0 || node.children.len() >= 2,
                    "redundant node"
                );
            }
            node.bytes.assert_canonical();
            assert_eq!(node.bytes.keys().len(), node.children.len(), "keys");
            assert!(
                node.children.capacity() <= 4 * node.children.len() + 4,
                "slack"
            );
            stack.extend(node.children.iter().map(|child| (child, false)));
        }
        assert_eq!(counted, self.len, "len");
    }
}

impl Drop for Trie {
    /// Frees the nodes one array at a time from an explicit stack, so that deep trees do not
    /// overflow the thread's stack as a derived drop of the nested arrays would.
    fn drop(&mut self) {
        let mut stack = vec![mem::take(&mut self.root.children)];
        while let Some(mut children) = stack.pop() {
            for child in children.iter_mut() {
                if !child.children.is_empty() {
                    stack.push(mem::take(&mut child.children));
                }
            }
        }
    }
}

impl Node {
    /// A node with the given tail, count and no children.
    fn leaf(tail: &[u8], count: usize) -> Self {
        Self {
            bytes: Bytes::new(&[tail], &[]),
            count,
            children: Vec::new(),
        }
    }

    /// Inserts `child`, whose key is `key`, at `index`.
    fn insert_child(&mut self, index: usize, key: u8, child: Node) {
        grow_insert(&mut self.children, index, child);
        self.bytes.insert_key(index, key);
    }

    /// Removes the child at `index`, which has no children.
    fn remove_child(&mut self, index: usize) {
        let child = shrink_remove(&mut self.children, index);
        debug_assert!(child.children.is_empty());
        self.bytes.remove_key(index);
    }

    /// Splits the label after the key and `at` bytes of the tail (`at` < tail length): this node
    /// keeps that much and no count, and gets one child that takes the rest of the label, the
    /// count and the children.
    fn split(&mut self, at: usize) {
        let (tail, keys) = (self.bytes.tail(), self.bytes.keys());
        debug_assert!(at < tail.len());
        let key = tail[at];
        let lower = Node {
            bytes: Bytes::new(&[&tail[at + 1..]], keys),
            count: mem::take(&mut self.count),
            children: mem::take(&mut self.children),
        };
        self.bytes = Bytes::new(&[&tail[..at]], &[key]);
        self.children = vec![lower];
    }

    /// Absorbs the only child: its key and tail are appended to this node's tail, and its count,
    /// keys and children become this node's. The node must have no count and exactly one child.
    fn merge_with_only_child(&mut self) {
        debug_assert!(self.count == 0 && self.children.len() == 1);
        let Some(mut child) = mem::take(&mut self.children).pop() else {
            return;
        };
        self.bytes = Bytes::new(
            &[self.bytes.tail(), self.bytes.keys(), child.bytes.tail()],
            child.bytes.keys(),
        );
        self.count = child.count;
        self.children = mem::take(&mut child.children);
    }
}

/// Takes one from a prefix's `count` and, when that removes the prefix, one from the set's `len`.
/// Returns whether the prefix was removed; a count of 0 is left alone.
fn release(count: &mut usize, len: &mut usize) -> bool {
    if *count == 0 {
        return false;
    }
    *count -= 1;
    if *count != 0 {
        return false;
    }
    *len -= 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::util::radix::XorShift;
    use std::collections::{BTreeSet, HashMap};

    /// The prefixes `for_each` visits, checking that none is visited twice.
    fn listed(trie: &Trie) -> BTreeSet<Vec<u8>> {
        let mut set = BTreeSet::new();
        trie.for_each(|prefix| assert!(set.insert(prefix.to_vec()), "visited twice"));
        set
    }

    /// Runs `f` on a thread with a 256 KiB stack.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn empty_set_matches_nothing() {
        let trie = Trie::new();
        assert!(trie.is_empty());
        assert_eq!(trie.len(), 0);
        assert!(!trie.check(b""));
        assert!(!trie.check(b"topic"));
        assert!(listed(&trie).is_empty());
        assert_eq!(trie.node_count(), 1);
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let mut trie = Trie::new();
        assert!(trie.add(b""));
        assert!(trie.check(b""));
        assert!(trie.check(b"anything"));
        assert_eq!(listed(&trie), BTreeSet::from([Vec::new()]));
        assert!(!trie.add(b""));
        assert!(!trie.remove(b""));
        assert!(trie.check(b"x"));
        assert!(trie.remove(b""));
        assert!(!trie.check(b"x"));
        assert!(!trie.remove(b""));
        assert!(trie.is_empty());
        trie.assert_invariants();
    }

    #[test]
    fn matches_prefixes_only() {
        let mut trie = Trie::new();
        assert!(trie.add(b"abc"));
        assert!(trie.check(b"abc"));
        assert!(trie.check(b"abcdef"));
        assert!(!trie.check(b"ab"));
        assert!(!trie.check(b"abd"));
        assert!(!trie.check(b"xabc"));
        assert!(!trie.check(b""));
    }

    #[test]
    fn duplicates_are_counted() {
        let mut trie = Trie::new();
        assert!(trie.add(b"weather"));
        assert!(!trie.add(b"weather"));
        assert!(!trie.add(b"weather"));
        assert_eq!(trie.len(), 1);
        assert!(!trie.remove(b"weather"));
        assert!(!trie.remove(b"weather"));
        assert!(trie.check(b"weather.paris"));
        assert!(trie.remove(b"weather"));
        assert!(!trie.check(b"weather.paris"));
        assert!(!trie.remove(b"weather"));
        assert!(trie.is_empty());
        assert_eq!(trie.node_count(), 1);
    }

    #[test]
    fn split_edge_in_the_middle() {
        let mut trie = Trie::new();
        assert!(trie.add(b"abcdef"));
        assert!(trie.add(b"abcxyz"));
        trie.assert_invariants();
        // root -> "abc" -> {"def", "xyz"}
        assert_eq!(trie.node_count(), 4);
        assert!(!trie.check(b"abc"));
        assert!(trie.check(b"abcdefg"));
        assert!(trie.check(b"abcxyz"));
        assert!(!trie.check(b"abcxy"));
        // The interior node "abc" is not a prefix of the set.
        assert!(!trie.remove(b"abc"));
        assert!(!trie.remove(b"ab"));
        assert!(!trie.remove(b"abcd"));
        assert_eq!(trie.len(), 2);
        assert!(trie.remove(b"abcdef"));
        trie.assert_invariants();
        // "abc" merged back with "xyz".
        assert_eq!(trie.node_count(), 2);
        assert!(trie.check(b"abcxyz"));
        assert!(!trie.check(b"abcdef"));
    }

    #[test]
    fn prefix_ending_inside_or_at_an_edge() {
        let mut trie = Trie::new();
        assert!(trie.add(b"abcdef"));
        // Ends inside the edge "abcdef": the edge is split and the upper half counted.
        assert!(trie.add(b"abc"));
        trie.assert_invariants();
        assert_eq!(trie.node_count(), 3);
        assert!(trie.check(b"abcz"));
        // Equal to an existing edge: no split, just a count.
        assert!(!trie.add(b"abc"));
        assert_eq!(trie.node_count(), 3);
        assert!(!trie.remove(b"abc"));
        assert!(trie.remove(b"abc"));
        trie.assert_invariants();
        assert_eq!(trie.node_count(), 2);
        assert!(!trie.check(b"abcz"));
        assert!(trie.check(b"abcdef"));
        assert_eq!(listed(&trie), BTreeSet::from([b"abcdef".to_vec()]));
    }

    #[test]
    fn removing_an_interior_prefix_keeps_the_longer_ones() {
        let mut trie = Trie::new();
        for prefix in [&b"a"[..], b"ab", b"abc", b"abd"] {
            assert!(trie.add(prefix));
        }
        assert!(trie.remove(b"ab"));
        trie.assert_invariants();
        assert!(trie.check(b"a"));
        assert!(trie.check(b"abc"));
        assert!(trie.check(b"abd"));
        assert!(trie.remove(b"a"));
        assert!(!trie.check(b"ab"));
        assert!(trie.check(b"abcc"));
        assert!(trie.remove(b"abc"));
        trie.assert_invariants();
        // Only "abd" is left, as one edge below the root.
        assert_eq!(trie.node_count(), 2);
        assert_eq!(listed(&trie), BTreeSet::from([b"abd".to_vec()]));
    }

    #[test]
    fn remove_never_added() {
        let mut trie = Trie::new();
        assert!(!trie.remove(b"nothing"));
        assert!(trie.add(b"abc"));
        assert!(!trie.remove(b"abd"));
        assert!(!trie.remove(b"abcd"));
        assert!(!trie.remove(b"ab"));
        assert!(!trie.remove(b"b"));
        assert!(!trie.remove(b""));
        assert_eq!(trie.len(), 1);
        assert_eq!(trie.node_count(), 2);
        trie.assert_invariants();
    }

    #[test]
    fn remove_then_add_again() {
        let mut trie = Trie::new();
        for _ in 0..3 {
            assert!(trie.add(b"abc"));
            assert!(trie.add(b"abd"));
            assert!(trie.remove(b"abc"));
            assert!(trie.remove(b"abd"));
            assert!(!trie.check(b"abc"));
            assert_eq!(trie.node_count(), 1);
        }
    }

    #[test]
    fn for_each_lists_each_prefix_once_in_order() {
        let mut trie = Trie::new();
        for prefix in [&b"b"[..], b"a", b"abc", b"ab", b"", b"abc", b"b\0", b"\xff"] {
            trie.add(prefix);
        }
        let mut seen = Vec::new();
        trie.for_each(|prefix| seen.push(prefix.to_vec()));
        let expected: Vec<Vec<u8>> = [&b""[..], b"a", b"ab", b"abc", b"b", b"b\0", b"\xff"]
            .iter()
            .map(|p| p.to_vec())
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(trie.len(), 7);
    }

    #[test]
    fn agrees_with_a_naive_model() {
        agrees_with_a_naive_model_on(XorShift::topic);
    }

    #[test]
    fn agrees_with_a_naive_model_on_long_and_wide_nodes() {
        agrees_with_a_naive_model_on(XorShift::long_topic);
    }

    /// Random operations on topics from `topic` (given a maximum length, 5 for a prefix and 7
    /// for the data to match), checked against a naive model after each.
    fn agrees_with_a_naive_model_on(topic: fn(&mut XorShift, u64) -> Vec<u8>) {
        for seed in [1, 0x9e37_79b9_7f4a_7c15, 42, 7_777_777] {
            let mut rng = XorShift(seed);
            let mut trie = Trie::new();
            let mut model: HashMap<Vec<u8>, usize> = HashMap::new();
            for step in 0..5_000 {
                match rng.below(10) {
                    0..=3 => {
                        let prefix = topic(&mut rng, 5);
                        let count = model.entry(prefix.clone()).or_default();
                        *count += 1;
                        assert_eq!(trie.add(&prefix), *count == 1, "add {prefix:?}");
                    }
                    4..=7 => {
                        let prefix = topic(&mut rng, 5);
                        let expected = match model.get_mut(&prefix) {
                            None => false,
                            Some(count) => {
                                *count -= 1;
                                *count == 0
                            }
                        };
                        if expected {
                            model.remove(&prefix);
                        }
                        assert_eq!(trie.remove(&prefix), expected, "remove {prefix:?}");
                    }
                    _ => {
                        let data = topic(&mut rng, 7);
                        let expected = model.keys().any(|prefix| data.starts_with(prefix));
                        assert_eq!(trie.check(&data), expected, "check {data:?}");
                    }
                }
                trie.assert_invariants();
                assert_eq!(trie.len(), model.len());
                if step % 64 == 0 {
                    assert_eq!(listed(&trie), model.keys().cloned().collect());
                }
            }
            // Empty it in a random order.
            let mut left: Vec<(Vec<u8>, usize)> = model.into_iter().collect();
            while !left.is_empty() {
                let i = rng.below(left.len() as u64) as usize;
                left[i].1 -= 1;
                let last = left[i].1 == 0;
                assert_eq!(trie.remove(&left[i].0), last);
                if last {
                    left.swap_remove(i);
                }
                trie.assert_invariants();
            }
            assert!(trie.is_empty());
            assert_eq!(trie.node_count(), 1);
        }
    }

    #[test]
    fn memory_is_given_back() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let mut trie = Trie::new();
        let mut topics = Vec::new();
        while topics.len() < 100_000 {
            let len = 1 + rng.below(12) as usize;
            let topic: Vec<u8> = rng
                .next()
                .to_le_bytes()
                .iter()
                .cycle()
                .take(len)
                .copied()
                .collect();
            if trie.add(&topic) {
                topics.push(topic);
            } else {
                // A duplicate: take its second count back.
                assert!(!trie.remove(&topic));
            }
        }
        trie.assert_invariants();
        assert_eq!(trie.len(), 100_000);
        assert!(trie.node_count() <= 2 * 100_000 + 1);
        assert_eq!(trie.root.children.len(), 256);
        // Remove in an order unrelated to the insertion order.
        for i in 0..topics.len() {
            let j = i + rng.below((topics.len() - i) as u64) as usize;
            topics.swap(i, j);
            assert!(trie.remove(&topics[i]));
            if i % 10_000 == 0 {
                trie.assert_invariants();
                // Memory follows what is left: at most 2 × len + 1 nodes, in child arrays of at
                // most 4 × length + 4 slots of 64 bytes, one key per node and the bytes of the
                // prefixes.
                let left = &topics[i + 1..];
                let bytes: usize = left.iter().map(Vec::len).sum();
                let nodes = 2 * left.len() + 1;
                assert!(trie.heap_size() <= 64 * 8 * nodes + nodes + bytes, "memory");
            }
        }
        assert!(trie.is_empty());
        assert_eq!(trie.node_count(), 1);
        assert_eq!(trie.heap_size(), 0);
    }

    #[test]
    fn huge_topic_on_a_small_stack() {
        on_small_stack(|| {
            let topic = vec![b'x'; 8 << 20];
            let mut trie = Trie::new();
            assert!(trie.add(&topic));
            assert_eq!(trie.node_count(), 2);
            assert!(trie.check(&topic));
            assert!(!trie.check(&topic[..topic.len() - 1]));
            let mut sizes = Vec::new();
            trie.for_each(|prefix| sizes.push(prefix.len()));
            assert_eq!(sizes, [8 << 20]);
            // Split the huge edge in its middle, then merge it back.
            let mut other = topic[..4 << 20].to_vec();
            other.push(b'y');
            assert!(trie.add(&other));
            trie.assert_invariants();
            assert!(trie.remove(&other));
            assert_eq!(trie.node_count(), 2);
            assert!(trie.remove(&topic));
            assert_eq!(trie.node_count(), 1);
            // And drop one with content.
            trie.add(&topic);
            trie.add(&other);
        });
    }

    #[test]
    fn deep_tree_on_a_small_stack() {
        on_small_stack(|| {
            const DEPTH: usize = 10_000;
            let a = vec![b'a'; DEPTH];
            // Longest first: each prefix splits the edge above the one added before, so building
            // is one step per prefix. The result is a chain of DEPTH one-byte nodes.
            let build = || {
                let mut trie = Trie::new();
                for len in (1..=DEPTH).rev() {
                    assert!(trie.add(&a[..len]));
                }
                assert_eq!(trie.node_count(), DEPTH + 1);
                trie
            };
            let trie = build();
            trie.assert_invariants();
            assert!(trie.check(&a));
            assert!(trie.check(b"a"));
            let mut count = 0;
            trie.for_each(|prefix| {
                count += 1;
                assert_eq!(prefix.len(), count);
            });
            assert_eq!(count, DEPTH);
            drop(trie);

            let mut trie = build();
            // Walks the whole chain down to its last node.
            let below = [&a[..], b"b"].concat();
            assert!(trie.add(&below));
            assert!(trie.remove(&below));
            // Remove the shortest prefixes, so that the top of the chain merges into one edge.
            for len in 1..DEPTH / 2 {
                assert!(trie.remove(&a[..len]));
            }
            assert_eq!(trie.node_count(), DEPTH / 2 + 2);
            assert!(trie.check(&a[..DEPTH / 2]));
            assert!(!trie.check(&a[..DEPTH / 2 - 1]));
            trie.assert_invariants();
            drop(trie);
        });
    }
}
