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
//! The map is a radix tree (a compressed trie). Every edge carries a non-empty label, so a topic
//! that shares nothing with the others is a single node however long it is, and the concatenated
//! labels from the root to a node spell the prefix that node stands for. A node stores the peers
//! subscribed to its prefix (none for a node that only exists because two longer prefixes share
//! its label) and its children.
//!
//! The layout follows what a lookup reads, as in [`Trie`](super::trie::Trie) (see
//! [`radix`](super::radix)): a node's children are stored by value in one array, sorted by
//! the first byte of their labels (no two share one); the node keeps these first bytes,
//! its *keys*, and a child keeps only the rest of its label, its *tail*. Tail and keys are one byte
//! string inside the node, on the heap only when they are longer than 21 bytes. With a peer of 8
//! bytes a node is 64 bytes, aligned to a cache line, so a lookup reads one cache line per level
//! of the tree: the peers, the keys (scanned for the next byte of the topic: linearly up to 16
//! keys, by binary search beyond), and the pointer to the children; then the chosen child's line,
//! whose tail is compared with the topic (not at all for a one-byte label). A 256-slot table would
//! find the child with one load, but would cost 2 KiB of pointers per node whatever its fan-out,
//! so memory would follow the number of nodes times 256 instead of the number of subscriptions
//! (libzmq's tables, which span the range of the children's first bytes, have the same worst
//! case).
//!
//! A prefix's peers are iterated on every published message and are few in the common case: one
//! peer is kept inline in the node, and two or more are a sorted array without duplicates, of
//! exactly their size, where a binary search finds a peer.
//!
//! The tree keeps these invariants between calls:
//!
//! - the root has no label (an empty tail and no key); every other node's label is its key in its
//!   parent followed by its tail;
//! - every node other than the root either has peers or has at least two children (a node with one
//!   child and no peers is merged with that child, a node with neither is removed);
//! - a node has as many keys as children, in ascending order; a child array's capacity is at
//!   most four times its length, plus four (it doubles when full, and is shrunk
//!   when its length falls to a quarter of its capacity); peer arrays and heap bytes are
//!   allocated to their exact length, a single peer is inline, and tail and keys are inline
//!   exactly when they fit.
//!
//! (Only a callback of [`MultiTrie::remove_peer`] that panics can leave redundant nodes behind;
//! the next `remove_peer` that empties a set removes them.)
//!
//! # No recursion
//!
//! Nothing recurses, so no call's stack use grows with the length of a topic or the depth of the
//! tree. [`MultiTrie::add`], [`MultiTrie::remove`] and [`MultiTrie::matching`] are loops that
//! follow one path from the root; [`MultiTrie::for_each`], [`MultiTrie::remove_peer`] and the
//! tree's destruction walk it with explicit stacks on the heap. A derived `Drop` of nested arrays
//! would recurse once per level, so [`MultiTrie`] implements `Drop` itself: it detaches each
//! node's children before the node is freed, and nodes are only ever dropped without children.
//!
//! [`MultiTrie::remove_peer`] works in two passes. The first visits every node, takes the peer
//! out of its set and calls the callback; the tree's shape does not change, so a panicking
//! callback leaves a tree that is still correct, if not pruned. The second pass, run only if a set
//! became empty, prunes the tree bottom-up: it detaches each node's children, rebuilds the child
//! array with the children that are still needed (reusing its allocation) and the keys with their
//! keys, then removes or merges the node itself.
//!
//! # Memory
//!
//! Adding a prefix creates at most two nodes (a new leaf and, when the prefix diverges inside an
//! edge, the node that splits that edge). Each node but the root has peers or two children, so
//! there are at most `2 × len() + 1` nodes, and the heap bytes hold at most the total length of
//! the distinct prefixes plus one key per node: memory is O(distinct prefix bytes + distinct
//! prefixes + (prefix, peer) pairs). Removing gives memory back at once: a leaf without peers is
//! removed from its parent's array, which is shrunk when its length falls to a quarter of its
//! capacity, a node left with one child and no peers is merged with that child, and a peer array
//! is reallocated to its new length.
//!
//! # Complexity
//!
//! With `n` the length of the argument: `matching` is O(n + reported peers) (at most one search
//! of at most 256 keys per node on the path and one byte comparison per byte, with tails compared
//! as whole slices), does not allocate, and does not depend on the number of subscriptions. `add`
//! and `remove` are O(n + fan-out + peers of the prefix) plus the copy of at most two labels, one
//! child array, one key string and one peer array. `for_each` and `remove_peer` are linear in the
//! size of the tree plus the bytes they hand out: like libzmq, the map keeps no index from a peer
//! to its prefixes, so forgetting a peer visits every node.

