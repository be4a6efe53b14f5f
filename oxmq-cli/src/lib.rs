//! The pieces of the `oxmq` command that other tools reuse: the benchmark workloads (generic over
//! the messaging library that runs them, so oxmq and libzmq run the very same code) and the text
//! form of messages that `oxmq recv` prints.

#![warn(missing_docs)]

pub mod bench;
pub mod text;
