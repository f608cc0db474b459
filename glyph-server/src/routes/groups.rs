//! Group rosters: the server knows who is in a group, nothing else. Only
//! members see or change a roster; to anyone else a group does not exist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use glyph_api::{AddMemberRequest, CreateGroupRequest, Group, GroupList};

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{ApiJson, ApiPath, check_group_id, check_user_id, now, random_32};
use crate::store::GroupRow;

/// Most members a group may have.
const MAX_MEMBERS: usize = 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/groups", post(create).get(list))
        .route("/v1/groups/{group_id}", get(show))
        .route("/v1/groups/{group_id}/members", post(add))
        .route("/v1/groups/{group_id}/members/{user_id}", delete(remove))
}

fn group(row: GroupRow) -> Group {
    Group {
        group_id: row.group_id,
        members: row.members,
    }
}

fn no_group() -> ApiError {
    ApiError::NotFound("unknown_group", "no such group".into())
}

async fn create(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(request): ApiJson<CreateGroupRequest>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    let mut members = request.members;
    for member in &members {
        check_user_id(member)?;
    }
    members.push(caller.user_id);
    members.sort();
    members.dedup();
    if members.len() > MAX_MEMBERS {
        return Err(ApiError::Unprocessable(
            "too_many_members",
            format!("a group has at most {MAX_MEMBERS} members"),
        ));
    }
    // Hex, not base64url: an id people paste into a command line must never
    // start with '-' (one base64url id in 64 would).
    let group_id = hex::encode(&random_32()?[..16]);
    let row = state
        .store()
        .create_group(&group_id, &members, now())
        .await?;
    Ok((StatusCode::CREATED, Json(group(row))))
}

async fn list(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<GroupList>, ApiError> {
    let groups = state.store().groups_of(&caller.user_id).await?;
    Ok(Json(GroupList {
        groups: groups.into_iter().map(group).collect(),
    }))
}

async fn show(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(group_id): ApiPath<String>,
) -> Result<Json<Group>, ApiError> {
    check_group_id(&group_id)?;
    let row = state
        .store()
        .group(&group_id, &caller.user_id)
        .await?
        .ok_or_else(no_group)?;
    Ok(Json(group(row)))
}

async fn add(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(group_id): ApiPath<String>,
    ApiJson(request): ApiJson<AddMemberRequest>,
) -> Result<Json<Group>, ApiError> {
    check_group_id(&group_id)?;
    check_user_id(&request.user_id)?;
    let current = state
        .store()
        .group(&group_id, &caller.user_id)
        .await?
        .ok_or_else(no_group)?;
    if current.members.len() >= MAX_MEMBERS && !current.members.contains(&request.user_id) {
        return Err(ApiError::Unprocessable(
            "too_many_members",
            format!("a group has at most {MAX_MEMBERS} members"),
        ));
    }
    let row = state
        .store()
        .add_member(&group_id, &caller.user_id, &request.user_id)
        .await?;
    Ok(Json(group(row)))
}

async fn remove(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((group_id, user_id)): ApiPath<(String, String)>,
) -> Result<Json<Group>, ApiError> {
    check_group_id(&group_id)?;
    check_user_id(&user_id)?;
    let row = state
        .store()
        .remove_member(&group_id, &caller.user_id, &user_id)
        .await?;
    Ok(Json(group(row)))
}
