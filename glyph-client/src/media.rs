//! Files (spec section 6): sealed on this device under a fresh key, checked
//! against the server's size limit before uploading, uploaded with progress,
//! and described inside the sealed message. On receipt the blob is
//! downloaded, opened and checked against the SHA-256 its sender sealed;
//! a view-once file is reported viewed (the server deletes the blob) and
//! its key forgotten here.

use std::collections::BTreeSet;
use std::path::Path;

use base64ct::{Base64, Encoding};
use glyph_crypto::{MediaKey, media_sha256};

use crate::client::{Client, records};
use crate::content::{Content, MediaDescriptor};
use crate::error::ClientError;
use crate::http::Progress;
use crate::messaging::{Conversation, Message, SendOptions};

/// The largest file the protocol's servers accept by default (25 MiB);
/// the server's own limit is asked for before uploading.
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

/// A MIME type from a file name's extension (for display; not trusted).
fn guess_mime(name: &str) -> &'static str {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

impl Client {
    /// Seals and sends a file's bytes to a conversation.
    pub async fn send_media(
        &self,
        conversation: &Conversation,
        name: &str,
        file: &[u8],
        view_once: bool,
        progress: Option<Progress>,
    ) -> Result<Message, ClientError> {
        // Checked here first: a server refusing an upload mid-stream can
        // only close the connection, which reads as a network error.
        let usage = self.api.media_usage().await?;
        let size = file.len() as u64;
        if size > usage.max_file_bytes.min(MAX_FILE_BYTES) {
            return Err(ClientError::FileTooLarge {
                size,
                limit: usage.max_file_bytes.min(MAX_FILE_BYTES),
            });
        }
        let blob_size = size + glyph_crypto::TAG_LEN as u64;
        if usage.used_bytes + blob_size > usage.quota_bytes {
            return Err(ClientError::QuotaExceeded {
                used: usage.used_bytes,
                quota: usage.quota_bytes,
            });
        }
        let key = MediaKey::generate()?;
        let blob = key.seal(file)?;
        let uploaded = self.api.upload_media(blob, progress).await?;
        let descriptor = MediaDescriptor {
            path: uploaded.path.clone(),
            key: Base64::encode_string(key.key_bytes()),
            nonce: Base64::encode_string(key.nonce()),
            name: name.to_owned(),
            mime: guess_mime(name).to_owned(),
            size: file.len() as u64,
            sha256: hex::encode(media_sha256(file)),
            view_once,
        };
        let options = SendOptions {
            view_once,
            media_path: Some(uploaded.path),
            ..SendOptions::default()
        };
        self.send(conversation, Content::Media(descriptor), options)
            .await
    }

    /// Reads a file from disk and sends it.
    pub async fn send_file(
        &self,
        conversation: &Conversation,
        path: &Path,
        view_once: bool,
        progress: Option<Progress>,
    ) -> Result<Message, ClientError> {
        let size = std::fs::metadata(path)
            .map_err(|e| ClientError::local_file(path, &e))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(ClientError::FileTooLarge {
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        let file = zeroize::Zeroizing::new(
            std::fs::read(path).map_err(|e| ClientError::local_file(path, &e))?,
        );
        let name = path
            .file_name()
            .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
        self.send_media(conversation, &name, &file, view_once, progress)
            .await
    }

    async fn pending_view_reports(&self) -> Result<BTreeSet<i64>, ClientError> {
        Ok(self
            .vault
            .get_json(records::PENDING_VIEWS)
            .await?
            .unwrap_or_default())
    }

    /// Reports the view-once views not yet reported (the server then
    /// deletes their blobs). A refusal means the server holds no such
    /// view-once copy: nothing more to report. Run by every sync.
    pub(crate) async fn flush_view_reports(&self) -> Result<(), ClientError> {
        for server_id in self.pending_view_reports().await? {
            match self.api.viewed(server_id).await {
                Ok(_)
                | Err(ClientError::Api {
                    status: 400..=499, ..
                }) => {}
                Err(err) => return Err(err),
            }
            let _guard = self.lock.acquire().await?;
            let mut pending = self.pending_view_reports().await?;
            pending.remove(&server_id);
            self.vault.put_now(records::PENDING_VIEWS, &pending).await?;
        }
        Ok(())
    }

    /// Downloads, opens and checks a media message's file. A view-once file
    /// I received then has its key forgotten here (a second call fails with
    /// [`ClientError::AlreadyViewed`]) and is reported viewed, so the
    /// server deletes the blob (retried by later syncs if that fails).
    pub async fn open_media(
        &self,
        local_id: i64,
        progress: Option<Progress>,
    ) -> Result<(MediaDescriptor, Vec<u8>), ClientError> {
        let message = self.message(local_id).await?;
        let descriptor = match &message.content {
            Content::Media(descriptor) => descriptor.clone(),
            Content::Viewed { .. } => return Err(ClientError::AlreadyViewed),
            _ => return Err(ClientError::Unsupported("this message holds no file")),
        };
        let key: [u8; 32] = Base64::decode_vec(&descriptor.key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or(ClientError::Integrity)?;
        let nonce: [u8; 24] = Base64::decode_vec(&descriptor.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(ClientError::Integrity)?;
        let blob = match self
            .api
            .download_media(&descriptor.path, MAX_FILE_BYTES + 16, progress)
            .await
        {
            Err(ClientError::Api { status: 410, .. }) if descriptor.view_once => {
                return Err(ClientError::AlreadyViewed);
            }
            other => other?,
        };
        let file = MediaKey::from_parts(key, nonce).open(&blob)?;
        if hex::encode(media_sha256(&file)) != descriptor.sha256 {
            return Err(ClientError::Integrity);
        }
        if descriptor.view_once && !message.outgoing {
            // Forgotten here first, whatever the server does: its
            // `view_once` flag is only a hint, the sealed one is what counts.
            let _guard = self.lock.acquire().await?;
            self.replace_content(
                &message,
                Content::Viewed {
                    name: descriptor.name.clone(),
                    mime: descriptor.mime.clone(),
                },
            )
            .await?;
            if let Some(server_id) = message.server_id {
                let mut pending = self.pending_view_reports().await?;
                pending.insert(server_id);
                self.vault.put_now(records::PENDING_VIEWS, &pending).await?;
            }
        }
        if let Err(err) = self.flush_view_reports().await {
            tracing::warn!(error = %err, "reporting a view failed; will retry");
        }
        Ok((descriptor, file))
    }
}
