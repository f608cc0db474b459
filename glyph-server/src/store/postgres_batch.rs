//! The set-based statements of a batch of sends on PostgreSQL (see
//! `messages`): rows travel in arrays, one per column, unpacked by
//! `UNNEST`, so each statement has one text whatever the number of rows.
//! A connection prepares each text once; multi-row `VALUES` lists had a
//! text per row count, each prepared afresh on each connection (a round
//! trip and a plan), which held up the first seconds of load on a new
//! server (docs/benchmarks.md). Rows still go in runs of at most
//! `shared::ROWS_PER_STATEMENT` rows and about
//! `shared::BYTES_PER_STATEMENT` bytes (see there: a larger message waits
//! 40 ms for Nagle's algorithm), all runs under the same text.

use std::collections::{BTreeSet, HashMap};

use sqlx::{PgConnection, Row};

use super::messages::{CopyKey, EntryRow, PendingSend, copy_key};
use super::postgres::PostgresStore;
use super::shared;
use super::{NewCopy, StoreError};

impl PostgresStore {
    /// Locks these users' rows (in sorted order) and returns the ones that
    /// exist.
    pub(super) async fn lock_users(
        conn: &mut PgConnection,
        users: &[&str],
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut found = BTreeSet::new();
        // (Runs of sorted users, in order: every batch locks in one order.)
        for chunk in users.chunks(shared::ROWS_PER_STATEMENT) {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT user_id FROM users WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE",
            )
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Every device row of these users (listed or not, removed or not).
    pub(super) async fn devices_of(
        conn: &mut PgConnection,
        users: &[&str],
    ) -> Result<shared::DevicesOf, StoreError> {
        let mut devices = shared::DevicesOf::new();
        for chunk in users.chunks(shared::ROWS_PER_STATEMENT) {
            let rows = sqlx::query(
                "SELECT user_id, device_id, listed, removed_at IS NULL AS live FROM devices \
                 WHERE user_id = ANY($1) ORDER BY user_id, device_id",
            )
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                shared::add_device_row(&mut devices, &row)?;
            }
        }
        Ok(devices)
    }

    /// Inserts the copies (a copy stored already, by a retry, is skipped)
    /// and returns the ids of those inserted.
    pub(super) async fn insert_copies(
        conn: &mut PgConnection,
        rows: &[(&PendingSend, &NewCopy)],
    ) -> Result<HashMap<CopyKey, i64>, StoreError> {
        let mut inserted = HashMap::with_capacity(rows.len());
        for run in shared::statement_chunks(rows, shared::copy_bytes) {
            inserted.extend(Self::insert_copy_run(&mut *conn, run).await?);
        }
        Ok(inserted)
    }

    /// Inserts one run of copies (see [`Self::insert_copies`]).
    async fn insert_copy_run(
        conn: &mut PgConnection,
        rows: &[(&PendingSend, &NewCopy)],
    ) -> Result<HashMap<CopyKey, i64>, StoreError> {
        let senders: Vec<&str> = rows.iter().map(|(s, _)| s.sender.as_str()).collect();
        let sender_devices: Vec<i64> = rows
            .iter()
            .map(|(s, _)| i64::from(s.sender_device))
            .collect();
        let recipients: Vec<&str> = rows.iter().map(|(_, c)| c.recipient.as_str()).collect();
        let recipient_devices: Vec<i64> =
            rows.iter().map(|(_, c)| i64::from(c.device_id)).collect();
        let client_ids: Vec<&str> = rows.iter().map(|(s, _)| s.client_id.as_str()).collect();
        let group_ids: Vec<Option<&str>> =
            rows.iter().map(|(_, c)| c.group_id.as_deref()).collect();
        let envelopes: Vec<&str> = rows.iter().map(|(_, c)| c.envelope.as_str()).collect();
        let self_copies: Vec<Option<&str>> =
            rows.iter().map(|(_, c)| c.self_copy.as_deref()).collect();
        let sent_at: Vec<i64> = rows.iter().map(|(s, _)| s.now).collect();
        let expires_at: Vec<Option<i64>> = rows.iter().map(|(_, c)| c.expires_at).collect();
        let view_once: Vec<bool> = rows.iter().map(|(_, c)| c.view_once).collect();
        let media_paths: Vec<Option<&str>> =
            rows.iter().map(|(_, c)| c.media_path.as_deref()).collect();
        let rows = sqlx::query(
            "INSERT INTO messages (sender, sender_device, recipient, recipient_device, client_id, group_id, \
             envelope, self_copy, sent_at, expires_at, view_once, media_path) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::boolean[], $12::text[]) \
             ON CONFLICT (sender, client_id, recipient, recipient_device) DO NOTHING \
             RETURNING id, sender, client_id, recipient, recipient_device",
        )
        .bind(senders)
        .bind(sender_devices)
        .bind(recipients)
        .bind(recipient_devices)
        .bind(client_ids)
        .bind(group_ids)
        .bind(envelopes)
        .bind(self_copies)
        .bind(sent_at)
        .bind(expires_at)
        .bind(view_once)
        .bind(media_paths)
        .fetch_all(&mut *conn)
        .await?;
        let mut inserted = HashMap::with_capacity(rows.len());
        for row in rows {
            inserted.insert(copy_key(&row)?, row.try_get("id")?);
        }
        Ok(inserted)
    }

