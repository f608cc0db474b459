//! The Glyph client library, and the `glyph` command line built on it.
//!
//! An app embeds [`Client`]: create an account ([`Client::create`], which
//! returns the 12 words to show once) or restore one from its words
//! ([`Client::restore`]), then send ([`Client::send_text`],
//! [`Client::send_group_text`], [`Client::send_file`]), receive
//! ([`Client::sync`], or [`Client::listen`] for live push), and read the
//! history ([`Client::history`]). Everything is kept in an encrypted
//! profile ([`vault`]) unlocked by the user's PIN. The server only ever
//! sees ciphertext.
//!
//! This is the only crate that makes HTTP or WebSocket calls; all the
//! cryptography is `glyph-crypto`'s.
#![forbid(unsafe_code)]

mod annotations;
mod client;
mod contacts;
mod content;
mod devices;
mod error;
mod groups;
mod http;
mod in_flight;
mod live;
mod lock;
mod media;
mod messaging;
mod random;
mod receive;
mod reserved;
mod send;
mod share;
pub mod vault;

#[cfg(feature = "cli")]
pub mod cli;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

use base64ct::{Base64UrlUnpadded, Encoding};

pub use client::{Client, vault_path};
pub use contacts::{Contact, KeyCheck, MIN_ID_PREFIX};
pub use content::{
    Content, GroupUpdate, MAX_REACTION_CHARS, MAX_RECEIPT_IDS, MediaDescriptor, ReceiptKind,
};
pub use devices::DeviceEntry;
pub use error::{ClientError, Refusal};
pub use glyph_crypto::{Identity, Mnemonic, PublicIdentity, safety_number};
pub use http::{Api, Progress};
pub use live::LiveEvent;
pub use media::MAX_FILE_BYTES;
pub use messaging::{Annotations, Conversation, Delivery, Message, SendOptions};
pub use share::{MAX_SHARE_BYTES, create_share, open_share};

/// The user id of a signing key: its unpadded base64url (as the server
/// assigns it).
pub fn user_id_of(sign_pub: &glyph_crypto::SigningPublicKey) -> String {
    Base64UrlUnpadded::encode_string(sign_pub.as_bytes())
}
