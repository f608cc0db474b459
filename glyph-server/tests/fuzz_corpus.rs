//! Runs the fuzz target's body (`fuzz/src/lib.rs`) over its seed corpus
//! (`fuzz/corpus/server_request/`), so CI exercises it on stable Rust.
//! With `GLYPH_WRITE_CORPUS=1` it first rewrites the seeds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub,
    missing_docs,
    dead_code
)]

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/server_request")
}

#[test]
fn every_seed_request_runs_without_a_500() {
    let seeds = bodies::seeds();
    if std::env::var_os("GLYPH_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(corpus()).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(corpus().join(format!("seed-{i:02}")), seed).unwrap();
        }
    }
    for seed in &seeds {
        bodies::server_request(seed);
    }
    let mut files = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        bodies::server_request(&std::fs::read(entry.unwrap().path()).unwrap());
        files += 1;
    }
    assert!(files >= 30, "only {files} corpus files");
}
