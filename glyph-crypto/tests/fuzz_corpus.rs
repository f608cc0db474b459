//! Runs every fuzz target's body over its seed corpus
//! (`fuzz/corpus/<target>/`), so CI exercises the fuzz targets on stable
//! Rust. With `GLYPH_WRITE_CORPUS=1` it first rewrites the seeds from the
//! shipped test vectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub,
    missing_docs
)]

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// Seeds made from the vector files: real envelopes, bundles, links and
/// session states, which the fuzzer mutates from.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let vectors = |kind: &str| -> serde_json::Value {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/vectors/{kind}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let mut seeds = Vec::new();
    for (i, v) in vectors("seal-v1")["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        seeds.push((
            "decode_seal_v1",
            format!("vector-{i}.json"),
            v["envelope"].to_string().into_bytes(),
        ));
    }
    let session = vectors("session");
    for (i, v) in session["vectors"].as_array().unwrap().iter().enumerate() {
        for (k, envelope) in v["envelopes"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .take(3)
        {
            let json = envelope.to_string().into_bytes();
            seeds.push((
                "decode_envelope_v2",
                format!("vector-{i}-{k}.json"),
                json.clone(),
            ));
            seeds.push(("session_decrypt", format!("vector-{i}-{k}.json"), json));
        }
    }
    for (i, v) in vectors("share")["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        seeds.push((
            "decode_share_link",
            format!("vector-{i}.txt"),
            v["link"].as_str().unwrap().as_bytes().to_vec(),
        ));
    }
    let (mut alice, mut bob) = glyph_crypto::vectors::fixed_conversation().unwrap();
    seeds.push((
        "decode_state",
        "alice.bin".into(),
        alice.to_bytes().to_vec(),
    ));
    seeds.push(("decode_state", "bob.bin".into(), bob.to_bytes().to_vec()));
    let live = bob.encrypt(b"live message").unwrap();
    seeds.push((
        "session_decrypt",
        "live.json".into(),
        live.to_json().into_bytes(),
    ));
    let mut raw = live.msg.header.to_bytes().to_vec();
    raw.extend_from_slice(&live.msg.ct);
    seeds.push(("session_decrypt", "live-raw.bin".into(), raw));
    assert!(alice.decrypt(&live).is_ok());
    seeds.push((
        "decode_bundle",
        "bundle.json".into(),
        BUNDLE.as_bytes().to_vec(),
    ));
    seeds
}

const BUNDLE: &str = r#"{"sign_pub":"LiyErGGR593Ge01+IjX50oIfFZXIwcsRsrSPXzvRg5w=","dh_pub":"YJOL1UwIvIO3/mSMOyjj+zzU8v9EJMMOly6aq9NT4jw=","spk_id":1,"spk_pub":"YJOL1UwIvIO3/mSMOyjj+zzU8v9EJMMOly6aq9NT4jw=","spk_sig":"feGDZ6+7mGNt6gFo5ux2fonaQ9bwvc0M9c+4a9BfzfOjSikptHrkQCsGGnDizurNq7kV6tPMawIQwJSWcpmKDA==","opk_id":null,"opk_pub":null}"#;

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_seed_runs_through_its_target() {
    if std::env::var_os("GLYPH_WRITE_CORPUS").is_some() {
        for (target, name, bytes) in seeds() {
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(corpus_dir(target).join(name), bytes).unwrap();
        }
    }
    for (target, body) in bodies::TARGETS {
        let files = files_in(&corpus_dir(target));
        assert!(
            !files.is_empty(),
            "no seeds for {target}: run with GLYPH_WRITE_CORPUS=1"
        );
        for file in files {
            body(&std::fs::read(&file).unwrap());
        }
    }
    // The seeds as they would be generated now run too, in case the files
    // lag behind the vectors.
    for (target, _, bytes) in seeds() {
        let body = bodies::TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .unwrap()
            .1;
        body(&bytes);
    }
}

#[test]
fn mutated_seeds_never_panic() {
    // A small deterministic stand-in for the fuzzer on stable Rust: every
    // seed with each single byte replaced by a few values, and truncated.
    for (target, _, bytes) in seeds() {
        let body = bodies::TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .unwrap()
            .1;
        for i in (0..bytes.len()).step_by(3) {
            for value in [0u8, b'"', b'A', 0xff] {
                let mut mutated = bytes.clone();
                mutated[i] = value;
                body(&mutated);
            }
            body(&bytes[..i]);
        }
    }
}
