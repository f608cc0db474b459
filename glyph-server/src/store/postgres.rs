//! The PostgreSQL backend, for several server instances sharing one
//! database: row locks (`FOR UPDATE`) order concurrent writers, and a
//! one-time prekey is claimed with `SKIP LOCKED` so concurrent bundle
//! fetches each get a different one. A send `NOTIFY`s the users whose inbox
//! changed, so every instance can wake its own WebSockets.

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
                 (SELECT id FROM one_time_prekeys WHERE user_id = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, public",
    notify = Some("SELECT pg_notify('glyph_inbox', $1)"),
    extra = {
        async fn wakeups(&self) -> Result<Option<super::Wakeups>, StoreError> {
            let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
            listener.listen(WAKEUP_CHANNEL).await?;
            // `try_recv` says `None` when the connection was lost (it
            // reconnects on the next call): report that as missed wake-ups.
            let stream = futures_util::stream::unfold(listener, |mut listener| async move {
                let wakeup = match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        super::Wakeup::User(notification.payload().to_owned())
                    }
                    Ok(None) => super::Wakeup::Missed,
                    Err(err) => {
                        tracing::warn!(error = %err, "listening for other instances' sends failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        super::Wakeup::Missed
                    }
                };
                Some((wakeup, listener))
            });
            Ok(Some(Box::pin(stream)))
        }
    }
);

/// The channel on which a send names the users whose inbox changed.
const WAKEUP_CHANNEL: &str = "glyph_inbox";
