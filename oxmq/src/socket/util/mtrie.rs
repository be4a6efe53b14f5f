//! Prefixes mapped to sets of peers: the subscriptions a PUB or XPUB socket received (libzmq's
//! `mtrie_t`, `generic_mtrie_t`).
//!
//! Every subscriber (a peer, `P`) sends the prefixes it wants. A PUB socket keeps, for each
//! prefix, the set of peers that subscribed to it and, for every message it publishes, looks up
//! the peers one of whose prefixes is a prefix of the message's first frame. A prefix's first
//! subscriber and the removal of its last one are what an XPUB socket passes upstream, so
//! [`MultiTrie::add`], [`MultiTrie::remove`] and [`MultiTrie::remove_peer`] report them.
//!
//! # Design
//!
//! The map is a radix tree (a compressed trie). Every node except the root stores the label of
//! the edge that leads to it as one byte string, so a topic that shares nothing with the others is
//! a single node however long it is, and the concatenated labels from the root to a node spell
//! the prefix that node stands for. A node stores the peers subscribed to its prefix as a sorted
//! vector without duplicates (empty for a node that only exists because two longer prefixes share
//! its label), and its children.
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
//! The peer sets are sorted vectors rather than hash sets because they are iterated on every
//! published message and are small in the common case: they cost one allocation of exactly the
//! peers' size, and a binary search finds a peer.
//!
//! The tree keeps these invariants between calls:
//!
//! - the root has an empty label; every other node has a non-empty label;
//! - every node other than the root either has peers or has at least two children (a node with one
//!   child and no peers is merged with that child, a node with neither is removed);
//! - labels are allocated to their exact length, and a child or peer vector's capacity is at most
//!   four times its length, plus four.
//!
//! (Only a callback of [`MultiTrie::remove_peer`] that panics can leave redundant nodes behind;
//! the next `remove_peer` that empties a set removes them.)
//!
//! # No recursion
//!
//! Nothing recurses, so no call's stack use grows with the length of a topic or the depth of the
//! tree. [`MultiTrie::add`], [`MultiTrie::remove`] and [`MultiTrie::matching`] are loops that
//! follow one path from the root; [`MultiTrie::for_each`], [`MultiTrie::remove_peer`] and the
//! tree's destruction walk it with explicit stacks on the heap. A derived `Drop` of nested boxes
//! would recurse once per level, so [`MultiTrie`] implements `Drop` itself: it detaches children
//! into a vector before each node is freed, and nodes are only ever dropped without children.
//!
//! [`MultiTrie::remove_peer`] works in two passes. The first visits every node, takes the peer
//! out of its set and calls the callback; the tree's shape does not change, so a panicking
//! callback leaves a tree that is still correct, if not pruned. The second pass, run only if a set
//! became empty, prunes the tree bottom-up: it detaches each node's children, rebuilds the child
//! vector with the children that are still needed (reusing its allocation), then removes or merges
//! the node itself.
//!
//! # Memory
//!
//! Adding a prefix allocates at most two nodes (a new leaf and, when the prefix diverges inside an
//! edge, the node that splits that edge). Each node but the root has peers or two children, so
//! there are at most `2 × len() + 1` nodes, and the labels hold at most the total length of the
//! distinct prefixes: memory is O(distinct prefix bytes + distinct prefixes + (prefix, peer)
//! pairs). Removing gives memory back at once: a leaf without peers is freed, a node left with one
//! child and no peers is merged with that child, and a child or peer vector is shrunk when its
//! length falls to a quarter of its capacity.
//!
//! # Complexity
//!
//! With `n` the length of the argument: `matching` is O(n + reported peers) (at most one binary
//! search per node on the path and one byte comparison per byte, with edge labels compared as
//! whole slices), does not allocate, and does not depend on the number of subscriptions. `add`
//! and `remove` are O(n + log(peers of the prefix)) plus the copy of at most two labels and one
//! insertion or removal in a child vector and in a peer vector. `for_each` and `remove_peer` are
//! linear in the size of the tree plus the bytes they hand out: like libzmq, the map keeps no index
//! from a peer to its prefixes, so forgetting a peer visits every node.

use std::fmt;
use std::mem;

