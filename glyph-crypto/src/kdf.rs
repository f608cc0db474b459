//! HKDF-SHA256 and HMAC-SHA256, the only key derivation functions Glyph uses.

use std::sync::LazyLock;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

/// 32 secret bytes, wiped when dropped.
pub(crate) type Secret32 = Zeroizing<[u8; 32]>;

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

/// `HMAC(key, m1)` and `HMAC(key, m2)` with one keying of HMAC: the keyed
/// state is computed once and cloned (same output, two fewer SHA-256
/// compressions). The ratchet's `KDF_CK` is exactly this shape.
pub(crate) fn hmac_pair(key: &[u8], m1: &[u8], m2: &[u8]) -> Result<(Secret32, Secret32), Error> {
    let keyed = Hmac::<Sha256>::new_from_slice(key).map_err(|_| Error::TooLarge)?;
    Ok((finish(keyed.clone(), m1), finish(keyed, m2)))
}

fn finish(mut mac: Hmac<Sha256>, msg: &[u8]) -> Zeroizing<[u8; 32]> {
    mac.update(msg);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// HMAC keyed with 32 zero bytes, keyed once per process: the HKDF-Extract
/// step of every ratchet message key uses this constant salt.
static ZERO_SALT: LazyLock<Option<Hmac<Sha256>>> =
    LazyLock::new(|| Hmac::<Sha256>::new_from_slice(&[0u8; 32]).ok());

/// `HKDF(ikm, 0x00*32, info, L)`, the same bytes as [`hkdf`] with a zero
/// salt, without re-keying HMAC with the constant salt each time.
pub(crate) fn hkdf_zero_salt<const L: usize>(
    ikm: &[u8],
    info: &[u8],
) -> Result<Zeroizing<[u8; L]>, Error> {
    let Some(extract) = ZERO_SALT.clone() else {
        return hkdf(ikm, &[0u8; 32], info);
    };
    let prk = finish(extract, ikm);
    let mut okm = Zeroizing::new([0u8; L]);
    Hkdf::<Sha256>::from_prk(prk.as_ref())
        .and_then(|hk| {
            hk.expand(info, okm.as_mut())
                .map_err(|_| hkdf::InvalidPrkLength)
        })
        .map_err(|_| Error::TooLarge)?;
    Ok(okm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac(key: &[u8], msg: &[u8]) -> Zeroizing<[u8; 32]> {
        finish(Hmac::<Sha256>::new_from_slice(key).unwrap(), msg)
    }

    #[test]
    fn the_shortcuts_give_the_same_bytes() {
        for ikm in [&[0u8; 32][..], &[7u8; 32], b"x"] {
            assert_eq!(
                *hkdf_zero_salt::<56>(ikm, b"info").unwrap(),
                *hkdf::<56>(ikm, &[0u8; 32], b"info").unwrap()
            );
            let (a, b) = hmac_pair(ikm, &[2], &[1]).unwrap();
            assert_eq!((*a, *b), (*hmac(ikm, &[2]), *hmac(ikm, &[1])));
        }
    }
}
