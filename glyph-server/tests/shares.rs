//! The one-view share relay, against every backend: create, metadata that
//! spends nothing, opens that spend exactly one view (one winner among 50
//! concurrent opens), expiry, limits, and the pages' headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use glyph_crypto::{ShareKey, ShareLink};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A share of `plaintext` made with the Rust crate: (code, link).
async fn create(server: &TestServer, plaintext: &[u8], extra: Value) -> (String, ShareLink) {
    let key = ShareKey::generate().unwrap();
    let mut body = json!({"blob": Base64::encode_string(&key.seal(plaintext).unwrap())});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, created) = server.post("/v1/shares", None, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(created["url"], format!("{}/s/{code}", server.base));
    let link = ShareLink::new(&server.base, &code, key).unwrap();
    (code, link)
}

/// Fetches the page as a client with this user agent: (status, body).
async fn page(
    server: &TestServer,
    code: &str,
    user_agent: &str,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let response = server
        .http
        .get(format!("{}/s/{code}", server.base))
        .header("user-agent", user_agent)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

const PREVIEW_BOTS: &[&str] = &[
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "TelegramBot (like TwitterBot)",
    "WhatsApp/2.23.20.0",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "curl/8.5.0",
];

#[tokio::test]
async fn views_are_spent_only_by_open_and_the_last_one_deletes() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let secret = "correct horse battery staple ✓".as_bytes();
        let (code, link) = create(&server, secret, json!({"views": 2})).await;
        assert_eq!(share_views_left(&server, &code).await, Some(2));

        // Pages, previews and metadata spend nothing.
        for agent in PREVIEW_BOTS {
            let (status, html, headers) = page(&server, &code, agent).await;
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains("Reveal"));
            assert!(html.contains("og:title"));
            assert!(!html.contains("correct horse"));
            assert_eq!(headers["referrer-policy"], "no-referrer");
            assert_eq!(headers["cache-control"], "no-store");
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
                "{csp}"
            );
        }
        assert_eq!(share_views_left(&server, &code).await, Some(2));

        let open = format!("/v1/shares/{code}/open");
        let (status, first) = server.post(&open, None, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["views_left"], 1);
        let blob = Base64::decode_vec(first["blob"].as_str().unwrap()).unwrap();
        assert_eq!(link.key().open(&blob).unwrap(), secret);
        assert_eq!(share_views_left(&server, &code).await, Some(1));
        let (status, last) = server.post(&open, None, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(last["views_left"], 0);
        assert_eq!(last["blob"], first["blob"]);

        assert_error(
            &server.post(&open, None, json!({})).await,
            404,
            "share_gone",
        );
        assert_eq!(share_views_left(&server, &code).await, None);
        let (status, html, _) = page(&server, &code, "Mozilla/5.0").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("This secret is gone"), "{html}");
        assert!(!html.contains("Reveal"));
        // The row is deleted, not just marked.
        let store = glyph_server::store::open(&db.url).await.unwrap();
        assert_eq!(
            store
                .open_share(&code, glyph_server::input::now())
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn with_one_view_left_exactly_one_of_50_concurrent_opens_wins() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let (code, link) = create(&server, b"only once", json!({})).await;
        let open = format!("/v1/shares/{code}/open");
        let attempts = (0..50).map(|_| server.post(&open, None, json!({})));
        let results = futures_util::future::join_all(attempts).await;
        let winners: Vec<&Value> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .map(|(_, b)| b)
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for loser in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
            assert_error(loser, 404, "share_gone");
        }
        let blob = Base64::decode_vec(winners[0]["blob"].as_str().unwrap()).unwrap();
        assert_eq!(link.key().open(&blob).unwrap(), b"only once");
    }
}

