//! Receiving. Inbox entries are processed in order; each entry's session
//! update, history entry and cursor commit together, so nothing is lost
//! or shown twice across restarts.
//!
//! Nothing the server says about an entry is believed where it can be
//! checked (docs/client.md, "What the client trusts the server for"):
//!
//! - a first message (one with an X3DH header) is opened only when the
//!   header's keys are the sender's as this device knows them: the
//!   contact's accepted keys, or for a new sender the directory record
//!   whose binding signature is checked first. Otherwise it is refused
//!   before any decryption, session or contact change;
//! - a header that already created a session is never accepted as a new
//!   handshake (a replay after the session was evicted);
//! - the conversation, expiry, id and view-once flag come from what the
//!   sender sealed; where the server's routing disagrees, the message is
//!   filed by the sealed values and carries a warning.

use glyph_api::{Direction, InboxMessage};
use glyph_crypto::{DeviceSessions, EnvelopeV2, SealedEnvelope, X3dhHeader};
use serde_json::Value;

use crate::client::{Client, records};
use crate::contacts::Contact;
use crate::content::{Content, Sealed};
use crate::error::{ClientError, Refusal};
use crate::http::now;
use crate::messaging::{Conversation, Delivery, Message, dedup_key};
use crate::send::device_sessions;
use crate::vault::Batch;

/// Inbox entries fetched per page.
const PAGE: u32 = 500;

/// What became of an entry that did not open.
enum Unopened {
    /// Already received (a replay of a ratchet message): show nothing.
    Duplicate,
    /// Cannot be checked now (the server or network failed): stop, and
    /// try this entry again later.
    Retry(ClientError),
    /// Kept in the history as refused or undecryptable.
    Kept(Content),
}

impl From<ClientError> for Unopened {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Crypto(glyph_crypto::Error::Duplicate) => Unopened::Duplicate,
            ClientError::Crypto(glyph_crypto::Error::ReplayedHandshake) => {
                Unopened::Kept(Content::Refused {
                    reason: Refusal::ReplayedFirstMessage.to_string(),
                })
            }
            ClientError::Refused(refusal) => Unopened::Kept(Content::Refused {
                reason: refusal.to_string(),
            }),
            err @ (ClientError::Network(_)
            | ClientError::Store(_)
            | ClientError::CorruptStore(_)
            | ClientError::Api { .. }
            | ClientError::BadResponse(_)) => Unopened::Retry(err),
            ClientError::Crypto(glyph_crypto::Error::NoSession) => {
                Unopened::Kept(Content::Undecryptable {
                    reason: NO_SESSION.into(),
                })
            }
            err => Unopened::Kept(Content::Undecryptable {
                reason: err.to_string(),
            }),
        }
    }
}

/// What a message on a session this device never had means, in plain words.
const NO_SESSION: &str = "it was encrypted for another of your devices, or before this device \
     was set up, so this device cannot read it";

impl Client {
    /// Fetches and processes everything new in my inbox (and sends what
    /// waits in the outbox). Returns the new messages, oldest first: an
    /// annotation (receipt, reaction, edit, delete) comes back with the
    /// local id of the message it changed, which is changed already.
    /// Senders get a delivery receipt, unless receipts are off.
    pub async fn sync(&self) -> Result<Vec<Message>, ClientError> {
        self.flush_outbox().await?;
        self.flush_view_reports().await?;
        let mut new = Vec::new();
        loop {
            let cursor = self.cursor().await?;
            let page = self.api.inbox(cursor, PAGE).await?;
            if page.messages.is_empty() {
                break;
            }
            new.extend(self.receive_page(page.messages).await?);
        }
        self.vault.delete_expired(now()).await?;
        self.acknowledge(&new).await;
        if let Err(err) = self.maintain_prekeys().await {
            tracing::warn!(error = %err, "prekey upkeep failed; will retry");
        }
        Ok(new)
    }

    pub(crate) async fn cursor(&self) -> Result<i64, ClientError> {
        Ok(self.vault.get_json(records::CURSOR).await?.unwrap_or(0))
    }

