//! The API, route by route and refusal by refusal, against every backend
//! (SQLite always, PostgreSQL when reachable), over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::*;
use glyph_crypto::{Identity, Mnemonic, PreKeyBundle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Runs `test` once per backend, each with a fresh database and server.
macro_rules! each_backend {
    (|$server:ident, $db:ident| $body:block) => {
        for $db in databases().await {
            eprintln!("backend: {}", $db.name);
            let $server = TestServer::start(&$db).await;
            $body
        }
    };
}

#[tokio::test]
async fn registration_is_checked_and_idempotent() {
    each_backend!(|server, db| {
        let id = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let body = registration(&id);
        let (status, record) = server.post("/v1/users", None, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(record["sign_pub"], body["sign_pub"]);
        assert_eq!(
            server.post("/v1/users", None, body.clone()).await.0,
            StatusCode::OK,
            "a retry is fine"
        );

        let other = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let mut swapped = registration(&id);
        swapped["dh_pub"] = other.public().dh_pub.to_base64().into();
        assert_error(
            &server.post("/v1/users", None, swapped.clone()).await,
            422,
            "bad_signature",
        );
        // Even correctly signed, a second DH key under the same signing key is refused.
        let binding = [
            glyph_api::BINDING_LABEL,
            id.public().sign_pub.as_bytes(),
            other.public().dh_pub.as_bytes(),
        ]
        .concat();
        swapped["binding_sig"] = b64(&id.signing().sign(&binding)).into();
        assert_error(
            &server.post("/v1/users", None, swapped).await,
            409,
            "key_conflict",
        );

        let mut bad = body.clone();
        bad["sign_pub"] = "not base64!".into();
        assert_error(
            &server.post("/v1/users", None, bad).await,
            400,
            "invalid_field",
        );
        let mut short = body.clone();
        short["dh_pub"] = b64(&[1; 31]).into();
        assert_error(
            &server.post("/v1/users", None, short).await,
            400,
            "invalid_field",
        );
        let mut missing = body.clone();
        missing.as_object_mut().unwrap().remove("binding_sig");
        assert_error(
            &server.post("/v1/users", None, missing).await,
            400,
            "invalid_json",
        );
        let raw = server
            .http
            .post(format!("{}/v1/users", server.base))
            .header("content-type", "application/json")
            .body("{nope")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 400);
        let text = server
            .http
            .post(format!("{}/v1/users", server.base))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(text.status(), 415);
        let huge =
            json!({"sign_pub": "A".repeat(5 * 1024 * 1024), "dh_pub": "", "binding_sig": ""});
        assert_error(
            &server.post("/v1/users", None, huge).await,
            413,
            "payload_too_large",
        );
        let _ = db;
    });
}

#[tokio::test]
async fn login_refuses_replayed_foreign_forged_and_expired_challenges() {
    each_backend!(|server, db| {
        let user = TestUser::new(&server, 0).await;
        let (_, challenge) = server.post("/v1/auth/challenge", None, json!({})).await;
        let challenge = challenge["challenge"].as_str().unwrap().to_owned();
        let request = token_request(&user.identity, &challenge);
        assert_eq!(
            server.post("/v1/auth/token", None, request.clone()).await.0,
            StatusCode::OK
        );
        assert_error(
            &server.post("/v1/auth/token", None, request).await,
            401,
            "invalid_challenge",
        );

        let never_issued = b64(&[9; 32]);
        assert_error(
            &server
                .post(
                    "/v1/auth/token",
                    None,
                    token_request(&user.identity, &never_issued),
                )
                .await,
            401,
            "invalid_challenge",
        );

        let (_, fresh) = server.post("/v1/auth/challenge", None, json!({})).await;
        let fresh = fresh["challenge"].as_str().unwrap().to_owned();
        let mut forged = token_request(&user.identity, &fresh);
        let mallory = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        forged["signature"] = token_request(&mallory, &fresh)["signature"].clone();
        assert_error(
            &server.post("/v1/auth/token", None, forged).await,
            401,
            "bad_signature",
        );
        // The forgery spent nothing: the real owner can still use it.
        assert_eq!(
            server
                .post(
                    "/v1/auth/token",
                    None,
                    token_request(&user.identity, &fresh)
                )
                .await
                .0,
            StatusCode::OK
        );

        let (_, unregistered) = server.post("/v1/auth/challenge", None, json!({})).await;
        let unregistered = token_request(&mallory, unregistered["challenge"].as_str().unwrap());
        assert_error(
            &server.post("/v1/auth/token", None, unregistered).await,
            401,
            "unknown_user",
        );

        // An expired challenge, planted directly in storage.
        let store = glyph_server::store::open(&db.url).await.unwrap();
        store
            .put_challenge(&[7; 32], glyph_server::input::now() - 1)
            .await
            .unwrap();
        assert_error(
            &server
                .post(
                    "/v1/auth/token",
                    None,
                    token_request(&user.identity, &b64(&[7; 32])),
                )
                .await,
            401,
            "invalid_challenge",
        );
    });
}

fn jwt_secret(db: &TestDb) -> Vec<u8> {
    std::fs::read(db.dir.path().join("jwt-secret")).unwrap()
}

#[tokio::test]
async fn tokens_are_checked_strictly() {
    each_backend!(|server, db| {
        let user = TestUser::new(&server, 0).await;
        assert_eq!(
            server.get("/v1/prekeys/count", &user.token).await.0,
            StatusCode::OK
        );
        assert_error(
            &server
                .call(Method::GET, "/v1/prekeys/count", None, None)
                .await,
            401,
            "missing_token",
        );
        assert_error(
            &server.get("/v1/prekeys/count", "garbage").await,
            401,
            "invalid_token",
        );

        // alg "none", and a token signed with another secret or algorithm.
        let [header, claims, _]: [&str; 3] = user
            .token
            .split('.')
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let none_header =
            base64ct::Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"JWT"}"#);
        assert_error(
            &server
                .get("/v1/prekeys/count", &format!("{none_header}.{claims}."))
                .await,
            401,
            "invalid_token",
        );
        let hs512 = base64ct::Base64UrlUnpadded::encode_string(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert_error(
            &server
                .get("/v1/prekeys/count", &format!("{hs512}.{claims}.AAAA"))
                .await,
            401,
            "invalid_token",
        );
        let other = glyph_server::auth::Tokens::new(&[0x55; 32], 3600);
        let (foreign, _) = other
            .issue(&user.user_id, DEVICE, glyph_server::input::now())
            .unwrap();
        assert_error(
            &server.get("/v1/prekeys/count", &foreign).await,
            401,
            "invalid_token",
        );
        let _ = header;

        let ours = glyph_server::auth::Tokens::new(&jwt_secret(&db), 3600);
        let (expired, _) = ours
            .issue(&user.user_id, DEVICE, glyph_server::input::now() - 7200)
            .unwrap();
        assert_error(
            &server.get("/v1/prekeys/count", &expired).await,
            401,
            "token_expired",
        );
    });
}

use base64ct::Encoding;

#[tokio::test]
async fn auth_is_rate_limited_with_retry_after() {
    for db in databases().await {
        let server = TestServer::start_with(test_config(&db, &["--auth-per-minute", "3"])).await;
        for _ in 0..3 {
            assert_eq!(
                server.post("/v1/auth/challenge", None, json!({})).await.0,
                StatusCode::OK
            );
        }
        let response = server
            .http
            .post(format!("{}/v1/auth/challenge", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
    }
}

#[tokio::test]
async fn handles_are_unique_case_insensitive_and_validated() {
    each_backend!(|server, db| {
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let set = |token: String, handle: &str| {
            let server = &server;
            let body = json!({"handle": handle});
            async move {
                server
                    .call(Method::PUT, "/v1/me/handle", Some(&token), Some(body))
                    .await
            }
        };
        let (status, record) = set(alice.token.clone(), "Alice").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(record["handle"], "alice");
        assert_error(&set(bob.token.clone(), "ALICE").await, 409, "handle_taken");
        assert_error(&set(bob.token.clone(), "b!").await, 422, "invalid_handle");
        let (status, found) = server.get("/v1/handles/aLiCe", &bob.token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(found["user_id"], alice.user_id);
        // The record carries a binding signature the client can check.
        let sign_pub: [u8; 32] = base64ct::Base64::decode_vec(found["sign_pub"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let dh_pub = base64ct::Base64::decode_vec(found["dh_pub"].as_str().unwrap()).unwrap();
        let sig: [u8; 64] = base64ct::Base64::decode_vec(found["binding_sig"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let message = [glyph_api::BINDING_LABEL, &sign_pub[..], &dh_pub[..]].concat();
        glyph_crypto::SigningPublicKey::from_bytes(&sign_pub)
            .unwrap()
            .verify(&message, &sig)
            .unwrap();

        assert_eq!(
            server
                .call(Method::DELETE, "/v1/me/handle", Some(&alice.token), None)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_error(
            &server.get("/v1/handles/alice", &bob.token).await,
            404,
            "unknown_user",
        );
        assert_eq!(
            set(bob.token.clone(), "alice").await.0,
            StatusCode::OK,
            "a cleared handle is free again"
        );
        assert_error(
            &server
                .get(&format!("/v1/users/{}", "x".repeat(43)), &bob.token)
                .await,
            400,
            "invalid_field",
        );
        let _ = db;
    });
}

#[tokio::test]
async fn prekeys_are_checked_capped_and_handed_out_once() {
    each_backend!(|server, db| {
        let mut bob = TestUser::new(&server, 3).await;
        let alice = TestUser::new(&server, 0).await;
        let (_, count) = server.get("/v1/prekeys/count", &bob.token).await;
        assert_eq!(count, json!({"one_time": 3, "signed_prekey_id": 0}));

        // A signed prekey signed by someone else is refused.
        let spk = glyph_crypto::SignedPreKey::generate(&alice.identity, 9).unwrap();
        let body = json!({"spk_id": 9, "spk_pub": spk.public().to_base64(), "spk_sig": b64(spk.signature())});
        assert_error(
            &server
                .call(
                    Method::PUT,
                    "/v1/prekeys/signed",
                    Some(&bob.token),
                    Some(body),
                )
                .await,
            422,
            "bad_signature",
        );

        // Batches are capped, ids unique, the stock bounded.
        let key = |id: u32| json!({"id": id, "pub": b64(&[id as u8; 32])});
        let too_many: Vec<Value> = (1000..1101).map(key).collect();
        assert_error(
            &server
                .post(
                    "/v1/prekeys/one-time",
                    Some(&bob.token),
                    json!({"keys": too_many}),
                )
                .await,
            422,
            "too_many_prekeys",
        );
        assert_error(
            &server
                .post(
                    "/v1/prekeys/one-time",
                    Some(&bob.token),
                    json!({"keys": [key(0)]}),
                )
                .await,
            409,
            "prekey_id_taken",
        );
        assert_error(
            &server
                .post(
                    "/v1/prekeys/one-time",
                    Some(&bob.token),
                    json!({"keys": [key(5000), key(5000)]}),
                )
                .await,
            400,
            "invalid_field",
        );
        for batch in 0..9 {
            let keys: Vec<Value> = (0..100).map(|i| key(10_000 + batch * 100 + i)).collect();
            assert_eq!(
                server
                    .post(
                        "/v1/prekeys/one-time",
                        Some(&bob.token),
                        json!({"keys": keys})
                    )
                    .await
                    .0,
                StatusCode::OK
            );
        }
        let keys: Vec<Value> = (0..100).map(|i| key(20_000 + i)).collect();
        assert_error(
            &server
                .post(
                    "/v1/prekeys/one-time",
                    Some(&bob.token),
                    json!({"keys": keys}),
                )
                .await,
            422,
            "prekey_stock_full",
        );
        let (_, count) = server.get("/v1/prekeys/count", &bob.token).await;
        assert_eq!(count["one_time"], 903, "a refused batch stores nothing");

        // Bundles verify, and hand out OPKs in order, each once.
        let (status, bundle) = server
            .get(
                &format!("/v1/users/{}/devices/{DEVICE}/bundle", bob.user_id),
                &alice.token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{bundle}");
        assert_eq!(bundle["device_id"], DEVICE);
        let bundle = PreKeyBundle::from_json_value(&bundle).unwrap();
        bundle.verify().unwrap();
        assert_eq!(bundle.identity, bob.identity.public());
        assert_eq!(bundle.opk.map(|(id, _)| id), Some(0));
        let mut fresh = TestUser::new(&server, 1).await;
        let path = format!("/v1/users/{}/devices/{DEVICE}/bundle", fresh.user_id);
        assert!(!server.get(&path, &alice.token).await.1["opk_id"].is_null());
        let (status, empty) = server.get(&path, &alice.token).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            empty["opk_id"].is_null() && empty["opk_pub"].is_null(),
            "{empty}"
        );
        fresh.upload_prekeys(&server, 0).await;
        assert_error(
            &server
                .get(
                    &format!("/v1/users/{}/devices/{DEVICE}/bundle", b64url_id(7)),
                    &alice.token,
                )
                .await,
            404,
            "no_bundle",
        );
        bob.prekeys = glyph_crypto::PreKeyStore::new();
        let _ = db;
    });
}

fn b64url_id(byte: u8) -> String {
    base64ct::Base64UrlUnpadded::encode_string(&[byte; 32])
}

#[tokio::test]
async fn concurrent_bundle_fetches_never_share_a_one_time_prekey() {
    each_backend!(|server, db| {
        let bob = TestUser::new(&server, 10).await;
        let alice = TestUser::new(&server, 0).await;
        let path = format!("/v1/users/{}/devices/{DEVICE}/bundle", bob.user_id);
        let fetches = (0..25).map(|_| server.get(&path, &alice.token));
        let results = futures_util::future::join_all(fetches).await;
        let mut handed_out = Vec::new();
        for (status, bundle) in &results {
            assert_eq!(*status, StatusCode::OK, "{bundle}");
            if let Some(id) = bundle["opk_id"].as_u64() {
                handed_out.push(id);
            }
        }
        let distinct: BTreeSet<_> = handed_out.iter().collect();
        assert_eq!(handed_out.len(), 10, "{handed_out:?}");
        assert_eq!(
            distinct.len(),
            10,
            "an OPK was handed out twice: {handed_out:?}"
        );
        let _ = db;
    });
}

#[tokio::test]
async fn messages_are_stored_all_or_nothing_and_never_twice() {
    each_backend!(|server, db| {
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let carol = TestUser::new(&server, 0).await;
        let (status, sent) = alice
            .send_text(&server, "m1", &[&bob, &carol], "hello both", None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        let (status, again) = alice
            .send_text(&server, "m1", &[&bob, &carol], "hello both", None)
            .await;
        assert_eq!(status, StatusCode::OK, "a retry stores nothing new");
        assert_eq!(again, sent, "a retry returns the same ids");

        let bob_inbox = bob.inbox(&server, 0).await;
        assert_eq!(bob_inbox.len(), 1);
        assert_eq!(bob_inbox[0]["direction"], "in");
        assert_eq!(bob_inbox[0]["sender"], alice.user_id);
        assert_eq!(bob.open(&bob_inbox[0]["payload"]), "hello both");
        assert!(
            alice.inbox(&server, 0).await.is_empty(),
            "the sending device keeps what it sent"
        );

        // One unknown recipient: nothing at all is stored.
        let ghost = json!({"recipient": b64url_id(3), "device_id": DEVICE, "envelope": {"v": 1}});
        let good = json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": {"v": 1}});
        let body = json!({"client_id": "m2", "copies": [good.clone(), ghost]});
        assert_error(
            &server.post("/v1/messages", Some(&alice.token), body).await,
            404,
            "unknown_user",
        );
        assert_eq!(bob.inbox(&server, 0).await.len(), 1);

        // Refusals: sizes, shapes, fields.
        let big = json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": {"ct": "A".repeat(70 * 1024)}});
        assert_error(
            &server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "m3", "copies": [big]}),
                )
                .await,
            413,
            "payload_too_large",
        );
        let not_object = json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": "text"});
        assert_error(
            &server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "m4", "copies": [not_object]}),
                )
                .await,
            400,
            "invalid_field",
        );
        assert_error(
            &server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "", "copies": [good.clone()]}),
                )
                .await,
            400,
            "invalid_field",
        );
        assert_error(
            &server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "m5", "copies": []}),
                )
                .await,
            400,
            "invalid_field",
        );
        assert_error(
            &server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "m6", "copies": [good.clone(), good.clone()]}),
                )
                .await,
            400,
            "invalid_field",
        );
        let past = json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": {"v": 1}, "expires_at": 1});
        assert_error(
            &server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "m7", "copies": [past]}),
                )
                .await,
            400,
            "invalid_field",
        );
        assert_error(
            &server.get("/v1/messages?after=-1", &bob.token).await,
            400,
            "invalid_field",
        );
        assert_error(
            &server.get("/v1/messages?limit=100000", &bob.token).await,
            400,
            "invalid_field",
        );
        assert_eq!(
            bob.inbox(&server, 0).await.len(),
            1,
            "no refusal stored anything"
        );
        let _ = db;
    });
}

