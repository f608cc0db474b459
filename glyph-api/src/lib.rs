//! The request and response bodies of Glyph's HTTP API (`/v1`), defined
//! once and used by both `glyph-server` and `glyph-client`, so a field
//! renamed on one side cannot silently break the other.
//!
//! Keys, signatures and challenges travel as standard base64 strings, as in
//! the crypto wire format; envelopes travel as the JSON objects of the spec
//! and are opaque to the server. User ids are the unpadded base64url of the
//! user's Ed25519 signing key. Times are Unix seconds.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The domain-separation label of the registration binding signature:
/// `Ed25519-Sign(sign_sk, BINDING_LABEL || sign_pub || dh_pub)`.
pub const BINDING_LABEL: &[u8] = b"glyph/binding/v1";

/// The domain-separation label of a login signature:
/// `Ed25519-Sign(sign_sk, AUTH_LABEL || challenge || sign_pub)`.
pub const AUTH_LABEL: &[u8] = b"glyph/auth/v1";

/// `POST /v1/users`: register a user by its two public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Ed25519 public key (base64).
    pub sign_pub: String,
    /// X25519 public key (base64).
    pub dh_pub: String,
    /// Signature by `sign_pub` binding `dh_pub` (base64; see [`BINDING_LABEL`]).
    pub binding_sig: String,
}

/// A user as the directory returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user id (unpadded base64url of `sign_pub`).
    pub user_id: String,
    /// Ed25519 public key (base64).
    pub sign_pub: String,
    /// X25519 public key (base64).
    pub dh_pub: String,
    /// The binding signature, for the client to check (base64).
    pub binding_sig: String,
    /// The user's handle, if one is set.
    pub handle: Option<String>,
}

/// `PUT /v1/me/handle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetHandleRequest {
    /// 3 to 32 characters of `a-z 0-9 _ . -`, starting with a letter; case
    /// is ignored.
    pub handle: String,
}

/// `POST /v1/auth/challenge` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// 32 random bytes (base64), usable once.
    pub challenge: String,
    /// When the challenge stops being accepted.
    pub expires_at: i64,
}

/// `POST /v1/auth/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The user's Ed25519 public key (base64).
    pub sign_pub: String,
    /// The challenge, as received (base64).
    pub challenge: String,
    /// Signature over [`AUTH_LABEL`] `|| challenge || sign_pub` (base64).
    pub signature: String,
}

/// `POST /v1/auth/token` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// A bearer token (JWT, HS256).
    pub token: String,
    /// When it expires.
    pub expires_at: i64,
    /// The user id the token is for.
    pub user_id: String,
}

/// `PUT /v1/prekeys/signed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPreKeyUpload {
    /// The prekey's id.
    pub spk_id: u32,
    /// X25519 public key (base64).
    pub spk_pub: String,
    /// Signature by the user's signing key (base64), as the spec says.
    pub spk_sig: String,
}

/// One one-time prekey in an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePreKeyUpload {
    /// The prekey's id.
    pub id: u32,
    /// X25519 public key (base64).
    #[serde(rename = "pub")]
    pub public: String,
}

/// `POST /v1/prekeys/one-time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePreKeysUpload {
    /// The prekeys.
    pub keys: Vec<OneTimePreKeyUpload>,
}

/// `GET /v1/prekeys/count` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreKeyCount {
    /// One-time prekeys left on the server.
    pub one_time: u64,
    /// The signed prekey the server hands out, if any.
    pub signed_prekey_id: Option<u32>,
}

/// One sealed copy of a message, for one recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageCopy {
    /// The recipient's user id.
    pub recipient: String,
    /// The envelope for the recipient (a JSON object; opaque to the server).
    pub envelope: Value,
    /// A sealed copy for the sender's own devices (a v1 envelope), if any.
    #[serde(default)]
    pub self_copy: Option<Value>,
    /// The group this copy belongs to, if any.
    #[serde(default)]
    pub group_id: Option<String>,
    /// When the message disappears (Unix seconds), if it does.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Whether the message may be viewed once.
    #[serde(default)]
    pub view_once: bool,
    /// The media blob this message refers to (`media/<sender>/<name>`), so
    /// the server can delete it when a view-once message is viewed or the
    /// message expires. It must be in the sender's own folder.
    #[serde(default)]
    pub media_path: Option<String>,
}

/// `POST /v1/messages`: one message as 1..N sealed copies, stored all or
/// nothing. Retrying with the same `client_id` never stores a copy twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The sender's id for this message (1 to 64 characters), for retries.
    pub client_id: String,
    /// The copies.
    pub copies: Vec<MessageCopy>,
}

