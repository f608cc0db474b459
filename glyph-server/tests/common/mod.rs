//! Shared test harness: a fresh database per test (SQLite always;
//! PostgreSQL when reachable, and required when `GLYPH_REQUIRE_POSTGRES` is
//! set, as CI sets it), a server on a loopback port, and users with real
//! keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use base64ct::{Base64, Encoding};
use clap::Parser;
use glyph_api::{AUTH_LABEL, BINDING_LABEL, ChallengeResponse, TokenResponse};
use glyph_crypto::{Identity, Mnemonic, PreKeyStore};
use glyph_server::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Where the PostgreSQL server for tests is (trust authentication).
fn postgres_admin_url() -> String {
    std::env::var("GLYPH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database for one test; the temporary directory lives as long as it.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    pub dir: tempfile::TempDir,
}

/// The databases a test runs against: SQLite, then PostgreSQL if reachable.
pub async fn databases() -> Vec<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let mut dbs = vec![TestDb {
        name: "sqlite",
        url: format!("sqlite:{}", dir.path().join("glyph.db").display()),
        dir,
    }];
    if let Some(url) = fresh_postgres().await {
        dbs.push(TestDb {
            name: "postgres",
            url,
            dir: tempfile::tempdir().unwrap(),
        });
    }
    dbs
}

/// A new, empty PostgreSQL database, or None (with a message) when no
/// server answers and none is required.
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Connection;
    let admin_url = postgres_admin_url();
    let connect = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::PgConnection::connect(&admin_url),
    )
    .await;
    let mut admin = match connect {
        Ok(Ok(conn)) => conn,
        _ => {
            assert!(
                std::env::var_os("GLYPH_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL at {admin_url} is required (GLYPH_REQUIRE_POSTGRES is set) but unreachable"
            );
            // Written to stderr directly: libtest captures `eprintln!` of
            // passing tests, and this must be seen.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped PostgreSQL: no server at {admin_url}; these tests ran on SQLite only"
                );
            });
            return None;
        }
    };
    drop_stale_databases(&mut admin).await;
    let name = format!(
        "glyph_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    Some(format!("{base}/{name}"))
}

/// Drops test databases whose test process has exited.
async fn drop_stale_databases(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'glyph_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name
            .trim_start_matches("glyph_test_")
            .split('_')
            .next()
            .unwrap_or_default();
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *admin)
            .await;
        }
    }
}

/// A server running in this process on a loopback port.
pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The configuration tests use: loopback, a random port, generous limits
/// unless a test sets its own.
pub fn test_config(db: &TestDb, extra: &[&str]) -> Config {
    let dir = db.dir.path().display().to_string();
    let defaults = [
        ("--listen", "127.0.0.1:0"),
        ("--data-dir", dir.as_str()),
        ("--database-url", db.url.as_str()),
        ("--auth-per-minute", "100000"),
        ("--register-per-minute", "100000"),
        ("--sends-per-minute", "100000"),
    ];
    let mut args = vec!["glyph-server"];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    Config::try_parse_from(args).unwrap()
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(test_config(db, &[])).await
    }

    pub async fn start_with(config: Config) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            glyph_server::app::run(config, move |addr| {
                let _ = tx.send(addr);
            })
            .await
            .unwrap();
        });
        let addr = rx.await.expect("the server did not start");
        Self {
            base: format!("http://{addr}"),
            addr,
            http: http_client(),
            task,
        }
    }

    /// Sends a request; returns the status and the JSON body (or Null).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    }

    /// One unlabelled value of `/metrics` (a counter or a gauge).
    pub async fn metric(&self, name: &str) -> i64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .parse()
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }
}

/// Asserts an error response: status and code.
#[track_caller]
pub fn assert_error(response: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(response.0.as_u16(), status, "{}", response.1);
    assert_eq!(response.1["error"]["code"], code, "{}", response.1);
    assert!(response.1["error"]["message"].is_string(), "{}", response.1);
}

/// A registered, logged-in user with real keys and prekeys.
pub struct TestUser {
    pub identity: Identity,
    pub prekeys: PreKeyStore,
    pub user_id: String,
    pub token: String,
}

pub fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

pub fn registration(identity: &Identity) -> Value {
    let public = identity.public();
    let binding = [
        BINDING_LABEL,
        public.sign_pub.as_bytes(),
        public.dh_pub.as_bytes(),
    ]
    .concat();
    json!({
        "sign_pub": public.sign_pub.to_base64(),
        "dh_pub": public.dh_pub.to_base64(),
        "binding_sig": b64(&identity.signing().sign(&binding)),
    })
}

