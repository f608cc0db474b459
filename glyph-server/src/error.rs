//! The API's one error type: every refusal is a JSON body
//! `{"error":{"code":"...","message":"..."}}` with the right status.
//! Server faults carry their cause, which is logged when the response is
//! made (so no 500 goes unlogged), and say only "internal error".

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use glyph_api::{ErrorBody, ErrorDetail};
use serde_json::{Value, json};

use crate::store::StoreError;

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// 400: malformed input (JSON, base64, lengths, parameters).
    BadRequest(&'static str, String),
    /// 401: missing, invalid or expired credentials.
    Unauthorized(&'static str, String),
    /// 403: authenticated, but not allowed to do this.
    Forbidden(&'static str, String),
    /// 404: no such thing (or not one the caller may see).
    NotFound(&'static str, String),
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 408: the request body did not arrive in time.
    RequestTimeout,
    /// 409: conflicts with what is stored.
    Conflict(&'static str, String, Option<Value>),
    /// 410: it existed and was deliberately deleted.
    Gone(&'static str, String),
    /// 413: too large.
    PayloadTooLarge(String),
    /// 413: storing this would pass the caller's media quota.
    QuotaExceeded(String, Value),
    /// 415: not JSON.
    UnsupportedMediaType,
    /// 422: well-formed but refused (bad signature, invalid handle, limits).
    Unprocessable(&'static str, String),
    /// 426: this route speaks WebSocket only.
    UpgradeRequired,
    /// 429: slow down; retry after this many seconds.
    RateLimited(u64),
    /// 500: our fault; the cause (logged, never sent).
    Internal(String),
    /// 503: the database does not answer; retry after this many seconds.
    DatabaseUnavailable(u64),
    /// 507: the server's disk is full; nothing was stored.
    StorageFull,
}

impl ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(..) => StatusCode::FORBIDDEN,
            ApiError::NotFound(..) => StatusCode::NOT_FOUND,
            ApiError::Gone(..) => StatusCode::GONE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) | ApiError::QuotaExceeded(..) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        }
    }

    fn detail(self) -> ErrorDetail {
        let (code, message, details) = match self {
            ApiError::BadRequest(code, message)
            | ApiError::Unauthorized(code, message)
            | ApiError::Forbidden(code, message)
            | ApiError::NotFound(code, message)
            | ApiError::Gone(code, message)
            | ApiError::Unprocessable(code, message) => (code, message, None),
            ApiError::Conflict(code, message, details) => (code, message, details),
            ApiError::MethodNotAllowed => (
                "method_not_allowed",
                "this path does not take that method".into(),
                None,
            ),
            ApiError::RequestTimeout => (
                "request_timeout",
                "the request body did not arrive in time".into(),
                None,
            ),
            ApiError::PayloadTooLarge(message) => ("payload_too_large", message, None),
            ApiError::QuotaExceeded(message, details) => ("quota_exceeded", message, Some(details)),
            ApiError::UnsupportedMediaType => (
                "unsupported_media_type",
                "send Content-Type: application/json".into(),
                None,
            ),
            ApiError::UpgradeRequired => (
                "websocket_required",
                "this route speaks WebSocket: send a WebSocket upgrade request".into(),
                None,
            ),
            ApiError::RateLimited(secs) => (
                "rate_limited",
                format!("too many requests; retry in {secs} s"),
                None,
            ),
            ApiError::Internal(_) => ("internal", "internal error".into(), None),
            ApiError::DatabaseUnavailable(secs) => (
                "database_unavailable",
                format!("the database is not answering; retry in {secs} s"),
                None,
            ),
            ApiError::StorageFull => (
                "storage_full",
                "the server's storage is full; nothing was stored, retry later".into(),
                None,
            ),
        };
        ErrorDetail {
            code: code.to_owned(),
            message,
            details,
        }
    }

    /// A 400 for a malformed field.
    pub fn bad_field(field: &str, what: impl std::fmt::Display) -> Self {
        ApiError::BadRequest("invalid_field", format!("{field}: {what}"))
    }

    /// A 500 whose cause is logged when it is answered.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The seconds after which a client may retry, where that is known.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited(secs) | ApiError::DatabaseUnavailable(secs) => Some(*secs),
            ApiError::StorageFull => Some(STORAGE_FULL_RETRY_SECS),
            _ => None,
        }
    }
}

