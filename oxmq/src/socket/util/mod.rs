//! Routing building blocks shared by the socket types: load balancing, fair queueing, both at
//! once, routing by identity, distribution to many peers, and the subscription tries.

pub(crate) mod dist;
pub(crate) mod duplex;
pub(crate) mod mtrie;
pub(crate) mod routing;
pub(crate) mod trie;
