//! The Glyph client library, and the `glyph` command line built on it.
//!
//! What it will hold (the client issue): account creation and restore from
//! 12 words, login with a signed challenge and silent token renewal, prekey
//! upkeep, Double Ratchet sessions per contact, text and group fan-out,
//! media, disappearing messages, safety numbers, live receive over a
//! WebSocket, and an encrypted local store. It is the only crate that makes
//! HTTP or WebSocket calls.
//!
//! Today it re-exports the crypto an app needs to create and restore an
//! identity, so that apps depend on this crate alone.
#![forbid(unsafe_code)]

pub use glyph_crypto::{Identity, Mnemonic, PublicIdentity, safety_number};
