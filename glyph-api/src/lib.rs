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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// Ed25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub sign_pub: String,
    /// X25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub dh_pub: String,
    /// Signature by `sign_pub` binding `dh_pub` (base64; see [`BINDING_LABEL`]).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 88, max_length = 88))]
    pub binding_sig: String,
}

/// A user as the directory returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRecord {
    /// The user id (unpadded base64url of `sign_pub`).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub user_id: String,
    /// Ed25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub sign_pub: String,
    /// X25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub dh_pub: String,
    /// The binding signature, for the client to check (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 88, max_length = 88))]
    pub binding_sig: String,
    /// The user's handle, if one is set.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub handle: Option<String>,
}

/// `GET /v1/users/{user_id}/bundle` response: spec section 3's bundle
/// JSON, whose one-time prekey the server deleted as it handed it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bundle {
    /// The device whose prekeys these are (spec section 9).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub device_id: u32,
    /// The user's Ed25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub sign_pub: String,
    /// The user's X25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub dh_pub: String,
    /// The signed prekey's id (u32).
    pub spk_id: u32,
    /// The signed prekey (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub spk_pub: String,
    /// Its signature by `sign_pub` (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 88, max_length = 88))]
    pub spk_sig: String,
    /// The one-time prekey's id, `null` when none was left.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub opk_id: Option<u32>,
    /// The one-time prekey (base64), `null` when none was left.
    #[cfg_attr(feature = "openapi", schema(required = true, format = Byte, min_length = 44, max_length = 44))]
    pub opk_pub: Option<String>,
}

/// A signed device list (spec section 9), as published:
/// `{"v":1,"sign_pub","version","devices","sig"}`. A client verifies it
/// (signature, whose it is, order, bounds, rollback) before believing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceListBody {
    /// Always 1.
    pub v: u32,
    /// The user's Ed25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub sign_pub: String,
    /// Grows with every change (a u32).
    pub version: u32,
    /// 1 to 16 device ids, strictly ascending.
    pub devices: Vec<u32>,
    /// The identity's signature (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 88, max_length = 88))]
    pub sig: String,
}

/// `POST /v1/devices`: claim a device id for the device being set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimDeviceRequest {
    /// A random id in 1..2^32-1 (409 `device_taken` if a device has it).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub device_id: u32,
}

/// One of my devices, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    /// Its id.
    pub device_id: u32,
    /// When it was set up.
    pub created_at: i64,
    /// When it last logged in.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_seen_at: Option<i64>,
}

/// `GET /v1/devices` and `PUT /v1/devices` response: my signed list and
/// what the server knows of each listed device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyDevices {
    /// My latest signed list, `null` before the first one.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub list: Option<DeviceListBody>,
    /// The listed devices.
    pub devices: Vec<DeviceInfo>,
}

/// `GET /v1/users/{user_id}/devices`: a user's latest signed list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDevices {
    /// The list, `null` when the user has published none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub list: Option<DeviceListBody>,
}

/// `GET /v1/users/{user_id}/bundles`: a user's signed list and a bundle of
/// each listed device (each bundle's one-time prekey is deleted as it is
/// handed out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bundles {
    /// The list, `null` when the user has published none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub list: Option<DeviceListBody>,
    /// One bundle per listed device that has a signed prekey.
    pub bundles: Vec<Bundle>,
}

/// `PUT /v1/me/handle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetHandleRequest {
    /// 3 to 32 characters of `a-z 0-9 _ . -`, starting with a letter; case
    /// is ignored.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z][A-Za-z0-9_.-]{2,31}$")
    )]
    pub handle: String,
}

/// `POST /v1/auth/challenge` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeResponse {
    /// 32 random bytes (base64), usable once.
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub challenge: String,
    /// When the challenge stops being accepted.
    pub expires_at: i64,
}

/// `POST /v1/auth/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// The user's Ed25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub sign_pub: String,
    /// The challenge, as received (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub challenge: String,
    /// Signature over [`AUTH_LABEL`] `|| challenge || sign_pub` (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 88, max_length = 88))]
    pub signature: String,
    /// The device logging in (1 to 2^32-1): the token is bound to it, and
    /// its prekeys and inbox are the ones the token reaches.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub device_id: u32,
}

/// `POST /v1/auth/token` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// A bearer token (JWT, HS256).
    pub token: String,
    /// When it expires.
    pub expires_at: i64,
    /// The user id the token is for.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub user_id: String,
    /// The device the token is bound to.
    pub device_id: u32,
}

/// `PUT /v1/prekeys/signed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedPreKeyUpload {
    /// The prekey's id.
    pub spk_id: u32,
    /// X25519 public key (base64).
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 44, max_length = 44))]
    pub spk_pub: String,
    /// Signature by the user's signing key (base64), as the spec says.
    #[cfg_attr(feature = "openapi", schema(format = Byte, min_length = 88, max_length = 88))]
    pub spk_sig: String,
}

/// One one-time prekey in an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimePreKeyUpload {
    /// The prekey's id.
    pub id: u32,
    /// X25519 public key (base64).
    #[serde(rename = "pub")]
    pub public: String,
}

/// `POST /v1/prekeys/one-time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimePreKeysUpload {
    /// The prekeys.
    pub keys: Vec<OneTimePreKeyUpload>,
}

/// `GET /v1/prekeys/count` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreKeyCount {
    /// One-time prekeys left on the server.
    pub one_time: u64,
    /// The signed prekey the server hands out, if any.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub signed_prekey_id: Option<u32>,
}

