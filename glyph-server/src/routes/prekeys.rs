//! Prekeys, per device: the calling device's signed prekey (its signature
//! checked), one-time prekeys in capped batches, the count left; and
//! bundles, one device's or every listed device's of a user, that hand out
//! each one-time prekey exactly once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use glyph_api::{Bundle, Bundles, OneTimePreKeysUpload, PreKeyCount, SignedPreKeyUpload};
use glyph_crypto::{DhPublicKey, SigningPublicKey, verify_signed_prekey};

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{ApiJson, ApiPath, b64, b64_array, check_device_id, check_user_id};
use crate::store::{BundleRow, SignedPreKeyRow};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/prekeys/signed", put(put_signed))
        .route(
            "/v1/prekeys/one-time",
            post(add_one_time).delete(clear_one_time),
        )
        .route("/v1/prekeys/count", get(count))
        .route(
            "/v1/users/{user_id}/devices/{device_id}/bundle",
            get(device_bundle),
        )
        .route("/v1/users/{user_id}/bundles", get(bundles))
}

fn caller_signing_key(sign_pub: &[u8]) -> Result<SigningPublicKey, ApiError> {
    let bytes: [u8; 32] = sign_pub
        .try_into()
        .map_err(|_| ApiError::internal("a stored signing key is not 32 bytes"))?;
    SigningPublicKey::from_bytes(&bytes)
        .map_err(|_| ApiError::internal("a stored signing key is not a valid key"))
}

/// Deletes the calling device's one-time prekeys (a device that lost their
/// secrets, say).
async fn clear_one_time(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<StatusCode, ApiError> {
    state
        .store()
        .clear_one_time_prekeys(&caller.user_id, caller.device_id)
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
        .put_signed_prekey(&caller.user_id, caller.device_id, &row)
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
        .add_one_time_prekeys(
            &caller.user_id,
            caller.device_id,
            &keys,
            state.config().max_prekey_stock,
        )
        .await?;
    count(State(state), caller).await
}

async fn count(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<PreKeyCount>, ApiError> {
    let (one_time, signed_prekey_id) = state
        .store()
        .prekey_count(&caller.user_id, caller.device_id)
        .await?;
    Ok(Json(PreKeyCount {
        one_time,
        signed_prekey_id,
    }))
}

fn bundle_of(row: BundleRow) -> Bundle {
    Bundle {
        device_id: row.device_id,
        sign_pub: b64(&row.user.sign_pub),
        dh_pub: b64(&row.user.dh_pub),
        spk_id: row.spk.spk_id,
        spk_pub: b64(&row.spk.spk_pub),
        spk_sig: b64(&row.spk.spk_sig),
        opk_id: row.opk.as_ref().map(|(id, _)| *id),
        opk_pub: row.opk.map(|(_, public)| b64(&public)),
    }
}

/// One listed device's bundle.
async fn device_bundle(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath((user_id, device_id)): ApiPath<(String, String)>,
) -> Result<Json<Bundle>, ApiError> {
    check_user_id(&user_id)?;
    let device_id = check_device_id(&device_id)?;
    let row = state
        .store()
        .claim_bundle(&user_id, device_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "no_bundle",
                "no such user or listed device, or it has no signed prekey".into(),
            )
        })?;
    Ok(Json(bundle_of(row)))
}

/// Every listed device's bundle, and the signed list that names them.
async fn bundles(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Bundles>, ApiError> {
    check_user_id(&user_id)?;
    if state.store().user(&user_id).await?.is_none() {
        return Err(ApiError::NotFound("unknown_user", "no such user".into()));
    }
    let rows = state.store().claim_bundles(&user_id).await?;
    let list = super::devices::stored_list(&state, &user_id).await?;
    Ok(Json(Bundles {
        list,
        bundles: rows.into_iter().map(bundle_of).collect(),
    }))
}
