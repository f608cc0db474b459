//! The PostgreSQL backend, for several server instances sharing one
//! database: row locks (`FOR UPDATE`) order concurrent writers, and a
//! one-time prekey is claimed with `SKIP LOCKED` so concurrent bundle
//! fetches each get a different one. A send `NOTIFY`s the users whose inbox
//! changed, so every instance can wake its own WebSockets.

use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::group_commit::{CommitQueue, Queued};
use super::messages::{PendingSend, SendResult};
use super::shared::{self, impl_store};
use super::{
    BundleRow, DeviceListChange, DeviceRow, DeviceState, GroupRow, InboxOf, InboxRow, MediaRow,
    NewCopy, NewDeviceList, Registered, SignedPreKeyRow, StoreError, StoreOptions, SweepReport,
    UserRow,
};

/// Storage in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// This instance's name in wake-ups, so it can skip its own.
    instance: String,
    /// Sends waiting to be written together (group commit).
    sends: std::sync::Arc<CommitQueue<PendingSend, SendResult>>,
}

/// Connections to PostgreSQL per instance, all opened (in the background)
/// when the server starts and kept, idle or not. A connection opened under
/// load (a new backend process, its caches empty, every statement prepared
/// afresh) holds up the requests waiting on it: a pool growing while the
/// first load arrived put the send-to-push p99 at 103-130 ms, against
/// 26-41 ms with every connection open before it (docs/benchmarks.md).
const POOL_SIZE: u32 = 16;

impl PostgresStore {
    /// Connects to the database a `postgres:` URL names; waiting longer
    /// than `acquire_timeout` for a connection is an error.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        // One connection is opened here (an unreachable database is an
        // error at start); closing it makes sqlx open the pool's minimum in
        // the background, one after another, each usable as it opens
        // (a lazy pool would otherwise wait for its first upkeep, minutes).
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(POOL_SIZE)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy(url)?;
        pool.acquire().await?.close_on_drop();
        let mut name = [0u8; 8];
        getrandom::fill(&mut name).map_err(|e| {
            StoreError::Database(sqlx::Error::Io(std::io::Error::other(e.to_string())))
        })?;
        let instance = name.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            pool,
            instance,
            sends: std::sync::Arc::new(CommitQueue::new(options.max_send_batch)),
        })
    }

    /// Begins a transaction in a task of its own. sqlx 0.9.0 returns a
    /// connection to the pool *inside* an open transaction when the future
    /// of `begin` is dropped while BEGIN is in flight (launchbadge/sqlx#4393,
    /// fixed upstream after 0.9.0): the next borrower's statements would run
    /// in it, unanswered for, and be lost. In its own task BEGIN always
    /// finishes; if the caller is gone by then, dropping the finished
    /// transaction rolls it back properly.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(|err| sqlx::Error::Io(std::io::Error::other(err.to_string())))?
    }

    /// Names every changed inbox on the wake-up channel, in one statement:
    /// `<instance> <user id> <device>`. PostgreSQL delivers the
    /// notifications when (and only if) the transaction commits.
    async fn notify_changed(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        inboxes: &[InboxOf],
    ) -> Result<(), sqlx::Error> {
        self.notify(tx, inboxes, "").await
    }

    /// Names every removed device on the wake-up channel:
    /// `<instance> <user id> <device> removed`.
    async fn notify_removed(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        devices: &[InboxOf],
    ) -> Result<(), sqlx::Error> {
        self.notify(tx, devices, " removed").await
    }

    async fn notify(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        devices: &[InboxOf],
        suffix: &str,
    ) -> Result<(), sqlx::Error> {
        let (users, devices): (Vec<&str>, Vec<i64>) = devices
            .iter()
            .map(|(user, device)| (user.as_str(), i64::from(*device)))
            .unzip();
        sqlx::query(
            "SELECT pg_notify('glyph_inbox', $1 || ' ' || u || ' ' || d || $4) FROM unnest($2::text[], $3::bigint[]) AS t(u, d)",
        )
        .bind(&self.instance)
        .bind(users)
        .bind(devices)
        .bind(suffix)
        .execute(&mut **tx)
        .await
        .map(|_| ())
    }
}

impl_store!(
    PostgresStore,
    db = sqlx::Postgres,
    sqlx::migrate!("../migrations/postgres"),
    lock = " FOR UPDATE",
    claim_opk = "DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2 AND id = \
                 (SELECT id FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2 ORDER BY id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED) RETURNING id, public",
    extra = {
        async fn wakeups(&self) -> Result<Option<super::Wakeups>, StoreError> {
            let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
            listener.listen(WAKEUP_CHANNEL).await?;
            let own = self.instance.clone();
            // `try_recv` says `None` when the connection was lost (it
            // reconnects on the next call): report that as missed wake-ups.
            let stream = futures_util::stream::unfold(
                (listener, own),
                |(mut listener, own)| async move {
                    let wakeup = match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            let mut parts = notification.payload().split(' ');
                            match (
                                parts.next(),
                                parts.next(),
                                parts.next().and_then(|d| d.parse().ok()),
                                parts.next(),
                            ) {
                                // This instance woke its own sockets already.
                                (Some(instance), _, _, _) if instance == own => {
                                    super::Wakeup::Ignored
                                }
                                (Some(_), Some(user), Some(device), None) => {
                                    super::Wakeup::Device(user.to_owned(), device)
                                }
                                (Some(_), Some(user), Some(device), Some("removed")) => {
                                    super::Wakeup::Removed(user.to_owned(), device)
                                }
                                _ => super::Wakeup::Missed,
                            }
                        }
                        Ok(None) => super::Wakeup::Missed,
                        Err(err) => {
                            tracing::warn!(error = %err, "listening for other instances' sends failed; retrying");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            super::Wakeup::Missed
                        }
                    };
                    Some((wakeup, (listener, own)))
                },
            );
            Ok(Some(Box::pin(stream)))
        }
    }
);

/// The channel on which a send names (`<instance> <user id>`) the users
/// whose inbox changed.
const WAKEUP_CHANNEL: &str = "glyph_inbox";
