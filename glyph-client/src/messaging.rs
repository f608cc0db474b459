//! Sending and receiving. A send encrypts one copy per recipient (X3DH on
//! first contact, then the Double Ratchet) plus a v1 self-copy, stores the
//! advanced sessions, the history entry and the prepared request in one
//! transaction, and only then posts it: a crash or a network failure never
//! reuses a ratchet key, and the outbox re-posts the same request (the
//! server de-duplicates by client id). Receiving processes inbox entries in
//! order; each entry's session update, history entry and cursor commit
//! together, so nothing is lost or shown twice across restarts.

use std::collections::BTreeMap;

use glyph_api::{Direction, InboxMessage, MessageCopy, SendRequest};
use glyph_crypto::{EnvelopeV2, PeerSessions, SealedEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, records};
use crate::contacts::KeyCheck;
use crate::content::Content;
use crate::error::ClientError;
use crate::http::now;
use crate::vault::Batch;

/// Inbox entries fetched per page.
const PAGE: u32 = 200;
/// Roster refreshes before a group send gives up.
const ROSTER_RETRIES: usize = 3;

/// Where a message belongs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversation {
    /// A one-to-one conversation with this user.
    Peer(String),
    /// A group.
    Group(String),
}

impl Conversation {
    pub(crate) fn key(&self) -> String {
        match self {
            Conversation::Peer(id) => format!("peer:{id}"),
            Conversation::Group(id) => format!("group:{id}"),
        }
    }
}

/// Whether a sent message reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Stored on the server.
    Sent,
    /// Waiting in the outbox (the server was unreachable); sent by the
    /// next [`Client::sync`].
    Pending,
    /// Received from someone (or my own, read back from a self-copy).
    Received,
}

/// One message in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Local id (for [`Client::open_media`]).
    #[serde(skip)]
    pub local_id: i64,
    /// The conversation.
    pub conversation: Conversation,
    /// Who sent it.
    pub sender: String,
    /// Sent by me.
    pub outgoing: bool,
    /// The sender's client id (shared by a group message's copies).
    pub client_id: String,
    /// When it was sent (server time when known).
    pub sent_at: i64,
    /// When it disappears.
    pub expires_at: Option<i64>,
    /// The server's id of my copy (incoming), to report views.
    pub server_id: Option<i64>,
    /// The content.
    pub content: Content,
    /// Delivery state.
    pub delivery: Delivery,
}

/// How to send.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Disappear after this many seconds (overrides the conversation timer).
    pub expires_in: Option<u64>,
    /// View once (media).
    pub view_once: bool,
    /// The media blob the message names, so the server can delete it.
    pub media_path: Option<String>,
}

/// A prepared request waiting to be posted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    request: SendRequest,
    dedup: String,
}

/// The field of a self-copy's content naming its conversation. The spec's
/// content has no recipient, and a v1 self-copy is sealed to myself, so
/// without it only the server's routing would say whom I wrote to;
/// decoders ignore unknown fields, so peers are unaffected.
const SELF_COPY_TO: &str = "to";

/// The self-copy's plaintext: the content with the conversation added.
fn self_copy_plaintext(
    plaintext: &[u8],
    conversation: &Conversation,
) -> zeroize::Zeroizing<Vec<u8>> {
    let with_to = serde_json::from_slice::<Value>(plaintext)
        .ok()
        .and_then(|mut value| {
            let object = value.as_object_mut()?;
            object.insert(
                SELF_COPY_TO.to_owned(),
                serde_json::to_value(conversation).ok()?,
            );
            serde_json::to_vec(&value).ok()
        });
    zeroize::Zeroizing::new(with_to.unwrap_or_else(|| plaintext.to_vec()))
}

impl Message {
    /// The bytes the profile keeps (the local id is the row's own).
    fn to_stored(&self) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(self).map_err(|_| ClientError::Unsupported("message cannot be encoded"))
    }

    /// A message read back from the profile.
    fn from_stored(local_id: i64, bytes: &[u8]) -> Result<Self, ClientError> {
        let message: Message =
            serde_json::from_slice(bytes).map_err(|_| ClientError::CorruptStore("message"))?;
        Ok(Message {
            local_id,
            ..message
        })
    }
}

