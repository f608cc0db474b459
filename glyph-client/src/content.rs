//! What travels inside sealed envelopes (spec section 5): UTF-8 JSON,
//! `{"type":"text","body":...}`, the media descriptor, the optional types
//! that refer to an earlier message by its sealed `id` (`receipt`,
//! `reaction`, `edit`, `delete`: "annotations", applied to their target
//! rather than shown as messages), or a type of our own (`group`, the
//! sealed roster announcement). Unknown fields are ignored and unknown
//! types kept as [`Content::Unknown`]. Local-only kinds record what
//! happened on this device.
//!
//! Every content object also carries, under the seal, the fields a reader
//! checks the server's routing against ([`Sealed`]): its `id`, the
//! conversation it belongs to (`to`) and its expiry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::messaging::Conversation;

/// A media descriptor: what the recipient needs to fetch and open a blob.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaDescriptor {
    /// Where the blob is on the server (`media/<owner>/<name>`).
    pub path: String,
    /// The XChaCha20-Poly1305 key (base64).
    pub key: String,
    /// The nonce (base64).
    pub nonce: String,
    /// The file's name.
    pub name: String,
    /// Its MIME type.
    pub mime: String,
    /// Its size in bytes (plaintext).
    pub size: u64,
    /// SHA-256 of the plaintext, lowercase hex.
    pub sha256: String,
    /// Whether it may be viewed once.
    pub view_once: bool,
}

impl std::fmt::Debug for MediaDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaDescriptor")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("mime", &self.mime)
            .field("size", &self.size)
            .field("view_once", &self.view_once)
            .finish_non_exhaustive()
    }
}

/// A member's sealed announcement of a group's roster (and name): how the
/// other members learn who was added or removed from someone they trust,
/// rather than from the server's roster alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupUpdate {
    /// The group's name, when this update sets it.
    #[serde(default)]
    pub name: Option<String>,
    /// The roster after the change, as the announcer sees it.
    pub members: Vec<String>,
    /// Members the announcer added.
    #[serde(default)]
    pub added: Vec<String>,
    /// Members the announcer removed.
    #[serde(default)]
    pub removed: Vec<String>,
}

/// What a receipt says of the messages it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// They reached a device of the recipient.
    Delivered,
    /// The recipient has seen them.
    Read,
}

/// A message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        body: String,
    },
    /// A file (spec section 6).
    Media(MediaDescriptor),
    /// A group's roster or name changed (sealed by the member who changed it).
    Group(GroupUpdate),
    /// Annotation: these messages of mine were delivered to, or read by,
    /// the receipt's sender.
    Receipt {
        /// Delivered or read.
        kind: ReceiptKind,
        /// The sealed ids of the messages.
        ids: Vec<String>,
    },
    /// Annotation: the sender's reaction to a message of the conversation
    /// (an empty emoji takes it back).
    Reaction {
        /// The message's sealed id.
        target: String,
        /// The reaction.
        emoji: String,
    },
    /// Annotation: the sender's new text for one of their own messages.
    Edit {
        /// The message's sealed id.
        target: String,
        /// The new text.
        body: String,
    },
    /// Annotation: the sender deleted one of their own messages for
    /// everyone.
    Delete {
        /// The message's sealed id.
        target: String,
    },
    /// Local only: a message its sender deleted for everyone.
    Deleted,
    /// Local only: a view-once file that was viewed; its key is forgotten.
    Viewed {
        /// The file's name.
        name: String,
        /// Its MIME type.
        mime: String,
    },
    /// Local only: a message this device could not open (e.g. one sent to
    /// a session an earlier device held).
    Undecryptable {
        /// Why.
        reason: String,
    },
    /// Local only: something this device noticed about the conversation
    /// (a contact linked a new device, say).
    Notice {
        /// What happened, in plain words.
        text: String,
    },
    /// Local only: a message refused before it was opened, because it
    /// cannot be from whom it claims (keys that are not the sender's, a
    /// replayed first message). Nothing of it was shown or kept.
    Refused {
        /// Why, in plain words.
        reason: String,
    },
    /// A type this version does not know.
    #[serde(other)]
    Unknown,
}

impl Content {
    /// A one-line summary for people.
    pub fn summary(&self) -> String {
        match self {
            Content::Text { body } => body.clone(),
            Content::Media(media) => format!(
                "[{}file {} ({}, {} bytes)]",
                if media.view_once { "view-once " } else { "" },
                media.name,
                media.mime,
                media.size
            ),
            Content::Group(update) => update.summary(),
            Content::Viewed { name, .. } => format!("[view-once file {name}, viewed]"),
            Content::Undecryptable { reason } => format!("[could not decrypt: {reason}]"),
            Content::Refused { reason } => format!("[refused: {reason}]"),
            Content::Notice { text } => format!("[{text}]"),
            Content::Receipt { kind, ids } => format!(
                "[{} {} message{}]",
                match kind {
                    ReceiptKind::Delivered => "received",
                    ReceiptKind::Read => "read",
                },
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            ),
            Content::Reaction { emoji, .. } if emoji.is_empty() => "[took a reaction back]".into(),
            Content::Reaction { emoji, .. } => format!("[reacted {emoji}]"),
            Content::Edit { body, .. } => format!("[edited: {body}]"),
            Content::Delete { .. } => "[deleted a message]".into(),
            Content::Deleted => "[deleted]".into(),
            Content::Unknown => "[a message of a type this version does not know]".into(),
        }
    }

