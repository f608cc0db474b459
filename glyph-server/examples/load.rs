//! Load generator: N simulated users against a running glyph-server. Each
//! registers, logs in, opens a WebSocket, and sends M messages to other
//! users; the tool reports messages per second delivered end to end
//! (accepted by the server and pushed to the recipient's socket) and the
//! latency from send to push (p50, p99, max).
//!
//! ```text
//! cargo run --release -p glyph-server --example load -- http://127.0.0.1:8080 USERS MESSAGES [SENDERS_AT_ONCE]
//! ```
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, users, messages, rest @ ..] = &args[..] else {
        eprintln!("usage: load BASE_URL USERS MESSAGES_PER_USER [SENDERS_AT_ONCE]");
        std::process::exit(2);
    };
    let (users, messages): (usize, usize) = (users.parse().unwrap(), messages.parse().unwrap());
    assert!(users >= 2, "at least 2 users");
    let concurrency: usize = rest.first().map_or(users, |c| c.parse().unwrap());
    // See tests/common: reqwest may carry glyph-client's TLS feature.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    for _ in 0..users {
        all.push(register(base).await);
    }
    let all = Arc::new(all);
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
