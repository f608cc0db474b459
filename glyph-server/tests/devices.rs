//! Devices (spec section 9) against every backend: claiming ids, signed
//! lists that only move forward, prekeys and bundles per device, sends that
//! must cover exactly the listed devices, self-copies to the sender's other
//! devices, removal (tokens refused, nothing more delivered, undelivered
//! copies dropped, the live socket closed), concurrent publishes, and an
//! account from before devices keeping its inbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use glyph_crypto::{DeviceList, Identity, Mnemonic, SealedEnvelope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A sealed copy of `text` for `to`, addressed to one device.
fn copy(from: &TestUser, to: &TestUser, device: u32, text: &str, self_copy: bool) -> Value {
    let seal = |key: glyph_crypto::DhPublicKey| {
        SealedEnvelope::seal(from.identity.signing(), &key, text.as_bytes())
            .unwrap()
            .to_json_value()
    };
    let own = self_copy.then(|| seal(from.identity.public().dh_pub));
    json!({"recipient": to.user_id, "device_id": device,
           "envelope": seal(to.identity.public().dh_pub), "self_copy": own})
}

async fn send(
    server: &TestServer,
    token: &str,
    client_id: &str,
    copies: Vec<Value>,
) -> (StatusCode, Value) {
    server
        .post(
            "/v1/messages",
            Some(token),
            json!({"client_id": client_id, "copies": copies}),
        )
        .await
}

async fn publish(
    server: &TestServer,
    who: &Identity,
    token: &str,
    version: u32,
    devices: &[u32],
) -> (StatusCode, Value) {
    let list = DeviceList::sign(who.signing(), version, devices).unwrap();
    server
        .call(
            Method::PUT,
            "/v1/devices",
            Some(token),
            Some(list.to_json_value()),
        )
        .await
}

/// One number from the test's database.
async fn count(db: &TestDb, sql: &str) -> i64 {
    if db.name == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}

#[tokio::test]
async fn a_device_claims_its_own_id_once() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let second = login_as(&server, &alice.identity, 2).await;
        let claimed = server
            .post("/v1/devices", Some(&second), json!({"device_id": 2}))
            .await;
        assert_eq!(claimed.0, StatusCode::CREATED, "{}", db.name);
        let again = server
            .post("/v1/devices", Some(&second), json!({"device_id": 2}))
            .await;
        assert_error(&again, 409, "device_taken");
        // Only the id the token names.
        let other = server
            .post("/v1/devices", Some(&second), json!({"device_id": 3}))
            .await;
        assert_error(&other, 400, "invalid_field");
        // The first device's id is taken too.
        let first = login_as(&server, &alice.identity, DEVICE).await;
        let taken = server
            .post("/v1/devices", Some(&first), json!({"device_id": DEVICE}))
            .await;
        assert_error(&taken, 409, "device_taken");
        // Device 0 is reserved for accounts from before devices.
        let (_, challenge) = server.post("/v1/auth/challenge", None, json!({})).await;
        let request =
            token_request_for(&alice.identity, challenge["challenge"].as_str().unwrap(), 0);
        assert_error(
            &server.post("/v1/auth/token", None, request).await,
            400,
            "invalid_field",
        );
        // A device that has not claimed its id has no prekeys to keep.
        let third = login_as(&server, &alice.identity, 3).await;
        let spk = glyph_crypto::PreKeyStore::new()
            .rotate_signed_prekey(&alice.identity)
            .unwrap();
        let upload = json!({"spk_id": spk.id(), "spk_pub": spk.public().to_base64(), "spk_sig": b64(spk.signature())});
        let answer = server
            .call(
                Method::PUT,
                "/v1/prekeys/signed",
                Some(&third),
                Some(upload),
            )
            .await;
        assert_error(&answer, 404, "unknown_device");
        let keys = json!({"keys": [{"id": 1, "pub": b64(&[5u8; 32])}]});
        assert_error(
            &server
                .post("/v1/prekeys/one-time", Some(&third), keys)
                .await,
            404,
            "unknown_device",
        );

        // At most 16 devices being set up at once, and 16 listed.
        for device in 3..=17 {
            let token = login_as(&server, &alice.identity, device).await;
            let answer = server
                .post("/v1/devices", Some(&token), json!({"device_id": device}))
                .await;
            assert_eq!(
                answer.0,
                StatusCode::CREATED,
                "device {device}: {}",
                answer.1
            );
        }
        let one_more = login_as(&server, &alice.identity, 18).await;
        let refused = server
            .post("/v1/devices", Some(&one_more), json!({"device_id": 18}))
            .await;
        assert_error(&refused, 409, "too_many_devices");
        let sixteen: Vec<u32> = (1..=16).collect();
        assert_eq!(
            publish(&server, &alice.identity, &alice.token, 3, &sixteen)
                .await
                .0,
            StatusCode::OK
        );
        // (A list of 17 cannot be signed here; the server refuses it whole.)
        let mut seventeen = DeviceList::sign(alice.identity.signing(), 4, &sixteen)
            .unwrap()
            .to_json_value();
        seventeen["devices"].as_array_mut().unwrap().push(json!(17));
        let too_long = server
            .call(
                Method::PUT,
                "/v1/devices",
                Some(&alice.token),
                Some(seventeen),
            )
            .await;
        assert_error(&too_long, 422, "bad_device_list");
        let refused = server
            .post("/v1/devices", Some(&one_more), json!({"device_id": 18}))
            .await;
        assert_error(&refused, 409, "too_many_devices");
    }
}

