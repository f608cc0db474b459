//! The device's encrypted store: one SQLite file holding the identity seed,
//! prekeys, sessions, contacts, timers and message history, every value
//! sealed with XChaCha20-Poly1305 under a key derived from the user's PIN or
//! passphrase with Argon2id. Without the PIN the file shows no secret: no
//! key, no contact, no message text, not even which names records have
//! (record names are HMAC tags under a key from the same PIN).
//!
//! What is in the clear: the KDF's salt and parameters, a check value that
//! tells a wrong PIN from a damaged file, how many records and messages
//! there are, their sizes, and messages' expiry times (so that expired ones
//! can be deleted without the PIN).
//!
//! Writes that belong together (a decrypted message, the session that
//! decrypted it and the inbox cursor) go in one [`Batch`], one transaction.

use std::path::Path;
use std::str::FromStr;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::ClientError;

const FORMAT: &[u8] = b"glyph-vault-v1";
const CHECK_PLAINTEXT: &[u8] = b"glyph vault key check";
const NONCE_LEN: usize = 24;

/// Argon2id cost. The default is OWASP's recommended minimum for Argon2id
/// (19 MiB, 2 passes, 1 lane); the parameters are stored in the file, so a
/// later version can raise them for new vaults without breaking old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    fn encode(self) -> Vec<u8> {
        [self.memory_kib, self.iterations, self.parallelism]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        let field = |i: usize| -> Result<u32, ClientError> {
            bytes
                .get(i * 4..i * 4 + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or(ClientError::CorruptStore("KDF parameters"))
        };
        if bytes.len() != 12 {
            return Err(ClientError::CorruptStore("KDF parameters"));
        }
        let params = Self {
            memory_kib: field(0)?,
            iterations: field(1)?,
            parallelism: field(2)?,
        };
        // A damaged (or hostile) file must not make opening it take
        // gigabytes or hours: stay within what a version of this crate
        // would choose.
        let sane = params.memory_kib <= MAX_KDF_MEMORY_KIB
            && (1..=MAX_KDF_ITERATIONS).contains(&params.iterations)
            && (1..=MAX_KDF_PARALLELISM).contains(&params.parallelism);
        if sane {
            Ok(params)
        } else {
            Err(ClientError::CorruptStore("KDF parameters out of range"))
        }
    }
}

/// Most memory a stored KDF setting may ask for (1 GiB).
const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
/// Most passes a stored KDF setting may ask for.
const MAX_KDF_ITERATIONS: u32 = 16;
/// Most lanes a stored KDF setting may ask for.
const MAX_KDF_PARALLELISM: u32 = 8;

/// The two keys a PIN unlocks: one seals values, one tags names.
struct VaultKeys {
    seal: Zeroizing<[u8; 32]>,
    tag: Zeroizing<[u8; 32]>,
}

impl VaultKeys {
    fn derive(pin: &str, salt: &[u8], params: KdfParams) -> Result<Self, ClientError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|_| ClientError::CorruptStore("KDF parameters"))?;
        let mut master = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
            .hash_password_into(pin.as_bytes(), salt, master.as_mut())
            .map_err(|_| ClientError::CorruptStore("KDF parameters"))?;
        let hkdf = Hkdf::<Sha256>::new(Some(FORMAT), master.as_ref());
        let mut seal = Zeroizing::new([0u8; 32]);
        let mut tag = Zeroizing::new([0u8; 32]);
        hkdf.expand(b"seal", seal.as_mut())
            .and_then(|()| hkdf.expand(b"tag", tag.as_mut()))
            .map_err(|_| ClientError::CorruptStore("key derivation"))?;
        Ok(Self { seal, tag })
    }
}

/// A message row as stored: the sealed body and what indexes it.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    /// Local row id.
    pub local_id: i64,
    /// The decrypted body (JSON of [`crate::Message`] without its id).
    pub body: Zeroizing<Vec<u8>>,
}

