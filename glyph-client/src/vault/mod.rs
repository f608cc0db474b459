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

mod file;
mod keys;

use std::path::Path;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::ClientError;
use file::{Op, VaultFile};
pub use keys::KdfParams;
use keys::VaultKeys;

const FORMAT: &[u8] = b"glyph-vault-v1";
const CHECK_PLAINTEXT: &[u8] = b"glyph vault key check";
const NONCE_LEN: usize = 24;

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

/// The encrypted store of one profile.
pub struct Vault {
    file: VaultFile,
    keys: VaultKeys,
    /// Records as decoded last, with the sealed bytes they were decoded
    /// from (see [`Vault::get_decoded`]).
    decoded: std::sync::Mutex<Decoded>,
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

/// Decoded records by tag: `(sealed bytes, decoded value)`.
type Decoded = std::collections::HashMap<Vec<u8>, (Vec<u8>, DecodedValue)>;
type DecodedValue = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// Most decoded records kept (a send reads about six; a page of the inbox
/// one or two per sender).
const MAX_DECODED: usize = 256;

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
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
        let file = VaultFile::open(path, true)?;
        let salt = crate::random::bytes::<16>()?;
        let keys = VaultKeys::derive(pin, &salt, params)?;
        let vault = Self {
            file,
            keys,
            decoded: std::sync::Mutex::new(Decoded::new()),
            page: std::sync::Mutex::new(None),
        };
        let check = vault.seal(b"meta:check", CHECK_PLAINTEXT)?;
        vault.file.insert_meta(&[
            ("format", FORMAT.to_vec()),
            ("salt", salt.to_vec()),
            ("kdf", params.encode()),
            ("check", check),
        ])?;
        Ok(vault)
    }

    /// Opens the vault at `path` with `pin`: [`ClientError::WrongPin`] if
    /// the PIN does not unlock it.
    pub async fn open(path: &Path, pin: &str) -> Result<Self, ClientError> {
        if !path.exists() {
            return Err(ClientError::NoProfile(path.display().to_string()));
        }
        let file = VaultFile::open(path, false)?;
        let meta = |name: &'static str| file.meta(name)?.ok_or(ClientError::CorruptStore(name));
        if meta("format")? != FORMAT {
            return Err(ClientError::CorruptStore("format"));
        }
        let salt = meta("salt")?;
        let params = KdfParams::decode(&meta("kdf")?)?;
        let check = meta("check")?;
        let keys = VaultKeys::derive(pin, &salt, params)?;
        let vault = Self {
            file,
            keys,
            decoded: std::sync::Mutex::new(Decoded::new()),
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
        self.sealed(&tag)?
            .map(|sealed| self.open_sealed(&tag, &sealed))
            .transpose()
    }

    /// A record decoded by `decode`, or a copy of what `decode` made of
    /// the same stored bytes before. The file is still read every time (a
    /// point read, microseconds), so the answer is always the stored
    /// value, whoever wrote it; what is saved is opening and decoding it
    /// again (a contact's sessions hold keys whose public halves take a
    /// curve operation each to rebuild).
    pub(crate) async fn get_decoded<T, F>(
        &self,
        name: &str,
        decode: F,
    ) -> Result<Option<T>, ClientError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce(&[u8]) -> Result<T, ClientError>,
    {
        let tag = self.tag(name)?;
        let Some(sealed) = self.sealed(&tag)? else {
            return Ok(None);
        };
        let known = self
            .lock_decoded()
            .get(&tag)
            .filter(|(from, _)| *from == sealed)
            .and_then(|(_, value)| value.downcast_ref::<T>().cloned());
        if let Some(value) = known {
            return Ok(Some(value));
        }
        let value = decode(&self.open_sealed(&tag, &sealed)?)?;
        self.remember(tag, sealed, value.clone());
        Ok(Some(value))
    }

    /// Keeps `value` as the decoded form of these sealed bytes. Safe for
    /// bytes a transaction then fails to write: a decoded value is used
    /// only when the file holds exactly the bytes it came from, and sealed
    /// bytes (a fresh random nonce each) are never written twice.
    fn remember<T: Send + Sync + 'static>(&self, tag: Vec<u8>, sealed: Vec<u8>, value: T) {
        let mut decoded = self.lock_decoded();
        if decoded.len() >= MAX_DECODED {
            decoded.clear();
        }
        decoded.insert(tag, (sealed, std::sync::Arc::new(value)));
    }

    /// A record's sealed bytes: the page's, or the file's.
    fn sealed(&self, tag: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        if let Some(known) = self
            .lock_page()
            .as_ref()
            .and_then(|page| page.records.get(tag).cloned())
        {
            return Ok(known);
        }
        let row = self.file.record(tag)?;
        if let Some(page) = self.lock_page().as_mut() {
            // The page's owner holds the profile's lock: what was read
            // stays true until the page writes it.
            page.records
                .entry(tag.to_vec())
                .or_insert_with(|| row.clone());
        }
        Ok(row)
    }

    fn lock_decoded(&self) -> std::sync::MutexGuard<'_, Decoded> {
        // Every change is a single insert or clear.
        self.decoded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let present = self.file.stored_dedups(&tags)?;
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
        let inserted = self.file.apply(latest_record_writes(ops), false).await;
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
    pub(crate) async fn get_json<T>(&self, name: &str) -> Result<Option<T>, ClientError>
    where
        T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.get_decoded(name, |bytes| {
            serde_json::from_slice(bytes)
                .map_err(|_| ClientError::CorruptStore("a record is not valid JSON"))
        })
        .await
    }

    /// Applies a batch of writes in one transaction, synced to the disk
    /// before this returns.
    pub(crate) async fn commit(&self, batch: Batch) -> Result<Vec<i64>, ClientError> {
        self.commit_with(batch, true).await
    }

    /// Applies a batch of writes in one transaction without waiting for the
    /// disk: atomic, and durable if this process dies, but a power cut can
    /// take it back (never half of it). For writes whose loss only repeats
    /// work that is safe to repeat (marking a post sent: a lost mark
    /// re-posts, which the server de-duplicates), made durable by the next
    /// synced commit (one `fsync` of the log covers every commit before
    /// it). Inside a page, gathered like any commit.
    pub(crate) async fn commit_unsynced(&self, batch: Batch) -> Result<Vec<i64>, ClientError> {
        self.commit_with(batch, false).await
    }

    /// Flushes every commit made so far to the disk (see
    /// [`Vault::commit_unsynced`]), without holding up other uses of the
    /// vault meanwhile.
    pub(crate) async fn flush(&self) -> Result<(), ClientError> {
        self.file.flush().await
    }

    /// Gathers a batch into the open page, or applies it now, synced or
    /// not; returns the local ids (or a page's stand-ins) of the messages
    /// it inserted.
    async fn commit_with(&self, batch: Batch, synced: bool) -> Result<Vec<i64>, ClientError> {
        match self.stage(batch) {
            Ok(staged) => Ok(staged),
            Err(batch) => Ok(self
                .file
                .apply(batch.ops, synced)
                .await?
                .into_iter()
                .flatten()
                .collect()),
        }
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

    /// Adds "set `name` to `value`" to a batch, `decoded` being what
    /// `value` decodes to: the next [`Vault::get_decoded`] of the record
    /// (in this process) need not decode it again.
    pub(crate) fn put_decoded<T: Clone + Send + Sync + 'static>(
        &self,
        batch: &mut Batch,
        name: &str,
        value: &[u8],
        decoded: &T,
    ) -> Result<(), ClientError> {
        let tag = self.tag(name)?;
        let value = self.seal(&tag, value)?;
        self.remember(tag.clone(), value.clone(), decoded.clone());
        batch.ops.push(Op::Put { tag, value });
        Ok(())
    }

    /// Adds "set `name` to this JSON" to a batch.
    pub(crate) fn put_json<T>(
        &self,
        batch: &mut Batch,
        name: &str,
        value: &T,
    ) -> Result<(), ClientError>
    where
        T: serde::Serialize + Clone + Send + Sync + 'static,
    {
        let bytes = Zeroizing::new(
            serde_json::to_vec(value)
                .map_err(|_| ClientError::CorruptStore("encoding a record"))?,
        );
        self.put_decoded(batch, name, &bytes, value)
    }

    /// Adds "delete `name`" to a batch.
    pub(crate) fn delete(&self, batch: &mut Batch, name: &str) -> Result<(), ClientError> {
        batch.ops.push(Op::Delete {
            tag: self.tag(name)?,
        });
        Ok(())
    }

    /// Sets one record now.
    pub(crate) async fn put_now<T>(&self, name: &str, value: &T) -> Result<(), ClientError>
    where
        T: serde::Serialize + Clone + Send + Sync + 'static,
    {
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
        self.file.message_id(&dedup)
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
        let dedup = self
            .file
            .message(local_id)?
            .ok_or(ClientError::UnknownMessage(local_id))?
            .dedup;
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
        self.file
            .messages(&self.tag(&format!("conversation:{conversation}"))?, now)?
            .into_iter()
            .map(|row| {
                Ok(StoredMessage {
                    local_id: row.id,
                    body: self.open_sealed(&row.dedup, &row.body)?,
                })
            })
            .collect()
    }

    /// One message by local id.
    pub(crate) async fn message(&self, local_id: i64) -> Result<StoredMessage, ClientError> {
        self.apply_page().await?;
        let row = self
            .file
            .message(local_id)?
            .ok_or(ClientError::UnknownMessage(local_id))?;
        Ok(StoredMessage {
            local_id,
            body: self.open_sealed(&row.dedup, &row.body)?,
        })
    }

    /// Deletes messages whose time has passed; returns how many.
    pub(crate) async fn delete_expired(&self, now: i64) -> Result<u64, ClientError> {
        self.apply_page().await?;
        self.file.delete_expired(now)
    }

    /// Copies what the file's log holds into the file itself (the file
    /// closes when the vault is dropped).
    pub async fn close(&self) {
        if let Err(err) = self.file.checkpoint() {
            tracing::debug!(error = %err, "checkpoint on close");
        }
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
        assert_eq!(
            vault
                .file
                .message_id(&vault.tag("dedup:m1").unwrap())
                .unwrap(),
            None
        );

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

    #[tokio::test]
    async fn a_decoded_record_is_reused_only_while_its_stored_bytes_are_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let cheap = KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let vault = Vault::create(&path, "1234", cheap).await.unwrap();
        let decodes = std::sync::atomic::AtomicUsize::new(0);
        async fn read_counting(
            vault: &Vault,
            decodes: &std::sync::atomic::AtomicUsize,
        ) -> Option<Vec<u8>> {
            vault
                .get_decoded("n", |bytes| {
                    decodes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(bytes.to_vec())
                })
                .await
                .unwrap()
        }
        let read = |vault| read_counting(vault, &decodes);
        assert_eq!(read(&vault).await, None);
        vault.put_now("n", &1).await.unwrap();
        assert_eq!(read(&vault).await.as_deref(), Some(&b"1"[..]));
        assert_eq!(read(&vault).await.as_deref(), Some(&b"1"[..]));
        assert_eq!(decodes.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Written by another process (another connection to the file):
        // the next read sees it.
        let other = Vault::open(&path, "1234").await.unwrap();
        other.put_now("n", &2).await.unwrap();
        assert_eq!(read(&vault).await.as_deref(), Some(&b"2"[..]));
        assert_eq!(decodes.load(std::sync::atomic::Ordering::SeqCst), 2);

        // Written within a page: reads see the page's value.
        vault.begin_page();
        let mut batch = Batch::default();
        vault.put_json(&mut batch, "n", &3).unwrap();
        vault.commit(batch).await.unwrap();
        assert_eq!(read(&vault).await.as_deref(), Some(&b"3"[..]));
        vault.end_page().await.unwrap();
        assert_eq!(read(&vault).await.as_deref(), Some(&b"3"[..]));

        // Deleted elsewhere: gone here too.
        let mut batch = Batch::default();
        other.delete(&mut batch, "n").unwrap();
        other.commit(batch).await.unwrap();
        assert_eq!(read(&vault).await, None);
        // Asked as another type, the same bytes are decoded again.
        vault.put_now("n", &4).await.unwrap();
        assert_eq!(read(&vault).await.as_deref(), Some(&b"4"[..]));
        let as_number: Option<i64> = vault.get_json("n").await.unwrap();
        assert_eq!(as_number, Some(4));
    }
}