/// A map from byte-string prefixes to sets of peers, matched against message topics.
///
/// See the [module documentation](self) for the design.
pub(crate) struct MultiTrie<P> {
    /// The node of the empty prefix.
    root: Node<P>,
    /// The number of prefixes whose peer set is not empty.
    len: usize,
}

/// What [`MultiTrie::remove`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RemoveResult {
    /// The peer was not subscribed to the prefix: nothing changed.
    NotFound,
    /// The peer was the prefix's last one: the prefix is gone (an XPUB passes the cancel on).
    LastRemoved,
    /// The peer was removed and other peers are still subscribed to the prefix.
    Remaining,
}

/// One node of the radix tree.
struct Node<P> {
    /// The label of the edge from the parent: empty for the root only.
    label: Box<[u8]>,
    /// The peers subscribed to the prefix this node spells, sorted, without duplicates.
    peers: Vec<P>,
    /// The children, sorted by the first byte of their labels, at most one per byte.
    children: Vec<Edge<P>>,
}

/// A child of a node, with the first byte of its label kept inline for the binary search.
struct Edge<P> {
    /// `node.label[0]`.
    first: u8,
    /// The child.
    node: Box<Node<P>>,
}

/// A node being pruned by [`MultiTrie::prune`], with its children detached.
struct Frame<P> {
    /// The node, its `children` vector empty until the node is finished.
    edge: Edge<P>,
    /// The children not visited yet, in descending order of first byte so that `pop` gives the
    /// next one.
    pending: Vec<Edge<P>>,
    /// How many children were kept: they are the last entries of the shared survivor stack.
    kept: usize,
}

/// An empty one, as `new()`.
impl<P> Default for MultiTrie<P> {
    fn default() -> Self {
        Self {
            root: Node::empty(Box::default()),
            len: 0,
        }
    }
}

