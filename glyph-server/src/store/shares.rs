//! One-view shares: stored, looked at without spending, and opened (one
//! view spent atomically; the last one deletes the share).

/// Shares, for a backend type.
macro_rules! shares_methods {
    ($store:ty) => {
        impl $store {
            pub(super) async fn create_share(&self, code: &str, blob: &[u8], views: u32, now: i64, expires_at: i64) -> Result<(), StoreError> {
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

            pub(super) async fn share_info(&self, code: &str, now: i64) -> Result<Option<(u32, i64)>, StoreError> {
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

            pub(super) async fn open_share(&self, code: &str, now: i64) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
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

        }
    };
}

pub(super) use shares_methods;