use std::fmt;
use std::mem;
use std::slice;

use super::radix::{
    Bytes, common_prefix_len, grow_insert, insert_at, remove_at, shrink, shrink_remove, starts_with,
};

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

/// The bytes inline in a node: 21, so that a node with 8-byte peers is 64 bytes.
const INLINE: usize = 21;

/// One node of the radix tree: 64 bytes, one cache line, with 8-byte peers.
#[repr(align(64))]
struct Node<P> {
    /// The tail of the label and the children's keys.
    bytes: Bytes<INLINE>,
    /// The peers subscribed to the prefix this node spells.
    peers: Peers<P>,
    /// The children, in the order of their keys.
    children: Vec<Node<P>>,
}

const _: () = assert!(mem::size_of::<Node<u64>>() == 64);

/// The peers of a prefix.
enum Peers<P> {
    /// Exactly one.
    One(P),
    /// None (empty) or at least two, sorted, without duplicates.
    Many(Box<[P]>),
}

/// A node being pruned by [`MultiTrie::prune`], with its children detached.
struct Frame<P> {
    /// The node's key in its parent.
    key: u8,
    /// The node, its `children` empty until the node is finished; its keys are still those of
    /// all its children.
    node: Node<P>,
    /// The children not visited yet, in descending order of key so that `pop` gives the next
    /// one.
    pending: Vec<Node<P>>,
    /// How many children were kept: they are the last entries of the shared survivor stack.
    kept: usize,
}

