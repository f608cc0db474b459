//! Group rosters: created, read, and changed by members under the group's
//! row lock.

/// Groups, for a backend type; `$lock` is appended to row-locking
/// `SELECT`s (see `shared::impl_store`).
macro_rules! groups_methods {
    ($store:ty, $lock:literal) => {
        impl $store {
            pub(super) async fn create_group(&self, group_id: &str, members: &[String], now: i64) -> Result<GroupRow, StoreError> {
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

            pub(super) async fn group(&self, group_id: &str, requester: &str) -> Result<Option<GroupRow>, StoreError> {
                let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id")
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(members.iter().any(|m| m == requester).then(|| shared::roster(group_id, members)))
            }

            pub(super) async fn groups_of(&self, user_id: &str) -> Result<Vec<GroupRow>, StoreError> {
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

            pub(super) async fn add_member(&self, group_id: &str, requester: &str, user_id: &str) -> Result<GroupRow, StoreError> {
                self.change_roster(group_id, requester, user_id, true).await
            }

            pub(super) async fn remove_member(&self, group_id: &str, requester: &str, user_id: &str) -> Result<GroupRow, StoreError> {
                self.change_roster(group_id, requester, user_id, false).await
            }

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

pub(super) use groups_methods;