/// Logs in: challenge, signature, token.
pub async fn login(server: &TestServer, identity: &Identity) -> (StatusCode, Value) {
    let (status, challenge) = server.post("/v1/auth/challenge", None, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let challenge: ChallengeResponse = serde_json::from_value(challenge).unwrap();
    server
        .post(
            "/v1/auth/token",
            None,
            token_request(identity, &challenge.challenge),
        )
        .await
}

/// The device every test user logs in as unless it says otherwise.
pub const DEVICE: u32 = 1;

pub fn token_request(identity: &Identity, challenge_b64: &str) -> Value {
    token_request_for(identity, challenge_b64, DEVICE)
}

/// A login as one device of the identity.
pub fn token_request_for(identity: &Identity, challenge_b64: &str, device: u32) -> Value {
    let challenge = Base64::decode_vec(challenge_b64).unwrap();
    let sign_pub = identity.public().sign_pub;
    let message = [AUTH_LABEL, &challenge[..], sign_pub.as_bytes()].concat();
    json!({"sign_pub": sign_pub.to_base64(), "challenge": challenge_b64,
           "signature": b64(&identity.signing().sign(&message)), "device_id": device})
}

/// Logs `identity` in as `device`: the token.
pub async fn login_as(server: &TestServer, identity: &Identity, device: u32) -> String {
    let (status, challenge) = server.post("/v1/auth/challenge", None, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let request = token_request_for(identity, challenge["challenge"].as_str().unwrap(), device);
    let (status, token) = server.post("/v1/auth/token", None, request).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    token["token"].as_str().unwrap().to_owned()
}

/// Sets up a device of a registered user: claims its id and publishes the
/// signed list `devices` at `version`.
pub async fn link_device(
    server: &TestServer,
    identity: &Identity,
    token: &str,
    device: u32,
    version: u32,
    devices: &[u32],
) {
    let (status, body) = server
        .post("/v1/devices", Some(token), json!({"device_id": device}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    publish_devices(server, identity, token, version, devices).await;
}

/// Publishes a signed device list.
pub async fn publish_devices(
    server: &TestServer,
    identity: &Identity,
    token: &str,
    version: u32,
    devices: &[u32],
) {
    let list = glyph_crypto::DeviceList::sign(identity.signing(), version, devices).unwrap();
    let (status, body) = server
        .call(
            Method::PUT,
            "/v1/devices",
            Some(token),
            Some(list.to_json_value()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

impl TestUser {
    /// A new user: registered, logged in, signed prekey and `opks`
    /// one-time prekeys uploaded.
    pub async fn new(server: &TestServer, opks: u32) -> Self {
        let identity = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let (status, record) = server
            .post("/v1/users", None, registration(&identity))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        let (status, token) = login(server, &identity).await;
        assert_eq!(status, StatusCode::OK, "{token}");
        let token: TokenResponse = serde_json::from_value(token).unwrap();
        let (status, body) = server
            .post(
                "/v1/devices",
                Some(&token.token),
                json!({"device_id": DEVICE}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let mut user = Self {
            identity,
            prekeys: PreKeyStore::new(),
            user_id: token.user_id,
            token: token.token,
        };
        user.upload_prekeys(server, opks).await;
        publish_devices(server, &user.identity, &user.token, 1, &[DEVICE]).await;
        user
    }

    /// Links another device of this user (the list becomes `devices`, at
    /// `version`): its token.
    pub async fn link(
        &self,
        server: &TestServer,
        device: u32,
        version: u32,
        devices: &[u32],
    ) -> String {
        let token = login_as(server, &self.identity, device).await;
        link_device(server, &self.identity, &token, device, version, devices).await;
        token
    }

    /// The inbox of another of my devices, by its token.
    pub async fn inbox_of(&self, server: &TestServer, token: &str) -> Vec<Value> {
        let (status, page) = server.get("/v1/messages?after=0&limit=500", token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["messages"].as_array().unwrap().clone()
    }

    pub async fn upload_prekeys(&mut self, server: &TestServer, opks: u32) {
        let spk = self.prekeys.rotate_signed_prekey(&self.identity).unwrap();
        let body = json!({"spk_id": spk.id(), "spk_pub": spk.public().to_base64(), "spk_sig": b64(spk.signature())});
        let (status, body) = server
            .call(
                Method::PUT,
                "/v1/prekeys/signed",
                Some(&self.token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        if opks > 0 {
            let keys: Vec<Value> = self
                .prekeys
                .generate_one_time_prekeys(opks)
                .unwrap()
                .into_iter()
                .map(|(id, key)| json!({"id": id, "pub": key.to_base64()}))
                .collect();
            let (status, body) = server
                .post(
                    "/v1/prekeys/one-time",
                    Some(&self.token),
                    json!({"keys": keys}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }

    /// Sends `text` sealed (v1) to each recipient, with a self-copy on the
    /// first; returns the response.
    pub async fn send_text(
        &self,
        server: &TestServer,
        client_id: &str,
        recipients: &[&TestUser],
        text: &str,
        group: Option<&str>,
    ) -> (StatusCode, Value) {
        let copies: Vec<Value> = recipients
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let envelope = glyph_crypto::SealedEnvelope::seal(self.identity.signing(), &r.identity.public().dh_pub, text.as_bytes()).unwrap();
                let self_copy = (i == 0).then(|| {
                    glyph_crypto::SealedEnvelope::seal(self.identity.signing(), &self.identity.public().dh_pub, text.as_bytes())
                        .unwrap()
                        .to_json_value()
                });
                json!({"recipient": r.user_id, "device_id": DEVICE, "envelope": envelope.to_json_value(), "self_copy": self_copy, "group_id": group})
            })
            .collect();
        server
            .post(
                "/v1/messages",
                Some(&self.token),
                json!({"client_id": client_id, "copies": copies}),
            )
            .await
    }

    /// Creates a group of me and `members`; returns its id.
    pub async fn create_group(&self, server: &TestServer, members: &[&TestUser]) -> String {
        let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        let (status, group) = server
            .post("/v1/groups", Some(&self.token), json!({"members": ids}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        group["group_id"].as_str().unwrap().to_owned()
    }

    /// Opens an inbox payload addressed to me (a v1 envelope).
    pub fn open(&self, payload: &Value) -> String {
        let envelope = glyph_crypto::SealedEnvelope::from_json_value(payload).unwrap();
        String::from_utf8(envelope.open(self.identity.dh()).unwrap()).unwrap()
    }

    pub async fn inbox(&self, server: &TestServer, after: i64) -> Vec<Value> {
        let (status, page) = server
            .get(
                &format!("/v1/messages?after={after}&limit=500"),
                &self.token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["messages"].as_array().unwrap().clone()
    }
}

impl TestServer {
    /// Uploads raw bytes to `/v1/media` (with a Content-Length).
    pub async fn upload(&self, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/v1/media", self.base))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Downloads `/v1/<path>`: the status and the raw body.
    pub async fn download(&self, token: &str, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .http
            .get(format!("{}/v1/{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.bytes().await.unwrap().to_vec())
    }
}

/// An HTTP client. When the workspace is built together, reqwest carries
/// glyph-client's TLS feature, which needs a process-wide rustls provider
/// before any client is built; installing it is harmless otherwise.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A share's views left (None once it is gone, answered as `share_gone`).
pub async fn share_views_left(server: &TestServer, code: &str) -> Option<u64> {
    let (status, info) = server
        .call(
            reqwest::Method::GET,
            &format!("/v1/shares/{code}"),
            None,
            None,
        )
        .await;
    match status {
        StatusCode::OK => info["views_left"].as_u64(),
        StatusCode::NOT_FOUND => {
            assert_eq!(info["error"]["code"], "share_gone");
            None
        }
        other => panic!("{other}: {info}"),
    }
}

/// A TCP gate in front of a server (PostgreSQL, say): open, it forwards
/// every connection; closed, it cuts the ones it carries and refuses new
/// ones (its port is closed), as a database that went down would.
pub struct TcpGate {
    pub addr: SocketAddr,
    target: SocketAddr,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accepting: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TcpGate {
    /// A gate to `target`, open.
    pub async fn to(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gate = Self {
            addr: listener.local_addr().unwrap(),
            target,
            links: std::sync::Arc::new(std::sync::Mutex::new(Vec::new())),
            accepting: std::sync::Mutex::new(None),
        };
        gate.accept_on(listener);
        gate
    }

    fn accept_on(&self, listener: tokio::net::TcpListener) {
        let (target, links) = (self.target, self.links.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        });
        *self.accepting.lock().unwrap() = Some(task);
    }

    /// Cuts every connection and closes the port.
    pub fn close(&self) {
        if let Some(task) = self.accepting.lock().unwrap().take() {
            task.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Opens the port again.
    pub async fn reopen(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.accept_on(listener);
    }
}

impl Drop for TcpGate {
    fn drop(&mut self) {
        self.close();
    }
}
