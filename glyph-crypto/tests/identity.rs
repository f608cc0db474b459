//! Recovery words and identities: what a person may type, what is refused
//! and why, and that the same words always give the same keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use glyph_crypto::{Identity, Mnemonic, MnemonicError, PublicIdentity, safety_number};

const PHRASE: &str = "legal winner thank year wave sausage worth useful legal winner thank yellow";

#[test]
fn typed_words_are_forgiven_case_and_spacing() {
    let typed = "  Legal WINNER thank\tyear wave  sausage worth useful legal\nwinner thank yellow ";
    assert_eq!(Mnemonic::parse(typed).unwrap().phrase(), PHRASE);
}

#[test]
fn unknown_words_are_named_with_their_position() {
    let typed = PHRASE.replace("sausage", "sausages");
    assert_eq!(
        Mnemonic::parse(&typed).unwrap_err(),
        MnemonicError::UnknownWord {
            word: "sausages".into(),
            position: 6
        }
    );
    let message = Mnemonic::parse(&typed).unwrap_err().to_string();
    assert!(
        message.contains("sausages") && message.contains('6'),
        "{message}"
    );
}

#[test]
fn wrong_counts_and_checksums_are_refused() {
    let eleven = PHRASE.rsplit_once(' ').unwrap().0;
    assert_eq!(
        Mnemonic::parse(eleven).unwrap_err(),
        MnemonicError::WordCount(11)
    );
    assert_eq!(
        Mnemonic::parse("").unwrap_err(),
        MnemonicError::WordCount(0)
    );
    let thirteen = format!("{PHRASE} legal");
    assert_eq!(
        Mnemonic::parse(&thirteen).unwrap_err(),
        MnemonicError::WordCount(13)
    );
    // Swapping two words keeps every word valid but breaks the checksum.
    let swapped = PHRASE.replacen("legal winner", "winner legal", 1);
    assert_eq!(
        Mnemonic::parse(&swapped).unwrap_err(),
        MnemonicError::Checksum
    );
}

#[test]
fn the_same_words_restore_the_same_identity_and_passphrases_matter() {
    let words = Mnemonic::generate().unwrap();
    let again = Mnemonic::parse(words.phrase()).unwrap();
    let a = Identity::from_mnemonic(&words, "").unwrap();
    assert_eq!(a, Identity::from_mnemonic(&again, "").unwrap());
    assert_ne!(
        a.public(),
        Identity::from_mnemonic(&again, "x").unwrap().public()
    );
    assert_ne!(words, Mnemonic::generate().unwrap());
}

#[test]
fn nothing_secret_is_printed_by_debug() {
    let words = Mnemonic::parse(PHRASE).unwrap();
    let id = Identity::from_mnemonic(&words, "").unwrap();
    let seed = words.to_seed("");
    for text in [format!("{words:?}"), format!("{id:?}"), format!("{seed:?}")] {
        assert!(!text.contains("legal"), "{text}");
        assert!(
            !text.contains(&hex::encode(*id.signing().secret_bytes())),
            "{text}"
        );
        assert!(
            !text.contains(&hex::encode(&seed.as_bytes()[..8])),
            "{text}"
        );
    }
}

#[test]
fn public_identity_encodings_round_trip_and_are_strict() {
    let id = Identity::from_mnemonic(&Mnemonic::parse(PHRASE).unwrap(), "")
        .unwrap()
        .public();
    assert_eq!(PublicIdentity::from_bytes(&id.to_bytes()).unwrap(), id);
    assert_eq!(
        PublicIdentity::from_json_value(&id.to_json_value()).unwrap(),
        id
    );
    let mut json = id.to_json_value();
    json["dh_pub"] = serde_json::Value::String("AAAA".into());
    assert!(PublicIdentity::from_json_value(&json).is_err());
    let fingerprint = id.fingerprint();
    assert_eq!(fingerprint.len(), 12 + 2 * " · ".len());
    assert_eq!(fingerprint.split(" · ").count(), 3);
}

#[test]
fn safety_numbers_are_symmetric_and_change_with_any_key() {
    let a = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "")
        .unwrap()
        .public();
    let b = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "")
        .unwrap()
        .public();
    let number = safety_number(&a, &b);
    assert_eq!(number.len(), 60);
    assert!(number.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(number, safety_number(&b, &a));
    // A server swapping only Bob's DH key changes the number.
    let c = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "")
        .unwrap()
        .public();
    let swapped = PublicIdentity {
        sign_pub: b.sign_pub,
        dh_pub: c.dh_pub,
    };
    assert_ne!(number, safety_number(&a, &swapped));
}
