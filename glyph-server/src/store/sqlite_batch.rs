//! The set-based statements of a batch of sends on SQLite (see
//! `messages`): multi-row `VALUES` lists and `IN` lists, cut into runs of
//! at most `shared::ROWS_PER_STATEMENT` rows (and, for copies, about
//! `shared::BYTES_PER_STATEMENT` bytes). SQLite prepares a statement in
//! microseconds, in process, so a new shape per run length costs little.

use std::collections::{BTreeSet, HashMap};

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::messages::{CopyKey, EntryRow, PendingSend, copy_key};
use super::shared;
use super::sqlite::SqliteStore;
use super::{NewCopy, StoreError};

impl SqliteStore {
    /// Locks these users' rows (sorted, deduplicated) and returns the ones
    /// that exist. (SQLite's write transaction holds the whole database.)
    pub(super) async fn lock_users(
        conn: &mut SqliteConnection,
        users: &[&str],
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut found = BTreeSet::new();
        for chunk in users.chunks(shared::ROWS_PER_STATEMENT) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT user_id FROM users WHERE user_id IN (");
            let mut list = query.separated(", ");
            for user in chunk {
                list.push_bind((*user).to_owned());
            }
            query.push(") ORDER BY user_id");
            let rows: Vec<String> = query.build_query_scalar().fetch_all(&mut *conn).await?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Every device row of these users (listed or not, removed or not).
    pub(super) async fn devices_of(
        conn: &mut SqliteConnection,
        users: &[&str],
    ) -> Result<shared::DevicesOf, StoreError> {
        let mut devices = shared::DevicesOf::new();
        for chunk in users.chunks(shared::ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT user_id, device_id, listed, removed_at IS NULL AS live FROM devices WHERE user_id IN (",
            );
            let mut list = query.separated(", ");
            for user in chunk {
                list.push_bind((*user).to_owned());
            }
            query.push(") ORDER BY user_id, device_id");
            for row in query.build().fetch_all(&mut *conn).await? {
                shared::add_device_row(&mut devices, &row)?;
            }
        }
        Ok(devices)
    }

    /// Inserts the copies (a copy stored already, by a retry, is skipped)
    /// and returns the ids of those inserted.
    pub(super) async fn insert_copies(
        conn: &mut SqliteConnection,
        rows: &[(&PendingSend, &NewCopy)],
    ) -> Result<HashMap<CopyKey, i64>, StoreError> {
        let mut inserted = HashMap::new();
        for chunk in shared::statement_chunks(rows, shared::copy_bytes) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO messages (sender, sender_device, recipient, recipient_device, client_id, group_id, envelope, \
                 self_copy, sent_at, expires_at, view_once, media_path) ",
            );
            query.push_values(chunk, |mut row, (send, copy)| {
                row.push_bind(send.sender.clone())
                    .push_bind(i64::from(send.sender_device))
                    .push_bind(copy.recipient.clone())
                    .push_bind(i64::from(copy.device_id))
                    .push_bind(send.client_id.clone())
                    .push_bind(copy.group_id.clone())
                    .push_bind(copy.envelope.clone())
                    .push_bind(copy.self_copy.clone())
                    .push_bind(send.now)
                    .push_bind(copy.expires_at)
                    .push_bind(copy.view_once)
                    .push_bind(copy.media_path.clone());
            });
            query.push(
                " ON CONFLICT (sender, client_id, recipient, recipient_device) DO NOTHING \
                 RETURNING id, sender, client_id, recipient, recipient_device",
            );
            for row in query.build().fetch_all(&mut *conn).await? {
                inserted.insert(copy_key(&row)?, row.try_get("id")?);
            }
        }
        Ok(inserted)
    }

    /// The ids of every copy stored under these `(sender, client id)`s.
    pub(super) async fn stored_copies(
        conn: &mut SqliteConnection,
        sends: &[(&str, &str)],
    ) -> Result<HashMap<CopyKey, i64>, StoreError> {
        let mut stored = HashMap::new();
        for chunk in sends.chunks(shared::ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT id, sender, client_id, recipient, recipient_device FROM messages WHERE (sender, client_id) IN (",
            );
            let mut list = query.separated(", ");
            for (sender, client_id) in chunk {
                list.push("(")
                    .push_bind_unseparated((*sender).to_owned())
                    .push_unseparated(", ");
                list.push_bind_unseparated((*client_id).to_owned())
                    .push_unseparated(")");
            }
            query.push(")");
            for row in query.build().fetch_all(&mut *conn).await? {
                stored.insert(copy_key(&row)?, row.try_get("id")?);
            }
        }
        Ok(stored)
    }

    /// Advances each inbox's position by its count; returns each inbox's
    /// new last position.
    pub(super) async fn advance_inboxes(
        conn: &mut SqliteConnection,
        counts: &[((&str, u32), i64)],
    ) -> Result<Vec<(String, u32, i64)>, StoreError> {
        let mut advanced = Vec::with_capacity(counts.len());
        for chunk in counts.chunks(shared::ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "UPDATE devices SET inbox_seq = devices.inbox_seq + v.column3 FROM (",
            );
            query.push_values(chunk, |mut row, ((owner, device), count)| {
                row.push_bind((*owner).to_owned())
                    .push_bind(i64::from(*device))
                    .push_bind(*count);
            });
            // (SQLite's RETURNING may not name the FROM clause's tables.)
            query.push(
                ") AS v WHERE devices.user_id = v.column1 AND devices.device_id = v.column2 \
                 RETURNING devices.user_id, devices.device_id, devices.inbox_seq",
            );
            for row in query.build().fetch_all(&mut *conn).await? {
                advanced.push(shared::advanced_inbox(&row)?);
            }
        }
        Ok(advanced)
    }

    /// Inserts inbox entries.
    pub(super) async fn insert_entries(
        conn: &mut SqliteConnection,
        entries: &[EntryRow<'_>],
    ) -> Result<(), StoreError> {
        for chunk in entries.chunks(shared::ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO inbox (user_id, device_id, seq, message_id, outgoing) ",
            );
            query.push_values(
                chunk,
                |mut row, (owner, device, seq, message_id, outgoing)| {
                    row.push_bind((*owner).to_owned())
                        .push_bind(i64::from(*device))
                        .push_bind(*seq)
                        .push_bind(*message_id)
                        .push_bind(*outgoing);
                },
            );
            query.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}
