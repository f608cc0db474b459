//! Messages: how a send is stored (one row per copy, each for one device;
//! inbox positions allocated per device under the users' locks), each
//! device's inbox, deleting a copy, view-once views, and the sweep of
//! expired data.
//!
//! Concurrency rule: a transaction that allocates inbox positions first
//! locks the users' rows it will touch, in sorted order, so two sends never
//! deadlock and each device's inbox positions commit in order. A batch of
//! sends (group commit) locks the users of the whole batch first.
//!
//! Statements: a send executes the same handful whatever its number of
//! copies (a 100-member group send included): lock the users, check the
//! sender's device (and the group), read the listed devices, insert the
//! copies, advance the inboxes, insert the entries. The set-based ones
//! are each backend's own (`sqlite_batch`: multi-row lists;
//! `postgres_batch`: arrays and `UNNEST`, one statement text for any
//! number of rows).

use super::{InboxRow, NewCopy, NewEntry, Sent, StoreError};

/// A send waiting in the commit queue (see `group_commit`).
#[derive(Debug)]
pub(super) struct PendingSend {
    pub(super) sender: String,
    pub(super) sender_device: u32,
    pub(super) client_id: String,
    pub(super) copies: Vec<NewCopy>,
    pub(super) now: i64,
}

/// A copy's identity: sender, client id, recipient, recipient device.
pub(super) type CopyKey = (String, String, String, u32);

/// An inbox entry to insert: owner, device, position, message id, and
/// whether it is the owner's own message (a self-copy).
pub(super) type EntryRow<'a> = (&'a str, u32, i64, i64, bool);

/// A copy's identity, from a row of `sender, client_id, recipient,
/// recipient_device`.
pub(super) fn copy_key<R: sqlx::Row>(row: &R) -> Result<CopyKey, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let device: i64 = row.try_get("recipient_device")?;
    Ok((
        row.try_get("sender")?,
        row.try_get("client_id")?,
        row.try_get("recipient")?,
        u32::try_from(device).unwrap_or_default(),
    ))
}

/// What a send stored, and the inbox entries it added.
pub(super) type SendResult = Result<Sent, StoreError>;

/// The entry a new copy adds to the inbox `owner`'s `device`, at `seq`, as
/// a read of that inbox returns it: the recipient's envelope, or the
/// self-copy when it is the sender's own (`outgoing`).
pub(super) fn new_entry(
    send: &PendingSend,
    copy: &NewCopy,
    (owner, device): (&str, u32),
    seq: i64,
    id: i64,
    outgoing: bool,
) -> NewEntry {
    let payload = if outgoing {
        copy.self_copy.clone().unwrap_or_default()
    } else {
        copy.envelope.clone()
    };
    NewEntry {
        inbox: (owner.to_owned(), device),
        row: InboxRow {
            seq,
            id,
            outgoing,
            sender: send.sender.clone(),
            sender_device: send.sender_device,
            recipient: copy.recipient.clone(),
            recipient_device: copy.device_id,
            client_id: send.client_id.clone(),
            group_id: copy.group_id.clone(),
            payload,
            sent_at: send.now,
            expires_at: copy.expires_at,
            view_once: copy.view_once,
            media_path: copy.media_path.clone(),
            media_removed_at: None,
        },
    }
}

