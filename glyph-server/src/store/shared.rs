//! What the backends share. sqlx runs the same statement text on SQLite
//! and PostgreSQL (both take `$N` parameters, `RETURNING` and `ON
//! CONFLICT`), so each area's statements are written once, in its own file
//! (`users`, `devices`, `prekeys`, `messages`, `media`, `shares`, `groups`),
//! as a macro instantiated per backend; `impl_store!` below assembles them
//! into the `Store` implementation. What differs per backend is passed in:
//! the schema (migrations), how a write transaction starts, the row-locking
//! clauses only PostgreSQL has, and how other instances are told of a send.

use std::collections::BTreeSet;

use super::messages::PendingSend;
use super::{DeviceDifference, GroupRow, InboxRow, StoreError, UserRow};

/// The most rows of ids and numbers one multi-row statement carries.
///
/// Statements are kept under about 8 KiB. sqlx does not set `TCP_NODELAY`
/// on its PostgreSQL connections, and a message larger than the socket's
/// first send buffer (16 KiB by default on Linux) goes out in two writes,
/// the second held by Nagle's algorithm until PostgreSQL's delayed ACK:
/// 40 ms. A 100-member group send in one statement took 48 ms; in chunks,
/// 5-9 ms.
pub(super) const ROWS_PER_STATEMENT: usize = 64;

/// The most bytes of envelopes one multi-row insert of copies carries (see
/// [`ROWS_PER_STATEMENT`]); a single larger copy goes alone.
pub(super) const BYTES_PER_STATEMENT: usize = 8 * 1024;

/// Splits `items` into runs of at most [`ROWS_PER_STATEMENT`] rows and
/// about [`BYTES_PER_STATEMENT`] bytes (each run holds at least one item).
pub(super) fn statement_chunks<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let item_bytes = size(item);
        if i > start
            && (i - start >= ROWS_PER_STATEMENT || bytes + item_bytes > BYTES_PER_STATEMENT)
        {
            chunks.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += item_bytes;
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

/// About how many bytes a copy adds to a statement that inserts it (for
/// [`statement_chunks`]).
pub(super) fn copy_bytes((_, copy): &(&PendingSend, &super::NewCopy)) -> usize {
    copy.envelope.len() + copy.self_copy.as_ref().map_or(0, String::len) + copy.recipient.len() + 96
}

/// One device row, as a batch of sends reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeviceRef {
    pub(super) id: u32,
    /// In the user's latest list: sends must cover it.
    pub(super) listed: bool,
    /// Claimed and not removed: it may send.
    pub(super) live: bool,
}

/// The device rows of a batch's users, by user id.
pub(super) type DevicesOf = std::collections::HashMap<String, Vec<DeviceRef>>;

/// Adds a row of `user_id, device_id, listed, live` to `devices`.
pub(super) fn add_device_row<R: sqlx::Row>(
    devices: &mut DevicesOf,
    row: &R,
) -> Result<(), sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let device: i64 = row.try_get("device_id")?;
    if let Ok(device) = u32::try_from(device) {
        devices
            .entry(row.try_get("user_id")?)
            .or_default()
            .push(DeviceRef {
                id: device,
                listed: row.try_get("listed")?,
                live: row.try_get("live")?,
            });
    }
    Ok(())
}

/// An inbox's owner, device and new last position, from a row of
/// `user_id, device_id, inbox_seq`.
pub(super) fn advanced_inbox<R: sqlx::Row>(row: &R) -> Result<(String, u32, i64), StoreError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let device: i64 = row.try_get("device_id")?;
    Ok((
        row.try_get("user_id")?,
        u32::try_from(device).unwrap_or_default(),
        row.try_get("inbox_seq")?,
    ))
}

/// A user's listed devices, ascending.
pub(super) fn listed<'a>(devices: &'a DevicesOf, user: &str) -> impl Iterator<Item = u32> + 'a {
    devices
        .get(user)
        .into_iter()
        .flatten()
        .filter(|d| d.listed)
        .map(|d| d.id)
}

