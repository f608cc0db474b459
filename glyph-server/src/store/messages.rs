//! Messages: how a send is stored (one row per copy, each for one device;
//! inbox positions allocated per device under the users' locks), each
//! device's inbox, deleting a copy, view-once views, and the sweep of
//! expired data.
//!
//! Concurrency rule: a transaction that allocates inbox positions first
//! locks the users' rows it will touch, in sorted order, so two sends never
//! deadlock and each device's inbox positions commit in order.

/// Messages, for a backend type; `$lock` is appended to row-locking
/// `SELECT`s (see `shared::impl_store`).
macro_rules! messages_methods {
    ($store:ty, $lock:literal) => {
        impl $store {
            pub(super) async fn send(
                &self,
                sender: &str,
                sender_device: u32,
                client_id: &str,
                copies: &[NewCopy],
                now: i64,
            ) -> Result<(Vec<StoredCopy>, Vec<InboxOf>), StoreError> {
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
                let known: Option<i64> = sqlx::query_scalar("SELECT device_id FROM devices WHERE user_id = $1 AND device_id = $2 AND removed_at IS NULL")
                    .bind(sender)
                    .bind(i64::from(sender_device))
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Err(StoreError::UnknownDevice(sender_device));
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
                    let mut recipients: Vec<String> = copies.iter().map(|c| c.recipient.clone()).collect();
                    recipients.dedup();
                    let (missing, extra) = shared::roster_difference(&members, sender, &recipients);
                    if !missing.is_empty() || !extra.is_empty() {
                        return Err(StoreError::RosterMismatch { missing, extra });
                    }
                }
                // Every listed device of every recipient gets a copy, and
                // no other device.
                let mut addressed: std::collections::BTreeMap<&str, Vec<u32>> = std::collections::BTreeMap::new();
                for copy in copies {
                    addressed.entry(copy.recipient.as_str()).or_default().push(copy.device_id);
                }
                let mut differences = Vec::new();
                for (user, devices) in &addressed {
                    let listed = Self::listed_devices(&mut tx, user).await?;
                    if let Some(difference) = shared::device_difference(user, &listed, devices) {
                        differences.push(difference);
                    }
                }
                if !differences.is_empty() {
                    return Err(StoreError::DeviceMismatch(differences));
                }
                // The sender's other devices get the self-copy.
                let own: Vec<u32> = Self::listed_devices(&mut tx, sender)
                    .await?
                    .into_iter()
                    .filter(|d| *d != sender_device)
                    .collect();
                let mut stored = Vec::with_capacity(copies.len());
                let mut changed = std::collections::BTreeSet::new();
                for copy in copies {
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO messages (sender, sender_device, recipient, recipient_device, client_id, group_id, envelope, \
                         self_copy, sent_at, expires_at, view_once, media_path) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (sender, client_id, recipient, recipient_device) DO NOTHING RETURNING id",
                    )
                    .bind(sender)
                    .bind(i64::from(sender_device))
                    .bind(&copy.recipient)
                    .bind(i64::from(copy.device_id))
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
                        let id: i64 = sqlx::query_scalar(
                            "SELECT id FROM messages WHERE sender = $1 AND client_id = $2 AND recipient = $3 AND recipient_device = $4",
                        )
                        .bind(sender)
                        .bind(client_id)
                        .bind(&copy.recipient)
                        .bind(i64::from(copy.device_id))
                        .fetch_one(&mut *tx)
                        .await?;
                        stored.push(StoredCopy { id, recipient: copy.recipient.clone(), device_id: copy.device_id, created: false });
                        continue;
                    };
                    let mut entries = vec![(copy.recipient.as_str(), copy.device_id, false)];
                    if copy.self_copy.is_some() {
                        entries.extend(own.iter().map(|d| (sender, *d, true)));
                    }
                    for (owner, device, outgoing) in entries {
                        let seq: i64 = sqlx::query_scalar(
                            "UPDATE devices SET inbox_seq = inbox_seq + 1 WHERE user_id = $1 AND device_id = $2 RETURNING inbox_seq",
                        )
                        .bind(owner)
                        .bind(i64::from(device))
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query("INSERT INTO inbox (user_id, device_id, seq, message_id, outgoing) VALUES ($1, $2, $3, $4, $5)")
                            .bind(owner)
                            .bind(i64::from(device))
                            .bind(seq)
                            .bind(id)
                            .bind(outgoing)
                            .execute(&mut *tx)
                            .await?;
                        changed.insert((owner.to_owned(), device));
                    }
                    stored.push(StoredCopy { id, recipient: copy.recipient.clone(), device_id: copy.device_id, created: true });
                }
                let changed: Vec<InboxOf> = changed.into_iter().collect();
                // Other instances sharing the database learn of the change
                // when (and only if) it commits.
                self.notify_changed(&mut tx, &changed).await?;
                tx.commit().await?;
                Ok((stored, changed))
            }

            /// A user's listed devices, inside a transaction.
            async fn listed_devices(
                tx: &mut sqlx::Transaction<'static, <$store as shared::Backend>::Db>,
                user_id: &str,
            ) -> Result<Vec<u32>, StoreError> {
                let listed: Vec<i64> = sqlx::query_scalar("SELECT device_id FROM devices WHERE user_id = $1 AND listed ORDER BY device_id")
                    .bind(user_id)
                    .fetch_all(&mut **tx)
                    .await?;
                Ok(listed.into_iter().filter_map(|d| u32::try_from(d).ok()).collect())
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
