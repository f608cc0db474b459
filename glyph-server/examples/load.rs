//! Load generator against a running glyph-server. Four loads:
//!
//! ```text
//! load deliver   BASE USERS MESSAGES [SENDERS_AT_ONCE]  # every user listens; delivered msgs/s, send-to-push
//! load saturate  BASE USERS CONNECTIONS SECONDS         # closed loop, as wrk: accepted msgs/s, p50/p99/max
//! load rate      BASE USERS MSGS_PER_SEC SECONDS        # fixed rate, every user listening: accepted, send-to-push
//! load group     BASE MEMBERS SENDS                     # one sender, a MEMBERS-member group: p50/p99/max per send
//! load users     BASE USERS                             # register users; print "token user_id" lines (for wrk)
//! ```
//!
//! `glyph-server/examples/sends.lua` drives the same 1:1 sends from `wrk`
//! (lighter than this tool, so the server gets more of the CPU), reading
//! the users from `load users`.
//!
//! Sends are shaped like glyph-client's 1:1 sends: a ~270-byte envelope and
//! a ~430-byte self-copy, a fresh client id each. To compare group commit
//! with one transaction per message (the design before it), run the same
//! load against a server started with `--max-send-batch 1`, alternating.
//!
//! Envelopes are opaque to the server, so the tool sends a small JSON object
//! carrying its send time instead of sealing real ones: it measures the
//! server, not client-side crypto (docs/benchmarks.md has that). The request
//! loops are bounded by USERS x MESSAGES and stop by themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use glyph_api::PushFrame;
use glyph_crypto::{Identity, Mnemonic};
use serde_json::json;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct User {
    user_id: String,
    token: String,
}

/// The one device each load user has.
const DEVICE: u32 = 1;

/// A registered, logged-in user with one listed device, through
/// glyph-client's API layer.
async fn register(base: &str) -> User {
    let identity = Arc::new(Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap());
    let api = glyph_client::Api::new(base, identity.clone(), DEVICE).unwrap();
    let record = api.register().await.unwrap();
    let token = api.login().await.unwrap();
    api.claim_device().await.unwrap();
    let list = glyph_crypto::DeviceList::first(identity.signing(), DEVICE).unwrap();
    api.publish_devices(&list).await.unwrap();
    User {
        user_id: record.user_id,
        token,
    }
}

/// Opens a user's socket and waits for `caught_up`.
async fn listen(host: &str, token: &str) -> Socket {
    let mut request = format!("ws://{host}/v1/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && matches!(serde_json::from_str(&text), Ok(PushFrame::CaughtUp { .. }))
        {
            break;
        }
    }
    socket
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// A ~270-byte envelope carrying its send time, and a ~430-byte self-copy.
fn shaped_send(client_id: String, to: &str, sent: u64) -> serde_json::Value {
    json!({"client_id": client_id,
           "copies": [{"recipient": to, "device_id": DEVICE,
                       "envelope": {"v": 2, "t": sent, "pad": "e".repeat(240)},
                       "self_copy": {"v": 1, "pad": "s".repeat(410)}}]})
}

/// Sorted samples' quantile, in milliseconds.
/// Posts one send as `token`; its latency in µs if it was accepted.
async fn post_send(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &serde_json::Value,
) -> Option<u64> {
    let sent = Instant::now();
    let response = http
        .post(format!("{base}/v1/messages"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await;
    let ok = matches!(response, Ok(r) if r.status().is_success());
    ok.then(|| u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))
}

fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0
}

fn summary(name: &str, samples: &mut [u64]) -> String {
    samples.sort_unstable();
    format!(
        "{name} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        quantile_ms(samples, 0.5),
        quantile_ms(samples, 0.99),
        quantile_ms(samples, 1.0)
    )
}

async fn register_all(base: &str, users: usize) -> Arc<Vec<User>> {
    let mut all = Vec::new();
    for _ in 0..users {
        all.push(register(base).await);
    }
    Arc::new(all)
}

#[tokio::main]
async fn main() {
    // See tests/common: reqwest may carry glyph-client's TLS feature.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: see the header of glyph-server/examples/load.rs");
            std::process::exit(2)
        })
    };
    match args.first().map(String::as_str) {
        Some("deliver") => {
            let users = number(2);
            deliver(
                &args[1],
                users,
                number(3),
                args.get(4).map_or(users, |_| number(4)),
            )
            .await;
        }
        Some("saturate") => saturate(&args[1], number(2), number(3), number(4)).await,
        Some("rate") => rate(&args[1], number(2), number(3), number(4)).await,
        Some("group") => group(&args[1], number(2), number(3)).await,
        Some("users") => {
            for user in register_all(&args[1], number(2)).await.iter() {
                println!("{} {}", user.token, user.user_id);
            }
        }
        _ => {
            eprintln!(
                "usage: load deliver|saturate|rate|group BASE ... (see the header of load.rs)"
            );
            std::process::exit(2);
        }
    }
}

