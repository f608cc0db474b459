//! HKDF-SHA256 and HMAC-SHA256, the only key derivation functions Glyph uses.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

/// `HKDF(ikm, salt, info, L)` of the spec (RFC 5869, SHA-256).
pub(crate) fn hkdf<const L: usize>(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
) -> Result<Zeroizing<[u8; L]>, Error> {
    let mut okm = Zeroizing::new([0u8; L]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm.as_mut())
        .map_err(|_| Error::TooLarge)?;
    Ok(okm)
}

/// `HMAC(key, msg)` of the spec (HMAC-SHA256).
pub(crate) fn hmac(key: &[u8], msg: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| Error::TooLarge)?;
    mac.update(msg);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}