/// One sealed copy of a message, for one recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageCopy {
    /// The recipient's user id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub recipient: String,
    /// The recipient's device this copy is for: a send covers exactly the
    /// devices in each recipient's current list.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub device_id: u32,
    /// The envelope for the recipient (a JSON object; opaque to the server).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub envelope: Value,
    /// A sealed copy for the sender's own devices (a v1 envelope), if any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub self_copy: Option<Value>,
    /// The group this copy belongs to, if any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
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
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^media/[A-Za-z0-9_-]{43}/[0-9a-f]{32}$")
    )]
    pub media_path: Option<String>,
}

/// `POST /v1/messages`: one message as 1..N sealed copies, stored all or
/// nothing. Retrying with the same `client_id` never stores a copy twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendRequest {
    /// The sender's id for this message (1 to 64 characters), for retries.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub client_id: String,
    /// The copies.
    pub copies: Vec<MessageCopy>,
}

/// What the server stored for one copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredCopy {
    /// The message id.
    pub id: i64,
    /// The recipient.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub recipient: String,
    /// The recipient's device.
    pub device_id: u32,
}

/// `POST /v1/messages` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendResponse {
    /// One entry per copy, in request order.
    pub messages: Vec<StoredCopy>,
}

/// Which side of a message an inbox entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Addressed to me: `payload` is the envelope for me.
    In,
    /// Sent by me: `payload` is my sealed self-copy.
    Out,
}

/// One inbox entry: a message addressed to me, or my own sent copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxMessage {
    /// My inbox position: strictly increasing, the paging cursor.
    pub seq: i64,
    /// The message id (shared by the sender's and recipient's entries).
    pub id: i64,
    /// Received or sent.
    pub direction: Direction,
    /// The sender's user id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub sender: String,
    /// The device it was sent from (a hint to choose a session; never
    /// authenticated).
    pub sender_device: u32,
    /// The recipient's user id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub recipient: String,
    /// The recipient's device (for `out` entries, the first copy's).
    pub recipient_device: u32,
    /// The sender's client id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub client_id: String,
    /// The group, if any.
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub group_id: Option<String>,
    /// The envelope (in) or the self-copy (out).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    /// When the server stored it.
    pub sent_at: i64,
    /// When it disappears, if it does.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub expires_at: Option<i64>,
    /// Whether it is view-once.
    pub view_once: bool,
    /// The media blob the message refers to, if the sender named one.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, pattern = "^media/[A-Za-z0-9_-]{43}/[0-9a-f]{32}$")
    )]
    pub media_path: Option<String>,
    /// When the recipient reported the view-once message viewed (its blob
    /// is then deleted), if it has.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub media_removed_at: Option<i64>,
}

/// `GET /v1/messages?after=SEQ&limit=N` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxPage {
    /// Entries with `seq > after`, oldest first.
    pub messages: Vec<InboxMessage>,
    /// The cursor for the next page (the last `seq` returned, or `after`).
    pub next_after: i64,
}

/// `POST /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateGroupRequest {
    /// The other members (the creator is added).
    pub members: Vec<String>,
}

/// `POST /v1/groups/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMemberRequest {
    /// The user to add.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub user_id: String,
}

/// A group roster: the server knows no name and no picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The group id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
    pub group_id: String,
    /// The members' user ids, sorted.
    pub members: Vec<String>,
}

/// `GET /v1/groups` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupList {
    /// My groups.
    pub groups: Vec<Group>,
}

/// The body of every error response: `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable machine-readable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_token`, `roster_mismatch`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Extra structured detail (e.g. the missing and extra group members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<Value>,
}

/// A frame the server sends on the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaUploaded {
    /// `media/<owner user id>/<32 hex digits>`; download it at `/v1/<path>`.
    pub path: String,
    /// Bytes stored.
    pub size: u64,
}

/// `GET /v1/media` response: the caller's storage use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateShareRequest {
    /// `iv || AES-256-GCM(key, iv, plaintext)`, standard base64.
    #[cfg_attr(feature = "openapi", schema(format = Byte))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareCreated {
    /// The share's code, the last segment of its link.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareInfo {
    /// Views left.
    pub views_left: u32,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// `POST /v1/shares/{code}/open` response: one view spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenedShare {
    /// The blob, standard base64.
    #[cfg_attr(feature = "openapi", schema(format = Byte))]
    pub blob: String,
    /// Views left after this one (0: the share is now deleted).
    pub views_left: u32,
}

/// Every type above as a named OpenAPI schema, for the server's
/// `/v1/openapi.json` (so the document is made from these very types).
#[cfg(feature = "openapi")]
pub fn openapi_schemas() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    use utoipa::ToSchema;
    let mut schemas = Vec::new();
    macro_rules! collect {
        ($($ty:ty),* $(,)?) => {
            $(
                schemas.push((<$ty>::name().into_owned(), <$ty as utoipa::PartialSchema>::schema()));
                <$ty>::schemas(&mut schemas);
            )*
        };
    }
    collect!(
        RegisterRequest,
        UserRecord,
        SetHandleRequest,
        ChallengeResponse,
        TokenRequest,
        TokenResponse,
        SignedPreKeyUpload,
        OneTimePreKeyUpload,
        OneTimePreKeysUpload,
        PreKeyCount,
        Bundle,
        Bundles,
        DeviceListBody,
        ClaimDeviceRequest,
        DeviceInfo,
        MyDevices,
        UserDevices,
        MessageCopy,
        SendRequest,
        StoredCopy,
        SendResponse,
        Direction,
        InboxMessage,
        InboxPage,
        CreateGroupRequest,
        AddMemberRequest,
        Group,
        GroupList,
        ErrorBody,
        ErrorDetail,
        PushFrame,
        MediaUploaded,
        MediaUsage,
        ViewedResponse,
        CreateShareRequest,
        ShareCreated,
        ShareInfo,
        OpenedShare,
    );
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    schemas
}
