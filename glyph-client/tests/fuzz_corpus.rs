//! Runs the fuzz target's body (`fuzz/src/lib.rs`) over its seed corpus
//! (`fuzz/corpus/inbox_entry/`), so CI exercises it on stable Rust. With
//! `GLYPH_WRITE_CORPUS=1` it first rewrites the seeds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub,
    missing_docs
)]

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/inbox_entry")
}

#[test]
fn the_seed_entries_are_real_and_every_corpus_file_runs() {
    let seeds = glyph_client::fuzzing::seeds();
    assert!(seeds.len() >= 8, "{} seeds", seeds.len());
    if std::env::var_os("GLYPH_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(corpus()).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(corpus().join(format!("seed-{i:02}.json")), seed).unwrap();
        }
    }
    // The harness is live: Peter's first messages open and are kept.
    let opened = seeds
        .iter()
        .filter(|seed| glyph_client::fuzzing::receive(seed))
        .count();
    assert!(opened >= 2, "only {opened} seeds made a history entry");
    let mut files = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        bodies::inbox_entry(&data);
        files += 1;
    }
    assert!(files >= 8, "only {files} corpus files");
    for junk in [&b""[..], b"{}", b"null", b"{\"seq\":1}", &[0xff; 64]] {
        bodies::inbox_entry(junk);
    }
}