/// What the server stored for one copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCopy {
    /// The message id.
    pub id: i64,
    /// The recipient.
    pub recipient: String,
}

/// `POST /v1/messages` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// One entry per copy, in request order.
    pub messages: Vec<StoredCopy>,
}

/// Which side of a message an inbox entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Addressed to me: `payload` is the envelope for me.
    In,
    /// Sent by me: `payload` is my sealed self-copy.
    Out,
}

/// One inbox entry: a message addressed to me, or my own sent copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxMessage {
    /// My inbox position: strictly increasing, the paging cursor.
    pub seq: i64,
    /// The message id (shared by the sender's and recipient's entries).
    pub id: i64,
    /// Received or sent.
    pub direction: Direction,
    /// The sender's user id.
    pub sender: String,
    /// The recipient's user id.
    pub recipient: String,
    /// The sender's client id.
    pub client_id: String,
    /// The group, if any.
    pub group_id: Option<String>,
    /// The envelope (in) or the self-copy (out).
    pub payload: Value,
    /// When the server stored it.
    pub sent_at: i64,
    /// When it disappears, if it does.
    pub expires_at: Option<i64>,
    /// Whether it is view-once.
    pub view_once: bool,
    /// The media blob the message refers to, if the sender named one.
    #[serde(default)]
    pub media_path: Option<String>,
    /// When the recipient reported the view-once message viewed (its blob
    /// is then deleted), if it has.
    #[serde(default)]
    pub media_removed_at: Option<i64>,
}

/// `GET /v1/messages?after=SEQ&limit=N` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxPage {
    /// Entries with `seq > after`, oldest first.
    pub messages: Vec<InboxMessage>,
    /// The cursor for the next page (the last `seq` returned, or `after`).
    pub next_after: i64,
}

/// `POST /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    /// The other members (the creator is added).
    pub members: Vec<String>,
}

/// `POST /v1/groups/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMemberRequest {
    /// The user to add.
    pub user_id: String,
}

/// A group roster: the server knows no name and no picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group id.
    pub group_id: String,
    /// The members' user ids, sorted.
    pub members: Vec<String>,
}

/// `GET /v1/groups` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    /// My groups.
    pub groups: Vec<Group>,
}

/// The body of every error response: `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable machine-readable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_token`, `roster_mismatch`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Extra structured detail (e.g. the missing and extra group members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// A frame the server sends on the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushFrame {
    /// An inbox entry, in `seq` order.
    Message {
        /// The entry.
        message: Box<InboxMessage>,
    },
    /// Everything up to now has been sent; what follows is live.
    CaughtUp {
        /// The last `seq` sent.
        after: i64,
    },
}

/// `POST /v1/media` response: where the uploaded blob lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUploaded {
    /// `media/<owner user id>/<32 hex digits>`; download it at `/v1/<path>`.
    pub path: String,
    /// Bytes stored.
    pub size: u64,
}

/// `GET /v1/media` response: the caller's storage use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUsage {
    /// Bytes in the caller's stored blobs (and uploads in progress).
    pub used_bytes: u64,
    /// The caller's quota.
    pub quota_bytes: u64,
    /// The largest file one upload may hold (its sealed blob may be 16
    /// bytes longer, for the tag).
    pub max_file_bytes: u64,
}

/// `POST /v1/messages/{id}/viewed` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewedResponse {
    /// When the view was recorded (the first report's time on a retry).
    pub media_removed_at: i64,
    /// Whether the blob is now deleted (false while other copies of a group
    /// message still wait to be viewed, or when the message named none).
    pub media_deleted: bool,
}

/// `POST /v1/shares`: store a one-view share (spec section 7). Only the
/// blob reaches the server; the key stays in the link's fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateShareRequest {
    /// `iv || AES-256-GCM(key, iv, plaintext)`, standard base64.
    pub blob: String,
    /// How many times it may be opened (default 1).
    #[serde(default)]
    pub views: Option<u32>,
    /// Lifetime in seconds (default and maximum 24 h).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// `POST /v1/shares` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareCreated {
    /// The share's code, the last segment of its link.
    pub code: String,
    /// `<base>/s/<code>`: append `#key=<b64url(key)>` to make the link.
    pub url: String,
    /// Views it allows.
    pub views: u32,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// `GET /v1/shares/{code}`: what is left, without spending a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    /// Views left.
    pub views_left: u32,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// `POST /v1/shares/{code}/open` response: one view spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedShare {
    /// The blob, standard base64.
    pub blob: String,
    /// Views left after this one (0: the share is now deleted).
    pub views_left: u32,
}
