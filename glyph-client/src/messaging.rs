//! Messages: what the history holds ([`Message`]), where each belongs
//! ([`Conversation`]), and reading the history back. Sending is in
//! `send`, receiving in `receive`, rosters in `groups`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::content::{Content, ReceiptKind};
use crate::error::ClientError;
use crate::http::now;

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

    /// Where a conversation's annotations are kept (never listed as
    /// history; stored so that each is applied once).
    pub(crate) fn annotations_key(&self) -> String {
        format!("annotations:{}", self.key())
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
    /// The sender's id for the message (sealed; shared by a group
    /// message's copies).
    pub client_id: String,
    /// When it was sent (the server's clock; not authenticated).
    pub sent_at: i64,
    /// When it disappears.
    pub expires_at: Option<i64>,
    /// The server's id of my copy (incoming), to report views.
    pub server_id: Option<i64>,
    /// The content.
    pub content: Content,
    /// Delivery state.
    pub delivery: Delivery,
    /// Set when the server's routing disagreed with what the sender sealed
    /// (another conversation, a dropped expiry, a changed view-once flag,
    /// a sender this device does not know as a group member): the message
    /// is authentic and filed by what was sealed, but the server lied about
    /// it. In plain words, for people.
    #[serde(default)]
    pub warning: Option<String>,
    /// What later messages said about this one: reactions, receipts, an
    /// edit, whether I have read it.
    #[serde(default)]
    pub annotations: Annotations,
}

/// What later messages said about a message (spec section 5's receipts,
/// reactions and edits), and whether this device has shown it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotations {
    /// Each person's reaction (user id: emoji).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, String>,
    /// For a message I sent: how far it got with each recipient (user id:
    /// delivered or read).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub receipts: BTreeMap<String, ReceiptKind>,
    /// When its sender last edited it (the content is the new text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// For a message I received: I have seen it (a read receipt went out,
    /// if receipts are on).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read: bool,
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

impl Message {
    /// The bytes the profile keeps (the local id is the row's own).
    pub(crate) fn to_stored(&self) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(self).map_err(|_| ClientError::Unsupported("message cannot be encoded"))
    }

    /// A message read back from the profile.
    pub(crate) fn from_stored(local_id: i64, bytes: &[u8]) -> Result<Self, ClientError> {
        let message: Message =
            serde_json::from_slice(bytes).map_err(|_| ClientError::CorruptStore("message"))?;
        Ok(Message {
            local_id,
            ..message
        })
    }
}

/// The key that makes a message unique in the history: its sender and id.
pub(crate) fn dedup_key(sender: &str, client_id: &str) -> String {
    format!("{sender}:{client_id}")
}

impl Client {
    /// Waits until every message this client has sent is marked sent in
    /// the profile. A send returns once the server holds its message; taking
    /// it out of the outbox is written afterwards, off the caller's path.
    /// Reads of the history wait for it themselves; call this before the
    /// process ends (otherwise the next run posts the message again, which
    /// the server de-duplicates by its client id).
    pub async fn settle(&self) {
        self.in_flight.settle().await;
    }

    /// A conversation's history, oldest first, without expired messages.
    /// (Waits for the "sent" marks of this client's sends, see
    /// [`Client::settle`].)
    pub async fn history(&self, conversation: &Conversation) -> Result<Vec<Message>, ClientError> {
        self.settle().await;
        self.stored_history(conversation).await
    }

    /// The history as stored now, without waiting for "sent" marks: for a
    /// caller holding the profile's lock, which a mark needs (waiting for
    /// one there would never end).
    pub(crate) async fn stored_history(
        &self,
        conversation: &Conversation,
    ) -> Result<Vec<Message>, ClientError> {
        let stored = self.vault.messages(&conversation.key(), now()).await?;
        stored
            .into_iter()
            .map(|row| Message::from_stored(row.local_id, &row.body))
            .collect()
    }

    /// One stored message (after this client's "sent" marks, like
    /// [`Client::history`]).
    pub async fn message(&self, local_id: i64) -> Result<Message, ClientError> {
        self.settle().await;
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

    pub(crate) async fn find_message(
        &self,
        dedup: &str,
    ) -> Result<Option<(i64, Message)>, ClientError> {
        find_message(&self.vault, dedup).await
    }

    /// Adds a history entry to a batch (ignored if its key is stored).
    pub(crate) fn stage_message(
        &self,
        batch: &mut crate::vault::Batch,
        message: &Message,
    ) -> Result<(), ClientError> {
        let conversation = if message.content.is_annotation() {
            message.conversation.annotations_key()
        } else {
            message.conversation.key()
        };
        self.vault.insert_message(
            batch,
            &conversation,
            &dedup_key(&message.sender, &message.client_id),
            message.sent_at,
            message.expires_at,
            &message.to_stored()?,
        )
    }
}

/// The history entry with this de-duplication key, if there is one.
pub(crate) async fn find_message(
    vault: &crate::vault::Vault,
    dedup: &str,
) -> Result<Option<(i64, Message)>, ClientError> {
    let Some(local_id) = vault.message_id(dedup).await? else {
        return Ok(None);
    };
    let stored = vault.message(local_id).await?;
    let message = Message::from_stored(local_id, &stored.body)?;
    Ok(Some((local_id, message)))
}
