//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 document. The schemas of
//! request and response bodies are generated from the `glyph-api` types
//! themselves (`glyph_api::openapi_schemas`), so they cannot drift from
//! what the server sends; this module adds the route table: each
//! operation's parameters, body, and every status it answers, errors
//! included (all in the `ErrorBody` shape). A test checks the table against
//! the router, and every real response of a full session against the
//! document.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::app::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi))
}

async fn openapi() -> Json<Value> {
    Json(document())
}

/// A body: none, a JSON schema by name, or raw content of a media type.
#[derive(Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    Raw(&'static str),
}

/// A query parameter: name, JSON schema, description.
type Query = (&'static str, &'static str, &'static str);

/// One operation.
struct Operation {
    method: &'static str,
    path: &'static str,
    /// Needs `Authorization: Bearer`.
    auth: bool,
    /// Reads or writes the database (so it may answer 503 when it is down).
    database: bool,
    summary: &'static str,
    request: Body,
    status: u16,
    response: Body,
    /// Statuses beyond the common ones (see `error_statuses`).
    errors: &'static [u16],
    query: &'static [Query],
}

const NO_QUERY: &[Query] = &[];

/// Every operation of the API.
const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/v1/users",
        auth: false,
        database: true,
        summary: "Register a user by its signing and DH keys (binding signature checked); 201 new, 200 the same keys again",
        request: Body::Json("RegisterRequest"),
        status: 201,
        response: Body::Json("UserRecord"),
        errors: &[200, 409, 422, 429],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/users/{user_id}",
        auth: true,
        database: true,
        summary: "Look up a user's keys and binding signature",
        request: Body::None,
        status: 200,
        response: Body::Json("UserRecord"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/handles/{handle}",
        auth: true,
        database: true,
        summary: "Look up a user by handle (case-insensitive)",
        request: Body::None,
        status: 200,
        response: Body::Json("UserRecord"),
        errors: &[404, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "put",
        path: "/v1/me/handle",
        auth: true,
        database: true,
        summary: "Set my handle",
        request: Body::Json("SetHandleRequest"),
        status: 200,
        response: Body::Json("UserRecord"),
        errors: &[409, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "delete",
        path: "/v1/me/handle",
        auth: true,
        database: true,
        summary: "Clear my handle",
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/auth/challenge",
        auth: false,
        database: true,
        summary: "Get a single-use login challenge (valid 60 s); any body is ignored",
        request: Body::None,
        status: 200,
        response: Body::Json("ChallengeResponse"),
        errors: &[429],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/auth/token",
        auth: false,
        database: true,
        summary: "Exchange a signed challenge for an access token",
        request: Body::Json("TokenRequest"),
        status: 200,
        response: Body::Json("TokenResponse"),
        errors: &[401, 429],
        query: NO_QUERY,
    },
    Operation {
        method: "put",
        path: "/v1/prekeys/signed",
        auth: true,
        database: true,
        summary: "Upload or replace my device's signed prekey (its signature is checked)",
        request: Body::Json("SignedPreKeyUpload"),
        status: 204,
        response: Body::None,
        errors: &[404, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/prekeys/one-time",
        auth: true,
        database: true,
        summary: "Upload a batch of my device's one-time prekeys (at most 100; 1000 stored)",
        request: Body::Json("OneTimePreKeysUpload"),
        status: 200,
        response: Body::Json("PreKeyCount"),
        errors: &[404, 409, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "delete",
        path: "/v1/prekeys/one-time",
        auth: true,
        database: true,
        summary: "Delete all my one-time prekeys (after a restore)",
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/prekeys/count",
        auth: true,
        database: true,
        summary: "How many one-time prekeys I have left, and my signed prekey's id",
        request: Body::None,
        status: 200,
        response: Body::Json("PreKeyCount"),
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/users/{user_id}/devices/{device_id}/bundle",
        auth: true,
        database: true,
        summary: "A listed device's prekey bundle; its one-time prekey is deleted as it is handed out",
        request: Body::None,
        status: 200,
        response: Body::Json("Bundle"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/users/{user_id}/bundles",
        auth: true,
        database: true,
        summary: "A user's signed device list and a bundle of each listed device (each claims a one-time prekey)",
        request: Body::None,
        status: 200,
        response: Body::Json("Bundles"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/devices",
        auth: true,
        database: true,
        summary: "Claim my device's id (the one my token names) before it is listed; 409 device_taken if a device has it",
        request: Body::Json("ClaimDeviceRequest"),
        status: 201,
        response: Body::Json("ClaimDeviceRequest"),
        errors: &[409],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/devices",
        auth: true,
        database: true,
        summary: "My signed device list and what the server knows of each listed device",
        request: Body::None,
        status: 200,
        response: Body::Json("MyDevices"),
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "put",
        path: "/v1/devices",
        auth: true,
        database: true,
        summary: "Publish a new signed device list (signature and rules checked, the version must grow); devices left out are removed",
        request: Body::Json("DeviceListBody"),
        status: 200,
        response: Body::Json("MyDevices"),
        errors: &[409, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/users/{user_id}/devices",
        auth: true,
        database: true,
        summary: "A user's latest signed device list (verify it; refuse a rollback)",
        request: Body::None,
        status: 200,
        response: Body::Json("UserDevices"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/messages",
        auth: true,
        database: true,
        summary: "Send a message as sealed copies, one per listed device of each recipient, all or nothing; 201 stored, 200 a retry of a stored client_id",
        request: Body::Json("SendRequest"),
        status: 201,
        response: Body::Json("SendResponse"),
        errors: &[200, 404, 409, 429, 507],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/messages",
        auth: true,
        database: true,
        summary: "Page through my inbox, oldest first",
        request: Body::None,
        status: 200,
        response: Body::Json("InboxPage"),
        errors: &[],
        query: &[
            (
                "after",
                r#"{"type":"integer","format":"int64","minimum":0,"default":0}"#,
                "entries with a larger seq",
            ),
            (
                "limit",
                r#"{"type":"integer","minimum":1,"maximum":500,"default":100}"#,
                "most entries returned",
            ),
        ],
    },
    Operation {
        method: "delete",
        path: "/v1/messages/{id}",
        auth: true,
        database: true,
        summary: "Delete my copy of a message",
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/messages/{id}/viewed",
        auth: true,
        database: true,
        summary: "Report a view-once message viewed (its media blob is deleted); any body is ignored",
        request: Body::None,
        status: 200,
        response: Body::Json("ViewedResponse"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/groups",
        auth: true,
        database: true,
        summary: "Create a group roster (I am added)",
        request: Body::Json("CreateGroupRequest"),
        status: 201,
        response: Body::Json("Group"),
        errors: &[404, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/groups",
        auth: true,
        database: true,
        summary: "List my groups",
        request: Body::None,
        status: 200,
        response: Body::Json("GroupList"),
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/groups/{group_id}",
        auth: true,
        database: true,
        summary: "A group's roster (to non-members it does not exist)",
        request: Body::None,
        status: 200,
        response: Body::Json("Group"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/groups/{group_id}/members",
        auth: true,
        database: true,
        summary: "Add a member (members only)",
        request: Body::Json("AddMemberRequest"),
        status: 200,
        response: Body::Json("Group"),
        errors: &[404, 422],
        query: NO_QUERY,
    },
    Operation {
        method: "delete",
        path: "/v1/groups/{group_id}/members/{user_id}",
        auth: true,
        database: true,
        summary: "Remove a member, or leave (members only)",
        request: Body::None,
        status: 200,
        response: Body::Json("Group"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/media",
        auth: true,
        database: true,
        summary: "Upload an encrypted media blob as the raw body (streamed; size and quota checked)",
        request: Body::Raw("application/octet-stream"),
        status: 201,
        response: Body::Json("MediaUploaded"),
        errors: &[400, 408, 413, 507],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/media",
        auth: true,
        database: true,
        summary: "My media usage and the limits",
        request: Body::None,
        status: 200,
        response: Body::Json("MediaUsage"),
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/media/{owner}/{name}",
        auth: true,
        database: true,
        summary: "Download a blob, uploaded as media/<owner>/<name> (410 once deleted)",
        request: Body::None,
        status: 200,
        response: Body::Raw("application/octet-stream"),
        errors: &[404, 410],
        query: NO_QUERY,
    },
    Operation {
        method: "delete",
        path: "/v1/media/{owner}/{name}",
        auth: true,
        database: true,
        summary: "Delete one of my own blobs",
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[403, 404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/shares",
        auth: false,
        database: true,
        summary: "Store a one-view share's ciphertext (rate-limited per address)",
        request: Body::Json("CreateShareRequest"),
        status: 201,
        response: Body::Json("ShareCreated"),
        errors: &[429],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/shares/{code}",
        auth: false,
        database: true,
        summary: "A share's views left and expiry; spends nothing",
        request: Body::None,
        status: 200,
        response: Body::Json("ShareInfo"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "post",
        path: "/v1/shares/{code}/open",
        auth: false,
        database: true,
        summary: "Spend one view atomically and return the blob; any body is ignored",
        request: Body::None,
        status: 200,
        response: Body::Json("OpenedShare"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/s/{code}",
        auth: false,
        database: true,
        summary: "The reveal page (HTML, 404 HTML when gone); never spends a view",
        request: Body::None,
        status: 200,
        response: Body::Raw("text/html"),
        errors: &[404],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/share",
        auth: false,
        database: false,
        summary: "The page that creates a share in the browser (HTML)",
        request: Body::None,
        status: 200,
        response: Body::Raw("text/html"),
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/ws",
        auth: true,
        database: true,
        summary: "Live push over a WebSocket: PushFrame messages (token in Authorization or ?access_token=); 426 without an upgrade",
        request: Body::None,
        status: 101,
        response: Body::Json("PushFrame"),
        errors: &[426],
        query: &[
            (
                "after",
                r#"{"type":"integer","format":"int64","minimum":0,"default":0}"#,
                "push entries with a larger seq, then caught_up, then live ones",
            ),
            (
                "access_token",
                r#"{"type":"string"}"#,
                "the token, for browsers (which cannot set headers on a WebSocket)",
            ),
        ],
    },
    Operation {
        method: "get",
        path: "/healthz",
        auth: false,
        database: false,
        summary: "Liveness: the process answers (the database is not asked)",
        request: Body::None,
        status: 200,
        response: Body::None,
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/readyz",
        auth: false,
        database: true,
        summary: "Readiness: the database answers (503 database_unavailable otherwise)",
        request: Body::None,
        status: 200,
        response: Body::None,
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/metrics",
        auth: false,
        database: false,
        summary: "Prometheus metrics (text)",
        request: Body::None,
        status: 200,
        response: Body::Raw("text/plain"),
        errors: &[],
        query: NO_QUERY,
    },
    Operation {
        method: "get",
        path: "/v1/openapi.json",
        auth: false,
        database: false,
        summary: "This document",
        request: Body::None,
        status: 200,
        response: Body::Raw("application/json"),
        errors: &[],
        query: NO_QUERY,
    },
];

/// Every documented (method, path), for the test that compares them with
/// the router.
pub fn openapi_paths() -> Vec<(&'static str, &'static str)> {
    OPERATIONS.iter().map(|o| (o.method, o.path)).collect()
}

/// Every status an operation may answer besides its success: its own, and
/// those every operation of its kind shares.
fn error_statuses(o: &Operation) -> Vec<u16> {
    let mut statuses = o.errors.to_vec();
    statuses.push(500);
    if o.path.contains('{') || !o.query.is_empty() {
        statuses.push(400);
    }
    if matches!(o.request, Body::Json(_)) {
        statuses.extend([400, 408, 413, 415]);
    }
    if o.auth {
        statuses.push(401);
    }
    if o.database {
        statuses.push(503);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses.retain(|s| *s != o.status);
    statuses
}

/// The schema of a path parameter, by its name.
fn path_parameter(name: &str) -> Value {
    let schema = match name {
        "user_id" | "owner" => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}),
        "group_id" => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}),
        "name" => json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
        "device_id" => json!({"type": "string", "pattern": "^[1-9][0-9]{0,9}$"}),
        "id" => json!({"type": "string", "pattern": "^[0-9]{1,19}$"}),
        "code" => json!({"type": "string", "pattern": "^[A-Za-z0-9]{11,64}$"}),
        "handle" => json!({"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.-]{2,31}$"}),
        _ => json!({"type": "string"}),
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn content(body: Body) -> Option<Value> {
    match body {
        Body::None => None,
        Body::Json(name) => Some(json!({"application/json": {
            "schema": {"$ref": format!("#/components/schemas/{name}")}}})),
        Body::Raw(media_type) => {
            let schema = match media_type {
                "application/octet-stream" => json!({"type": "string", "format": "binary"}),
                "application/json" => json!({"type": "object"}),
                _ => json!({"type": "string"}),
            };
            Some(json!({ media_type: {"schema": schema} }))
        }
    }
}

fn response(description: &str, body: Body) -> Value {
    let mut response = json!({"description": description});
    if let Some(content) = content(body) {
        response["content"] = content;
    }
    response
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut parameters: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(path_parameter)
            .collect();
        for (name, schema, description) in o.query {
            let schema: Value = serde_json::from_str(schema).unwrap_or(Value::Null);
            parameters.push(json!({"name": name, "in": "query", "required": false,
                                   "description": description, "schema": schema}));
        }
        let mut responses = Map::new();
        responses.insert(o.status.to_string(), response("success", o.response));
        for status in error_statuses(o) {
            let answer = if status == 200 && o.status == 201 {
                // A retry of something already stored: the same body.
                response("already stored (a harmless retry)", o.response)
            } else if status == 404 && matches!(o.response, Body::Raw("text/html")) {
                // The relay's pages say "gone" in HTML, for people.
                response("gone (an HTML page)", o.response)
            } else {
                response(
                    &crate::error::describe_status(status),
                    Body::Json("ErrorBody"),
                )
            };
            responses.insert(status.to_string(), answer);
        }
        let mut operation =
            json!({"summary": o.summary, "parameters": parameters, "responses": responses});
        if let Some(content) = content(o.request) {
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        if o.auth {
            operation["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    let schemas: Map<String, Value> = glyph_api::openapi_schemas()
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Glyph server API",
            "version": "1",
            "description": "Stores and forwards end-to-end encrypted messages. Every failure is an ErrorBody with a stable code; see docs/api.md."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas
        }
    })
}
