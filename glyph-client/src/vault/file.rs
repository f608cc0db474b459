//! The vault's SQLite file: every statement the vault runs, and nothing
//! about sealing or naming (values and names arrive sealed and tagged).
//!
//! The file is used on the calling thread: a read is a few microseconds,
//! where a hand-off to a database thread and back costs about 50 µs on a
//! small VM, and a send reads several records. A synced write transaction
//! waits for the disk: on a multi-thread runtime it still runs on the
//! calling thread, after the runtime has moved that worker's other tasks
//! elsewhere (`block_in_place`, no hand-off to wait for); on a
//! single-thread runtime it is handed to a blocking thread. An unsynced one
//! runs in place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::ClientError;

/// How long a statement waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most values bound in one `IN (...)` list.
const IN_LIST_LIMIT: usize = 500;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS records (tag BLOB PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation BLOB NOT NULL,
        dedup BLOB NOT NULL UNIQUE, sort INTEGER NOT NULL, expires_at INTEGER, body BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation, sort, id);
";

/// One write, as stored (sealed and tagged by the vault).
pub(super) enum Op {
    /// Sets a record.
    Put { tag: Vec<u8>, value: Vec<u8> },
    /// Deletes a record.
    Delete { tag: Vec<u8> },
    /// Adds a message unless its de-duplication tag is stored already.
    InsertMessage {
        conversation: Vec<u8>,
        dedup: Vec<u8>,
        sort: i64,
        expires_at: Option<i64>,
        body: Vec<u8>,
    },
    /// Rewrites a message's body.
    UpdateMessage { local_id: i64, body: Vec<u8> },
}

/// A stored message row: its id, de-duplication tag and sealed body.
pub(super) struct Row {
    pub(super) id: i64,
    pub(super) dedup: Vec<u8>,
    pub(super) body: Vec<u8>,
}

/// The open file (one connection, shared by the vault's callers).
pub(super) struct VaultFile {
    conn: Arc<Mutex<Connection>>,
    /// The path of SQLite's log (`-wal`) beside the file.
    log: PathBuf,
}

impl VaultFile {
    /// Opens the file at `path` (in WAL mode, every commit synced unless
    /// asked otherwise); with `create`, creates it and its tables.
    pub(super) fn open(path: &Path, create: bool) -> Result<Self, ClientError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        if create {
            // Opening never writes a schema into a file that is not a vault.
            conn.execute_batch(SCHEMA)?;
        }
        let mut log = path.as_os_str().to_owned();
        log.push("-wal");
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            log: PathBuf::from(log),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Writes the file's header values in one synced transaction.
    pub(super) fn insert_meta(&self, values: &[(&str, Vec<u8>)]) -> Result<(), ClientError> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction()?;
        for (name, value) in values {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                params![name, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A header value.
    pub(super) fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, ClientError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?)
    }