#[tokio::test]
async fn device_lists_are_verified_and_only_move_forward() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let second = alice.link(&server, 2, 2, &[DEVICE, 2]).await;

        // What anyone reads is the list exactly as Alice signed it.
        let path = format!("/v1/users/{}/devices", alice.user_id);
        let (status, served) = server.get(&path, &bob.token).await;
        assert_eq!(status, StatusCode::OK);
        let signed = DeviceList::sign(alice.identity.signing(), 2, &[DEVICE, 2]).unwrap();
        assert_eq!(served["list"], signed.to_json_value(), "{}", db.name);
        let (_, mine) = server.get("/v1/devices", &second).await;
        assert_eq!(mine["list"], signed.to_json_value());
        let ids: Vec<u64> = mine["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["device_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [u64::from(DEVICE), 2]);

        // Not signed by Alice: refused, whoever sends it.
        let forged = DeviceList::sign(bob.identity.signing(), 3, &[DEVICE]).unwrap();
        let answer = server
            .call(
                Method::PUT,
                "/v1/devices",
                Some(&alice.token),
                Some(forged.to_json_value()),
            )
            .await;
        assert_error(&answer, 422, "bad_device_list");
        // Tampered after signing.
        let mut tampered = DeviceList::sign(alice.identity.signing(), 3, &[DEVICE])
            .unwrap()
            .to_json_value();
        tampered["version"] = json!(4);
        let answer = server
            .call(
                Method::PUT,
                "/v1/devices",
                Some(&alice.token),
                Some(tampered),
            )
            .await;
        assert_error(&answer, 422, "bad_device_list");
        let answer = server
            .call(
                Method::PUT,
                "/v1/devices",
                Some(&alice.token),
                Some(json!({"version": 3})),
            )
            .await;
        assert_error(&answer, 400, "invalid_field");
        // The same version again, or an older one: stale.
        for version in [2, 1] {
            let answer = publish(&server, &alice.identity, &alice.token, version, &[DEVICE]).await;
            assert_error(&answer, 409, "stale_device_list");
            assert_eq!(answer.1["error"]["details"]["current_version"], 2);
        }
        // Nothing was changed by the refusals.
        let (_, after) = server.get(&path, &bob.token).await;
        assert_eq!(after["list"], signed.to_json_value());
        let nobody = format!("/v1/users/{}/devices", "A".repeat(43));
        assert_error(&server.get(&nobody, &bob.token).await, 404, "unknown_user");
    }
}

#[tokio::test]
async fn concurrent_publishes_of_one_version_store_exactly_one() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let mut tokens = Vec::new();
        for device in 2..=6 {
            let token = login_as(&server, &alice.identity, device).await;
            let claimed = server
                .post("/v1/devices", Some(&token), json!({"device_id": device}))
                .await;
            assert_eq!(claimed.0, StatusCode::CREATED);
            tokens.push((device, token));
        }
        // Five devices each publish version 2 with themselves added.
        let attempts = tokens.iter().map(|(device, token)| {
            let server = &server;
            let identity = &alice.identity;
            async move {
                (
                    *device,
                    publish(server, identity, token, 2, &[DEVICE, *device]).await,
                )
            }
        });
        let answers = futures_util::future::join_all(attempts).await;
        let winners: Vec<u32> = answers
            .iter()
            .filter(|(_, a)| a.0 == StatusCode::OK)
            .map(|(d, _)| *d)
            .collect();
        assert_eq!(winners.len(), 1, "{}: {answers:?}", db.name);
        for (_, answer) in answers.iter().filter(|(_, a)| a.0 != StatusCode::OK) {
            assert_error(answer, 409, "stale_device_list");
        }
        let (_, mine) = server.get("/v1/devices", &alice.token).await;
        assert_eq!(mine["list"]["devices"], json!([DEVICE, winners[0]]));
    }
}

