//! Devices (spec section 9). A device being set up claims its id; any
//! device of the user publishes the signed list (checked here: signed by
//! the user's identity key, the rules of a list, a version that grows; the
//! server cannot make one), which decides the devices a send must cover.
//! Publishing a list without a device removes it: its prekeys and
//! undelivered copies go. Anyone signed in reads a user's latest list;
//! clients check it themselves and refuse a rollback.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use glyph_api::{ClaimDeviceRequest, DeviceInfo, DeviceListBody, MyDevices, UserDevices};
use glyph_crypto::{DeviceList, SigningPublicKey};
use serde_json::Value;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{ApiJson, ApiPath, check_user_id, now};
use crate::store::NewDeviceList;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices", post(claim).get(mine).put(publish))
        .route("/v1/users/{user_id}/devices", get(of_user))
}

/// A user's latest list as stored (the JSON as published).
pub(super) async fn stored_list(
    state: &AppState,
    user_id: &str,
) -> Result<Option<DeviceListBody>, ApiError> {
    let Some(text) = state.store().device_list(user_id).await? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("a stored device list does not parse: {e}")))
}

async fn my_devices(state: &AppState, user_id: &str) -> Result<MyDevices, ApiError> {
    let devices = state
        .store()
        .devices(user_id)
        .await?
        .into_iter()
        .map(|row| DeviceInfo {
            device_id: row.device_id,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
        })
        .collect();
    Ok(MyDevices {
        list: stored_list(state, user_id).await?,
        devices,
    })
}

/// `POST /v1/devices`: the calling device claims its id (the one its token
/// names), before its prekeys and before it is listed.
async fn claim(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(request): ApiJson<ClaimDeviceRequest>,
) -> Result<(StatusCode, Json<ClaimDeviceRequest>), ApiError> {
    if request.device_id != caller.device_id {
        return Err(ApiError::bad_field(
            "device_id",
            "a device claims the id its token was issued for",
        ));
    }
    state
        .store()
        .claim_device(&caller.user_id, request.device_id, now())
        .await?;
    Ok((StatusCode::CREATED, Json(request)))
}

async fn mine(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<MyDevices>, ApiError> {
    Ok(Json(my_devices(&state, &caller.user_id).await?))
}

fn bad_list(why: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable(
        "bad_device_list",
        format!("the device list is refused: {why}"),
    )
}

/// `PUT /v1/devices`: a new signed list of the caller's devices.
async fn publish(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<MyDevices>, ApiError> {
    let list = DeviceList::from_json_value(&body).map_err(|e| ApiError::bad_field("list", e))?;
    let user = state
        .store()
        .user(&caller.user_id)
        .await?
        .ok_or_else(crate::auth::account_gone)?;
    let bytes: [u8; 32] = user
        .sign_pub
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal("a stored signing key is not 32 bytes"))?;
    let sign_pub = SigningPublicKey::from_bytes(&bytes)
        .map_err(|_| ApiError::internal("a stored signing key is not a valid key"))?;
    list.verify(&sign_pub).map_err(bad_list)?;
    let stored = NewDeviceList {
        version: list.version(),
        devices: list.devices().to_vec(),
        json: list.to_json(),
        published_by: caller.device_id,
    };
    let change = state
        .store()
        .publish_device_list(&caller.user_id, &stored, now())
        .await?;
    if !change.removed.is_empty() {
        tracing::info!(removed = ?change.removed, "devices removed from a list");
        let removed: Vec<(String, u32)> = change
            .removed
            .iter()
            .map(|device| (caller.user_id.clone(), *device))
            .collect();
        for (user_id, device) in &removed {
            state.known_accounts().forget(user_id, *device);
        }
        // Their open WebSockets wake, find the device removed and close.
        state.hub().notify(&removed);
        state.purge_removed_media().await;
    }
    Ok(Json(my_devices(&state, &caller.user_id).await?))
}

/// `GET /v1/users/{user_id}/devices`: a user's latest signed list.
async fn of_user(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<UserDevices>, ApiError> {
    check_user_id(&user_id)?;
    if state.store().user(&user_id).await?.is_none() {
        return Err(ApiError::NotFound("unknown_user", "no such user".into()));
    }
    Ok(Json(UserDevices {
        list: stored_list(&state, &user_id).await?,
    }))
}
