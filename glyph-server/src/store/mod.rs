//! Storage: everything the server keeps, behind one trait with an
//! implementation per backend (SQLite, the embedded default; PostgreSQL, for
//! several instances sharing one database). Handlers never see SQL.
//!
//! Every write that spans rows runs in one transaction: it is all or
//! nothing, and it has committed (durably: SQLite `synchronous=FULL`,
//! PostgreSQL's default) before the handler answers.

mod devices;
mod group_commit;
mod groups;
mod media;
mod messages;
mod postgres;
mod postgres_batch;
mod prekeys;
mod shared;
mod shares;
mod sqlite;
mod sqlite_batch;
mod sqlite_checkpoint;
mod users;

use async_trait::async_trait;
use thiserror::Error;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A storage failure, or a refusal that only the database can decide
/// (a uniqueness or roster conflict seen inside the transaction).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The same signing key is registered with another DH key.
    #[error("this signing key is registered with a different DH key")]
    KeyConflict,
    /// The handle belongs to someone else.
    #[error("handle taken")]
    HandleTaken,
    /// A one-time prekey id is already stored for this user.
    #[error("one-time prekey id {0} already uploaded")]
    PreKeyIdTaken(u32),
    /// Storing the batch would exceed the per-user stock limit.
    #[error("at most {0} one-time prekeys may be stored")]
    PreKeyStockFull(u64),
    /// A recipient or member is not a registered user.
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// The device id is claimed already (by another device of the user).
    #[error("device {0} is taken")]
    DeviceTaken(u32),
    /// The user has as many devices (listed, or being set up) as a list
    /// may name.
    #[error("an account has at most {0} devices (and as many being set up); remove one first")]
    TooManyDevices(usize),
    /// A list names a device that an earlier list removed.
    #[error("device {0} was removed from this account; link it again under a new id")]
    DeviceRemoved(u32),
    /// The caller's device has not claimed its id (or was removed).
    #[error("unknown device {0}")]
    UnknownDevice(u32),
    /// A device list whose version does not grow past the stored one.
    #[error("the stored device list has version {0}; a new one must be later")]
    StaleDeviceList(u32),
    /// A send does not address exactly the recipients' listed devices.
    #[error("the copies do not match the recipients' devices")]
    DeviceMismatch(Vec<DeviceDifference>),
    /// A group does not exist or the caller is not a member.
    #[error("no such group")]
    NoSuchGroup,
    /// A group send does not address exactly the roster minus the sender.
    #[error("the copies do not match the group's roster")]
    RosterMismatch {
        /// Members without a copy.
        missing: Vec<String>,
        /// Recipients that are not members.
        extra: Vec<String>,
    },
    /// The upload would take the user past the media quota.
    #[error(
        "storing {wanted} more bytes would pass the media quota of {quota} bytes ({used} used)"
    )]
    QuotaExceeded {
        /// Bytes in use (and reserved) now.
        used: u64,
        /// Bytes this upload needs.
        wanted: u64,
        /// The quota.
        quota: u64,
    },
    /// A message id that is not a view-once message addressed to the caller.
    #[error("no such view-once message")]
    NoSuchViewOnce,
    /// A freshly drawn share code collided with a live one (draw again).
    #[error("share code taken")]
    ShareCodeTaken,
    /// The database cannot be reached (down, restarting, or every pooled
    /// connection busy past the acquire timeout).
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// The database's disk is full: nothing was written.
    #[error("database storage full: {0}")]
    Full(sqlx::Error),
    /// The database failed; the cause is logged, not shown.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The task writing a batch of sends ended without answering (it
    /// panicked): whether the send was stored is unknown, and a retry
    /// with the same client id is safe.
    #[error("the writer of this send stopped unexpectedly; retry")]
    WriterLost,
    /// A migration failed at start-up.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether this refuses one request for its own reasons (as opposed to
    /// the database failing, which fails the transaction it happened in).
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Full(_)
                | StoreError::Database(_)
                | StoreError::WriterLost
                | StoreError::Migration(_)
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else if is_full(&err) {
            StoreError::Full(err)
        } else {
            StoreError::Database(err)
        }
    }
}

