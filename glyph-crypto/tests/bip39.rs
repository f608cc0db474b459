//! The official BIP-39 English vectors (passphrase "TREZOR"), from
//! `../shared/vectors/bip39-trezor.json` when that file is present.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use glyph_crypto::{Mnemonic, MnemonicError};

#[test]
fn official_english_vectors() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/bip39-trezor.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is not present", path.display());
        return;
    };
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = file["english"].as_array().unwrap();
    let mut twelve_word = 0;
    for entry in entries {
        let entropy = hex::decode(entry[0].as_str().unwrap()).unwrap();
        let phrase = entry[1].as_str().unwrap();
        let seed = entry[2].as_str().unwrap();
        if entropy.len() == 16 {
            twelve_word += 1;
            let from_entropy = Mnemonic::from_entropy(&entropy.try_into().unwrap()).unwrap();
            assert_eq!(from_entropy.phrase(), phrase);
            let parsed = Mnemonic::parse(phrase).unwrap();
            assert_eq!(
                hex::encode(parsed.to_seed("TREZOR").as_bytes()),
                seed,
                "{phrase}"
            );
        } else {
            // Glyph identities are 12 words; longer official phrases are
            // valid BIP-39 and must be refused by count, not by checksum.
            let words = phrase.split(' ').count();
            assert_eq!(
                Mnemonic::parse(phrase).unwrap_err(),
                MnemonicError::WordCount(words)
            );
        }
    }
    assert!(
        twelve_word >= 8,
        "only {twelve_word} twelve-word vectors found"
    );
}