    /// Processes one inbox entry: opens it, checks it, and stores it with
    /// the updated session and cursor in one transaction. Entries at or
    /// before the cursor, and duplicates, are skipped. Returns the message
    /// if it is new.
    pub(crate) async fn receive(
        &self,
        entry: InboxMessage,
    ) -> Result<Option<Message>, ClientError> {
        let _guard = self.lock.acquire().await?;
        self.receive_locked(entry).await
    }

    /// Processes a page of inbox entries in one transaction: the profile
    /// is locked for the page, each entry's changes (session, history,
    /// cursor) are gathered in the vault's page, where the next entries
    /// read them, and the page is applied at once, then synced, before
    /// anything is returned (and so shown or acknowledged). Whatever
    /// happens, the vault holds whole entries with the cursor after the
    /// last of them: none lost, none shown twice.
    async fn receive_page(&self, entries: Vec<InboxMessage>) -> Result<Vec<Message>, ClientError> {
        let guard = self.lock.acquire().await?;
        self.vault.begin_page();
        let mut received = Vec::new();
        let processed = async {
            let keys: Vec<String> = entries
                .iter()
                .map(|e| dedup_key(&e.sender, &e.client_id))
                .collect();
            self.vault.note_absent(&keys).await?;
            for entry in entries {
                if let Some(message) = self.receive_locked(entry).await? {
                    received.push(message);
                }
            }
            Ok::<(), ClientError>(())
        }
        .await;
        let applied = self.vault.end_page().await;
        let synced = self.sync_to_disk().await;
        drop(guard);
        processed?;
        let applied = applied?;
        synced?;
        // Messages stored by the page carried stand-in ids until applied.
        Ok(received
            .into_iter()
            .filter_map(|mut message| {
                if message.local_id < 0 {
                    message.local_id = (*applied.get(&message.local_id)?)?;
                }
                Some(message)
            })
            .collect())
    }

    /// Makes every commit so far durable (the cursor, rewritten in a
    /// synced commit: its `fsync` of the log covers every commit before
    /// it). The caller holds the profile's lock.
    async fn sync_to_disk(&self) -> Result<(), ClientError> {
        let mut batch = Batch::default();
        self.vault
            .put_json(&mut batch, records::CURSOR, &self.cursor().await?)?;
        self.vault.commit(batch).await.map(|_| ())
    }

    /// [`Client::receive`], for a caller holding the profile's lock. Its
    /// commit is synced at once, or, inside a page, gathered with the
    /// page's (see [`Vault::begin_page`](crate::vault::Vault::begin_page)).
    async fn receive_locked(&self, entry: InboxMessage) -> Result<Option<Message>, ClientError> {
        if entry.seq <= self.cursor().await? {
            return Ok(None);
        }
        let mut batch = Batch::default();
        self.vault
            .put_json(&mut batch, records::CURSOR, &entry.seq)?;
        let seen = self
            .vault
            .message_id(&dedup_key(&entry.sender, &entry.client_id))
            .await?
            .is_some();
        if seen || entry.expires_at.is_some_and(|t| t <= now()) {
            self.vault.commit(batch).await?;
            return Ok(None);
        }
        let message = match self.open_entry(&entry, &mut batch).await {
            Ok(sealed) => self.file_opened(&entry, sealed, &mut batch).await?,
            Err(err) => match Unopened::from(err) {
                Unopened::Duplicate => None,
                Unopened::Retry(err) => return Err(err),
                Unopened::Kept(content) => {
                    tracing::warn!(seq = entry.seq, what = %content.summary(), "a message was not opened");
                    Some(unopened_message(&entry, content))
                }
            },
        };
        let Some(message) = message else {
            self.vault.commit(batch).await?;
            return Ok(None);
        };
        if message.content.is_annotation() {
            // Applied to its target (kept apart, so it applies once); what
            // comes back names the target's local id.
            let target = self.apply_annotation(&mut batch, &message).await?;
            self.stage_message(&mut batch, &message)?;
            self.vault.commit(batch).await?;
            return Ok(target.map(|local_id| Message {
                local_id,
                ..message
            }));
        }
        self.stage_message(&mut batch, &message)?;
        let inserted = self.vault.commit(batch).await?;
        Ok(inserted.first().map(|&local_id| Message {
            local_id,
            ..message
        }))
    }