/// Every error status the API answers, what it means, and the codes it
/// carries: the table docs/api.md shows and the OpenAPI document describes
/// each status with (a test checks all three agree with the code).
pub const ERROR_CODES: &[(u16, &str, &[&str])] = &[
    (
        400,
        "malformed request",
        &[
            "invalid_json",
            "invalid_field",
            "invalid_path",
            "invalid_query",
            "invalid_header",
            "upload_interrupted",
            "bad_request",
        ],
    ),
    (
        401,
        "no valid credentials",
        &[
            "missing_token",
            "invalid_token",
            "token_expired",
            "unknown_user",
            "device_removed",
            "invalid_challenge",
            "bad_signature",
        ],
    ),
    (403, "not yours", &["not_owner", "forbidden"]),
    (
        404,
        "no such thing (or not one you may see)",
        &[
            "no_route",
            "unknown_user",
            "unknown_device",
            "unknown_group",
            "unknown_message",
            "unknown_media",
            "no_bundle",
            "share_gone",
        ],
    ),
    (
        405,
        "the path exists, the method does not",
        &["method_not_allowed"],
    ),
    (
        408,
        "the request body did not arrive in time",
        &["request_timeout"],
    ),
    (
        409,
        "conflicts with what is stored",
        &[
            "key_conflict",
            "handle_taken",
            "prekey_id_taken",
            "roster_mismatch",
            "device_mismatch",
            "device_taken",
            "too_many_devices",
            "device_removed",
            "stale_device_list",
        ],
    ),
    (410, "deleted on purpose", &["media_removed"]),
    (413, "too large", &["payload_too_large", "quota_exceeded"]),
    (415, "not JSON", &["unsupported_media_type"]),
    (
        422,
        "well-formed but refused",
        &[
            "bad_signature",
            "invalid_handle",
            "too_many_prekeys",
            "prekey_stock_full",
            "too_many_members",
            "bad_device_list",
        ],
    ),
    (426, "this route speaks WebSocket", &["websocket_required"]),
    (429, "slow down (see Retry-After)", &["rate_limited"]),
    (
        500,
        "the server's fault (logged, never detailed)",
        &["internal"],
    ),
    (
        503,
        "the database does not answer (see Retry-After)",
        &["database_unavailable", "unavailable"],
    ),
    (
        507,
        "the server's storage is full (see Retry-After)",
        &["storage_full"],
    ),
];

/// A status's line for documentation: what it means and its codes.
pub fn describe_status(status: u16) -> String {
    match ERROR_CODES.iter().find(|(s, _, _)| *s == status) {
        Some((_, meaning, codes)) => format!("{meaning}: {}", codes.join(", ")),
        None => "error".into(),
    }
}

/// The code of an error answered without one (by a layer outside the
/// handlers): named after its status.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "missing_token",
        403 => "forbidden",
        404 => "no_route",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        431 => "headers_too_large",
        503 => "unavailable",
        504 => "timeout",
        500..=599 => "internal",
        _ => "bad_request",
    }
}

/// Retry-After for a full disk: space rarely comes back within seconds.
const STORAGE_FULL_RETRY_SECS: u64 = 60;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let retry_after = self.retry_after();
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::DatabaseUnavailable(_) => tracing::warn!("the database is unavailable"),
            ApiError::StorageFull => tracing::error!("storage is full"),
            _ => {}
        }
        let body = ErrorBody {
            error: self.detail(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Retry-After for an unreachable database: the pool reconnects within
/// about this long once it is back.
const DATABASE_RETRY_SECS: u64 = 2;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::KeyConflict => ApiError::Conflict("key_conflict", err.to_string(), None),
            StoreError::HandleTaken => ApiError::Conflict("handle_taken", err.to_string(), None),
            StoreError::PreKeyIdTaken(_) => {
                ApiError::Conflict("prekey_id_taken", err.to_string(), None)
            }
            StoreError::PreKeyStockFull(_) => {
                ApiError::Unprocessable("prekey_stock_full", err.to_string())
            }
            StoreError::UnknownUser(_) => ApiError::NotFound("unknown_user", err.to_string()),
            StoreError::NoSuchGroup => ApiError::NotFound("unknown_group", err.to_string()),
            StoreError::RosterMismatch {
                ref missing,
                ref extra,
            } => {
                let details = json!({"missing": missing, "extra": extra});
                ApiError::Conflict("roster_mismatch", err.to_string(), Some(details))
            }
            StoreError::QuotaExceeded {
                used,
                wanted,
                quota,
            } => ApiError::QuotaExceeded(
                err.to_string(),
                json!({"used_bytes": used, "wanted_bytes": wanted, "quota_bytes": quota}),
            ),
            StoreError::NoSuchViewOnce => ApiError::NotFound("unknown_message", err.to_string()),
            StoreError::DeviceTaken(_) => ApiError::Conflict("device_taken", err.to_string(), None),
            StoreError::TooManyDevices(_) => {
                ApiError::Conflict("too_many_devices", err.to_string(), None)
            }
            StoreError::DeviceRemoved(_) => {
                ApiError::Conflict("device_removed", err.to_string(), None)
            }
            StoreError::UnknownDevice(_) => ApiError::NotFound(
                "unknown_device",
                format!("{err}: claim the device's id (POST /v1/devices) first"),
            ),
            StoreError::StaleDeviceList(current) => ApiError::Conflict(
                "stale_device_list",
                err.to_string(),
                Some(json!({"current_version": current})),
            ),
            StoreError::DeviceMismatch(ref differences) => {
                let users: serde_json::Map<String, Value> = differences
                    .iter()
                    .map(|d| {
                        (
                            d.user_id.clone(),
                            json!({"missing": d.missing, "extra": d.extra}),
                        )
                    })
                    .collect();
                ApiError::Conflict(
                    "device_mismatch",
                    err.to_string(),
                    Some(json!({"users": users})),
                )
            }
            StoreError::Unavailable(_) => ApiError::DatabaseUnavailable(DATABASE_RETRY_SECS),
            StoreError::Full(_) => ApiError::StorageFull,
            StoreError::ShareCodeTaken
            | StoreError::Database(_)
            | StoreError::WriterLost
            | StoreError::Migration(_) => ApiError::Internal(format!("storage failure: {err}")),
        }
    }
}