/// Messages, for a backend type; `$lock` is appended to row-locking
/// `SELECT`s (see `shared::impl_store`).
macro_rules! messages_methods {
    ($store:ty, $lock:literal) => {
        impl $store {
            /// Stores a send: queued, and written with the sends that arrive
            /// with it in one transaction (see `group_commit`).
            pub(super) async fn send(
                &self,
                sender: &str,
                sender_device: u32,
                client_id: &str,
                copies: &[NewCopy],
                now: i64,
            ) -> SendResult {
                let pending = PendingSend {
                    sender: sender.to_owned(),
                    sender_device,
                    client_id: client_id.to_owned(),
                    copies: copies.to_vec(),
                    now,
                };
                let store = self.clone();
                self.sends
                    .submit(pending, move |batch| store.clone().write_sends(batch), || Err(StoreError::WriterLost))
                    .await
            }

            /// Writes a batch of sends and answers each. A failure of the
            /// batch's transaction as a whole (a deadlock, a failed
            /// commit) is not charged to all of them: each is written
            /// again alone, so only the send at fault fails.
            async fn write_sends(self, batch: Vec<Queued<PendingSend, SendResult>>) {
                let (items, answers): (Vec<PendingSend>, Vec<_>) = batch.into_iter().map(|q| (q.item, q.answer)).unzip();
                match self.try_write_sends(&items).await {
                    Ok(results) => {
                        for (answer, result) in answers.into_iter().zip(results) {
                            let _ = answer.send(result);
                        }
                    }
                    Err(err) if items.len() == 1 => {
                        if let Some(answer) = answers.into_iter().next() {
                            let _ = answer.send(Err(err));
                        }
                    }
                    Err(err) => {
                        tracing::warn!(sends = items.len(), error = %err, "a batch of sends failed; writing each alone");
                        for (item, answer) in items.iter().zip(answers) {
                            let result = match self.try_write_sends(std::slice::from_ref(item)).await {
                                Ok(mut results) => results.pop().unwrap_or(Err(StoreError::WriterLost)),
                                Err(err) => Err(err),
                            };
                            let _ = answer.send(result);
                        }
                    }
                }
            }

            /// Writes `items` in one transaction, with a handful of
            /// set-based statements for the whole batch: lock its users (in
            /// sorted order, one statement), read their devices (one) and
            /// its groups (two each), check every send against what was
            /// read, then insert the copies of those that pass, advance
            /// each inbox once and insert the entries (multi-row), notify,
            /// commit. A send refused for its own reasons (a roster or
            /// device mismatch, an unknown user) is answered and left out;
            /// `Err` only when the transaction itself failed.
            async fn try_write_sends(&self, items: &[PendingSend]) -> Result<Vec<SendResult>, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut users: Vec<&str> = items
                    .iter()
                    .flat_map(|i| i.copies.iter().map(|c| c.recipient.as_str()).chain([i.sender.as_str()]))
                    .collect();
                users.sort_unstable();
                users.dedup();
                let found = Self::lock_users(&mut tx, &users).await?;
                let devices = Self::devices_of(&mut tx, &users).await?;
                let mut group_ids: Vec<&str> = items
                    .iter()
                    .filter_map(|i| i.copies.first().and_then(|c| c.group_id.as_deref()))
                    .collect();
                group_ids.sort_unstable();
                group_ids.dedup();
                let mut rosters = std::collections::HashMap::new();
                for group_id in group_ids {
                    sqlx::query(concat!("SELECT group_id FROM groups WHERE group_id = $1", $lock))
                        .bind(group_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1")
                        .bind(group_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    rosters.insert(group_id, members);
                }
                let mut results: Vec<Option<SendResult>> = Vec::with_capacity(items.len());
                let mut accepted = Vec::new();
                for item in items {
                    match shared::check_send(item, &found, &devices, &rosters) {
                        Ok(()) => {
                            accepted.push(item);
                            results.push(None);
                        }
                        Err(err) => results.push(Some(Err(err))),
                    }
                }
                if accepted.is_empty() {
                    // Nothing to keep: dropping the transaction rolls it back.
                    return Ok(results.into_iter().flatten().collect());
                }
                let mut written = Self::write_copies(&mut tx, &accepted, &devices).await?.into_iter();
                let mut changed = std::collections::BTreeSet::new();
                for result in &mut results {
                    if result.is_none() {
                        let sent = written.next().ok_or(StoreError::WriterLost)?;
                        changed.extend(sent.entries.iter().map(|e| e.inbox.clone()));
                        *result = Some(Ok(sent));
                    }
                }
                let changed: Vec<super::InboxOf> = changed.into_iter().collect();
                // Other instances sharing the database learn of the change
                // when (and only if) it commits.
                self.notify_changed(&mut tx, &changed).await?;
                tx.commit().await?;
                Ok(results.into_iter().flatten().collect())
            }

            /// Inserts the copies of checked sends (set-based; a copy stored
            /// already, by a retry, is not stored again) and their inbox
            /// entries: each copy to its device, and a self-copy to each of
            /// its sender's other listed devices. Returns, per send, what it
            /// stored and the entries it added.
            async fn write_copies(
                conn: &mut <<$store as shared::Backend>::Db as sqlx::Database>::Connection,
                sends: &[&PendingSend],
                devices: &shared::DevicesOf,
            ) -> Result<Vec<super::Sent>, StoreError> {
                let rows: Vec<(&PendingSend, &NewCopy)> = sends.iter().flat_map(|s| s.copies.iter().map(move |c| (*s, c))).collect();
                let mut inserted = Self::insert_copies(&mut *conn, &rows).await?;
                // Copies stored before (retries): their ids.
                let mut earlier = std::collections::HashMap::new();
                if inserted.len() < rows.len() {
                    let mut retried: Vec<(&str, &str)> = rows
                        .iter()
                        .filter(|(s, c)| !inserted.contains_key(&(s.sender.clone(), s.client_id.clone(), c.recipient.clone(), c.device_id)))
                        .map(|(s, _)| (s.sender.as_str(), s.client_id.as_str()))
                        .collect();
                    retried.sort_unstable();
                    retried.dedup();
                    earlier = Self::stored_copies(&mut *conn, &retried).await?;
                }
                let mut entries: Vec<(&str, u32, i64, bool)> = Vec::new();
                // Per entry: the index of its send, and its copy.
                let mut origins: Vec<(usize, &NewCopy)> = Vec::new();
                let mut per_send = Vec::with_capacity(sends.len());
                for (index, send) in sends.iter().enumerate() {
                    let own: Vec<u32> = shared::listed(devices, &send.sender).filter(|d| *d != send.sender_device).collect();
                    let mut stored = Vec::with_capacity(send.copies.len());
                    for copy in &send.copies {
                        let key = (send.sender.clone(), send.client_id.clone(), copy.recipient.clone(), copy.device_id);
                        // `remove`: a copy named twice, in one request or in
                        // two sends of one batch, is new once.
                        let (id, created) = match inserted.remove(&key) {
                            Some(id) => {
                                earlier.insert(key, id);
                                (id, true)
                            }
                            None => match earlier.get(&key) {
                                Some(id) => (*id, false),
                                None => return Err(StoreError::Database(sqlx::Error::RowNotFound)),
                            },
                        };
                        if created {
                            entries.push((copy.recipient.as_str(), copy.device_id, id, false));
                            origins.push((index, copy));
                            if copy.self_copy.is_some() {
                                for device in &own {
                                    entries.push((send.sender.as_str(), *device, id, true));
                                    origins.push((index, copy));
                                }
                            }
                        }
                        stored.push(super::StoredCopy { id, recipient: copy.recipient.clone(), device_id: copy.device_id, created });
                    }
                    per_send.push(super::Sent { copies: stored, entries: Vec::new() });
                }
                let seqs = Self::append_to_inboxes(&mut *conn, &entries).await?;
                for ((&(owner, device, id, outgoing), seq), (index, copy)) in entries.iter().zip(seqs).zip(origins) {
                    let entry = super::messages::new_entry(sends[index], copy, (owner, device), seq, id, outgoing);
                    per_send[index].entries.push(entry);
                }
                Ok(per_send)
            }

            /// Appends entries `(owner, device, message id, outgoing)` to
            /// their inboxes: each inbox's position advances once, by its
            /// number of entries, and the entries take the positions in
            /// order. Returns each entry's position.
            async fn append_to_inboxes(
                conn: &mut <<$store as shared::Backend>::Db as sqlx::Database>::Connection,
                entries: &[(&str, u32, i64, bool)],
            ) -> Result<Vec<i64>, StoreError> {
                let mut counts: std::collections::BTreeMap<(&str, u32), i64> = std::collections::BTreeMap::new();
                for (owner, device, _, _) in entries {
                    *counts.entry((*owner, *device)).or_default() += 1;
                }
                let wanted = counts.clone();
                let counts: Vec<((&str, u32), i64)> = counts.into_iter().collect();
                // The first free position of each inbox.
                let mut next: std::collections::HashMap<(String, u32), i64> = std::collections::HashMap::new();
                for (owner, device, seq) in Self::advance_inboxes(&mut *conn, &counts).await? {
                    let count = wanted.get(&(owner.as_str(), device)).copied().unwrap_or(0);
                    next.insert((owner, device), seq - count + 1);
                }
                let mut rows = Vec::with_capacity(entries.len());
                for (owner, device, message_id, outgoing) in entries {
                    let Some(seq) = next.get_mut(&((*owner).to_owned(), *device)) else {
                        // Listed a moment ago under the same lock: a device
                        // row cannot vanish within the transaction.
                        return Err(StoreError::UnknownDevice(*device));
                    };
                    rows.push((*owner, *device, *seq, *message_id, *outgoing));
                    *seq += 1;
                }
                Self::insert_entries(&mut *conn, &rows).await?;
                Ok(rows.iter().map(|row| row.2).collect())
            }

            pub(super) async fn inbox(
                &self,
                user_id: &str,
                device_id: u32,
                after: i64,
                limit: i64,
                now: i64,
            ) -> Result<Vec<InboxRow>, StoreError> {
                let rows = sqlx::query(shared::INBOX_QUERY)
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .bind(after)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(shared::inbox_from_row).collect::<Result<_, _>>()?)
            }

            pub(super) async fn delete_copy(&self, user_id: &str, device_id: u32, message_id: i64) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query("DELETE FROM inbox WHERE user_id = $1 AND device_id = $2 AND message_id = $3")
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .bind(message_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                shared::delete_orphans!(&mut tx, [message_id], 0);
                tx.commit().await?;
                Ok(deleted > 0)
            }

            pub(super) async fn mark_viewed(&self, user: &str, message_id: i64, now: i64) -> Result<(i64, Option<String>), StoreError> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(concat!(
                    "SELECT sender, client_id, media_path, media_removed_at FROM messages WHERE id = $1 AND recipient = $2 AND view_once",
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
                let sender: String = row.try_get("sender")?;
                let client_id: String = row.try_get("client_id")?;
                let media_path: Option<String> = row.try_get("media_path")?;
                // Viewed on one device: viewed on all of that user's devices.
                sqlx::query(
                    "UPDATE messages SET media_removed_at = $1 WHERE sender = $2 AND client_id = $3 AND recipient = $4 \
                     AND media_removed_at IS NULL",
                )
                .bind(now)
                .bind(&sender)
                .bind(&client_id)
                .bind(user)
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

            pub(super) async fn sweep(&self, now: i64, stale_upload_before: i64) -> Result<SweepReport, StoreError> {
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
        }
    };
}

pub(super) use messages_methods;
