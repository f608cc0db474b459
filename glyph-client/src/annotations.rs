//! Annotations (spec section 5): receipts, reactions, edits and deletes.
//! Each is a sealed message that names an earlier one by its sealed `id`
//! and changes how that one is shown; it is not a history entry itself
//! (it is kept apart, so that each is applied once).
//!
//! Who may do what, decided from what the sender's keys authenticate and
//! never from the server's routing: an edit or delete is looked up among
//! the messages *of its own sender* (so it can only touch theirs); a
//! reaction applies to a message of the same conversation; a receipt
//! applies to my messages in a conversation its sender was part of.
//! Receipts go out automatically (delivered on receipt, read when the app
//! marks a conversation read) unless the profile turns them off.

use std::collections::BTreeMap;

use crate::client::{Client, records};
use crate::content::{Content, MAX_REACTION_CHARS, MAX_RECEIPT_IDS, ReceiptKind};
use crate::error::ClientError;
use crate::messaging::{Conversation, Message, SendOptions, dedup_key};
use crate::vault::Batch;

impl Client {
    /// Whether this profile sends receipts (on unless turned off).
    pub async fn receipts_enabled(&self) -> Result<bool, ClientError> {
        Ok(self
            .vault
            .get_json::<bool>(records::RECEIPTS)
            .await?
            .unwrap_or(true))
    }

    /// Turns sending receipts (delivered and read) on or off for this
    /// profile. Receipts others send are shown either way.
    pub async fn set_receipts(&self, on: bool) -> Result<(), ClientError> {
        self.vault.put_now(records::RECEIPTS, &on).await
    }

    /// Reacts to a message of a conversation (an empty `emoji` takes my
    /// reaction back). Returns the reaction as sent.
    pub async fn react(&self, local_id: i64, emoji: &str) -> Result<Message, ClientError> {
        let target = self.message(local_id).await?;
        if emoji.chars().count() > MAX_REACTION_CHARS {
            return Err(ClientError::Invalid(format!(
                "a reaction is at most {MAX_REACTION_CHARS} characters"
            )));
        }
        check_annotatable(&target)?;
        self.annotate(
            &target.conversation,
            Content::Reaction {
                target: target.client_id.clone(),
                emoji: emoji.to_owned(),
            },
        )
        .await
    }

    /// Replaces the text of a message I sent, for everyone in its
    /// conversation.
    pub async fn edit_message(&self, local_id: i64, body: &str) -> Result<Message, ClientError> {
        let target = self.message(local_id).await?;
        if !target.outgoing {
            return Err(ClientError::Unsupported(
                "only your own messages can be edited",
            ));
        }
        if !matches!(target.content, Content::Text { .. }) {
            return Err(ClientError::Unsupported("only text messages can be edited"));
        }
        if body.trim().is_empty() {
            return Err(ClientError::Invalid("the new text is empty".into()));
        }
        self.annotate(
            &target.conversation,
            Content::Edit {
                target: target.client_id.clone(),
                body: body.to_owned(),
            },
        )
        .await
    }

    /// Deletes a message I sent, for everyone in its conversation.
    pub async fn delete_message(&self, local_id: i64) -> Result<Message, ClientError> {
        let target = self.message(local_id).await?;
        if !target.outgoing {
            return Err(ClientError::Unsupported(
                "only your own messages can be deleted for everyone",
            ));
        }
        check_annotatable(&target)?;
        self.annotate(
            &target.conversation,
            Content::Delete {
                target: target.client_id.clone(),
            },
        )
        .await
    }

