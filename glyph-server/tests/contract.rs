//! The API contract at its edges, on both backends: identifiers are
//! checked the same way everywhere (no NUL byte reaches a database), a
//! token must name an existing account, and every failure, from whatever
//! layer, has the documented JSON shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_and_malformed_identifiers_are_400_on_both_backends() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 1).await;
        let bob = TestUser::new(&server, 1).await;
        let group_id = alice.create_group(&server, &[&bob]).await;
        let envelope = json!({"v": 1});
        for (client_id, group) in [
            (json!("x\u{0}y"), Value::Null),
            (json!("with space"), Value::Null),
            (json!(""), Value::Null),
            (json!("fine"), json!("g\u{0}1")),
            (json!("fine"), json!(format!("{group_id}\u{0}"))),
        ] {
            let body = json!({"client_id": client_id, "copies": [
                {"recipient": bob.user_id, "device_id": DEVICE, "envelope": envelope, "group_id": group}]});
            let response = server.post("/v1/messages", Some(&alice.token), body).await;
            assert_error(&response, 400, "invalid_field");
        }
        let nul_paths = [
            (Method::GET, "/v1/groups/%00".to_owned(), None),
            (
                Method::POST,
                "/v1/groups/%00/members".to_owned(),
                Some(json!({"user_id": bob.user_id})),
            ),
            (
                Method::DELETE,
                format!("/v1/groups/a%00/members/{}", bob.user_id),
                None,
            ),
            (
                Method::DELETE,
                format!("/v1/groups/{group_id}/members/x%00"),
                None,
            ),
            (Method::GET, "/v1/users/%00".to_owned(), None),
            (Method::GET, "/v1/users/%00/bundles".to_owned(), None),
            (
                Method::GET,
                "/v1/users/%00/devices/1/bundle".to_owned(),
                None,
            ),
            (Method::GET, "/v1/users/%00/devices".to_owned(), None),
            (Method::GET, "/v1/handles/a%00b".to_owned(), None),
            (Method::GET, "/v1/shares/%00".to_owned(), None),
            (Method::GET, "/v1/media/%00/%00".to_owned(), None),
        ];
        for (method, path, body) in nul_paths {
            let response = server
                .call(method.clone(), &path, Some(&alice.token), body)
                .await;
            assert!(
                matches!(response.0.as_u16(), 400 | 422),
                "{} {method} {path}: {response:?}",
                db.name
            );
            assert!(
                response.1["error"]["code"].is_string(),
                "{method} {path}: {response:?}"
            );
        }
        // Nothing was stored by any of them.
        assert!(bob.inbox(&server, 0).await.is_empty(), "{}", db.name);
        let (_, roster) = server
            .get(&format!("/v1/groups/{group_id}"), &alice.token)
            .await;
        assert_eq!(roster["members"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_an_account_that_does_not_exist_is_refused_everywhere() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let bob = TestUser::new(&server, 3).await;
        // A validly signed token for an account this database does not have
        // (as after a restore that kept the secret).
        let secret = std::fs::read(db.dir.path().join("jwt-secret")).unwrap();
        let tokens = glyph_server::auth::Tokens::new(&secret, 3600);
        let ghost_id = glyph_client::user_id_of(
            &glyph_crypto::Identity::from_mnemonic(
                &glyph_crypto::Mnemonic::generate().unwrap(),
                "",
            )
            .unwrap()
            .public()
            .sign_pub,
        );
        let (ghost, _) = tokens
            .issue(&ghost_id, DEVICE, glyph_server::input::now())
            .unwrap();
        let prekey = json!({"keys": [{"id": 1, "pub": b64(&[9u8; 32])}]});
        let spk = json!({"spk_id": 1, "spk_pub": b64(&[9u8; 32]), "spk_sig": b64(&[9u8; 64])});
        let calls: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/users/{}", bob.user_id), None),
            (
                Method::GET,
                format!("/v1/users/{}/devices/{DEVICE}/bundle", bob.user_id),
                None,
            ),
            (
                Method::GET,
                format!("/v1/users/{}/bundles", bob.user_id),
                None,
            ),
            (Method::GET, "/v1/messages".into(), None),
            (Method::GET, "/v1/groups".into(), None),
            (Method::GET, "/v1/media".into(), None),
            (Method::GET, "/v1/prekeys/count".into(), None),
            (Method::POST, "/v1/prekeys/one-time".into(), Some(prekey)),
            (Method::PUT, "/v1/prekeys/signed".into(), Some(spk)),
            (
                Method::PUT,
                "/v1/me/handle".into(),
                Some(json!({"handle": "ghost"})),
            ),
            (Method::GET, "/v1/ws".into(), None),
        ];
        for (method, path, body) in calls {
            let response = server.call(method.clone(), &path, Some(&ghost), body).await;
            assert_error(&response, 401, "unknown_user");
        }
        // The bundle fetch spent none of Bob's one-time prekeys.
        let (_, count) = server.get("/v1/prekeys/count", &bob.token).await;
        assert_eq!(count["one_time"], 3, "{}", db.name);
        // The WebSocket refuses it before upgrading.
        let url = format!("ws://{}/v1/ws", server.addr);
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {ghost}").parse().unwrap());
        let refused = tokio_tungstenite::connect_async(request).await;
        assert!(refused.is_err(), "{}: the socket opened", db.name);
    }
}

