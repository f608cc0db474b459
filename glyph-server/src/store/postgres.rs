//! The PostgreSQL backend, for several server instances sharing one
//! database: row locks (`FOR UPDATE`) order concurrent writers, and a
//! one-time prekey is claimed with `SKIP LOCKED` so concurrent bundle
//! fetches each get a different one.

use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::shared::{self, impl_store};
use super::{
    BundleRow, GroupRow, InboxRow, MediaRow, NewCopy, Registered, SignedPreKeyRow, StoreError,
    StoredCopy, SweepReport, UserRow,
};

/// Storage in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database a `postgres:` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl_store!(
    PostgresStore,
    sqlx::migrate!("../migrations/postgres"),
    lock = " FOR UPDATE",
    claim_opk = "DELETE FROM one_time_prekeys WHERE user_id = $1 AND id = \
                 (SELECT id FROM one_time_prekeys WHERE user_id = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, public"
);
