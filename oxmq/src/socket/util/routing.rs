//! Routing ids generated for peers that have none (ROUTER, STREAM).

use bytes::Bytes;

/// libzmq's generated routing ids: five bytes, a zero then a 32-bit big-endian counter that
/// starts at a random value. The leading zero keeps them apart from ids that peers choose
/// (RFC 37 reserves ids starting with a zero byte).
pub(crate) struct IdGenerator {
    next: u32,
}

impl Default for IdGenerator {
    fn default() -> IdGenerator {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS's randomness: hashing nothing gives a random value.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        IdGenerator {
            next: random as u32,
        }
    }
}

impl IdGenerator {
    /// The next id.
    pub(crate) fn next_id(&mut self) -> Bytes {
        let mut id = [0u8; 5];
        id[1..].copy_from_slice(&self.next.to_be_bytes());
        self.next = self.next.wrapping_add(1);
        Bytes::copy_from_slice(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_five_bytes_with_a_leading_zero_and_distinct() {
        let mut ids = IdGenerator::default();
        let a = ids.next_id();
        let b = ids.next_id();
        assert_eq!(a.len(), 5);
        assert_eq!(a[0], 0);
        assert_ne!(a, b);
        let n = |id: &Bytes| u32::from_be_bytes(id[1..].try_into().unwrap());
        assert_eq!(n(&b), n(&a).wrapping_add(1));
    }
}
