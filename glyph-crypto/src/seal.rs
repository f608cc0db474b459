//! The sealed envelope, version 1 (spec section 2): a one-shot message from
//! a signing key to an X25519 key. Used for self-copies and as a fallback.

use serde_json::{Value, json};

use crate::aead::{xchacha_open, xchacha_seal};
use crate::encoding::{Fields, b64, parse_json};
use crate::error::{DecodeError, Error};
use crate::kdf::hkdf;
use crate::keys::{DhKeyPair, DhPublicKey, SIGNATURE_LEN, SigningKeyPair, SigningPublicKey};
use crate::random::random_array;

use crate::spec::SEAL_LABEL;

/// A v1 sealed envelope as it travels:
/// `{"v":1,"from":b64,"eph":b64,"nonce":b64,"ct":b64,"sig":b64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEnvelope {
    from: SigningPublicKey,
    eph: DhPublicKey,
    nonce: [u8; 24],
    ct: Vec<u8>,
    sig: [u8; SIGNATURE_LEN],
}

impl SealedEnvelope {
    /// Seals `plaintext` from `sender` to `recipient` with a fresh ephemeral
    /// key and nonce from the OS.
    pub fn seal(
        sender: &SigningKeyPair,
        recipient: &DhPublicKey,
        plaintext: &[u8],
    ) -> Result<Self, Error> {
        let eph = DhKeyPair::generate()?;
        let nonce = random_array::<24>()?;
        Self::seal_with_randomness(sender, recipient, &eph, &nonce, plaintext)
    }

    /// [`SealedEnvelope::seal`] with the ephemeral key and nonce given, for
    /// test vectors. Never reuse either: use `seal` in applications.
    pub fn seal_with_randomness(
        sender: &SigningKeyPair,
        recipient: &DhPublicKey,
        eph: &DhKeyPair,
        nonce: &[u8; 24],
        plaintext: &[u8],
    ) -> Result<Self, Error> {
        let key = envelope_key(&*eph.diffie_hellman(recipient)?, eph.public(), recipient)?;
        let from = sender.public();
        let ct = xchacha_seal(&key, nonce, plaintext, from.as_bytes())?;
        let sig = sender.sign(&signed_bytes(eph.public(), nonce, &ct));
        Ok(Self {
            from,
            eph: *eph.public(),
            nonce: *nonce,
            ct,
            sig,
        })
    }

    /// Verifies the signature against `from`, then decrypts with the
    /// recipient's key. A bad signature is [`Error::BadSignature`]; anything
    /// else wrong is [`Error::DecryptionFailed`].
    ///
    /// This proves the envelope was made by `from`; a caller that expects a
    /// particular sender must compare [`SealedEnvelope::sender`] itself.
    pub fn open(&self, recipient: &DhKeyPair) -> Result<Vec<u8>, Error> {
        self.from
            .verify(&signed_bytes(&self.eph, &self.nonce, &self.ct), &self.sig)?;
        let shared = recipient
            .diffie_hellman(&self.eph)
            .map_err(|_| Error::DecryptionFailed)?;
        let key = envelope_key(&shared, &self.eph, recipient.public())?;
        xchacha_open(&key, &self.nonce, &self.ct, self.from.as_bytes())
    }

    /// The signing key that signed the envelope (verified by `open`).
    pub fn sender(&self) -> &SigningPublicKey {
        &self.from
    }

    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({
            "v": 1,
            "from": self.from.to_base64(),
            "eph": self.eph.to_base64(),
            "nonce": b64(&self.nonce),
            "ct": b64(&self.ct),
            "sig": b64(&self.sig),
        })
    }

    /// The JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// Parses the JSON form strictly: version 1 only, canonical base64,
    /// exact lengths, a canonical `from` key. Unknown fields are ignored.
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "envelope")?;
        fields.version(1)?;
        let ct = fields.b64_vec("ct")?;
        if ct.len() < crate::aead::TAG_LEN {
            return Err(DecodeError::Length {
                field: "ct",
                expected: crate::aead::TAG_LEN,
                actual: ct.len(),
            });
        }
        Ok(Self {
            from: SigningPublicKey::from_field("from", &fields.b64_array("from")?)?,
            eph: DhPublicKey::from_bytes(fields.b64_array("eph")?),
            nonce: fields.b64_array("nonce")?,
            ct,
            sig: fields.b64_array("sig")?,
        })
    }

    /// Parses JSON text (see [`SealedEnvelope::from_json_value`]).
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_json_value(&parse_json(text)?)
    }
}

/// `HKDF(shared, eph_pub || R, "glyph/seal/v1", 32)`.
pub(crate) fn envelope_key(
    shared: &[u8; 32],
    eph: &DhPublicKey,
    recipient: &DhPublicKey,
) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    hkdf::<32>(shared, &salt, SEAL_LABEL)
}

/// `"glyph/seal/v1" || eph_pub || nonce || ct`.
fn signed_bytes(eph: &DhPublicKey, nonce: &[u8; 24], ct: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SEAL_LABEL.len() + 32 + 24 + ct.len());
    message.extend_from_slice(SEAL_LABEL);
    message.extend_from_slice(eph.as_bytes());
    message.extend_from_slice(nonce);
    message.extend_from_slice(ct);
    message
}