#[tokio::test]
async fn prekeys_and_bundles_are_per_device() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let bob = TestUser::new(&server, 2).await;
        let alice = TestUser::new(&server, 0).await;
        // Bob's second device, with prekeys of its own (signed by Bob's
        // identity key, which every device of his holds).
        let laptop = bob.link(&server, 2, 2, &[DEVICE, 2]).await;
        let mut laptop_prekeys = glyph_crypto::PreKeyStore::new();
        let spk = laptop_prekeys.rotate_signed_prekey(&bob.identity).unwrap();
        let upload = json!({"spk_id": spk.id(), "spk_pub": spk.public().to_base64(), "spk_sig": b64(spk.signature())});
        let answer = server
            .call(
                Method::PUT,
                "/v1/prekeys/signed",
                Some(&laptop),
                Some(upload),
            )
            .await;
        assert_eq!(answer.0, StatusCode::NO_CONTENT, "{}", answer.1);
        let keys: Vec<Value> = laptop_prekeys
            .generate_one_time_prekeys(3)
            .unwrap()
            .into_iter()
            .map(|(id, key)| json!({"id": id, "pub": key.to_base64()}))
            .collect();
        assert_eq!(
            server
                .post("/v1/prekeys/one-time", Some(&laptop), json!({"keys": keys}))
                .await
                .0,
            StatusCode::OK
        );

        let (_, phone_count) = server.get("/v1/prekeys/count", &bob.token).await;
        let (_, laptop_count) = server.get("/v1/prekeys/count", &laptop).await;
        assert_eq!(
            (
                phone_count["one_time"].as_u64(),
                laptop_count["one_time"].as_u64()
            ),
            (Some(2), Some(3))
        );

        let one = |device: u32| format!("/v1/users/{}/devices/{device}/bundle", bob.user_id);
        let (_, phone) = server.get(&one(DEVICE), &alice.token).await;
        let (_, other) = server.get(&one(2), &alice.token).await;
        assert_eq!(
            (phone["device_id"].as_u64(), other["device_id"].as_u64()),
            (Some(1), Some(2))
        );
        assert_ne!(phone["spk_pub"], other["spk_pub"], "{}", db.name);
        assert_eq!(phone["sign_pub"], other["sign_pub"]);
        // All of them at once, with the list that names them.
        let (status, all) = server
            .get(&format!("/v1/users/{}/bundles", bob.user_id), &alice.token)
            .await;
        assert_eq!(status, StatusCode::OK);
        let devices: Vec<u64> = all["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["device_id"].as_u64().unwrap())
            .collect();
        assert_eq!(devices, [1, 2]);
        assert_eq!(all["list"]["devices"], json!([1, 2]));
        // Each fetch spent one one-time prekey of that device only.
        let (_, phone_count) = server.get("/v1/prekeys/count", &bob.token).await;
        let (_, laptop_count) = server.get("/v1/prekeys/count", &laptop).await;
        assert_eq!(
            (
                phone_count["one_time"].as_u64(),
                laptop_count["one_time"].as_u64()
            ),
            (Some(0), Some(1))
        );
        // A claimed but unlisted device has no bundle to give.
        let third = login_as(&server, &bob.identity, 3).await;
        server
            .post("/v1/devices", Some(&third), json!({"device_id": 3}))
            .await;
        assert_error(&server.get(&one(3), &alice.token).await, 404, "no_bundle");
        assert_error(
            &server.get(&one(0), &alice.token).await,
            400,
            "invalid_field",
        );
    }
}

