//! Fuzz target: see `oxmq_proto::fuzzing::connection` for the input layout and
//! the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxmq_proto::fuzzing::connection(data);
});
