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
//! The set is a radix tree (a compressed trie). Every node except the root stores the label of
//! the edge that leads to it as one byte string, so a topic that shares nothing with the others is
//! a single node however long it is, and the concatenated labels from the root to a node spell
//! the prefix that node stands for. A node stores how many times its prefix was added (0 for a
//! node that only exists because two longer prefixes share its label) and its children.
//!
//! The children are a vector sorted by the first byte of their labels; no two children share a
//! first byte, and each entry keeps a copy of that byte next to the child's pointer. Finding the
//! child for the next byte of a topic is a binary search over these entries: at most 9
//! comparisons at the full fan-out of 256, within one contiguous block of 16 bytes per child. A
//! 256-slot table would find the child with one load, but would cost 2 KiB of pointers per node
//! whatever its fan-out, so memory would follow the number of nodes times 256 instead of the
//! number of subscriptions (libzmq's tables, which span the range of the children's first bytes,
//! have the same worst case). Below the first levels of a tree most nodes have few children,
//! where the binary search is one or two comparisons.
//!
//! The tree keeps these invariants between calls:
//!
//! - the root has an empty label; every other node has a non-empty label;
//! - every node other than the root either is counted or has at least two children (a node with
//!   one child and no count is merged with that child, a node with neither is removed);
//! - labels are allocated to their exact length, and a child vector's capacity is at most four
//!   times its length, plus four.
//!
//! # No recursion
//!
//! Nothing recurses, so no call's stack use grows with the length of a topic or the depth of the
//! tree. [`Trie::add`], [`Trie::remove`] and [`Trie::check`] are loops that follow one path from
//! the root; [`Trie::for_each`] and the tree's destruction walk it with an explicit stack on the
//! heap. A derived `Drop` of nested boxes would recurse once per level, so [`Trie`] implements
//! `Drop` itself: it detaches children into a vector before each node is freed, and nodes are only
//! ever dropped without children.
//!
//! # Memory
//!
//! Adding a prefix allocates at most two nodes (a new leaf and, when the prefix diverges inside an
//! edge, the node that splits that edge). Each node but the root is counted or has two children,
//! so there are at most `2 × len() + 1` nodes, and the labels hold at most the total length of
//! the distinct prefixes: memory is O(distinct prefix bytes + distinct prefixes), whatever the
//! number of duplicates. Removing a prefix gives its memory back at once: the leaf is freed, a
//! node left with one child and no count is merged with that child, and a child vector is shrunk
//! when its length falls to a quarter of its capacity.
//!
//! # Complexity
//!
//! With `n` the length of the argument: `check` is O(n) (at most one binary search per node on
//! the path and one byte comparison per byte, with edge labels compared as whole slices), does not
//! allocate, and does not depend on the number of subscriptions. `add` and `remove` are O(n) plus
//! the copy of at most two labels and one insertion or removal in a child vector. `for_each` is
//! linear in the size of the tree plus the bytes it hands out.

use std::fmt;
use std::mem;

/// A set of byte-string prefixes, each counted, matched against message topics.
///
/// See the [module documentation](self) for the design.
pub(crate) struct Trie {
    /// The node of the empty prefix.
    root: Node,
    /// The number of distinct prefixes whose count is not zero.
    len: usize,
}

/// One node of the radix tree.
struct Node {
    /// The label of the edge from the parent: empty for the root only.
    label: Box<[u8]>,
    /// How many times the prefix this node spells was added and not removed yet.
    count: usize,
    /// The children, sorted by the first byte of their labels, at most one per byte.
    children: Vec<Edge>,
}

/// A child of a node, with the first byte of its label kept inline for the binary search.
struct Edge {
    /// `node.label[0]`.
    first: u8,
    /// The child.
    node: Box<Node>,
}

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
            root: Node::empty(Box::default()),
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
        while let Some(&first) = rest.first() {
            let index = match node.find(first) {
                Ok(index) => index,
                Err(index) => {
                    node.children.insert(index, Edge::leaf(rest));
                    self.len += 1;
                    return true;
                }
            };
            let child = &mut *node.children[index].node;
            let common = common_prefix_len(&child.label, rest);
            if common < child.label.len() {
                child.split(common);
            }
            rest = &rest[common..];
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
        let Some(&first) = prefix.first() else {
            return release(&mut self.root.count, &mut self.len);
        };
        let mut parent = &mut self.root;
        let mut parent_is_root = true;
        let mut first = first;
        let mut rest = prefix;
        loop {
            let Ok(index) = parent.find(first) else {
                return false;
            };
            let label = &parent.children[index].node.label;
            if !rest.starts_with(label) {
                return false;
            }
            if label.len() < rest.len() {
                rest = &rest[label.len()..];
                first = rest[0];
                parent = &mut *parent.children[index].node;
                parent_is_root = false;
                continue;
            }
            let node = &mut *parent.children[index].node;
            if !release(&mut node.count, &mut self.len) {
                return false;
            }
            match node.children.len() {
                0 => {
                    parent.children.remove(index);
                    shrink(&mut parent.children);
                    if !parent_is_root && parent.count == 0 && parent.children.len() == 1 {
                        parent.merge_with_only_child();
                    }
                }
                1 => node.merge_with_only_child(),
                _ => {}
            }
            return true;
        }
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
            let Some(&first) = rest.first() else {
                return false;
            };
            let Ok(index) = node.find(first) else {
                return false;
            };
            let child = &*node.children[index].node;
            if !rest.starts_with(&child.label) {
                return false;
            }
            rest = &rest[child.label.len()..];
            node = child;
        }
    }

    /// Calls `f` once with each prefix in the set, whatever its count, in lexicographic byte
    /// order. The slice is only valid for the call: `f` copies what it keeps.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let mut prefix = Vec::new();
        // Nodes still to visit, each with the length of its parent's prefix.
        let mut stack: Vec<(&Node, usize)> = vec![(&self.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            prefix.truncate(depth);
            prefix.extend_from_slice(&node.label);
            if node.count != 0 {
                f(&prefix);
            }
            let depth = prefix.len();
            stack.extend(node.children.iter().rev().map(|edge| (&*edge.node, depth)));
        }
    }

    /// The number of nodes in the tree, the root included.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            count += 1;
            stack.extend(node.children.iter().map(|edge| &*edge.node));
        }
        count
    }

    /// Panics unless the tree keeps the invariants listed in the module documentation.
    #[cfg(test)]
    fn assert_invariants(&self) {
        assert!(self.root.label.is_empty(), "root label");
        let mut counted = 0;
        let mut stack = vec![(&self.root, true)];
        while let Some((node, is_root)) = stack.pop() {
            if node.count != 0 {
                counted += 1;
            }
            if !is_root {
                assert!(!node.label.is_empty(), "empty label below the root");
                assert!(
                    node.count != 0 || node.children.len() >= 2,
                    "redundant node"
                );
            }
            assert!(
                node.children.capacity() <= 4 * node.children.len() + 4,
                "slack"
            );
            for pair in node.children.windows(2) {
                assert!(pair[0].first < pair[1].first, "children out of order");
            }
            for edge in &node.children {
                assert_eq!(edge.first, edge.node.label[0], "first byte");
                stack.push((&edge.node, false));
            }
        }
        assert_eq!(counted, self.len, "len");
    }
}

