//! Media blobs (spec section 6): a file sealed under a fresh one-time key.
//! Only the blob is uploaded; the key travels inside a sealed message.

use core::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::aead::{xchacha_open, xchacha_seal};
use crate::error::Error;
use crate::random::random_array;

/// The key and nonce of one media blob. Wiped when dropped, never printed.
#[derive(Clone)]
pub struct MediaKey {
    key: Zeroizing<[u8; 32]>,
    nonce: [u8; 24],
}

impl MediaKey {
    /// A fresh key and nonce from the OS.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self {
            key: random_array::<32>()?,
            nonce: *random_array::<24>()?,
        })
    }

    /// A key and nonce received in a media descriptor.
    pub fn from_parts(key: [u8; 32], nonce: [u8; 24]) -> Self {
        Self {
            key: Zeroizing::new(key),
            nonce,
        }
    }

    /// The 32 key bytes, to put in the sealed descriptor. Handle with care.
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The 24 nonce bytes.
    pub fn nonce(&self) -> &[u8; 24] {
        &self.nonce
    }

    /// Encrypts a file: `XChaCha20-Poly1305(key, nonce, file, aad = empty)`.
    /// The file is read once and the blob written once: no other copy.
    pub fn seal(&self, file: &[u8]) -> Result<Vec<u8>, Error> {
        xchacha_seal(&self.key, &self.nonce, file, &[])
    }

    /// Checks and decrypts a downloaded blob.
    pub fn open(&self, blob: &[u8]) -> Result<Vec<u8>, Error> {
        xchacha_open(&self.key, &self.nonce, blob, &[])
    }
}

impl PartialEq for MediaKey {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        (self.key.ct_eq(&*other.key) & self.nonce.ct_eq(&other.nonce)).into()
    }
}

impl Eq for MediaKey {}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaKey").finish_non_exhaustive()
    }
}

/// The SHA-256 of a plaintext file, as the media descriptor carries it.
/// Kept apart from sealing so that sealing runs at the AEAD's own speed.
pub fn media_sha256(file: &[u8]) -> [u8; 32] {
    Sha256::digest(file).into()
}
