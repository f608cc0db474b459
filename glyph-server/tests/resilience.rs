//! Faults from outside: clients that hang up mid-request, on both backends.
//! A request whose client disconnects must still run its store operation to
//! completion (or not at all), and never leave a pooled connection inside a
//! transaction for the next borrower (sqlx 0.9.0, launchbadge/sqlx#4393).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use glyph_server::store::{self, Store, UserRow};
use reqwest::StatusCode;
use serde_json::json;

/// Connections of this test's PostgreSQL database left inside a transaction
/// with nothing running (`idle in transaction`).
async fn idle_in_transaction(url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// A user row with real keys.
fn user_row() -> UserRow {
    let identity =
        glyph_crypto::Identity::from_mnemonic(&glyph_crypto::Mnemonic::generate().unwrap(), "")
            .unwrap();
    let public = identity.public();
    UserRow {
        user_id: glyph_client::user_id_of(&public.sign_pub),
        sign_pub: public.sign_pub.as_bytes().to_vec(),
        dh_pub: public.dh_pub.as_bytes().to_vec(),
        binding_sig: vec![0; 64],
        handle: None,
    }
}

/// Pseudo-random delays (a fixed sequence, so a failure repeats).
fn delays(count: usize, max_micros: u64) -> Vec<Duration> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_micros(x % max_micros)
        })
        .collect()
}

/// Runs `future` until it has been polled `polls` times, then drops it: a
/// cancellation at its `polls`-th await point, as when a client hangs up.
async fn cancel_after_polls<F: std::future::Future>(future: F, polls: usize) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut left = polls;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        left -= 1;
        future.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Every write after a storm of cancelled ones lands: a challenge written
