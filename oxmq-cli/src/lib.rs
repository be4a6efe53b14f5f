//! The pieces of the `oxmq` command that other tools reuse: the benchmark workloads (generic over
//! the messaging library that runs them, so oxmq and libzmq run the very same code), the text
//! form of messages that `oxmq recv` prints, which socket types send or receive, and endpoint
//! mistakes in words.

#![warn(missing_docs)]

pub mod bench;
pub mod direction;
pub mod endpoint;
pub mod placement;
pub mod text;
