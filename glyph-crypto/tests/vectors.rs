//! The shipped vector files agree with the implementation, are exactly what
//! the generator writes, and a disagreement is caught and named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use glyph_crypto::vectors::{self, KINDS, VectorError};
use serde_json::Value;

fn shipped(kind: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/vectors/{kind}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_shipped_file_verifies_with_at_least_three_vectors() {
    for kind in KINDS {
        let (section, count) = vectors::verify(&shipped(kind)).unwrap();
        assert_eq!(section, *kind);
        assert!(count >= 3, "{kind} has only {count} vectors");
    }
}

#[test]
fn shipped_files_are_what_the_generator_writes() {
    for kind in KINDS {
        assert_eq!(
            vectors::generate(kind).unwrap(),
            shipped(kind),
            "{kind}.json is stale: run `cargo run -p glyph-crypto --example vectors -- generate glyph-crypto/tests/vectors`"
        );
    }
}

/// Changes one hex digit of `field` in vector `index`.
fn flip_hex_digit(file: &mut Value, index: usize, field: &str) {
    let slot = &mut file["vectors"][index][field];
    let mut text = slot.as_str().unwrap().to_owned();
    let last = text.pop().unwrap();
    text.push(if last == '0' { '1' } else { '0' });
    *slot = Value::String(text);
}

#[test]
fn a_wrong_output_is_reported_with_its_vector_and_field() {
    for (kind, field) in [
        ("device-list", "sign_pub"),
        ("identity", "dh_pub"),
        ("seal-v1", "key"),
        ("media", "blob"),
        ("share", "blob"),
    ] {
        let mut file = shipped(kind);
        flip_hex_digit(&mut file, 1, field);
        match vectors::verify(&file) {
            Err(VectorError::Mismatch(m)) => {
                assert_eq!((m.index, m.field.as_str()), (1, field), "{kind}: {m}");
            }
            other => panic!("{kind}: expected a mismatch, got {other:?}"),
        }
    }
}

#[test]
fn a_tampered_envelope_or_link_is_caught() {
    let mut file = shipped("seal-v1");
    file["vectors"][0]["envelope"]["sig"] = Value::String("A".repeat(86) + "==");
    let err = vectors::verify(&file).unwrap_err();
    assert!(
        matches!(err, VectorError::Mismatch(ref m) if m.field == "envelope"),
        "{err}"
    );

    let mut file = shipped("share");
    let link = file["vectors"][2]["link"]
        .as_str()
        .unwrap()
        .replace("/s/", "/S/");
    file["vectors"][2]["link"] = Value::String(link);
    let err = vectors::verify(&file).unwrap_err();
    assert!(
        matches!(err, VectorError::Mismatch(ref m) if m.field == "link"),
        "{err}"
    );

    let mut file = shipped("safety-number");
    file["vectors"][0]["safety_number"] = Value::String("0".repeat(60));
    assert!(vectors::verify(&file).is_err());
}

#[test]
fn uppercase_hex_and_unknown_sections_are_refused() {
    let mut file = shipped("media");
    let upper = file["vectors"][1]["key"].as_str().unwrap().to_uppercase();
    file["vectors"][1]["key"] = Value::String(upper);
    assert!(vectors::verify(&file).is_err());

    let file: Value = serde_json::from_str(r#"{"section":"nonsense","vectors":[]}"#).unwrap();
    assert!(matches!(
        vectors::verify(&file),
        Err(VectorError::UnknownSection(_))
    ));
    let file: Value = serde_json::from_str(r#"{"vectors":[]}"#).unwrap();
    assert!(matches!(vectors::verify(&file), Err(VectorError::Shape(_))));
}
