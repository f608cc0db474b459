//! Key types: X25519 key pairs for Diffie-Hellman and Ed25519 keys for
//! signatures, with the protocol's rules built in (an all-zero X25519 result
//! is refused; verification is strict and wants canonical keys).

use core::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::encoding::b64;
use crate::error::{DecodeError, Error};
use crate::random::random_array;

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// An X25519 public key (32 bytes). Any 32 bytes are accepted here; a
/// low-order key is caught when it is used, as the all-zero DH result.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DhPublicKey([u8; 32]);

impl DhPublicKey {
    /// Wraps the 32 bytes of an X25519 public key.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as standard base64, as the wire writes it.
    pub fn to_base64(&self) -> String {
        b64(&self.0)
    }
}

impl fmt::Debug for DhPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DhPublicKey")
            .field(&self.to_base64())
            .finish()
    }
}

/// An X25519 key pair. The secret is wiped when dropped and never printed.
#[derive(Clone)]
pub struct DhKeyPair {
    secret: StaticSecret,
    public: DhPublicKey,
}

impl DhKeyPair {
    /// A fresh key pair from the OS random number generator.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_secret_bytes(&*random_array::<32>()?))
    }

    /// The key pair whose secret is these 32 bytes (clamping happens inside
    /// X25519, as RFC 7748 says, so any 32 bytes are a valid secret).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        let secret = StaticSecret::from(*secret);
        let public = DhPublicKey(PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// The public half.
    pub const fn public(&self) -> &DhPublicKey {
        &self.public
    }

    /// A copy of the 32 secret bytes, for storage. Handle with care: the
    /// copy is wiped when dropped, but anything made from it is not.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// `DH(self, theirs)`, refusing the all-zero result of a low-order key.
    pub fn diffie_hellman(&self, theirs: &DhPublicKey) -> Result<Zeroizing<[u8; 32]>, Error> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(theirs.0));
        if !shared.was_contributory() {
            return Err(Error::NonContributoryKey);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl PartialEq for DhKeyPair {
    /// Constant-time comparison of the secrets.
    fn eq(&self, other: &Self) -> bool {
        self.secret.as_bytes().ct_eq(other.secret.as_bytes()).into()
    }
}

impl Eq for DhKeyPair {}

impl fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key, known to be a canonical point encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigningPublicKey(VerifyingKey);

impl SigningPublicKey {
    /// Parses 32 bytes, refusing anything that is not the canonical
    /// encoding of a curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, DecodeError> {
        let key =
            VerifyingKey::from_bytes(bytes).map_err(|_| DecodeError::InvalidKey("sign_pub"))?;
        // The decoder tolerates some non-canonical encodings (y >= p); the
        // protocol does not, so re-encode and compare.
        if key.to_edwards().compress().as_bytes() != bytes {
            return Err(DecodeError::InvalidKey("sign_pub"));
        }
        Ok(Self(key))
    }

    /// Like [`SigningPublicKey::from_bytes`], naming `field` in the error.
    pub(crate) fn from_field(field: &'static str, bytes: &[u8; 32]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes).map_err(|_| DecodeError::InvalidKey(field))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key as standard base64, as the wire writes it.
    pub fn to_base64(&self) -> String {
        b64(self.as_bytes())
    }

    /// Strict Ed25519 verification (`verify_strict`: no small-order or
    /// non-canonical `R`, `S < L`, cofactorless equation).
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<(), Error> {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl core::hash::Hash for SigningPublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningPublicKey")
            .field(&self.to_base64())
            .finish()
    }
}

/// An Ed25519 signing key. Wiped when dropped and never printed.
#[derive(Clone)]
pub struct SigningKeyPair(SigningKey);

impl SigningKeyPair {
    /// The signing key whose secret is these 32 bytes.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// A fresh signing key from the OS random number generator.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_secret_bytes(&*random_array::<32>()?))
    }

    /// The public half.
    pub fn public(&self) -> SigningPublicKey {
        SigningPublicKey(self.0.verifying_key())
    }

    /// A copy of the 32 secret bytes, for storage. Handle with care.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Signs `message` (deterministic Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl PartialEq for SigningKeyPair {
    /// Constant-time comparison of the secrets.
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SigningKeyPair {}

impl fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_order_peer_key_is_refused() {
        let pair = DhKeyPair::from_secret_bytes(&[7; 32]);
        // The all-zero point and the point of order 8 with u = 1.
        for bad in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert_eq!(
                pair.diffie_hellman(&DhPublicKey::from_bytes(bad)),
                Err(Error::NonContributoryKey)
            );
        }
    }

    #[test]
    fn non_canonical_signing_key_is_refused() {
        // y = p (2^255 - 19) encodes the same point as y = 0: non-canonical.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xed;
        non_canonical[31] = 0x7f;
        assert!(SigningPublicKey::from_bytes(&non_canonical).is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let pair = DhKeyPair::from_secret_bytes(&[0x42; 32]);
        let text = format!("{pair:?}");
        assert!(!text.contains(&b64(&[0x42; 32])));
        assert!(text.contains(".."));
        let signer = SigningKeyPair::from_secret_bytes(&[0x42; 32]);
        assert!(!format!("{signer:?}").contains(&b64(&[0x42; 32])));
    }
}
