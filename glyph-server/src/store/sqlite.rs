//! The SQLite backend: one file in the data directory, WAL mode, every
//! commit synced (`synchronous=FULL`), write transactions taken with
//! `BEGIN IMMEDIATE` so concurrent writers queue instead of failing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::group_commit::{CommitQueue, Queued};
use super::messages::{PendingSend, SendResult};
use super::shared::{self, impl_store};
use super::sqlite_checkpoint::Checkpointer;
use super::{
    BundleRow, DeviceListChange, DeviceRow, DeviceState, GroupRow, InboxOf, InboxRow, MediaRow,
    NewCopy, NewDeviceList, Registered, SignedPreKeyRow, StoreError, StoreOptions, SweepReport,
    UserRow,
};

/// Storage in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Sends waiting to be written together (group commit).
    sends: std::sync::Arc<CommitQueue<PendingSend, SendResult>>,
    /// Copies the log into the database file, off the commits' path.
    _checkpointer: std::sync::Arc<Checkpointer>,
}

/// Pages the log may hold before a commit copies them into the database
/// file itself (SQLite's default is 1,000): a backstop, since a task of its
/// own copies them twice a second (`sqlite_checkpoint`). A page written by
/// many commits in between (an inbox's last page, a busy index page) is
/// copied once: under a sustained load of sends, copying less often
/// measured 14-22% more sends per second (docs/benchmarks.md).
const WAL_PAGES_BEFORE_CHECKPOINT: u32 = 10_000;

impl SqliteStore {
    /// Opens (creating if needed) the database a `sqlite:` URL names;
    /// waiting longer than `acquire_timeout` for a connection is an error.
    pub async fn connect(url: &str, store_options: &StoreOptions) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma(
                "wal_autocheckpoint",
                WAL_PAGES_BEFORE_CHECKPOINT.to_string(),
            );
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(store_options.acquire_timeout)
            .after_release(|conn, _| Box::pin(still_usable(conn)))
            .connect_with(options)
            .await?;
        Ok(Self {
            _checkpointer: Checkpointer::start(pool.clone()),
            pool,
            sends: std::sync::Arc::new(CommitQueue::new(store_options.max_send_batch)),
        })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// A SQLite database has one instance: nothing to tell.
    async fn notify_changed(
        &self,
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _inboxes: &[InboxOf],
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Nor of a removed device.
    async fn notify_removed(
        &self,
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _devices: &[InboxOf],
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// Whether a connection going back to the pool may be used again. After a
/// COMMIT that failed (a full disk: SQLite rolls back by itself), sqlx
/// still counts the transaction open, its own rollback fails, and every
/// later BEGIN on that connection would fail until a restart. Such a
/// connection is closed instead (the pool opens a fresh one). A transaction
/// merely dropped has its rollback queued: the ping waits for it first.
async fn still_usable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a failed transaction");
        return Ok(false);
    }
    Ok(true)
}

impl_store!(
    SqliteStore,
    db = sqlx::Sqlite,
    sqlx::migrate!("../migrations/sqlite"),
    lock = "",
    claim_opk = "DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2 AND id = \
                 (SELECT id FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2 ORDER BY id LIMIT 1) \
                 RETURNING id, public",
    extra = {}
);
