//! What travels inside sealed envelopes (spec section 5): UTF-8 JSON,
//! `{"type":"text","body":...}` or the media descriptor. Unknown fields are
//! ignored and unknown types kept as [`Content::Unknown`]. Two local-only
//! kinds record what happened on this device.

use serde::{Deserialize, Serialize};

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
    /// A type this version does not know.
    #[serde(other)]
    Unknown,
}

impl Content {
    /// The content as the bytes sealed into an envelope.
    pub(crate) fn to_wire(&self) -> Result<Vec<u8>, crate::ClientError> {
        serde_json::to_vec(self)
            .map_err(|_| crate::ClientError::Unsupported("content cannot be encoded"))
    }

    /// Reads sealed bytes; anything that is not a JSON object of a known
    /// shape is [`Content::Unknown`].
    pub(crate) fn from_wire(bytes: &[u8]) -> Content {
        serde_json::from_slice(bytes).unwrap_or(Content::Unknown)
    }

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
            Content::Viewed { name, .. } => format!("[view-once file {name}, viewed]"),
            Content::Undecryptable { reason } => format!("[could not decrypt: {reason}]"),
            Content::Unknown => "[a message of a type this version does not know]".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_spec_shapes_round_trip_and_unknown_fields_are_ignored() {
        let text = Content::from_wire(br#"{"type":"text","body":"hi","extra":1}"#);
        assert_eq!(text, Content::Text { body: "hi".into() });
        let media = Content::from_wire(
            br#"{"type":"media","path":"media/u/0","key":"k","nonce":"n","name":"a.png","mime":"image/png","size":3,"sha256":"ab","view_once":true}"#,
        );
        assert!(matches!(media, Content::Media(ref m) if m.view_once && m.size == 3));
        assert_eq!(
            Content::from_wire(br#"{"type":"poll","q":"?"}"#),
            Content::Unknown
        );
        assert_eq!(Content::from_wire(b"not json"), Content::Unknown);
        let wire = Content::Text { body: "x".into() }.to_wire().unwrap();
        assert_eq!(wire, br#"{"type":"text","body":"x"}"#);
    }
}