#[tokio::test]
async fn sends_cover_exactly_the_listed_devices_and_reach_the_senders_others() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let bob_laptop = bob.link(&server, 2, 2, &[DEVICE, 2]).await;
        let alice_laptop = alice.link(&server, 3, 2, &[DEVICE, 3]).await;

        // Missing one of Bob's devices, or naming one he does not list.
        let short = send(
            &server,
            &alice.token,
            "m1",
            vec![copy(&alice, &bob, DEVICE, "hi", true)],
        )
        .await;
        assert_error(&short, 409, "device_mismatch");
        assert_eq!(
            short.1["error"]["details"]["users"][&bob.user_id],
            json!({"missing": [2], "extra": []}),
            "{}",
            db.name
        );
        let long = send(
            &server,
            &alice.token,
            "m1",
            vec![
                copy(&alice, &bob, DEVICE, "hi", true),
                copy(&alice, &bob, 2, "hi", false),
                copy(&alice, &bob, 9, "hi", false),
            ],
        )
        .await;
        assert_error(&long, 409, "device_mismatch");
        assert_eq!(
            long.1["error"]["details"]["users"][&bob.user_id],
            json!({"missing": [], "extra": [9]})
        );
        // Nothing was stored for anyone.
        for token in [&bob.token, &bob_laptop, &alice.token, &alice_laptop] {
            assert!(bob.inbox_of(&server, token).await.is_empty());
        }

        let copies = vec![
            copy(&alice, &bob, DEVICE, "for the phone", true),
            copy(&alice, &bob, 2, "for the laptop", false),
        ];
        let (status, sent) = send(&server, &alice.token, "m1", copies.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        // A retry stores nothing more.
        assert_eq!(
            send(&server, &alice.token, "m1", copies).await.0,
            StatusCode::OK
        );

        for (token, device, text) in [
            (&bob.token, DEVICE, "for the phone"),
            (&bob_laptop, 2, "for the laptop"),
        ] {
            let inbox = bob.inbox_of(&server, token).await;
            assert_eq!(inbox.len(), 1, "{}: {inbox:?}", db.name);
            assert_eq!(bob.open(&inbox[0]["payload"]), text);
            assert_eq!(inbox[0]["recipient_device"], device);
            assert_eq!(inbox[0]["sender_device"], DEVICE);
            assert_eq!(inbox[0]["direction"], "in");
        }
        // Alice's other device has the one self-copy; the sending device
        // nothing.
        let theirs = alice.inbox_of(&server, &alice_laptop).await;
        assert_eq!(theirs.len(), 1, "{theirs:?}");
        assert_eq!(theirs[0]["direction"], "out");
        assert_eq!(alice.open(&theirs[0]["payload"]), "for the phone");
        assert!(alice.inbox_of(&server, &alice.token).await.is_empty());

        // A group send covers every member's devices.
        let carol = TestUser::new(&server, 0).await;
        let group_id = &alice.create_group(&server, &[&bob, &carol]).await;
        let mut copies = vec![
            copy(&alice, &bob, DEVICE, "g", true),
            copy(&alice, &carol, DEVICE, "g", false),
        ];
        for c in &mut copies {
            c["group_id"] = json!(group_id);
        }
        let partial = send(&server, &alice.token, "g1", copies.clone()).await;
        assert_error(&partial, 409, "device_mismatch");
        let mut laptop_copy = copy(&alice, &bob, 2, "g", false);
        laptop_copy["group_id"] = json!(group_id);
        copies.push(laptop_copy);
        assert_eq!(
            send(&server, &alice.token, "g1", copies).await.0,
            StatusCode::CREATED
        );
        assert_eq!(bob.inbox_of(&server, &bob_laptop).await.len(), 2);
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &TestServer, token: &str) -> Socket {
    let mut request = format!("ws://{}/v1/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The frames up to and including the close frame's code.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("no close within 10 s")
            .expect("the socket ended without a close frame")
            .unwrap();
        if let Message::Close(frame) = frame {
            return frame.map(|f| u16::from(f.code)).unwrap_or_default();
        }
    }
}