/// Checks a send against what its batch read: every user exists, the
/// sending device is live, a group send addresses exactly the roster minus
/// the sender (who is a member), and the copies cover exactly each
/// recipient's listed devices.
pub(super) fn check_send(
    send: &PendingSend,
    found: &BTreeSet<String>,
    devices: &DevicesOf,
    rosters: &std::collections::HashMap<&str, Vec<String>>,
) -> Result<(), StoreError> {
    let mut users: Vec<&str> = send
        .copies
        .iter()
        .map(|c| c.recipient.as_str())
        .chain([send.sender.as_str()])
        .collect();
    users.sort_unstable();
    users.dedup();
    if let Some(unknown) = users.iter().find(|u| !found.contains(**u)) {
        return Err(StoreError::UnknownUser((*unknown).to_owned()));
    }
    let sender_live = devices
        .get(&send.sender)
        .is_some_and(|ds| ds.iter().any(|d| d.id == send.sender_device && d.live));
    if !sender_live {
        return Err(StoreError::UnknownDevice(send.sender_device));
    }
    if let Some(group_id) = send.copies.first().and_then(|c| c.group_id.as_deref()) {
        let members = rosters.get(group_id).map(Vec::as_slice).unwrap_or_default();
        if !members.contains(&send.sender) {
            return Err(StoreError::NoSuchGroup);
        }
        let mut recipients: Vec<String> = send.copies.iter().map(|c| c.recipient.clone()).collect();
        recipients.dedup();
        let (missing, extra) = roster_difference(members, &send.sender, &recipients);
        if !missing.is_empty() || !extra.is_empty() {
            return Err(StoreError::RosterMismatch { missing, extra });
        }
    }
    let mut addressed: std::collections::BTreeMap<&str, Vec<u32>> =
        std::collections::BTreeMap::new();
    for copy in &send.copies {
        addressed
            .entry(copy.recipient.as_str())
            .or_default()
            .push(copy.device_id);
    }
    let differences: Vec<DeviceDifference> = addressed
        .iter()
        .filter_map(|(user, addressed)| {
            let theirs: Vec<u32> = listed(devices, user).collect();
            device_difference(user, &theirs, addressed)
        })
        .collect();
    if !differences.is_empty() {
        return Err(StoreError::DeviceMismatch(differences));
    }
    Ok(())
}

/// A backend's sqlx database type, for helpers that take its transactions.
pub(super) trait Backend {
    type Db: sqlx::Database;
}

/// For one recipient, the difference between its listed devices and the
/// devices a send addressed (`None` when they are the same).
pub(super) fn device_difference(
    user_id: &str,
    listed: &[u32],
    addressed: &[u32],
) -> Option<DeviceDifference> {
    let listed: BTreeSet<u32> = listed.iter().copied().collect();
    let addressed: BTreeSet<u32> = addressed.iter().copied().collect();
    let missing: Vec<u32> = listed.difference(&addressed).copied().collect();
    let extra: Vec<u32> = addressed.difference(&listed).copied().collect();
    (!missing.is_empty() || !extra.is_empty()).then(|| DeviceDifference {
        user_id: user_id.to_owned(),
        missing,
        extra,
    })
}

/// Deletes the messages of `$ids` that no inbox refers to any more, inside
/// the transaction `$tx`, and marks removed (at `$now`) the blobs they named
/// that no remaining message names.
macro_rules! delete_orphans {
    ($tx:expr, $ids:expr, $now:expr) => {{
        let mut freed = Vec::new();
        for id in $ids {
            let deleted: Option<Option<String>> = sqlx::query_scalar(
                "DELETE FROM messages WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM inbox WHERE message_id = $1) RETURNING media_path",
            )
            .bind(id)
            .fetch_optional(&mut **$tx)
            .await?;
            if let Some(Some(path)) = deleted {
                freed.push(path);
            }
        }
        for path in freed {
            let named: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE media_path = $1 LIMIT 1")
                .bind(&path)
                .fetch_optional(&mut **$tx)
                .await?;
            if named.is_none() {
                sqlx::query(shared::RELEASE_MEDIA).bind(&path).execute(&mut **$tx).await?;
                sqlx::query(shared::MARK_MEDIA_REMOVED).bind(&path).bind($now).execute(&mut **$tx).await?;
            }
        }
    }};
}

pub(super) use delete_orphans;

/// Maps a unique-constraint violation to `conflict`, passing other errors.
pub(super) fn unique_or(err: sqlx::Error, conflict: StoreError) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => conflict,
        _ => StoreError::Database(err),
    }
}

