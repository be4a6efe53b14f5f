//! Routing building blocks shared by the socket types: load balancing, fair queueing, both at
//! once, routing by identity, distribution to many peers, and the subscription tries.

pub(crate) mod duplex;
pub(crate) mod fq;
pub(crate) mod lb;
#[allow(dead_code)] // until PUB/SUB/XPUB/XSUB land
pub(crate) mod mtrie;
pub(crate) mod routing;
#[allow(dead_code)] // until PUB/SUB/XPUB/XSUB land
pub(crate) mod trie;