    /// Checks and decrypts an entry's payload, adding the session, prekey
    /// and contact changes to `batch`.
    async fn open_entry(
        &self,
        entry: &InboxMessage,
        batch: &mut Batch,
    ) -> Result<Sealed, ClientError> {
        let payload: &Value = &entry.payload;
        if entry.direction == Direction::Out {
            // My self-copy: a v1 envelope I sealed to myself.
            if entry.sender != self.user_id {
                return Err(ClientError::Refused(Refusal::NotMine));
            }
            let sealed = SealedEnvelope::from_json_value(payload)
                .map_err(|_| ClientError::Refused(Refusal::NotMine))?;
            if crate::user_id_of(sealed.sender()) != self.user_id {
                return Err(ClientError::Refused(Refusal::NotMine));
            }
            let plaintext = zeroize::Zeroizing::new(sealed.open(self.identity.dh())?);
            return Ok(Sealed::from_wire(&plaintext));
        }
        if entry.sender == self.user_id {
            // I never address myself; my own messages come as self-copies.
            return Err(ClientError::Refused(Refusal::NotMine));
        }
        match payload.get("v").and_then(Value::as_u64) {
            Some(2) => {
                let envelope = EnvelopeV2::from_json_value(payload)?;
                let new_contact = match &envelope.x3dh {
                    Some(header) => {
                        self.authenticate_first_message(&entry.sender, header)
                            .await?
                    }
                    None => None,
                };
                // The sending device is the server's hint: it chooses the
                // sessions tried first (and where a new one is kept).
                let mut sessions = self.sessions(&entry.sender).await?;
                // Only a handshake that made no session yet needs this
                // device's prekeys (whose loading derives every public key:
                // a millisecond). A sender keeps the handshake's header on
                // every message until the first reply.
                let handshake = envelope.x3dh.as_ref().filter(|header| {
                    !sessions.devices().any(|d| {
                        sessions
                            .device(d)
                            .is_some_and(|s| s.has_session_from(header))
                    })
                });
                let mut prekeys = if handshake.is_some() {
                    self.prekeys().await?
                } else {
                    glyph_crypto::PreKeyStore::new()
                };
                let plaintext = zeroize::Zeroizing::new(decrypt_from_any_device(
                    &mut sessions,
                    entry.sender_device,
                    &self.identity,
                    &mut prekeys,
                    &envelope,
                )?);
                if handshake.is_some() {
                    self.vault
                        .put(batch, records::PREKEYS, &prekeys.to_bytes())?;
                }
                if let Some(contact) = new_contact {
                    let mut contacts = self.contacts_map().await?;
                    contacts.insert(contact.user_id.clone(), contact);
                    self.vault.put_json(batch, records::CONTACTS, &contacts)?;
                }
                self.vault.put_decoded(
                    batch,
                    &records::sessions(&entry.sender),
                    &sessions.to_bytes(),
                    &sessions,
                )?;
                Ok(Sealed::from_wire(&plaintext))
            }
            Some(1) => {
                let sealed = SealedEnvelope::from_json_value(payload)?;
                if crate::user_id_of(sealed.sender()) != entry.sender {
                    return Err(ClientError::Refused(Refusal::WrongSender));
                }
                let plaintext = zeroize::Zeroizing::new(sealed.open(self.identity.dh())?);
                Ok(Sealed::from_wire(&plaintext))
            }
            _ => Err(ClientError::Unsupported(
                "an envelope of an unknown version",
            )),
        }
    }