/// Writes applied together in one transaction.
#[derive(Default)]
pub(crate) struct Batch {
    ops: Vec<Op>,
}

enum Op {
    Put {
        tag: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        tag: Vec<u8>,
    },
    InsertMessage {
        conversation: Vec<u8>,
        dedup: Vec<u8>,
        sort: i64,
        expires_at: Option<i64>,
        body: Vec<u8>,
    },
    UpdateMessage {
        local_id: i64,
        body: Vec<u8>,
    },
}

/// The encrypted store of one profile.
pub struct Vault {
    pool: SqlitePool,
    keys: VaultKeys,
    /// Writes gathered while a page of the inbox is processed (see
    /// [`Vault::begin_page`]).
    page: std::sync::Mutex<Option<Page>>,
}

/// A page of writes gathered for one transaction, with what they and the
/// reads before them left, so that reads during the page see its writes.
#[derive(Default)]
struct Page {
    /// Writes not yet applied, in order.
    ops: Vec<Op>,
    /// Records as the page knows them (sealed, as stored; `None`: deleted):
    /// read once from the file or written by the page.
    records: std::collections::HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// De-duplication tags of messages staged and not yet applied.
    staged_dedups: std::collections::HashSet<Vec<u8>>,
    /// De-duplication tags known to be in no stored message (looked up for
    /// the whole page at once).
    absent_dedups: std::collections::HashSet<Vec<u8>>,
    /// Messages staged so far, which stand for their local ids until
    /// applied: the n-th is `-n`.
    staged_messages: i64,
    /// What each stand-in became once applied (`None`: it was a duplicate).
    applied: std::collections::HashMap<i64, Option<i64>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

async fn connect(path: &Path, create: bool) -> Result<SqlitePool, ClientError> {
    let url = format!("sqlite:{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    if !create {
        // Opening never writes a schema into a file that is not a vault.
        return Ok(pool);
    }
    for statement in [
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS records (tag BLOB PRIMARY KEY, value BLOB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation BLOB NOT NULL, \
         dedup BLOB NOT NULL UNIQUE, sort INTEGER NOT NULL, expires_at INTEGER, body BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation, sort, id)",
    ] {
        sqlx::query(statement).execute(&pool).await?;
    }
    Ok(pool)
}

impl Vault {
    /// Creates a vault at `path` locked by `pin`. Refuses to overwrite one.
    pub async fn create(path: &Path, pin: &str, params: KdfParams) -> Result<Self, ClientError> {
        if path.exists() {
            return Err(ClientError::ProfileExists(path.display().to_string()));
        }
        if pin.is_empty() {
            return Err(ClientError::EmptyPin);
        }
        let pool = connect(path, true).await?;
        let salt = crate::random::bytes::<16>()?;
        let keys = VaultKeys::derive(pin, &salt, params)?;
        let vault = Self {
            pool,
            keys,
            page: std::sync::Mutex::new(None),
        };
        let check = vault.seal(b"meta:check", CHECK_PLAINTEXT)?;
        let mut tx = vault.pool.begin().await?;
        for (name, value) in [
            ("format", FORMAT.to_vec()),
            ("salt", salt.to_vec()),
            ("kdf", params.encode()),
            ("check", check),
        ] {
            sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2)")
                .bind(name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(vault)
    }

    /// Opens the vault at `path` with `pin`: [`ClientError::WrongPin`] if
    /// the PIN does not unlock it.
    pub async fn open(path: &Path, pin: &str) -> Result<Self, ClientError> {
        if !path.exists() {
            return Err(ClientError::NoProfile(path.display().to_string()));
        }
        let pool = connect(path, false).await?;
        let meta = |name: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, Vec<u8>>("SELECT value FROM meta WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&pool)
                    .await?
                    .ok_or(ClientError::CorruptStore(name))
            }
        };
        if meta("format").await? != FORMAT {
            return Err(ClientError::CorruptStore("format"));
        }
        let salt = meta("salt").await?;
        let params = KdfParams::decode(&meta("kdf").await?)?;
        let check = meta("check").await?;
        let keys = VaultKeys::derive(pin, &salt, params)?;
        let vault = Self {
            pool,
            keys,
            page: std::sync::Mutex::new(None),
        };
        let opened = vault
            .open_sealed(b"meta:check", &check)
            .map_err(|_| ClientError::WrongPin)?;
        if !bool::from(opened.as_slice().ct_eq(CHECK_PLAINTEXT)) {
            return Err(ClientError::WrongPin);
        }
        Ok(vault)
    }

