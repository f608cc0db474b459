//! The two AEADs: XChaCha20-Poly1305 (envelopes, ratchet, media) and
//! AES-256-GCM (the one-view share, which browsers open with Web Crypto).
//!
//! Every output is the ciphertext followed by its 16-byte tag.

use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit, inout::InOutBuf};

use crate::error::Error;

pub use crate::spec::TAG_LEN;

/// Encrypts `plaintext` into a fresh buffer of `plaintext.len() + 16` bytes,
/// reading the input once and writing the output once (no staging copy).
pub(crate) fn xchacha_seal(
    key: &[u8; 32],
    nonce: &[u8; 24],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, Error> {
    seal_into::<XChaCha20Poly1305>(
        XChaCha20Poly1305::new(key.into()),
        nonce,
        &[],
        plaintext,
        aad,
    )
}

/// Checks the tag and decrypts; any failure is [`Error::DecryptionFailed`].
pub(crate) fn xchacha_open(
    key: &[u8; 32],
    nonce: &[u8; 24],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, Error> {
    open_into::<XChaCha20Poly1305>(XChaCha20Poly1305::new(key.into()), nonce, ciphertext, aad)
}

/// AES-256-GCM encryption with a 12-byte IV, written as `iv || ct || tag`
/// in one buffer.
pub(crate) fn aes_gcm_seal_with_iv_prefix(
    key: &[u8; 32],
    iv: &[u8; 12],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    seal_into::<Aes256Gcm>(Aes256Gcm::new(key.into()), iv, iv, plaintext, &[])
}

/// AES-256-GCM decryption with a 12-byte IV.
pub(crate) fn aes_gcm_open(
    key: &[u8; 32],
    iv: &[u8; 12],
    ciphertext: &[u8],
) -> Result<Vec<u8>, Error> {
    open_into::<Aes256Gcm>(Aes256Gcm::new(key.into()), iv, ciphertext, &[])
}

/// Writes `prefix || ciphertext || tag` into one fresh buffer.
fn seal_into<A: AeadInOut>(
    cipher: A,
    nonce: &[u8],
    prefix: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, Error> {
    let nonce = nonce.try_into().map_err(|_| Error::TooLarge)?;
    let mut out = vec![0u8; prefix.len() + plaintext.len() + TAG_LEN];
    let (head, rest) = out.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    let (body, tag_slot) = rest.split_at_mut(plaintext.len());
    let buffer = InOutBuf::new(plaintext, body).map_err(|_| Error::TooLarge)?;
    let tag = cipher
        .encrypt_inout_detached(nonce, aad, buffer)
        .map_err(|_| Error::TooLarge)?;
    tag_slot.copy_from_slice(&tag);
    Ok(out)
}

fn open_into<A: AeadInOut>(
    cipher: A,
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, Error> {
    let nonce = nonce.try_into().map_err(|_| Error::DecryptionFailed)?;
    let body_len = ciphertext
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(Error::DecryptionFailed)?;
    let (body, tag) = ciphertext.split_at(body_len);
    let tag = tag.try_into().map_err(|_| Error::DecryptionFailed)?;
    let mut out = vec![0u8; body_len];
    let buffer = InOutBuf::new(body, &mut out).map_err(|_| Error::DecryptionFailed)?;
    cipher
        .decrypt_inout_detached(nonce, aad, buffer, tag)
        .map_err(|_| Error::DecryptionFailed)?;
    Ok(out)
}
