//! What the client costs on top of the server, measured side by side in one
//! run against a running server (`cargo run --release -p glyph-server`):
//!
//! `cargo run --release -p glyph-client --example throughput -- http://127.0.0.1:8080`
//!
//! - text: `Client::send_text` (ratchet, vault transaction, outbox) versus
//!   posting a pre-sealed envelope with the same `Api` (the server's floor);
//! - receive: `Client::sync` of N messages (decrypt, vault transaction each);
//! - media: a 25 MiB file sealed, uploaded, downloaded, opened and checked;
//! - shares: create and open; and unlocking a profile (Argon2id).

use std::time::{Duration, Instant};

use glyph_client::{Client, ClientError, Conversation};

const MESSAGES: usize = 300;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index.min(samples.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let home = std::env::temp_dir().join(format!("glyph-throughput-{}", std::process::id()));
    let (alice, _) = Client::create(&home.join("a"), "pin", &server).await?;
    let (bob, _) = Client::create(&home.join("b"), "pin", &server).await?;
    alice.send_text(bob.user_id(), "warm-up").await?;
    bob.sync().await?;

    // Sends, alternating the client path and the bare API path: first on
    // fresh profiles (SQLite's log file still growing: each sync also
    // writes the file's new size), then on profiles in use (the log
    // reused in place after its first checkpoint).
    send_round(&alice, &bob, "fresh profiles").await?;
    bob.sync().await?;
    send_round(&alice, &bob, "profiles in use").await?;

    let started = Instant::now();
    let received = bob.sync().await?;
    let took = started.elapsed();
    println!(
        "receive: sync of {} entries ({MESSAGES} ratchet, {MESSAGES} v1 from unknown keys) in {} ({:.0} entries/s)",
        received.len(),
        ms(took),
        received.len() as f64 / took.as_secs_f64()
    );

    let file = vec![0x5au8; 25 * 1024 * 1024];
    let to_bob = Conversation::Peer(bob.user_id().to_owned());
    let started = Instant::now();
    alice
        .send_media(&to_bob, "big.bin", &file, false, None)
        .await?;
    let sent = started.elapsed();
    let message = bob
        .sync()
        .await?
        .pop()
        .ok_or(ClientError::Unsupported("no media message"))?;
    let started = Instant::now();
    let (_, opened) = bob.open_media(message.local_id, None).await?;
    let got = started.elapsed();
    assert_eq!(opened.len(), file.len());
    let mib = file.len() as f64 / (1024.0 * 1024.0);
    println!(
        "media 25 MiB: seal+upload+send {} ({:.0} MiB/s), download+open+check {} ({:.0} MiB/s)",
        ms(sent),
        mib / sent.as_secs_f64(),
        ms(got),
        mib / got.as_secs_f64()
    );

    let mut creates = Vec::new();
    let mut opens = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let (link, _) =
            glyph_client::create_share(&server, b"a secret of modest length", 1, 3600).await?;
        creates.push(started.elapsed());
        let started = Instant::now();
        glyph_client::open_share(&link.to_url()).await?;
        opens.push(started.elapsed());
    }
    println!(
        "share: create p50 {}, open p50 {}",
        ms(percentile(&mut creates, 0.5)),
        ms(percentile(&mut opens, 0.5))
    );

    let started = Instant::now();
    let reopened = Client::open(&home.join("a"), "pin").await?;
    println!(
        "unlock a profile (Argon2id 19 MiB x2): {}",
        ms(started.elapsed())
    );
    drop(reopened);
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}

/// A v1 envelope of `size` bytes of plaintext sealed by a throwaway key:
/// what the bare path posts.
fn glyph_client_bare_envelope(
    to: &glyph_client::PublicIdentity,
    size: usize,
) -> Result<serde_json::Value, ClientError> {
    let signer = glyph_crypto::SigningKeyPair::generate()?;
    Ok(glyph_crypto::SealedEnvelope::seal(&signer, &to.dh_pub, &vec![b'x'; size])?.to_json_value())
}

/// `MESSAGES` sends each way, alternating, and their percentiles.
async fn send_round(alice: &Client, bob: &Client, label: &str) -> Result<(), ClientError> {
    let bob_identity = bob.public_identity();
    let mut client_times = Vec::with_capacity(MESSAGES);
    let mut settled_times = Vec::with_capacity(MESSAGES);
    let mut api_times = Vec::with_capacity(MESSAGES);
    let mut shaped_times = Vec::with_capacity(MESSAGES);
    // The shape of a client's send: one more v1 envelope, as large as the
    // self-copy (sealed to myself), beside the copy.
    let self_copy = glyph_client_bare_envelope(&alice.public_identity(), 330)?;
    for i in 0..MESSAGES {
        let started = Instant::now();
        alice
            .send_text(bob.user_id(), &format!("message {i} {}", "x".repeat(200)))
            .await?;
        client_times.push(started.elapsed());
        // The "sent" mark, written in the background, is let finish before
        // the bare call is timed (so that it does not share the CPU).
        alice.settle().await;
        settled_times.push(started.elapsed());

        for (with_self_copy, times) in [(false, &mut api_times), (true, &mut shaped_times)] {
            let envelope = glyph_client_bare_envelope(&bob_identity, 210)?;
            let request = glyph_api::SendRequest {
                client_id: format!("bare-{}-{with_self_copy}-{i}", label.replace(' ', "-")),
                copies: vec![glyph_api::MessageCopy {
                    recipient: bob.user_id().to_owned(),
                    device_id: bob.device_id(),
                    envelope,
                    self_copy: with_self_copy.then(|| self_copy.clone()),
                    group_id: None,
                    expires_at: None,
                    view_once: false,
                    media_path: None,
                }],
            };
            let started = Instant::now();
            alice.api().send(&request).await?;
            times.push(started.elapsed());
        }
    }
    let (c50, c99) = (
        percentile(&mut client_times, 0.5),
        percentile(&mut client_times, 0.99),
    );
    let s50 = percentile(&mut settled_times, 0.5);
    let (b50, b99) = (
        percentile(&mut shaped_times, 0.5),
        percentile(&mut shaped_times, 0.99),
    );
    let (a50, a99) = (
        percentile(&mut api_times, 0.5),
        percentile(&mut api_times, 0.99),
    );
    println!("send, {MESSAGES} each, alternating ({label}):");
    println!("  Client::send_text     p50 {}  p99 {}", ms(c50), ms(c99));
    println!("  Api::send (pre-sealed) p50 {}  p99 {}", ms(a50), ms(a99));
    println!(
        "  Api::send (pre-sealed, with a self-copy like the client's) p50 {}  p99 {}",
        ms(b50),
        ms(b99)
    );
    println!(
        "  ratio p50 {:.2}x, to the same shape {:.2}x (until the \"sent\" mark is written too: p50 {}, {:.2}x, {:.2}x)",
        c50.as_secs_f64() / a50.as_secs_f64(),
        c50.as_secs_f64() / b50.as_secs_f64(),
        ms(s50),
        s50.as_secs_f64() / a50.as_secs_f64(),
        s50.as_secs_f64() / b50.as_secs_f64()
    );

    Ok(())
}
