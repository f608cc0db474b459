//! The body of the `Store` implementation, written once and instantiated
//! for each backend by `impl_store!`: sqlx runs the same statement text on
//! SQLite and PostgreSQL (both take `$N` parameters, `RETURNING` and
//! `ON CONFLICT`). What differs per backend is passed in: the schema
//! (migrations), how a write transaction starts, and the row-locking
//! clauses only PostgreSQL has.
//!
//! Concurrency rule: a transaction that allocates inbox positions first
//! locks the users' rows it will touch, in sorted order, so two sends never
//! deadlock and each user's inbox positions commit in order.

use std::collections::BTreeSet;

use super::{GroupRow, InboxRow, StoreError, UserRow};

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
        recipient: row.try_get("recipient")?,
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

pub(super) const INBOX_QUERY: &str = "SELECT i.seq, m.id, i.outgoing, m.sender, m.recipient, m.client_id, m.group_id, \
     CASE WHEN i.outgoing THEN m.self_copy ELSE m.envelope END AS payload, m.sent_at, m.expires_at, m.view_once, \
     m.media_path, m.media_removed_at \
     FROM inbox i JOIN messages m ON m.id = i.message_id \
     WHERE i.user_id = $1 AND i.seq > $2 AND (m.expires_at IS NULL OR m.expires_at > $3) \
     ORDER BY i.seq LIMIT $4";

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