    /// The check X3DH leaves to the application (spec section 3): a first
    /// message is authenticated only through the keys its header names, so
    /// they must be the keys of the user the server says sent it, as this
    /// device knows them. Returns the new contact to record when the
    /// sender was not one yet. Refuses before anything is decrypted.
    async fn authenticate_first_message(
        &self,
        sender: &str,
        header: &X3dhHeader,
    ) -> Result<Option<Contact>, ClientError> {
        if crate::user_id_of(&header.identity.sign_pub) != sender {
            return Err(ClientError::Refused(Refusal::WrongSender));
        }
        if let Some(contact) = self.contact(sender).await? {
            // The keys last accepted, not a change waiting to be accepted.
            return if contact.identity()? == header.identity {
                Ok(None)
            } else {
                Err(ClientError::Refused(Refusal::KeysMismatch))
            };
        }
        let (record, registered) = match self.api.user(sender).await {
            Ok(found) => found,
            Err(ClientError::BadBinding(_) | ClientError::Api { status: 404, .. }) => {
                return Err(ClientError::Refused(Refusal::UnknownSender));
            }
            Err(err) => return Err(err),
        };
        if registered != header.identity {
            return Err(ClientError::Refused(Refusal::KeysMismatch));
        }
        Ok(Some(Contact::first_seen(
            sender,
            &registered,
            record.handle,
        )))
    }

    /// Builds the history entry of an opened message from what was sealed,
    /// noting where the server's routing disagrees. `None` if it has
    /// already expired.
    async fn file_opened(
        &self,
        entry: &InboxMessage,
        sealed: Sealed,
        batch: &mut Batch,
    ) -> Result<Option<Message>, ClientError> {
        let outgoing = entry.direction == Direction::Out;
        let mut warnings = Vec::new();
        let routed = routed_conversation(entry);
        let conversation = match sealed.to {
            Some(Conversation::Peer(to)) if !outgoing => {
                if to != self.user_id {
                    warnings.push("it was addressed to someone else");
                }
                if entry.group_id.is_some() {
                    warnings.push("the server filed a direct message under a group");
                }
                Conversation::Peer(entry.sender.clone())
            }
            Some(sealed_to) => {
                if sealed_to != routed {
                    warnings.push("the server filed it under another conversation");
                }
                sealed_to
            }
            None => routed,
        };
        let expires_at = match sealed.expires_at {
            Some(sealed_expiry) => {
                if sealed_expiry != entry.expires_at {
                    warnings.push("the server changed when it disappears");
                }
                sealed_expiry
            }
            None => entry.expires_at,
        };
        if expires_at.is_some_and(|t| t <= now()) {
            return Ok(None);
        }
        if let Content::Media(media) = &sealed.content {
            if media.view_once != entry.view_once {
                warnings.push("the server changed whether it may be viewed once");
            }
            if entry.media_path.as_deref() != Some(media.path.as_str()) {
                warnings.push("the server changed which file it deletes with it");
            }
        }
        let client_id = match sealed.id {
            Some(id) => {
                if id != entry.client_id {
                    warnings.push("the server changed its id");
                }
                id
            }
            None => entry.client_id.clone(),
        };
        let mut device_warning = None;
        if !outgoing {
            device_warning = self
                .check_sending_device(batch, &entry.sender, entry.sender_device)
                .await;
        }
        let mut group_warning = None;
        if let Conversation::Group(group_id) = &conversation {
            if let Content::Group(update) = &sealed.content {
                group_warning = self
                    .apply_group_update(batch, &entry.sender, group_id, update)
                    .await?;
            } else if !outgoing && !self.known_member(group_id, &entry.sender).await? {
                group_warning = Some(
                    "sent by someone this device does not know as a member of the group".into(),
                );
            }
        }
        let mut warning: Vec<String> = warnings.into_iter().map(str::to_owned).collect();
        warning.extend(device_warning);
        warning.extend(group_warning);
        if !warning.is_empty() {
            tracing::warn!(seq = entry.seq, warning = ?warning, "the server's routing disagrees with the sealed message");
        }
        Ok(Some(Message {
            local_id: 0,
            conversation,
            sender: entry.sender.clone(),
            outgoing,
            client_id,
            sent_at: entry.sent_at,
            expires_at,
            server_id: (!outgoing).then_some(entry.id),
            content: sealed.content,
            delivery: if outgoing {
                Delivery::Sent
            } else {
                Delivery::Received
            },
            warning: (!warning.is_empty()).then(|| warning.join("; ")),
            annotations: Default::default(),
        }))
    }
}

