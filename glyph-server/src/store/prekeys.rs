//! Prekeys, per device: each device's signed prekey and stock of one-time
//! prekeys, and bundles that hand out each one-time prekey exactly once.

/// Prekeys, for a backend type; `$claim_opk` deletes and returns one
/// one-time prekey of user `$1`'s device `$2` (see `shared::impl_store`).
macro_rules! prekeys_methods {
    ($store:ty, $lock:literal, $claim_opk:expr) => {
        impl $store {
            pub(super) async fn put_signed_prekey(
                &self,
                user_id: &str,
                device_id: u32,
                spk: &SignedPreKeyRow,
            ) -> Result<(), StoreError> {
                if self.device_state(user_id, device_id).await? != Some(DeviceState::Active) {
                    return Err(StoreError::UnknownDevice(device_id));
                }
                sqlx::query(
                    "INSERT INTO signed_prekeys (user_id, device_id, spk_id, spk_pub, spk_sig) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id, device_id) DO UPDATE SET spk_id = excluded.spk_id, spk_pub = excluded.spk_pub, spk_sig = excluded.spk_sig",
                )
                .bind(user_id)
                .bind(i64::from(device_id))
                .bind(i64::from(spk.spk_id))
                .bind(&spk.spk_pub)
                .bind(&spk.spk_sig)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(super) async fn add_one_time_prekeys(
                &self,
                user_id: &str,
                device_id: u32,
                keys: &[(u32, Vec<u8>)],
                max_stock: u64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let device: Option<i64> = sqlx::query_scalar(concat!(
                    "SELECT device_id FROM devices WHERE user_id = $1 AND device_id = $2 AND removed_at IS NULL",
                    $lock
                ))
                .bind(user_id)
                .bind(i64::from(device_id))
                .fetch_optional(&mut *tx)
                .await?;
                if device.is_none() {
                    return Err(StoreError::UnknownDevice(device_id));
                }
                let stock: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2")
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .fetch_one(&mut *tx)
                    .await?;
                if stock.max(0) as u64 + keys.len() as u64 > max_stock {
                    return Err(StoreError::PreKeyStockFull(max_stock));
                }
                for (id, public) in keys {
                    sqlx::query("INSERT INTO one_time_prekeys (user_id, device_id, id, public) VALUES ($1, $2, $3, $4)")
                        .bind(user_id)
                        .bind(i64::from(device_id))
                        .bind(i64::from(*id))
                        .bind(public)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| shared::unique_or(e, StoreError::PreKeyIdTaken(*id)))?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub(super) async fn clear_one_time_prekeys(&self, user_id: &str, device_id: u32) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2")
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            pub(super) async fn prekey_count(&self, user_id: &str, device_id: u32) -> Result<(u64, Option<u32>), StoreError> {
                let stock: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2")
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .fetch_one(&self.pool)
                    .await?;
                let spk: Option<i64> = sqlx::query_scalar("SELECT spk_id FROM signed_prekeys WHERE user_id = $1 AND device_id = $2")
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok((stock.max(0) as u64, spk.and_then(|id| u32::try_from(id).ok())))
            }

            pub(super) async fn claim_bundle(&self, user_id: &str, device_id: u32) -> Result<Option<BundleRow>, StoreError> {
                let mut tx = self.begin_write().await?;
                let bundle = Self::claim_bundle_in(&mut tx, user_id, device_id).await?;
                tx.commit().await?;
                Ok(bundle)
            }

            pub(super) async fn claim_bundles(&self, user_id: &str) -> Result<Vec<BundleRow>, StoreError> {
                let mut tx = self.begin_write().await?;
                let listed: Vec<i64> = sqlx::query_scalar("SELECT device_id FROM devices WHERE user_id = $1 AND listed ORDER BY device_id")
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut bundles = Vec::with_capacity(listed.len());
                for device in listed {
                    let Ok(device) = u32::try_from(device) else { continue };
                    if let Some(bundle) = Self::claim_bundle_in(&mut tx, user_id, device).await? {
                        bundles.push(bundle);
                    }
                }
                tx.commit().await?;
                Ok(bundles)
            }

            /// A listed device's bundle inside a write transaction.
            async fn claim_bundle_in(
                tx: &mut sqlx::Transaction<'static, <$store as shared::Backend>::Db>,
                user_id: &str,
                device_id: u32,
            ) -> Result<Option<BundleRow>, StoreError> {
                let Some(user) = sqlx::query("SELECT user_id, sign_pub, dh_pub, binding_sig, handle FROM users WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut **tx)
                    .await?
                else {
                    return Ok(None);
                };
                let user = shared::user_from_row(&user)?;
                let Some(spk) = sqlx::query(
                    "SELECT s.spk_id, s.spk_pub, s.spk_sig FROM signed_prekeys s JOIN devices d \
                     ON d.user_id = s.user_id AND d.device_id = s.device_id \
                     WHERE s.user_id = $1 AND s.device_id = $2 AND d.listed",
                )
                .bind(user_id)
                .bind(i64::from(device_id))
                .fetch_optional(&mut **tx)
                .await?
                else {
                    return Ok(None);
                };
                let spk = SignedPreKeyRow {
                    spk_id: u32::try_from(spk.try_get::<i64, _>("spk_id")?).unwrap_or_default(),
                    spk_pub: spk.try_get("spk_pub")?,
                    spk_sig: spk.try_get("spk_sig")?,
                };
                let opk = sqlx::query($claim_opk)
                    .bind(user_id)
                    .bind(i64::from(device_id))
                    .fetch_optional(&mut **tx)
                    .await?;
                let opk = match opk {
                    Some(row) => Some((u32::try_from(row.try_get::<i64, _>("id")?).unwrap_or_default(), row.try_get("public")?)),
                    None => None,
                };
                Ok(Some(BundleRow { user, device_id, spk, opk }))
            }
        }
    };
}

pub(super) use prekeys_methods;
