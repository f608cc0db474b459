//! Key-based login and access tokens. A client asks for a single-use
//! challenge, signs `"glyph/auth/v1" || challenge || sign_pub` with its
//! identity key, and receives a JWT (HS256, `sub` = user id) for an hour.
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

const ISSUER: &str = "glyph";

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
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

    /// A token for `user_id`, and when it expires.
    pub fn issue(&self, user_id: &str, now: i64) -> Result<(String, i64), ApiError> {
        let claims = Claims {
            sub: user_id.to_owned(),
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

/// How long an account seen to exist is taken to exist without asking the
/// database again (accounts are never deleted through the API; a restore
/// that removes some is noticed within this long).
const KNOWN_FOR: Duration = Duration::from_secs(300);
/// Most accounts remembered at once.
const KNOWN_MAX: usize = 100_000;

/// Accounts recently seen to exist, so that checking every request's
/// account costs a query per account every few minutes, not per request.
#[derive(Default)]
pub struct KnownAccounts(Mutex<HashMap<String, Instant>>);

impl KnownAccounts {
    fn recently_seen(&self, user_id: &str) -> bool {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(user_id).is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    fn remember(&self, user_id: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= KNOWN_MAX {
            seen.retain(|_, at| at.elapsed() < KNOWN_FOR);
            if seen.len() >= KNOWN_MAX {
                seen.clear();
            }
        }
        seen.insert(user_id.to_owned(), Instant::now());
    }
}

/// Checks that the account a valid token names exists.
pub async fn check_account(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    if state.known_accounts().recently_seen(user_id) {
        return Ok(());
    }
    if state.store().user(user_id).await?.is_none() {
        return Err(account_gone());
    }
    state.known_accounts().remember(user_id);
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
    check_account(state, &claims.sub).await?;
    Ok(claims)
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct AuthUser {
    /// The caller's user id.
    pub user_id: String,
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
            expires_at: claims.exp,
        })
    }
}