/// Whether the database could not be reached at all.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (class 08), and the server
        // shutting down or starting up (57P01-57P03).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether the database refused a write because its disk is full.
fn is_full(err: &sqlx::Error) -> bool {
    /// SQLite's primary result code for a full disk.
    const SQLITE_FULL: i64 = 13;
    /// PostgreSQL's `disk_full`.
    const PG_DISK_FULL: &str = "53100";
    match err {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code == PG_DISK_FULL || code.parse::<i64>().is_ok_and(|n| n & 0xff == SQLITE_FULL)
        }),
        _ => false,
    }
}

/// For one recipient, the listed devices without a copy and the copies to
/// devices that are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDifference {
    /// The recipient.
    pub user_id: String,
    /// Listed devices the send left out.
    pub missing: Vec<u32>,
    /// Devices addressed that are not listed.
    pub extra: Vec<u32>,
}

/// A device as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Its id (0: a legacy device, from before devices existed).
    pub device_id: u32,
    /// When it was claimed (or the account made, for a legacy device).
    pub created_at: i64,
    /// When it last logged in.
    pub last_seen_at: Option<i64>,
}

/// A signed device list to store, already verified by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceList {
    /// Its version.
    pub version: u32,
    /// Its devices, ascending.
    pub devices: Vec<u32>,
    /// The list as published (JSON text), served as is.
    pub json: String,
    /// The device publishing it: an account's legacy device (id 0) becomes
    /// this one when it publishes the account's first list.
    pub published_by: u32,
}

/// What publishing a device list changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceListChange {
    /// Devices now listed that were not.
    pub added: Vec<u32>,
    /// Devices no longer listed: their prekeys and undelivered copies are
    /// gone.
    pub removed: Vec<u32>,
}

/// An inbox: one device of one user.
pub type InboxOf = (String, u32);

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The id (base64url of `sign_pub`).
    pub user_id: String,
    /// Ed25519 public key.
    pub sign_pub: Vec<u8>,
    /// X25519 public key.
    pub dh_pub: Vec<u8>,
    /// Binding signature.
    pub binding_sig: Vec<u8>,
    /// Handle, lowercase.
    pub handle: Option<String>,
}

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// A new user.
    Created,
    /// The same keys were already registered (a harmless retry).
    AlreadyExists,
}

/// A signed prekey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPreKeyRow {
    /// Its id.
    pub spk_id: u32,
    /// Its public key.
    pub spk_pub: Vec<u8>,
    /// Its signature.
    pub spk_sig: Vec<u8>,
}

/// A device's bundle as handed out: the one-time prekey in it is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRow {
    /// The user.
    pub user: UserRow,
    /// The device.
    pub device_id: u32,
    /// The signed prekey.
    pub spk: SignedPreKeyRow,
    /// One one-time prekey, if any was left.
    pub opk: Option<(u32, Vec<u8>)>,
}

/// One copy to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCopy {
    /// Recipient user id.
    pub recipient: String,
    /// Recipient device.
    pub device_id: u32,
    /// The recipient's envelope (JSON text).
    pub envelope: String,
    /// The sender's self-copy (JSON text).
    pub self_copy: Option<String>,
    /// Group id.
    pub group_id: Option<String>,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// View-once flag.
    pub view_once: bool,
    /// The media blob it refers to.
    pub media_path: Option<String>,
}

/// The result of storing one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCopy {
    /// The message id.
    pub id: i64,
    /// The recipient.
    pub recipient: String,
    /// The recipient's device.
    pub device_id: u32,
    /// False when a retry found the copy already stored.
    pub created: bool,
}