/// Sends a raw request line (and headers) and returns the status and the
/// body parsed as JSON.
async fn raw(server: &TestServer, head: &str, body: &str) -> (u16, Value, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(
            format!(
                "{head}\r\nhost: glyph\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::Null),
        answer,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_has_the_json_error_shape() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let auth = format!("authorization: Bearer {}", alice.token);
        let cases = [
            (
                format!("GET /v1/users/%ff HTTP/1.1\r\n{auth}"),
                400,
                "invalid_path",
            ),
            (
                format!("GET /v1/users/%ff/bundles HTTP/1.1\r\n{auth}"),
                400,
                "invalid_path",
            ),
            (
                format!("GET /v1/messages?after=1&after=2 HTTP/1.1\r\n{auth}"),
                400,
                "invalid_query",
            ),
            (
                format!("GET /v1/messages?after=abc HTTP/1.1\r\n{auth}"),
                400,
                "invalid_field",
            ),
            (
                format!("GET /v1/ws?after=abc HTTP/1.1\r\n{auth}"),
                400,
                "invalid_query",
            ),
            ("GET /v1/ws HTTP/1.1".to_owned(), 401, "missing_token"),
            (
                format!("GET /v1/ws HTTP/1.1\r\n{auth}"),
                426,
                "websocket_required",
            ),
            (
                format!("GET /v1/messages/%ff HTTP/1.1\r\n{auth}"),
                405,
                "method_not_allowed",
            ),
            (
                format!("POST /v1/messages/%ff/viewed HTTP/1.1\r\n{auth}"),
                400,
                "invalid_path",
            ),
            ("GET /nowhere HTTP/1.1".to_owned(), 404, "no_route"),
            (
                "PATCH /v1/users HTTP/1.1".to_owned(),
                405,
                "method_not_allowed",
            ),
            (
                "POST /v1/users HTTP/1.1\r\ncontent-type: text/plain".to_owned(),
                415,
                "unsupported_media_type",
            ),
        ];
        for (head, status, code) in cases {
            let body = if head.starts_with("POST /v1/users") {
                "hi"
            } else {
                ""
            };
            let (got, body, answer) = raw(&server, &head, body).await;
            assert_eq!(got, status, "{}: {head}\n{answer}", db.name);
            assert_eq!(body["error"]["code"], code, "{head}\n{answer}");
            assert!(body["error"]["message"].is_string(), "{head}\n{answer}");
        }
    }
}

#[test]
fn every_error_code_in_the_code_is_in_the_table_and_the_docs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("../docs/api.md")).unwrap();
    let table = glyph_server::error::ERROR_CODES;
    let statuses: &[(&str, u16)] = &[
        ("BadRequest", 400),
        ("Unauthorized", 401),
        ("Forbidden", 403),
        ("NotFound", 404),
        ("Conflict", 409),
        ("Gone", 410),
        ("Unprocessable", 422),
    ];
    let constructor = regex::Regex::new(
        r#"ApiError::(BadRequest|Unauthorized|Forbidden|NotFound|Conflict|Gone|Unprocessable)\(\s*"([a-z_]+)""#,
    )
    .unwrap();
    let mut found = Vec::new();
    let mut pending = vec![root.join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for capture in constructor.captures_iter(&text) {
                    let status = statuses.iter().find(|(v, _)| *v == &capture[1]).unwrap().1;
                    found.push((status, capture[2].to_owned()));
                }
            }
        }
    }
    assert!(found.len() > 20, "the scan found too little: {found:?}");
    for (status, code) in &found {
        assert!(
            table
                .iter()
                .any(|(s, _, codes)| s == status && codes.contains(&code.as_str())),
            "{status} {code} is answered but not in error::ERROR_CODES"
        );
    }
    for (status, _, codes) in table {
        for code in *codes {
            assert!(
                docs.contains(&format!("`{code}`")),
                "{status} `{code}` is not in docs/api.md"
            );
        }
    }
}