    /// Whether this content refers to another message (receipt, reaction,
    /// edit, delete) instead of being one: it is applied to its target, not
    /// kept in the history.
    pub fn is_annotation(&self) -> bool {
        matches!(
            self,
            Content::Receipt { .. }
                | Content::Reaction { .. }
                | Content::Edit { .. }
                | Content::Delete { .. }
        )
    }

    /// Checks an annotation's fields as they arrived: ids of 1 to 64
    /// characters, at most [`MAX_RECEIPT_IDS`] in a receipt, a reaction of
    /// at most [`MAX_REACTION_CHARS`] characters.
    pub(crate) fn well_formed(&self) -> bool {
        let id_ok = |id: &String| (1..=MAX_ID_LEN).contains(&id.chars().count());
        match self {
            Content::Receipt { ids, .. } => {
                !ids.is_empty() && ids.len() <= MAX_RECEIPT_IDS && ids.iter().all(id_ok)
            }
            Content::Reaction { target, emoji } => {
                id_ok(target) && emoji.chars().count() <= MAX_REACTION_CHARS
            }
            Content::Edit { target, .. } | Content::Delete { target } => id_ok(target),
            _ => true,
        }
    }
}

/// Most message ids one receipt names.
pub const MAX_RECEIPT_IDS: usize = 1000;
/// Longest reaction, in characters (an emoji with its modifiers, or a word).
pub const MAX_REACTION_CHARS: usize = 16;

impl GroupUpdate {
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("named the group \"{name}\""));
        }
        if !self.added.is_empty() {
            parts.push(format!("added {}", self.added.join(", ")));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", self.removed.join(", ")));
        }
        if parts.is_empty() {
            parts.push(format!("listed {} members", self.members.len()));
        }
        format!("[group: {}]", parts.join("; "))
    }
}

/// Longest sealed `id` (spec section 5).
const MAX_ID_LEN: usize = 64;

/// A content object with the fields sealed beside it. The sender writes
/// them all; a reader takes each one that is present and well-formed, and
/// falls back on the server's routing (a hint) for the rest, since other
/// implementations may not send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// The content.
    pub content: Content,
    /// The sender's id for the message (`"id"`).
    pub id: Option<String>,
    /// The conversation it belongs to (`"to"`): `{"peer":id}` or `{"group":id}`.
    pub to: Option<Conversation>,
    /// When it disappears (`"expires_at"`): `Some(None)` when the sender
    /// sealed `null` (never), `None` when it did not say.
    pub expires_at: Option<Option<i64>>,
}

impl Sealed {
    /// The bytes to seal.
    pub(crate) fn to_wire(&self) -> Result<Vec<u8>, crate::ClientError> {
        let encode = |_| crate::ClientError::Unsupported("content cannot be encoded");
        let mut object = match serde_json::to_value(&self.content).map_err(encode)? {
            Value::Object(object) => object,
            _ => return Err(crate::ClientError::Unsupported("content is not an object")),
        };
        if let Some(id) = &self.id {
            object.insert("id".into(), Value::String(id.clone()));
        }
        if let Some(to) = &self.to {
            object.insert("to".into(), serde_json::to_value(to).map_err(encode)?);
        }
        if let Some(expires_at) = self.expires_at {
            object.insert("expires_at".into(), expires_at.into());
        }
        serde_json::to_vec(&Value::Object(object)).map_err(encode)
    }

    /// Reads sealed bytes; anything that is not a JSON object of a known
    /// shape is [`Content::Unknown`], and malformed sealed fields are
    /// treated as absent.
    pub(crate) fn from_wire(bytes: &[u8]) -> Sealed {
        let object = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(object)) => object,
            _ => Map::new(),
        };
        let content = serde_json::from_value(Value::Object(object.clone()))
            .ok()
            .filter(|content: &Content| !is_local_only(content) && content.well_formed())
            .unwrap_or(Content::Unknown);
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| (1..=MAX_ID_LEN).contains(&id.chars().count()))
            .map(str::to_owned);
        let to = object
            .get("to")
            .and_then(|to| serde_json::from_value::<Conversation>(to.clone()).ok());
        let expires_at = match object.get("expires_at") {
            Some(Value::Null) => Some(None),
            Some(value) => value.as_i64().map(Some),
            None => None,
        };
        Sealed {
            content,
            id,
            to,
            expires_at,
        }
    }
}