/// by one call is found by the next (each may take another pooled
/// connection).
async fn assert_writes_are_visible(store: &Arc<dyn Store>, what: &str, rounds: u32) {
    static ROUND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    for _ in 0..rounds {
        let round = ROUND.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let challenge = [&round.to_be_bytes()[..], b"-after-the-storm"].concat();
        store.put_challenge(&challenge, i64::MAX).await.unwrap();
        assert!(
            store.take_challenge(&challenge, 0).await.unwrap(),
            "{what}: a challenge just written is unknown (round {round})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_calls_cancelled_at_any_moment_leave_no_connection_in_a_transaction() {
    for db in databases().await {
        let store = store::open(&db.url).await.unwrap();
        let owner = user_row();
        store.register(&owner, 0).await.unwrap();
        store.claim_device(&owner.user_id, 1, 0).await.unwrap();
        // Each kind of transaction, cancelled at each of its await points in
        // turn: while the pool hands out a connection, while BEGIN is in
        // flight, mid-statement, at COMMIT. After each, a plain write on
        // the pool must be seen from another connection, and (PostgreSQL)
        // no connection may sit inside a transaction.
        for polls in 1..=12 {
            for kind in 0..3u32 {
                let id = polls as u32 * 10 + kind;
                let keys = [(id, vec![1u8; 32])];
                match kind {
                    0 => {
                        cancel_after_polls(store.open_share("nonexistent", 0), polls).await;
                    }
                    1 => {
                        cancel_after_polls(
                            store.add_one_time_prekeys(&owner.user_id, 1, &keys, u64::MAX),
                            polls,
                        )
                        .await;
                    }
                    _ => {
                        cancel_after_polls(store.claim_bundle(&owner.user_id, 1), polls).await;
                    }
                }
                // The pool takes a connection back in a task of its own.
                tokio::time::sleep(Duration::from_millis(20)).await;
                if db.name == "postgres" {
                    assert_eq!(
                        idle_in_transaction(&db.url).await,
                        0,
                        "cancelled after {polls} polls (kind {kind}): a connection was left in a transaction"
                    );
                }
                assert_writes_are_visible(&store, db.name, 3).await;
            }
        }
        // And many at once, cancelled after a random while.
        let mut tasks = Vec::new();
        for (i, delay) in delays(300, 3000).into_iter().enumerate() {
            let store = store.clone();
            let owner = owner.user_id.clone();
            tasks.push(tokio::spawn(async move {
                let keys = [(100_000 + i as u32, vec![1u8; 32])];
                let work = store.add_one_time_prekeys(&owner, 1, &keys, u64::MAX);
                let _ = tokio::time::timeout(delay, work).await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_writes_are_visible(&store, db.name, 300).await;
        if db.name == "postgres" {
            assert_eq!(
                idle_in_transaction(&db.url).await,
                0,
                "a connection was left in a transaction"
            );
        }
    }
}

/// Writes one raw HTTP/1.1 request and hangs up after `yields` turns of
/// the scheduler: the server is somewhere inside the handler by then.
async fn hang_up_after(addr: std::net::SocketAddr, request: String, yields: usize) {
    use tokio::io::AsyncWriteExt;
    let Ok(mut socket) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    if socket.write_all(request.as_bytes()).await.is_err() {
        return;
    }
    for _ in 0..yields {
        tokio::task::yield_now().await;
    }
    drop(socket);
}

fn raw_request(method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nhost: glyph\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_hang_up_mid_request_lose_nothing() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let user = TestUser::new(&server, 0).await;
        let peer = TestUser::new(&server, 0).await;
        let send_body = |n: usize| {
            let envelope = glyph_crypto::SealedEnvelope::seal(
                user.identity.signing(),
                &peer.identity.public().dh_pub,
                b"hung up",
            )
            .unwrap();
            json!({"client_id": format!("hung-{n}"), "copies": [{"recipient": peer.user_id, "device_id": DEVICE, "envelope": envelope.to_json_value()}]}).to_string()
        };
        // Waves of bundle claims, sends and login challenges whose clients
        // hang up at every moment. After each wave, nothing may sit inside a
        // transaction, and logins (plain statements, which a connection
        // left in a transaction would swallow) must work.
        for wave in 0..20 {
            let mut tasks = Vec::new();
            for n in wave * 30..(wave + 1) * 30 {
                let request = match n % 3 {
                    0 => raw_request(
                        "GET",
                        &format!("/v1/users/{}/bundle", peer.user_id),
                        Some(&user.token),
                        "",
                    ),
                    1 => raw_request("POST", "/v1/messages", Some(&user.token), &send_body(n)),
                    _ => raw_request("POST", "/v1/auth/challenge", None, "{}"),
                };
                tasks.push(tokio::spawn(hang_up_after(server.addr, request, n % 40)));
            }
            for task in tasks {
                task.await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if db.name == "postgres" {
                assert_eq!(
                    idle_in_transaction(&db.url).await,
                    0,
                    "wave {wave}: a connection was left in a transaction"
                );
            }
            for round in 0..10 {
                let (status, body) = login(&server, &user.identity).await;
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{}: wave {wave}, login {round}: {body}",
                    db.name
                );
            }
        }
        // ...every send that was answered is in the inbox, exactly once, and
        // each hung-up send is there once or not at all.
        for n in 0..20 {
            let (status, body) = user
                .send_text(&server, &format!("after-{n}"), &[&peer], "hello", None)
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let after = peer.inbox(&server, 0).await;
        let answered = after
            .iter()
            .filter(|e| e["client_id"].as_str().unwrap().starts_with("after-"))
            .count();
        assert_eq!(answered, 20, "{}", db.name);
        let mut ids: Vec<&str> = after
            .iter()
            .map(|e| e["client_id"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let total = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), total, "a send was stored twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_and_recovers_by_itself() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let gate = TcpGate::to("127.0.0.1:5432".parse().unwrap()).await;
    let (_, database) = url.rsplit_once('/').unwrap();
    let gated = format!("postgres://postgres@{}/{database}", gate.addr);
    let db = TestDb {
        name: "postgres",
        url: gated,
        dir: tempfile::tempdir().unwrap(),
    };
    let server =
        TestServer::start_with(test_config(&db, &["--database-acquire-timeout-ms", "1000"])).await;
    let alice = TestUser::new(&server, 0).await;
    let bob = TestUser::new(&server, 0).await;
    let (status, _) = alice
        .send_text(&server, "before", &[&bob], "hi", None)
        .await;
    assert_eq!(status, StatusCode::CREATED);

    gate.close();
    let started = std::time::Instant::now();
    let response = server
        .http
        .get(format!("{}/v1/messages", server.base))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    // Well under the 30 s a request used to hang (the limit is 1 s here).
    assert!(waited < Duration::from_secs(10), "it took {waited:?}");
    let (status, _) = server
        .call(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );
    let ready = server
        .call(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_error(&ready, 503, "database_unavailable");
    let send = alice
        .send_text(&server, "during", &[&bob], "hi", None)
        .await;
    assert_error(&send, 503, "database_unavailable");

    gate.reopen().await;
    let reopened = std::time::Instant::now();
    loop {
        let (status, _) = server
            .call(reqwest::Method::GET, "/readyz", None, None)
            .await;
        if status == StatusCode::OK {
            break;
        }
        assert!(reopened.elapsed() < Duration::from_secs(30), "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "recovered {:?} after the database came back",
        reopened.elapsed()
    );
    let (status, _) = alice.send_text(&server, "after", &[&bob], "hi", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let ids: Vec<String> = bob
        .inbox(&server, 0)
        .await
        .iter()
        .map(|e| e["client_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["before", "after"]);
}

/// A small tmpfs mounted for one test (needs root; CI runs as root).
struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs (run as root)"
            );
            eprintln!("skipped: cannot mount a tmpfs here (not root?)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Bytes free.
    fn available(&self) -> u64 {
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_507_and_writes_work_again_when_space_returns() {
    let Some(disk) = TinyFs::mount(8 << 20) else {
        return;
    };
    let data = disk.path().display().to_string();
    let db = TestDb {
        name: "sqlite",
        url: format!("sqlite:{data}/glyph.db"),
        dir: tempfile::tempdir().unwrap(),
    };
    let config = test_config(&db, &["--data-dir", &data]);
    let server = TestServer::start_with(config).await;
    let alice = TestUser::new(&server, 0).await;
    let bob = TestUser::new(&server, 0).await;
    // Fill the disk but for a little room, then send until it is full.
    let ballast = disk.path().join("ballast");
    let room = 600 * 1024;
    std::fs::write(&ballast, vec![7u8; (disk.available() - room) as usize]).unwrap();
    let padding = "x".repeat(20_000);
    let mut acknowledged = Vec::new();
    let mut full = 0;
    for n in 0..200 {
        let id = format!("m{n}");
        let response = alice.send_text(&server, &id, &[&bob], &padding, None).await;
        match response.0.as_u16() {
            201 => acknowledged.push(id),
            _ => {
                assert_error(&response, 507, "storage_full");
                full += 1;
                if full == 5 {
                    break;
                }
            }
        }
    }
    assert_eq!(full, 5, "the disk never filled");
    assert!(!acknowledged.is_empty());
    // Reads still work while the disk is full.
    assert_eq!(bob.inbox(&server, 0).await.len(), acknowledged.len());

    // Space comes back: writes work again, at once.
    std::fs::remove_file(&ballast).unwrap();
    for n in 0..20 {
        let id = format!("after{n}");
        let response = alice
            .send_text(&server, &id, &[&bob], "room again", None)
            .await;
        assert_eq!(response.0, StatusCode::CREATED, "send {n}: {}", response.1);
        acknowledged.push(id);
    }
    // Every acknowledged message is there, once.
    let stored: Vec<String> = bob
        .inbox(&server, 0)
        .await
        .iter()
        .map(|e| e["client_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, acknowledged);
}

/// Whether the server closes `socket` within `limit` (reading until EOF).
async fn closed_within(socket: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_clients_are_let_go() {
    use tokio::io::AsyncWriteExt;
    let db = databases().await.remove(0);
    let config = test_config(
        &db,
        &[
            "--header-timeout-secs",
            "1",
            "--body-timeout-secs",
            "1",
            "--idle-timeout-secs",
            "2",
        ],
    );
    let server = TestServer::start_with(config).await;
    // 20 connections trickling headers, one line every 300 ms.
    let mut trickling = Vec::new();
    for _ in 0..20 {
        let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        trickling.push(socket);
    }
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            for socket in &mut trickling {
                let _ = socket.write_all(b"x-slow: 1\r\n").await;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    for socket in &mut trickling {
        assert!(
            closed_within(socket, Duration::from_secs(5)).await,
            "a connection trickling its headers was kept"
        );
    }
    // A body trickled: 408, or the connection closed.
    let mut slow_body = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow_body
        .write_all(b"POST /v1/users HTTP/1.1\r\nhost: g\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let trickle_body = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow_body.write_all(b" ").await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle_body).await;
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        slow_body.read(&mut answer).await
    })
    .await
    .expect("a trickled body was held open");
    if let Ok(n) = read
        && n > 0
    {
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("request_timeout"), "{text}");
    }
    // A connection that answered one request and then sits idle.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: g\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut idle, Duration::from_secs(8)).await,
        "an idle connection was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = databases().await.remove(0);
    let config = test_config(&db, &["--max-connections", "3"]);
    let server = TestServer::start_with(config).await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: g\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        socket.write_all(request).await.unwrap();
        let mut buf = [0u8; 512];
        let n = socket.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(socket);
    }
    // A fourth is not served while three are open...
    let mut fourth = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    fourth.write_all(request).await.unwrap();
    let mut buf = [0u8; 512];
    let early = tokio::time::timeout(Duration::from_millis(800), fourth.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap");
    // ...and is as soon as one closes.
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf))
        .await
        .expect("not served after a slot freed")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
}
