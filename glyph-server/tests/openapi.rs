//! The OpenAPI document is the contract: a session that calls every
//! documented operation (successes and the usual failures) on both
//! backends, checking that every answer's status is documented for its
//! operation and its JSON body validates against the documented schema,
//! as does every request body sent and every WebSocket frame received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[path = "common/schema.rs"]
mod schema;

use std::collections::BTreeSet;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// A client that checks every exchange against the document.
struct Contract<'a> {
    server: &'a TestServer,
    doc: Value,
    exercised: BTreeSet<(String, String)>,
}

impl<'a> Contract<'a> {
    async fn new(server: &'a TestServer) -> Self {
        let (_, doc) = server
            .call(Method::GET, "/v1/openapi.json", None, None)
            .await;
        Self {
            server,
            doc,
            exercised: BTreeSet::new(),
        }
    }

    fn operation(&self, method: &Method, template: &str) -> &Value {
        let operation = &self.doc["paths"][template][method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        operation
    }

    fn assert_valid(&self, value: &Value, schema: &Value, what: &str) {
        let errors = schema::validate(value, schema, &self.doc);
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{value}");
    }

    /// One call: `template` is the documented path, `path` the real one.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let operation = self.operation(&method, template).clone();
        let sent = body.clone();
        let mut request = self
            .server
            .http
            .request(method.clone(), format!("{}{path}", self.server.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let answer = self.check(&method, template, &operation, response).await;
        // Whatever the server accepts, the document calls valid.
        let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        if let Some(sent) = sent
            && !schema.is_null()
            && (200..300).contains(&answer.0)
        {
            self.assert_valid(
                &sent,
                schema,
                &format!("accepted request of {method} {template}"),
            );
        }
        answer
    }

    /// One call with a raw body.
    async fn call_raw(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        token: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let operation = self.operation(&method, template).clone();
        let response = self
            .server
            .http
            .request(method.clone(), format!("{}{path}", self.server.base))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        self.check(&method, template, &operation, response).await
    }

    async fn check(
        &mut self,
        method: &Method,
        template: &str,
        operation: &Value,
        response: reqwest::Response,
    ) -> (u16, Value) {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap();
        let documented = &operation["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {template} answered {status}, which is not documented: {text}"
        );
        let mut body = Value::Null;
        let schema = &documented["content"]["application/json"]["schema"];
        if !schema.is_null() {
            assert!(
                content_type.starts_with("application/json"),
                "{method} {template} {status}: content type {content_type:?}"
            );
            body = serde_json::from_str(&text).unwrap();
            self.assert_valid(&body, schema, &format!("{method} {template} {status}"));
        } else if let Some(types) = documented["content"].as_object() {
            let declared = types.keys().next().unwrap();
            assert!(
                content_type.starts_with(declared.as_str()),
                "{method} {template} {status}: {content_type:?}, documented {declared}"
            );
        }
        self.exercised
            .insert((method.as_str().to_lowercase(), template.to_owned()));
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_every_operation_matches_the_document() {
    for db in databases().await {
        let server =
            TestServer::start_with(test_config(&db, &["--media-quota-bytes", "5000"])).await;
        let mut api = Contract::new(&server).await;
        let mut alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 2).await;
        let carol = TestUser::new(&server, 0).await;
        let (a, b) = (alice.token.clone(), bob.token.clone());

        // Users and handles.
        let identity =
            glyph_crypto::Identity::from_mnemonic(&glyph_crypto::Mnemonic::generate().unwrap(), "")
                .unwrap();
        let registration = registration(&identity);
        for expected in [201, 200] {
            let (status, _) = api
                .call(
                    Method::POST,
                    "/v1/users",
                    "/v1/users",
                    None,
                    Some(registration.clone()),
                )
                .await;
            assert_eq!(status, expected);
        }
        let mut forged = registration.clone();
        forged["binding_sig"] = json!(b64(&[1u8; 64]));
        assert_eq!(
            api.call(Method::POST, "/v1/users", "/v1/users", None, Some(forged))
                .await
                .0,
            422
        );
        let path = format!("/v1/users/{}", bob.user_id);
        assert_eq!(
            api.call(Method::GET, "/v1/users/{user_id}", &path, Some(&a), None)
                .await
                .0,
            200
        );
        let nobody = format!("/v1/users/{}", "A".repeat(43));
        let (status, _) = api
            .call(Method::GET, "/v1/users/{user_id}", &nobody, Some(&a), None)
            .await;
        assert_eq!(status, 404);
        assert_eq!(
            api.call(Method::GET, "/v1/users/{user_id}", &path, None, None)
                .await
                .0,
            401
        );
        let handle = json!({"handle": "Bob_1"});
        assert_eq!(
            api.call(
                Method::PUT,
                "/v1/me/handle",
                "/v1/me/handle",
                Some(&b),
                Some(handle.clone())
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::PUT,
                "/v1/me/handle",
                "/v1/me/handle",
                Some(&a),
                Some(handle)
            )
            .await
            .0,
            409
        );
        assert_eq!(
            api.call(
                Method::PUT,
                "/v1/me/handle",
                "/v1/me/handle",
                Some(&a),
                Some(json!({"handle": "1x"}))
            )
            .await
            .0,
            422
        );
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/handles/{handle}",
                "/v1/handles/bob_1",
                Some(&a),
                None
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::DELETE,
                "/v1/me/handle",
                "/v1/me/handle",
                Some(&b),
                None
            )
            .await
            .0,
            204
        );
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/handles/{handle}",
                "/v1/handles/bob_1",
                Some(&a),
                None
            )
            .await
            .0,
            404
        );

