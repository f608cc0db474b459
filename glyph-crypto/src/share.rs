//! The one-view share (spec section 7): a secret sealed with AES-256-GCM so
//! that a browser can open it with Web Crypto, and the link that carries the
//! key in its `#key=` fragment, which browsers never send to the server.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::aead::{TAG_LEN, aes_gcm_open, aes_gcm_seal_with_iv_prefix};
use crate::encoding::{b64url, b64url_decode, to_array};
use crate::error::{DecodeError, Error};
use crate::random::random_array;

pub use crate::spec::{SHARE_CODE_MIN_LEN, SHARE_IV_LEN};
/// Length of the codes [`generate_share_code`] makes (about 95 bits).
pub const SHARE_CODE_LEN: usize = 16;

const CODE_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The 32-byte AES-256 key of one share. Wiped when dropped, never printed.
#[derive(Clone)]
pub struct ShareKey(Zeroizing<[u8; 32]>);

impl ShareKey {
    /// A fresh key from the OS.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self(random_array::<32>()?))
    }

    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes. Handle with care.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Seals `plaintext` with a fresh IV: `iv || AES-256-GCM(key, iv, plaintext)`.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.seal_with_iv(&*random_array::<SHARE_IV_LEN>()?, plaintext)
    }

    /// [`ShareKey::seal`] with the IV given, for test vectors. Never reuse
    /// an IV under one key: use `seal` in applications.
    pub fn seal_with_iv(
        &self,
        iv: &[u8; SHARE_IV_LEN],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        aes_gcm_seal_with_iv_prefix(&self.0, iv, plaintext)
    }

    /// Opens a blob made by [`ShareKey::seal`] (or by a browser, the same way).
    pub fn open(&self, blob: &[u8]) -> Result<Vec<u8>, Error> {
        if blob.len() < SHARE_IV_LEN + TAG_LEN {
            return Err(Error::DecryptionFailed);
        }
        let (iv, ct) = blob.split_at(SHARE_IV_LEN);
        let iv = to_array::<SHARE_IV_LEN>("iv", iv).map_err(|_| Error::DecryptionFailed)?;
        aes_gcm_open(&self.0, &iv, ct)
    }
}

impl PartialEq for ShareKey {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for ShareKey {}

impl fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareKey").finish_non_exhaustive()
    }
}

/// A share link, `<base>/s/<code>#key=<b64url(key)>`.
///
/// The link *is* the key: `Debug` shows the base and code only, and
/// [`ShareLink::to_url`] is the one way to get the full text.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareLink {
    base: String,
    code: String,
    key: ShareKey,
}

impl ShareLink {
    /// Builds a link, checking the base URL and the code.
    pub fn new(base: &str, code: &str, key: ShareKey) -> Result<Self, DecodeError> {
        validate_base(base)?;
        validate_share_code(code)?;
        Ok(Self {
            base: base.to_owned(),
            code: code.to_owned(),
            key,
        })
    }

    /// Parses a link strictly: an http(s) base without query or fragment,
    /// `/s/`, a valid code, and a fragment that is exactly `key=` followed
    /// by 32 bytes of canonical unpadded base64url.
    pub fn parse(link: &str) -> Result<Self, DecodeError> {
        let (page, fragment) = link
            .split_once('#')
            .ok_or(DecodeError::Link("no #key= fragment"))?;
        let encoded_key = fragment
            .strip_prefix("key=")
            .ok_or(DecodeError::Link("the fragment must be key=<base64url>"))?;
        let (base, code) = page
            .rsplit_once("/s/")
            .ok_or(DecodeError::Link("no /s/<code> path"))?;
        let key = to_array::<32>("key", &b64url_decode("key", encoded_key)?)?;
        Self::new(base, code, ShareKey::from_bytes(key))
    }

    /// The relay's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The share's code at the relay.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The key.
    pub fn key(&self) -> &ShareKey {
        &self.key
    }

    /// The whole link, key included. Whoever sees it can open the share.
    pub fn to_url(&self) -> String {
        format!(
            "{}/s/{}#key={}",
            self.base,
            self.code,
            b64url(self.key.as_bytes())
        )
    }
}

impl fmt::Debug for ShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareLink")
            .field("base", &self.base)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

/// Checks a relay base URL: absolute `http://` or `https://`, a host, and no
/// query, fragment, trailing slash, white space or control characters.
pub fn validate_base(base: &str) -> Result<(), DecodeError> {
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .ok_or(DecodeError::Link(
            "the base must start with http:// or https://",
        ))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(DecodeError::Link("the base has no host"));
    }
    if base.contains(['?', '#']) {
        return Err(DecodeError::Link(
            "the base may not have a query or fragment",
        ));
    }
    if base.ends_with('/') {
        return Err(DecodeError::Link("the base may not end with a slash"));
    }
    if base.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DecodeError::Link("the base may not contain white space"));
    }
    Ok(())
}

/// Checks a share code: at least 11 characters of `[A-Za-z0-9]`.
pub fn validate_share_code(code: &str) -> Result<(), DecodeError> {
    if code.len() < SHARE_CODE_MIN_LEN {
        return Err(DecodeError::Link("the code is too short"));
    }
    if !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DecodeError::Link("the code may hold only A-Z, a-z and 0-9"));
    }
    Ok(())
}

/// A fresh share code of [`SHARE_CODE_LEN`] characters drawn uniformly from
/// `[A-Za-z0-9]` (rejection sampling, so no character is favoured).
pub fn generate_share_code() -> Result<String, Error> {
    // 248 = 4 * 62: bytes at or above it would bias the draw.
    const LIMIT: u8 = 248;
    let mut code = String::with_capacity(SHARE_CODE_LEN);
    while code.len() < SHARE_CODE_LEN {
        for &byte in random_array::<32>()?.iter() {
            if byte < LIMIT && code.len() < SHARE_CODE_LEN {
                code.push(char::from(CODE_ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_and_bad_links_are_refused() {
        let key = ShareKey::from_bytes([9; 32]);
        let link = ShareLink::new("https://glyph.example", "abcdefghijk", key.clone()).unwrap();
        let text = link.to_url();
        assert_eq!(ShareLink::parse(&text).unwrap(), link);
        assert!(!format!("{link:?}").contains(&b64url(&[9; 32])));
        let good_key = b64url(&[9; 32]);
        for bad in [
            format!("https://glyph.example/s/abcdefghijk#key={good_key}x"),
            format!("https://glyph.example/s/abcdefghij#key={good_key}"),
            format!("https://glyph.example/s/abcdefghij-k#key={good_key}"),
            format!("ftp://glyph.example/s/abcdefghijk#key={good_key}"),
            format!("https://glyph.example/?q/s/abcdefghijk#key={good_key}"),
            format!("https://glyph.example//s/abcdefghijk#key={good_key}"),
            format!("https://glyph.example/s/abcdefghijk#k={good_key}"),
            format!(
                "https://glyph.example/s/abcdefghijk#key={}",
                b64url(&[9; 31])
            ),
            "https://glyph.example/s/abcdefghijk".to_owned(),
            format!("https:///s/abcdefghijk#key={good_key}"),
        ] {
            assert!(ShareLink::parse(&bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn generated_codes_are_valid_and_distinct() {
        let a = generate_share_code().unwrap();
        let b = generate_share_code().unwrap();
        assert_eq!(a.len(), SHARE_CODE_LEN);
        validate_share_code(&a).unwrap();
        assert_ne!(a, b);
    }
}
