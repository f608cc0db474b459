//! Operations: `/healthz`, `/metrics` (Prometheus) and the OpenAPI
//! document at `/v1/openapi.json`, built from the route table below, which
//! a test checks against the router.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::error::ApiError;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
}

/// Liveness: the process is up and answering. It does not touch the
/// database, so an outage there does not get the instance restarted.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers (503 `database_unavailable` otherwise),
/// so a load balancer can route around this instance.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store().ping().await?;
    Ok(Json(json!({"status": "ready"})))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(),
    )
}

/// One documented operation: method, path, whether it needs a token,
/// summary, request body type (from glyph-api), success status and body.
struct Operation {
    method: &'static str,
    path: &'static str,
    auth: bool,
    summary: &'static str,
    request: Option<&'static str>,
    status: &'static str,
    response: Option<&'static str>,
}

const fn op(
    method: &'static str,
    path: &'static str,
    auth: bool,
    summary: &'static str,
    request: Option<&'static str>,
    status: &'static str,
    response: Option<&'static str>,
) -> Operation {
    Operation {
        method,
        path,
        auth,
        summary,
        request,
        status,
        response,
    }
}

const OPERATIONS: &[Operation] = &[
    op(
        "post",
        "/v1/users",
        false,
        "Register a user by its signing and DH keys (binding signature checked)",
        Some("RegisterRequest"),
        "201",
        Some("UserRecord"),
    ),
    op(
        "get",
        "/v1/users/{user_id}",
        true,
        "Look up a user's keys and binding signature",
        None,
        "200",
        Some("UserRecord"),
    ),
    op(
        "get",
        "/v1/handles/{handle}",
        true,
        "Look up a user by handle (case-insensitive)",
        None,
        "200",
        Some("UserRecord"),
    ),
    op(
        "put",
        "/v1/me/handle",
        true,
        "Set my handle",
        Some("SetHandleRequest"),
        "200",
        Some("UserRecord"),
    ),
    op(
        "delete",
        "/v1/me/handle",
        true,
        "Clear my handle",
        None,
        "204",
        None,
    ),
    op(
        "post",
        "/v1/auth/challenge",
        false,
        "Get a single-use login challenge (valid 60 s)",
        None,
        "200",
        Some("ChallengeResponse"),
    ),
    op(
        "post",
        "/v1/auth/token",
        false,
        "Exchange a signed challenge for an access token (1 h)",
        Some("TokenRequest"),
        "200",
        Some("TokenResponse"),
    ),
    op(
        "put",
        "/v1/prekeys/signed",
        true,
        "Upload or replace my signed prekey",
        Some("SignedPreKeyUpload"),
        "204",
        None,
    ),
    op(
        "post",
        "/v1/prekeys/one-time",
        true,
        "Upload a batch of one-time prekeys",
        Some("OneTimePreKeysUpload"),
        "200",
        Some("PreKeyCount"),
    ),
    op(
        "get",
        "/v1/prekeys/count",
        true,
        "How many one-time prekeys I have left",
        None,
        "200",
        Some("PreKeyCount"),
    ),
    op(
        "get",
        "/v1/users/{user_id}/bundle",
        true,
        "Fetch a user's prekey bundle, claiming one one-time prekey",
        None,
        "200",
        Some("PreKeyBundle"),
    ),
    op(
        "post",
        "/v1/messages",
        true,
        "Send a message as 1..N sealed copies, all or nothing, idempotent per client_id",
        Some("SendRequest"),
        "201",
        Some("SendResponse"),
    ),
    op(
        "get",
        "/v1/messages",
        true,
        "Page through my inbox (?after=SEQ&limit=N)",
        None,
        "200",
        Some("InboxPage"),
    ),
    op(
        "delete",
        "/v1/messages/{id}",
        true,
        "Delete my copy of a message",
        None,
        "204",
        None,
    ),
    op(
        "post",
        "/v1/groups",
        true,
        "Create a group roster",
        Some("CreateGroupRequest"),
        "201",
        Some("Group"),
    ),
    op(
        "get",
        "/v1/groups",
        true,
        "List my groups",
        None,
        "200",
        Some("GroupList"),
    ),
    op(
        "get",
        "/v1/groups/{group_id}",
        true,
        "A group's roster (members only)",
        None,
        "200",
        Some("Group"),
    ),
    op(
        "post",
        "/v1/groups/{group_id}/members",
        true,
        "Add a member (members only)",
        Some("AddMemberRequest"),
        "200",
        Some("Group"),
    ),
    op(
        "delete",
        "/v1/groups/{group_id}/members/{user_id}",
        true,
        "Remove a member, or leave (members only)",
        None,
        "200",
        Some("Group"),
    ),
    op(
        "post",
        "/v1/messages/{id}/viewed",
        true,
        "Report a view-once message viewed (its media blob is deleted)",
        None,
        "200",
        Some("ViewedResponse"),
    ),
    op(
        "post",
        "/v1/media",
        true,
        "Upload an encrypted media blob (raw body, streamed; size and quota checked)",
        None,
        "201",
        Some("MediaUploaded"),
    ),
    op(
        "get",
        "/v1/media",
        true,
        "The caller's media usage and limits",
        None,
        "200",
        Some("MediaUsage"),
    ),
    op(
        "get",
        "/v1/media/{owner}/{name}",
        true,
        "Download a blob (410 once deleted)",
        None,
        "200",
        None,
    ),
    op(
        "delete",
        "/v1/media/{owner}/{name}",
        true,
        "Delete one of the caller's own blobs",
        None,
        "204",
        None,
    ),
    op(
        "post",
        "/v1/shares",
        false,
        "Store a one-view share's ciphertext (rate-limited per address)",
        Some("CreateShareRequest"),
        "201",
        Some("ShareCreated"),
    ),
    op(
        "get",
        "/v1/shares/{code}",
        false,
        "A share's views left and expiry; spends nothing",
        None,
        "200",
        Some("ShareInfo"),
    ),
    op(
        "post",
        "/v1/shares/{code}/open",
        false,
        "Spend one view atomically and return the blob",
        None,
        "200",
        Some("OpenedShare"),
    ),
    op(
        "get",
        "/s/{code}",
        false,
        "The reveal page (HTML); never spends a view",
        None,
        "200",
        None,
    ),
    op(
        "get",
        "/share",
        false,
        "The page that creates a share in the browser (HTML)",
        None,
        "200",
        None,
    ),
    op(
        "delete",
        "/v1/prekeys/one-time",
        true,
        "Delete all of the caller's one-time prekeys (after a restore)",
        None,
        "204",
        None,
    ),
    op(
        "get",
        "/v1/ws",
        true,
        "Live push over a WebSocket (?after=SEQ; token in Authorization or ?access_token=)",
        None,
        "101",
        None,
    ),
    op(
        "get",
        "/healthz",
        false,
        "Liveness: the process answers (the database is not asked)",
        None,
        "200",
        None,
    ),
    op(
        "get",
        "/readyz",
        false,
        "Readiness: the database answers (503 database_unavailable otherwise)",
        None,
        "200",
        None,
    ),
    op(
        "get",
        "/metrics",
        false,
        "Prometheus metrics",
        None,
        "200",
        None,
    ),
    op(
        "get",
        "/v1/openapi.json",
        false,
        "This document",
        None,
        "200",
        None,
    ),
];

