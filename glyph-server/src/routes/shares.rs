//! The one-view share relay API (spec section 7). The server stores the
//! blob `iv || AES-256-GCM(...)` and never sees the key, which travels in
//! the link's fragment. Reading a share's metadata spends nothing; only
//! `POST .../open` spends a view, in one conditional update, so with one
//! view left exactly one of any number of concurrent opens gets the blob.
//! No authentication: anyone with the link may open; creation is
//! rate-limited per client address.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64, Encoding};
use glyph_api::{CreateShareRequest, OpenedShare, ShareCreated, ShareInfo};
use glyph_crypto::{SHARE_IV_LEN, TAG_LEN, generate_share_code, validate_share_code};

use crate::app::{AppState, ClientAddr};
use crate::error::ApiError;
use crate::input::{ApiJson, ApiPath, now};
use crate::limits::Scope;
use crate::store::StoreError;

/// Default and longest lifetime of a share (spec section 7): 24 h.
pub(crate) const MAX_SHARE_TTL_SECS: u64 = 24 * 3600;
/// Shortest lifetime accepted.
const MIN_SHARE_TTL_SECS: u64 = 60;
/// Fresh codes drawn before giving up on collisions (a collision among
/// 16-character codes is already astronomically unlikely).
const CODE_ATTEMPTS: usize = 4;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/shares", post(create))
        .route("/v1/shares/{code}", get(info))
        .route("/v1/shares/{code}/open", post(open))
}

/// The answer for a share that is not (or no longer) there.
pub(crate) fn share_gone() -> ApiError {
    ApiError::NotFound(
        "share_gone",
        "this share does not exist: it was already opened, or it expired".into(),
    )
}

/// Checks a code from a URL.
pub(crate) fn checked_code(code: &str) -> Result<&str, ApiError> {
    validate_share_code(code)
        .map(|()| code)
        .map_err(|_| ApiError::bad_field("code", "not a share code"))
}

/// The base of links to this server: `--public-url`, else the request's
/// Host over http.
pub(crate) fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config().public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| state.config().listen.to_string(), str::to_owned);
    format!("http://{host}")
}

async fn create(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateShareRequest>,
) -> Result<(StatusCode, Json<ShareCreated>), ApiError> {
    state.limit(Scope::Share, &addr)?;
    let config = state.config();
    let max = config.max_share_bytes;
    // Four base64 characters carry three bytes: refuse oversized text
    // before decoding it.
    if request.blob.len() / 4 * 3 > max + 3 {
        return Err(ApiError::PayloadTooLarge(format!(
            "a share blob may hold at most {max} bytes"
        )));
    }
    let blob = Base64::decode_vec(&request.blob)
        .ok()
        .filter(|b| Base64::encode_string(b) == request.blob)
        .ok_or_else(|| ApiError::bad_field("blob", "not canonical base64"))?;
    if blob.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "a share blob may hold at most {max} bytes"
        )));
    }
    if blob.len() < SHARE_IV_LEN + TAG_LEN {
        return Err(ApiError::bad_field(
            "blob",
            "too short to be iv || ciphertext || tag",
        ));
    }
    let views = request.views.unwrap_or(1);
    if views == 0 || views > config.max_share_views {
        return Err(ApiError::bad_field(
            "views",
            format!("must be 1 to {}", config.max_share_views),
        ));
    }
    let ttl = request.ttl_secs.unwrap_or(MAX_SHARE_TTL_SECS);
    if !(MIN_SHARE_TTL_SECS..=MAX_SHARE_TTL_SECS).contains(&ttl) {
        return Err(ApiError::bad_field(
            "ttl_secs",
            format!("must be {MIN_SHARE_TTL_SECS} to {MAX_SHARE_TTL_SECS} seconds"),
        ));
    }
    let now = now();
    let expires_at = now + i64::try_from(ttl).unwrap_or(0);
    for _ in 0..CODE_ATTEMPTS {
        let code = generate_share_code().map_err(|e| {
            ApiError::internal(format!("the OS random number generator failed: {e}"))
        })?;
        match state
            .store()
            .create_share(&code, &blob, views, now, expires_at)
            .await
        {
            Ok(()) => {
                let url = format!("{}/s/{code}", public_base(&state, &headers));
                return Ok((
                    StatusCode::CREATED,
                    Json(ShareCreated {
                        code,
                        url,
                        views,
                        expires_at,
                    }),
                ));
            }
            Err(StoreError::ShareCodeTaken) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!(
        "no free share code after {CODE_ATTEMPTS} draws"
    )))
}

async fn info(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<ShareInfo>, ApiError> {
    let code = checked_code(&code)?;
    let (views_left, expires_at) = state
        .store()
        .share_info(code, now())
        .await?
        .ok_or_else(share_gone)?;
    Ok(Json(ShareInfo {
        views_left,
        expires_at,
    }))
}

async fn open(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<([(header::HeaderName, &'static str); 1], Json<OpenedShare>), ApiError> {
    let code = checked_code(&code)?;
    let (blob, views_left) = state
        .store()
        .open_share(code, now())
        .await?
        .ok_or_else(share_gone)?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(OpenedShare {
            blob: Base64::encode_string(&blob),
            views_left,
        }),
    ))
}
