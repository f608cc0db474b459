//! Vectors for spec sections 1, 2, 6 and 7: identity, safety number,
//! sealed envelope v1, media blob and one-view share.

use serde_json::{Value, json};

use super::reader::{Mismatch, Vector, fixed, pattern};
use crate::{
    DhKeyPair, DhPublicKey, Error, Identity, MediaKey, Mnemonic, PublicIdentity, SealedEnvelope,
    ShareKey, ShareLink, SigningKeyPair, SigningPublicKey, media_sha256,
};

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

pub(super) fn identity() -> Result<Vec<Value>, Error> {
    let cases: [(&str, [u8; 16], &str); 4] = [
        ("all-zero entropy, no passphrase", [0; 16], ""),
        ("all-ones entropy, passphrase TREZOR", [0xff; 16], "TREZOR"),
        (
            "non-ASCII passphrase: NFKD turns the ligature and the composed letters into plain ones",
            fixed("glyph/vectors/identity/3"),
            "Glyph-\u{00dc}n\u{00ef}c\u{00f8}d\u{00e9} \u{fb01} \u{5bc6}\u{7801}",
        ),
        (
            "random entropy, no passphrase",
            fixed("glyph/vectors/identity/4"),
            "",
        ),
    ];
    cases
        .into_iter()
        .map(|(comment, entropy, passphrase)| {
            let mnemonic = Mnemonic::from_entropy(&entropy)?;
            let seed = mnemonic.to_seed(passphrase);
            let id = Identity::from_seed(&seed)?;
            Ok(json!({
                "comment": comment,
                "mnemonic": mnemonic.phrase(),
                "passphrase": passphrase,
                "seed": hex(seed.as_bytes()),
                "sign_sk": hex(&*id.signing().secret_bytes()),
                "sign_pub": hex(id.public().sign_pub.as_bytes()),
                "dh_sk": hex(&*id.dh().secret_bytes()),
                "dh_pub": hex(id.public().dh_pub.as_bytes()),
                "fingerprint": id.public().fingerprint(),
            }))
        })
        .collect()
}

pub(super) fn check_identity(v: &Vector<'_>) -> Result<(), Mismatch> {
    let phrase = v.str("mnemonic")?;
    let mnemonic = Mnemonic::parse(phrase).map_err(|e| v.fail("mnemonic", e.to_string()))?;
    if mnemonic.phrase() != phrase {
        return Err(v.fail("mnemonic", "not in canonical form"));
    }
    let seed = mnemonic.to_seed(v.str("passphrase")?);
    v.expect_hex("seed", seed.as_bytes())?;
    let id = Identity::from_seed(&seed).map_err(|e| v.fail("seed", e.to_string()))?;
    v.expect_hex("sign_sk", &*id.signing().secret_bytes())?;
    v.expect_hex("sign_pub", id.public().sign_pub.as_bytes())?;
    v.expect_hex("dh_sk", &*id.dh().secret_bytes())?;
    v.expect_hex("dh_pub", id.public().dh_pub.as_bytes())?;
    v.expect_str("fingerprint", &id.public().fingerprint())
}

fn vector_identity(label: &str) -> Result<Identity, Error> {
    Identity::from_seed(&crate::Seed::from_bytes(fixed(label)))
}

pub(super) fn safety_number() -> Result<Vec<Value>, Error> {
    let pairs = [
        (
            "two users",
            "glyph/vectors/safety/a",
            "glyph/vectors/safety/b",
        ),
        (
            "two other users",
            "glyph/vectors/safety/c",
            "glyph/vectors/safety/d",
        ),
        (
            "a user with itself",
            "glyph/vectors/safety/a",
            "glyph/vectors/safety/a",
        ),
    ];
    pairs
        .into_iter()
        .map(|(comment, a, b)| {
            let (a, b) = (vector_identity(a)?.public(), vector_identity(b)?.public());
            Ok(json!({
                "comment": comment,
                "a_sign_pub": hex(a.sign_pub.as_bytes()),
                "a_dh_pub": hex(a.dh_pub.as_bytes()),
                "b_sign_pub": hex(b.sign_pub.as_bytes()),
                "b_dh_pub": hex(b.dh_pub.as_bytes()),
                "safety_number": crate::safety_number(&a, &b),
            }))
        })
        .collect()
}

