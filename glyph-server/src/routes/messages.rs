//! Messages: a send stores 1..N sealed copies in one transaction, one per
//! device of each recipient (retries with the same client id store nothing
//! twice); a device's inbox pages through the envelopes addressed to it and
//! the self-copies of what its user's other devices sent, in its inbox
//! order; each device deletes its own copy.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use glyph_api::{
    Direction, InboxMessage, InboxPage, SendRequest, SendResponse, StoredCopy, ViewedResponse,
};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{
    ApiJson, ApiPath, ApiQuery, check_client_id, check_group_id, check_user_id, now,
};
use crate::limits::Scope;
use crate::store::{InboxRow, NewCopy, StoreError};

/// Most entries one inbox page returns.
pub(crate) const MAX_PAGE: i64 = 500;
/// Furthest ahead a message may be set to expire (one year).
const MAX_LIFETIME_SECS: i64 = 366 * 24 * 3600;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(send).get(inbox))
        .route("/v1/messages/{id}", delete(delete_copy))
        .route("/v1/messages/{id}/viewed", post(viewed))
}

/// An opaque envelope: any JSON object within the size limit.
fn envelope_text(field: &str, value: &Value, max: usize) -> Result<String, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_field(field, "must be a JSON object"));
    }
    let text = value.to_string();
    if text.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "{field} is {} bytes; the limit is {max}",
            text.len()
        )));
    }
    Ok(text)
}

async fn send(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<(StatusCode, Json<SendResponse>), ApiError> {
    state.limit(Scope::Send, &caller.user_id)?;
    let config = state.config();
    check_client_id(&request.client_id)?;
    if request.copies.is_empty() || request.copies.len() > config.max_copies {
        return Err(ApiError::bad_field(
            "copies",
            format!("must hold 1 to {} copies", config.max_copies),
        ));
    }
    let now = now();
    let group_id = request.copies[0].group_id.clone();
    let mut recipients = HashSet::new();
    let mut copies = Vec::with_capacity(request.copies.len());
    for copy in &request.copies {
        check_user_id(&copy.recipient)?;
        if let Some(group_id) = &copy.group_id {
            check_group_id(group_id)?;
        }
        if copy.device_id == 0 {
            return Err(ApiError::bad_field("device_id", "must be 1 to 2^32-1"));
        }
        if !recipients.insert((copy.recipient.as_str(), copy.device_id)) {
            return Err(ApiError::bad_field(
                "copies",
                format!(
                    "device {} of {} is addressed twice",
                    copy.device_id, copy.recipient
                ),
            ));
        }
        if copy.group_id != group_id {
            return Err(ApiError::bad_field(
                "group_id",
                "every copy of a message has the same group",
            ));
        }
        if let Some(expires_at) = copy.expires_at
            && (expires_at <= now || expires_at > now + MAX_LIFETIME_SECS)
        {
            return Err(ApiError::bad_field(
                "expires_at",
                "must be in the future, within a year",
            ));
        }
        if let Some(path) = &copy.media_path {
            super::media::check_message_media(path, &caller.user_id)?;
        }
        copies.push(NewCopy {
            recipient: copy.recipient.clone(),
            device_id: copy.device_id,
            envelope: envelope_text("envelope", &copy.envelope, config.max_envelope_bytes)?,
            self_copy: copy
                .self_copy
                .as_ref()
                .map(|s| envelope_text("self_copy", s, config.max_envelope_bytes))
                .transpose()?,
            group_id: copy.group_id.clone(),
            expires_at: copy.expires_at,
            view_once: copy.view_once,
            media_path: copy.media_path.clone(),
        });
    }
    // Stored and delivered in a task of its own: a client that hangs up
    // once its send is committed cannot keep the wake-up from the
    // recipients' connections (they would learn of it only at the next).
    let stored = {
        let state = state.clone();
        tokio::spawn(async move {
            let sent = state
                .store()
                .send(
                    &caller.user_id,
                    caller.device_id,
                    &request.client_id,
                    &copies,
                    now,
                )
                .await?;
            state.hub().deliver(sent.entries);
            Ok::<_, StoreError>(sent.copies)
        })
    };
    let stored = stored.await.map_err(|_| StoreError::WriterLost)??;
    let created = stored.iter().filter(|c| c.created).count();
    state
        .metrics()
        .messages_stored
        .fetch_add(created as u64, Ordering::Relaxed);
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let messages = stored
        .into_iter()
        .map(|c| StoredCopy {
            id: c.id,
            recipient: c.recipient,
            device_id: c.device_id,
        })
        .collect();
    Ok((status, Json(SendResponse { messages })))
}

#[derive(Deserialize)]
struct InboxQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn parse_param(
    name: &str,
    value: Option<&str>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    let Some(text) = value else {
        return Ok(default);
    };
    text.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::bad_field(
                name,
                format!("must be an integer in {}..={}", range.start(), range.end()),
            )
        })
}

/// The API form of an inbox row.
pub(crate) fn inbox_message(row: InboxRow) -> InboxMessage {
    InboxMessage {
        seq: row.seq,
        id: row.id,
        direction: if row.outgoing {
            Direction::Out
        } else {
            Direction::In
        },
        sender: row.sender,
        sender_device: row.sender_device,
        recipient: row.recipient,
        recipient_device: row.recipient_device,
        client_id: row.client_id,
        group_id: row.group_id,
        payload: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
        sent_at: row.sent_at,
        expires_at: row.expires_at,
        view_once: row.view_once,
        media_path: row.media_path,
        media_removed_at: row.media_removed_at,
    }
}

async fn inbox(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let after = parse_param("after", query.after.as_deref(), 0, 0..=i64::MAX)?;
    let limit = parse_param("limit", query.limit.as_deref(), 100, 1..=MAX_PAGE)?;
    let rows = state
        .store()
        .inbox(&caller.user_id, caller.device_id, after, limit, now())
        .await?;
    let next_after = rows.last().map_or(after, |r| r.seq);
    Ok(Json(InboxPage {
        messages: rows.into_iter().map(inbox_message).collect(),
        next_after,
    }))
}

fn message_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_field("id", "must be an integer"))
}

/// The recipient reports a view-once message viewed: the view is recorded
/// and the blob it names is deleted (once no other view-once copy naming it
/// waits to be viewed). Repeating the report changes nothing.
async fn viewed(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ViewedResponse>, ApiError> {
    let id = message_id(&id)?;
    let (viewed_at, removed) = state
        .store()
        .mark_viewed(&caller.user_id, id, now())
        .await?;
    if removed.is_some() {
        state.purge_removed_media().await;
    }
    Ok(Json(ViewedResponse {
        media_removed_at: viewed_at,
        media_deleted: removed.is_some(),
    }))
}

async fn delete_copy(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = message_id(&id)?;
    if state
        .store()
        .delete_copy(&caller.user_id, caller.device_id, id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "unknown_message",
            "you have no copy of this message".into(),
        ))
    }
}