/// Every documented (method, path), for the test that compares them with
/// the router.
pub fn openapi_paths() -> Vec<(&'static str, &'static str)> {
    OPERATIONS.iter().map(|o| (o.method, o.path)).collect()
}

fn schema_ref(name: &str) -> Value {
    json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}})
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut responses = Map::new();
        let mut success = json!({"description": "success"});
        if let Some(response) = o.response {
            success = json!({"description": "success", "content": schema_ref(response)["content"].clone()});
        }
        responses.insert(o.status.into(), success);
        responses.insert(
            "default".into(),
            json!({"description": "error", "content": schema_ref("ErrorBody")["content"].clone()}),
        );
        let mut operation =
            json!({"summary": o.summary, "parameters": params, "responses": responses});
        if let Some(request) = o.request {
            operation["requestBody"] = schema_ref(request);
        }
        if o.auth {
            operation["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    let object = |required: &[&str]| json!({"type": "object", "required": required});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Glyph server API", "version": "1", "description": "Stores and forwards end-to-end encrypted messages. See docs/api.md."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "RegisterRequest": object(&["sign_pub", "dh_pub", "binding_sig"]),
                "UserRecord": object(&["user_id", "sign_pub", "dh_pub", "binding_sig", "handle"]),
                "SetHandleRequest": object(&["handle"]),
                "ChallengeResponse": object(&["challenge", "expires_at"]),
                "TokenRequest": object(&["sign_pub", "challenge", "signature"]),
                "TokenResponse": object(&["token", "expires_at", "user_id"]),
                "SignedPreKeyUpload": object(&["spk_id", "spk_pub", "spk_sig"]),
                "OneTimePreKeysUpload": object(&["keys"]),
                "PreKeyCount": object(&["one_time", "signed_prekey_id"]),
                "PreKeyBundle": object(&["sign_pub", "dh_pub", "spk_id", "spk_pub", "spk_sig", "opk_id", "opk_pub"]),
                "SendRequest": object(&["client_id", "copies"]),
                "SendResponse": object(&["messages"]),
                "InboxPage": object(&["messages", "next_after"]),
                "CreateGroupRequest": object(&["members"]),
                "AddMemberRequest": object(&["user_id"]),
                "Group": object(&["group_id", "members"]),
                "GroupList": object(&["groups"]),
                "ViewedResponse": object(&["media_removed_at", "media_deleted"]),
                "MediaUploaded": object(&["path", "size"]),
                "MediaUsage": object(&["used_bytes", "quota_bytes", "max_file_bytes"]),
                "CreateShareRequest": object(&["blob"]),
                "ShareCreated": object(&["code", "url", "views", "expires_at"]),
                "ShareInfo": object(&["views_left", "expires_at"]),
                "OpenedShare": object(&["blob", "views_left"]),
                "ErrorBody": object(&["error"])
            }
        }
    })
}

async fn openapi() -> Json<Value> {
    Json(document())
}