    /// Marks what I received in a conversation as read, and (receipts on)
    /// tells each sender. Returns how many messages were newly read.
    pub async fn mark_read(&self, conversation: &Conversation) -> Result<usize, ClientError> {
        let mut by_sender: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let _guard = self.lock.acquire().await?;
            let mut batch = Batch::default();
            // (Only received messages change here: a send's "sent" mark,
            // which needs this lock, is not waited for.)
            for mut message in self.stored_history(conversation).await? {
                if message.outgoing || message.annotations.read || !acknowledgeable(&message) {
                    continue;
                }
                message.annotations.read = true;
                self.stage_rewrite(&mut batch, &message)?;
                by_sender
                    .entry(message.sender.clone())
                    .or_default()
                    .push(message.client_id.clone());
            }
            self.vault.commit(batch).await?;
        }
        let read = by_sender.values().map(Vec::len).sum();
        self.send_receipts(ReceiptKind::Read, by_sender).await;
        Ok(read)
    }

    /// Tells the senders of newly received messages that they arrived
    /// (receipts on). Failures are logged: a receipt is a courtesy.
    pub(crate) async fn acknowledge(&self, received: &[Message]) {
        let mut by_sender: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for message in received
            .iter()
            .filter(|m| !m.outgoing && acknowledgeable(m))
        {
            by_sender
                .entry(message.sender.clone())
                .or_default()
                .push(message.client_id.clone());
        }
        self.send_receipts(ReceiptKind::Delivered, by_sender).await;
    }

    async fn send_receipts(&self, kind: ReceiptKind, by_sender: BTreeMap<String, Vec<String>>) {
        match self.receipts_enabled().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::warn!(error = %err, "reading the receipts setting failed");
                return;
            }
        }
        for (sender, ids) in by_sender {
            for ids in ids.chunks(MAX_RECEIPT_IDS) {
                let receipt = Content::Receipt {
                    kind,
                    ids: ids.to_vec(),
                };
                let to = Conversation::Peer(sender.clone());
                // Boxed: a send may sync (for a group's roster), which
                // acknowledges what it receives.
                let sent = Box::pin(self.send(&to, receipt, SendOptions::default())).await;
                if let Err(err) = sent {
                    tracing::warn!(error = %err, "sending a receipt failed");
                }
            }
        }
    }

    /// Sends an annotation and applies it here at once.
    async fn annotate(
        &self,
        conversation: &Conversation,
        content: Content,
    ) -> Result<Message, ClientError> {
        let sent = self
            .send(conversation, content, SendOptions::default())
            .await?;
        let _guard = self.lock.acquire().await?;
        let mut batch = Batch::default();
        self.apply_annotation(&mut batch, &sent).await?;
        self.vault.commit(batch).await?;
        Ok(sent)
    }

    /// Applies an annotation, received or sent from one of my devices, to
    /// its target, staging the change in `batch`. Returns the local id of
    /// the (first) message it changed, or `None` when it names nothing it
    /// may change here (then it is ignored).
    pub(crate) async fn apply_annotation(
        &self,
        batch: &mut Batch,
        note: &Message,
    ) -> Result<Option<i64>, ClientError> {
        match &note.content {
            Content::Edit { target, body } => {
                let Some(mut message) = self.own_target(note, target).await? else {
                    return Ok(None);
                };
                if !matches!(message.content, Content::Text { .. }) {
                    return Ok(None);
                }
                message.content = Content::Text { body: body.clone() };
                message.annotations.edited_at = Some(note.sent_at);
                self.stage_rewrite(batch, &message)?;
                Ok(Some(message.local_id))
            }
            Content::Delete { target } => {
                let Some(mut message) = self.own_target(note, target).await? else {
                    return Ok(None);
                };
                message.content = Content::Deleted;
                message.annotations.reactions.clear();
                message.annotations.edited_at = None;
                self.stage_rewrite(batch, &message)?;
                Ok(Some(message.local_id))
            }
            Content::Reaction { target, emoji } => {
                let Some(mut message) = self.conversation_target(note, target).await? else {
                    return Ok(None);
                };
                if emoji.is_empty() {
                    message.annotations.reactions.remove(&note.sender);
                } else {
                    message
                        .annotations
                        .reactions
                        .insert(note.sender.clone(), emoji.clone());
                }
                self.stage_rewrite(batch, &message)?;
                Ok(Some(message.local_id))
            }
            Content::Receipt { kind, ids } => {
                let mut first = None;
                for id in ids {
                    let Some((_, mut message)) =
                        self.find_message(&dedup_key(&self.user_id, id)).await?
                    else {
                        continue;
                    };
                    if !message.outgoing || !self.was_recipient(&note.sender, &message).await? {
                        continue;
                    }
                    let had = message.annotations.receipts.get(&note.sender).copied();
                    if had.is_some_and(|had| had >= *kind) {
                        continue;
                    }
                    message
                        .annotations
                        .receipts
                        .insert(note.sender.clone(), *kind);
                    self.stage_rewrite(batch, &message)?;
                    first = first.or(Some(message.local_id));
                }
                Ok(first)
            }
            _ => Ok(None),
        }
    }

    /// The message `target` of the annotation's own sender, in the same
    /// conversation (an edit or delete touches nothing else).
    async fn own_target(
        &self,
        note: &Message,
        target: &str,
    ) -> Result<Option<Message>, ClientError> {
        Ok(self
            .find_message(&dedup_key(&note.sender, target))
            .await?
            .map(|(_, message)| message)
            .filter(|message| message.conversation == note.conversation && !is_gone(message)))
    }

    /// The message `target` of anyone in the annotation's conversation.
    async fn conversation_target(
        &self,
        note: &Message,
        target: &str,
    ) -> Result<Option<Message>, ClientError> {
        let mut authors = vec![self.user_id.clone(), note.sender.clone()];
        match &note.conversation {
            Conversation::Peer(peer) => authors.push(peer.clone()),
            Conversation::Group(group) => authors.extend(self.roster(group, false).await?),
        }
        authors.sort();
        authors.dedup();
        for author in authors {
            if let Some((_, message)) = self.find_message(&dedup_key(&author, target)).await?
                && message.conversation == note.conversation
                && !is_gone(&message)
            {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// Whether `user` was one of the recipients of my `message`.
    async fn was_recipient(&self, user: &str, message: &Message) -> Result<bool, ClientError> {
        Ok(match &message.conversation {
            Conversation::Peer(peer) => peer == user,
            Conversation::Group(group) => {
                user != self.user_id
                    && (self.roster(group, false).await?.iter().any(|m| m == user)
                        || self.known_member(group, user).await?)
            }
        })
    }

    /// Stages a stored message's new body.
    fn stage_rewrite(&self, batch: &mut Batch, message: &Message) -> Result<(), ClientError> {
        self.vault.stage_update_known(
            batch,
            message.local_id,
            &dedup_key(&message.sender, &message.client_id),
            &message.to_stored()?,
        )
    }
}

/// Whether a message is one a receipt may acknowledge: something a person
/// sent and this device opened.
fn acknowledgeable(message: &Message) -> bool {
    !message.content.is_annotation()
        && !matches!(
            message.content,
            Content::Refused { .. }
                | Content::Undecryptable { .. }
                | Content::Notice { .. }
                | Content::Deleted
                | Content::Group(_)
        )
}

/// Deleted, or never opened: nothing to annotate.
fn is_gone(message: &Message) -> bool {
    matches!(
        message.content,
        Content::Deleted
            | Content::Refused { .. }
            | Content::Undecryptable { .. }
            | Content::Notice { .. }
    )
}

fn check_annotatable(target: &Message) -> Result<(), ClientError> {
    // Only a message someone wrote: not a receipt, reaction, edit or
    // delete (they have numbers too), a group update, a notice, or what
    // could not be opened.
    if is_gone(target)
        || target.content.is_annotation()
        || matches!(
            target.content,
            Content::Group(_)
                | Content::Notice { .. }
                | Content::Refused { .. }
                | Content::Undecryptable { .. }
        )
    {
        return Err(ClientError::Unsupported(
            "this message cannot be reacted to or deleted",
        ));
    }
    Ok(())
}

#[cfg(all(test, feature = "fuzzing"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use crate::messaging::Conversation;

    /// `mark_read` holds the profile's lock, and a send's "sent" mark
    /// waits for that lock: `mark_read` must not wait for the mark (it
    /// would wait forever). On one thread, the mark cannot take the lock
    /// before `mark_read` does.
    #[tokio::test(flavor = "current_thread")]
    async fn marking_read_does_not_wait_for_a_mark_that_needs_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let client = crate::fuzzing::offline_client(dir.path()).await.unwrap();
        let lock = client.lock.clone();
        client
            .in_flight
            .finish_later(client.in_flight.start("sent"), async move {
                let _guard = lock.acquire().await?;
                Ok(())
            });
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            client.mark_read(&Conversation::Peer("someone".into())),
        )
        .await
        .expect("mark_read waited for a mark that needs its lock");
        assert_eq!(read.unwrap(), 0);
        client.settle().await;
    }
}