/// Kinds that only this device writes about itself: a peer cannot send them.
fn is_local_only(content: &Content) -> bool {
    matches!(
        content,
        Content::Viewed { .. }
            | Content::Undecryptable { .. }
            | Content::Refused { .. }
            | Content::Notice { .. }
            | Content::Deleted
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn content(bytes: &[u8]) -> Content {
        Sealed::from_wire(bytes).content
    }

    #[test]
    fn the_spec_shapes_round_trip_and_unknown_fields_are_ignored() {
        let text = content(br#"{"type":"text","body":"hi","extra":1}"#);
        assert_eq!(text, Content::Text { body: "hi".into() });
        let media = content(
            br#"{"type":"media","path":"media/u/0","key":"k","nonce":"n","name":"a.png","mime":"image/png","size":3,"sha256":"ab","view_once":true}"#,
        );
        assert!(matches!(media, Content::Media(ref m) if m.view_once && m.size == 3));
        assert_eq!(content(br#"{"type":"poll","q":"?"}"#), Content::Unknown);
        assert_eq!(content(b"not json"), Content::Unknown);
        let sealed = Sealed {
            content: Content::Text { body: "x".into() },
            id: None,
            to: None,
            expires_at: None,
        };
        let wire: Value = serde_json::from_slice(&sealed.to_wire().unwrap()).unwrap();
        assert_eq!(wire, serde_json::json!({"type": "text", "body": "x"}));
    }

    #[test]
    fn sealed_fields_round_trip() {
        let sealed = Sealed {
            content: Content::Text { body: "x".into() },
            id: Some("0b6f".into()),
            to: Some(Conversation::Group("9f3c".into())),
            expires_at: Some(None),
        };
        let wire = sealed.to_wire().unwrap();
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.contains(r#""to":{"group":"9f3c"}"#), "{text}");
        assert!(text.contains(r#""expires_at":null"#), "{text}");
        assert_eq!(Sealed::from_wire(&wire), sealed);
        let peer =
            Sealed::from_wire(br#"{"type":"text","body":"","to":{"peer":"abc"},"expires_at":12}"#);
        assert_eq!(peer.to, Some(Conversation::Peer("abc".into())));
        assert_eq!(peer.expires_at, Some(Some(12)));
        assert_eq!(peer.id, None);
    }

    #[test]
    fn malformed_sealed_fields_count_as_absent() {
        let long_id = format!(r#"{{"type":"text","body":"","id":"{}"}}"#, "x".repeat(65));
        for bytes in [
            long_id.as_bytes(),
            br#"{"type":"text","body":"","id":""}"#,
            br#"{"type":"text","body":"","id":5,"to":"bob","expires_at":"soon"}"#,
            br#"{"type":"text","body":"","to":{"mars":"x"},"expires_at":1.5}"#,
        ] {
            let sealed = Sealed::from_wire(bytes);
            assert_eq!(sealed.content, Content::Text { body: "".into() });
            assert_eq!(
                (sealed.id, sealed.to, sealed.expires_at),
                (None, None, None)
            );
        }
    }

    #[test]
    fn annotations_follow_the_spec_and_malformed_ones_are_unknown() {
        assert_eq!(
            content(br#"{"type":"receipt","kind":"read","ids":["a","b"]}"#),
            Content::Receipt {
                kind: ReceiptKind::Read,
                ids: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            content(br#"{"type":"reaction","target":"a","emoji":""}"#),
            Content::Reaction {
                target: "a".into(),
                emoji: "".into()
            }
        );
        assert!(content(br#"{"type":"edit","target":"a","body":"new"}"#).is_annotation());
        assert!(content(br#"{"type":"delete","target":"a"}"#).is_annotation());
        let too_many = format!(
            r#"{{"type":"receipt","kind":"read","ids":[{}]}}"#,
            vec![r#""x""#; MAX_RECEIPT_IDS + 1].join(",")
        );
        let long_target = format!(r#"{{"type":"delete","target":"{}"}}"#, "x".repeat(65));
        for bytes in [
            &br#"{"type":"receipt","kind":"seen","ids":["a"]}"#[..],
            br#"{"type":"receipt","kind":"read","ids":[]}"#,
            too_many.as_bytes(),
            br#"{"type":"reaction","target":"","emoji":"x"}"#,
            br#"{"type":"reaction","target":"a","emoji":"xxxxxxxxxxxxxxxxx"}"#,
            long_target.as_bytes(),
            br#"{"type":"edit","target":"a"}"#,
        ] {
            assert_eq!(
                content(bytes),
                Content::Unknown,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn a_peer_cannot_send_local_only_kinds() {
        for bytes in [
            &br#"{"type":"refused","reason":"x"}"#[..],
            br#"{"type":"undecryptable","reason":"x"}"#,
            br#"{"type":"viewed","name":"a","mime":"b"}"#,
            br#"{"type":"deleted"}"#,
        ] {
            assert_eq!(content(bytes), Content::Unknown);
        }
    }
}