fn public_identity(v: &Vector<'_>, sign: &str, dh: &str) -> Result<PublicIdentity, Mismatch> {
    Ok(PublicIdentity {
        sign_pub: SigningPublicKey::from_bytes(&v.hex_array(sign)?)
            .map_err(|e| v.fail(sign, e.to_string()))?,
        dh_pub: DhPublicKey::from_bytes(v.hex_array(dh)?),
    })
}

pub(super) fn check_safety_number(v: &Vector<'_>) -> Result<(), Mismatch> {
    let a = public_identity(v, "a_sign_pub", "a_dh_pub")?;
    let b = public_identity(v, "b_sign_pub", "b_dh_pub")?;
    v.expect_str("safety_number", &crate::safety_number(&a, &b))
}

pub(super) fn seal_v1() -> Result<Vec<Value>, Error> {
    let cases = [
        ("empty plaintext", Vec::new()),
        (
            "a text message",
            br#"{"type":"text","body":"hello, Bob"}"#.to_vec(),
        ),
        ("1000 bytes", pattern(1000)),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (comment, plaintext))| {
            let sender_sk: [u8; 32] = fixed(&format!("glyph/vectors/seal/{i}/sender"));
            let recipient_sk: [u8; 32] = fixed(&format!("glyph/vectors/seal/{i}/recipient"));
            let eph_sk: [u8; 32] = fixed(&format!("glyph/vectors/seal/{i}/eph"));
            let nonce: [u8; 24] = fixed(&format!("glyph/vectors/seal/{i}/nonce"));
            let (sender, recipient, eph) = (
                SigningKeyPair::from_secret_bytes(&sender_sk),
                DhKeyPair::from_secret_bytes(&recipient_sk),
                DhKeyPair::from_secret_bytes(&eph_sk),
            );
            let key = seal_key(&eph, recipient.public())?;
            let envelope = SealedEnvelope::seal_with_randomness(
                &sender,
                recipient.public(),
                &eph,
                &nonce,
                &plaintext,
            )?;
            Ok(json!({
                "comment": comment,
                "sender_sign_sk": hex(&sender_sk),
                "recipient_dh_sk": hex(&recipient_sk),
                "eph_sk": hex(&eph_sk),
                "nonce": hex(&nonce),
                "plaintext": hex(&plaintext),
                "sender_sign_pub": hex(sender.public().as_bytes()),
                "recipient_dh_pub": hex(recipient.public().as_bytes()),
                "key": hex(&*key),
                "envelope": envelope.to_json_value(),
            }))
        })
        .collect()
}

fn seal_key(
    eph: &DhKeyPair,
    recipient: &DhPublicKey,
) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    crate::seal::envelope_key(&*eph.diffie_hellman(recipient)?, eph.public(), recipient)
}

pub(super) fn check_seal_v1(v: &Vector<'_>) -> Result<(), Mismatch> {
    let sender = SigningKeyPair::from_secret_bytes(&v.hex_array("sender_sign_sk")?);
    let recipient = DhKeyPair::from_secret_bytes(&v.hex_array("recipient_dh_sk")?);
    let eph = DhKeyPair::from_secret_bytes(&v.hex_array("eph_sk")?);
    let nonce = v.hex_array::<24>("nonce")?;
    let plaintext = v.hex("plaintext")?;
    v.expect_hex("sender_sign_pub", sender.public().as_bytes())?;
    v.expect_hex("recipient_dh_pub", recipient.public().as_bytes())?;
    let key = seal_key(&eph, recipient.public()).map_err(|e| v.fail("key", e.to_string()))?;
    v.expect_hex("key", &*key)?;
    let computed =
        SealedEnvelope::seal_with_randomness(&sender, recipient.public(), &eph, &nonce, &plaintext)
            .map_err(|e| v.fail("envelope", e.to_string()))?;
    let stated = v.expect_wire("envelope", &computed, SealedEnvelope::from_json_value)?;
    let opened = stated
        .open(&recipient)
        .map_err(|e| v.fail("envelope", format!("does not open: {e}")))?;
    if opened != plaintext {
        return Err(v.fail("envelope", "opens to a different plaintext"));
    }
    Ok(())
}

