//! Every domain-separation label and fixed number of the wire protocol
//! (`PROTOCOL.md`, "Labels and constants"), defined once: the modules use
//! these, and `tests/spec.rs` checks [`TABLE`] against the spec's table in
//! both directions, so the code and the spec cannot drift apart.

/// HKDF salt of both identity keys (section 1).
pub const IDENTITY_SALT: &[u8] = b"glyph/identity/v1";
/// HKDF info of the Ed25519 identity key (section 1).
pub const IDENTITY_SIGNING_INFO: &[u8] = b"ed25519";
/// HKDF info of the X25519 identity key (section 1).
pub const IDENTITY_DH_INFO: &[u8] = b"x25519";
/// Label of the safety number's first hash (section 1).
pub const SAFETY_LABEL: &[u8] = b"glyph/safety/v1";
/// SHA-512 computations per user in the safety number (one, then 5199 more).
pub const SAFETY_ITERATIONS: usize = 5200;
/// Bytes of SHA-256(sign_pub) the safety code shows (section 1).
pub const SAFETY_CODE_BYTES: usize = 6;
/// Number of words in a Glyph mnemonic (128 bits of entropy).
pub const MNEMONIC_WORDS: usize = 12;
/// HKDF info and signature label of the v1 sealed envelope (section 2).
pub const SEAL_LABEL: &[u8] = b"glyph/seal/v1";
/// Label of the signed prekey's signature (section 3).
pub const SPK_LABEL: &[u8] = b"glyph/spk/v1";
/// HKDF info of the X3DH shared secret (section 3).
pub const X3DH_LABEL: &[u8] = b"glyph/x3dh/v1";
/// Length of the associated data: both users' two public keys (section 3).
pub const AD_LEN: usize = 128;
/// Most sessions kept per peer device (section 3).
pub const MAX_SESSIONS_PER_PEER: usize = 5;
/// HKDF info of the root-key step (section 4).
pub const RATCHET_RK_LABEL: &[u8] = b"glyph/ratchet/rk/v1";
/// HKDF info of the message keys (section 4).
pub const RATCHET_MK_LABEL: &[u8] = b"glyph/ratchet/mk/v1";
/// Length of a ratchet header: `dh_pub(32) || u32be(pn) || u32be(n)`.
pub const RATCHET_HEADER_LEN: usize = 40;
/// Most message keys one message may make a chain skip (section 4).
pub const MAX_SKIP: u32 = 1000;
/// Most skipped message keys a session stores; more evict the oldest.
pub const MAX_STORED_SKIPPED: usize = 2000;
/// Length of the authentication tag appended by both AEADs (section 0).
pub const TAG_LEN: usize = 16;
/// Length of the IV that prefixes a share blob (section 7).
pub const SHARE_IV_LEN: usize = 12;
/// Fewest characters a share code may have (over 64 bits; section 7).
pub const SHARE_CODE_MIN_LEN: usize = 11;
/// Label of the device list's signature (section 9).
pub const DEVICES_LABEL: &[u8] = b"glyph/devices/v1";
/// Most devices a user has, and a device list holds (section 9).
pub const MAX_DEVICES: usize = 16;

/// A label's text (every label is ASCII; one that were not would read as
/// empty, and fail the spec test).
const fn text(label: &'static [u8]) -> &'static str {
    match core::str::from_utf8(label) {
        Ok(text) => text,
        Err(_) => "",
    }
}

/// Each constant's name and value, as the spec's table writes them.
pub const TABLE: &[(&str, Value)] = &[
    ("IDENTITY_SALT", Value::Label(text(IDENTITY_SALT))),
    (
        "IDENTITY_SIGNING_INFO",
        Value::Label(text(IDENTITY_SIGNING_INFO)),
    ),
    ("IDENTITY_DH_INFO", Value::Label(text(IDENTITY_DH_INFO))),
    ("SAFETY_LABEL", Value::Label(text(SAFETY_LABEL))),
    ("SAFETY_ITERATIONS", Value::Number(SAFETY_ITERATIONS as u64)),
    ("SAFETY_CODE_BYTES", Value::Number(SAFETY_CODE_BYTES as u64)),
    ("MNEMONIC_WORDS", Value::Number(MNEMONIC_WORDS as u64)),
    ("SEAL_LABEL", Value::Label(text(SEAL_LABEL))),
    ("SPK_LABEL", Value::Label(text(SPK_LABEL))),
    ("X3DH_LABEL", Value::Label(text(X3DH_LABEL))),
    ("AD_LEN", Value::Number(AD_LEN as u64)),
    (
        "MAX_SESSIONS_PER_PEER",
        Value::Number(MAX_SESSIONS_PER_PEER as u64),
    ),
    ("RATCHET_RK_LABEL", Value::Label(text(RATCHET_RK_LABEL))),
    ("RATCHET_MK_LABEL", Value::Label(text(RATCHET_MK_LABEL))),
    (
        "RATCHET_HEADER_LEN",
        Value::Number(RATCHET_HEADER_LEN as u64),
    ),
    ("MAX_SKIP", Value::Number(MAX_SKIP as u64)),
    (
        "MAX_STORED_SKIPPED",
        Value::Number(MAX_STORED_SKIPPED as u64),
    ),
    ("TAG_LEN", Value::Number(TAG_LEN as u64)),
    ("SHARE_IV_LEN", Value::Number(SHARE_IV_LEN as u64)),
    (
        "SHARE_CODE_MIN_LEN",
        Value::Number(SHARE_CODE_MIN_LEN as u64),
    ),
    ("DEVICES_LABEL", Value::Label(text(DEVICES_LABEL))),
    ("MAX_DEVICES", Value::Number(MAX_DEVICES as u64)),
];

/// A constant's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A label, as text.
    Label(&'static str),
    /// A number.
    Number(u64),
}

impl core::fmt::Display for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Label(text) => f.write_str(text),
            Value::Number(n) => write!(f, "{n}"),
        }
    }
}