/// Closed loop: CONNECTIONS loops each send, wait for the answer, send
/// again, for SECONDS; users chosen round-robin.
async fn saturate(base: &str, users: usize, connections: usize, seconds: usize) {
    let all = register_all(base, users.max(2)).await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds as u64);
    let started = Instant::now();
    let mut loops = Vec::new();
    for c in 0..connections {
        let (http, all, base) = (http.clone(), all.clone(), base.to_owned());
        loops.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut failed = 0usize;
            let mut i = 0usize;
            while Instant::now() < deadline {
                let from = (c + i) % all.len();
                let to = (from + 1 + i % (all.len() - 1)) % all.len();
                let body = shaped_send(format!("sat-{c}-{i}"), &all[to].user_id, 0);
                match post_send(&http, &base, &all[from].token, &body).await {
                    Some(micros) => samples.push(micros),
                    None => failed += 1,
                }
                i += 1;
            }
            (samples, failed)
        }));
    }
    let mut samples = Vec::new();
    let mut failed = 0;
    for handle in loops {
        let (s, f) = handle.await.unwrap();
        samples.extend(s);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "saturate: {users} users, {connections} connections, {seconds} s: {:.0} accepted msgs/s ({} failed); {}",
        samples.len() as f64 / elapsed,
        failed,
        summary("request", &mut samples)
    );
}