#[tokio::test]
async fn expired_shares_are_gone_and_swept() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let store = glyph_server::store::open(&db.url).await.unwrap();
        let now = glyph_server::input::now();
        let code = glyph_crypto::generate_share_code().unwrap();
        store
            .create_share(&code, &[0; 40], 3, now, now + 3)
            .await
            .unwrap();
        // Three seconds of margin: a slow machine may cross a second boundary.
        assert_eq!(share_views_left(&server, &code).await, Some(3));
        while glyph_server::input::now() < now + 3 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(share_views_left(&server, &code).await, None);
        assert_error(
            &server
                .post(&format!("/v1/shares/{code}/open"), None, json!({}))
                .await,
            404,
            "share_gone",
        );
        assert_eq!(page(&server, &code, "x").await.0, StatusCode::NOT_FOUND);
        let now = glyph_server::input::now();
        let swept = store.sweep(now, now).await.unwrap();
        // The server's own sweeper may have run first.
        assert!(swept.shares <= 1);
        assert_eq!(store.sweep(now, now).await.unwrap().shares, 0);
    }
}

#[tokio::test]
async fn bad_shares_are_refused_and_creation_is_rate_limited() {
    for db in databases().await {
        let server = TestServer::start_with(test_config(
            &db,
            &["--max-share-bytes", "1000", "--shares-per-minute", "1000"],
        ))
        .await;
        let blob = |n: usize| Base64::encode_string(&vec![1u8; n]);
        for (body, status, code) in [
            (json!({"blob": blob(1001)}), 413, "payload_too_large"),
            (json!({"blob": blob(4000)}), 413, "payload_too_large"),
            (json!({"blob": blob(27)}), 400, "invalid_field"),
            (json!({"blob": "not base64!"}), 400, "invalid_field"),
            (json!({"blob": "AQ"}), 400, "invalid_field"),
            (json!({"blob": blob(100), "views": 0}), 400, "invalid_field"),
            (
                json!({"blob": blob(100), "views": 101}),
                400,
                "invalid_field",
            ),
            (
                json!({"blob": blob(100), "ttl_secs": 86401}),
                400,
                "invalid_field",
            ),
            (
                json!({"blob": blob(100), "ttl_secs": 10}),
                400,
                "invalid_field",
            ),
            (json!({"views": 1}), 400, "invalid_json"),
        ] {
            assert_error(
                &server.post("/v1/shares", None, body.clone()).await,
                status,
                code,
            );
        }
        let (status, created) = server
            .post(
                "/v1/shares",
                None,
                json!({"blob": blob(1000), "views": 100, "ttl_secs": 60}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let lifetime = created["expires_at"].as_i64().unwrap() - glyph_server::input::now();
        assert!((58..=60).contains(&lifetime), "{lifetime}");
        for bad in ["short", "has-a-dash-in-it", "AAAAAAAAAAAAAAAA%2F.."] {
            let (status, _) = server
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/shares/{bad}"),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(page(&server, bad, "x").await.0, StatusCode::NOT_FOUND);
        }
    }
    for db in databases().await {
        let server = TestServer::start_with(test_config(&db, &["--shares-per-minute", "2"])).await;
        let body = json!({"blob": Base64::encode_string(&[1u8; 40])});
        assert_eq!(
            server.post("/v1/shares", None, body.clone()).await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            server.post("/v1/shares", None, body.clone()).await.0,
            StatusCode::CREATED
        );
        let response = server
            .http
            .post(format!("{}/v1/shares", server.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        assert_error(
            &server.post("/v1/shares", None, body.clone()).await,
            429,
            "rate_limited",
        );
    }
}

#[tokio::test]
async fn pages_load_nothing_from_elsewhere() {
    let db = databases().await.remove(0);
    let server = TestServer::start(&db).await;
    for path in [
        "/share",
        "/assets/relay.js",
        "/assets/relay.css",
        "/s/AAAAAAAAAAAAAAAA",
    ] {
        let response = server
            .http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
        // No absolute URLs: every script, style and font comes from here.
        for foreign in ["http://", "https://", "//cdn", "<script>"] {
            let hits: Vec<&str> = body
                .lines()
                .filter(|l| l.contains(foreign) && !l.trim_start().starts_with("//"))
                .collect();
            assert!(hits.is_empty(), "{path} mentions {foreign}: {hits:?}");
        }
        assert!(
            !body.contains(" style=\""),
            "{path}: inline styles break the CSP"
        );
    }
}
