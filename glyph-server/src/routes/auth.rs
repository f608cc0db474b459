//! `POST /v1/auth/challenge` and `POST /v1/auth/token`.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use glyph_api::{AUTH_LABEL, ChallengeResponse, TokenRequest, TokenResponse};
use glyph_crypto::SigningPublicKey;

use crate::app::{AppState, ClientAddr};
use crate::error::ApiError;
use crate::input::{ApiJson, b64, b64_array, now, random_32, user_id_of};
use crate::limits::Scope;
use crate::store::DeviceState;

/// How long a challenge is accepted.
const CHALLENGE_SECS: i64 = 60;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/challenge", post(challenge))
        .route("/v1/auth/token", post(token))
}

async fn challenge(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
) -> Result<Json<ChallengeResponse>, ApiError> {
    state.limit(Scope::Auth, &addr)?;
    let challenge = random_32()?;
    let expires_at = now() + CHALLENGE_SECS;
    state.store().put_challenge(&challenge, expires_at).await?;
    Ok(Json(ChallengeResponse {
        challenge: b64(&challenge),
        expires_at,
    }))
}

fn refused(code: &'static str, message: &str) -> ApiError {
    ApiError::Unauthorized(code, message.into())
}

async fn token(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    state.limit(Scope::Auth, &addr)?;
    if request.device_id == 0 {
        return Err(ApiError::bad_field("device_id", "must be 1 to 2^32-1"));
    }
    let sign_pub = b64_array::<32>("sign_pub", &request.sign_pub)?;
    let challenge = b64_array::<32>("challenge", &request.challenge)?;
    let signature = b64_array::<64>("signature", &request.signature)?;
    let key =
        SigningPublicKey::from_bytes(&sign_pub).map_err(|e| ApiError::bad_field("sign_pub", e))?;
    let message = [AUTH_LABEL, &challenge[..], &sign_pub[..]].concat();
    // Checks that change nothing come first; the challenge is spent last.
    key.verify(&message, &signature)
        .map_err(|_| refused("bad_signature", "the signature does not verify"))?;
    let user_id = user_id_of(&sign_pub);
    match state
        .store()
        .device_state(&user_id, request.device_id)
        .await?
    {
        None => {
            return Err(refused(
                "unknown_user",
                "no user has this key; register first",
            ));
        }
        Some(DeviceState::Removed) => return Err(crate::auth::device_removed()),
        Some(DeviceState::Unclaimed | DeviceState::Active) => {}
    }
    let now = now();
    if !state.store().take_challenge(&challenge, now).await? {
        return Err(refused(
            "invalid_challenge",
            "the challenge is unknown, used or expired",
        ));
    }
    let (token, expires_at) = state.tokens().issue(&user_id, request.device_id, now)?;
    state
        .store()
        .touch_device(&user_id, request.device_id, now)
        .await?;
    Ok(Json(TokenResponse {
        token,
        expires_at,
        user_id,
        device_id: request.device_id,
    }))
}