pub(super) fn media() -> Result<Vec<Value>, Error> {
    let cases = [
        ("empty file", Vec::new()),
        ("a short file", b"a photo, say".to_vec()),
        ("64 KiB", pattern(64 * 1024)),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (comment, plaintext))| {
            let key = MediaKey::from_parts(
                fixed(&format!("glyph/vectors/media/{i}/key")),
                fixed(&format!("glyph/vectors/media/{i}/nonce")),
            );
            Ok(json!({
                "comment": comment,
                "key": hex(key.key_bytes()),
                "nonce": hex(key.nonce()),
                "plaintext": hex(&plaintext),
                "blob": hex(&key.seal(&plaintext)?),
                "sha256": hex(&media_sha256(&plaintext)),
            }))
        })
        .collect()
}

pub(super) fn check_media(v: &Vector<'_>) -> Result<(), Mismatch> {
    let key = MediaKey::from_parts(v.hex_array("key")?, v.hex_array("nonce")?);
    let plaintext = v.hex("plaintext")?;
    let blob = key
        .seal(&plaintext)
        .map_err(|e| v.fail("blob", e.to_string()))?;
    v.expect_hex("blob", &blob)?;
    v.expect_hex("sha256", &media_sha256(&plaintext))
}

pub(super) fn share() -> Result<Vec<Value>, Error> {
    let cases = [
        (
            "empty secret",
            Vec::new(),
            "https://glyph.example",
            "AbCdEfGhIjK",
        ),
        (
            "a password",
            "correct horse battery staple".as_bytes().to_vec(),
            "http://127.0.0.1:8080",
            "Z9y8X7w6V5u4T3s2",
        ),
        (
            "1000 bytes under a base with a path",
            pattern(1000),
            "https://relay.example.org/glyph",
            "q1w2e3r4t5y6u7i8o9p0",
        ),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (comment, plaintext, base, code))| {
            let key = ShareKey::from_bytes(fixed(&format!("glyph/vectors/share/{i}/key")));
            let iv: [u8; 12] = fixed(&format!("glyph/vectors/share/{i}/iv"));
            let blob = key.seal_with_iv(&iv, &plaintext)?;
            let link = ShareLink::new(base, code, key.clone())?;
            Ok(json!({
                "comment": comment,
                "key": hex(key.as_bytes()),
                "iv": hex(&iv),
                "plaintext": hex(&plaintext),
                "base": base,
                "code": code,
                "blob": hex(&blob),
                "link": link.to_url(),
            }))
        })
        .collect()
}

pub(super) fn check_share(v: &Vector<'_>) -> Result<(), Mismatch> {
    let key = ShareKey::from_bytes(v.hex_array("key")?);
    let iv = v.hex_array::<12>("iv")?;
    let plaintext = v.hex("plaintext")?;
    let blob = key
        .seal_with_iv(&iv, &plaintext)
        .map_err(|e| v.fail("blob", e.to_string()))?;
    v.expect_hex("blob", &blob)?;
    let link = ShareLink::new(v.str("base")?, v.str("code")?, key.clone())
        .map_err(|e| v.fail("base", e.to_string()))?;
    v.expect_str("link", &link.to_url())?;
    let parsed = ShareLink::parse(v.str("link")?).map_err(|e| v.fail("link", e.to_string()))?;
    if parsed.key() != &key || parsed.code() != v.str("code")? {
        return Err(v.fail("link", "parses to a different key or code"));
    }
    let opened = key
        .open(&v.hex("blob")?)
        .map_err(|e| v.fail("blob", format!("does not open: {e}")))?;
    if opened != plaintext {
        return Err(v.fail("blob", "opens to a different plaintext"));
    }
    Ok(())
}
