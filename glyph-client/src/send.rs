//! Sending. A send encrypts one copy per recipient (X3DH on first contact,
//! then the Double Ratchet) plus a v1 self-copy, stores the advanced
//! sessions, the history entry and the prepared request in one
//! transaction, and only then posts it: a crash or a network failure never
//! reuses a ratchet key, and the outbox re-posts the same ratchet copies
//! (the server de-duplicates by client id). That transaction waits for the
//! disk only when a sending chain reserves positions ahead (see
//! `reserved`); otherwise the log is flushed while the post is on its way,
//! and the send returns once both are done. The self-copy uses no ratchet
//! key: it is sealed on a thread of its own from the moment the send
//! begins, and sealed afresh for a re-post. Once the server has the
//! message, taking it out of the outbox and marking it sent is written by a
//! task of its own (see `in_flight`): the caller does not wait for it.
//!
//! Every copy seals the same content with its `id`, its conversation
//! (`to`) and its expiry, so the reader need not take the server's word
//! for any of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64ct::{Base64, Encoding};
use glyph_api::{MessageCopy, SendRequest};
use glyph_crypto::{DeviceSessions, Identity, PeerSessions, SealedEnvelope};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::{Client, records};
use crate::contacts::KeyCheck;
use crate::content::{Content, Sealed};
use crate::error::ClientError;
use crate::http::now;
use crate::messaging::{Conversation, Delivery, Message, SendOptions, dedup_key, find_message};
use crate::vault::{Batch, Vault};

/// Roster or device-list refreshes before a send gives up.
const ROSTER_RETRIES: usize = 3;
/// The id under which sessions from before devices existed are kept.
pub(crate) const LEGACY_DEVICE: u32 = 0;

/// The sessions of `peer`'s device `device`: its own, or the ones from
/// before devices existed, which belong to the peer's first device to show
/// up.
pub(crate) fn device_sessions(sessions: &mut DeviceSessions, device: u32) -> &mut PeerSessions {
    if sessions.device(device).is_none()
        && let Some(legacy) = sessions.device(LEGACY_DEVICE).cloned()
    {
        sessions.forget(LEGACY_DEVICE);
        *sessions.device_mut(device) = legacy;
    }
    sessions.device_mut(device)
}

/// The self-copy of a message: being sealed, or sealed (none for a
/// receipt). Every attempt at a send carries the same one.
enum SelfCopy {
    Sealing(tokio::task::JoinHandle<Result<serde_json::Value, ClientError>>),
    Sealed(Option<serde_json::Value>),
}

impl SelfCopy {
    /// Starts sealing `plaintext` on a thread of its own (three curve
    /// operations, done while the send builds its copies and commits).
    fn start(identity: Arc<Identity>, plaintext: Zeroizing<Vec<u8>>) -> Self {
        Self::Sealing(tokio::task::spawn_blocking(move || {
            seal_self_copy(&identity, &plaintext)
        }))
    }

    /// The sealed self-copy, waiting for it the first time.
    async fn get(&mut self) -> Result<Option<serde_json::Value>, ClientError> {
        let sealed = match self {
            Self::Sealed(sealed) => return Ok(sealed.clone()),
            Self::Sealing(sealing) => sealing
                .await
                .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))??,
        };
        *self = Self::Sealed(Some(sealed.clone()));
        Ok(Some(sealed))
    }
}

/// Seals a message's plaintext to my own identity (a v1 envelope, which
/// every other device of mine opens).
fn seal_self_copy(identity: &Identity, plaintext: &[u8]) -> Result<serde_json::Value, ClientError> {
    Ok(
        SealedEnvelope::seal(identity.signing(), &identity.public().dh_pub, plaintext)?
            .to_json_value(),
    )
}

/// A request made ready to post, and stored.
struct Prepared {
    request: SendRequest,
    /// The history entry's local id, if this attempt stored it (a retry
    /// finds it stored already).
    inserted: Option<i64>,
    /// Whether the commit waited for the disk (else it is to be flushed).
    synced: bool,
}

