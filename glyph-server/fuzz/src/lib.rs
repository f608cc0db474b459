//! The body of the server's fuzz target. An input is one HTTP request:
//! a flags byte (bit 0: send a valid token; bit 1: the body is raw bytes
//! rather than JSON), then `METHOD TARGET` (path and query) up to a
//! newline, then the body. It goes to the real router over a real SQLite
//! database, through every extractor and check. Whatever it is, the answer
//! must not be a 500 (a panic in a handler would be one), and every error
//! must have the API's JSON shape. glyph-server's `fuzz_corpus` test runs
//! this same function over every file in `corpus/server_request/`.

use std::sync::OnceLock;

use axum::body::Body;
use clap::Parser;
use glyph_server::app::AppState;
use glyph_server::blobs::Blobs;
use glyph_server::config::Config;
use glyph_server::store::UserRow;
use tower::ServiceExt;

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

static HARNESS: OnceLock<Harness> = OnceLock::new();

/// The account the harness signs requests as: a fixed identity, so seeds
/// can name it.
pub fn harness_user_id() -> String {
    let identity = glyph_crypto::Identity::from_seed(&glyph_crypto::Seed::from_bytes([9; 64]))
        .expect("a fixed seed gives an identity");
    base64url(identity.public().sign_pub.as_bytes())
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary directory");
        let data = dir.path().display().to_string();
        let config = Config::try_parse_from([
            "glyph-server",
            "--data-dir",
            &data,
            "--auth-per-minute",
            "100000000",
            "--register-per-minute",
            "100000000",
            "--sends-per-minute",
            "100000000",
            "--shares-per-minute",
            "100000000",
        ])
        .expect("a configuration");
        let (app, token) = runtime.block_on(async {
            let store = glyph_server::store::open(&config.database_url())
                .await
                .expect("a store");
            let blobs = Blobs::open(&config).expect("media storage");
            let state = AppState::new(store, blobs, config, b"a fuzzing secret, 32 bytes at least");
            let identity =
                glyph_crypto::Identity::from_seed(&glyph_crypto::Seed::from_bytes([9; 64]))
                    .expect("an identity");
            let public = identity.public();
            let user = UserRow {
                user_id: harness_user_id(),
                sign_pub: public.sign_pub.as_bytes().to_vec(),
                dh_pub: public.dh_pub.as_bytes().to_vec(),
                binding_sig: vec![0; 64],
                handle: None,
            };
            state.store().register(&user, 0).await.expect("registered");
            state
                .store()
                .claim_device(&user.user_id, 1, 0)
                .await
                .expect("a device");
            let list = glyph_crypto::DeviceList::first(identity.signing(), 1).expect("a list");
            let stored = glyph_server::store::NewDeviceList {
                version: 1,
                devices: vec![1],
                json: list.to_json(),
                published_by: 1,
            };
            state
                .store()
                .publish_device_list(&user.user_id, &stored, 0)
                .await
                .expect("listed");
            let (token, _) = state
                .tokens()
                .issue(&user.user_id, 1, glyph_server::input::now())
                .expect("a token");
            (glyph_server::app::router(state), token)
        });
        Harness {
            runtime,
            app,
            token,
            _dir: dir,
        }
    })
}

/// One input.
pub fn server_request(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (line, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let Some((method, target)) = line.split_once(' ') else {
        return;
    };
    // What the HTTP parser refuses never reaches the router.
    let Ok(method) = axum::http::Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(uri) = target.parse::<axum::http::Uri>() else {
        return;
    };
    let harness = harness();
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if flags & 1 != 0 {
        request = request.header("authorization", format!("Bearer {}", harness.token));
    }
    let content_type = if flags & 2 != 0 {
        "application/octet-stream"
    } else {
        "application/json"
    };
    request = request
        .header("content-type", content_type)
        .header("content-length", body.len());
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };
    let (status, content_type, answer) = harness.runtime.block_on(async {
        let response = match harness.app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let answer = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap_or_default();
        (status, content_type, answer)
    });
    assert_ne!(
        status.as_u16(),
        500,
        "{line}: {}",
        String::from_utf8_lossy(&answer)
    );
    if status.as_u16() >= 400 && !content_type.starts_with("text/html") {
        let error: serde_json::Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|_| panic!("{line}: a {status} that is not JSON: {answer:?}"));
        assert!(
            error["error"]["code"].is_string() && error["error"]["message"].is_string(),
            "{line}: {error}"
        );
    }
}