#[tokio::test]
async fn a_removed_device_is_signed_out_and_gets_nothing_more() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let lost = bob.link(&server, 2, 2, &[DEVICE, 2]).await;
        let copies = vec![
            copy(&alice, &bob, DEVICE, "one", true),
            copy(&alice, &bob, 2, "one", false),
        ];
        assert_eq!(
            send(&server, &alice.token, "m1", copies).await.0,
            StatusCode::CREATED
        );
        let mut socket = connect(&server, &lost).await;

        // Bob removes the lost device from his phone.
        let (status, mine) = publish(&server, &bob.identity, &bob.token, 3, &[DEVICE]).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        assert_eq!(mine["list"]["devices"], json!([DEVICE]));
        assert_eq!(
            close_code(&mut socket).await,
            glyph_server::routes::CLOSE_DEVICE_REMOVED,
            "{}",
            db.name
        );

        // Its token and any new login are refused; its id stays taken.
        assert_error(
            &server.get("/v1/messages", &lost).await,
            401,
            "device_removed",
        );
        let (_, challenge) = server.post("/v1/auth/challenge", None, json!({})).await;
        let request = token_request_for(&bob.identity, challenge["challenge"].as_str().unwrap(), 2);
        assert_error(
            &server.post("/v1/auth/token", None, request).await,
            401,
            "device_removed",
        );
        let relist = publish(&server, &bob.identity, &bob.token, 4, &[DEVICE, 2]).await;
        assert_error(&relist, 409, "device_removed");
        // Its prekeys and the copy it never fetched are gone.
        assert_error(
            &server
                .get(
                    &format!("/v1/users/{}/devices/2/bundle", bob.user_id),
                    &alice.token,
                )
                .await,
            404,
            "no_bundle",
        );
        let left = count(&db, "SELECT COUNT(*) FROM inbox WHERE device_id = 2").await;
        assert_eq!(left, 0);
        // Sends now cover the phone alone; naming the removed one is extra.
        let stale = send(
            &server,
            &alice.token,
            "m2",
            vec![
                copy(&alice, &bob, DEVICE, "two", true),
                copy(&alice, &bob, 2, "two", false),
            ],
        )
        .await;
        assert_error(&stale, 409, "device_mismatch");
        assert_eq!(
            stale.1["error"]["details"]["users"][&bob.user_id]["extra"],
            json!([2])
        );
        assert_eq!(
            send(
                &server,
                &alice.token,
                "m2",
                vec![copy(&alice, &bob, DEVICE, "two", true)]
            )
            .await
            .0,
            StatusCode::CREATED
        );
        assert_eq!(bob.inbox(&server, 0).await.len(), 2);
        // The phone keeps working; a device linked later gets a new id.
        let (_, mine) = server.get("/v1/devices", &bob.token).await;
        assert_eq!(mine["devices"].as_array().unwrap().len(), 1);
        bob.link(&server, 5, 4, &[DEVICE, 5]).await;
    }
}

/// The schema before devices (migrations 0001 and 0002), applied alone.
async fn legacy_schema(db: &TestDb) -> tempfile::TempDir {
    let kind = if db.name == "sqlite" {
        "sqlite"
    } else {
        "postgres"
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(kind);
    let old = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("0001") || name.starts_with("0002") {
            std::fs::copy(&path, old.path().join(name)).unwrap();
        }
    }
    old
}

/// Two accounts from before devices: Alice sent Bob one message, which
/// both inboxes hold at seq 1; Bob has prekeys.
macro_rules! legacy_rows {
    ($pool:expr, $alice:expr, $bob:expr, $envelope:expr, $self_copy:expr) => {{
        for (identity, seq) in [($alice, 1i64), ($bob, 1i64)] {
            let public = identity.public();
            let binding = registration(identity);
            let binding_sig = base64ct::Base64::decode_vec(binding["binding_sig"].as_str().unwrap()).unwrap();
            sqlx::query("INSERT INTO users (user_id, sign_pub, dh_pub, binding_sig, inbox_seq, created_at) VALUES ($1, $2, $3, $4, $5, 1)")
                .bind(glyph_client::user_id_of(&public.sign_pub))
                .bind(public.sign_pub.as_bytes().to_vec())
                .bind(public.dh_pub.as_bytes().to_vec())
                .bind(binding_sig)
                .bind(seq)
                .execute($pool)
                .await
                .unwrap();
        }
        let alice_id = glyph_client::user_id_of(&$alice.public().sign_pub);
        let bob_id = glyph_client::user_id_of(&$bob.public().sign_pub);
        sqlx::query("INSERT INTO signed_prekeys (user_id, spk_id, spk_pub, spk_sig) VALUES ($1, 1, $2, $3)")
            .bind(&bob_id)
            .bind(vec![1u8; 32])
            .bind(vec![2u8; 64])
            .execute($pool)
            .await
            .unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (sender, recipient, client_id, envelope, self_copy, sent_at, view_once) \
             VALUES ($1, $2, 'old', $3, $4, 1, FALSE) RETURNING id",
        )
        .bind(&alice_id)
        .bind(&bob_id)
        .bind($envelope)
        .bind($self_copy)
        .fetch_one($pool)
        .await
        .unwrap();
        for (user, outgoing) in [(&bob_id, false), (&alice_id, true)] {
            sqlx::query("INSERT INTO inbox (user_id, seq, message_id, outgoing) VALUES ($1, 1, $2, $3)")
                .bind(user)
                .bind(id)
                .bind(outgoing)
                .execute($pool)
                .await
                .unwrap();
        }
    }};
}

