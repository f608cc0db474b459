//! Copying SQLite's log into the database file in a task of its own.
//!
//! By default SQLite does this inside the commit that finds the log past
//! its limit, so one send in a thousand pages waited for the copy. Here a
//! task asks for a `PASSIVE` checkpoint every [`CHECKPOINT_EVERY`] (one
//! that never waits for, nor blocks, a reader or a writer), and the log's
//! own limit (see `sqlite.rs`) is only a backstop should the task fall
//! behind.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

/// How often the log is copied into the database file: long enough that a
/// page rewritten by many sends in between is copied once.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The task; it stops when the last store holding it is dropped.
#[derive(Debug)]
pub(super) struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    /// Starts checkpointing `pool`'s database.
    pub(super) fn start(pool: SqlitePool) -> Arc<Self> {
        Arc::new(Self(tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    // The next tick tries again (a full disk, say); the
                    // log's limit still bounds it meanwhile.
                    tracing::debug!(error = %err, "checkpoint");
                }
            }
        })))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}