/// A prepared request waiting to be posted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The request, without its self-copy when `self_copy_of` is set.
    request: SendRequest,
    dedup: String,
    /// The plaintext the first copy's self-copy seals (base64). The
    /// self-copy steps no ratchet, so it is not stored before posting: it
    /// is sealed beside the commit, and sealed afresh for a re-post (the
    /// server keeps the first post of a client id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    self_copy_of: Option<String>,
}

impl Pending {
    /// The request as posted: with its self-copy sealed (again).
    fn request_to_post(&self, identity: &Identity) -> Result<SendRequest, ClientError> {
        let mut request = self.request.clone();
        if let (Some(encoded), Some(first)) = (&self.self_copy_of, request.copies.first_mut())
            && first.self_copy.is_none()
        {
            let plaintext = Zeroizing::new(
                Base64::decode_vec(encoded)
                    .map_err(|_| ClientError::CorruptStore("an outbox entry's self-copy"))?,
            );
            first.self_copy = Some(seal_self_copy(identity, &plaintext)?);
        }
        Ok(request)
    }
}

impl Client {
    /// My sessions with every device of `peer`. Sessions kept from before
    /// devices existed belong to the peer's one device of that time, whose
    /// id is not known yet: they are kept as device 0 until it shows up.
    pub(crate) async fn sessions(&self, peer: &str) -> Result<DeviceSessions, ClientError> {
        let decode = |bytes: &[u8]| match DeviceSessions::from_bytes(bytes) {
            Ok(sessions) => Ok(sessions),
            Err(_) => {
                let legacy = PeerSessions::from_bytes(bytes)?;
                let mut sessions = DeviceSessions::new();
                *sessions.device_mut(LEGACY_DEVICE) = legacy;
                Ok(sessions)
            }
        };
        Ok(self
            .vault
            .get_decoded(&records::sessions(peer), decode)
            .await?
            .unwrap_or_default())
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
        let expires_in = match options.expires_in {
            Some(secs) => Some(secs),
            None => self.timer(conversation).await?,
        };
        let expires_at = expires_in.map(|secs| now() + i64::try_from(secs).unwrap_or(i64::MAX / 2));
        let client_id = crate::random::client_id()?;
        let sending = self.in_flight.start(&client_id);
        let sealed = Sealed {
            content: content.clone(),
            id: Some(client_id.clone()),
            to: Some(conversation.clone()),
            expires_at: Some(expires_at),
        };
        let plaintext = Zeroizing::new(sealed.to_wire()?);
        let mut members = match conversation {
            Conversation::Peer(peer) => vec![peer.clone()],
            Conversation::Group(group) => self.sendable_roster(group, false).await?,
        };
        let mut message = Message {
            local_id: 0,
            conversation: conversation.clone(),
            sender: self.user_id.clone(),
            outgoing: true,
            client_id,
            sent_at: now(),
            expires_at,
            server_id: None,
            content,
            delivery: Delivery::Pending,
            warning: None,
            annotations: Default::default(),
        };
        // One self-copy per message, which every other device of mine
        // receives (not for receipts: they concern only this device's
        // reading).
        let mut self_copy = if matches!(message.content, Content::Receipt { .. }) {
            SelfCopy::Sealed(None)
        } else {
            SelfCopy::start(self.identity.clone(), plaintext.clone())
        };
        for attempt in 0..=ROSTER_RETRIES {
            members.retain(|m| *m != self.user_id);
            let (request, synced) = {
                let _guard = self.lock.acquire().await?;
                let prepared = self
                    .prepare(&members, &plaintext, &mut self_copy, &message, &options)
                    .await?;
                // The first attempt stores the history entry; retries find it.
                message.local_id = prepared.inserted.unwrap_or(message.local_id);
                (prepared.request, prepared.synced)
            };
            // An unsynced commit is flushed while the post is on its way
            // (the flush starts first: it waits on the disk, not the CPU).
            let flush = async {
                match synced {
                    true => Ok(()),
                    false => self.vault.flush().await,
                }
            };
            let (flushed, posted) = tokio::join!(flush, self.api.send(&request));
            flushed?;
            match posted {
                Ok(_) => {
                    // The server has it: the outbox entry and the history
                    // entry's state are updated off the caller's path.
                    let (vault, lock, user_id) =
                        (self.vault.clone(), self.lock.clone(), self.user_id.clone());
                    let client_id = message.client_id.clone();
                    self.in_flight.finish_later(sending, async move {
                        let _guard = lock.acquire().await?;
                        mark_sent(&vault, &user_id, &client_id).await
                    });
                    return Ok(Message {
                        delivery: Delivery::Sent,
                        ..message
                    });
                }
                Err(ClientError::Api { code, details, .. })
                    if code == "device_mismatch" && attempt < ROSTER_RETRIES =>
                {
                    // The details only name whose lists to fetch again; each
                    // list is checked (signature, rollback) before use.
                    tracing::info!("a recipient's devices changed; refreshing and retrying");
                    let stale: Vec<String> = details
                        .as_ref()
                        .and_then(|d| d.get("users"))
                        .and_then(|u| u.as_object())
                        .map(|users| users.keys().cloned().collect())
                        .unwrap_or_else(|| members.clone());
                    for user in stale.iter().filter(|u| members.contains(u)) {
                        let refreshed = {
                            let _guard = self.lock.acquire().await?;
                            self.refresh_devices(user).await
                        };
                        // (The lock is released first: dropping takes it.)
                        if let Err(err) = refreshed {
                            self.drop_pending(&message).await?;
                            return Err(err);
                        }
                    }
                }
                Err(ClientError::Api { code, .. })
                    if code == "roster_mismatch" && attempt < ROSTER_RETRIES =>
                {
                    // The 409's details are only a hint: the roster comes
                    // fresh from the server, and every member in it must
                    // have been announced by a member (see `groups`).
                    tracing::info!("the group's roster changed; refreshing and retrying");
                    if let Conversation::Group(group) = conversation {
                        match self.sendable_roster(group, true).await {
                            Ok(fresh) => members = fresh,
                            Err(err) => {
                                self.drop_pending(&message).await?;
                                return Err(err);
                            }
                        }
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
        self.drop_pending(&message).await?;
        Err(ClientError::Unsupported(
            "the group's roster kept changing; try again",
        ))
    }

    /// Encrypts one copy per member and the self-copy, and stores the
    /// sessions, the history entry and the outbox entry in one transaction:
    /// synced if a sending chain had to reserve positions, written but not
    /// yet flushed otherwise.
    async fn prepare(
        &self,
        members: &[String],
        plaintext: &[u8],
        self_copy: &mut SelfCopy,
        message: &Message,
        options: &SendOptions,
    ) -> Result<Prepared, ClientError> {
        if members.is_empty() {
            return Err(ClientError::Unsupported("there is no one to send to"));
        }
        let group_id = match &message.conversation {
            Conversation::Group(id) => Some(id.clone()),
            Conversation::Peer(_) => None,
        };
        let mut batch = Batch::default();
        let mut copies: Vec<MessageCopy> = Vec::with_capacity(members.len());
        let mut reserved = self.reserved().await?;
        // Where each chain stood before this message (see `reserved`).
        let mut positions = Vec::new();
        for member in members {
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
            let list = self.devices_of(member).await?;
            let mut sessions = self.sessions(member).await?;
            for &device in list.devices() {
                let peer = device_sessions(&mut sessions, device);
                if !peer.has_session() {
                    let bundle = self.api.device_bundle(member, device).await?;
                    if self
                        .note_keys(member, &bundle.bundle.identity, None, None)
                        .await?
                        == KeyCheck::Changed
                    {
                        return Err(ClientError::KeyChanged(contact.display_name()));
                    }
                    peer.initiate(&self.identity, &bundle.bundle)?;
                }
                let position = peer
                    .sending_position()
                    .ok_or(glyph_crypto::Error::NoSession)?;
                positions.push((member, device, position));
                let envelope = peer.encrypt(plaintext)?;
                copies.push(MessageCopy {
                    recipient: member.clone(),
                    device_id: device,
                    envelope: envelope.to_json_value(),
                    // (Added to the first copy below.)
                    self_copy: None,
                    group_id: group_id.clone(),
                    expires_at: message.expires_at,
                    view_once: options.view_once,
                    media_path: options.media_path.clone(),
                });
            }
            // Sessions with devices the member's list no longer names are
            // dropped: nothing is sent to them, and what they send opens
            // no more.
            sessions.retain(list.devices());
            reserved.keep_only(member, list.devices());
            self.vault.put_decoded(
                &mut batch,
                &records::sessions(member),
                &sessions.to_bytes(),
                &sessions,
            )?;
        }
        let mut request = SendRequest {
            client_id: message.client_id.clone(),
            copies,
        };
        let dedup = dedup_key(&self.user_id, &message.client_id);
        self.stage_message(&mut batch, message)?;
        let mut outbox = outbox(&self.vault).await?;
        let self_copy_of = (!matches!(message.content, Content::Receipt { .. }))
            .then(|| Base64::encode_string(plaintext));
        outbox.insert(
            message.client_id.clone(),
            Pending {
                request: request.clone(),
                dedup,
                self_copy_of,
            },
        );
        self.vault.put_json(&mut batch, records::OUTBOX, &outbox)?;
        // A new reservation is on the disk before any position it covers
        // is used; within one, the commit is flushed beside the post.
        let reserving = positions
            .iter()
            .any(|(member, device, position)| !reserved.covers(member, *device, *position));
        if reserving {
            for (member, device, position) in &positions {
                reserved.reserve(member, *device, *position);
            }
        }
        let inserted = if reserving {
            self.vault
                .put_json(&mut batch, records::RESERVED, &reserved)?;
            self.vault.commit(batch).await?
        } else {
            self.vault.commit_unsynced(batch).await?
        };
        // The self-copy has been sealing on a thread of its own since the
        // send began.
        if let Some(first) = request.copies.first_mut() {
            first.self_copy = self_copy.get().await?;
        }
        Ok(Prepared {
            request,
            inserted: inserted.first().copied(),
            synced: reserving,
        })
    }

    /// Takes a message the server refused out of the outbox, and says so in
    /// its history entry.
    async fn drop_pending(&self, message: &Message) -> Result<(), ClientError> {
        let _guard = self.lock.acquire().await?;
        let mut outbox = outbox(&self.vault).await?;
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

    /// Re-posts everything in the outbox; returns how many went out.
    pub async fn flush_outbox(&self) -> Result<usize, ClientError> {
        let pending = outbox(&self.vault).await?;
        let mut sent = 0;
        for (client_id, entry) in pending {
            if self.in_flight.contains(&client_id) {
                // Its own send is retrying it (after a 409, say).
                continue;
            }
            let request = entry.request_to_post(&self.identity)?;
            match self.api.send(&request).await {
                Ok(_) => {
                    let _guard = self.lock.acquire().await?;
                    mark_sent(&self.vault, &self.user_id, &client_id).await?;
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
}

/// The messages waiting for the server, by client id.
async fn outbox(vault: &Vault) -> Result<BTreeMap<String, Pending>, ClientError> {
    Ok(vault.get_json(records::OUTBOX).await?.unwrap_or_default())
}

/// Removes a message the server holds from the outbox and marks its
/// history entry sent, in one transaction. The caller holds the profile's
/// lock.
async fn mark_sent(vault: &Vault, user_id: &str, client_id: &str) -> Result<(), ClientError> {
    let mut batch = Batch::default();
    let mut outbox = outbox(vault).await?;
    if outbox.remove(client_id).is_some() {
        vault.put_json(&mut batch, records::OUTBOX, &outbox)?;
    }
    let dedup = dedup_key(user_id, client_id);
    if let Some((local_id, message)) = find_message(vault, &dedup).await? {
        let sent = Message {
            delivery: Delivery::Sent,
            ..message
        };
        vault.stage_update_known(&mut batch, local_id, &dedup, &sent.to_stored()?)?;
    }
    // Unsynced: if a power cut takes it back, the message is in the
    // outbox again and the next sync posts the same request, which the
    // server de-duplicates by client id.
    vault.commit_unsynced(batch).await?;
    Ok(())
}
