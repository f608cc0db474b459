//! Glyph's end-to-end encryption, to the letter of the Glyph wire protocol,
//! **version 1, revision 2026-11-30** ([`SPEC_VERSION`]; the normative text
//! is `PROTOCOL.md` at the repository's root, explained in
//! `docs/protocol.md`). Every label and fixed number it names is in
//! [`spec`], checked against the spec's own table by `tests/spec.rs`.
//!
//! Pure and synchronous: no I/O, no async runtime, no database. Randomness
//! comes from the operating system. Every primitive comes from an audited
//! crate (x25519-dalek, ed25519-dalek, chacha20poly1305, aes-gcm, hkdf, hmac,
//! sha2, bip39); this crate only composes them.
//!
//! | spec | here |
//! | --- | --- |
//! | 1. Identity | [`Mnemonic`], [`Identity`], [`PublicIdentity`], [`safety_number`] |
//! | 2. Sealed envelope v1 | [`SealedEnvelope`] |
//! | 3. X3DH | [`PreKeyStore`], [`SignedPreKey`], [`PreKeyBundle`], [`X3dhHeader`] |
//! | 4. Double Ratchet | [`Session`], [`RatchetHeader`], [`MAX_SKIP`] |
//! | 5. Envelope v2 | [`EnvelopeV2`], [`PeerSessions`] |
//! | 6. Media blob | [`MediaKey`], [`media_sha256`] |
//! | 7. One-view share | [`ShareKey`], [`ShareLink`] |
//! | 9. Devices | [`DeviceList`], [`DeviceBundle`], [`DeviceSessions`], [`generate_device_id`] |
//!
//! # Example: an identity, a sealed message, and opening it
//!
//! ```
//! use glyph_crypto::{Identity, Mnemonic, SealedEnvelope};
//!
//! # fn main() -> Result<(), glyph_crypto::Error> {
//! // Alice creates an account: 12 words, shown to her once.
//! let words = Mnemonic::generate()?;
//! let alice = Identity::from_mnemonic(&words, "")?;
//! // Bob restores his from words he wrote down earlier.
//! let bob_words = Mnemonic::parse("legal winner thank year wave sausage worth useful legal winner thank yellow")?;
//! let bob = Identity::from_mnemonic(&bob_words, "")?;
//!
//! // Alice seals a message to Bob's DH key; only JSON travels.
//! let envelope = SealedEnvelope::seal(alice.signing(), &bob.public().dh_pub, b"hi Bob")?;
//! let wire = envelope.to_json();
//!
//! // Bob parses strictly, checks the sender, and opens.
//! let received = SealedEnvelope::from_json(&wire)?;
//! assert_eq!(received.sender(), &alice.public().sign_pub);
//! assert_eq!(received.open(bob.dh())?, b"hi Bob");
//!
//! // Both compare the same 60-digit safety number out of band.
//! let number = glyph_crypto::safety_number(&alice.public(), &bob.public());
//! assert_eq!(number, glyph_crypto::safety_number(&bob.public(), &alice.public()));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod aead;
mod devices;
mod encoding;
mod envelope;
mod error;
mod identity;
mod kdf;
mod keys;
mod media;
mod random;
mod ratchet;
mod safety;
mod seal;
mod session;
mod share;
pub mod spec;
mod state_codec;

/// The version and revision of the wire protocol this crate implements.
pub const SPEC_VERSION: &str = "1 (revision 2026-11-30)";
mod x3dh;

#[cfg(feature = "vectors")]
pub mod vectors;

pub use aead::TAG_LEN;
pub use devices::{DEVICES_LABEL, DeviceBundle, DeviceList, MAX_DEVICES, generate_device_id};
pub use envelope::{EnvelopeV2, RatchetMessage};
pub use error::{DecodeError, Error, MnemonicError};
pub use identity::{Identity, MNEMONIC_WORDS, Mnemonic, PublicIdentity, Seed};
pub use keys::{DhKeyPair, DhPublicKey, SIGNATURE_LEN, SigningKeyPair, SigningPublicKey};
pub use media::{MediaKey, media_sha256};
pub use ratchet::{MAX_SKIP, MAX_STORED_SKIPPED, RATCHET_HEADER_LEN, RatchetHeader};
pub use safety::safety_number;
pub use seal::SealedEnvelope;
pub use session::{
    DeviceSessions, MAX_DEVICE_SESSIONS, MAX_SESSIONS_PER_PEER, PeerSessions, SendingPosition,
    Session,
};
pub use share::{
    SHARE_CODE_LEN, SHARE_CODE_MIN_LEN, SHARE_IV_LEN, ShareKey, ShareLink, generate_share_code,
    validate_base, validate_share_code,
};
pub use x3dh::{
    AD_LEN, OneTimePreKey, PreKeyBundle, PreKeyStore, SignedPreKey, X3dhHeader,
    verify_signed_prekey,
};
