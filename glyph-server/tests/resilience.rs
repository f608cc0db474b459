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
                            store.add_one_time_prekeys(&owner.user_id, &keys, u64::MAX),
                            polls,
                        )
                        .await;
                    }
                    _ => {
                        cancel_after_polls(store.claim_bundle(&owner.user_id), polls).await;
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
                let work = store.add_one_time_prekeys(&owner, &keys, u64::MAX);
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
            json!({"client_id": format!("hung-{n}"), "copies": [{"recipient": peer.user_id, "envelope": envelope.to_json_value()}]}).to_string()
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
        let before = peer.inbox(&server, 0).await;
        for n in 0..20 {
            let (status, body) = user
                .send_text(&server, &format!("after-{n}"), &[&peer], "hello", None)
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let after = peer.inbox(&server, 0).await;
        assert_eq!(after.len(), before.len() + 20, "{}", db.name);
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