/// Open loop: MSGS_PER_SEC sends a second for SECONDS, whatever the
/// answers take; every user listens, and each push's latency is measured.
async fn rate(base: &str, users: usize, per_second: usize, seconds: usize) {
    let all = register_all(base, users.max(2)).await;
    let host = base.trim_start_matches("http://").to_owned();
    let epoch = Instant::now();
    let pushes = Arc::new(Mutex::new(Vec::new()));
    let mut listeners = Vec::new();
    for user in all.iter() {
        let mut socket = listen(&host, &user.token).await;
        let pushes = pushes.clone();
        listeners.push(tokio::spawn(async move {
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_secs(5), socket.next()).await
            {
                if let Message::Text(text) = message
                    && let Ok(PushFrame::Message { message }) = serde_json::from_str(&text)
                    && let Some(sent) = message.payload["t"].as_u64()
                {
                    pushes
                        .lock()
                        .await
                        .push(micros_since(epoch).saturating_sub(sent));
                }
            }
        }));
    }
    let http = reqwest::Client::new();
    let total = per_second * seconds;
    let interval = Duration::from_secs_f64(1.0 / per_second.max(1) as f64);
    let started = Instant::now();
    let mut sends = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until((started + interval * u32::try_from(i).unwrap()).into()).await;
        let (http, all, base) = (http.clone(), all.clone(), base.to_owned());
        sends.push(tokio::spawn(async move {
            let from = i % all.len();
            let to = (from + 1 + (i / all.len()) % (all.len() - 1)) % all.len();
            let body = shaped_send(format!("rate-{i}"), &all[to].user_id, micros_since(epoch));
            post_send(&http, &base, &all[from].token, &body).await
        }));
    }
    let mut samples = Vec::new();
    for send in sends {
        samples.extend(send.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    for listener in listeners {
        let _ = listener.await;
    }
    let mut pushes = pushes.lock().await.clone();
    println!(
        "rate: {users} users, {per_second} msgs/s offered for {seconds} s: {:.0} accepted msgs/s ({} of {total}), {} pushed; {}; {}",
        samples.len() as f64 / elapsed,
        samples.len(),
        pushes.len(),
        summary("request", &mut samples),
        summary("send-to-push", &mut pushes)
    );
}

/// One member sends SENDS messages, one after another, to a MEMBERS-member
/// group (one request holding MEMBERS-1 copies).
async fn group(base: &str, members: usize, sends: usize) {
    let all = register_all(base, members.max(2)).await;
    let http = reqwest::Client::new();
    let ids: Vec<&str> = all[1..].iter().map(|u| u.user_id.as_str()).collect();
    let created: serde_json::Value = http
        .post(format!("{base}/v1/groups"))
        .bearer_auth(&all[0].token)
        .json(&json!({"members": ids}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group_id = created["group_id"].as_str().expect("a group id").to_owned();
    let mut samples = Vec::new();
    for i in 0..sends {
        let copies: Vec<serde_json::Value> = ids
            .iter()
            .enumerate()
            .map(|(n, to)| {
                let mut copy = json!({"recipient": to, "device_id": DEVICE, "group_id": group_id,
                                      "envelope": {"v": 2, "pad": "e".repeat(240)}});
                if n == 0 {
                    copy["self_copy"] = json!({"v": 1, "pad": "s".repeat(410)});
                }
                copy
            })
            .collect();
        let body = json!({"client_id": format!("group-{i}"), "copies": copies});
        let sent = Instant::now();
        let status = http
            .post(format!("{base}/v1/messages"))
            .bearer_auth(&all[0].token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "group send failed: {status}");
        samples.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    println!(
        "group: {members} members, {sends} sends one at a time; {}",
        summary("send", &mut samples)
    );
}

/// Every user listens; each sends MESSAGES; reports what reached the
/// recipients' sockets.
async fn deliver(base: &str, users: usize, messages: usize, concurrency: usize) {
    assert!(users >= 2, "at least 2 users");
    let base = &base.to_owned();
    let http = reqwest::Client::new();
    let all = register_all(base, users).await;
    let host = base.trim_start_matches("http://").to_owned();

    // Plan every send first, so each listener knows how many to expect.
    let expected: Vec<AtomicUsize> = (0..users).map(|_| AtomicUsize::new(0)).collect();
    let plan: Vec<Vec<usize>> = (0..users)
        .map(|from| {
            (0..messages)
                .map(|i| {
                    let to = (from + 1 + (i * 7919 + from * 31) % (users - 1)) % users;
                    expected[to].fetch_add(1, Ordering::Relaxed);
                    to
                })
                .collect()
        })
        .collect();

    let epoch = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(users * messages)));
    let mut listeners = Vec::new();
    for (index, user) in all.iter().enumerate() {
        let mut socket = listen(&host, &user.token).await;
        let due = expected[index].load(Ordering::Relaxed);
        let latencies = latencies.clone();
        listeners.push(tokio::spawn(async move {
            let mut received = 0;
            while received < due {
                let Ok(Some(Ok(message))) =
                    tokio::time::timeout(Duration::from_secs(60), socket.next()).await
                else {
                    panic!(
                        "listener {index}: {received}/{due} received before the socket went quiet"
                    );
                };
                if let Message::Text(text) = message
                    && let Ok(PushFrame::Message { message }) = serde_json::from_str(&text)
                {
                    let sent = message.payload["t"].as_u64().unwrap();
                    latencies
                        .lock()
                        .await
                        .push(micros_since(epoch).saturating_sub(sent));
                    received += 1;
                }
            }
        }));
    }

    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut senders = Vec::new();
    for (from, targets) in plan.into_iter().enumerate() {
        let (http, all, base, semaphore) =
            (http.clone(), all.clone(), base.clone(), semaphore.clone());
        senders.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            for (i, to) in targets.into_iter().enumerate() {
                let body = json!({"client_id": format!("load-{i}"),
                                  "copies": [{"recipient": all[to].user_id, "device_id": DEVICE, "envelope": {"v": 2, "t": micros_since(epoch)}}]});
                let response = http.post(format!("{base}/v1/messages")).bearer_auth(&all[from].token).json(&body).send().await;
                let status = response.unwrap().status();
                assert!(status.is_success(), "send failed: {status}");
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    for listener in listeners {
        listener.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = latencies.lock().await.clone();
    latencies.sort_unstable();
    let at =
        |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0;
    println!(
        "users {users}, messages {}, senders at once {concurrency}: {:.0} messages/s delivered end to end; \
         send-to-push latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