fn dedup_key(sender: &str, client_id: &str) -> String {
    format!("{sender}:{client_id}")
}

impl Client {
    async fn sessions(&self, peer: &str) -> Result<PeerSessions, ClientError> {
        match self.vault.get(&records::sessions(peer)).await? {
            Some(bytes) => Ok(PeerSessions::from_bytes(&bytes)?),
            None => Ok(PeerSessions::new()),
        }
    }

    /// The disappearing-message timer of a conversation, in seconds.
    pub async fn timer(&self, conversation: &Conversation) -> Result<Option<u64>, ClientError> {
        self.vault
            .get_json(&records::timer(&conversation.key()))
            .await
    }

    /// Sets (or, with `None`, clears) a conversation's timer: messages I
    /// send there disappear this long after sending, on both sides.
    pub async fn set_timer(
        &self,
        conversation: &Conversation,
        seconds: Option<u64>,
    ) -> Result<(), ClientError> {
        let mut batch = Batch::default();
        match seconds {
            Some(secs) => {
                self.vault
                    .put_json(&mut batch, &records::timer(&conversation.key()), &secs)?
            }
            None => self
                .vault
                .delete(&mut batch, &records::timer(&conversation.key()))?,
        }
        self.vault.commit(batch).await.map(|_| ())
    }

    /// Sends text to a person (petname, handle or user id).
    pub async fn send_text(&self, to: &str, body: &str) -> Result<Message, ClientError> {
        let peer = self.resolve(to).await?;
        self.send(
            &Conversation::Peer(peer),
            Content::Text {
                body: body.to_owned(),
            },
            SendOptions::default(),
        )
        .await
    }

    /// Sends text to a group.
    pub async fn send_group_text(
        &self,
        group_id: &str,
        body: &str,
    ) -> Result<Message, ClientError> {
        self.send(
            &Conversation::Group(group_id.to_owned()),
            Content::Text {
                body: body.to_owned(),
            },
            SendOptions::default(),
        )
        .await
    }

    /// Sends any content to a conversation.
    pub async fn send(
        &self,
        conversation: &Conversation,
        content: Content,
        options: SendOptions,
    ) -> Result<Message, ClientError> {
        let plaintext = zeroize::Zeroizing::new(content.to_wire()?);
        let expires_in = match options.expires_in {
            Some(secs) => Some(secs),
            None => self.timer(conversation).await?,
        };
        let expires_at = expires_in.map(|secs| now() + i64::try_from(secs).unwrap_or(i64::MAX / 2));
        let client_id = crate::random::client_id()?;
        let mut members = match conversation {
            Conversation::Peer(peer) => vec![peer.clone()],
            Conversation::Group(group) => self.roster(group, false).await?,
        };
        let mut message = Message {
            local_id: 0,
            conversation: conversation.clone(),
            sender: self.user_id.clone(),
            outgoing: true,
            client_id: client_id.clone(),
            sent_at: now(),
            expires_at,
            server_id: None,
            content,
            delivery: Delivery::Pending,
        };
        for attempt in 0..=ROSTER_RETRIES {
            members.retain(|m| *m != self.user_id);
            let request = {
                let _guard = self.lock.acquire().await?;
                let (request, inserted) = self
                    .prepare(&members, &plaintext, &message, &options)
                    .await?;
                // The first attempt stores the history entry; retries find it.
                message.local_id = inserted.unwrap_or(message.local_id);
                request
            };
            match self.post(&request, &message).await {
                Ok(sent) => return Ok(sent),
                Err(ClientError::Api { code, details, .. })
                    if code == "roster_mismatch" && attempt < ROSTER_RETRIES =>
                {
                    tracing::info!(
                        ?details,
                        "the group's roster changed; refreshing and retrying"
                    );
                    if let Conversation::Group(group) = conversation {
                        members = self.roster(group, true).await?;
                    }
                }
                Err(
                    err @ (ClientError::Network(_)
                    | ClientError::Api {
                        status: 500..=599, ..
                    }),
                ) => {
                    tracing::warn!(error = %err, "send failed; the message stays in the outbox");
                    return Ok(message);
                }
                Err(err) => {
                    self.drop_pending(&message).await?;
                    return Err(err);
                }
            }
        }
        Err(ClientError::Unsupported(
            "the group's roster kept changing; try again",
        ))
    }

