//! Media on S3-compatible storage (`--features s3`), against a real S3
//! endpoint when one is configured: `glyph-server/tests/s3-moto.sh` starts
//! moto's S3 server and runs this test with the AWS_* variables set. Without
//! `GLYPH_TEST_S3_ENDPOINT` it says it skipped.
#![cfg(feature = "s3")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use glyph_crypto::MediaKey;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn media_round_trips_through_s3_and_deleted_blobs_leave_the_bucket() {
    let Ok(endpoint) = std::env::var("GLYPH_TEST_S3_ENDPOINT") else {
        eprintln!("skipped the S3 test: set GLYPH_TEST_S3_ENDPOINT (see tests/s3-moto.sh)");
        return;
    };
    let bucket = format!("glyph-test-{}", std::process::id());
    let http = http_client();
    let created = http
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "creating the bucket: {}",
        created.status()
    );

    let db = databases().await.remove(0);
    let url = format!("s3://{bucket}/glyph");
    let server = TestServer::start_with(test_config(&db, &["--media-url", &url])).await;
    let alice = TestUser::new(&server, 0).await;
    let bob = TestUser::new(&server, 0).await;
    let key = MediaKey::generate().unwrap();
    let file = vec![7u8; 6 * 1024 * 1024 + 5];
    let blob = key.seal(&file).unwrap();
    let (status, uploaded) = server.upload(&alice.token, blob.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let path = uploaded["path"].as_str().unwrap().to_owned();
    let object = format!("{endpoint}/{bucket}/glyph/{path}");
    assert_eq!(
        http.get(&object)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        blob,
        "the bucket holds the ciphertext"
    );

    let (status, body) = server.download(&bob.token, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(key.open(&body).unwrap(), file);

    let copy = json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": {"v": 1}, "media_path": path, "view_once": true});
    let (_, sent) = server
        .post(
            "/v1/messages",
            Some(&alice.token),
            json!({"client_id": "s3", "copies": [copy]}),
        )
        .await;
    let id = sent["messages"][0]["id"].as_i64().unwrap();
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/v1/messages/{id}/viewed"),
            Some(&bob.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.download(&bob.token, &path).await.0, StatusCode::GONE);
    assert_eq!(
        http.get(&object).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "deleted from the bucket"
    );
}