        // Login.
        let (status, challenge) = api
            .call(
                Method::POST,
                "/v1/auth/challenge",
                "/v1/auth/challenge",
                None,
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 200);
        let token = token_request(&alice.identity, challenge["challenge"].as_str().unwrap());
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/auth/token",
                "/v1/auth/token",
                None,
                Some(token.clone())
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/auth/token",
                "/v1/auth/token",
                None,
                Some(token)
            )
            .await
            .0,
            401
        );

        // Devices: Alice links a second one, then removes it.
        let second = login_as(&server, &alice.identity, 2).await;
        let claim = json!({"device_id": 2});
        let answer = api
            .call(
                Method::POST,
                "/v1/devices",
                "/v1/devices",
                Some(&second),
                Some(claim.clone()),
            )
            .await;
        assert_eq!(answer.0, 201);
        let answer = api
            .call(
                Method::POST,
                "/v1/devices",
                "/v1/devices",
                Some(&second),
                Some(claim),
            )
            .await;
        assert_eq!(answer.0, 409);
        let wrong = json!({"device_id": 3});
        let answer = api
            .call(
                Method::POST,
                "/v1/devices",
                "/v1/devices",
                Some(&second),
                Some(wrong),
            )
            .await;
        assert_eq!(answer.0, 400);
        let both =
            glyph_crypto::DeviceList::sign(alice.identity.signing(), 2, &[DEVICE, 2]).unwrap();
        let answer = api
            .call(
                Method::PUT,
                "/v1/devices",
                "/v1/devices",
                Some(&second),
                Some(both.to_json_value()),
            )
            .await;
        assert_eq!(answer.0, 200);
        let answer = api
            .call(
                Method::PUT,
                "/v1/devices",
                "/v1/devices",
                Some(&second),
                Some(both.to_json_value()),
            )
            .await;
        assert_eq!(answer.0, 409);
        let forged = glyph_crypto::DeviceList::sign(bob.identity.signing(), 3, &[DEVICE]).unwrap();
        let answer = api
            .call(
                Method::PUT,
                "/v1/devices",
                "/v1/devices",
                Some(&a),
                Some(forged.to_json_value()),
            )
            .await;
        assert_eq!(answer.0, 422);
        let answer = api
            .call(
                Method::PUT,
                "/v1/devices",
                "/v1/devices",
                Some(&a),
                Some(json!({"v": 1})),
            )
            .await;
        assert_eq!(answer.0, 400);
        assert_eq!(
            api.call(Method::GET, "/v1/devices", "/v1/devices", Some(&a), None)
                .await
                .0,
            200
        );
        let theirs = format!("/v1/users/{}/devices", alice.user_id);
        let of_user = "/v1/users/{user_id}/devices";
        assert_eq!(
            api.call(Method::GET, of_user, &theirs, Some(&b), None)
                .await
                .0,
            200
        );
        let nobody = format!("/v1/users/{}/devices", "A".repeat(43));
        assert_eq!(
            api.call(Method::GET, of_user, &nobody, Some(&b), None)
                .await
                .0,
            404
        );
        let one = glyph_crypto::DeviceList::sign(alice.identity.signing(), 3, &[DEVICE]).unwrap();
        let answer = api
            .call(
                Method::PUT,
                "/v1/devices",
                "/v1/devices",
                Some(&a),
                Some(one.to_json_value()),
            )
            .await;
        assert_eq!(answer.0, 200);
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/devices",
                "/v1/devices",
                Some(&second),
                None
            )
            .await
            .0,
            401
        );

        // Prekeys.
        let spk = alice.prekeys.rotate_signed_prekey(&alice.identity).unwrap();
        let upload = json!({"spk_id": spk.id(), "spk_pub": spk.public().to_base64(), "spk_sig": b64(spk.signature())});
        assert_eq!(
            api.call(
                Method::PUT,
                "/v1/prekeys/signed",
                "/v1/prekeys/signed",
                Some(&a),
                Some(upload.clone())
            )
            .await
            .0,
            204
        );
        let mut bad = upload;
        bad["spk_sig"] = json!(b64(&[3u8; 64]));
        assert_eq!(
            api.call(
                Method::PUT,
                "/v1/prekeys/signed",
                "/v1/prekeys/signed",
                Some(&a),
                Some(bad)
            )
            .await
            .0,
            422
        );
        let keys = json!({"keys": [{"id": 7, "pub": b64(&[5u8; 32])}]});
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/prekeys/one-time",
                "/v1/prekeys/one-time",
                Some(&a),
                Some(keys.clone())
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/prekeys/one-time",
                "/v1/prekeys/one-time",
                Some(&a),
                Some(keys)
            )
            .await
            .0,
            409
        );
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/prekeys/count",
                "/v1/prekeys/count",
                Some(&a),
                None
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::DELETE,
                "/v1/prekeys/one-time",
                "/v1/prekeys/one-time",
                Some(&a),
                None
            )
            .await
            .0,
            204
        );
        let bundle = format!("/v1/users/{}/devices/{DEVICE}/bundle", bob.user_id);
        let one_bundle = "/v1/users/{user_id}/devices/{device_id}/bundle";
        for _ in 0..3 {
            // With a one-time prekey, then without (null fields).
            let answer = api
                .call(Method::GET, one_bundle, &bundle, Some(&a), None)
                .await;
            assert_eq!(answer.0, 200);
        }
        let carols = format!("/v1/users/{}/devices/{DEVICE}/bundle", carol.user_id);
        assert_eq!(
            api.call(Method::GET, one_bundle, &carols, Some(&a), None)
                .await
                .0,
            200
        );
        let unlisted = format!("/v1/users/{}/devices/77/bundle", carol.user_id);
        assert_eq!(
            api.call(Method::GET, one_bundle, &unlisted, Some(&a), None)
                .await
                .0,
            404
        );
        let all = format!("/v1/users/{}/bundles", carol.user_id);
        let every_bundle = "/v1/users/{user_id}/bundles";
        assert_eq!(
            api.call(Method::GET, every_bundle, &all, Some(&a), None)
                .await
                .0,
            200
        );
        let nobody = format!("/v1/users/{}/bundles", "A".repeat(43));
        assert_eq!(
            api.call(Method::GET, every_bundle, &nobody, Some(&a), None)
                .await
                .0,
            404
        );

        // Messages.
        let envelope = glyph_crypto::SealedEnvelope::seal(
            alice.identity.signing(),
            &bob.identity.public().dh_pub,
            b"hi",
        )
        .unwrap()
        .to_json_value();
        let send = json!({"client_id": "c1", "copies": [{"recipient": bob.user_id, "device_id": DEVICE, "envelope": envelope,
            "self_copy": envelope, "group_id": null, "expires_at": null, "view_once": false, "media_path": null}]});
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/messages",
                "/v1/messages",
                Some(&a),
                Some(send.clone())
            )
            .await
            .0,
            201
        );
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/messages",
                "/v1/messages",
                Some(&a),
                Some(send)
            )
            .await
            .0,
            200
        );
        let bad = json!({"client_id": "c 2", "copies": [{"recipient": bob.user_id, "device_id": DEVICE, "envelope": envelope}]});
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/messages",
                "/v1/messages",
                Some(&a),
                Some(bad)
            )
            .await
            .0,
            400
        );
        let (status, page) = api
            .call(
                Method::GET,
                "/v1/messages",
                "/v1/messages?after=0&limit=10",
                Some(&b),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let id = page["messages"][0]["id"].as_i64().unwrap();
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/messages",
                "/v1/messages?limit=0",
                Some(&b),
                None
            )
            .await
            .0,
            400
        );
        assert_eq!(
            api.call(Method::GET, "/v1/messages", "/v1/messages", Some(&a), None)
                .await
                .0,
            200
        );
        let viewed = format!("/v1/messages/{id}/viewed");
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/messages/{id}/viewed",
                &viewed,
                Some(&b),
                None
            )
            .await
            .0,
            404
        );
        let copy = format!("/v1/messages/{id}");
        assert_eq!(
            api.call(Method::DELETE, "/v1/messages/{id}", &copy, Some(&b), None)
                .await
                .0,
            204
        );
        assert_eq!(
            api.call(Method::DELETE, "/v1/messages/{id}", &copy, Some(&b), None)
                .await
                .0,
            404
        );

        // Groups.
        let (status, group) = api
            .call(
                Method::POST,
                "/v1/groups",
                "/v1/groups",
                Some(&a),
                Some(json!({"members": [bob.user_id]})),
            )
            .await;
        assert_eq!(status, 201);
        let gid = group["group_id"].as_str().unwrap().to_owned();
        let roster = format!("/v1/groups/{gid}");
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/groups/{group_id}",
                &roster,
                Some(&a),
                None
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/groups/{group_id}",
                &roster,
                Some(&carol.token),
                None
            )
            .await
            .0,
            404
        );
        assert_eq!(
            api.call(Method::GET, "/v1/groups", "/v1/groups", Some(&a), None)
                .await
                .0,
            200
        );
        let members = format!("/v1/groups/{gid}/members");
        let add = json!({"user_id": carol.user_id});
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/groups/{group_id}/members",
                &members,
                Some(&a),
                Some(add)
            )
            .await
            .0,
            200
        );
        let stale = json!({"client_id": "g1", "copies": [{"recipient": bob.user_id, "device_id": DEVICE, "envelope": envelope, "group_id": gid}]});
        let (status, conflict) = api
            .call(
                Method::POST,
                "/v1/messages",
                "/v1/messages",
                Some(&a),
                Some(stale),
            )
            .await;
        assert_eq!(status, 409);
        assert_eq!(conflict["error"]["details"]["missing"][0], carol.user_id);
        let remove = format!("/v1/groups/{gid}/members/{}", carol.user_id);
        assert_eq!(
            api.call(
                Method::DELETE,
                "/v1/groups/{group_id}/members/{user_id}",
                &remove,
                Some(&a),
                None
            )
            .await
            .0,
            200
        );

        // Media: upload, usage, a view-once view, download, delete.
        let (status, uploaded) = api
            .call_raw(Method::POST, "/v1/media", "/v1/media", &a, vec![9u8; 100])
            .await;
        assert_eq!(status, 201);
        let blob_path = uploaded["path"].as_str().unwrap().to_owned();
        assert_eq!(
            api.call_raw(Method::POST, "/v1/media", "/v1/media", &a, vec![9u8; 6000])
                .await
                .0,
            413
        );
        assert_eq!(
            api.call(Method::GET, "/v1/media", "/v1/media", Some(&a), None)
                .await
                .0,
            200
        );
        let download = format!("/v1/{blob_path}");
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/media/{owner}/{name}",
                &download,
                Some(&b),
                None
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::DELETE,
                "/v1/media/{owner}/{name}",
                &download,
                Some(&b),
                None
            )
            .await
            .0,
            403
        );
        let once = json!({"client_id": "v1", "copies": [{"recipient": bob.user_id, "device_id": DEVICE, "envelope": envelope,
            "view_once": true, "media_path": blob_path}]});
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/messages",
                "/v1/messages",
                Some(&a),
                Some(once)
            )
            .await
            .0,
            201
        );
        let page = bob.inbox(&server, 0).await;
        let once_id = page.last().unwrap()["id"].as_i64().unwrap();
        let viewed = format!("/v1/messages/{once_id}/viewed");
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/messages/{id}/viewed",
                &viewed,
                Some(&b),
                Some(json!({}))
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::GET,
                "/v1/media/{owner}/{name}",
                &download,
                Some(&b),
                None
            )
            .await
            .0,
            410
        );
        let (status, second) = api
            .call_raw(Method::POST, "/v1/media", "/v1/media", &a, vec![1u8; 50])
            .await;
        assert_eq!(status, 201);
        let second = format!("/v1/{}", second["path"].as_str().unwrap());
        assert_eq!(
            api.call(
                Method::DELETE,
                "/v1/media/{owner}/{name}",
                &second,
                Some(&a),
                None
            )
            .await
            .0,
            204
        );

        // Shares and their pages.
        let share = json!({"blob": b64(&[4u8; 40]), "views": 1, "ttl_secs": 600});
        let (status, created) = api
            .call(Method::POST, "/v1/shares", "/v1/shares", None, Some(share))
            .await;
        assert_eq!(status, 201);
        let code = created["code"].as_str().unwrap().to_owned();
        let info = format!("/v1/shares/{code}");
        assert_eq!(
            api.call(Method::GET, "/v1/shares/{code}", &info, None, None)
                .await
                .0,
            200
        );
        assert_eq!(
            api.call(Method::GET, "/s/{code}", &format!("/s/{code}"), None, None)
                .await
                .0,
            200
        );
        let open = format!("/v1/shares/{code}/open");
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/shares/{code}/open",
                &open,
                None,
                Some(json!({}))
            )
            .await
            .0,
            200
        );
        assert_eq!(
            api.call(
                Method::POST,
                "/v1/shares/{code}/open",
                &open,
                None,
                Some(json!({}))
            )
            .await
            .0,
            404
        );
        assert_eq!(
            api.call(Method::GET, "/v1/shares/{code}", &info, None, None)
                .await
                .0,
            404
        );
        assert_eq!(
            api.call(Method::GET, "/s/{code}", &format!("/s/{code}"), None, None)
                .await
                .0,
            404
        );
        assert_eq!(
            api.call(Method::GET, "/share", "/share", None, None)
                .await
                .0,
            200
        );

        // Operations.
        for path in ["/healthz", "/readyz", "/metrics", "/v1/openapi.json"] {
            assert_eq!(api.call(Method::GET, path, path, None, None).await.0, 200);
        }

        // The WebSocket: 426 without an upgrade; with one, every frame is a
        // documented PushFrame.
        assert_eq!(
            api.call(Method::GET, "/v1/ws", "/v1/ws", Some(&b), None)
                .await
                .0,
            426
        );
        let frame_schema = json!({"$ref": "#/components/schemas/PushFrame"});
        let url = format!("ws://{}/v1/ws?after=0", server.addr);
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {b}").parse().unwrap());
        let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert!(
            api.doc["paths"]["/v1/ws"]["get"]["responses"][response.status().as_u16().to_string()]
                .is_object()
        );
        api.exercised.insert(("get".into(), "/v1/ws".into()));
        use futures_util::StreamExt;
        loop {
            let frame = socket.next().await.unwrap().unwrap();
            let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
            api.assert_valid(&frame, &frame_schema, "a WebSocket frame");
            if frame["type"] == "caught_up" {
                break;
            }
        }

        // Every documented operation was exercised.
        let documented: BTreeSet<(String, String)> = glyph_server::routes::openapi_paths()
            .into_iter()
            .map(|(m, p)| (m.to_owned(), p.to_owned()))
            .collect();
        let missed: Vec<_> = documented.difference(&api.exercised).collect();
        assert!(missed.is_empty(), "{}: not exercised: {missed:?}", db.name);
    }
}

#[tokio::test]
async fn the_validator_catches_what_it_should() {
    let doc = json!({"components": {"schemas": {"X": {"type": "object", "required": ["a"],
        "properties": {"a": {"type": "string", "pattern": "^[0-9]+$", "maxLength": 3},
                       "b": {"type": ["integer", "null"], "format": "int32", "minimum": 0}}}}}});
    let schema = json!({"$ref": "#/components/schemas/X"});
    assert!(schema::validate(&json!({"a": "12", "b": null}), &schema, &doc).is_empty());
    assert!(schema::validate(&json!({"a": "12", "b": 4_294_967_295u64}), &schema, &doc).is_empty());
    for bad in [
        json!({}),
        json!({"a": 12}),
        json!({"a": "1x"}),
        json!({"a": "1234"}),
        json!({"a": "1", "b": -1}),
        json!({"a": "1", "b": 4_294_967_296u64}),
        json!({"a": "1", "b": "2"}),
    ] {
        assert!(!schema::validate(&bad, &schema, &doc).is_empty(), "{bad}");
    }
    let unknown = json!({"type": "string", "madeUpKeyword": 1});
    assert!(!schema::validate(&json!("x"), &unknown, &doc).is_empty());
}