/// One inbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    /// Inbox position.
    pub seq: i64,
    /// Message id.
    pub id: i64,
    /// Sent by the inbox owner (the payload is the self-copy).
    pub outgoing: bool,
    /// Sender.
    pub sender: String,
    /// The device it was sent from.
    pub sender_device: u32,
    /// Recipient.
    pub recipient: String,
    /// The recipient's device.
    pub recipient_device: u32,
    /// Client id.
    pub client_id: String,
    /// Group.
    pub group_id: Option<String>,
    /// Envelope or self-copy (JSON text).
    pub payload: String,
    /// Stored at.
    pub sent_at: i64,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// View-once.
    pub view_once: bool,
    /// The media blob named by the sender.
    pub media_path: Option<String>,
    /// When a view-once view removed it.
    pub media_removed_at: Option<i64>,
}

/// What a send stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Each copy, new or stored before by a retry.
    pub copies: Vec<StoredCopy>,
    /// The inbox entries it added (none for a retry), in each inbox's
    /// order: what a read of those inboxes returns for them, for live push.
    pub entries: Vec<NewEntry>,
}

/// An inbox entry a send added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The inbox it went to.
    pub inbox: InboxOf,
    /// The entry, as a read of the inbox returns it.
    pub row: InboxRow,
}

/// A group roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Group id.
    pub group_id: String,
    /// Members, sorted.
    pub members: Vec<String>,
}

/// A media blob's accounting row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    /// `media/<owner>/<name>`.
    pub path: String,
    /// The uploading user.
    pub owner: String,
    /// Bytes stored (reserved, while `complete` is false).
    pub size: u64,
    /// The upload finished.
    pub complete: bool,
    /// When the blob was deleted, if it was.
    pub removed_at: Option<i64>,
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expired messages deleted.
    pub messages: u64,
    /// Expired shares deleted.
    pub shares: u64,
    /// Media marked removed (expired messages' blobs, stale uploads).
    pub media: u64,
}

/// Where one device of an existing user stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Its id was never claimed (a device being set up, or a legacy one).
    Unclaimed,
    /// Claimed, listed or about to be.
    Active,
    /// A published list left it out: its tokens are no longer good.
    Removed,
}

/// A wake-up from another instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wakeup {
    /// This device's inbox changed.
    Device(String, u32),
    /// This device was removed from its user's list.
    Removed(String, u32),
    /// The listening connection dropped and was re-made: wake-ups may have
    /// been missed.
    Missed,
    /// A wake-up this instance sent itself (its sockets are awake already).
    Ignored,
}

/// Wake-ups from other instances, as they commit.
pub type Wakeups = std::pin::Pin<Box<dyn futures_util::Stream<Item = Wakeup> + Send>>;

