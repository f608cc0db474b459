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
//! copies, advance the inboxes, insert the entries.

use super::{InboxOf, NewCopy, StoreError, StoredCopy};

/// A send waiting in the commit queue (see `group_commit`).
#[derive(Debug)]
pub(super) struct PendingSend {
    pub(super) sender: String,
    pub(super) sender_device: u32,
    pub(super) client_id: String,
    pub(super) copies: Vec<NewCopy>,
    pub(super) now: i64,
}

/// What a send stored, and the inboxes it changed.
pub(super) type SendResult = Result<(Vec<StoredCopy>, Vec<InboxOf>), StoreError>;

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
                        for answer in answers {
                            let _ = answer.send(Err(err));
                            break;
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

            /// One transaction for `items`, each in a savepoint of its own
            /// when there are several, so a send refused for its own reasons
            /// (a roster or device mismatch, an unknown user) leaves the
            /// others. `Err` only when the transaction itself failed.
            async fn try_write_sends(&self, items: &[PendingSend]) -> Result<Vec<SendResult>, StoreError> {
                let mut tx = self.begin_write().await?;
                let isolate = items.len() > 1;
                if isolate && !$lock.is_empty() {
                    // Every user of the batch, locked at once in sorted
                    // order: two batches (or a batch and another writer)
                    // never wait for each other in a cycle.
                    let mut users: Vec<&str> = items
                        .iter()
                        .flat_map(|i| i.copies.iter().map(|c| c.recipient.as_str()).chain([i.sender.as_str()]))
                        .collect();
                    users.sort_unstable();
                    users.dedup();
                    Self::lock_users(&mut tx, &users).await?;
                }
                let mut results = Vec::with_capacity(items.len());
                let mut changed = std::collections::BTreeSet::new();
                for item in items {
                    let result = if isolate {
                        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                        let result = Self::send_in(&mut savepoint, item).await;
                        if result.is_ok() {
                            savepoint.commit().await?;
                        } else {
                            savepoint.rollback().await?;
                        }
                        result
                    } else {
                        Self::send_in(&mut tx, item).await
                    };
                    match result {
                        Ok(stored) => {
                            changed.extend(stored.1.iter().cloned());
                            results.push(Ok(stored));
                        }
                        Err(err) if err.is_refusal() => results.push(Err(err)),
                        Err(err) => return Err(err),
                    }
                }
                if results.iter().all(Result::is_err) {
                    // Nothing to keep: dropping the transaction rolls it back.
                    return Ok(results);
                }
                let changed: Vec<InboxOf> = changed.into_iter().collect();
                // Other instances sharing the database learn of the change
                // when (and only if) it commits.
                self.notify_changed(&mut tx, &changed).await?;
                tx.commit().await?;
                Ok(results)
            }

            /// Locks these users' rows (sorted, deduplicated) and returns
            /// the ones that exist.
            async fn lock_users(
                conn: &mut <<$store as shared::Backend>::Db as sqlx::Database>::Connection,
                users: &[&str],
            ) -> Result<std::collections::BTreeSet<String>, StoreError> {
                let mut found = std::collections::BTreeSet::new();
                for chunk in users.chunks(shared::ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<<$store as shared::Backend>::Db>::new("SELECT user_id FROM users WHERE user_id IN (");
                    let mut list = query.separated(", ");
                    for user in chunk {
                        list.push_bind((*user).to_owned());
                    }
                    query.push(concat!(") ORDER BY user_id", $lock));
                    let rows: Vec<String> = query.build_query_scalar().fetch_all(&mut *conn).await?;
                    found.extend(rows);
                }
                Ok(found)
            }

            /// Stores one send's copies inside a transaction, with a
            /// handful of set-based statements whatever the number of
            /// copies: lock the users, check the sender's device (and the
            /// roster), read every recipient's listed devices, insert the
            /// copies, advance each inbox's position once, insert the inbox
            /// entries.
            async fn send_in(
                conn: &mut <<$store as shared::Backend>::Db as sqlx::Database>::Connection,
                item: &PendingSend,
            ) -> SendResult {
                let PendingSend { sender, sender_device, client_id, copies, now } = item;
                let (sender, sender_device, now) = (sender.as_str(), *sender_device, *now);
                // Lock every user this send touches, in sorted order.
                let mut users: Vec<&str> = copies.iter().map(|c| c.recipient.as_str()).collect();
                users.push(sender);
                users.sort_unstable();
                users.dedup();
                let found = Self::lock_users(&mut *conn, &users).await?;
                if let Some(unknown) = users.iter().find(|u| !found.contains(**u)) {
                    return Err(StoreError::UnknownUser((*unknown).to_owned()));
                }
                let known: Option<i64> = sqlx::query_scalar("SELECT device_id FROM devices WHERE user_id = $1 AND device_id = $2 AND removed_at IS NULL")
                    .bind(sender)
                    .bind(i64::from(sender_device))
                    .fetch_optional(&mut *conn)
                    .await?;
                if known.is_none() {
                    return Err(StoreError::UnknownDevice(sender_device));
                }
                if let Some(group_id) = copies.first().and_then(|c| c.group_id.as_deref()) {
                    sqlx::query(concat!("SELECT group_id FROM groups WHERE group_id = $1", $lock))
                        .bind(group_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                    let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1")
                        .bind(group_id)
                        .fetch_all(&mut *conn)
                        .await?;
                    if !members.iter().any(|m| m == sender) {
                        return Err(StoreError::NoSuchGroup);
                    }
                    let mut recipients: Vec<String> = copies.iter().map(|c| c.recipient.clone()).collect();
                    recipients.dedup();
                    let (missing, extra) = shared::roster_difference(&members, sender, &recipients);
                    if !missing.is_empty() || !extra.is_empty() {
                        return Err(StoreError::RosterMismatch { missing, extra });
                    }
                }
                // Every listed device of every recipient gets a copy, and
                // no other device.
                let listed = Self::listed_devices_of(&mut *conn, &users).await?;
                let mut addressed: std::collections::BTreeMap<&str, Vec<u32>> = std::collections::BTreeMap::new();
                for copy in copies {
                    addressed.entry(copy.recipient.as_str()).or_default().push(copy.device_id);
                }
                let mut differences = Vec::new();
                for (user, devices) in &addressed {
                    let theirs = listed.get(*user).map(Vec::as_slice).unwrap_or_default();
                    if let Some(difference) = shared::device_difference(user, theirs, devices) {
                        differences.push(difference);
                    }
                }
                if !differences.is_empty() {
                    return Err(StoreError::DeviceMismatch(differences));
                }
                // The sender's other devices get the self-copy.
                let own: Vec<u32> = listed
                    .get(sender)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .copied()
                    .filter(|d| *d != sender_device)
                    .collect();

                // The copies, in multi-row inserts; a copy stored already
                // (a retry) is not stored again.
                let mut inserted: std::collections::HashMap<(String, u32), i64> = std::collections::HashMap::new();
                let copy_bytes = |c: &NewCopy| c.envelope.len() + c.self_copy.as_ref().map_or(0, String::len) + c.recipient.len() + 64;
                for chunk in shared::statement_chunks(copies, copy_bytes) {
                    let mut query = sqlx::QueryBuilder::<<$store as shared::Backend>::Db>::new(
                        "INSERT INTO messages (sender, sender_device, recipient, recipient_device, client_id, group_id, envelope, \
                         self_copy, sent_at, expires_at, view_once, media_path) ",
                    );
                    query.push_values(chunk, |mut row, copy| {
                        row.push_bind(sender.to_owned())
                            .push_bind(i64::from(sender_device))
                            .push_bind(copy.recipient.clone())
                            .push_bind(i64::from(copy.device_id))
                            .push_bind(client_id.clone())
                            .push_bind(copy.group_id.clone())
                            .push_bind(copy.envelope.clone())
                            .push_bind(copy.self_copy.clone())
                            .push_bind(now)
                            .push_bind(copy.expires_at)
                            .push_bind(copy.view_once)
                            .push_bind(copy.media_path.clone());
                    });
                    query.push(
                        " ON CONFLICT (sender, client_id, recipient, recipient_device) DO NOTHING \
                         RETURNING id, recipient, recipient_device",
                    );
                    let rows = query.build().fetch_all(&mut *conn).await?;
                    for row in rows {
                        let device: i64 = row.try_get("recipient_device")?;
                        inserted.insert((row.try_get("recipient")?, u32::try_from(device).unwrap_or_default()), row.try_get("id")?);
                    }
                }
                let mut earlier: std::collections::HashMap<(String, u32), i64> = std::collections::HashMap::new();
                if inserted.len() < copies.len() {
                    let rows = sqlx::query("SELECT id, recipient, recipient_device FROM messages WHERE sender = $1 AND client_id = $2")
                        .bind(sender)
                        .bind(client_id)
                        .fetch_all(&mut *conn)
                        .await?;
                    for row in rows {
                        let device: i64 = row.try_get("recipient_device")?;
                        earlier.insert((row.try_get("recipient")?, u32::try_from(device).unwrap_or_default()), row.try_get("id")?);
                    }
                }

                // Inbox entries: each new copy to its device, and the
                // self-copy to each of the sender's other devices.
                let mut stored = Vec::with_capacity(copies.len());
                let mut entries: Vec<(&str, u32, i64, bool)> = Vec::new();
                for copy in copies {
                    let key = (copy.recipient.clone(), copy.device_id);
                    // `remove`: a copy named twice in one request is new once.
                    let (id, created) = match inserted.remove(&key) {
                        Some(id) => (id, true),
                        None => match earlier.get(&key).copied().or_else(|| stored.iter().find(|s: &&StoredCopy| (s.recipient.as_str(), s.device_id) == (key.0.as_str(), key.1)).map(|s| s.id)) {
                            Some(id) => (id, false),
                            None => return Err(StoreError::Database(sqlx::Error::RowNotFound)),
                        },
                    };
                    if created {
                        entries.push((copy.recipient.as_str(), copy.device_id, id, false));
                        if copy.self_copy.is_some() {
                            entries.extend(own.iter().map(|d| (sender, *d, id, true)));
                        }
                    }
                    stored.push(StoredCopy { id, recipient: copy.recipient.clone(), device_id: copy.device_id, created });
                }
                let changed = Self::append_to_inboxes(&mut *conn, &entries).await?;
                Ok((stored, changed))
            }

            /// Appends entries `(owner, device, message id, outgoing)` to
            /// their inboxes: each inbox's position advances once, by its
            /// number of entries, and the entries take the positions in
            /// order. Returns the inboxes that changed.
            async fn append_to_inboxes(
                conn: &mut <<$store as shared::Backend>::Db as sqlx::Database>::Connection,
                entries: &[(&str, u32, i64, bool)],
            ) -> Result<Vec<InboxOf>, StoreError> {
                let mut counts: std::collections::BTreeMap<(&str, u32), i64> = std::collections::BTreeMap::new();
                for (owner, device, _, _) in entries {
                    *counts.entry((*owner, *device)).or_default() += 1;
                }
                let counts: Vec<((&str, u32), i64)> = counts.into_iter().collect();
                // The first free position of each inbox.
                let mut next: std::collections::HashMap<(String, u32), i64> = std::collections::HashMap::new();
                for chunk in counts.chunks(shared::ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<<$store as shared::Backend>::Db>::new(
                        "UPDATE devices SET inbox_seq = devices.inbox_seq + v.column3 FROM (",
                    );
                    query.push_values(chunk, |mut row, ((owner, device), count)| {
                        row.push_bind((*owner).to_owned()).push_bind(i64::from(*device)).push_bind(*count);
                    });
                    query.push(
                        ") AS v WHERE devices.user_id = v.column1 AND devices.device_id = v.column2 \
                         RETURNING devices.user_id, devices.device_id, devices.inbox_seq",
                    );
                    // (SQLite's RETURNING may not name the FROM clause's
                    // tables: the counts are looked up here.)
                    for row in query.build().fetch_all(&mut *conn).await? {
                        let device: i64 = row.try_get("device_id")?;
                        let seq: i64 = row.try_get("inbox_seq")?;
                        let owner: String = row.try_get("user_id")?;
                        let device = u32::try_from(device).unwrap_or_default();
                        let count = chunk
                            .iter()
                            .find(|((o, d), _)| *o == owner && *d == device)
                            .map_or(0, |(_, count)| *count);
                        next.insert((owner, device), seq - count + 1);
                    }
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
                for chunk in rows.chunks(shared::ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<<$store as shared::Backend>::Db>::new(
                        "INSERT INTO inbox (user_id, device_id, seq, message_id, outgoing) ",
                    );
                    query.push_values(chunk, |mut row, (owner, device, seq, message_id, outgoing)| {
                        row.push_bind((*owner).to_owned())
                            .push_bind(i64::from(*device))
                            .push_bind(*seq)
                            .push_bind(*message_id)
                            .push_bind(*outgoing);
                    });
                    query.build().execute(&mut *conn).await?;
                }
                Ok(counts.into_iter().map(|((owner, device), _)| (owner.to_owned(), device)).collect())
            }

            /// Every listed device of these users, in one statement.
            async fn listed_devices_of(
                conn: &mut <<$store as shared::Backend>::Db as sqlx::Database>::Connection,
                users: &[&str],
            ) -> Result<std::collections::HashMap<String, Vec<u32>>, StoreError> {
                let mut listed: std::collections::HashMap<String, Vec<u32>> = std::collections::HashMap::new();
                for chunk in users.chunks(shared::ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<<$store as shared::Backend>::Db>::new(
                        "SELECT user_id, device_id FROM devices WHERE listed AND user_id IN (",
                    );
                    let mut list = query.separated(", ");
                    for user in chunk {
                        list.push_bind((*user).to_owned());
                    }
                    query.push(") ORDER BY user_id, device_id");
                    for row in query.build().fetch_all(&mut *conn).await? {
                        let device: i64 = row.try_get("device_id")?;
                        if let Ok(device) = u32::try_from(device) {
                            listed.entry(row.try_get("user_id")?).or_default().push(device);
                        }
                    }
                }
                Ok(listed)
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
