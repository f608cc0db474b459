//! Identity (spec section 1): 12 BIP-39 words, the seed, and the signing and
//! DH keys derived from it; the public identity and its short safety code.

use core::fmt;

use bip39::Language;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::encoding::Fields;
use crate::error::{DecodeError, Error, MnemonicError};
use crate::kdf::hkdf;
use crate::keys::{DhKeyPair, DhPublicKey, SigningKeyPair, SigningPublicKey};
use crate::random::random_array;

pub use crate::spec::MNEMONIC_WORDS;

use crate::spec::{IDENTITY_DH_INFO, IDENTITY_SALT, IDENTITY_SIGNING_INFO, SAFETY_CODE_BYTES};

/// Twelve recovery words in canonical form (lowercase, single spaces).
///
/// Whoever holds the words holds the identity: the phrase is wiped from
/// memory when dropped and is not printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Mnemonic {
    // bip39's type wipes itself on drop (its `zeroize` feature is enabled).
    inner: bip39::Mnemonic,
    phrase: Zeroizing<String>,
}

impl Mnemonic {
    /// Twelve new words from 128 bits of OS randomness.
    pub fn generate() -> Result<Self, Error> {
        Self::from_entropy(&*random_array::<16>()?)
    }

    /// The words that encode these 16 bytes of entropy.
    pub fn from_entropy(entropy: &[u8; 16]) -> Result<Self, Error> {
        let inner = bip39::Mnemonic::from_entropy_in(Language::English, entropy)
            .map_err(|_| Error::Mnemonic(MnemonicError::Checksum))?;
        Ok(Self::from_inner(inner))
    }

    fn from_inner(inner: bip39::Mnemonic) -> Self {
        let phrase = Zeroizing::new(inner.words().collect::<Vec<_>>().join(" "));
        Self { inner, phrase }
    }

    /// Parses what a person typed: case and runs of white space are
    /// forgiven; unknown words (named in the error), a count other than 12
    /// and a bad checksum are not.
    pub fn parse(typed: &str) -> Result<Self, MnemonicError> {
        let canonical = Zeroizing::new(
            typed
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        let words: Vec<&str> = canonical.split(' ').filter(|w| !w.is_empty()).collect();
        for (index, word) in words.iter().enumerate() {
            if Language::English.find_word(word).is_none() {
                return Err(MnemonicError::UnknownWord {
                    word: (*word).to_owned(),
                    position: index + 1,
                });
            }
        }
        if words.len() != MNEMONIC_WORDS {
            return Err(MnemonicError::WordCount(words.len()));
        }
        match bip39::Mnemonic::parse_in_normalized(Language::English, &canonical) {
            Ok(inner) => Ok(Self::from_inner(inner)),
            Err(bip39::Error::BadWordCount(n)) => Err(MnemonicError::WordCount(n)),
            // Every word is known and the count is right: what is left is
            // the checksum.
            Err(_) => Err(MnemonicError::Checksum),
        }
    }

    /// The canonical phrase. Show it to its owner once; never log it.
    pub fn phrase(&self) -> &str {
        &self.phrase
    }

    /// The 64-byte BIP-39 seed for `passphrase` (empty unless the user set
    /// one); both are NFKD-normalised as BIP-39 requires.
    pub fn to_seed(&self, passphrase: &str) -> Seed {
        Seed(Zeroizing::new(self.inner.to_seed(passphrase)))
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mnemonic").finish_non_exhaustive()
    }
}

/// The 64-byte BIP-39 seed. Wiped when dropped, never printed.
pub struct Seed(Zeroizing<[u8; 64]>);

impl Seed {
    /// Wraps 64 seed bytes.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The seed bytes. Handle with care.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed").finish_non_exhaustive()
    }
}

/// A user's secret identity: an Ed25519 signing key and an X25519 DH key,
/// both derived from the seed.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    signing: SigningKeyPair,
    dh: DhKeyPair,
}

impl Identity {
    /// Derives the identity from recovery words and an optional passphrase.
    pub fn from_mnemonic(mnemonic: &Mnemonic, passphrase: &str) -> Result<Self, Error> {
        Self::from_seed(&mnemonic.to_seed(passphrase))
    }

    /// Derives both keys from the seed with HKDF (spec section 1).
    pub fn from_seed(seed: &Seed) -> Result<Self, Error> {
        let sign_sk = hkdf::<32>(seed.as_bytes(), IDENTITY_SALT, IDENTITY_SIGNING_INFO)?;
        let dh_sk = hkdf::<32>(seed.as_bytes(), IDENTITY_SALT, IDENTITY_DH_INFO)?;
        Ok(Self::from_secret_keys(&sign_sk, &dh_sk))
    }

    /// Rebuilds an identity from its two stored secret keys.
    pub fn from_secret_keys(sign_sk: &[u8; 32], dh_sk: &[u8; 32]) -> Self {
        Self {
            signing: SigningKeyPair::from_secret_bytes(sign_sk),
            dh: DhKeyPair::from_secret_bytes(dh_sk),
        }
    }

    /// The signing key pair.
    pub fn signing(&self) -> &SigningKeyPair {
        &self.signing
    }

    /// The DH key pair.
    pub fn dh(&self) -> &DhKeyPair {
        &self.dh
    }

    /// The public identity (both public keys).
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            sign_pub: self.signing.public(),
            dh_pub: *self.dh.public(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// What everyone may know of a user: the Ed25519 and X25519 public keys.
///
/// Stable encodings: 64 bytes (`sign_pub || dh_pub`) and the JSON object
/// `{"sign_pub":b64,"dh_pub":b64}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicIdentity {
    /// The Ed25519 public key: the user's id.
    pub sign_pub: SigningPublicKey,
    /// The X25519 public key.
    pub dh_pub: DhPublicKey,
}

impl PublicIdentity {
    /// `sign_pub || dh_pub`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.sign_pub.as_bytes());
        out[32..].copy_from_slice(self.dh_pub.as_bytes());
        out
    }

    /// Parses `sign_pub || dh_pub`.
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Self, DecodeError> {
        let (sign, dh) = bytes.split_at(32);
        Ok(Self {
            sign_pub: SigningPublicKey::from_field(
                "sign_pub",
                &crate::encoding::to_array("sign_pub", sign)?,
            )?,
            dh_pub: DhPublicKey::from_bytes(crate::encoding::to_array("dh_pub", dh)?),
        })
    }

    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({"sign_pub": self.sign_pub.to_base64(), "dh_pub": self.dh_pub.to_base64()})
    }

    /// Parses the JSON form (unknown fields ignored).
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "identity")?;
        Ok(Self {
            sign_pub: SigningPublicKey::from_field("sign_pub", &fields.b64_array("sign_pub")?)?,
            dh_pub: DhPublicKey::from_bytes(fields.b64_array("dh_pub")?),
        })
    }

    /// The short safety code: the first 6 bytes of `SHA-256(sign_pub)` as
    /// `xxxx · xxxx · xxxx`.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.sign_pub.as_bytes());
        let hex: String = digest[..SAFETY_CODE_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{} · {} · {}", &hex[0..4], &hex[4..8], &hex[8..12])
    }
}