impl Drop for Trie {
    /// Frees the nodes one at a time from an explicit stack, so that deep trees do not overflow
    /// the thread's stack as a derived drop of the nested boxes would.
    fn drop(&mut self) {
        let mut stack: Vec<Box<Node>> = mem::take(&mut self.root.children)
            .into_iter()
            .map(|edge| edge.node)
            .collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain(..).map(|edge| edge.node));
        }
    }
}

impl Node {
    /// A node with the given label, no count and no children.
    fn empty(label: Box<[u8]>) -> Self {
        Self {
            label,
            count: 0,
            children: Vec::new(),
        }
    }

    /// The index of the child whose label starts with `first`, or where to insert it.
    #[inline]
    fn find(&self, first: u8) -> Result<usize, usize> {
        self.children
            .binary_search_by_key(&first, |edge| edge.first)
    }

    /// Splits the label at `at` (0 < `at` < label length): this node keeps the first `at` bytes
    /// and no count, and gets one child that takes the rest of the label, the count and the
    /// children.
    fn split(&mut self, at: usize) {
        debug_assert!(0 < at && at < self.label.len());
        let tail = Node {
            label: self.label[at..].into(),
            count: mem::take(&mut self.count),
            children: mem::take(&mut self.children),
        };
        self.label = self.label[..at].into();
        self.children = vec![Edge {
            first: tail.label[0],
            node: Box::new(tail),
        }];
    }

    /// Absorbs the only child: its label is appended to this node's, and its count and children
    /// become this node's. The node must have no count and exactly one child.
    fn merge_with_only_child(&mut self) {
        debug_assert!(self.count == 0 && self.children.len() == 1);
        let Some(Edge {
            node: mut child, ..
        }) = self.children.pop()
        else {
            return;
        };
        let mut label = Vec::with_capacity(self.label.len() + child.label.len());
        label.extend_from_slice(&self.label);
        label.extend_from_slice(&child.label);
        self.label = label.into_boxed_slice();
        self.count = child.count;
        self.children = mem::take(&mut child.children);
    }
}

impl Edge {
    /// A new leaf spelling `label` (not empty), counted once.
    fn leaf(label: &[u8]) -> Self {
        let mut node = Node::empty(label.into());
        node.count = 1;
        Self {
            first: label[0],
            node: Box::new(node),
        }
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

/// Gives back a vector's spare capacity once it is four times its length or more.
fn shrink<T>(vec: &mut Vec<T>) {
    if vec.len() <= vec.capacity() / 4 {
        vec.shrink_to_fit();
    }
}

/// The length of the longest common prefix of `a` and `b`. Compares 32-byte chunks as slices
/// (one `memcmp` each) before the bytes of the last chunk, so long labels are compared quickly.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    /// Marsaglia's xorshift64: a deterministic stream of pseudo-random numbers.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A short string over a three-letter alphabet, so that topics share prefixes.
        fn topic(&mut self, max_len: u64) -> Vec<u8> {
            let len = self.below(max_len + 1);
            (0..len).map(|_| b"abc"[self.below(3) as usize]).collect()
        }
    }

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
        for seed in [1, 0x9e37_79b9_7f4a_7c15, 42, 7_777_777] {
            let mut rng = XorShift(seed);
            let mut trie = Trie::new();
            let mut model: HashMap<Vec<u8>, usize> = HashMap::new();
            for step in 0..5_000 {
                match rng.below(10) {
                    0..=3 => {
                        let prefix = rng.topic(5);
                        let count = model.entry(prefix.clone()).or_default();
                        *count += 1;
                        assert_eq!(trie.add(&prefix), *count == 1, "add {prefix:?}");
                    }
                    4..=7 => {
                        let prefix = rng.topic(5);
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
                        let data = rng.topic(7);
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
            }
        }
        assert!(trie.is_empty());
        assert_eq!(trie.node_count(), 1);
        assert!(trie.root.children.capacity() <= 4);
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
