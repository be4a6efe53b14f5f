//! Replays every seed and regression input stored under `fuzz/corpus/`
//! through the matching fuzz entry point, so `cargo test` catches
//! regressions without a fuzzer.

use std::fs;
use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
        .join("corpus")
        .join(target)
}

fn replay(target: &str, run: fn(&[u8])) {
    let dir = corpus_dir(target);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) => panic!("cannot read corpus {}: {err}", dir.display()),
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if !path.is_file() {
            continue;
        }
        let data = fs::read(&path).expect("corpus file");
        let name = path.display().to_string();
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{target}: input {name} panicked");
        count += 1;
    }
    assert!(count > 0, "corpus {} is empty", dir.display());
}

#[test]
fn decoder_corpus() {
    replay("decoder", oxmq_proto::fuzzing::decoder);
}

#[test]
fn greeting_corpus() {
    replay("greeting", oxmq_proto::fuzzing::greeting);
}

#[test]
fn null_handshake_corpus() {
    replay("null_handshake", oxmq_proto::fuzzing::null_handshake);
}

#[test]
fn connection_corpus() {
    replay("connection", oxmq_proto::fuzzing::connection);
}