/// Everything the server stores. One implementation per backend; the
/// conformance suite in `tests/store.rs` runs against each.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Wake-ups for sends committed by other instances (PostgreSQL), or
    /// `None` when this store cannot be shared (SQLite).
    async fn wakeups(&self) -> Result<Option<Wakeups>, StoreError> {
        Ok(None)
    }

    /// Registers a user; the same keys again is not an error.
    async fn register(&self, user: &UserRow, now: i64) -> Result<Registered, StoreError>;
    /// A user by id.
    async fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError>;
    /// A user by (lowercase) handle.
    async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRow>, StoreError>;
    /// Sets or clears a user's handle.
    async fn set_handle(&self, user_id: &str, handle: Option<&str>) -> Result<(), StoreError>;

    /// Stores a login challenge.
    async fn put_challenge(&self, challenge: &[u8], expires_at: i64) -> Result<(), StoreError>;
    /// Deletes a challenge if it exists and is live; true if it did.
    async fn take_challenge(&self, challenge: &[u8], now: i64) -> Result<bool, StoreError>;

    /// Claims a device id for a user (a device being set up):
    /// [`StoreError::DeviceTaken`] if a device of the user has it.
    async fn claim_device(&self, user_id: &str, device_id: u32, now: i64)
    -> Result<(), StoreError>;
    /// Stores a user's new signed device list (the caller verified it): its
    /// version must grow past the stored one. Listed devices become the
    /// ones sends must cover; devices no longer listed lose their prekeys
    /// and undelivered copies. A legacy device (id 0) becomes the
    /// publishing device, if the user's first list names it.
    async fn publish_device_list(
        &self,
        user_id: &str,
        list: &NewDeviceList,
        now: i64,
    ) -> Result<DeviceListChange, StoreError>;
    /// The user's latest device list, as published.
    async fn device_list(&self, user_id: &str) -> Result<Option<String>, StoreError>;
    /// The user's listed devices.
    async fn devices(&self, user_id: &str) -> Result<Vec<DeviceRow>, StoreError>;
    /// Where a device of a user stands, or `None` if the user does not
    /// exist.
    async fn device_state(
        &self,
        user_id: &str,
        device_id: u32,
    ) -> Result<Option<DeviceState>, StoreError>;
    /// Notes that a device logged in.
    async fn touch_device(&self, user_id: &str, device_id: u32, now: i64)
    -> Result<(), StoreError>;

    /// Stores or replaces a device's signed prekey.
    async fn put_signed_prekey(
        &self,
        user_id: &str,
        device_id: u32,
        spk: &SignedPreKeyRow,
    ) -> Result<(), StoreError>;
    /// Adds a device's one-time prekeys, all or none, keeping its stock at
    /// most `max_stock`.
    async fn add_one_time_prekeys(
        &self,
        user_id: &str,
        device_id: u32,
        keys: &[(u32, Vec<u8>)],
        max_stock: u64,
    ) -> Result<(), StoreError>;
    /// Deletes all of a device's one-time prekeys; returns how many.
    async fn clear_one_time_prekeys(
        &self,
        user_id: &str,
        device_id: u32,
    ) -> Result<u64, StoreError>;
    /// How many one-time prekeys a device has left, and its signed prekey's id.
    async fn prekey_count(
        &self,
        user_id: &str,
        device_id: u32,
    ) -> Result<(u64, Option<u32>), StoreError>;
    /// A device's bundle, claiming (deleting) one of its one-time prekeys.
    async fn claim_bundle(
        &self,
        user_id: &str,
        device_id: u32,
    ) -> Result<Option<BundleRow>, StoreError>;
    /// The bundles of every listed device of a user (each claiming one
    /// one-time prekey), in one transaction.
    async fn claim_bundles(&self, user_id: &str) -> Result<Vec<BundleRow>, StoreError>;

    /// Stores a message's copies in one transaction, each for one device
    /// of its recipient, which must be exactly the recipients' listed
    /// devices; the copy with the self-copy also reaches every other listed
    /// device of the sender. A copy already stored under the same sender,
    /// client id, recipient and device is not stored again. Returns the
    /// copies and the inbox entries it added, for live push.
    async fn send(
        &self,
        sender: &str,
        sender_device: u32,
        client_id: &str,
        copies: &[NewCopy],
        now: i64,
    ) -> Result<Sent, StoreError>;
    /// A device's inbox entries after `after`, at most `limit`, unexpired.
    async fn inbox(
        &self,
        user_id: &str,
        device_id: u32,
        after: i64,
        limit: i64,
        now: i64,
    ) -> Result<Vec<InboxRow>, StoreError>;
    /// Deletes a device's copy of a message; false if it had none.
    async fn delete_copy(
        &self,
        user_id: &str,
        device_id: u32,
        message_id: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes expired messages, challenges and shares; marks removed the
    /// media of expired messages (when no live message still names it) and
    /// uploads started before `stale_upload_before` that never finished.
    async fn sweep(&self, now: i64, stale_upload_before: i64) -> Result<SweepReport, StoreError>;

    /// Reserves `bytes` of `owner`'s quota and records an upload in
    /// progress at `path`, in one conditional update: concurrent
    /// reservations can never pass `quota` together.
    async fn reserve_media(
        &self,
        owner: &str,
        path: &str,
        bytes: u64,
        quota: u64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Marks an upload complete at its real size, returning the unused part
    /// of the reservation to the quota.
    async fn finish_media(&self, path: &str, size: u64) -> Result<(), StoreError>;
    /// Forgets a failed upload and releases its reservation.
    async fn abandon_media(&self, path: &str) -> Result<(), StoreError>;
    /// A blob's row.
    async fn media(&self, path: &str) -> Result<Option<MediaRow>, StoreError>;
    /// Marks a blob removed and releases its bytes; false if it was not
    /// there or already removed.
    async fn remove_media(&self, path: &str, now: i64) -> Result<bool, StoreError>;
    /// Bytes `owner` has stored or reserved.
    async fn media_usage(&self, owner: &str) -> Result<u64, StoreError>;
    /// Records that `user` viewed view-once message `message_id`. Returns the
    /// time of the (first) view and the path whose blob it removed: the blob
    /// goes once no view-once copy naming it is left unviewed.
    async fn mark_viewed(
        &self,
        user: &str,
        message_id: i64,
        now: i64,
    ) -> Result<(i64, Option<String>), StoreError>;
    /// Removed blobs that storage has not deleted yet (at most `limit`).
    async fn media_to_purge(&self, limit: i64) -> Result<Vec<String>, StoreError>;
    /// Notes that storage deleted the blob at `path`.
    async fn media_purged(&self, path: &str) -> Result<(), StoreError>;

    /// Stores a share.
    async fn create_share(
        &self,
        code: &str,
        blob: &[u8],
        views: u32,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// A live share's views left and expiry; spends nothing.
    async fn share_info(&self, code: &str, now: i64) -> Result<Option<(u32, i64)>, StoreError>;
    /// Spends one view of a live share atomically, returning its blob and
    /// the views left; the share is deleted with its last view.
    async fn open_share(&self, code: &str, now: i64) -> Result<Option<(Vec<u8>, u32)>, StoreError>;

    /// Creates a group with these members (creator included).
    async fn create_group(
        &self,
        group_id: &str,
        members: &[String],
        now: i64,
    ) -> Result<GroupRow, StoreError>;
    /// A group's roster, if `requester` is a member.
    async fn group(&self, group_id: &str, requester: &str) -> Result<Option<GroupRow>, StoreError>;
    /// The groups a user is in.
    async fn groups_of(&self, user_id: &str) -> Result<Vec<GroupRow>, StoreError>;
    /// Adds a member (the requester must be one).
    async fn add_member(
        &self,
        group_id: &str,
        requester: &str,
        user_id: &str,
    ) -> Result<GroupRow, StoreError>;
    /// Removes a member (the requester must be one; removing oneself is leaving).
    async fn remove_member(
        &self,
        group_id: &str,
        requester: &str,
        user_id: &str,
    ) -> Result<GroupRow, StoreError>;
}

/// How long [`open`] waits for a connection: what the server uses unless
/// configured otherwise.
pub const DEFAULT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The most sends one transaction writes (group commit) unless configured
/// otherwise.
pub const DEFAULT_MAX_SEND_BATCH: usize = 128;

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// An operation that waits longer than this for a connection fails as
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: std::time::Duration,
    /// The most sends written in one transaction; 1 writes each send in a
    /// transaction of its own (the design before group commit, kept to
    /// measure against).
    pub max_send_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            max_send_batch: DEFAULT_MAX_SEND_BATCH,
        }
    }
}

/// Opens the store a database URL names (`sqlite:` or `postgres:`), with
/// the default options.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// Opens the store a database URL names, with these options.
pub async fn open_with(
    url: &str,
    options: &StoreOptions,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let store: std::sync::Arc<dyn Store> =
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            std::sync::Arc::new(PostgresStore::connect(url, options).await?)
        } else {
            std::sync::Arc::new(SqliteStore::connect(url, options).await?)
        };
    store.migrate().await?;
    Ok(store)
}