/// Generates `impl Store` for a backend type with a `pool` field and a
/// `begin_write` method and a `notify_changed` method (which tells other
/// instances whose inbox a send changed, or does nothing); `extra` holds
/// backend-only trait methods. `$lock` is appended to the row-locking `SELECT`s
/// (`" FOR UPDATE"` on PostgreSQL, empty on SQLite, whose write transactions
/// are exclusive already); `$claim_opk` deletes and returns one one-time
/// prekey of user `$1`.
macro_rules! impl_store {
    ($store:ty, $migrator:expr, lock = $lock:literal, claim_opk = $claim_opk:expr, extra = { $($extra:tt)* }) => {
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

            async fn register(&self, user: &UserRow, now: i64) -> Result<Registered, StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO users (user_id, sign_pub, dh_pub, binding_sig, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(&user.user_id)
                .bind(&user.sign_pub)
                .bind(&user.dh_pub)
                .bind(&user.binding_sig)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if inserted == 1 {
                    return Ok(Registered::Created);
                }
                match self.user(&user.user_id).await? {
                    Some(existing) if existing.dh_pub == user.dh_pub => Ok(Registered::AlreadyExists),
                    _ => Err(StoreError::KeyConflict),
                }
            }

            async fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
                let row = sqlx::query("SELECT user_id, sign_pub, dh_pub, binding_sig, handle FROM users WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(shared::user_from_row).transpose()?)
            }

            async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRow>, StoreError> {
                let row = sqlx::query("SELECT user_id, sign_pub, dh_pub, binding_sig, handle FROM users WHERE handle = $1")
                    .bind(handle)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(shared::user_from_row).transpose()?)
            }

            async fn set_handle(&self, user_id: &str, handle: Option<&str>) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET handle = $1 WHERE user_id = $2")
                    .bind(handle)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| shared::unique_or(e, StoreError::HandleTaken))?;
                Ok(())
            }

            async fn put_challenge(&self, challenge: &[u8], expires_at: i64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO auth_challenges (challenge, expires_at) VALUES ($1, $2)")
                    .bind(challenge)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn take_challenge(&self, challenge: &[u8], now: i64) -> Result<bool, StoreError> {
                let taken = sqlx::query("DELETE FROM auth_challenges WHERE challenge = $1 AND expires_at > $2")
                    .bind(challenge)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(taken == 1)
            }

            async fn put_signed_prekey(&self, user_id: &str, spk: &SignedPreKeyRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO signed_prekeys (user_id, spk_id, spk_pub, spk_sig) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id) DO UPDATE SET spk_id = excluded.spk_id, spk_pub = excluded.spk_pub, spk_sig = excluded.spk_sig",
                )
                .bind(user_id)
                .bind(i64::from(spk.spk_id))
                .bind(&spk.spk_pub)
                .bind(&spk.spk_sig)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn add_one_time_prekeys(&self, user_id: &str, keys: &[(u32, Vec<u8>)], max_stock: u64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(concat!("SELECT user_id FROM users WHERE user_id = $1", $lock))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let stock: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if stock.max(0) as u64 + keys.len() as u64 > max_stock {
                    return Err(StoreError::PreKeyStockFull(max_stock));
                }
                for (id, public) in keys {
                    sqlx::query("INSERT INTO one_time_prekeys (user_id, id, public) VALUES ($1, $2, $3)")
                        .bind(user_id)
                        .bind(i64::from(*id))
                        .bind(public)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| shared::unique_or(e, StoreError::PreKeyIdTaken(*id)))?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn clear_one_time_prekeys(&self, user_id: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM one_time_prekeys WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn prekey_count(&self, user_id: &str) -> Result<(u64, Option<u32>), StoreError> {
                let stock: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await?;
                let spk: Option<i64> = sqlx::query_scalar("SELECT spk_id FROM signed_prekeys WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok((stock.max(0) as u64, spk.and_then(|id| u32::try_from(id).ok())))
            }

            async fn claim_bundle(&self, user_id: &str) -> Result<Option<BundleRow>, StoreError> {
                let mut tx = self.begin_write().await?;
                let Some(user) = sqlx::query("SELECT user_id, sign_pub, dh_pub, binding_sig, handle FROM users WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let user = shared::user_from_row(&user)?;
                let Some(spk) = sqlx::query("SELECT spk_id, spk_pub, spk_sig FROM signed_prekeys WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let spk = SignedPreKeyRow {
                    spk_id: u32::try_from(spk.try_get::<i64, _>("spk_id")?).unwrap_or_default(),
                    spk_pub: spk.try_get("spk_pub")?,
                    spk_sig: spk.try_get("spk_sig")?,
                };
                let opk = sqlx::query($claim_opk).bind(user_id).fetch_optional(&mut *tx).await?;
                let opk = match opk {
                    Some(row) => Some((u32::try_from(row.try_get::<i64, _>("id")?).unwrap_or_default(), row.try_get("public")?)),
                    None => None,
                };
                tx.commit().await?;
                Ok(Some(BundleRow { user, spk, opk }))
            }

            async fn send(&self, sender: &str, client_id: &str, copies: &[NewCopy], now: i64) -> Result<(Vec<StoredCopy>, Vec<String>), StoreError> {
                let mut tx = self.begin_write().await?;
                // Lock every user this send touches, in sorted order.
                let mut users: Vec<&str> = copies.iter().map(|c| c.recipient.as_str()).collect();
                users.push(sender);
                users.sort_unstable();
                users.dedup();
                for user in &users {
                    let found = sqlx::query(concat!("SELECT user_id FROM users WHERE user_id = $1", $lock))
                        .bind(*user)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if found.is_none() {
                        return Err(StoreError::UnknownUser((*user).to_owned()));
                    }
                }
                if let Some(group_id) = copies.first().and_then(|c| c.group_id.as_deref()) {
                    sqlx::query(concat!("SELECT group_id FROM groups WHERE group_id = $1", $lock))
                        .bind(group_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1")
                        .bind(group_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    if !members.iter().any(|m| m == sender) {
                        return Err(StoreError::NoSuchGroup);
                    }
                    let recipients: Vec<String> = copies.iter().map(|c| c.recipient.clone()).collect();
                    let (missing, extra) = shared::roster_difference(&members, sender, &recipients);
                    if !missing.is_empty() || !extra.is_empty() {
                        return Err(StoreError::RosterMismatch { missing, extra });
                    }
                }
                let mut stored = Vec::with_capacity(copies.len());
                let mut changed = std::collections::BTreeSet::new();
                for copy in copies {
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO messages (sender, recipient, client_id, group_id, envelope, self_copy, sent_at, expires_at, view_once, media_path) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (sender, client_id, recipient) DO NOTHING RETURNING id",
                    )
                    .bind(sender)
                    .bind(&copy.recipient)
                    .bind(client_id)
                    .bind(&copy.group_id)
                    .bind(&copy.envelope)
                    .bind(&copy.self_copy)
                    .bind(now)
                    .bind(copy.expires_at)
                    .bind(copy.view_once)
                    .bind(&copy.media_path)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(id) = inserted else {
                        let id: i64 = sqlx::query_scalar("SELECT id FROM messages WHERE sender = $1 AND client_id = $2 AND recipient = $3")
                            .bind(sender)
                            .bind(client_id)
                            .bind(&copy.recipient)
                            .fetch_one(&mut *tx)
                            .await?;
                        stored.push(StoredCopy { id, recipient: copy.recipient.clone(), created: false });
                        continue;
                    };
                    let mut entries = vec![(copy.recipient.as_str(), false)];
                    if copy.self_copy.is_some() {
                        entries.push((sender, true));
                    }
                    for (owner, outgoing) in entries {
                        let seq: i64 = sqlx::query_scalar("UPDATE users SET inbox_seq = inbox_seq + 1 WHERE user_id = $1 RETURNING inbox_seq")
                            .bind(owner)
                            .fetch_one(&mut *tx)
                            .await?;
                        sqlx::query("INSERT INTO inbox (user_id, seq, message_id, outgoing) VALUES ($1, $2, $3, $4)")
                            .bind(owner)
                            .bind(seq)
                            .bind(id)
                            .bind(outgoing)
                            .execute(&mut *tx)
                            .await?;
                        changed.insert(owner.to_owned());
                    }
                    stored.push(StoredCopy { id, recipient: copy.recipient.clone(), created: true });
                }
                let changed: Vec<String> = changed.into_iter().collect();
                // Other instances sharing the database learn of the change
                // when (and only if) it commits.
                self.notify_changed(&mut tx, &changed).await?;
                tx.commit().await?;
                Ok((stored, changed))
            }

            async fn inbox(&self, user_id: &str, after: i64, limit: i64, now: i64) -> Result<Vec<InboxRow>, StoreError> {
                let rows = sqlx::query(shared::INBOX_QUERY)
                    .bind(user_id)
                    .bind(after)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(shared::inbox_from_row).collect::<Result<_, _>>()?)
            }

            async fn delete_copy(&self, user_id: &str, message_id: i64) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let sides: Vec<bool> = sqlx::query_scalar("DELETE FROM inbox WHERE user_id = $1 AND message_id = $2 RETURNING outgoing")
                    .bind(user_id)
                    .bind(message_id)
                    .fetch_all(&mut *tx)
                    .await?;
                for outgoing in &sides {
                    let clear = if *outgoing {
                        "UPDATE messages SET self_copy = NULL WHERE id = $1"
                    } else {
                        "UPDATE messages SET envelope = NULL WHERE id = $1"
                    };
                    sqlx::query(clear).bind(message_id).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM messages WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM inbox WHERE message_id = $1)")
                    .bind(message_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(!sides.is_empty())
            }

            async fn sweep(&self, now: i64, stale_upload_before: i64) -> Result<SweepReport, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut report = SweepReport::default();
                let named: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT media_path FROM messages WHERE expires_at IS NOT NULL AND expires_at <= $1 AND media_path IS NOT NULL",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM inbox WHERE message_id IN (SELECT id FROM messages WHERE expires_at IS NOT NULL AND expires_at <= $1)")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                report.messages = sqlx::query("DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM auth_challenges WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
                report.shares = sqlx::query("DELETE FROM shares WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let mut doomed = Vec::new();
                for path in named {
                    let still_named: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE media_path = $1 LIMIT 1")
                        .bind(&path)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if still_named.is_none() {
                        doomed.push(path);
                    }
                }
                let stale: Vec<String> = sqlx::query_scalar("SELECT path FROM media WHERE NOT complete AND removed_at IS NULL AND created_at < $1")
                    .bind(stale_upload_before)
                    .fetch_all(&mut *tx)
                    .await?;
                doomed.extend(stale);
                for path in doomed {
                    sqlx::query(shared::RELEASE_MEDIA).bind(&path).execute(&mut *tx).await?;
                    report.media += sqlx::query(shared::MARK_MEDIA_REMOVED)
                        .bind(&path)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(report)
            }

            async fn reserve_media(&self, owner: &str, path: &str, bytes: u64, quota: u64, now: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let reserved = sqlx::query("UPDATE users SET media_bytes = media_bytes + $1 WHERE user_id = $2 AND media_bytes + $1 <= $3")
                    .bind(shared::db_bytes(bytes))
                    .bind(owner)
                    .bind(shared::db_bytes(quota))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if reserved == 0 {
                    let used: Option<i64> = sqlx::query_scalar("SELECT media_bytes FROM users WHERE user_id = $1")
                        .bind(owner)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(used) = used else {
                        return Err(StoreError::UnknownUser(owner.to_owned()));
                    };
                    return Err(StoreError::QuotaExceeded { used: used.max(0) as u64, wanted: bytes, quota });
                }
                sqlx::query("INSERT INTO media (path, owner, size, complete, created_at) VALUES ($1, $2, $3, FALSE, $4)")
                    .bind(path)
                    .bind(owner)
                    .bind(shared::db_bytes(bytes))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn finish_media(&self, path: &str, size: u64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query("SELECT owner, size FROM media WHERE path = $1 AND NOT complete AND removed_at IS NULL")
                    .bind(path)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Ok(());
                };
                let owner: String = row.try_get("owner")?;
                let reserved: i64 = row.try_get("size")?;
                sqlx::query("UPDATE users SET media_bytes = media_bytes - $1 WHERE user_id = $2")
                    .bind(reserved - shared::db_bytes(size))
                    .bind(&owner)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE media SET size = $1, complete = TRUE WHERE path = $2")
                    .bind(shared::db_bytes(size))
                    .bind(path)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn abandon_media(&self, path: &str) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(shared::RELEASE_MEDIA).bind(path).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM media WHERE path = $1").bind(path).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn media(&self, path: &str) -> Result<Option<MediaRow>, StoreError> {
                let row = sqlx::query("SELECT path, owner, size, complete, removed_at FROM media WHERE path = $1")
                    .bind(path)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some(MediaRow {
                    path: row.try_get("path")?,
                    owner: row.try_get("owner")?,
                    size: row.try_get::<i64, _>("size")?.max(0) as u64,
                    complete: row.try_get("complete")?,
                    removed_at: row.try_get("removed_at")?,
                }))
            }

            async fn remove_media(&self, path: &str, now: i64) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(shared::RELEASE_MEDIA).bind(path).execute(&mut *tx).await?;
                let removed = sqlx::query(shared::MARK_MEDIA_REMOVED)
                    .bind(path)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(removed == 1)
            }

            async fn media_usage(&self, owner: &str) -> Result<u64, StoreError> {
                let used: Option<i64> = sqlx::query_scalar("SELECT media_bytes FROM users WHERE user_id = $1")
                    .bind(owner)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(used.unwrap_or(0).max(0) as u64)
            }

            async fn mark_viewed(&self, user: &str, message_id: i64, now: i64) -> Result<(i64, Option<String>), StoreError> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(concat!(
                    "SELECT media_path, media_removed_at FROM messages WHERE id = $1 AND recipient = $2 AND view_once",
                    $lock
                ))
                .bind(message_id)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::NoSuchViewOnce);
                };
                if let Some(viewed_at) = row.try_get::<Option<i64>, _>("media_removed_at")? {
                    return Ok((viewed_at, None));
                }
                let media_path: Option<String> = row.try_get("media_path")?;
                sqlx::query("UPDATE messages SET media_removed_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(message_id)
                    .execute(&mut *tx)
                    .await?;
                let mut removed = None;
                if let Some(path) = media_path {
                    let unviewed: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM messages WHERE media_path = $1 AND view_once AND media_removed_at IS NULL",
                    )
                    .bind(&path)
                    .fetch_one(&mut *tx)
                    .await?;
                    if unviewed == 0 {
                        sqlx::query(shared::RELEASE_MEDIA).bind(&path).execute(&mut *tx).await?;
                        let marked = sqlx::query(shared::MARK_MEDIA_REMOVED)
                            .bind(&path)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if marked == 1 {
                            removed = Some(path);
                        }
                    }
                }
                tx.commit().await?;
                Ok((now, removed))
            }

            async fn media_to_purge(&self, limit: i64) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT path FROM media WHERE removed_at IS NOT NULL AND NOT purged ORDER BY removed_at LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn media_purged(&self, path: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE media SET purged = TRUE WHERE path = $1")
                    .bind(path)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_share(&self, code: &str, blob: &[u8], views: u32, now: i64, expires_at: i64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO shares (code, blob, views_left, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(code)
                    .bind(blob)
                    .bind(i64::from(views))
                    .bind(now)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| shared::unique_or(e, StoreError::ShareCodeTaken))?;
                Ok(())
            }

            async fn share_info(&self, code: &str, now: i64) -> Result<Option<(u32, i64)>, StoreError> {
                let row = sqlx::query("SELECT views_left, expires_at FROM shares WHERE code = $1 AND views_left > 0 AND expires_at > $2")
                    .bind(code)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let views: i64 = row.try_get("views_left")?;
                Ok(Some((u32::try_from(views).unwrap_or(0), row.try_get("expires_at")?)))
            }

            async fn open_share(&self, code: &str, now: i64) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "UPDATE shares SET views_left = views_left - 1 WHERE code = $1 AND views_left > 0 AND expires_at > $2 RETURNING blob, views_left",
                )
                .bind(code)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let blob: Vec<u8> = row.try_get("blob")?;
                let left = u32::try_from(row.try_get::<i64, _>("views_left")?).unwrap_or(0);
                if left == 0 {
                    sqlx::query("DELETE FROM shares WHERE code = $1").bind(code).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(Some((blob, left)))
            }

            async fn create_group(&self, group_id: &str, members: &[String], now: i64) -> Result<GroupRow, StoreError> {
                let mut tx = self.begin_write().await?;
                for member in members {
                    let found = sqlx::query("SELECT user_id FROM users WHERE user_id = $1")
                        .bind(member)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if found.is_none() {
                        return Err(StoreError::UnknownUser(member.clone()));
                    }
                }
                sqlx::query("INSERT INTO groups (group_id, created_at) VALUES ($1, $2)")
                    .bind(group_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                for member in members {
                    sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(group_id)
                        .bind(member)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(shared::roster(group_id, members.to_vec()))
            }

            async fn group(&self, group_id: &str, requester: &str) -> Result<Option<GroupRow>, StoreError> {
                let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id")
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(members.iter().any(|m| m == requester).then(|| shared::roster(group_id, members)))
            }

            async fn groups_of(&self, user_id: &str) -> Result<Vec<GroupRow>, StoreError> {
                let ids: Vec<String> = sqlx::query_scalar("SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id")
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await?;
                let mut groups = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(group) = self.group(&id, user_id).await? {
                        groups.push(group);
                    }
                }
                Ok(groups)
            }

            async fn add_member(&self, group_id: &str, requester: &str, user_id: &str) -> Result<GroupRow, StoreError> {
                self.change_roster(group_id, requester, user_id, true).await
            }

            async fn remove_member(&self, group_id: &str, requester: &str, user_id: &str) -> Result<GroupRow, StoreError> {
                self.change_roster(group_id, requester, user_id, false).await
            }
        }

        impl $store {
            /// Adds or removes a member under the group's lock, as a member.
            async fn change_roster(&self, group_id: &str, requester: &str, user_id: &str, add: bool) -> Result<GroupRow, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(concat!("SELECT group_id FROM groups WHERE group_id = $1", $lock))
                    .bind(group_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let is_member: Option<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1 AND user_id = $2")
                    .bind(group_id)
                    .bind(requester)
                    .fetch_optional(&mut *tx)
                    .await?;
                if is_member.is_none() {
                    return Err(StoreError::NoSuchGroup);
                }
                if add {
                    let found = sqlx::query("SELECT user_id FROM users WHERE user_id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
                    if found.is_none() {
                        return Err(StoreError::UnknownUser(user_id.to_owned()));
                    }
                    sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(group_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                        .bind(group_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id")
                    .bind(group_id)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(shared::roster(group_id, members))
            }
        }
    };
}

pub(super) use impl_store;