/// Seed requests: every route, valid and not.
pub fn seeds() -> Vec<Vec<u8>> {
    let me = harness_user_id();
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let sig = format!("{}==", "A".repeat(86));
    let requests: Vec<(u8, String, String)> = vec![
        (
            0,
            "POST /v1/users".into(),
            format!(r#"{{"sign_pub":"{key}","dh_pub":"{key}","binding_sig":"{sig}"}}"#),
        ),
        (1, format!("GET /v1/users/{me}"), String::new()),
        (
            1,
            format!("GET /v1/users/{me}/devices/1/bundle"),
            String::new(),
        ),
        (1, format!("GET /v1/users/{me}/bundles"), String::new()),
        (1, format!("GET /v1/users/{me}/devices"), String::new()),
        (1, "GET /v1/devices".into(), String::new()),
        (1, "POST /v1/devices".into(), r#"{"device_id":1}"#.into()),
        (
            1,
            "PUT /v1/devices".into(),
            format!(r#"{{"v":1,"sign_pub":"{key}","version":2,"devices":[1],"sig":"{sig}"}}"#),
        ),
        (1, "GET /v1/handles/someone".into(), String::new()),
        (
            1,
            "PUT /v1/me/handle".into(),
            r#"{"handle":"fuzzy"}"#.into(),
        ),
        (1, "DELETE /v1/me/handle".into(), String::new()),
        (0, "POST /v1/auth/challenge".into(), "{}".into()),
        (
            0,
            "POST /v1/auth/token".into(),
            format!(r#"{{"sign_pub":"{key}","challenge":"{key}","signature":"{sig}"}}"#),
        ),
        (
            1,
            "PUT /v1/prekeys/signed".into(),
            format!(r#"{{"spk_id":1,"spk_pub":"{key}","spk_sig":"{sig}"}}"#),
        ),
        (
            1,
            "POST /v1/prekeys/one-time".into(),
            format!(r#"{{"keys":[{{"id":1,"pub":"{key}"}}]}}"#),
        ),
        (1, "DELETE /v1/prekeys/one-time".into(), String::new()),
        (1, "GET /v1/prekeys/count".into(), String::new()),
        (
            1,
            "POST /v1/messages".into(),
            format!(
                r#"{{"client_id":"c1","copies":[{{"recipient":"{me}","device_id":1,"envelope":{{"v":2}},"self_copy":{{"v":1}},"group_id":null,"expires_at":null,"view_once":false,"media_path":null}}]}}"#
            ),
        ),
        (1, "GET /v1/messages?after=0&limit=10".into(), String::new()),
        (1, "DELETE /v1/messages/1".into(), String::new()),
        (1, "POST /v1/messages/1/viewed".into(), "{}".into()),
        (
            1,
            "POST /v1/groups".into(),
            format!(r#"{{"members":["{me}"]}}"#),
        ),
        (1, "GET /v1/groups".into(), String::new()),
        (
            1,
            "GET /v1/groups/9f3c0000000000000000000000000000".into(),
            String::new(),
        ),
        (
            1,
            "POST /v1/groups/9f3c0000000000000000000000000000/members".into(),
            format!(r#"{{"user_id":"{me}"}}"#),
        ),
        (
            1,
            format!("DELETE /v1/groups/9f3c0000000000000000000000000000/members/{me}"),
            String::new(),
        ),
        (3, "POST /v1/media".into(), "sealed bytes".into()),
        (1, "GET /v1/media".into(), String::new()),
        (
            1,
            format!("GET /v1/media/{me}/00000000000000000000000000000000"),
            String::new(),
        ),
        (
            1,
            format!("DELETE /v1/media/{me}/00000000000000000000000000000000"),
            String::new(),
        ),
        (
            0,
            "POST /v1/shares".into(),
            r#"{"blob":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","views":2,"ttl_secs":600}"#
                .into(),
        ),
        (0, "GET /v1/shares/abcdefghijklmnop".into(), String::new()),
        (
            0,
            "POST /v1/shares/abcdefghijklmnop/open".into(),
            "{}".into(),
        ),
        (0, "GET /s/abcdefghijklmnop".into(), String::new()),
        (1, "GET /v1/ws?after=0".into(), String::new()),
        (0, "GET /readyz".into(), String::new()),
        (1, "GET /v1/users/%ff".into(), String::new()),
        (1, "GET /v1/messages?after=1&after=2".into(), String::new()),
        (1, "GET /v1/groups/%00".into(), String::new()),
    ];
    requests
        .into_iter()
        .map(|(flags, line, body)| {
            let mut bytes = vec![flags];
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            bytes.extend_from_slice(body.as_bytes());
            bytes
        })
        .collect()
}