/// The members missing a copy and the recipients that are not members.
pub(super) fn roster_difference(
    members: &[String],
    sender: &str,
    recipients: &[String],
) -> (Vec<String>, Vec<String>) {
    let expected: BTreeSet<&str> = members
        .iter()
        .map(String::as_str)
        .filter(|m| *m != sender)
        .collect();
    let addressed: BTreeSet<&str> = recipients.iter().map(String::as_str).collect();
    let missing = expected
        .difference(&addressed)
        .map(|s| (*s).to_owned())
        .collect();
    let extra = addressed
        .difference(&expected)
        .map(|s| (*s).to_owned())
        .collect();
    (missing, extra)
}

pub(super) fn user_from_row<R: sqlx::Row>(row: &R) -> Result<UserRow, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(UserRow {
        user_id: row.try_get("user_id")?,
        sign_pub: row.try_get("sign_pub")?,
        dh_pub: row.try_get("dh_pub")?,
        binding_sig: row.try_get("binding_sig")?,
        handle: row.try_get("handle")?,
    })
}

pub(super) fn inbox_from_row<R: sqlx::Row>(row: &R) -> Result<InboxRow, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(InboxRow {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        outgoing: row.try_get("outgoing")?,
        sender: row.try_get("sender")?,
        sender_device: u32::try_from(row.try_get::<i64, _>("sender_device")?).unwrap_or_default(),
        recipient: row.try_get("recipient")?,
        recipient_device: u32::try_from(row.try_get::<i64, _>("recipient_device")?)
            .unwrap_or_default(),
        client_id: row.try_get("client_id")?,
        group_id: row.try_get("group_id")?,
        payload: row
            .try_get::<Option<String>, _>("payload")?
            .unwrap_or_default(),
        sent_at: row.try_get("sent_at")?,
        expires_at: row.try_get("expires_at")?,
        view_once: row.try_get("view_once")?,
        media_path: row.try_get("media_path")?,
        media_removed_at: row.try_get("media_removed_at")?,
    })
}

/// A device's inbox after `$3`: `$1` user, `$2` device, `$4` now, `$5` limit.
pub(super) const INBOX_QUERY: &str = "SELECT i.seq, m.id, i.outgoing, m.sender, m.sender_device, m.recipient, \
     m.recipient_device, m.client_id, m.group_id, \
     CASE WHEN i.outgoing THEN m.self_copy ELSE m.envelope END AS payload, m.sent_at, m.expires_at, m.view_once, \
     m.media_path, m.media_removed_at \
     FROM inbox i JOIN messages m ON m.id = i.message_id \
     WHERE i.user_id = $1 AND i.device_id = $2 AND i.seq > $3 AND (m.expires_at IS NULL OR m.expires_at > $4) \
     ORDER BY i.seq LIMIT $5";

/// Returns a live blob's bytes to its owner's quota (run before
/// [`MARK_MEDIA_REMOVED`], in the same transaction).
pub(super) const RELEASE_MEDIA: &str = "UPDATE users SET media_bytes = media_bytes - \
     (SELECT size FROM media WHERE path = $1 AND removed_at IS NULL) \
     WHERE user_id = (SELECT owner FROM media WHERE path = $1 AND removed_at IS NULL)";

/// Marks a live blob removed at `$2`.
pub(super) const MARK_MEDIA_REMOVED: &str =
    "UPDATE media SET removed_at = $2 WHERE path = $1 AND removed_at IS NULL";

