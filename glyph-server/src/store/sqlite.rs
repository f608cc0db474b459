//! The SQLite backend: one file in the data directory, WAL mode, every
//! commit synced (`synchronous=FULL`), write transactions taken with
//! `BEGIN IMMEDIATE` so concurrent writers queue instead of failing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::shared::{self, impl_store};
use super::{
    BundleRow, GroupRow, InboxRow, MediaRow, NewCopy, Registered, SignedPreKeyRow, StoreError,
    StoredCopy, SweepReport, UserRow,
};

/// Storage in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database a `sqlite:` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// A SQLite database has one instance: nothing to tell.
    async fn notify_changed(
        &self,
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _users: &[String],
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl_store!(
    SqliteStore,
    sqlx::migrate!("../migrations/sqlite"),
    lock = "",
    claim_opk = "DELETE FROM one_time_prekeys WHERE user_id = $1 AND id = \
                 (SELECT id FROM one_time_prekeys WHERE user_id = $1 ORDER BY id LIMIT 1) RETURNING id, public",
    extra = {}
);
