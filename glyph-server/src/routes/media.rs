//! Media: encrypted blobs (spec section 6) at `media/<owner>/<name>`.
//! The owner uploads (streamed, size-capped, quota reserved atomically
//! before a byte is stored) and deletes; any authenticated user may
//! download by path, since a blob is useless without the key inside the
//! sealed message. There is no listing. A view-once view or an expiry
//! removes a blob (see `messages`); a removed blob answers 410 Gone.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use glyph_api::{MediaUploaded, MediaUsage};

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::blobs::BlobError;
use crate::error::ApiError;
use crate::input::{ApiPath, check_user_id, now, random_32};

/// The slowest upload allowed, on average.
const MIN_UPLOAD_BYTES_PER_SEC: u64 = 32 * 1024;

/// Length of a blob's name: 32 lowercase hex digits (128 random bits).
const NAME_LEN: usize = 32;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/media",
            post(upload)
                .get(usage)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/v1/media/{owner}/{name}", get(download).delete(remove))
}

/// The storage path of a blob, from its checked parts.
pub(crate) fn media_path(owner: &str, name: &str) -> Result<String, ApiError> {
    check_user_id(owner)?;
    let valid_name =
        name.len() == NAME_LEN && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid_name {
        return Err(ApiError::bad_field(
            "name",
            "a media name is 32 lowercase hex digits",
        ));
    }
    Ok(format!("media/{owner}/{name}"))
}

/// Checks a `media/<owner>/<name>` path a message names: well formed and in
/// the sender's own folder.
pub(crate) fn check_message_media(path: &str, sender: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["media", owner, name] => {
            media_path(owner, name)?;
            if *owner == sender {
                Ok(())
            } else {
                Err(ApiError::bad_field(
                    "media_path",
                    "a message may only name media in the sender's own folder",
                ))
            }
        }
        _ => Err(ApiError::bad_field(
            "media_path",
            "must be media/<user id>/<name>",
        )),
    }
}

fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    headers
        .get(header::CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| ApiError::BadRequest("invalid_header", "bad Content-Length".into()))
        })
        .transpose()
}

async fn upload(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<MediaUploaded>), ApiError> {
    // The limit is on the file; its blob carries the 16-byte tag too.
    let max_file = state.config().max_media_bytes;
    let max = max_file + glyph_crypto::TAG_LEN as u64;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "a media file may hold at most {max_file} bytes (its sealed blob {max})"
        ))
    };
    // Reserve what the client declares, or the most an upload may hold;
    // the unused part goes back when the upload finishes.
    let reserve = match declared_length(&headers)? {
        Some(length) if length > max => return Err(too_large()),
        Some(length) => length,
        None => max,
    };
    let name = hex::encode(&random_32()?[..NAME_LEN / 2]);
    let path = media_path(&caller.user_id, &name)?;
    state
        .store()
        .reserve_media(
            &caller.user_id,
            &path,
            reserve,
            state.config().media_quota_bytes,
            now(),
        )
        .await?;
    // The body's deadline: the JSON one, plus a second per 32 KiB declared
    // (so a 25 MiB file may take 13 minutes, a trickle cannot hold on).
    let deadline = state.config().body_timeout()
        + std::time::Duration::from_secs(reserve / MIN_UPLOAD_BYTES_PER_SEC);
    let stored = state
        .blobs()
        .upload(&path, body, reserve, tokio::time::Instant::now() + deadline)
        .await;
    let size = match stored {
        Ok(size) => size,
        Err(err) => {
            state.store().abandon_media(&path).await?;
            return Err(match err {
                BlobError::TooLarge(_) => too_large(),
                BlobError::Body(message) => ApiError::BadRequest("upload_interrupted", message),
                BlobError::TimedOut => ApiError::RequestTimeout,
                BlobError::Full => ApiError::StorageFull,
                other => ApiError::internal(format!("storing a blob failed: {other}")),
            });
        }
    };
    state.store().finish_media(&path, size).await?;
    state
        .metrics()
        .media_bytes_stored
        .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    Ok((StatusCode::CREATED, Json(MediaUploaded { path, size })))
}

async fn usage(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<MediaUsage>, ApiError> {
    Ok(Json(MediaUsage {
        used_bytes: state.store().media_usage(&caller.user_id).await?,
        quota_bytes: state.config().media_quota_bytes,
        max_file_bytes: state.config().max_media_bytes,
    }))
}

async fn download(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath((owner, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let path = media_path(&owner, &name)?;
    let not_found = || ApiError::NotFound("unknown_media", "no such media".into());
    let row = state.store().media(&path).await?.ok_or_else(not_found)?;
    if row.removed_at.is_some() {
        return Err(ApiError::Gone(
            "media_removed",
            "this media was deleted (viewed once, expired or removed by its owner)".into(),
        ));
    }
    if !row.complete {
        return Err(not_found());
    }
    let stream = match state.blobs().download(&path).await {
        Ok(stream) => stream,
        Err(BlobError::NotFound) => return Err(not_found()),
        Err(err) => {
            return Err(ApiError::internal(format!(
                "reading the blob at {path} failed: {err}"
            )));
        }
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(row.size));
    Ok(response)
}

async fn remove(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((owner, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let path = media_path(&owner, &name)?;
    if owner != caller.user_id {
        return Err(ApiError::Forbidden(
            "not_owner",
            "only the uploader may delete a blob".into(),
        ));
    }
    let row = state.store().media(&path).await?;
    match row {
        None => Err(ApiError::NotFound("unknown_media", "no such media".into())),
        Some(row) if row.removed_at.is_some() => Ok(StatusCode::NO_CONTENT),
        Some(_) => {
            state.store().remove_media(&path, now()).await?;
            state.purge_removed_media().await;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