/// Shows the number of prefixes only, not the tree: it may be large.
impl<P> fmt::Debug for MultiTrie<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiTrie")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<P: Copy + Ord> MultiTrie<P> {
    /// An empty map. Does not allocate.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The number of prefixes with at least one peer (`ZMQ_TOPICS_COUNT`).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no peer is subscribed to anything.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Subscribes `peer` to `prefix`. Returns `true` when the prefix had no peer before (the
    /// caller passes the subscription on), `false` otherwise, also when `peer` was already
    /// subscribed to it: a peer is in a prefix's set once, however many times it subscribes.
    pub(crate) fn add(&mut self, prefix: &[u8], peer: P) -> bool {
        let mut node = &mut self.root;
        let mut rest = prefix;
        while let Some(&first) = rest.first() {
            let index = match node.find(first) {
                Ok(index) => index,
                Err(index) => {
                    node.children.insert(index, Edge::leaf(rest, peer));
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
        let first = node.peers.is_empty();
        if let Err(index) = node.peers.binary_search(&peer) {
            node.peers.insert(index, peer);
        }
        if first {
            self.len += 1;
        }
        first
    }

    /// Unsubscribes `peer` from `prefix`. Returns [`RemoveResult::NotFound`] (and changes nothing)
    /// when `peer` was not subscribed to it, [`RemoveResult::LastRemoved`] when it was the last
    /// peer of the prefix, [`RemoveResult::Remaining`] otherwise.
    pub(crate) fn remove(&mut self, prefix: &[u8], peer: P) -> RemoveResult {
        let Some(&first) = prefix.first() else {
            return release(&mut self.root.peers, peer, &mut self.len);
        };
        let mut parent = &mut self.root;
        let mut parent_is_root = true;
        let mut first = first;
        let mut rest = prefix;
        loop {
            let Ok(index) = parent.find(first) else {
                return RemoveResult::NotFound;
            };
            let label = &parent.children[index].node.label;
            if !rest.starts_with(label) {
                return RemoveResult::NotFound;
            }
            if label.len() < rest.len() {
                rest = &rest[label.len()..];
                first = rest[0];
                parent = &mut *parent.children[index].node;
                parent_is_root = false;
                continue;
            }
            let node = &mut *parent.children[index].node;
            let result = release(&mut node.peers, peer, &mut self.len);
            if result != RemoveResult::LastRemoved {
                return result;
            }
            match node.children.len() {
                0 => {
                    parent.children.remove(index);
                    shrink(&mut parent.children);
                    if !parent_is_root && parent.peers.is_empty() && parent.children.len() == 1 {
                        parent.merge_with_only_child();
                    }
                }
                1 => node.merge_with_only_child(),
                _ => {}
            }
            return result;
        }
    }

    /// Unsubscribes `peer` from every prefix, and calls `f` with each prefix that has no peer
    /// left because of it (the caller cancels it upstream), in lexicographic byte order.
    pub(crate) fn remove_peer(&mut self, peer: P, mut f: impl FnMut(&[u8])) {
        self.remove_peer_each(peer, |prefix, result| {
            if result == RemoveResult::LastRemoved {
                f(prefix);
            }
        });
    }

    /// Unsubscribes `peer` from every prefix, and calls `f` with each prefix `peer` was
    /// subscribed to, in lexicographic byte order, with [`RemoveResult::LastRemoved`] when no
    /// peer is left and [`RemoveResult::Remaining`] otherwise (libzmq's `rm (pipe, func, arg,
    /// call_on_uniq)` with `call_on_uniq` false, which `ZMQ_XPUB_VERBOSER` uses).
    ///
    /// The slice is only valid for the call. If `f` panics, the map stays usable: the peer is
    /// gone from the prefixes visited so far and still subscribed to the others.
    pub(crate) fn remove_peer_each(&mut self, peer: P, mut f: impl FnMut(&[u8], RemoveResult)) {
        let mut emptied = false;
        let mut prefix = Vec::new();
        // Nodes still to visit, each with the length of its parent's prefix.
        let mut stack: Vec<(&mut Node<P>, usize)> = vec![(&mut self.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            prefix.truncate(depth);
            prefix.extend_from_slice(&node.label);
            if node.peers.binary_search(&peer).is_ok() {
                let result = release(&mut node.peers, peer, &mut self.len);
                emptied |= result == RemoveResult::LastRemoved;
                f(&prefix, result);
            }
            let depth = prefix.len();
            stack.extend(
                node.children
                    .iter_mut()
                    .rev()
                    .map(|edge| (&mut *edge.node, depth)),
            );
        }
        if emptied {
            self.prune();
        }
    }

    /// Calls `f` with every peer of every prefix in the map that is a prefix of `data`, shortest
    /// prefix first. A peer subscribed to several of these prefixes is reported once for each:
    /// the caller removes the duplicates (as libzmq's distributor does when it marks a pipe as
    /// matching twice).
    ///
    /// Costs O(`data.len()` + reported peers) whatever the number of prefixes, and does not
    /// allocate.
    #[inline]
    pub(crate) fn matching(&self, data: &[u8], mut f: impl FnMut(P)) {
        let mut node = &self.root;
        let mut rest = data;
        loop {
            for &peer in &node.peers {
                f(peer);
            }
            let Some(&first) = rest.first() else {
                return;
            };
            let Ok(index) = node.find(first) else {
                return;
            };
            let child = &*node.children[index].node;
            if !rest.starts_with(&child.label) {
                return;
            }
            rest = &rest[child.label.len()..];
            node = child;
        }
    }

    /// Calls `f` once with each prefix in the map and its peers (sorted, not empty), in
    /// lexicographic byte order. The slices are only valid for the call.
    #[cfg(test)]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8], &[P])) {
        let mut prefix = Vec::new();
        // Nodes still to visit, each with the length of its parent's prefix.
        let mut stack: Vec<(&Node<P>, usize)> = vec![(&self.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            prefix.truncate(depth);
            prefix.extend_from_slice(&node.label);
            if !node.peers.is_empty() {
                f(&prefix, &node.peers);
            }
            let depth = prefix.len();
            stack.extend(node.children.iter().rev().map(|edge| (&*edge.node, depth)));
        }
    }

    /// Restores the invariants everywhere after peer sets were emptied in place: removes the
    /// nodes without peers or children and merges those without peers and with one child,
    /// bottom-up, without recursion. Allocates only its two stacks and the labels of merged
    /// nodes: each child vector is rebuilt in its own allocation.
    fn prune(&mut self) {
        // Children kept so far by the nodes on `frames` (and the root), in ascending order of
        // first byte within each node; each node's are on top of those of its ancestors.
        let mut survivors: Vec<Edge<P>> = Vec::new();
        let mut frames: Vec<Frame<P>> = Vec::new();
        let mut root_pending = mem::take(&mut self.root.children);
        root_pending.reverse();
        let mut root_kept = 0;
        loop {
            let next = match frames.last_mut() {
                Some(top) => top.pending.pop(),
                None => root_pending.pop(),
            };
            if let Some(mut edge) = next {
                let mut pending = mem::take(&mut edge.node.children);
                pending.reverse();
                frames.push(Frame {
                    edge,
                    pending,
                    kept: 0,
                });
                continue;
            }
            let Some(Frame {
                mut edge,
                pending,
                kept,
            }) = frames.pop()
            else {
                break;
            };
            let node = &mut *edge.node;
            node.children = reattach(pending, &mut survivors, kept);
            if node.peers.is_empty() {
                match node.children.len() {
                    // Dropped: it has no children any more.
                    0 => continue,
                    1 => node.merge_with_only_child(),
                    _ => {}
                }
            }
            survivors.push(edge);
            match frames.last_mut() {
                Some(top) => top.kept += 1,
                None => root_kept += 1,
            }
        }
        self.root.children = reattach(root_pending, &mut survivors, root_kept);
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
        let mut with_peers = 0;
        let mut stack = vec![(&self.root, true)];
        while let Some((node, is_root)) = stack.pop() {
            if !node.peers.is_empty() {
                with_peers += 1;
            }
            if !is_root {
                assert!(!node.label.is_empty(), "empty label below the root");
                assert!(
                    !node.peers.is_empty() || node.children.len() >= 2,
                    "redundant node"
                );
            }
            assert!(
                node.peers.windows(2).all(|pair| pair[0] < pair[1]),
                "peers out of order"
            );
            assert!(
                node.peers.capacity() <= 4 * node.peers.len() + 4,
                "peer slack"
            );
            assert!(
                node.children.capacity() <= 4 * node.children.len() + 4,
                "child slack"
            );
            for pair in node.children.windows(2) {
                assert!(pair[0].first < pair[1].first, "children out of order");
            }
            for edge in &node.children {
                assert_eq!(edge.first, edge.node.label[0], "first byte");
                stack.push((&edge.node, false));
            }
        }
        assert_eq!(with_peers, self.len, "len");
    }
}

impl<P> Drop for MultiTrie<P> {
    /// Frees the nodes one at a time from an explicit stack, so that deep trees do not overflow
    /// the thread's stack as a derived drop of the nested boxes would.
    fn drop(&mut self) {
        let mut stack: Vec<Box<Node<P>>> = mem::take(&mut self.root.children)
            .into_iter()
            .map(|edge| edge.node)
            .collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain(..).map(|edge| edge.node));
        }
    }
}

impl<P> Node<P> {
    /// A node with the given label, no peers and no children.
    fn empty(label: Box<[u8]>) -> Self {
        Self {
            label,
            peers: Vec::new(),
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
    /// and no peers, and gets one child that takes the rest of the label, the peers and the
    /// children.
    fn split(&mut self, at: usize) {
        debug_assert!(0 < at && at < self.label.len());
        let tail = Node {
            label: self.label[at..].into(),
            peers: mem::take(&mut self.peers),
            children: mem::take(&mut self.children),
        };
        self.label = self.label[..at].into();
        self.children = vec![Edge {
            first: tail.label[0],
            node: Box::new(tail),
        }];
    }

    /// Absorbs the only child: its label is appended to this node's, and its peers and children
    /// become this node's. The node must have no peers and exactly one child.
    fn merge_with_only_child(&mut self) {
        debug_assert!(self.peers.is_empty() && self.children.len() == 1);
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
        self.peers = mem::take(&mut child.peers);
        self.children = mem::take(&mut child.children);
    }
}

impl<P> Edge<P> {
    /// A new leaf spelling `label` (not empty), with one peer.
    fn leaf(label: &[u8], peer: P) -> Self {
        let mut node = Node::empty(label.into());
        node.peers = vec![peer];
        Self {
            first: label[0],
            node: Box::new(node),
        }
    }
}

/// Takes `peer` out of a prefix's `peers` and, when that empties them, one from the map's `len`.
fn release<P: Copy + Ord>(peers: &mut Vec<P>, peer: P, len: &mut usize) -> RemoveResult {
    let Ok(index) = peers.binary_search(&peer) else {
        return RemoveResult::NotFound;
    };
    peers.remove(index);
    shrink(peers);
    if !peers.is_empty() {
        return RemoveResult::Remaining;
    }
    *len -= 1;
    RemoveResult::LastRemoved
}

/// The child vector of a node finished by [`MultiTrie::prune`]: the node's own (emptied) vector
/// `pending`, refilled with the last `kept` entries of `survivors`.
fn reattach<P>(
    mut pending: Vec<Edge<P>>,
    survivors: &mut Vec<Edge<P>>,
    kept: usize,
) -> Vec<Edge<P>> {
    debug_assert!(pending.is_empty());
    pending.extend(survivors.drain(survivors.len() - kept..));
    shrink(&mut pending);
    pending
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
    use std::collections::{BTreeMap, BTreeSet};

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

    type Model = BTreeMap<Vec<u8>, BTreeSet<u64>>;

    /// What `for_each` visits, checking that no prefix is visited twice.
    fn listed(map: &MultiTrie<u64>) -> Model {
        let mut listed = Model::new();
        map.for_each(|prefix, peers| {
            assert!(!peers.is_empty());
            let set: BTreeSet<u64> = peers.iter().copied().collect();
            assert_eq!(set.len(), peers.len(), "duplicate peer");
            assert!(
                listed.insert(prefix.to_vec(), set).is_none(),
                "visited twice"
            );
        });
        listed
    }

    /// The peers `matching` reports, as a set.
    fn matched(map: &MultiTrie<u64>, data: &[u8]) -> BTreeSet<u64> {
        let mut set = BTreeSet::new();
        map.matching(data, |peer| {
            set.insert(peer);
        });
        set
    }

    /// The peers `matching` reports, in order, with repetitions.
    fn matched_list(map: &MultiTrie<u64>, data: &[u8]) -> Vec<u64> {
        let mut list = Vec::new();
        map.matching(data, |peer| list.push(peer));
        list
    }

    /// The prefixes `remove_peer` reports.
    fn remove_peer(map: &mut MultiTrie<u64>, peer: u64) -> Vec<Vec<u8>> {
        let mut cancelled = Vec::new();
        map.remove_peer(peer, |prefix| cancelled.push(prefix.to_vec()));
        cancelled
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
    fn empty_map_matches_nothing() {
        let mut map = MultiTrie::<u64>::new();
        assert!(map.is_empty());
        assert!(matched_list(&map, b"").is_empty());
        assert!(matched_list(&map, b"topic").is_empty());
        assert!(listed(&map).is_empty());
        assert!(remove_peer(&mut map, 1).is_empty());
        assert_eq!(map.remove(b"x", 1), RemoveResult::NotFound);
        assert_eq!(map.node_count(), 1);
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let mut map = MultiTrie::new();
        assert!(map.add(b"", 1));
        assert!(!map.add(b"", 2));
        assert_eq!(matched_list(&map, b""), [1, 2]);
        assert_eq!(matched_list(&map, b"anything"), [1, 2]);
        assert_eq!(map.len(), 1);
        assert_eq!(map.remove(b"", 1), RemoveResult::Remaining);
        assert_eq!(map.remove(b"", 1), RemoveResult::NotFound);
        assert_eq!(map.remove(b"", 2), RemoveResult::LastRemoved);
        assert_eq!(map.remove(b"", 2), RemoveResult::NotFound);
        assert!(map.is_empty());
        map.assert_invariants();
    }

    #[test]
    fn a_peer_is_in_a_set_once() {
        let mut map = MultiTrie::new();
        assert!(map.add(b"abc", 7));
        assert!(!map.add(b"abc", 7));
        assert_eq!(matched_list(&map, b"abcd"), [7]);
        assert_eq!(map.remove(b"abc", 7), RemoveResult::LastRemoved);
        assert_eq!(map.remove(b"abc", 7), RemoveResult::NotFound);
        assert_eq!(map.node_count(), 1);
    }

    #[test]
    fn matching_reports_every_matching_prefix() {
        let mut map = MultiTrie::new();
        assert!(map.add(b"a", 1));
        assert!(map.add(b"abc", 1));
        assert!(!map.add(b"abc", 2));
        assert!(map.add(b"abd", 3));
        assert!(map.add(b"b", 4));
        // Shortest prefix first; peer 1 once per matching prefix.
        assert_eq!(matched_list(&map, b"abcd"), [1, 1, 2]);
        assert_eq!(matched_list(&map, b"ab"), [1]);
        assert_eq!(matched_list(&map, b"abd"), [1, 3]);
        assert_eq!(matched_list(&map, b"b"), [4]);
        assert!(matched_list(&map, b"c").is_empty());
        assert!(matched_list(&map, b"").is_empty());
    }

    #[test]
    fn split_edge_in_the_middle() {
        let mut map = MultiTrie::new();
        assert!(map.add(b"abcdef", 1));
        assert!(map.add(b"abcxyz", 2));
        map.assert_invariants();
        // root -> "abc" -> {"def", "xyz"}
        assert_eq!(map.node_count(), 4);
        assert!(matched_list(&map, b"abc").is_empty());
        assert_eq!(matched_list(&map, b"abcxyz!"), [2]);
        // The interior node "abc" is not a prefix of the map.
        assert_eq!(map.remove(b"abc", 1), RemoveResult::NotFound);
        assert_eq!(map.remove(b"abcdef", 2), RemoveResult::NotFound);
        assert_eq!(map.remove(b"abcde", 1), RemoveResult::NotFound);
        assert_eq!(map.remove(b"abcdef", 1), RemoveResult::LastRemoved);
        map.assert_invariants();
        assert_eq!(map.node_count(), 2);
        assert_eq!(matched_list(&map, b"abcxyz"), [2]);
    }

    #[test]
    fn prefix_ending_inside_or_at_an_edge() {
        let mut map = MultiTrie::new();
        assert!(map.add(b"abcdef", 1));
        // Ends inside the edge "abcdef": the edge is split.
        assert!(map.add(b"abc", 2));
        map.assert_invariants();
        assert_eq!(map.node_count(), 3);
        // Equal to an existing edge: no split.
        assert!(!map.add(b"abc", 3));
        assert_eq!(map.node_count(), 3);
        assert_eq!(map.remove(b"abc", 2), RemoveResult::Remaining);
        assert_eq!(map.remove(b"abc", 3), RemoveResult::LastRemoved);
        map.assert_invariants();
        assert_eq!(map.node_count(), 2);
        assert_eq!(matched_list(&map, b"abcdefg"), [1]);
    }

    #[test]
    fn remove_then_add_again() {
        let mut map = MultiTrie::new();
        for _ in 0..3 {
            assert!(map.add(b"abc", 1));
            assert!(map.add(b"abd", 1));
            assert_eq!(map.remove(b"abc", 1), RemoveResult::LastRemoved);
            assert_eq!(map.remove(b"abd", 1), RemoveResult::LastRemoved);
            assert!(matched_list(&map, b"abc").is_empty());
            assert_eq!(map.node_count(), 1);
        }
    }

    #[test]
    fn remove_peer_reports_the_prefixes_it_empties() {
        let mut map = MultiTrie::new();
        for (prefix, peer) in [
            (&b""[..], 1),
            (b"a", 1),
            (b"ab", 1),
            (b"ab", 2),
            (b"abc", 1),
        ] {
            map.add(prefix, peer);
        }
        map.add(b"b", 2);
        let mut each = Vec::new();
        map.remove_peer_each(1, |prefix, result| each.push((prefix.to_vec(), result)));
        assert_eq!(
            each,
            [
                (b"".to_vec(), RemoveResult::LastRemoved),
                (b"a".to_vec(), RemoveResult::LastRemoved),
                (b"ab".to_vec(), RemoveResult::Remaining),
                (b"abc".to_vec(), RemoveResult::LastRemoved),
            ]
        );
        map.assert_invariants();
        assert_eq!(map.len(), 2);
        // root -> {"ab", "b"}
        assert_eq!(map.node_count(), 3);
        assert_eq!(matched_list(&map, b"abc"), [2]);
        assert!(remove_peer(&mut map, 1).is_empty());
        assert_eq!(remove_peer(&mut map, 2), [b"ab".to_vec(), b"b".to_vec()]);
        assert!(map.is_empty());
        assert_eq!(map.node_count(), 1);
    }

    #[test]
    fn a_panicking_callback_leaves_a_usable_map() {
        let mut map = MultiTrie::new();
        for (prefix, peer) in [(&b"a"[..], 1), (b"b", 1), (b"c", 1), (b"c", 2), (b"d", 1)] {
            map.add(prefix, peer);
        }
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.remove_peer(1, |prefix| assert_ne!(prefix, b"b"));
        }));
        assert!(panicked.is_err());
        // Peer 1 is gone from "a" and "b", and still subscribed to "c" and "d".
        assert_eq!(map.len(), 2);
        assert!(matched_list(&map, b"a").is_empty());
        assert!(matched_list(&map, b"b").is_empty());
        assert_eq!(matched_list(&map, b"c"), [1, 2]);
        assert_eq!(map.remove(b"b", 1), RemoveResult::NotFound);
        assert!(map.add(b"b", 3));
        assert_eq!(remove_peer(&mut map, 1), [b"d".to_vec()]);
        map.assert_invariants();
        assert_eq!(remove_peer(&mut map, 3), [b"b".to_vec()]);
        assert_eq!(remove_peer(&mut map, 2), [b"c".to_vec()]);
        assert_eq!(map.node_count(), 1);
    }

    #[test]
    fn for_each_lists_each_prefix_once_in_order() {
        let mut map = MultiTrie::new();
        for (prefix, peer) in [
            (&b"b"[..], 2),
            (b"a", 1),
            (b"abc", 3),
            (b"", 9),
            (b"abc", 1),
        ] {
            map.add(prefix, peer);
        }
        let mut seen = Vec::new();
        map.for_each(|prefix, peers| seen.push((prefix.to_vec(), peers.to_vec())));
        assert_eq!(
            seen,
            [
                (b"".to_vec(), vec![9]),
                (b"a".to_vec(), vec![1]),
                (b"abc".to_vec(), vec![1, 3]),
                (b"b".to_vec(), vec![2]),
            ]
        );
    }

    #[test]
    fn agrees_with_a_naive_model() {
        for seed in [1, 0x9e37_79b9_7f4a_7c15, 42, 7_777_777] {
            let mut rng = XorShift(seed);
            let mut map = MultiTrie::new();
            let mut model = Model::new();
            for step in 0..5_000 {
                match rng.below(20) {
                    0..=7 => {
                        let prefix = rng.topic(5);
                        let peer = rng.below(5);
                        let set = model.entry(prefix.clone()).or_default();
                        let first = set.is_empty();
                        set.insert(peer);
                        assert_eq!(map.add(&prefix, peer), first, "add {prefix:?} {peer}");
                    }
                    8..=15 => {
                        let prefix = rng.topic(5);
                        let peer = rng.below(5);
                        let set = model.entry(prefix.clone()).or_default();
                        let expected = if !set.remove(&peer) {
                            RemoveResult::NotFound
                        } else if set.is_empty() {
                            RemoveResult::LastRemoved
                        } else {
                            RemoveResult::Remaining
                        };
                        if set.is_empty() {
                            model.remove(&prefix);
                        }
                        assert_eq!(map.remove(&prefix, peer), expected, "rm {prefix:?} {peer}");
                    }
                    16 => {
                        let peer = rng.below(5);
                        let mut expected = Vec::new();
                        model.retain(|prefix, set| {
                            if set.remove(&peer) && set.is_empty() {
                                expected.push(prefix.clone());
                                return false;
                            }
                            true
                        });
                        assert_eq!(remove_peer(&mut map, peer), expected, "remove_peer {peer}");
                    }
                    _ => {
                        let data = rng.topic(7);
                        let expected: BTreeSet<u64> = model
                            .iter()
                            .filter(|(prefix, _)| data.starts_with(prefix))
                            .flat_map(|(_, set)| set.iter().copied())
                            .collect();
                        assert_eq!(matched(&map, &data), expected, "matching {data:?}");
                    }
                }
                map.assert_invariants();
                assert_eq!(map.len(), model.len());
                if step % 64 == 0 {
                    assert_eq!(listed(&map), model);
                }
            }
            assert_eq!(listed(&map), model);
            for peer in 0..5 {
                remove_peer(&mut map, peer);
                map.assert_invariants();
            }
            assert!(map.is_empty());
            assert_eq!(map.node_count(), 1);
        }
    }

    #[test]
    fn memory_is_given_back() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let mut map = MultiTrie::new();
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
            if map.add(&topic, 1) {
                topics.push(topic);
            }
        }
        map.assert_invariants();
        assert_eq!(map.len(), 100_000);
        assert!(map.node_count() <= 2 * 100_000 + 1);
        assert_eq!(map.root.children.len(), 256);
        for i in 0..topics.len() {
            let j = i + rng.below((topics.len() - i) as u64) as usize;
            topics.swap(i, j);
            assert_eq!(map.remove(&topics[i], 1), RemoveResult::LastRemoved);
            if i % 10_000 == 0 {
                map.assert_invariants();
            }
        }
        assert!(map.is_empty());
        assert_eq!(map.node_count(), 1);
        assert!(map.root.children.capacity() <= 4);

        // The same through remove_peer, with a second peer on every other topic.
        for (i, topic) in topics.iter().enumerate() {
            map.add(topic, 1);
            if i % 2 == 0 {
                map.add(topic, 2);
            }
        }
        assert_eq!(remove_peer(&mut map, 1).len(), 50_000);
        map.assert_invariants();
        assert_eq!(map.len(), 50_000);
        assert_eq!(remove_peer(&mut map, 2).len(), 50_000);
        assert!(map.is_empty());
        assert_eq!(map.node_count(), 1);
        assert!(map.root.children.capacity() <= 4);
    }

    #[test]
    fn huge_topic_on_a_small_stack() {
        on_small_stack(|| {
            let topic = vec![b'x'; 8 << 20];
            let mut map = MultiTrie::new();
            assert!(map.add(&topic, 1));
            assert_eq!(map.node_count(), 2);
            assert_eq!(matched_list(&map, &topic), [1]);
            assert!(matched_list(&map, &topic[..topic.len() - 1]).is_empty());
            let mut other = topic[..4 << 20].to_vec();
            other.push(b'y');
            assert!(map.add(&other, 2));
            map.assert_invariants();
            assert_eq!(map.remove(&other, 2), RemoveResult::LastRemoved);
            assert_eq!(map.node_count(), 2);
            assert_eq!(map.remove(&topic, 1), RemoveResult::LastRemoved);
            assert_eq!(map.node_count(), 1);
            map.add(&topic, 1);
            map.add(&other, 1);
            let mut sizes = Vec::new();
            map.remove_peer(1, |prefix| sizes.push(prefix.len()));
            assert_eq!(sizes, [8 << 20, (4 << 20) + 1]);
            assert_eq!(map.node_count(), 1);
            // And drop one with content.
            map.add(&topic, 1);
            map.add(&other, 2);
        });
    }

    #[test]
    fn deep_tree_on_a_small_stack() {
        on_small_stack(|| {
            const DEPTH: usize = 10_000;
            let a = vec![b'a'; DEPTH];
            // Longest first: each prefix splits the edge above the one added before, so building
            // is one step per prefix. The result is a chain of DEPTH one-byte nodes, whose peers
            // alternate between 0 and 1.
            let build = || {
                let mut map = MultiTrie::new();
                for len in (1..=DEPTH).rev() {
                    assert!(map.add(&a[..len], len as u64 % 2));
                }
                assert_eq!(map.node_count(), DEPTH + 1);
                map
            };
            let map = build();
            map.assert_invariants();
            assert_eq!(matched_list(&map, &a).len(), DEPTH);
            let mut count = 0;
            map.for_each(|prefix, _| {
                count += 1;
                assert_eq!(prefix.len(), count);
            });
            assert_eq!(count, DEPTH);
            drop(map);

            let mut map = build();
            // Walks the whole chain down to its last node.
            let below = [&a[..], b"b"].concat();
            assert!(map.add(&below, 2));
            assert_eq!(map.remove(&below, 2), RemoveResult::LastRemoved);
            // Every other node loses its only peer: the chain is pruned and merged.
            assert_eq!(remove_peer(&mut map, 0).len(), DEPTH / 2);
            map.assert_invariants();
            assert_eq!(map.node_count(), DEPTH / 2 + 1);
            assert_eq!(matched_list(&map, &a).len(), DEPTH / 2);
            assert_eq!(remove_peer(&mut map, 1).len(), DEPTH / 2);
            assert_eq!(map.node_count(), 1);
            drop(map);
        });
    }
}
