//! The crate's error types: one enum for callers, one for malformed input.

use thiserror::Error;

/// Every way an operation of this crate can fail.
///
/// Decryption failures are deliberately vague ("decryption failed"): telling
/// an attacker *why* a forged message was rejected helps the attacker. The
/// exceptions are the ones the protocol names: a bad signature on a sealed
/// envelope and a bad signed-prekey signature are reported as such.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The recovery words are not a valid Glyph mnemonic.
    #[error(transparent)]
    Mnemonic(#[from] MnemonicError),
    /// An encoded object (JSON, base64, hex, link) is malformed.
    #[error("malformed input: {0}")]
    Decode(#[from] DecodeError),
    /// A signature did not verify (sealed envelope, signed prekey, ...).
    #[error("bad signature")]
    BadSignature,
    /// Authentication of a ciphertext failed, or it was not meant for us.
    #[error("decryption failed")]
    DecryptionFailed,
    /// An X25519 exchange produced the all-zero value (a low-order peer key).
    #[error("key agreement with a low-order public key")]
    NonContributoryKey,
    /// The operating system's random number generator is unavailable.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// The input is larger than this construction can carry.
    #[error("input too large")]
    TooLarge,
    /// A ratchet message would need more skipped message keys than
    /// `MAX_SKIP` allows; refused before any key is derived.
    #[error("message too far ahead of its chain")]
    TooManySkipped,
    /// A ratchet message was already decrypted (a replay or a duplicate).
    #[error("message already received")]
    Duplicate,
    /// An X3DH header names a signed or one-time prekey this side does not
    /// hold (used up, rotated away, or never issued).
    #[error("unknown prekey {0}")]
    UnknownPreKey(u32),
    /// An X3DH header where the protocol forbids one (the responder never
    /// sends one), or one that does not belong to this session.
    #[error("unexpected X3DH header")]
    UnexpectedHeader,
    /// There is no session to send on: start one from the peer's bundle.
    #[error("no session with this peer")]
    NoSession,
    /// A first message whose X3DH header already created a session here,
    /// arriving again after that session is gone: a replay (spec section 5,
    /// known limits), refused before anything is decrypted.
    #[error("a replayed first message: its handshake was used before")]
    ReplayedHandshake,
    /// A device list breaks the rules of spec section 9 (not the expected
    /// user's, no device or more than 16, an id of 0, ids out of order).
    #[error("invalid device list: {0}")]
    InvalidDeviceList(&'static str),
    /// A device list older than one already accepted for the user (or of
    /// the same version with other devices): a rollback.
    #[error("a device list older than one already seen (a rollback)")]
    DeviceListRollback,
}

/// Why recovery words were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MnemonicError {
    /// A word is not in the BIP-39 English word list.
    #[error("word {position} ({word:?}) is not in the BIP-39 English word list")]
    UnknownWord {
        /// The offending word as given (lowercased).
        word: String,
        /// Its 1-based position in the phrase.
        position: usize,
    },
    /// The phrase does not have exactly 12 words.
    #[error("expected 12 words, got {0}")]
    WordCount(usize),
    /// Every word is known but the checksum does not match (a typo or a swap).
    #[error("the words' checksum does not match: a word is mistyped or out of order")]
    Checksum,
}

/// Why an encoded object was refused.
///
/// `field` names the JSON field (or part of a link) that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text is not JSON, or not the JSON shape expected.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type (or is a non-integer where an id belongs).
    #[error("field `{0}` has the wrong type")]
    WrongType(&'static str),
    /// A field is not canonical base64 of the expected alphabet.
    #[error("field `{0}` is not canonical base64")]
    Base64(&'static str),
    /// A field is not lowercase hex.
    #[error("field `{0}` is not lowercase hex")]
    Hex(&'static str),
    /// A field decodes to the wrong number of bytes.
    #[error("field `{field}` must be {expected} bytes, got {actual}")]
    Length {
        /// The field.
        field: &'static str,
        /// The length the protocol fixes.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// A field decodes to bytes that are not a valid key (e.g. a
    /// non-canonical Ed25519 point).
    #[error("field `{0}` is not a valid key")]
    InvalidKey(&'static str),
    /// The object's `v` is not a version this implementation understands.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u64),
    /// A share link or base URL is malformed.
    #[error("invalid link: {0}")]
    Link(&'static str),
    /// Stored state bytes (a session, a prekey store) are malformed, or from
    /// a format version this release does not know.
    #[error("invalid stored state: {0}")]
    State(&'static str),
}

impl From<serde_json::Error> for DecodeError {
    fn from(err: serde_json::Error) -> Self {
        DecodeError::Json(err.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::Decode(err.into())
    }
}
