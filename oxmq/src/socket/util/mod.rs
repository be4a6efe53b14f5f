//! Routing building blocks shared by the socket types: load balancing, fair queueing, both at
//! once, routing by identity, distribution to many peers, and the subscription tries.

pub(crate) mod dist;
pub(crate) mod duplex;
pub(crate) mod mtrie;
pub(crate) mod radix;
pub(crate) mod routing;
pub(crate) mod trie;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::pipe::PeerId;

/// Peer ids are small sequential integers: one multiplication spreads them well enough.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by [`PeerId`].
pub(crate) type PeerMap<V> = HashMap<PeerId, V, BuildHasherDefault<IdHasher>>;