    fn seal(&self, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ClientError> {
        let nonce = crate::random::bytes::<NONCE_LEN>()?;
        let cipher = XChaCha20Poly1305::new((&*self.keys.seal).into());
        let ct = cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad: label,
                },
            )
            .map_err(|_| ClientError::CorruptStore("sealing a record"))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    fn open_sealed(&self, label: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        if sealed.len() < NONCE_LEN {
            return Err(ClientError::CorruptStore("record"));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| ClientError::CorruptStore("record"))?;
        let cipher = XChaCha20Poly1305::new((&*self.keys.seal).into());
        cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ct,
                    aad: label,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| ClientError::CorruptStore("a record failed to decrypt"))
    }

    /// The tag that stands for a name in the file.
    fn tag(&self, name: &str) -> Result<Vec<u8>, ClientError> {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(self.keys.tag.as_ref())
            .map_err(|_| ClientError::CorruptStore("tag key"))?;
        mac.update(name.as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// A record's value.
    pub(crate) async fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, ClientError> {
        let tag = self.tag(name)?;
        if let Some(known) = self
            .lock_page()
            .as_ref()
            .and_then(|page| page.records.get(&tag).cloned())
        {
            return known
                .map(|sealed| self.open_sealed(&tag, &sealed))
                .transpose();
        }
        let row: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM records WHERE tag = $1")
            .bind(&tag)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(page) = self.lock_page().as_mut() {
            // The page's owner holds the profile's lock: what was read
            // stays true until the page writes it.
            page.records
                .entry(tag.clone())
                .or_insert_with(|| row.clone());
        }
        row.map(|sealed| self.open_sealed(&tag, &sealed))
            .transpose()
    }

    fn lock_page(&self) -> std::sync::MutexGuard<'_, Option<Page>> {
        // Every change to a page is a single step: poison cannot leave one
        // half made.
        self.page
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a page: until [`Vault::end_page`], commits are gathered (and
    /// seen by reads) instead of written, and applied together in one
    /// transaction. Only for a caller holding the profile's lock for the
    /// whole page, with nothing leaving the device until the page ends
    /// (the inbox: receiving sends nothing), since the page is applied
    /// without waiting for the disk; the caller syncs after.
    pub(crate) fn begin_page(&self) {
        *self.lock_page() = Some(Page::default());
    }

    /// Looks up, in one query, which of these de-duplication keys no stored
    /// message has, so that the page answers [`Vault::message_id`] for them
    /// without asking the file.
    pub(crate) async fn note_absent(&self, dedup_keys: &[String]) -> Result<(), ClientError> {
        let tags = dedup_keys
            .iter()
            .map(|key| self.tag(&format!("dedup:{key}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut present = std::collections::HashSet::new();
        for chunk in tags.chunks(500) {
            let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "SELECT dedup FROM messages WHERE dedup IN (",
            );
            let mut list = query.separated(", ");
            for tag in chunk {
                list.push_bind(tag.clone());
            }
            query.push(")");
            let found: Vec<Vec<u8>> = query.build_query_scalar().fetch_all(&self.pool).await?;
            present.extend(found);
        }
        if let Some(page) = self.lock_page().as_mut() {
            page.absent_dedups.extend(
                tags.into_iter()
                    .filter(|tag| !present.contains(tag) && !page.staged_dedups.contains(tag)),
            );
        }
        Ok(())
    }

    /// Applies what the page gathered (one transaction, not synced) and
    /// ends it. Returns what each stand-in local id became.
    pub(crate) async fn end_page(
        &self,
    ) -> Result<std::collections::HashMap<i64, Option<i64>>, ClientError> {
        let applied = self.apply_page().await;
        let page = self.lock_page().take();
        applied?;
        Ok(page.map(|p| p.applied).unwrap_or_default())
    }

    /// Applies the page's gathered writes now (before a read of messages
    /// that may be among them); the page goes on.
    async fn apply_page(&self) -> Result<(), ClientError> {
        let (ops, first) = match self.lock_page().as_mut() {
            Some(page) if !page.ops.is_empty() => {
                let staged = i64::try_from(page.staged_dedups.len()).unwrap_or(0);
                page.staged_dedups.clear();
                (
                    std::mem::take(&mut page.ops),
                    page.staged_messages - staged + 1,
                )
            }
            _ => return Ok(()),
        };
        let inserted = self.commit_ops(latest_record_writes(ops), false).await;
        let mut guard = self.lock_page();
        let page = guard.as_mut();
        match inserted {
            Ok(inserted) => {
                if let Some(page) = page {
                    for (n, id) in inserted.into_iter().enumerate() {
                        page.applied
                            .insert(-(first + i64::try_from(n).unwrap_or(0)), id);
                    }
                }
                Ok(())
            }
            Err(err) => {
                if let Some(page) = page {
                    // What the page believed is now unknown.
                    page.records.clear();
                }
                Err(err)
            }
        }
    }

    /// Gathers a batch into the page, if one is open; otherwise hands it
    /// back. Returns the stand-in ids of the messages it inserts.
    fn stage(&self, batch: Batch) -> Result<Vec<i64>, Batch> {
        let mut guard = self.lock_page();
        let Some(page) = guard.as_mut() else {
            return Err(batch);
        };
        let mut ids = Vec::new();
        for op in batch.ops {
            match &op {
                Op::Put { tag, value } => {
                    page.records.insert(tag.clone(), Some(value.clone()));
                }
                Op::Delete { tag } => {
                    page.records.insert(tag.clone(), None);
                }
                Op::InsertMessage { dedup, .. } => {
                    // A duplicate within the page is not stored twice (and
                    // the n-th insert applied is the n-th stand-in).
                    if !page.staged_dedups.insert(dedup.clone()) {
                        continue;
                    }
                    page.absent_dedups.remove(dedup);
                    page.staged_messages += 1;
                    ids.push(-page.staged_messages);
                }
                Op::UpdateMessage { .. } => {}
            }
            page.ops.push(op);
        }
        Ok(ids)
    }

    /// A record as JSON.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ClientError> {
        self.get(name)
            .await?
            .map(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|_| ClientError::CorruptStore("a record is not valid JSON"))
            })
            .transpose()
    }

    /// Applies a batch of writes in one transaction, synced to the disk
    /// before this returns.
    pub(crate) async fn commit(&self, batch: Batch) -> Result<Vec<i64>, ClientError> {
        match self.stage(batch) {
            Ok(staged) => Ok(staged),
            Err(batch) => Ok(self
                .commit_ops(batch.ops, true)
                .await?
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// Applies writes in one transaction, synced or not (see
    /// [`Vault::commit_unsynced`]); for each message inserted, its local
    /// id, or `None` if its de-duplication key was stored already.
    async fn commit_ops(
        &self,
        ops: Vec<Op>,
        synced: bool,
    ) -> Result<Vec<Option<i64>>, ClientError> {
        if synced {
            let mut tx = self.pool.begin().await?;
            let inserted = Self::apply(&mut tx, ops).await?;
            tx.commit().await?;
            return Ok(inserted);
        }
        let mut conn = self.pool.acquire().await?;
        let result: Result<Vec<Option<i64>>, ClientError> = async {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let inserted = Self::apply(&mut tx, ops).await?;
            tx.commit().await?;
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(&mut *conn)
                .await?;
            Ok(inserted)
        }
        .await;
        if result.is_err() {
            // Never hand back a connection that might not sync.
            conn.close_on_drop();
        }
        result
    }

    /// Applies a batch of writes in one transaction without waiting for the
    /// disk: atomic, and durable if this process dies, but a power cut can
    /// take it back (never half of it). For writes whose loss only repeats
    /// work that is safe to repeat (marking a post sent: a lost mark
    /// re-posts, which the server de-duplicates), made durable by the next
    /// synced commit (one `fsync` of the log covers every commit before
    /// it). Inside a page, gathered like any commit.
    pub(crate) async fn commit_unsynced(&self, batch: Batch) -> Result<Vec<i64>, ClientError> {
        match self.stage(batch) {
            Ok(staged) => Ok(staged),
            Err(batch) => Ok(self
                .commit_ops(batch.ops, false)
                .await?
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// Writes, inside a transaction.
    async fn apply(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        ops: Vec<Op>,
    ) -> Result<Vec<Option<i64>>, ClientError> {
        let mut inserted = Vec::new();
        for op in ops {
            match op {
                Op::Put { tag, value } => {
                    sqlx::query("INSERT INTO records (tag, value) VALUES ($1, $2) ON CONFLICT (tag) DO UPDATE SET value = excluded.value")
                        .bind(tag)
                        .bind(value)
                        .execute(&mut **tx)
                        .await?;
                }
                Op::Delete { tag } => {
                    sqlx::query("DELETE FROM records WHERE tag = $1")
                        .bind(tag)
                        .execute(&mut **tx)
                        .await?;
                }
                Op::InsertMessage {
                    conversation,
                    dedup,
                    sort,
                    expires_at,
                    body,
                } => {
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO messages (conversation, dedup, sort, expires_at, body) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (dedup) DO NOTHING RETURNING id",
                    )
                    .bind(conversation)
                    .bind(dedup)
                    .bind(sort)
                    .bind(expires_at)
                    .bind(body)
                    .fetch_optional(&mut **tx)
                    .await?;
                    inserted.push(id);
                }
                Op::UpdateMessage { local_id, body } => {
                    sqlx::query("UPDATE messages SET body = $1 WHERE id = $2")
                        .bind(body)
                        .bind(local_id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(inserted)
    }

    /// Adds "set `name` to `value`" to a batch.
    pub(crate) fn put(
        &self,
        batch: &mut Batch,
        name: &str,
        value: &[u8],
    ) -> Result<(), ClientError> {
        let tag = self.tag(name)?;
        let value = self.seal(&tag, value)?;
        batch.ops.push(Op::Put { tag, value });
        Ok(())
    }

    /// Adds "set `name` to this JSON" to a batch.
    pub(crate) fn put_json<T: serde::Serialize>(
        &self,
        batch: &mut Batch,
        name: &str,
        value: &T,
    ) -> Result<(), ClientError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(value)
                .map_err(|_| ClientError::CorruptStore("encoding a record"))?,
        );
        self.put(batch, name, &bytes)
    }

    /// Adds "delete `name`" to a batch.
    pub(crate) fn delete(&self, batch: &mut Batch, name: &str) -> Result<(), ClientError> {
        batch.ops.push(Op::Delete {
            tag: self.tag(name)?,
        });
        Ok(())
    }

    /// Sets one record now.
    pub(crate) async fn put_now<T: serde::Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), ClientError> {
        let mut batch = Batch::default();
        self.put_json(&mut batch, name, value)?;
        self.commit(batch).await.map(|_| ())
    }

    /// The local id of the message with this de-duplication key, if stored.
    pub(crate) async fn message_id(&self, dedup_key: &str) -> Result<Option<i64>, ClientError> {
        let dedup = self.tag(&format!("dedup:{dedup_key}"))?;
        let (staged, absent) = self.lock_page().as_ref().map_or((false, false), |page| {
            (
                page.staged_dedups.contains(&dedup),
                page.absent_dedups.contains(&dedup),
            )
        });
        if staged {
            self.apply_page().await?;
        } else if absent {
            return Ok(None);
        }
        Ok(
            sqlx::query_scalar("SELECT id FROM messages WHERE dedup = $1")
                .bind(dedup)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Adds a message to a batch (ignored if its de-duplication key is
    /// already stored).
    pub(crate) fn insert_message(
        &self,
        batch: &mut Batch,
        conversation: &str,
        dedup_key: &str,
        sort: i64,
        expires_at: Option<i64>,
        body: &[u8],
    ) -> Result<(), ClientError> {
        let dedup = self.tag(&format!("dedup:{dedup_key}"))?;
        let body = self.seal(&dedup, body)?;
        batch.ops.push(Op::InsertMessage {
            conversation: self.tag(&format!("conversation:{conversation}"))?,
            dedup,
            sort,
            expires_at,
            body,
        });
        Ok(())
    }

    /// Rewrites a stored message's body (same de-duplication key).
    pub(crate) async fn update_message(
        &self,
        local_id: i64,
        body: &[u8],
    ) -> Result<(), ClientError> {
        let mut batch = Batch::default();
        self.stage_update(&mut batch, local_id, body).await?;
        self.commit(batch).await.map(|_| ())
    }

    /// Adds "rewrite this message's body" to a batch.
    pub(crate) async fn stage_update(
        &self,
        batch: &mut Batch,
        local_id: i64,
        body: &[u8],
    ) -> Result<(), ClientError> {
        self.apply_page().await?;
        let dedup: Vec<u8> = sqlx::query_scalar("SELECT dedup FROM messages WHERE id = $1")
            .bind(local_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(ClientError::UnknownMessage(local_id))?;
        let body = self.seal(&dedup, body)?;
        batch.ops.push(Op::UpdateMessage { local_id, body });
        Ok(())
    }

    /// Adds "rewrite this message's body" to a batch, for a message whose
    /// de-duplication key the caller knows (no lookup needed).
    pub(crate) fn stage_update_known(
        &self,
        batch: &mut Batch,
        local_id: i64,
        dedup_key: &str,
        body: &[u8],
    ) -> Result<(), ClientError> {
        let dedup = self.tag(&format!("dedup:{dedup_key}"))?;
        let body = self.seal(&dedup, body)?;
        batch.ops.push(Op::UpdateMessage { local_id, body });
        Ok(())
    }

    /// A conversation's unexpired messages, oldest first.
    pub(crate) async fn messages(
        &self,
        conversation: &str,
        now: i64,
    ) -> Result<Vec<StoredMessage>, ClientError> {
        self.apply_page().await?;
        let rows = sqlx::query(
            "SELECT id, dedup, body FROM messages WHERE conversation = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY sort, id",
        )
        .bind(self.tag(&format!("conversation:{conversation}"))?)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let dedup: Vec<u8> = row.try_get("dedup")?;
                let sealed: Vec<u8> = row.try_get("body")?;
                Ok(StoredMessage {
                    local_id: row.try_get("id")?,
                    body: self.open_sealed(&dedup, &sealed)?,
                })
            })
            .collect()
    }

    /// One message by local id.
    pub(crate) async fn message(&self, local_id: i64) -> Result<StoredMessage, ClientError> {
        self.apply_page().await?;
        let row = sqlx::query("SELECT dedup, body FROM messages WHERE id = $1")
            .bind(local_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(ClientError::UnknownMessage(local_id))?;
        let dedup: Vec<u8> = row.try_get("dedup")?;
        let sealed: Vec<u8> = row.try_get("body")?;
        Ok(StoredMessage {
            local_id,
            body: self.open_sealed(&dedup, &sealed)?,
        })
    }

    /// Deletes messages whose time has passed; returns how many.
    pub(crate) async fn delete_expired(&self, now: i64) -> Result<u64, ClientError> {
        self.apply_page().await?;
        Ok(
            sqlx::query("DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Closes the file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The page's writes with each record written once, its last value (a
/// page rewrites the cursor and a sender's sessions with every entry);
/// messages' writes all stay, in order.
fn latest_record_writes(ops: Vec<Op>) -> Vec<Op> {
    let mut written = std::collections::HashSet::new();
    let mut kept: Vec<Op> = ops
        .into_iter()
        .rev()
        .filter(|op| match op {
            Op::Put { tag, .. } | Op::Delete { tag } => written.insert(tag.clone()),
            Op::InsertMessage { .. } | Op::UpdateMessage { .. } => true,
        })
        .collect();
    kept.reverse();
    kept
}

#[cfg(test)]
mod page_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{Batch, KdfParams, Vault};

    async fn vault() -> (tempfile::TempDir, Vault) {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::create(&dir.path().join("v"), "1234", KdfParams::default())
            .await
            .unwrap();
        (dir, vault)
    }

    #[tokio::test]
    async fn a_page_is_read_through_while_open_and_written_whole_at_its_end() {
        let (_dir, vault) = vault().await;
        vault.put_now("kept", &"before").await.unwrap();
        vault.begin_page();
        let mut first = Batch::default();
        vault.put_json(&mut first, "cursor", &1).unwrap();
        vault
            .insert_message(&mut first, "c", "m1", 1, None, b"one")
            .unwrap();
        let stand_in = vault.commit(first).await.unwrap();
        assert_eq!(stand_in, vec![-1]);
        // The page's writes are what later reads see; nothing is written.
        assert_eq!(vault.get_json::<i64>("cursor").await.unwrap(), Some(1));
        assert_eq!(
            vault.get_json::<String>("kept").await.unwrap().as_deref(),
            Some("before")
        );
        let on_disk: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&vault.pool)
            .await
            .unwrap();
        assert_eq!(on_disk, 0);

        let mut second = Batch::default();
        vault.put_json(&mut second, "cursor", &2).unwrap();
        vault
            .insert_message(&mut second, "c", "m2", 2, None, b"two")
            .unwrap();
        // The same message again within the page is stored once.
        vault
            .insert_message(&mut second, "c", "m1", 1, None, b"one again")
            .unwrap();
        assert_eq!(vault.commit_unsynced(second).await.unwrap(), vec![-2]);
        // Looking up a staged message applies the page first.
        let m1 = vault.message_id("m1").await.unwrap().expect("applied");
        let mut third = Batch::default();
        vault
            .insert_message(&mut third, "c", "m3", 3, None, b"three")
            .unwrap();
        assert_eq!(vault.commit(third).await.unwrap(), vec![-3]);

        let applied = vault.end_page().await.unwrap();
        assert_eq!(applied.get(&-1), Some(&Some(m1)));
        let m2 = applied[&-2].expect("stored");
        let m3 = applied[&-3].expect("stored");
        let bodies: Vec<Vec<u8>> = vault
            .messages("c", 0)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.body.to_vec())
            .collect();
        assert_eq!(
            bodies,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        assert!(m1 < m2 && m2 < m3);
        assert_eq!(vault.get_json::<i64>("cursor").await.unwrap(), Some(2));
        // After the page, commits are written at once again.
        let mut after = Batch::default();
        vault
            .insert_message(&mut after, "c", "m4", 4, None, b"four")
            .unwrap();
        assert!(vault.commit(after).await.unwrap()[0] > 0);
    }
}
