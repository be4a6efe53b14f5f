//! Routing building blocks shared by the socket types: load balancing, fair queueing,
//! distribution to many peers, and the subscription tries.

pub(crate) mod fq;
pub(crate) mod lb;
#[allow(dead_code)] // until PUB/SUB/XPUB/XSUB land
pub(crate) mod mtrie;
#[allow(dead_code)] // until PUB/SUB/XPUB/XSUB land
pub(crate) mod trie;
