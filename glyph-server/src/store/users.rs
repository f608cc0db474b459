//! Users, handles and login challenges.

/// Users, handles and challenges, for a backend type.
macro_rules! users_methods {
    ($store:ty) => {
        impl $store {
        pub(super) async fn register(&self, user: &UserRow, now: i64) -> Result<Registered, StoreError> {
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

        pub(super) async fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
            let row = sqlx::query("SELECT user_id, sign_pub, dh_pub, binding_sig, handle FROM users WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.as_ref().map(shared::user_from_row).transpose()?)
        }

        pub(super) async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRow>, StoreError> {
            let row = sqlx::query("SELECT user_id, sign_pub, dh_pub, binding_sig, handle FROM users WHERE handle = $1")
                .bind(handle)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.as_ref().map(shared::user_from_row).transpose()?)
        }

        pub(super) async fn set_handle(&self, user_id: &str, handle: Option<&str>) -> Result<(), StoreError> {
            sqlx::query("UPDATE users SET handle = $1 WHERE user_id = $2")
                .bind(handle)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(|e| shared::unique_or(e, StoreError::HandleTaken))?;
            Ok(())
        }

        pub(super) async fn put_challenge(&self, challenge: &[u8], expires_at: i64) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO auth_challenges (challenge, expires_at) VALUES ($1, $2)")
                .bind(challenge)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        pub(super) async fn take_challenge(&self, challenge: &[u8], now: i64) -> Result<bool, StoreError> {
            let taken = sqlx::query("DELETE FROM auth_challenges WHERE challenge = $1 AND expires_at > $2")
                .bind(challenge)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
            Ok(taken == 1)
        }
        }
    };
}

pub(super) use users_methods;