    /// The ids of every copy stored under these `(sender, client id)`s.
    pub(super) async fn stored_copies(
        conn: &mut PgConnection,
        sends: &[(&str, &str)],
    ) -> Result<HashMap<CopyKey, i64>, StoreError> {
        let mut stored = HashMap::new();
        for chunk in sends.chunks(shared::ROWS_PER_STATEMENT) {
            let senders: Vec<&str> = chunk.iter().map(|(sender, _)| *sender).collect();
            let client_ids: Vec<&str> = chunk.iter().map(|(_, client_id)| *client_id).collect();
            let rows = sqlx::query(
                "SELECT id, sender, client_id, recipient, recipient_device FROM messages \
                 WHERE (sender, client_id) IN (SELECT * FROM UNNEST($1::text[], $2::text[]))",
            )
            .bind(senders)
            .bind(client_ids)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                stored.insert(copy_key(&row)?, row.try_get("id")?);
            }
        }
        Ok(stored)
    }

    /// Advances each inbox's position by its count; returns each inbox's
    /// new last position.
    pub(super) async fn advance_inboxes(
        conn: &mut PgConnection,
        counts: &[((&str, u32), i64)],
    ) -> Result<Vec<(String, u32, i64)>, StoreError> {
        let owners: Vec<&str> = counts.iter().map(|((owner, _), _)| *owner).collect();
        let devices: Vec<i64> = counts
            .iter()
            .map(|((_, device), _)| i64::from(*device))
            .collect();
        let by: Vec<i64> = counts.iter().map(|(_, count)| *count).collect();
        let rows = sqlx::query(
            "UPDATE devices SET inbox_seq = devices.inbox_seq + v.count \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS v (user_id, device_id, count) \
             WHERE devices.user_id = v.user_id AND devices.device_id = v.device_id \
             RETURNING devices.user_id, devices.device_id, devices.inbox_seq",
        )
        .bind(owners)
        .bind(devices)
        .bind(by)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(shared::advanced_inbox).collect()
    }

    /// Inserts inbox entries.
    pub(super) async fn insert_entries(
        conn: &mut PgConnection,
        entries: &[EntryRow<'_>],
    ) -> Result<(), StoreError> {
        let owners: Vec<&str> = entries.iter().map(|e| e.0).collect();
        let devices: Vec<i64> = entries.iter().map(|e| i64::from(e.1)).collect();
        let seqs: Vec<i64> = entries.iter().map(|e| e.2).collect();
        let message_ids: Vec<i64> = entries.iter().map(|e| e.3).collect();
        let outgoing: Vec<bool> = entries.iter().map(|e| e.4).collect();
        sqlx::query(
            "INSERT INTO inbox (user_id, device_id, seq, message_id, outgoing) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::boolean[])",
        )
        .bind(owners)
        .bind(devices)
        .bind(seqs)
        .bind(message_ids)
        .bind(outgoing)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
