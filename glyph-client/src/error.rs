//! The client's one error type.

use serde_json::Value;
use thiserror::Error;

/// Everything that can go wrong in the client, each with a clear message.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The server could not be reached (or the connection broke).
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The server refused the request.
    #[error("the server refused: {message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The stable error code (see docs/api.md).
        code: String,
        /// The server's message.
        message: String,
        /// Extra details (e.g. a roster mismatch's members).
        details: Option<Value>,
    },
    /// This device was removed from the account (from another of its
    /// devices): the server refuses it. Restore from the words into a new
    /// profile to link this computer again.
    #[error(
        "this device was removed from your account; to use it again, restore from your 12 words into a new profile"
    )]
    DeviceRemoved,
    /// The server answered something that is not the API.
    #[error("the server's answer was malformed: {0}")]
    BadResponse(String),
    /// A cryptographic check failed (bad signature, failed decryption...).
    #[error("crypto: {0}")]
    Crypto(#[from] glyph_crypto::Error),
    /// A wire object failed to decode.
    #[error("decoding: {0}")]
    Decode(#[from] glyph_crypto::DecodeError),
    /// The 12 words are not valid.
    #[error("the recovery words are not valid: {0}")]
    Mnemonic(#[from] glyph_crypto::MnemonicError),
    /// The PIN does not unlock this profile.
    #[error("wrong PIN or passphrase")]
    WrongPin,
    /// An empty PIN was given.
    #[error("the PIN or passphrase may not be empty")]
    EmptyPin,
    /// No profile at this place.
    #[error("no profile at {0}: run `glyph init` or `glyph restore` first")]
    NoProfile(String),
    /// A profile already exists there.
    #[error("a profile already exists at {0}")]
    ProfileExists(String),
    /// The local store is damaged (or not a Glyph profile).
    #[error("the local store is damaged: {0}")]
    CorruptStore(&'static str),
    /// A local database error.
    #[error("local store: {0}")]
    Store(#[from] rusqlite::Error),
    /// A user's keys are not bound by a valid signature: the server (or
    /// someone in between) handed out keys the user never published.
    #[error("the keys published for {0} are not signed by that user: do not trust this contact")]
    BadBinding(String),
    /// A contact's keys changed since they were first seen; sending is
    /// refused until the change is accepted (after verifying again).
    #[error("the keys of {0} changed: verify the safety number again, then accept the change")]
    KeyChanged(String),
    /// Something the server presented was refused because it cannot be
    /// what it claims: a message not from its claimed sender, or a group
    /// member no member announced.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// A user, contact or group the caller named is unknown.
    #[error("unknown {0}")]
    Unknown(String),
    /// No stored message with this local id.
    #[error("no message {0}")]
    UnknownMessage(i64),
    /// A file is larger than the server accepts.
    #[error("the file is {size} bytes; the limit is {limit}")]
    FileTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file would take me past my storage quota on the server.
    #[error("the server keeps {used} of your {quota} bytes of files; delete some first")]
    QuotaExceeded {
        /// Bytes in use.
        used: u64,
        /// The quota.
        quota: u64,
    },
    /// A downloaded file does not match the SHA-256 its sender sealed.
    #[error("the downloaded file does not match its checksum: it was altered")]
    Integrity,
    /// A media message was viewed once already and is gone.
    #[error("this view-once media was already viewed")]
    AlreadyViewed,
    /// What the caller asked for is malformed or out of bounds (a timer of
    /// 0 s, an empty message, a PIN too short): the message says what and
    /// how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The message is not what the operation needs (e.g. not media).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A file named on this device could not be read or written.
    #[error("{path}: {reason}")]
    LocalFile {
        /// The file.
        path: String,
        /// What went wrong, in plain words.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The operating system's random generator failed.
    #[error("the random number generator failed")]
    Rng,
}

/// Why a message (or a send) was refused: the server's claim about who
/// sent what, or who is in a group, did not hold up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A first message whose keys are not the sender's registered keys
    /// (someone else holds them: a forgery, by the server or for it).
    KeysMismatch,
    /// A message carrying another user's keys than the sender the server
    /// names.
    WrongSender,
    /// A first message whose handshake already made a session here,
    /// arriving again: a replay.
    ReplayedFirstMessage,
    /// A first message from someone the directory does not know, or whose
    /// directory record is not signed by them.
    UnknownSender,
    /// The server presented as mine a message I did not seal.
    NotMine,
    /// The server lists these group members, and no member announced
    /// adding them: nothing is sent to them.
    UnconfirmedMembers(Vec<String>),
    /// This many of the messages just received were refused (each is in
    /// the history, marked with why).
    Messages(usize),
    /// A device list that is not the user's, breaks the rules, or is older
    /// than one accepted before (a rollback).
    DeviceList(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::KeysMismatch => f.write_str("keys do not match the sender's registered keys"),
            Refusal::WrongSender => {
                f.write_str("it carries the keys of someone else than its sender")
            }
            Refusal::ReplayedFirstMessage => {
                f.write_str("a first message received before, sent again (a replay)")
            }
            Refusal::UnknownSender => {
                f.write_str("the sender has no valid record in the server's directory")
            }
            Refusal::NotMine => {
                f.write_str("the server presented as mine a message I did not seal")
            }
            Refusal::DeviceList(why) => {
                write!(f, "the device list the server gave is refused: {why}")
            }
            Refusal::Messages(count) => write!(
                f,
                "{count} new message(s) are not from whom the server says; they were not opened"
            ),
            Refusal::UnconfirmedMembers(members) => write!(
                f,
                "the server lists {} as group members, but no member announced adding them",
                members.join(", ")
            ),
        }
    }
}

impl ClientError {
    /// A problem with the file at `path`, in plain words.
    pub fn local_file(path: &std::path::Path, err: &std::io::Error) -> Self {
        let reason = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            std::io::ErrorKind::AlreadyExists => "it exists already".to_owned(),
            std::io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
            _ => err.to_string(),
        };
        ClientError::LocalFile {
            path: path.display().to_string(),
            reason,
        }
    }

    /// The server's error code, if the server refused.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_decode() {
            ClientError::BadResponse(err.to_string())
        } else {
            ClientError::Network(err.to_string())
        }
    }
}