#[tokio::test]
async fn concurrent_retries_store_one_copy() {
    each_backend!(|server, db| {
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let recipients = [&bob];
        let sends = (0..16).map(|_| alice.send_text(&server, "same-id", &recipients, "once", None));
        let results = futures_util::future::join_all(sends).await;
        let ids: BTreeSet<i64> = results
            .iter()
            .map(|(s, body)| {
                assert!(s.is_success(), "{body}");
                body["messages"][0]["id"].as_i64().unwrap()
            })
            .collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(bob.inbox(&server, 0).await.len(), 1);
        let _ = db;
    });
}

#[tokio::test]
async fn inbox_pages_in_order_and_each_side_deletes_its_copy() {
    each_backend!(|server, db| {
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        // Alice's second device, which receives what her first one sends.
        let alice2 = alice.link(&server, 2, 2, &[DEVICE, 2]).await;
        for i in 0..5 {
            assert_eq!(
                alice
                    .send_text(&server, &format!("p{i}"), &[&bob], &format!("n{i}"), None)
                    .await
                    .0,
                StatusCode::CREATED
            );
        }
        let (_, first) = server.get("/v1/messages?after=0&limit=2", &bob.token).await;
        assert_eq!(first["messages"].as_array().unwrap().len(), 2);
        let cursor = first["next_after"].as_i64().unwrap();
        let rest = bob.inbox(&server, cursor).await;
        assert_eq!(rest.len(), 3);
        let all: Vec<String> = first["messages"]
            .as_array()
            .unwrap()
            .iter()
            .chain(rest.iter())
            .map(|m| bob.open(&m["payload"]))
            .collect();
        assert_eq!(all, ["n0", "n1", "n2", "n3", "n4"]);
        let seqs: Vec<i64> = rest.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));

        let id = rest[0]["id"].as_i64().unwrap();
        assert_eq!(
            server
                .call(
                    Method::DELETE,
                    &format!("/v1/messages/{id}"),
                    Some(&bob.token),
                    None
                )
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_error(
            &server
                .call(
                    Method::DELETE,
                    &format!("/v1/messages/{id}"),
                    Some(&bob.token),
                    None,
                )
                .await,
            404,
            "unknown_message",
        );
        assert_eq!(bob.inbox(&server, 0).await.len(), 4);
        assert_eq!(
            alice.inbox_of(&server, &alice2).await.len(),
            5,
            "the sender's copy stays"
        );
        assert_eq!(
            server
                .call(
                    Method::DELETE,
                    &format!("/v1/messages/{id}"),
                    Some(&alice2),
                    None
                )
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(alice.inbox_of(&server, &alice2).await.len(), 4);
        assert_error(
            &server
                .call(Method::DELETE, "/v1/messages/abc", Some(&bob.token), None)
                .await,
            400,
            "invalid_field",
        );
        let _ = db;
    });
}

