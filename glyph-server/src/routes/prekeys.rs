//! Prekeys: the signed prekey (its signature checked), one-time prekeys in
//! capped batches, the count left, and bundles that hand out each one-time
//! prekey exactly once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use glyph_api::{Bundle, OneTimePreKeysUpload, PreKeyCount, SignedPreKeyUpload};
use glyph_crypto::{DhPublicKey, SigningPublicKey, verify_signed_prekey};

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{ApiJson, ApiPath, b64, b64_array, check_user_id};
use crate::store::SignedPreKeyRow;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/prekeys/signed", put(put_signed))
        .route(
            "/v1/prekeys/one-time",
            post(add_one_time).delete(clear_one_time),
        )
        .route("/v1/prekeys/count", get(count))
        .route("/v1/users/{user_id}/bundle", get(bundle))
}

fn caller_signing_key(sign_pub: &[u8]) -> Result<SigningPublicKey, ApiError> {
    let bytes: [u8; 32] = sign_pub
        .try_into()
        .map_err(|_| ApiError::internal("a stored signing key is not 32 bytes"))?;
    SigningPublicKey::from_bytes(&bytes)
        .map_err(|_| ApiError::internal("a stored signing key is not a valid key"))
}

/// Deletes the caller's one-time prekeys: a device restored from the words
/// has none of their secrets, so a peer using one would fail.
async fn clear_one_time(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<StatusCode, ApiError> {
    state
        .store()
        .clear_one_time_prekeys(&caller.user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_signed(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(upload): ApiJson<SignedPreKeyUpload>,
) -> Result<StatusCode, ApiError> {
    let spk_pub = b64_array::<32>("spk_pub", &upload.spk_pub)?;
    let spk_sig = b64_array::<64>("spk_sig", &upload.spk_sig)?;
    let user = state
        .store()
        .user(&caller.user_id)
        .await?
        .ok_or_else(crate::auth::account_gone)?;
    verify_signed_prekey(
        &caller_signing_key(&user.sign_pub)?,
        upload.spk_id,
        &DhPublicKey::from_bytes(spk_pub),
        &spk_sig,
    )
    .map_err(|_| {
        ApiError::Unprocessable(
            "bad_signature",
            "spk_sig does not verify against your signing key".into(),
        )
    })?;
    let row = SignedPreKeyRow {
        spk_id: upload.spk_id,
        spk_pub: spk_pub.to_vec(),
        spk_sig: spk_sig.to_vec(),
    };
    state
        .store()
        .put_signed_prekey(&caller.user_id, &row)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_one_time(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(upload): ApiJson<OneTimePreKeysUpload>,
) -> Result<Json<PreKeyCount>, ApiError> {
    let limit = state.config().max_prekeys_per_upload;
    if upload.keys.len() > limit {
        return Err(ApiError::Unprocessable(
            "too_many_prekeys",
            format!("at most {limit} one-time prekeys per upload"),
        ));
    }
    let mut keys = Vec::with_capacity(upload.keys.len());
    for key in &upload.keys {
        if keys.iter().any(|(id, _)| *id == key.id) {
            return Err(ApiError::bad_field(
                "keys",
                format!("id {} appears twice", key.id),
            ));
        }
        keys.push((key.id, b64_array::<32>("keys[].pub", &key.public)?.to_vec()));
    }
    state
        .store()
        .add_one_time_prekeys(&caller.user_id, &keys, state.config().max_prekey_stock)
        .await?;
    count(State(state), caller).await
}

async fn count(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<PreKeyCount>, ApiError> {
    let (one_time, signed_prekey_id) = state.store().prekey_count(&caller.user_id).await?;
    Ok(Json(PreKeyCount {
        one_time,
        signed_prekey_id,
    }))
}

async fn bundle(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Bundle>, ApiError> {
    check_user_id(&user_id)?;
    let bundle = state.store().claim_bundle(&user_id).await?.ok_or_else(|| {
        ApiError::NotFound(
            "no_bundle",
            "no such user, or the user has no signed prekey".into(),
        )
    })?;
    Ok(Json(Bundle {
        sign_pub: b64(&bundle.user.sign_pub),
        dh_pub: b64(&bundle.user.dh_pub),
        spk_id: bundle.spk.spk_id,
        spk_pub: b64(&bundle.spk.spk_pub),
        spk_sig: b64(&bundle.spk.spk_sig),
        opk_id: bundle.opk.as_ref().map(|(id, _)| *id),
        opk_pub: bundle.opk.map(|(_, public)| b64(&public)),
    }))
}
