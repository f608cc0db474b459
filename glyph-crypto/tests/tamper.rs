//! Sealed envelopes, media blobs and shares refuse every modification, the
//! wrong key, and a re-signed envelope; strict decoding names what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64, Encoding};
use glyph_crypto::{
    DecodeError, DhKeyPair, Error, MediaKey, SealedEnvelope, ShareKey, SigningKeyPair,
};
use serde_json::Value;

struct Parties {
    alice: SigningKeyPair,
    bob: DhKeyPair,
}

fn parties() -> Parties {
    Parties {
        alice: SigningKeyPair::generate().unwrap(),
        bob: DhKeyPair::generate().unwrap(),
    }
}

/// Decodes, flips one bit, re-encodes.
fn with_bit_flipped(b64: &str, bit: usize) -> String {
    let mut bytes = Base64::decode_vec(b64).unwrap();
    bytes[bit / 8] ^= 1 << (bit % 8);
    Base64::encode_string(&bytes)
}

#[test]
fn every_bit_flip_of_every_envelope_field_is_rejected() {
    let p = parties();
    let envelope = SealedEnvelope::seal(&p.alice, p.bob.public(), b"meet at noon").unwrap();
    let json = envelope.to_json_value();
    let mut tried = 0;
    for field in ["from", "eph", "nonce", "ct", "sig"] {
        let bits = Base64::decode_vec(json[field].as_str().unwrap())
            .unwrap()
            .len()
            * 8;
        for bit in 0..bits {
            let mut tampered = json.clone();
            tampered[field] = Value::String(with_bit_flipped(json[field].as_str().unwrap(), bit));
            let outcome = SealedEnvelope::from_json_value(&tampered)
                .map_err(Error::from)
                .and_then(|env| env.open(&p.bob));
            match (field, outcome) {
                // Every signed part and the signature itself: bad signature,
                // found before any decryption is attempted.
                (_, Err(Error::BadSignature)) => {}
                // A flipped `from` may not even be a curve point.
                ("from", Err(Error::Decode(DecodeError::InvalidKey("from")))) => {}
                (field, other) => panic!("{field} bit {bit}: {other:?}"),
            }
            tried += 1;
        }
    }
    assert!(tried > 1000);
}

#[test]
fn the_version_and_the_json_are_checked_strictly() {
    let p = parties();
    let json = SealedEnvelope::seal(&p.alice, p.bob.public(), b"x")
        .unwrap()
        .to_json_value();
    type Mutation = fn(&mut Value);
    let cases: Vec<(Mutation, DecodeError)> = vec![
        (|j| j["v"] = 2.into(), DecodeError::UnsupportedVersion(2)),
        (|j| j["v"] = Value::from(1.0), DecodeError::WrongType("v")),
        (
            |j| drop(j.as_object_mut().unwrap().remove("nonce")),
            DecodeError::MissingField("nonce"),
        ),
        (
            |j| j["eph"] = "AAAA".into(),
            DecodeError::Length {
                field: "eph",
                expected: 32,
                actual: 3,
            },
        ),
        (|j| j["sig"] = 5.into(), DecodeError::WrongType("sig")),
        (
            // 32 bytes leave two unused bits in the last symbol: setting one
            // decodes to the same key but is not canonical.
            |j| {
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                let mut text = j["eph"].as_str().unwrap().as_bytes().to_vec();
                let index = ALPHABET.iter().position(|&c| c == text[42]).unwrap();
                text[42] = ALPHABET[index ^ 1];
                j["eph"] = String::from_utf8(text).unwrap().into();
            },
            DecodeError::Base64("eph"),
        ),
        (
            |j| {
                let text = j["nonce"].as_str().unwrap().to_owned();
                j["nonce"] = format!("{text}=").into();
            },
            DecodeError::Base64("nonce"),
        ),
        (
            |j| {
                let text = j["ct"]
                    .as_str()
                    .unwrap()
                    .replace('+', "-")
                    .replace('/', "_");
                j["ct"] = format!("{text}_").into();
            },
            DecodeError::Base64("ct"),
        ),
        (
            |j| j["ct"] = "AAAA".into(),
            DecodeError::Length {
                field: "ct",
                expected: 16,
                actual: 3,
            },
        ),
    ];
    for (mutate, expected) in cases {
        let mut bad = json.clone();
        mutate(&mut bad);
        assert_eq!(
            SealedEnvelope::from_json_value(&bad),
            Err(expected.clone()),
            "{bad}"
        );
    }
    assert!(matches!(
        SealedEnvelope::from_json("{not json"),
        Err(DecodeError::Json(_))
    ));
    assert!(matches!(
        SealedEnvelope::from_json("[1]"),
        Err(DecodeError::WrongType(_))
    ));
    // Unknown fields are ignored.
    let mut extra = json.clone();
    extra["future"] = "field".into();
    assert_eq!(
        SealedEnvelope::from_json_value(&extra)
            .unwrap()
            .open(&p.bob)
            .unwrap(),
        b"x"
    );
}

