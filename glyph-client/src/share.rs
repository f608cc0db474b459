//! One-view shares (spec section 7) from Rust: seal with AES-256-GCM here,
//! upload only the blob, and make the link whose fragment holds the key;
//! open a link by spending one view and decrypting. No account is needed.

use base64ct::{Base64, Encoding};
use glyph_api::{CreateShareRequest, OpenedShare, ShareCreated};
use glyph_crypto::{ShareKey, ShareLink};

use crate::error::ClientError;

/// The largest secret the relay takes by default (1 MiB, minus the IV and tag).
pub const MAX_SHARE_BYTES: usize = 1024 * 1024 - 28;

/// Makes a share of `secret` on the relay at `server`, openable `views`
/// times for `ttl_secs`. Returns the link (which holds the key) and when it
/// expires.
pub async fn create_share(
    server: &str,
    secret: &[u8],
    views: u32,
    ttl_secs: u64,
) -> Result<(ShareLink, i64), ClientError> {
    if secret.len() > MAX_SHARE_BYTES {
        return Err(ClientError::FileTooLarge {
            size: secret.len() as u64,
            limit: MAX_SHARE_BYTES as u64,
        });
    }
    let key = ShareKey::generate()?;
    let blob = key.seal(secret)?;
    let request = CreateShareRequest {
        blob: Base64::encode_string(&blob),
        views: Some(views),
        ttl_secs: Some(ttl_secs),
    };
    let response = crate::http::plain_http()?
        .post(format!("{}/v1/shares", server.trim_end_matches('/')))
        .json(&request)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(crate::http::refusal(response).await);
    }
    let created: ShareCreated = response
        .json()
        .await
        .map_err(|e| ClientError::BadResponse(e.to_string()))?;
    // The link points at the server this call talked to, never at an
    // address the server names (it could send the key's holder elsewhere).
    Ok((
        ShareLink::new(server.trim_end_matches('/'), &created.code, key)?,
        created.expires_at,
    ))
}

/// Opens a share link, spending one view. Returns the secret and the views
/// left. The link's server is used as it is: the key never leaves here.
pub async fn open_share(link: &str) -> Result<(Vec<u8>, u32), ClientError> {
    let link = ShareLink::parse(link)?;
    let url = format!("{}/v1/shares/{}/open", link.base(), link.code());
    let response = crate::http::plain_http()?
        .post(url)
        .json(&serde_json::json!({}))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(crate::http::refusal(response).await);
    }
    let opened: OpenedShare = response
        .json()
        .await
        .map_err(|e| ClientError::BadResponse(e.to_string()))?;
    let blob = Base64::decode_vec(&opened.blob)
        .map_err(|_| ClientError::BadResponse("the blob is not base64".into()))?;
    Ok((link.key().open(&blob)?, opened.views_left))
}
