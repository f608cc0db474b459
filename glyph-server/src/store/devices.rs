//! Devices (spec section 9): ids claimed by devices being set up, the
//! signed device list as published, which devices are listed (the ones a
//! send must cover), and what removing a device takes with it.

/// Devices, for a backend type; `$lock` is appended to row-locking
/// `SELECT`s (see `shared::impl_store`).
macro_rules! devices_methods {
    ($store:ty, $lock:literal) => {
        impl $store {
            pub(super) async fn claim_device(&self, user_id: &str, device_id: u32, now: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let found = sqlx::query(concat!("SELECT user_id FROM users WHERE user_id = $1", $lock))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::UnknownUser(user_id.to_owned()));
                }
                // At most MAX_DEVICES listed, and as many being set up.
                let (listed, pending): (i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN listed THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN listed THEN 0 ELSE 1 END), 0) \
                     FROM devices WHERE user_id = $1 AND removed_at IS NULL",
                )
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
                let max = i64::try_from(glyph_crypto::MAX_DEVICES).unwrap_or(i64::MAX);
                if listed >= max || pending >= max {
                    return Err(StoreError::TooManyDevices(glyph_crypto::MAX_DEVICES));
                }
                // A removed device's row stays: its id stays taken.
                let claimed = sqlx::query(
                    "INSERT INTO devices (user_id, device_id, listed, inbox_seq, created_at) VALUES ($1, $2, FALSE, 0, $3) \
                     ON CONFLICT (user_id, device_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(i64::from(device_id))
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed != 1 {
                    return Err(StoreError::DeviceTaken(device_id));
                }
                tx.commit().await?;
                Ok(())
            }

            pub(super) async fn publish_device_list(
                &self,
                user_id: &str,
                list: &NewDeviceList,
                now: i64,
            ) -> Result<DeviceListChange, StoreError> {
                let mut tx = self.begin_write().await?;
                let found = sqlx::query(concat!("SELECT user_id FROM users WHERE user_id = $1", $lock))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::UnknownUser(user_id.to_owned()));
                }
                let current: Option<i64> = sqlx::query_scalar("SELECT version FROM device_lists WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(current) = current
                    && i64::from(list.version) <= current
                {
                    return Err(StoreError::StaleDeviceList(u32::try_from(current).unwrap_or(u32::MAX)));
                }
                let listed: Vec<i64> = sqlx::query_scalar("SELECT device_id FROM devices WHERE user_id = $1 AND listed")
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let before: Vec<u32> = listed.into_iter().filter_map(|d| u32::try_from(d).ok()).collect();
                let adopting = current.is_none() && before == [0] && list.devices.contains(&list.published_by);
                if adopting {
                    // The account's one device from before devices existed
                    // becomes the device publishing the first list (the
                    // same app, upgraded): its inbox (and the positions its
                    // cursor knows) carry over; its prekeys are replaced by
                    // the device's own.
                    let device = i64::from(list.published_by);
                    let seq: i64 = sqlx::query_scalar("SELECT inbox_seq FROM devices WHERE user_id = $1 AND device_id = 0")
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO devices (user_id, device_id, listed, inbox_seq, created_at) VALUES ($1, $2, TRUE, $3, $4) \
                         ON CONFLICT (user_id, device_id) DO UPDATE SET inbox_seq = excluded.inbox_seq",
                    )
                    .bind(user_id)
                    .bind(device)
                    .bind(seq)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    for statement in [
                        "UPDATE inbox SET device_id = $2 WHERE user_id = $1 AND device_id = 0",
                        "UPDATE messages SET recipient_device = $2 WHERE recipient = $1 AND recipient_device = 0",
                        "UPDATE messages SET sender_device = $2 WHERE sender = $1 AND sender_device = 0",
                    ] {
                        sqlx::query(statement).bind(user_id).bind(device).execute(&mut *tx).await?;
                    }
                    for statement in [
                        "DELETE FROM signed_prekeys WHERE user_id = $1 AND device_id = 0",
                        "DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = 0",
                        "DELETE FROM devices WHERE user_id = $1 AND device_id = 0",
                    ] {
                        sqlx::query(statement).bind(user_id).execute(&mut *tx).await?;
                    }
                }
                for device in &list.devices {
                    // (Removed devices were refused above.)
                    sqlx::query(
                        "INSERT INTO devices (user_id, device_id, listed, inbox_seq, created_at) VALUES ($1, $2, TRUE, 0, $3) \
                         ON CONFLICT (user_id, device_id) DO UPDATE SET listed = TRUE",
                    )
                    .bind(user_id)
                    .bind(i64::from(*device))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                let gone: Vec<i64> = sqlx::query_scalar(
                    "SELECT device_id FROM devices WHERE user_id = $1 AND removed_at IS NOT NULL",
                )
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
                if let Some(device) = list.devices.iter().find(|d| gone.contains(&i64::from(**d))) {
                    return Err(StoreError::DeviceRemoved(*device));
                }
                let removed: Vec<u32> = before
                    .iter()
                    .copied()
                    .filter(|d| !list.devices.contains(d) && !(adopting && *d == 0))
                    .collect();
                let mut orphans = Vec::new();
                for device in &removed {
                    let device = i64::from(*device);
                    for statement in [
                        "DELETE FROM signed_prekeys WHERE user_id = $1 AND device_id = $2",
                        "DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2",
                    ] {
                        sqlx::query(statement).bind(user_id).bind(device).execute(&mut *tx).await?;
                    }
                    sqlx::query("UPDATE devices SET listed = FALSE, removed_at = $3 WHERE user_id = $1 AND device_id = $2")
                        .bind(user_id)
                        .bind(device)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let undelivered: Vec<i64> = sqlx::query_scalar(
                        "DELETE FROM inbox WHERE user_id = $1 AND device_id = $2 RETURNING message_id",
                    )
                    .bind(user_id)
                    .bind(device)
                    .fetch_all(&mut *tx)
                    .await?;
                    orphans.extend(undelivered);
                }
                shared::delete_orphans!(&mut tx, orphans, now);
                let removed_inboxes: Vec<InboxOf> = removed.iter().map(|d| (user_id.to_owned(), *d)).collect();
                self.notify_removed(&mut tx, &removed_inboxes).await?;
                sqlx::query(
                    "INSERT INTO device_lists (user_id, version, list, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, list = excluded.list, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(i64::from(list.version))
                .bind(&list.json)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                let added = list.devices.iter().copied().filter(|d| !before.contains(d)).collect();
                Ok(DeviceListChange { added, removed })
            }

            pub(super) async fn device_list(&self, user_id: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT list FROM device_lists WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            pub(super) async fn devices(&self, user_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT device_id, created_at, last_seen_at FROM devices WHERE user_id = $1 AND listed ORDER BY device_id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(DeviceRow {
                            device_id: u32::try_from(row.try_get::<i64, _>("device_id")?).unwrap_or_default(),
                            created_at: row.try_get("created_at")?,
                            last_seen_at: row.try_get("last_seen_at")?,
                        })
                    })
                    .collect()
            }

            pub(super) async fn device_state(&self, user_id: &str, device_id: u32) -> Result<Option<DeviceState>, StoreError> {
                let row = sqlx::query(
                    "SELECT d.device_id, d.removed_at FROM users u \
                     LEFT JOIN devices d ON d.user_id = u.user_id AND d.device_id = $2 WHERE u.user_id = $1",
                )
                .bind(user_id)
                .bind(i64::from(device_id))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let claimed: Option<i64> = row.try_get("device_id")?;
                let removed: Option<i64> = row.try_get("removed_at")?;
                Ok(Some(match (claimed, removed) {
                    (None, _) => DeviceState::Unclaimed,
                    (Some(_), None) => DeviceState::Active,
                    (Some(_), Some(_)) => DeviceState::Removed,
                }))
            }

            pub(super) async fn touch_device(&self, user_id: &str, device_id: u32, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE devices SET last_seen_at = $3 WHERE user_id = $1 AND device_id = $2")
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use devices_methods;