#[test]
fn a_ciphertext_re_signed_by_another_key_does_not_open() {
    // Mallory takes Alice's envelope, replaces `from` with her own key and
    // signs it herself: the signature verifies, but the ciphertext is bound
    // to Alice's key as associated data.
    let p = parties();
    let mallory = SigningKeyPair::generate().unwrap();
    let json = SealedEnvelope::seal(&p.alice, p.bob.public(), b"from Alice")
        .unwrap()
        .to_json_value();
    let mut signed = b"glyph/seal/v1".to_vec();
    for field in ["eph", "nonce", "ct"] {
        signed.extend(Base64::decode_vec(json[field].as_str().unwrap()).unwrap());
    }
    let mut forged = json.clone();
    forged["from"] = mallory.public().to_base64().into();
    forged["sig"] = Base64::encode_string(&mallory.sign(&signed)).into();
    let forged = SealedEnvelope::from_json_value(&forged).unwrap();
    assert_eq!(forged.open(&p.bob), Err(Error::DecryptionFailed));
}

#[test]
fn only_the_recipient_opens() {
    let p = parties();
    let envelope = SealedEnvelope::seal(&p.alice, p.bob.public(), b"for Bob").unwrap();
    let eve = DhKeyPair::generate().unwrap();
    assert_eq!(envelope.open(&eve), Err(Error::DecryptionFailed));
    assert_eq!(envelope.open(&p.bob).unwrap(), b"for Bob");
}

#[test]
fn media_and_shares_refuse_tampering_and_wrong_keys() {
    let key = MediaKey::generate().unwrap();
    let blob = key.seal(b"image bytes").unwrap();
    for bit in 0..blob.len() * 8 {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(key.open(&bad), Err(Error::DecryptionFailed));
    }
    assert_eq!(
        key.open(&blob[..blob.len() - 1]),
        Err(Error::DecryptionFailed)
    );
    assert_eq!(key.open(&[]), Err(Error::DecryptionFailed));
    assert_eq!(
        MediaKey::generate().unwrap().open(&blob),
        Err(Error::DecryptionFailed)
    );

    let share = ShareKey::generate().unwrap();
    let blob = share.seal(b"the wifi password").unwrap();
    for bit in 0..blob.len() * 8 {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(share.open(&bad), Err(Error::DecryptionFailed));
    }
    assert_eq!(share.open(&blob[..27]), Err(Error::DecryptionFailed));
    assert_eq!(
        ShareKey::generate().unwrap().open(&blob),
        Err(Error::DecryptionFailed)
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn envelopes_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let p = parties();
            let wire = SealedEnvelope::seal(&p.alice, p.bob.public(), &plaintext).unwrap().to_json();
            let opened = SealedEnvelope::from_json(&wire).unwrap();
            prop_assert_eq!(opened.sender(), &p.alice.public());
            prop_assert_eq!(opened.open(&p.bob).unwrap(), plaintext);
        }

        #[test]
        fn media_round_trips(file in proptest::collection::vec(any::<u8>(), 0..8192)) {
            let key = MediaKey::generate().unwrap();
            let blob = key.seal(&file).unwrap();
            prop_assert_eq!(blob.len(), file.len() + 16);
            let received = MediaKey::from_parts(*key.key_bytes(), *key.nonce());
            prop_assert_eq!(received.open(&blob).unwrap(), file);
        }

        #[test]
        fn shares_round_trip_through_their_link(
            secret in proptest::collection::vec(any::<u8>(), 0..4096),
            code in "[A-Za-z0-9]{11,40}",
        ) {
            let key = ShareKey::generate().unwrap();
            let blob = key.seal(&secret).unwrap();
            let link = glyph_crypto::ShareLink::new("https://glyph.example", &code, key).unwrap();
            let parsed = glyph_crypto::ShareLink::parse(&link.to_url()).unwrap();
            prop_assert_eq!(parsed.code(), code.as_str());
            prop_assert_eq!(parsed.key().open(&blob).unwrap(), secret);
        }

        #[test]
        fn arbitrary_text_never_panics_the_decoders(text in ".{0,300}") {
            let _ = SealedEnvelope::from_json(&text);
            let _ = glyph_crypto::ShareLink::parse(&text);
            let _ = glyph_crypto::Mnemonic::parse(&text);
        }
    }
}
