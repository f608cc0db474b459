//! Media accounting: quota reserved before an upload, finished or
//! abandoned after it, blobs marked removed (the database is the truth;
//! storage deletes follow) and purged.

/// Media, for a backend type.
macro_rules! media_methods {
    ($store:ty) => {
        impl $store {
            pub(super) async fn reserve_media(&self, owner: &str, path: &str, bytes: u64, quota: u64, now: i64) -> Result<(), StoreError> {
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

            pub(super) async fn finish_media(&self, path: &str, size: u64) -> Result<(), StoreError> {
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

            pub(super) async fn abandon_media(&self, path: &str) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(shared::RELEASE_MEDIA).bind(path).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM media WHERE path = $1").bind(path).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(super) async fn media(&self, path: &str) -> Result<Option<MediaRow>, StoreError> {
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

            pub(super) async fn remove_media(&self, path: &str, now: i64) -> Result<bool, StoreError> {
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

            pub(super) async fn media_usage(&self, owner: &str) -> Result<u64, StoreError> {
                let used: Option<i64> = sqlx::query_scalar("SELECT media_bytes FROM users WHERE user_id = $1")
                    .bind(owner)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(used.unwrap_or(0).max(0) as u64)
            }

            pub(super) async fn media_to_purge(&self, limit: i64) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT path FROM media WHERE removed_at IS NOT NULL AND NOT purged ORDER BY removed_at LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            pub(super) async fn media_purged(&self, path: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE media SET purged = TRUE WHERE path = $1")
                    .bind(path)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

        }
    };
}

pub(super) use media_methods;