    /// A record's sealed value.
    pub(super) fn record(&self, tag: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM records WHERE tag = ?1")?
            .query_row([tag], |row| row.get(0))
            .optional()?)
    }

    /// Which of these de-duplication tags a stored message has.
    pub(super) fn stored_dedups(
        &self,
        tags: &[Vec<u8>],
    ) -> Result<std::collections::HashSet<Vec<u8>>, ClientError> {
        let conn = self.conn();
        let mut present = std::collections::HashSet::new();
        for chunk in tags.chunks(IN_LIST_LIMIT) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let mut statement = conn.prepare(&format!(
                "SELECT dedup FROM messages WHERE dedup IN ({placeholders})"
            ))?;
            let found = statement
                .query_map(rusqlite::params_from_iter(chunk), |row| row.get(0))?
                .collect::<Result<Vec<Vec<u8>>, _>>()?;
            present.extend(found);
        }
        Ok(present)
    }

    /// The id of the message with this de-duplication tag.
    pub(super) fn message_id(&self, dedup: &[u8]) -> Result<Option<i64>, ClientError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT id FROM messages WHERE dedup = ?1")?
            .query_row([dedup], |row| row.get(0))
            .optional()?)
    }

    /// One message by id.
    pub(super) fn message(&self, id: i64) -> Result<Option<Row>, ClientError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT dedup, body FROM messages WHERE id = ?1")?
            .query_row([id], |row| {
                Ok(Row {
                    id,
                    dedup: row.get(0)?,
                    body: row.get(1)?,
                })
            })
            .optional()?)
    }

    /// A conversation's messages unexpired at `now`, oldest first.
    pub(super) fn messages(&self, conversation: &[u8], now: i64) -> Result<Vec<Row>, ClientError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id, dedup, body FROM messages WHERE conversation = ?1 \
             AND (expires_at IS NULL OR expires_at > ?2) ORDER BY sort, id",
        )?;
        let rows = statement
            .query_map(params![conversation, now], |row| {
                Ok(Row {
                    id: row.get(0)?,
                    dedup: row.get(1)?,
                    body: row.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Deletes messages expired at `now`; returns how many.
    pub(super) fn delete_expired(&self, now: i64) -> Result<u64, ClientError> {
        let deleted = self.conn().execute(
            "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ?1",
            [now],
        )?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    /// Applies writes in one transaction, synced to the disk (see the
    /// module's note on threads) or not (here); for each message inserted,
    /// its id, or `None` if its de-duplication tag was stored already.
    /// Dropping the future does not stop a synced transaction: it commits or
    /// rolls back whole.
    pub(super) async fn apply(
        &self,
        ops: Vec<Op>,
        synced: bool,
    ) -> Result<Vec<Option<i64>>, ClientError> {
        if !synced {
            // No wait for the disk: a few writes into the log, done here.
            return apply(&mut lock(&self.conn), ops, synced);
        }
        if in_multi_thread_runtime() {
            // Done here too, without a hand-off to another thread and back:
            // the runtime first moves this worker's other tasks elsewhere.
            return tokio::task::block_in_place(|| apply(&mut lock(&self.conn), ops, synced));
        }
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || apply(&mut lock(&conn), ops, synced))
            .await
            .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))?
    }

    /// Flushes to the disk every commit written so far, on a blocking
    /// thread, without holding the connection: an unsynced commit followed
    /// by this is as durable as a synced one once this returns. (What the
    /// log holds is made durable by flushing the log file, as a synced
    /// commit does; a log a checkpoint has emptied and restarted holds
    /// nothing that is not already flushed into the main file.)
    pub(super) async fn flush(&self) -> Result<(), ClientError> {
        let log = self.log.clone();
        // (Opened for writing: some systems flush only a writable handle.)
        tokio::task::spawn_blocking(move || {
            match std::fs::OpenOptions::new().write(true).open(&log) {
                Ok(file) => file.sync_data(),
                // No log: every commit is in the main file, flushed by the
                // checkpoint that removed the log.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(err),
            }
        })
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))??;
        Ok(())
    }

    /// Copies what the log holds into the main file.
    pub(super) fn checkpoint(&self) -> Result<(), ClientError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Whether this thread runs tasks of a multi-thread runtime, where a
/// blocking call can be made in place ([`tokio::task::block_in_place`]).
fn in_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Every use of the connection is one call that leaves it consistent
/// (SQLite rolls back a transaction dropped half way): a poisoned lock
/// holds nothing half made.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

fn apply(
    conn: &mut Connection,
    ops: Vec<Op>,
    synced: bool,
) -> Result<Vec<Option<i64>>, ClientError> {
    // Set for every transaction (a pragma costs microseconds), so that no
    // failure can leave a later commit unsynced. Unsynced, the commit is in
    // the log (it survives this process dying) but not yet on the disk;
    // the next synced commit's sync covers it.
    conn.pragma_update(None, "synchronous", if synced { "FULL" } else { "NORMAL" })?;
    write(conn, ops)
}

fn write(conn: &mut Connection, ops: Vec<Op>) -> Result<Vec<Option<i64>>, ClientError> {
    let tx = conn.transaction()?;
    let mut inserted = Vec::new();
    for op in ops {
        match op {
            Op::Put { tag, value } => {
                tx.prepare_cached(
                    "INSERT INTO records (tag, value) VALUES (?1, ?2) \
                     ON CONFLICT (tag) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![tag, value])?;
            }
            Op::Delete { tag } => {
                tx.prepare_cached("DELETE FROM records WHERE tag = ?1")?
                    .execute([tag])?;
            }
            Op::InsertMessage {
                conversation,
                dedup,
                sort,
                expires_at,
                body,
            } => {
                let id: Option<i64> = tx
                    .prepare_cached(
                        "INSERT INTO messages (conversation, dedup, sort, expires_at, body) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dedup) DO NOTHING RETURNING id",
                    )?
                    .query_row(
                        params![conversation, dedup, sort, expires_at, body],
                        |row| row.get(0),
                    )
                    .optional()?;
                inserted.push(id);
            }
            Op::UpdateMessage { local_id, body } => {
                tx.prepare_cached("UPDATE messages SET body = ?1 WHERE id = ?2")?
                    .execute(params![body, local_id])?;
            }
        }
    }
    tx.commit()?;
    Ok(inserted)
}