#[tokio::test]
async fn expired_messages_are_never_returned_and_are_swept() {
    each_backend!(|server, db| {
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let now = glyph_server::input::now();
        let copy = json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": {"v": 1}, "self_copy": {"v": 1}, "expires_at": now + 2, "view_once": true});
        assert_eq!(
            server
                .post(
                    "/v1/messages",
                    Some(&alice.token),
                    json!({"client_id": "e", "copies": [copy]})
                )
                .await
                .0,
            StatusCode::CREATED
        );
        let inbox = bob.inbox(&server, 0).await;
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0]["view_once"], true);
        assert_eq!(inbox[0]["expires_at"], now + 2);
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        assert!(bob.inbox(&server, 0).await.is_empty());
        assert!(alice.inbox(&server, 0).await.is_empty());
        let store = glyph_server::store::open(&db.url).await.unwrap();
        // The server's own sweeper may have run first; either way nothing is left.
        let now = glyph_server::input::now();
        store.sweep(now, now).await.unwrap();
        assert_eq!(store.sweep(now, now).await.unwrap().messages, 0);
    });
}

#[tokio::test]
async fn groups_are_rosters_that_only_members_see_and_sends_must_match() {
    each_backend!(|server, db| {
        let users = futures_util::future::join_all((0..4).map(|_| TestUser::new(&server, 0))).await;
        let [alice, bob, carol, dave] = &users[..] else {
            unreachable!()
        };
        let (status, group) = server
            .post(
                "/v1/groups",
                Some(&alice.token),
                json!({"members": [bob.user_id, carol.user_id]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        let gid = group["group_id"].as_str().unwrap().to_owned();
        // Ids are pasted into command lines: 32 lowercase hex, never a '-'.
        assert!(
            gid.len() == 32
                && gid
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{gid}"
        );
        assert_eq!(group["members"].as_array().unwrap().len(), 3);
        assert_error(
            &server.get(&format!("/v1/groups/{gid}"), &dave.token).await,
            404,
            "unknown_group",
        );
        let (_, listed) = server.get("/v1/groups", &bob.token).await;
        assert_eq!(listed["groups"][0]["group_id"], gid);

        // A send must address exactly the roster minus the sender.
        let missing = alice
            .send_text(&server, "g1", &[bob], "hi group", Some(&gid))
            .await;
        assert_error(&missing, 409, "roster_mismatch");
        assert_eq!(
            missing.1["error"]["details"]["missing"],
            json!([carol.user_id])
        );
        let extra = alice
            .send_text(&server, "g2", &[bob, carol, dave], "hi group", Some(&gid))
            .await;
        assert_error(&extra, 409, "roster_mismatch");
        assert_eq!(extra.1["error"]["details"]["extra"], json!([dave.user_id]));
        assert_error(
            &dave
                .send_text(&server, "g3", &[alice, bob, carol], "let me in", Some(&gid))
                .await,
            404,
            "unknown_group",
        );
        assert_eq!(
            alice
                .send_text(&server, "g4", &[bob, carol], "hi group", Some(&gid))
                .await
                .0,
            StatusCode::CREATED
        );
        assert_eq!(carol.inbox(&server, 0).await[0]["group_id"], gid);

        // Only members change the roster; removing oneself is leaving.
        let add_dave = json!({"user_id": dave.user_id});
        assert_error(
            &server
                .post(
                    &format!("/v1/groups/{gid}/members"),
                    Some(&dave.token),
                    add_dave.clone(),
                )
                .await,
            404,
            "unknown_group",
        );
        let (status, roster) = server
            .post(
                &format!("/v1/groups/{gid}/members"),
                Some(&bob.token),
                add_dave,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(roster["members"].as_array().unwrap().len(), 4);
        let (status, roster) = server
            .call(
                Method::DELETE,
                &format!("/v1/groups/{gid}/members/{}", carol.user_id),
                Some(&carol.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !roster["members"]
                .as_array()
                .unwrap()
                .contains(&json!(carol.user_id))
        );
        assert_error(
            &server.get(&format!("/v1/groups/{gid}"), &carol.token).await,
            404,
            "unknown_group",
        );
        assert_eq!(
            alice
                .send_text(&server, "g5", &[bob, dave], "after changes", Some(&gid))
                .await
                .0,
            StatusCode::CREATED
        );
        let unknown = json!({"user_id": b64url_id(8)});
        assert_error(
            &server
                .post(
                    &format!("/v1/groups/{gid}/members"),
                    Some(&bob.token),
                    unknown,
                )
                .await,
            404,
            "unknown_user",
        );
        let _ = db;
    });
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    each_backend!(|server, db| {
        let user = TestUser::new(&server, 0).await;
        assert_error(&server.get("/v1/nope", &user.token).await, 404, "no_route");
        assert_error(
            &server
                .call(Method::PATCH, "/v1/messages", Some(&user.token), None)
                .await,
            405,
            "method_not_allowed",
        );
        let (status, health) = server.call(Method::GET, "/healthz", None, None).await;
        assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})));
        let metrics = server.metrics().await;
        assert!(
            metrics.contains(
                "glyph_http_requests_total{method=\"POST\",route=\"/v1/users\",status=\"201\"}"
            ),
            "{metrics}"
        );
        assert!(metrics.contains("glyph_websocket_connections 0"));
        let _ = db;
    });
}

#[tokio::test]
async fn every_documented_route_exists_and_every_route_is_documented() {
    let db = databases().await.remove(0);
    let server = TestServer::start(&db).await;
    let (_, doc) = server
        .call(Method::GET, "/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let table: BTreeSet<(String, String)> = glyph_server::routes::openapi_paths()
        .into_iter()
        .map(|(m, p)| (m.into(), p.into()))
        .collect();
    assert_eq!(documented, table);
    for (method, path) in &documented {
        let concrete = path
            .replace("{user_id}", &b64url_id(1))
            .replace("{handle}", "someone")
            .replace("{id}", "1")
            .replace("{group_id}", "g")
            .replace("{owner}", &b64url_id(1))
            .replace("{name}", &"0".repeat(32))
            .replace("{code}", "AAAAAAAAAAAAAAAA");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = server.call(method.clone(), &concrete, None, None).await;
        assert_ne!(
            body["error"]["code"], "no_route",
            "{method} {path} is documented but not routed"
        );
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}

/// Sends that arrive together share a transaction (group commit): one
/// refused for its own reasons must not take its batch-mates with it, and
/// a retry inside the same batch is still stored once.
#[tokio::test]
async fn a_refused_send_leaves_the_sends_committed_with_it_intact() {
    each_backend!(|server, db| {
        let users = futures_util::future::join_all((0..4).map(|_| TestUser::new(&server, 0))).await;
        let [alice, bob, carol, dave] = &users[..] else {
            unreachable!()
        };
        let gid = alice.create_group(&server, &[bob, carol]).await;
        let good: Vec<String> = (0..20).map(|i| format!("good-{i}")).collect();
        // Interleaved with the good ones: a group send missing carol, a
        // non-member's group send, and a retry of the first good one.
        let ids: Vec<String> = (0..20)
            .flat_map(|i| {
                [
                    format!("good-{i}"),
                    format!("roster-{i}"),
                    format!("outsider-{i}"),
                    "good-0".into(),
                ]
            })
            .collect();
        let server = &server;
        let results = futures_util::future::join_all(ids.iter().map(|id| {
            let gid = gid.as_str();
            async move {
                if id.starts_with("good-") {
                    alice.send_text(server, id, &[bob], id, None).await
                } else if id.starts_with("roster-") {
                    alice.send_text(server, id, &[bob], id, Some(gid)).await
                } else {
                    dave.send_text(server, id, &[alice, bob, carol], id, Some(gid))
                        .await
                }
            }
        }))
        .await;
        let mut created = BTreeSet::new();
        for (id, response) in ids.iter().zip(&results) {
            if id.starts_with("good-") {
                // Created once (201); the retries find it stored (200).
                assert!(response.0.is_success(), "{id}: {}", response.1);
                if response.0 == StatusCode::CREATED {
                    assert!(created.insert(id.clone()), "{id} created twice");
                }
            } else if id.starts_with("roster-") {
                assert_error(response, 409, "roster_mismatch");
            } else {
                assert_error(response, 404, "unknown_group");
            }
        }
        assert_eq!(created, good.iter().cloned().collect::<BTreeSet<String>>());
        // Bob has each good message once, at consecutive positions; no
        // refused send left anything anywhere.
        let inbox = bob.inbox(server, 0).await;
        let seqs: Vec<i64> = inbox.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<i64>>(), "{inbox:?}");
        let texts: BTreeSet<String> = inbox.iter().map(|m| bob.open(&m["payload"])).collect();
        assert_eq!(texts, good.iter().cloned().collect::<BTreeSet<String>>());
        assert!(carol.inbox(server, 0).await.is_empty());
        assert!(alice.inbox(server, 0).await.is_empty());
        let _ = db;
    });
}