    /// Encrypts one copy per member and the self-copy, and stores the
    /// sessions, the history entry and the outbox entry in one transaction.
    /// Returns the request and the history entry's local id if this call
    /// stored it (a retry finds it stored already).
    async fn prepare(
        &self,
        members: &[String],
        plaintext: &[u8],
        message: &Message,
        options: &SendOptions,
    ) -> Result<(SendRequest, Option<i64>), ClientError> {
        if members.is_empty() {
            return Err(ClientError::Unsupported("there is no one to send to"));
        }
        let group_id = match &message.conversation {
            Conversation::Group(id) => Some(id.clone()),
            Conversation::Peer(_) => None,
        };
        let mut batch = Batch::default();
        let mut copies = Vec::with_capacity(members.len());
        for (index, member) in members.iter().enumerate() {
            let mut sessions = self.sessions(member).await?;
            let contact = match self.contact(member).await? {
                Some(contact) => contact,
                None => {
                    let (record, identity) = self.api.user(member).await?;
                    self.note_keys(member, &identity, record.handle, None)
                        .await?;
                    self.contact(member)
                        .await?
                        .ok_or_else(|| ClientError::Unknown(member.clone()))?
                }
            };
            if contact.changed_dh_pub.is_some() {
                return Err(ClientError::KeyChanged(contact.display_name()));
            }
            if !sessions.has_session() {
                let bundle = self.api.bundle(member).await?;
                if self.note_keys(member, &bundle.identity, None, None).await? == KeyCheck::Changed
                {
                    return Err(ClientError::KeyChanged(contact.display_name()));
                }
                sessions.initiate(&self.identity, &bundle)?;
            }
            let envelope = sessions.encrypt(plaintext)?;
            self.vault
                .put(&mut batch, &records::sessions(member), &sessions.to_bytes())?;
            let self_copy = (index == 0)
                .then(|| {
                    SealedEnvelope::seal(
                        self.identity.signing(),
                        &self.identity.public().dh_pub,
                        &self_copy_plaintext(plaintext, &message.conversation),
                    )
                    .map(|e| e.to_json_value())
                })
                .transpose()?;
            copies.push(MessageCopy {
                recipient: member.clone(),
                envelope: envelope.to_json_value(),
                self_copy,
                group_id: group_id.clone(),
                expires_at: message.expires_at,
                view_once: options.view_once,
                media_path: options.media_path.clone(),
            });
        }
        let request = SendRequest {
            client_id: message.client_id.clone(),
            copies,
        };
        let dedup = dedup_key(&self.user_id, &message.client_id);
        self.stage_message(&mut batch, &dedup, message)?;
        let mut outbox = self.outbox().await?;
        outbox.insert(
            message.client_id.clone(),
            Pending {
                request: request.clone(),
                dedup,
            },
        );
        self.vault.put_json(&mut batch, records::OUTBOX, &outbox)?;
        let inserted = self.vault.commit(batch).await?;
        Ok((request, inserted.first().copied()))
    }

    /// Adds a history entry to a batch (ignored if its key is stored).
    fn stage_message(
        &self,
        batch: &mut Batch,
        dedup: &str,
        message: &Message,
    ) -> Result<(), ClientError> {
        self.vault.insert_message(
            batch,
            &message.conversation.key(),
            dedup,
            message.sent_at,
            message.expires_at,
            &message.to_stored()?,
        )
    }

    async fn outbox(&self) -> Result<BTreeMap<String, Pending>, ClientError> {
        Ok(self
            .vault
            .get_json(records::OUTBOX)
            .await?
            .unwrap_or_default())
    }