#[tokio::test]
async fn an_account_from_before_devices_keeps_its_inbox() {
    use base64ct::Encoding;
    for db in databases().await {
        let alice = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let bob = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let envelope =
            SealedEnvelope::seal(alice.signing(), &bob.public().dh_pub, b"from before").unwrap();
        let self_copy =
            SealedEnvelope::seal(alice.signing(), &alice.public().dh_pub, b"from before").unwrap();
        let (envelope, self_copy) = (envelope.to_json(), self_copy.to_json());
        let old = legacy_schema(&db).await;
        let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
        if db.name == "sqlite" {
            let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            legacy_rows!(&pool, &alice, &bob, &envelope, &self_copy);
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            legacy_rows!(&pool, &alice, &bob, &envelope, &self_copy);
            pool.close().await;
        }

        // The new server migrates; Bob's upgraded app is device 7.
        let server = TestServer::start(&db).await;
        let bob_id = glyph_client::user_id_of(&bob.public().sign_pub);
        let alice_id = glyph_client::user_id_of(&alice.public().sign_pub);
        let token = login_as(&server, &bob, 7).await;
        // Until the first list, the old inbox belongs to device 0.
        assert!(
            server.get("/v1/messages", &token).await.1["messages"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let (_, devices) = server
            .get(&format!("/v1/users/{bob_id}/devices"), &token)
            .await;
        assert_eq!(devices["list"], Value::Null, "{}", db.name);
        link_device(&server, &bob, &token, 7, 1, &[7]).await;
        let (_, page) = server.get("/v1/messages", &token).await;
        let inbox = page["messages"].as_array().unwrap();
        assert_eq!(inbox.len(), 1, "{}: {page}", db.name);
        assert_eq!(inbox[0]["seq"], 1);
        assert_eq!(inbox[0]["recipient_device"], 7);
        let opened = SealedEnvelope::from_json_value(&inbox[0]["payload"])
            .unwrap()
            .open(bob.dh())
            .unwrap();
        assert_eq!(opened, b"from before");
        // The old prekeys went with device 0.
        assert_error(
            &server
                .get(&format!("/v1/users/{bob_id}/devices/7/bundle"), &token)
                .await,
            404,
            "no_bundle",
        );

        // Alice's app lists itself and a new laptop at once: the app that
        // publishes keeps the old inbox, the laptop starts empty.
        let alice_app = login_as(&server, &alice, 4).await;
        let laptop = login_as(&server, &alice, 5).await;
        server
            .post("/v1/devices", Some(&laptop), json!({"device_id": 5}))
            .await;
        link_device(&server, &alice, &alice_app, 4, 1, &[4, 5]).await;
        let (_, page) = server.get("/v1/messages", &alice_app).await;
        assert_eq!(page["messages"][0]["direction"], "out", "{page}");
        assert_eq!(page["messages"][0]["sender_device"], 4);
        assert!(
            server.get("/v1/messages", &laptop).await.1["messages"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        // New messages continue the inbox's order.
        let bob_user = TestUser {
            identity: bob,
            prekeys: glyph_crypto::PreKeyStore::new(),
            user_id: bob_id,
            token: token.clone(),
        };
        let alice_user = TestUser {
            identity: alice,
            prekeys: glyph_crypto::PreKeyStore::new(),
            user_id: alice_id,
            token: alice_app,
        };
        let (status, body) = send(
            &server,
            &alice_user.token,
            "new",
            vec![copy(&alice_user, &bob_user, 7, "after", true)],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, page) = server.get("/v1/messages?after=1", &token).await;
        assert_eq!(page["messages"][0]["seq"], 2);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM devices WHERE device_id = 0").await,
            0
        );
    }
}