impl Client {
    /// A message opened under `sender`'s identity came from `device`: if it
    /// is not in their accepted list, fetch the list again (staging it in
    /// `batch`, with a notice of a newly linked device). Returns a warning
    /// when the device is not in the signed list even then; a list that
    /// cannot be fetched now is checked on the next send.
    async fn check_sending_device(
        &self,
        batch: &mut Batch,
        sender: &str,
        device: u32,
    ) -> Option<String> {
        if let Ok(Some(known)) = self.known_devices(sender).await
            && known.contains(device)
        {
            return None;
        }
        let fetched = match self.api.user_devices(sender).await {
            Ok(Some(list)) => list,
            Ok(None) | Err(_) => return None,
        };
        match self.accept_devices(batch, sender, &fetched).await {
            Ok(_) if fetched.contains(device) => None,
            Ok(_) => {
                Some("it came from a device that is not in the sender's signed device list".into())
            }
            Err(err) => Some(format!("the sender's device list was refused: {err}")),
        }
    }
}

/// Decrypts a message from one of a peer's devices. A first message seen
/// before goes to the session it created; otherwise the sessions of
/// `hinted` (the device the server names) are tried first, then, for a
/// message on an existing session, the peer's other devices' (a failed
/// attempt changes nothing): a wrong hint costs a few attempts, not the
/// message. A new session is kept under the hinted device.
fn decrypt_from_any_device(
    sessions: &mut DeviceSessions,
    hinted: u32,
    me: &glyph_crypto::Identity,
    prekeys: &mut glyph_crypto::PreKeyStore,
    envelope: &EnvelopeV2,
) -> Result<Vec<u8>, glyph_crypto::Error> {
    if let Some(header) = &envelope.x3dh {
        // A first message seen before belongs to the device whose session
        // it created, whatever the hint says.
        let known = sessions.devices().find(|d| {
            sessions
                .device(*d)
                .is_some_and(|s| s.has_session_from(header))
        });
        if let Some(device) = known {
            return sessions.device_mut(device).decrypt(me, prekeys, envelope);
        }
    }
    let first_try = device_sessions(sessions, hinted).decrypt(me, prekeys, envelope);
    match first_try {
        Err(err) if envelope.x3dh.is_none() && err != glyph_crypto::Error::Duplicate => {
            let others: Vec<u32> = sessions.devices().filter(|d| *d != hinted).collect();
            for device in others {
                if let Ok(plaintext) = sessions.device_mut(device).decrypt(me, prekeys, envelope) {
                    return Ok(plaintext);
                }
            }
            Err(err)
        }
        other => other,
    }
}

/// Where the server files an entry (only a hint).
fn routed_conversation(entry: &InboxMessage) -> Conversation {
    match (&entry.group_id, entry.direction) {
        (Some(group), _) => Conversation::Group(group.clone()),
        (None, Direction::Out) => Conversation::Peer(entry.recipient.clone()),
        (None, Direction::In) => Conversation::Peer(entry.sender.clone()),
    }
}

/// The history entry of a message that was refused or could not be opened:
/// only the server's routing is known about it.
fn unopened_message(entry: &InboxMessage, content: Content) -> Message {
    let outgoing = entry.direction == Direction::Out;
    Message {
        local_id: 0,
        conversation: routed_conversation(entry),
        sender: entry.sender.clone(),
        outgoing,
        client_id: entry.client_id.clone(),
        sent_at: entry.sent_at,
        expires_at: entry.expires_at,
        server_id: (!outgoing).then_some(entry.id),
        content,
        delivery: if outgoing {
            Delivery::Sent
        } else {
            Delivery::Received
        },
        warning: None,
        annotations: Default::default(),
    }
}