/// An empty one, as `new()`.
impl<P> Default for MultiTrie<P> {
    fn default() -> Self {
        Self {
            root: Node::leaf(&[], Peers::none()),
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
        while let Some((&first, after)) = rest.split_first() {
            let index = match node.bytes.find(first) {
                Ok(index) => index,
                Err(index) => {
                    node.insert_child(index, first, Node::leaf(after, Peers::One(peer)));
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
        let first = node.peers.is_empty();
        node.peers.insert(peer);
        if first {
            self.len += 1;
        }
        first
    }

    /// Unsubscribes `peer` from `prefix`. Returns [`RemoveResult::NotFound`] (and changes nothing)
    /// when `peer` was not subscribed to it, [`RemoveResult::LastRemoved`] when it was the last
    /// peer of the prefix, [`RemoveResult::Remaining`] otherwise.
    pub(crate) fn remove(&mut self, prefix: &[u8], peer: P) -> RemoveResult {
        if prefix.is_empty() {
            return release(&mut self.root.peers, peer, &mut self.len);
        }
        let mut parent = &mut self.root;
        let mut parent_is_root = true;
        let mut rest = prefix;
        while let Some((&first, after)) = rest.split_first() {
            let Ok(index) = parent.bytes.find(first) else {
                return RemoveResult::NotFound;
            };
            let tail = parent.children[index].bytes.tail();
            if !after.starts_with(tail) {
                return RemoveResult::NotFound;
            }
            if tail.len() < after.len() {
                rest = &after[tail.len()..];
                parent = &mut parent.children[index];
                parent_is_root = false;
                continue;
            }
            let node = &mut parent.children[index];
            let result = release(&mut node.peers, peer, &mut self.len);
            if result != RemoveResult::LastRemoved {
                return result;
            }
            match node.children.len() {
                0 => {
                    parent.remove_child(index);
                    if !parent_is_root && parent.peers.is_empty() && parent.children.len() == 1 {
                        parent.merge_with_only_child();
                    }
                }
                1 => node.merge_with_only_child(),
                _ => {}
            }
            return result;
        }
        RemoveResult::NotFound
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
        // Nodes still to visit, each with the length of its parent's prefix and its key.
        let mut stack: Vec<(&mut Node<P>, usize, Option<u8>)> = vec![(&mut self.root, 0, None)];
        while let Some((node, depth, key)) = stack.pop() {
            prefix.truncate(depth);
            prefix.extend(key);
            prefix.extend_from_slice(node.bytes.tail());
            if node.peers.contains(peer) {
                let result = release(&mut node.peers, peer, &mut self.len);
                emptied |= result == RemoveResult::LastRemoved;
                f(&prefix, result);
            }
            let depth = prefix.len();
            let Node {
                bytes, children, ..
            } = node;
            stack.extend(
                bytes
                    .keys()
                    .iter()
                    .zip(children.iter_mut())
                    .rev()
                    .map(|(&key, child)| (child, depth, Some(key))),
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
            for &peer in node.peers.as_slice() {
                f(peer);
            }
            let Some((&first, after)) = rest.split_first() else {
                return;
            };
            let Some(child) = node
                .bytes
                .position(first)
                .and_then(|index| node.children.get(index))
            else {
                return;
            };
            let tail = child.bytes.tail();
            if !starts_with(after, tail) {
                return;
            }
            rest = &after[tail.len()..];
            node = child;
        }
    }

    /// Calls `f` once with each prefix in the map and its peers (sorted, not empty), in
    /// lexicographic byte order. The slices are only valid for the call.
    #[cfg(test)]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8], &[P])) {
        let mut prefix = Vec::new();
        // Nodes still to visit, each with the length of its parent's prefix and its key.
        let mut stack: Vec<(&Node<P>, usize, Option<u8>)> = vec![(&self.root, 0, None)];
        while let Some((node, depth, key)) = stack.pop() {
            prefix.truncate(depth);
            prefix.extend(key);
            prefix.extend_from_slice(node.bytes.tail());
            if !node.peers.is_empty() {
                f(&prefix, node.peers.as_slice());
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

    /// Restores the invariants everywhere after peer sets were emptied in place: removes the
    /// nodes without peers or children and merges those without peers and with one child,
    /// bottom-up, without recursion. Allocates only its stacks and the bytes of the nodes whose
    /// keys or labels change: each child array is rebuilt in its own allocation.
    fn prune(&mut self) {
        // Children kept so far by the nodes on `frames` (and the root), in ascending order of key
        // within each node; each node's are on top of those of its ancestors. `keys` holds their
        // keys.
        let mut survivors: Vec<Node<P>> = Vec::new();
        let mut keys: Vec<u8> = Vec::new();
        let mut frames: Vec<Frame<P>> = Vec::new();
        let mut root_pending = mem::take(&mut self.root.children);
        root_pending.reverse();
        let mut root_kept = 0;
        loop {
            let next = match frames.last_mut() {
                Some(top) => top
                    .pending
                    .pop()
                    .map(|child| (child, nth_last_key(&top.node, top.pending.len()))),
                None => root_pending
                    .pop()
                    .map(|child| (child, nth_last_key(&self.root, root_pending.len()))),
            };
            if let Some((mut node, key)) = next {
                let mut pending = mem::take(&mut node.children);
                pending.reverse();
                frames.push(Frame {
                    key,
                    node,
                    pending,
                    kept: 0,
                });
                continue;
            }
            let Some(Frame {
                key,
                mut node,
                pending,
                kept,
            }) = frames.pop()
            else {
                break;
            };
            reattach(&mut node, pending, &mut survivors, &mut keys, kept);
            if node.peers.is_empty() {
                match node.children.len() {
                    // Dropped: it has no children any more.
                    0 => continue,
                    1 => node.merge_with_only_child(),
                    _ => {}
                }
            }
            survivors.push(node);
            keys.push(key);
            match frames.last_mut() {
                Some(top) => top.kept += 1,
                None => root_kept += 1,
            }
        }
        reattach(
            &mut self.root,
            root_pending,
            &mut survivors,
            &mut keys,
            root_kept,
        );
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

    /// The bytes the tree allocated on the heap: child arrays, peer arrays and heap bytes.
    #[cfg(test)]
    fn heap_size(&self) -> usize {
        let mut size = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            size += node.children.capacity() * mem::size_of::<Node<P>>() + node.bytes.heap_size();
            if let Peers::Many(peers) = &node.peers {
                size += mem::size_of_val(&**peers);
            }
            stack.extend(node.children.iter());
        }
        size
    }

    /// Panics unless the tree keeps the invariants listed in the module documentation.
    #[cfg(test)]
    fn assert_invariants(&self) {
        assert!(self.root.bytes.tail().is_empty(), "root label");
        let mut with_peers = 0;
        let mut stack = vec![(&self.root, true)];
        while let Some((node, is_root)) = stack.pop() {
            if !node.peers.is_empty() {
                with_peers += 1;
            }
            if !is_root {
                assert!(
                    !node.peers.is_empty() || node.children.len() >= 2,
                    "redundant node"
                );
            }
            if let Peers::Many(peers) = &node.peers {
                assert_ne!(peers.len(), 1, "one peer not inline");
                assert!(
                    peers.windows(2).all(|pair| pair[0] < pair[1]),
                    "peers out of order"
                );
            }
            node.bytes.assert_canonical();
            assert_eq!(node.bytes.keys().len(), node.children.len(), "keys");
            assert!(
                node.children.capacity() <= 4 * node.children.len() + 4,
                "child slack"
            );
            stack.extend(node.children.iter().map(|child| (child, false)));
        }
        assert_eq!(with_peers, self.len, "len");
    }
}

impl<P> Drop for MultiTrie<P> {
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

impl<P> Node<P> {
    /// A node with the given tail and peers, and no children.
    fn leaf(tail: &[u8], peers: Peers<P>) -> Self {
        Self {
            bytes: Bytes::new(&[tail], &[]),
            peers,
            children: Vec::new(),
        }
    }

    /// Inserts `child`, whose key is `key`, at `index`.
    fn insert_child(&mut self, index: usize, key: u8, child: Node<P>) {
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
    /// keeps that much and no peers, and gets one child that takes the rest of the label, the
    /// peers and the children.
    fn split(&mut self, at: usize) {
        let (tail, keys) = (self.bytes.tail(), self.bytes.keys());
        debug_assert!(at < tail.len());
        let key = tail[at];
        let lower = Node {
            bytes: Bytes::new(&[&tail[at + 1..]], keys),
            peers: mem::replace(&mut self.peers, Peers::none()),
            children: mem::take(&mut self.children),
        };
        self.bytes = Bytes::new(&[&tail[..at]], &[key]);
        self.children = vec![lower];
    }

    /// Absorbs the only child: its key and tail are appended to this node's tail, and its peers,
    /// keys and children become this node's. The node must have no peers and exactly one child.
    fn merge_with_only_child(&mut self) {
        debug_assert!(self.peers.is_empty() && self.children.len() == 1);
        let Some(mut child) = mem::take(&mut self.children).pop() else {
            return;
        };
        self.bytes = Bytes::new(
            &[self.bytes.tail(), self.bytes.keys(), child.bytes.tail()],
            child.bytes.keys(),
        );
        self.peers = mem::replace(&mut child.peers, Peers::none());
        self.children = mem::take(&mut child.children);
    }
}

impl<P> Peers<P> {
    /// No peer. Does not allocate.
    fn none() -> Self {
        Self::Many(Box::default())
    }

    /// Whether there is no peer.
    fn is_empty(&self) -> bool {
        matches!(self, Self::Many(peers) if peers.is_empty())
    }

    /// The peers, sorted.
    #[inline]
    fn as_slice(&self) -> &[P] {
        match self {
            Self::One(peer) => slice::from_ref(peer),
            Self::Many(peers) => peers,
        }
    }
}

impl<P: Copy + Ord> Peers<P> {
    /// Whether `peer` is one of them.
    fn contains(&self, peer: P) -> bool {
        self.as_slice().binary_search(&peer).is_ok()
    }

    /// Adds `peer`, unless it is one of them already.
    fn insert(&mut self, peer: P) {
        match self {
            Self::Many(peers) if peers.is_empty() => *self = Self::One(peer),
            Self::One(one) if *one == peer => {}
            Self::One(one) => *self = Self::Many(Box::new([peer.min(*one), peer.max(*one)])),
            Self::Many(peers) => {
                if let Err(index) = peers.binary_search(&peer) {
                    insert_at(peers, index, peer);
                }
            }
        }
    }

    /// Removes `peer`. Returns whether it was one of them.
    fn remove(&mut self, peer: P) -> bool {
        match self {
            Self::One(one) if *one == peer => *self = Self::none(),
            Self::One(_) => return false,
            Self::Many(peers) => {
                let Ok(index) = peers.binary_search(&peer) else {
                    return false;
                };
                remove_at(peers, index);
                if let [last] = **peers {
                    *self = Self::One(last);
                }
            }
        }
        true
    }
}

/// Takes `peer` out of a prefix's `peers` and, when that empties them, one from the map's `len`.
fn release<P: Copy + Ord>(peers: &mut Peers<P>, peer: P, len: &mut usize) -> RemoveResult {
    if !peers.remove(peer) {
        return RemoveResult::NotFound;
    }
    if !peers.is_empty() {
        return RemoveResult::Remaining;
    }
    *len -= 1;
    RemoveResult::LastRemoved
}

/// The key of the child that comes `after` children before the end of `node`'s keys.
fn nth_last_key<P>(node: &Node<P>, after: usize) -> u8 {
    let keys = node.bytes.keys();
    keys[keys.len() - after - 1]
}

/// Finishes a node of [`MultiTrie::prune`]: its child array becomes its own (emptied) vector
/// `pending` refilled with the last `kept` entries of `survivors`, and its keys the last `kept`
/// entries of `keys`.
fn reattach<P>(
    node: &mut Node<P>,
    mut pending: Vec<Node<P>>,
    survivors: &mut Vec<Node<P>>,
    keys: &mut Vec<u8>,
    kept: usize,
) {
    debug_assert!(pending.is_empty());
    let from = survivors.len() - kept;
    pending.extend(survivors.drain(from..));
    shrink(&mut pending);
    node.children = pending;
    node.bytes.set_keys(&keys[from..]);
    keys.truncate(from);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::util::radix::XorShift;
    use std::collections::{BTreeMap, BTreeSet};

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
            let mut map = MultiTrie::new();
            let mut model = Model::new();
            for step in 0..5_000 {
                match rng.below(20) {
                    0..=7 => {
                        let prefix = topic(&mut rng, 5);
                        let peer = rng.below(5);
                        let set = model.entry(prefix.clone()).or_default();
                        let first = set.is_empty();
                        set.insert(peer);
                        assert_eq!(map.add(&prefix, peer), first, "add {prefix:?} {peer}");
                    }
                    8..=15 => {
                        let prefix = topic(&mut rng, 5);
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
                        let data = topic(&mut rng, 7);
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
                // Memory follows what is left: at most 2 × len + 1 nodes, in child arrays of at
                // most 4 × length + 4 slots of 64 bytes, one key per node and the bytes of the
                // prefixes (one peer each: inline).
                let left = &topics[i + 1..];
                let bytes: usize = left.iter().map(Vec::len).sum();
                let nodes = 2 * left.len() + 1;
                assert!(map.heap_size() <= 64 * 8 * nodes + nodes + bytes, "memory");
            }
        }
        assert!(map.is_empty());
        assert_eq!(map.node_count(), 1);
        assert_eq!(map.heap_size(), 0);

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
        assert_eq!(map.heap_size(), 0);
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
