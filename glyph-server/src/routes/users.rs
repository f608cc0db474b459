//! Registration and the directory: a user is its signing key and DH key,
//! bound by a signature; an optional, unique, case-insensitive handle.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use glyph_api::{BINDING_LABEL, RegisterRequest, SetHandleRequest, UserRecord};
use glyph_crypto::SigningPublicKey;

use crate::app::{AppState, ClientAddr};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{
    ApiJson, ApiPath, b64, b64_array, check_user_id, normalize_handle, now, user_id_of,
};
use crate::limits::Scope;
use crate::store::{Registered, UserRow};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", post(register))
        .route("/v1/users/{user_id}", get(lookup))
        .route("/v1/handles/{handle}", get(lookup_handle))
        .route("/v1/me/handle", put(set_handle).delete(clear_handle))
}

/// The message the binding signature covers.
pub(crate) fn binding_message(sign_pub: &[u8; 32], dh_pub: &[u8; 32]) -> Vec<u8> {
    [BINDING_LABEL, sign_pub, dh_pub].concat()
}

async fn register(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserRecord>), ApiError> {
    state.limit(Scope::Register, &addr)?;
    let sign_pub = b64_array::<32>("sign_pub", &request.sign_pub)?;
    let dh_pub = b64_array::<32>("dh_pub", &request.dh_pub)?;
    let binding_sig = b64_array::<64>("binding_sig", &request.binding_sig)?;
    let key =
        SigningPublicKey::from_bytes(&sign_pub).map_err(|e| ApiError::bad_field("sign_pub", e))?;
    key.verify(&binding_message(&sign_pub, &dh_pub), &binding_sig)
        .map_err(|_| {
            ApiError::Unprocessable(
                "bad_signature",
                "binding_sig does not verify against sign_pub".into(),
            )
        })?;
    let user = UserRow {
        user_id: user_id_of(&sign_pub),
        sign_pub: sign_pub.to_vec(),
        dh_pub: dh_pub.to_vec(),
        binding_sig: binding_sig.to_vec(),
        handle: None,
    };
    let status = match state.store().register(&user, now()).await? {
        Registered::Created => StatusCode::CREATED,
        Registered::AlreadyExists => StatusCode::OK,
    };
    let stored = state
        .store()
        .user(&user.user_id)
        .await?
        .ok_or_else(|| ApiError::internal("a user just registered cannot be read back"))?;
    Ok((status, Json(record(stored))))
}

pub(crate) fn record(user: UserRow) -> UserRecord {
    UserRecord {
        user_id: user.user_id,
        sign_pub: b64(&user.sign_pub),
        dh_pub: b64(&user.dh_pub),
        binding_sig: b64(&user.binding_sig),
        handle: user.handle,
    }
}

fn unknown_user() -> ApiError {
    ApiError::NotFound("unknown_user", "no such user".into())
}

async fn lookup(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    check_user_id(&user_id)?;
    let user = state
        .store()
        .user(&user_id)
        .await?
        .ok_or_else(unknown_user)?;
    Ok(Json(record(user)))
}

async fn lookup_handle(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    let handle = normalize_handle(&handle)?;
    let user = state
        .store()
        .user_by_handle(&handle)
        .await?
        .ok_or_else(unknown_user)?;
    Ok(Json(record(user)))
}

async fn set_handle(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(request): ApiJson<SetHandleRequest>,
) -> Result<Json<UserRecord>, ApiError> {
    let handle = normalize_handle(&request.handle)?;
    state
        .store()
        .set_handle(&caller.user_id, Some(&handle))
        .await?;
    let user = state
        .store()
        .user(&caller.user_id)
        .await?
        .ok_or_else(unknown_user)?;
    Ok(Json(record(user)))
}

async fn clear_handle(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<StatusCode, ApiError> {
    state.store().set_handle(&caller.user_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