    /// Posts a prepared request and marks it sent.
    /// Posts a prepared request; once the server has it, takes it out of
    /// the outbox and marks the history entry sent, in one transaction.
    async fn post(&self, request: &SendRequest, message: &Message) -> Result<Message, ClientError> {
        self.api.send(request).await?;
        let _guard = self.lock.acquire().await?;
        let sent = Message {
            delivery: Delivery::Sent,
            ..message.clone()
        };
        let mut batch = Batch::default();
        let mut outbox = self.outbox().await?;
        outbox.remove(&message.client_id);
        self.vault.put_json(&mut batch, records::OUTBOX, &outbox)?;
        let body = sent.to_stored()?;
        let dedup = dedup_key(&self.user_id, &message.client_id);
        self.vault
            .stage_update_known(&mut batch, sent.local_id, &dedup, &body)?;
        self.vault.commit(batch).await?;
        Ok(sent)
    }

    /// Removes a message from the outbox and marks it sent, in one
    /// transaction.
    async fn mark_sent(&self, client_id: &str) -> Result<(), ClientError> {
        let mut batch = Batch::default();
        let mut outbox = self.outbox().await?;
        if outbox.remove(client_id).is_some() {
            self.vault.put_json(&mut batch, records::OUTBOX, &outbox)?;
        }
        let dedup = dedup_key(&self.user_id, client_id);
        if let Some((local_id, mut message)) = self.find_message(&dedup).await? {
            message.delivery = Delivery::Sent;
            let body = message.to_stored()?;
            self.vault.stage_update(&mut batch, local_id, &body).await?;
        }
        self.vault.commit(batch).await.map(|_| ())
    }

    async fn drop_pending(&self, message: &Message) -> Result<(), ClientError> {
        let _guard = self.lock.acquire().await?;
        let mut outbox = self.outbox().await?;
        outbox.remove(&message.client_id);
        self.vault.put_now(records::OUTBOX, &outbox).await?;
        let dedup = dedup_key(&self.user_id, &message.client_id);
        if let Some((local_id, mut stored)) = self.find_message(&dedup).await? {
            stored.content = Content::Undecryptable {
                reason: "not sent: the server refused it".into(),
            };
            let body = stored.to_stored()?;
            self.vault.update_message(local_id, &body).await?;
        }
        Ok(())
    }

    async fn find_message(&self, dedup: &str) -> Result<Option<(i64, Message)>, ClientError> {
        let Some(local_id) = self.vault.message_id(dedup).await? else {
            return Ok(None);
        };
        let stored = self.vault.message(local_id).await?;
        let message = Message::from_stored(local_id, &stored.body)?;
        Ok(Some((local_id, message)))
    }

