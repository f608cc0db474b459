//! The media store, rule by rule, against every backend: streamed uploads
//! with a size cap, an atomic per-user quota, owner-only deletion, path
//! validation, view-once deletion (410 afterwards) and expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use glyph_crypto::{MediaKey, media_sha256};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The file a blob's path names in the default storage folder.
fn stored_file(db: &TestDb, path: &str) -> std::path::PathBuf {
    db.dir.path().join(path)
}

/// Regular files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

async fn usage(server: &TestServer, user: &TestUser) -> u64 {
    let (status, body) = server.get("/v1/media", &user.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["used_bytes"].as_u64().unwrap()
}

#[tokio::test]
async fn a_sealed_file_round_trips_and_only_its_owner_deletes_it() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let file: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let key = MediaKey::generate().unwrap();
        let blob = key.seal(&file).unwrap();
        let (status, uploaded) = server.upload(&alice.token, blob.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{uploaded}");
        let path = uploaded["path"].as_str().unwrap().to_owned();
        assert!(
            path.starts_with(&format!("media/{}/", alice.user_id)),
            "{path}"
        );
        assert_eq!(uploaded["size"], blob.len());
        assert_eq!(usage(&server, &alice).await, blob.len() as u64);
        assert_eq!(
            std::fs::read(stored_file(&db, &path)).unwrap(),
            blob,
            "stored as uploaded"
        );

        // Anyone signed in may download; the bytes are useless without the key.
        let (status, body) = server.download(&bob.token, &path).await;
        assert_eq!(status, StatusCode::OK);
        let opened = key.open(&body).unwrap();
        assert_eq!(media_sha256(&opened), media_sha256(&file));
        let anonymous = server
            .http
            .get(format!("{}/v1/{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        // Only the owner deletes.
        let (owner, name) = path["media/".len()..].split_once('/').unwrap();
        let route = format!("/v1/media/{owner}/{name}");
        assert_error(
            &server
                .call(Method::DELETE, &route, Some(&bob.token), None)
                .await,
            403,
            "not_owner",
        );
        assert_eq!(server.download(&bob.token, &path).await.0, StatusCode::OK);
        let (status, _) = server
            .call(Method::DELETE, &route, Some(&alice.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let gone = server
            .call(Method::GET, &route, Some(&bob.token), None)
            .await;
        assert_error(&gone, 410, "media_removed");
        assert_eq!(
            usage(&server, &alice).await,
            0,
            "deleting gives the bytes back"
        );
        assert!(!stored_file(&db, &path).exists(), "the file is deleted");
        let metrics = server.metrics().await;
        assert!(
            metrics.contains(&format!("glyph_media_bytes_stored_total {}", blob.len())),
            "{metrics}"
        );
        assert!(
            metrics.contains("glyph_media_blobs_purged_total 1"),
            "{metrics}"
        );
        let again = server
            .call(Method::DELETE, &route, Some(&alice.token), None)
            .await;
        assert_eq!(
            again.0,
            StatusCode::NO_CONTENT,
            "deleting twice is harmless"
        );
    }
}

#[tokio::test]
async fn paths_are_validated_and_folders_cannot_be_listed() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let (_, uploaded) = server.upload(&alice.token, vec![1; 64]).await;
        let path = uploaded["path"].as_str().unwrap();
        let name = path.rsplit('/').next().unwrap();
        let t = Some(alice.token.as_str());
        for bad in [
            format!("/v1/media/{}/{}", alice.user_id, name.to_uppercase()),
            format!("/v1/media/{}/{}", alice.user_id, &name[1..]),
            format!("/v1/media/{}/..%2F..%2Fjwt-secret", alice.user_id),
            format!("/v1/media/..%2F..%2F/{name}"),
            format!("/v1/media/not-a-user/{name}"),
        ] {
            let response = server.call(Method::GET, &bad, t, None).await;
            assert_error(&response, 400, "invalid_field");
        }
        // No listing of a folder, one's own or another's.
        for listing in [
            format!("/v1/media/{}", alice.user_id),
            format!("/v1/media/{}/", alice.user_id),
        ] {
            let (status, body) = server.call(Method::GET, &listing, t, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{listing}: {body}");
            assert!(body.to_string().find(name).is_none());
        }
        let unknown = format!("/v1/media/{}/{}", alice.user_id, "0".repeat(32));
        assert_error(
            &server.call(Method::GET, &unknown, t, None).await,
            404,
            "unknown_media",
        );
        // A message may name only media in the sender's own folder.
        let bob = TestUser::new(&server, 0).await;
        let envelope = json!({"v": 1});
        for (media_path, code) in [
            (format!("media/{}/{name}", bob.user_id), "invalid_field"),
            ("media/../../etc/passwd".to_owned(), "invalid_field"),
            (format!("{path}/x"), "invalid_field"),
        ] {
            let response = server
                .post(
                    "/v1/messages",
                    t,
                    json!({"client_id": "m", "copies": [{"recipient": bob.user_id, "device_id": DEVICE, "envelope": envelope, "media_path": media_path}]}),
                )
                .await;
            assert_error(&response, 400, code);
        }
    }
}

/// Uploads `chunks` as a chunked body with no Content-Length.
async fn upload_chunked(
    server: &TestServer,
    user: &TestUser,
    chunks: Vec<Vec<u8>>,
) -> (StatusCode, Value) {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let response = server
        .http
        .post(format!("{}/v1/media", server.base))
        .bearer_auth(&user.token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_size_limit_holds_with_and_without_a_declared_length() {
    for db in databases().await {
        let server =
            TestServer::start_with(test_config(&db, &["--max-media-bytes", "100000"])).await;
        let alice = TestUser::new(&server, 0).await;
        // The limit is on the file: its blob may hold 16 more bytes (the tag).
        let declared = server.upload(&alice.token, vec![0; 100_017]).await;
        assert_error(&declared, 413, "payload_too_large");

        // Chunked, with no Content-Length: refused while streaming.
        let refused = upload_chunked(&server, &alice, vec![vec![7u8; 4096]; 30]).await;
        assert_error(&refused, 413, "payload_too_large");
        assert_eq!(
            usage(&server, &alice).await,
            0,
            "refused uploads reserve nothing"
        );
        assert!(
            files_under(&db.dir.path().join("media")).is_empty(),
            "and leave no file"
        );

        // Exactly at the limit, streamed: accepted at its real size.
        let mut chunks = vec![vec![7u8; 4000]; 25];
        chunks.push(vec![7u8; 16]);
        let accepted = upload_chunked(&server, &alice, chunks).await;
        assert_eq!(accepted.0, StatusCode::CREATED, "{}", accepted.1);
        assert_eq!(
            usage(&server, &alice).await,
            100_016,
            "the reservation shrinks to the real size"
        );
    }
}

#[tokio::test]
async fn concurrent_uploads_never_pass_the_quota() {
    for db in databases().await {
        let server = TestServer::start_with(test_config(
            &db,
            &["--max-media-bytes", "4000", "--media-quota-bytes", "10000"],
        ))
        .await;
        let alice = TestUser::new(&server, 0).await;
        let uploads = (0..12).map(|_| server.upload(&alice.token, vec![3; 3000]));
        let results = futures_util::future::join_all(uploads).await;
        let accepted: Vec<&Value> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .map(|(_, b)| b)
            .collect();
        assert_eq!(accepted.len(), 3, "{results:?}");
        for refused in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
            assert_error(refused, 413, "quota_exceeded");
            assert_eq!(refused.1["error"]["details"]["quota_bytes"], 10000);
        }
        assert_eq!(usage(&server, &alice).await, 9000);
        assert_eq!(files_under(&db.dir.path().join("media")).len(), 3);

        // Deleting one frees room for one more.
        let path = accepted[0]["path"].as_str().unwrap();
        let (status, _) = server
            .call(
                Method::DELETE,
                &format!("/v1/{path}"),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(usage(&server, &alice).await, 6000);
        assert_eq!(
            server.upload(&alice.token, vec![3; 3000]).await.0,
            StatusCode::CREATED
        );
        assert_error(
            &server.upload(&alice.token, vec![3; 3000]).await,
            413,
            "quota_exceeded",
        );
    }
}

/// Sends Bob a message naming `path`.
async fn send_media(
    server: &TestServer,
    from: &TestUser,
    to: &TestUser,
    path: &str,
    extra: Value,
) -> i64 {
    let mut copy = json!({"recipient": to.user_id, "device_id": DEVICE, "envelope": {"v": 1}, "media_path": path});
    for (k, v) in extra.as_object().unwrap() {
        copy[k] = v.clone();
    }
    let (status, body) = server
        .post(
            "/v1/messages",
            Some(&from.token),
            json!({"client_id": &path[path.len() - 32..], "copies": [copy]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["messages"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_view_once_blob_is_deleted_when_viewed() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let carol = TestUser::new(&server, 0).await;
        let (_, uploaded) = server.upload(&alice.token, vec![9; 5000]).await;
        let path = uploaded["path"].as_str().unwrap().to_owned();
        let id = send_media(&server, &alice, &bob, &path, json!({"view_once": true})).await;
        let plain = send_media(&server, &alice, &carol, &path, json!({})).await;

        let inbox = bob.inbox(&server, 0).await;
        assert_eq!(inbox[0]["media_path"], path);
        assert_eq!(inbox[0]["media_removed_at"], Value::Null);
        assert_eq!(server.download(&bob.token, &path).await.0, StatusCode::OK);

        // Only the recipient reports a view, and only of a view-once message.
        let viewed = format!("/v1/messages/{id}/viewed");
        assert_error(
            &server.post(&viewed, Some(&alice.token), json!({})).await,
            404,
            "unknown_message",
        );
        assert_error(
            &server.post(&viewed, Some(&carol.token), json!({})).await,
            404,
            "unknown_message",
        );
        let not_view_once = format!("/v1/messages/{plain}/viewed");
        assert_error(
            &server
                .post(&not_view_once, Some(&carol.token), json!({}))
                .await,
            404,
            "unknown_message",
        );
        assert_eq!(
            server.download(&bob.token, &path).await.0,
            StatusCode::OK,
            "refusals change nothing"
        );

        let (status, first) = server.post(&viewed, Some(&bob.token), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["media_deleted"], true);
        assert_eq!(server.download(&bob.token, &path).await.0, StatusCode::GONE);
        assert_eq!(
            server.download(&carol.token, &path).await.0,
            StatusCode::GONE
        );
        assert!(!stored_file(&db, &path).exists());
        assert_eq!(usage(&server, &alice).await, 0);
        let inbox = bob.inbox(&server, 0).await;
        assert_eq!(inbox[0]["media_removed_at"], first["media_removed_at"]);
        let (status, again) = server.post(&viewed, Some(&bob.token), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            again["media_removed_at"], first["media_removed_at"],
            "a retry changes nothing"
        );
        assert_eq!(again["media_deleted"], false);
    }
}

#[tokio::test]
async fn a_group_view_once_blob_goes_when_the_last_member_has_viewed_it() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let carol = TestUser::new(&server, 0).await;
        let (_, uploaded) = server.upload(&alice.token, vec![9; 100]).await;
        let path = uploaded["path"].as_str().unwrap();
        let copies: Vec<Value> = [&bob, &carol]
            .iter()
            .map(|r| json!({"recipient": r.user_id, "device_id": DEVICE, "envelope": {"v": 1}, "media_path": path, "view_once": true}))
            .collect();
        let (status, sent) = server
            .post(
                "/v1/messages",
                Some(&alice.token),
                json!({"client_id": "g1", "copies": copies}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        let bob_id = sent["messages"][0]["id"].as_i64().unwrap();
        let carol_id = sent["messages"][1]["id"].as_i64().unwrap();
        let (_, first) = server
            .post(
                &format!("/v1/messages/{bob_id}/viewed"),
                Some(&bob.token),
                json!({}),
            )
            .await;
        assert_eq!(first["media_deleted"], false);
        assert_eq!(
            server.download(&carol.token, path).await.0,
            StatusCode::OK,
            "Carol has not viewed it yet"
        );
        let (_, last) = server
            .post(
                &format!("/v1/messages/{carol_id}/viewed"),
                Some(&carol.token),
                json!({}),
            )
            .await;
        assert_eq!(last["media_deleted"], true);
        assert_eq!(
            server.download(&carol.token, path).await.0,
            StatusCode::GONE
        );
    }
}

#[tokio::test]
async fn expiring_messages_take_their_media_with_them() {
    for db in databases().await {
        let server = TestServer::start_with(test_config(&db, &["--sweep-secs", "1"])).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let (_, uploaded) = server.upload(&alice.token, vec![5; 2000]).await;
        let path = uploaded["path"].as_str().unwrap().to_owned();
        let (_, kept) = server.upload(&alice.token, vec![5; 1000]).await;
        let now = glyph_server::input::now();
        send_media(
            &server,
            &alice,
            &bob,
            &path,
            json!({"expires_at": now + 2, "view_once": true}),
        )
        .await;
        assert_eq!(usage(&server, &alice).await, 3000);
        let mut waited = 0;
        while server.download(&bob.token, &path).await.0 != StatusCode::GONE {
            assert!(waited < 100, "the sweeper never removed the blob");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        assert_eq!(usage(&server, &alice).await, 1000, "quota usage goes down");
        // The blob no message names stays.
        assert_eq!(
            server
                .download(&bob.token, kept["path"].as_str().unwrap())
                .await
                .0,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!stored_file(&db, &path).exists(), "the file is deleted");
    }
}
