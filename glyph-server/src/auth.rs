//! Key-based login and access tokens. A client asks for a single-use
//! challenge, signs `"glyph/auth/v1" || challenge || sign_pub` with its
//! identity key, and receives a JWT (HS256, `sub` = user id, `dev` = the
//! device it names) for an hour: the token reaches that device's prekeys
//! and inbox.
//! Only HS256 is accepted: `none` and every other algorithm are refused.
//! A valid token is not enough: the account it names must exist (a token
//! can outlive its account, after a database restore say).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;
use crate::store::DeviceState;

const ISSUER: &str = "glyph";

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The device.
    pub dev: u32,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Always "glyph".
    pub iss: String,
}

/// The token keys and lifetime.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: i64,
}

impl Tokens {
    /// Keys from a secret of at least 32 bytes.
    pub fn new(secret: &[u8], lifetime_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime: i64::try_from(lifetime_secs).unwrap_or(3600),
        }
    }

    /// A token for `user_id`'s device `device_id`, and when it expires.
    pub fn issue(
        &self,
        user_id: &str,
        device_id: u32,
        now: i64,
    ) -> Result<(String, i64), ApiError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            dev: device_id,
            iat: now,
            exp: now + self.lifetime,
            iss: ISSUER.into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(format!("signing a token failed: {e}")))?;
        Ok((token, claims.exp))
    }

    /// The claims of a valid, unexpired token of ours.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::Unauthorized(
                    "token_expired",
                    "the access token has expired; log in again".into(),
                ),
                _ => {
                    ApiError::Unauthorized("invalid_token", "the access token is not valid".into())
                }
            })
    }
}

/// The 401 for a validly signed token whose account does not exist.
pub fn account_gone() -> ApiError {
    ApiError::Unauthorized(
        "unknown_user",
        "the account this token names does not exist here; register again".into(),
    )
}

/// The 401 for a token of a device its user has removed.
pub fn device_removed() -> ApiError {
    ApiError::Unauthorized(
        "device_removed",
        "this device was removed from the account; link it again to use it".into(),
    )
}

/// How long a device seen in good standing is taken to be so without asking
/// the database again. Accounts are never deleted through the API (a
/// restore that removes some is noticed within this long); a removal
/// forgets the device here at once, on every instance (the store's
/// wake-ups), so this bounds only what a lost wake-up can delay.
const KNOWN_FOR: Duration = Duration::from_secs(300);
/// Most devices remembered at once.
const KNOWN_MAX: usize = 100_000;

/// Devices recently seen in good standing (their account exists and they
/// are not removed), so that checking every request's token costs a query
/// per device every few minutes, not per request.
#[derive(Default)]
pub struct KnownAccounts(Mutex<HashMap<(String, u32), Instant>>);

impl KnownAccounts {
    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), Instant>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recently_seen(&self, user_id: &str, device_id: u32) -> bool {
        self.seen()
            .get(&(user_id.to_owned(), device_id))
            .is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    fn remember(&self, user_id: &str, device_id: u32) {
        let mut seen = self.seen();
        if seen.len() >= KNOWN_MAX {
            seen.retain(|_, at| at.elapsed() < KNOWN_FOR);
            if seen.len() >= KNOWN_MAX {
                seen.clear();
            }
        }
        seen.insert((user_id.to_owned(), device_id), Instant::now());
    }

    /// Forgets a device (it was removed): its next request asks the
    /// database.
    pub fn forget(&self, user_id: &str, device_id: u32) {
        self.seen().remove(&(user_id.to_owned(), device_id));
    }

    /// Forgets every device (removals may have been missed).
    pub fn forget_all(&self) {
        self.seen().clear();
    }
}

/// Checks that the account a valid token names exists and that its device
/// has not been removed.
pub async fn check_account(
    state: &AppState,
    user_id: &str,
    device_id: u32,
) -> Result<(), ApiError> {
    if state.known_accounts().recently_seen(user_id, device_id) {
        return Ok(());
    }
    match state.store().device_state(user_id, device_id).await? {
        None => return Err(account_gone()),
        Some(DeviceState::Removed) => return Err(device_removed()),
        Some(DeviceState::Unclaimed | DeviceState::Active) => {}
    }
    state.known_accounts().remember(user_id, device_id);
    Ok(())
}

/// The claims of a bearer token in `headers` (or `fallback`, for browser
/// WebSockets), checked, whose account exists.
pub async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    fallback: Option<&str>,
) -> Result<Claims, ApiError> {
    let token = match headers.get(AUTHORIZATION) {
        Some(header) => header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("invalid_token", "send Authorization: Bearer <token>".into())
            })?,
        None => fallback.ok_or_else(|| {
            ApiError::Unauthorized("missing_token", "send Authorization: Bearer <token>".into())
        })?,
    };
    let claims = state.tokens().verify(token)?;
    check_account(state, &claims.sub, claims.dev).await?;
    Ok(claims)
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct AuthUser {
    /// The caller's user id.
    pub user_id: String,
    /// The caller's device.
    pub device_id: u32,
    /// When the token expires.
    pub expires_at: i64,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let claims = authenticate(state, &parts.headers, None).await?;
        Ok(AuthUser {
            user_id: claims.sub,
            device_id: claims.dev,
            expires_at: claims.exp,
        })
    }
}