    /// Re-posts everything in the outbox; returns how many went out.
    pub async fn flush_outbox(&self) -> Result<usize, ClientError> {
        let pending = self.outbox().await?;
        let mut sent = 0;
        for (client_id, entry) in pending {
            match self.api.send(&entry.request).await {
                Ok(_) => {
                    let _guard = self.lock.acquire().await?;
                    self.mark_sent(&client_id).await?;
                    sent += 1;
                }
                Err(
                    err @ (ClientError::Network(_)
                    | ClientError::Api {
                        status: 500..=599, ..
                    }),
                ) => return Err(err),
                Err(err) => {
                    tracing::warn!(error = %err, %client_id, "the server refused a queued message; dropping it");
                    let message = self.find_message(&entry.dedup).await?.map(|(_, m)| m);
                    if let Some(message) = message {
                        self.drop_pending(&message).await?;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Fetches and processes everything new in my inbox (and sends what
    /// waits in the outbox). Returns the new messages, oldest first.
    pub async fn sync(&self) -> Result<Vec<Message>, ClientError> {
        self.flush_outbox().await?;
        let mut new = Vec::new();
        loop {
            let cursor = self.cursor().await?;
            let page = self.api.inbox(cursor, PAGE).await?;
            if page.messages.is_empty() {
                break;
            }
            for entry in page.messages {
                if let Some(message) = self.receive(entry).await? {
                    new.push(message);
                }
            }
        }
        self.vault.delete_expired(now()).await?;
        if let Err(err) = self.maintain_prekeys().await {
            tracing::warn!(error = %err, "prekey upkeep failed; will retry");
        }
        Ok(new)
    }

    pub(crate) async fn cursor(&self) -> Result<i64, ClientError> {
        Ok(self.vault.get_json(records::CURSOR).await?.unwrap_or(0))
    }

    /// Processes one inbox entry: decrypts it, stores it with the updated
    /// session and cursor in one transaction. Entries at or before the
    /// cursor, and duplicates, are skipped. Returns the message if it is new.
    pub(crate) async fn receive(
        &self,
        entry: InboxMessage,
    ) -> Result<Option<Message>, ClientError> {
        let _guard = self.lock.acquire().await?;
        if entry.seq <= self.cursor().await? {
            return Ok(None);
        }
        let dedup = dedup_key(&entry.sender, &entry.client_id);
        let mut batch = Batch::default();
        self.vault
            .put_json(&mut batch, records::CURSOR, &entry.seq)?;
        if entry.expires_at.is_some_and(|t| t <= now())
            || self.vault.message_id(&dedup).await?.is_some()
        {
            self.vault.commit(batch).await?;
            return Ok(None);
        }
        let (content, sealed_to) = match self.open_entry(&entry, &mut batch).await {
            Ok(opened) => opened,
            Err(ClientError::Crypto(glyph_crypto::Error::Duplicate)) => {
                self.vault.commit(batch).await?;
                return Ok(None);
            }
            Err(err) => {
                tracing::warn!(error = %err, seq = entry.seq, "a message could not be opened");
                let reason = err.to_string();
                (Content::Undecryptable { reason }, None)
            }
        };
        let outgoing = entry.direction == Direction::Out;
        let routed = match (&entry.group_id, outgoing) {
            (Some(group), _) => Conversation::Group(group.clone()),
            (None, true) => Conversation::Peer(entry.recipient.clone()),
            (None, false) => Conversation::Peer(entry.sender.clone()),
        };
        // For my own messages, what I sealed outranks what the server says.
        let conversation = match sealed_to {
            Some(sealed) if sealed != routed => {
                tracing::warn!(
                    seq = entry.seq,
                    "the server filed a self-copy under another conversation"
                );
                sealed
            }
            _ => routed,
        };
        let message = Message {
            local_id: 0,
            conversation,
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
        };
        self.stage_message(&mut batch, &dedup, &message)?;
        let inserted = self.vault.commit(batch).await?;
        Ok(inserted.first().map(|&local_id| Message {
            local_id,
            ..message
        }))
    }

    /// Decrypts an entry's payload, adding the session and prekey changes
    /// to `batch`.
    async fn open_entry(
        &self,
        entry: &InboxMessage,
        batch: &mut Batch,
    ) -> Result<(Content, Option<Conversation>), ClientError> {
        let payload: &Value = &entry.payload;
        let version = payload.get("v").and_then(Value::as_u64);
        if entry.direction == Direction::Out {
            // My self-copy: a v1 envelope I sealed to myself, naming (under
            // the seal) the conversation it belongs to.
            let sealed = SealedEnvelope::from_json_value(payload)?;
            if crate::user_id_of(sealed.sender()) != self.user_id {
                return Err(ClientError::Unsupported("a self-copy not signed by me"));
            }
            let plaintext = zeroize::Zeroizing::new(sealed.open(self.identity.dh())?);
            let sealed_to = serde_json::from_slice::<Value>(&plaintext)
                .ok()
                .and_then(|v| v.get(SELF_COPY_TO).cloned())
                .and_then(|to| serde_json::from_value::<Conversation>(to).ok());
            return Ok((Content::from_wire(&plaintext), sealed_to));
        }
        match version {
            Some(2) => {
                let envelope = EnvelopeV2::from_json_value(payload)?;
                if let Some(header) = &envelope.x3dh
                    && crate::user_id_of(&header.identity.sign_pub) != entry.sender
                {
                    return Err(ClientError::Unsupported(
                        "a first message whose keys are not its sender's",
                    ));
                }
                let mut sessions = self.sessions(&entry.sender).await?;
                let mut prekeys = self.prekeys().await?;
                let plaintext = zeroize::Zeroizing::new(sessions.decrypt(
                    &self.identity,
                    &mut prekeys,
                    &envelope,
                )?);
                if let Some(header) = &envelope.x3dh {
                    // A new contact: learn their handle too (best effort).
                    let handle = match self.contact(&entry.sender).await? {
                        Some(_) => None,
                        None => self
                            .api
                            .user(&entry.sender)
                            .await
                            .ok()
                            .and_then(|(r, _)| r.handle),
                    };
                    self.note_keys(&entry.sender, &header.identity, handle, None)
                        .await?;
                    self.vault
                        .put(batch, crate::client::records::PREKEYS, &prekeys.to_bytes())?;
                }
                self.vault.put(
                    batch,
                    &records::sessions(&entry.sender),
                    &sessions.to_bytes(),
                )?;
                Ok((Content::from_wire(&plaintext), None))
            }
            Some(1) => {
                let sealed = SealedEnvelope::from_json_value(payload)?;
                if crate::user_id_of(sealed.sender()) != entry.sender {
                    return Err(ClientError::Unsupported(
                        "an envelope not signed by its sender",
                    ));
                }
                Ok((Content::from_wire(&sealed.open(self.identity.dh())?), None))
            }
            _ => Err(ClientError::Unsupported(
                "an envelope of an unknown version",
            )),
        }
    }

    /// A conversation's history, oldest first, without expired messages.
    pub async fn history(&self, conversation: &Conversation) -> Result<Vec<Message>, ClientError> {
        let stored = self.vault.messages(&conversation.key(), now()).await?;
        stored
            .into_iter()
            .map(|row| {
                let message = Message::from_stored(row.local_id, &row.body)?;
                Ok(message)
            })
            .collect()
    }

    /// One stored message.
    pub async fn message(&self, local_id: i64) -> Result<Message, ClientError> {
        let stored = self.vault.message(local_id).await?;
        let message = Message::from_stored(local_id, &stored.body)?;
        if message.expires_at.is_some_and(|t| t <= now()) {
            return Err(ClientError::UnknownMessage(local_id));
        }
        Ok(message)
    }

    pub(crate) async fn replace_content(
        &self,
        message: &Message,
        content: Content,
    ) -> Result<(), ClientError> {
        let updated = Message {
            content,
            ..message.clone()
        };
        let body = updated.to_stored()?;
        self.vault.update_message(message.local_id, &body).await
    }

    /// A group's members: as last seen (kept in the profile), or fresh from
    /// the server when `refresh` is set or none is kept. Sends use the kept
    /// roster; the server's 409 on a stale one triggers a refresh.
    pub async fn roster(&self, group_id: &str, refresh: bool) -> Result<Vec<String>, ClientError> {
        if !refresh
            && let Some(members) = self
                .vault
                .get_json::<Vec<String>>(&records::roster(group_id))
                .await?
        {
            return Ok(members);
        }
        let group = self.api.group(group_id).await?;
        self.keep_roster(&group).await?;
        Ok(group.members)
    }

    async fn keep_roster(&self, group: &glyph_api::Group) -> Result<(), ClientError> {
        self.vault
            .put_now(&records::roster(&group.group_id), &group.members)
            .await
    }

    /// Creates a group with these people (petnames, handles or user ids).
    pub async fn create_group(&self, members: &[&str]) -> Result<glyph_api::Group, ClientError> {
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            ids.push(self.resolve(member).await?);
        }
        let group = self.api.create_group(&ids).await?;
        self.keep_roster(&group).await?;
        Ok(group)
    }

    /// Adds someone to a group.
    pub async fn add_to_group(
        &self,
        group_id: &str,
        who: &str,
    ) -> Result<glyph_api::Group, ClientError> {
        let user = self.resolve(who).await?;
        let group = self.api.add_member(group_id, &user).await?;
        self.keep_roster(&group).await?;
        Ok(group)
    }

    /// Removes someone from a group (myself: leave).
    pub async fn remove_from_group(
        &self,
        group_id: &str,
        who: &str,
    ) -> Result<glyph_api::Group, ClientError> {
        let user = if who == self.user_id {
            who.to_owned()
        } else {
            self.resolve(who).await?
        };
        let group = self.api.remove_member(group_id, &user).await?;
        self.keep_roster(&group).await?;
        Ok(group)
    }

    /// My groups (fresh from the server; their rosters are kept).
    pub async fn groups(&self) -> Result<Vec<glyph_api::Group>, ClientError> {
        let groups = self.api.groups().await?.groups;
        for group in &groups {
            self.keep_roster(group).await?;
        }
        Ok(groups)
    }
}