/// Saturating conversion of a byte count for a BIGINT column.
pub(super) fn db_bytes(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Builds a roster from member ids.
pub(super) fn roster(group_id: &str, mut members: Vec<String>) -> GroupRow {
    members.sort();
    GroupRow {
        group_id: group_id.to_owned(),
        members,
    }
}

/// Generates `impl Store` for a backend type with a `pool` field and the
/// methods `begin_write` (how a write transaction starts) and
/// `notify_changed` (how other instances learn which inboxes a send
/// changed, or nothing); `extra` holds backend-only trait methods. `$lock`
/// is appended to row-locking `SELECT`s (`" FOR UPDATE"` on PostgreSQL,
/// empty on SQLite, whose write transactions are exclusive already);
/// `$claim_opk` deletes and returns one one-time prekey of user `$1`'s
/// device `$2`.
///
/// Each area's statements are in its own file; the trait's methods here
/// only point to them.
macro_rules! impl_store {
    (
        $store:ty,
        db = $db:ty,
        $migrator:expr,
        lock = $lock:literal,
        claim_opk = $claim_opk:expr,
        extra = { $($extra:tt)* }
    ) => {
        impl shared::Backend for $store {
            type Db = $db;
        }

        super::users::users_methods!($store);
        super::devices::devices_methods!($store, $lock);
        super::prekeys::prekeys_methods!($store, $lock, $claim_opk);
        super::messages::messages_methods!($store, $lock);
        super::media::media_methods!($store);
        super::shares::shares_methods!($store);
        super::groups::groups_methods!($store, $lock);

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            $($extra)*

            async fn migrate(&self) -> Result<(), StoreError> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            // Users: `users.rs`.
            async fn register(&self, user: &UserRow, now: i64) -> Result<Registered, StoreError> {
                Self::register(self, user, now).await
            }
            async fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
                Self::user(self, user_id).await
            }
            async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRow>, StoreError> {
                Self::user_by_handle(self, handle).await
            }
            async fn set_handle(&self, user_id: &str, handle: Option<&str>) -> Result<(), StoreError> {
                Self::set_handle(self, user_id, handle).await
            }
            async fn put_challenge(&self, challenge: &[u8], expires_at: i64) -> Result<(), StoreError> {
                Self::put_challenge(self, challenge, expires_at).await
            }
            async fn take_challenge(&self, challenge: &[u8], now: i64) -> Result<bool, StoreError> {
                Self::take_challenge(self, challenge, now).await
            }

            // Devices: `devices.rs`.
            async fn claim_device(&self, user_id: &str, device_id: u32, now: i64) -> Result<(), StoreError> {
                Self::claim_device(self, user_id, device_id, now).await
            }
            async fn publish_device_list(&self, user_id: &str, list: &NewDeviceList, now: i64) -> Result<DeviceListChange, StoreError> {
                Self::publish_device_list(self, user_id, list, now).await
            }
            async fn device_list(&self, user_id: &str) -> Result<Option<String>, StoreError> {
                Self::device_list(self, user_id).await
            }
            async fn devices(&self, user_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
                Self::devices(self, user_id).await
            }
            async fn device_state(&self, user_id: &str, device_id: u32) -> Result<Option<DeviceState>, StoreError> {
                Self::device_state(self, user_id, device_id).await
            }
            async fn touch_device(&self, user_id: &str, device_id: u32, now: i64) -> Result<(), StoreError> {
                Self::touch_device(self, user_id, device_id, now).await
            }

            // Prekeys: `prekeys.rs`.
            async fn put_signed_prekey(&self, user_id: &str, device_id: u32, spk: &SignedPreKeyRow) -> Result<(), StoreError> {
                Self::put_signed_prekey(self, user_id, device_id, spk).await
            }
            async fn add_one_time_prekeys(&self, user_id: &str, device_id: u32, keys: &[(u32, Vec<u8>)], max_stock: u64) -> Result<(), StoreError> {
                Self::add_one_time_prekeys(self, user_id, device_id, keys, max_stock).await
            }
            async fn clear_one_time_prekeys(&self, user_id: &str, device_id: u32) -> Result<u64, StoreError> {
                Self::clear_one_time_prekeys(self, user_id, device_id).await
            }
            async fn prekey_count(&self, user_id: &str, device_id: u32) -> Result<(u64, Option<u32>), StoreError> {
                Self::prekey_count(self, user_id, device_id).await
            }
            async fn claim_bundle(&self, user_id: &str, device_id: u32) -> Result<Option<BundleRow>, StoreError> {
                Self::claim_bundle(self, user_id, device_id).await
            }
            async fn claim_bundles(&self, user_id: &str) -> Result<Vec<BundleRow>, StoreError> {
                Self::claim_bundles(self, user_id).await
            }

            // Messages: `messages.rs`.
            async fn send(&self, sender: &str, sender_device: u32, client_id: &str, copies: &[NewCopy], now: i64) -> Result<super::Sent, StoreError> {
                Self::send(self, sender, sender_device, client_id, copies, now).await
            }
            async fn inbox(&self, user_id: &str, device_id: u32, after: i64, limit: i64, now: i64) -> Result<Vec<InboxRow>, StoreError> {
                Self::inbox(self, user_id, device_id, after, limit, now).await
            }
            async fn delete_copy(&self, user_id: &str, device_id: u32, message_id: i64) -> Result<bool, StoreError> {
                Self::delete_copy(self, user_id, device_id, message_id).await
            }
            async fn mark_viewed(&self, user: &str, message_id: i64, now: i64) -> Result<(i64, Option<String>), StoreError> {
                Self::mark_viewed(self, user, message_id, now).await
            }
            async fn sweep(&self, now: i64, stale_upload_before: i64) -> Result<SweepReport, StoreError> {
                Self::sweep(self, now, stale_upload_before).await
            }

            // Media: `media.rs`.
            async fn reserve_media(&self, owner: &str, path: &str, bytes: u64, quota: u64, now: i64) -> Result<(), StoreError> {
                Self::reserve_media(self, owner, path, bytes, quota, now).await
            }
            async fn finish_media(&self, path: &str, size: u64) -> Result<(), StoreError> {
                Self::finish_media(self, path, size).await
            }
            async fn abandon_media(&self, path: &str) -> Result<(), StoreError> {
                Self::abandon_media(self, path).await
            }
            async fn media(&self, path: &str) -> Result<Option<MediaRow>, StoreError> {
                Self::media(self, path).await
            }
            async fn remove_media(&self, path: &str, now: i64) -> Result<bool, StoreError> {
                Self::remove_media(self, path, now).await
            }
            async fn media_usage(&self, owner: &str) -> Result<u64, StoreError> {
                Self::media_usage(self, owner).await
            }
            async fn media_to_purge(&self, limit: i64) -> Result<Vec<String>, StoreError> {
                Self::media_to_purge(self, limit).await
            }
            async fn media_purged(&self, path: &str) -> Result<(), StoreError> {
                Self::media_purged(self, path).await
            }

            // Shares: `shares.rs`.
            async fn create_share(&self, code: &str, blob: &[u8], views: u32, now: i64, expires_at: i64) -> Result<(), StoreError> {
                Self::create_share(self, code, blob, views, now, expires_at).await
            }
            async fn share_info(&self, code: &str, now: i64) -> Result<Option<(u32, i64)>, StoreError> {
                Self::share_info(self, code, now).await
            }
            async fn open_share(&self, code: &str, now: i64) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
                Self::open_share(self, code, now).await
            }

            // Groups: `groups.rs`.
            async fn create_group(&self, group_id: &str, members: &[String], now: i64) -> Result<GroupRow, StoreError> {
                Self::create_group(self, group_id, members, now).await
            }
            async fn group(&self, group_id: &str, requester: &str) -> Result<Option<GroupRow>, StoreError> {
                Self::group(self, group_id, requester).await
            }
            async fn groups_of(&self, user_id: &str) -> Result<Vec<GroupRow>, StoreError> {
                Self::groups_of(self, user_id).await
            }
            async fn add_member(&self, group_id: &str, requester: &str, user_id: &str) -> Result<GroupRow, StoreError> {
                Self::add_member(self, group_id, requester, user_id).await
            }
            async fn remove_member(&self, group_id: &str, requester: &str, user_id: &str) -> Result<GroupRow, StoreError> {
                Self::remove_member(self, group_id, requester, user_id).await
            }
        }
    };
}

pub(super) use impl_store;

#[cfg(test)]
mod statement_chunk_tests {
    use super::{BYTES_PER_STATEMENT, ROWS_PER_STATEMENT, statement_chunks};

    #[test]
    fn chunks_keep_to_the_row_and_byte_limits_and_lose_nothing() {
        let small = vec![10usize; 200];
        let chunks = statement_chunks(&small, |n| *n);
        assert!(chunks.iter().all(|c| c.len() <= ROWS_PER_STATEMENT));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 200);

        let mixed = vec![3000usize, 3000, 3000, BYTES_PER_STATEMENT * 3, 10, 10];
        let chunks = statement_chunks(&mixed, |n| *n);
        let lens: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        // Two fit in 8 KiB, a third does not; an oversized one goes alone.
        assert_eq!(lens, vec![2, 1, 1, 2]);
        assert!(statement_chunks(&Vec::<usize>::new(), |n| *n).is_empty());
    }
}
