//! Reading requests: JSON, path and query extractors whose every
//! rejection is an `ApiError`, strict base64 fields, the identifiers the
//! API takes (user ids, group ids, client ids, handles; each a documented
//! character set and length, checked at the edge, so the same input is
//! refused the same way on both backends), and the clock.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::ApiError;

/// `axum::Json`, with malformed bodies answered in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    /// Reads the body within `--body-timeout-secs`: a client trickling it
    /// is answered 408 instead of holding the request open.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let read = axum::Json::<T>::from_request(req, state);
        match tokio::time::timeout(state.config().body_timeout(), read).await {
            Ok(Ok(axum::Json(value))) => Ok(ApiJson(value)),
            Ok(Err(rejection)) => Err(json_rejection(rejection)),
            Err(_) => Err(ApiError::RequestTimeout),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the request body is too large".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        _ => ApiError::BadRequest("invalid_json", rejection.body_text()),
    }
}

/// `axum::extract::Path`, with malformed paths (say, invalid UTF-8 after
/// percent-decoding) answered in the API's error shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::BadRequest("invalid_path", rejection.body_text()))
    }
}

/// `axum::extract::Query`, with malformed query strings (a repeated key, a
/// value of the wrong type) answered in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::BadRequest("invalid_query", rejection.body_text()))
    }
}

/// Longest client id.
pub const MAX_CLIENT_ID_LEN: usize = 64;
/// Longest group id.
pub const MAX_GROUP_ID_LEN: usize = 64;

/// Checks a client id: 1 to 64 visible ASCII characters (`!` to `~`).
pub fn check_client_id(client_id: &str) -> Result<(), ApiError> {
    let valid = (1..=MAX_CLIENT_ID_LEN).contains(&client_id.len())
        && client_id.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_field(
            "client_id",
            "must be 1 to 64 visible ASCII characters (! to ~)",
        ))
    }
}

/// Checks a group id's shape: 1 to 64 characters of `A-Z a-z 0-9 _ -`
/// (the server makes 32 lowercase hex digits; older groups have 22
/// characters of base64url).
pub fn check_group_id(group_id: &str) -> Result<(), ApiError> {
    let valid = (1..=MAX_GROUP_ID_LEN).contains(&group_id.len())
        && group_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_field("group_id", "not a group id"))
    }
}

/// A device id from a path: a decimal `u32` of 1 or more.
pub fn check_device_id(text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| ApiError::bad_field("device_id", "must be an integer, 1 to 2^32-1"))
}

/// Canonical standard base64 of exactly `N` bytes.
pub fn b64_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N], ApiError> {
    let bytes = Base64::decode_vec(text).map_err(|_| ApiError::bad_field(field, "not base64"))?;
    if Base64::encode_string(&bytes) != text {
        return Err(ApiError::bad_field(field, "not canonical base64"));
    }
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::bad_field(field, format!("must be {N} bytes, got {}", bytes.len())))
}

/// Standard base64 text of bytes.
pub fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// The user id of a signing key: its unpadded base64url.
pub fn user_id_of(sign_pub: &[u8; 32]) -> String {
    Base64UrlUnpadded::encode_string(sign_pub)
}

/// Checks a user id's shape (43 characters of base64url of 32 bytes).
pub fn check_user_id(user_id: &str) -> Result<(), ApiError> {
    match Base64UrlUnpadded::decode_vec(user_id) {
        Ok(bytes) if bytes.len() == 32 && Base64UrlUnpadded::encode_string(&bytes) == user_id => {
            Ok(())
        }
        _ => Err(ApiError::bad_field("user_id", "not a user id")),
    }
}

/// Normalises and checks a handle: 3-32 of `a-z 0-9 _ . -`, starting with
/// a letter, compared without case.
pub fn normalize_handle(handle: &str) -> Result<String, ApiError> {
    let lower = handle.to_ascii_lowercase();
    let valid = (3..=32).contains(&lower.len())
        && lower.starts_with(|c: char| c.is_ascii_lowercase())
        && lower.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if valid {
        Ok(lower)
    } else {
        Err(ApiError::Unprocessable(
            "invalid_handle",
            "a handle is 3-32 characters of a-z, 0-9, _ . -, starting with a letter".into(),
        ))
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 32 bytes from the OS random number generator.
pub fn random_32() -> Result<[u8; 32], ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(format!("the OS random number generator failed: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_validated_and_lowercased() {
        assert_eq!(normalize_handle("Alice_01").unwrap(), "alice_01");
        for bad in ["al", "1alice", "alice!", "ålice", &"a".repeat(33), ""] {
            assert!(normalize_handle(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_and_group_ids_are_checked() {
        for good in ["0b6f", "a", &"x".repeat(64), "forged-1", "a:b~c!"] {
            assert!(check_client_id(good).is_ok(), "{good}");
        }
        for bad in ["", "x\u{0}y", "with space", "é", &"x".repeat(65), "tab\t"] {
            assert!(check_client_id(bad).is_err(), "{bad:?}");
        }
        for good in ["9f3c0000000000000000000000000000", "Yt1k-_AbCdEfGhIjKlMnOp"] {
            assert!(check_group_id(good).is_ok(), "{good}");
        }
        for bad in ["", "\u{0}", "a%00", "../x", "a b", &"g".repeat(65)] {
            assert!(check_group_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_ids_are_checked() {
        let id = user_id_of(&[7; 32]);
        assert!(check_user_id(&id).is_ok());
        assert!(check_user_id(&id[1..]).is_err());
        assert!(check_user_id("../../etc/passwd").is_err());
    }
}
