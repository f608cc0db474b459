//! What linked devices cost a sender, measured side by side in one run
//! against a running server (`cargo run --release -p glyph-server`):
//!
//! `cargo run --release -p glyph-client --example devices -- http://127.0.0.1:8080`
//!
//! - a text to a contact with one device, and to one with three devices,
//!   alternating (sessions established: ratchet sends);
//! - a text to a 100-member group where everyone has one device, and to one
//!   where everyone (the sender too) has two, alternating; plus the first
//!   send to each group, which makes every session (X3DH, one bundle per
//!   device).
//!
//! Each line prints the two p50s and their ratio.

use std::time::{Duration, Instant};

use glyph_client::{Client, ClientError};

/// Sends measured per case.
const ROUNDS: usize = 40;
/// The groups' size, the sender included.
const MEMBERS: usize = 100;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index.min(samples.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A new account with `devices` devices: its first device's client (the
/// others are set up from the words and kept in `others`).
async fn account(
    server: &str,
    home: &std::path::Path,
    name: &str,
    devices: usize,
    others: &mut Vec<Client>,
) -> Result<Client, ClientError> {
    let (client, words) = Client::create(&home.join(name), "pin", server).await?;
    for extra in 1..devices {
        let profile = home.join(format!("{name}-{extra}"));
        others.push(Client::restore(&profile, "pin", server, words.phrase()).await?);
    }
    Ok(client)
}

fn report(what: &str, one: &mut [Duration], more: &mut [Duration], label: &str) {
    let (a50, a99) = (percentile(one, 0.5), percentile(one, 0.99));
    let (b50, b99) = (percentile(more, 0.5), percentile(more, 0.99));
    println!("{what}:");
    println!("  one device each    p50 {}  p99 {}", ms(a50), ms(a99));
    println!("  {label:<18} p50 {}  p99 {}", ms(b50), ms(b99));
    println!("  ratio p50 {:.2}x", b50.as_secs_f64() / a50.as_secs_f64());
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let home = std::env::temp_dir().join(format!("glyph-devices-{}", std::process::id()));
    let mut others = Vec::new();

    // One contact with one device, one with three.
    let alice = account(&server, &home, "alice", 1, &mut others).await?;
    let single = account(&server, &home, "single", 1, &mut others).await?;
    let triple = account(&server, &home, "triple", 3, &mut others).await?;
    for peer in [&single, &triple] {
        alice.send_text(peer.user_id(), "warm-up").await?;
    }
    let (mut one, mut three) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        for (peer, times) in [(&single, &mut one), (&triple, &mut three)] {
            let started = Instant::now();
            alice
                .send_text(peer.user_id(), &format!("message {i} {}", "x".repeat(200)))
                .await?;
            times.push(started.elapsed());
        }
    }
    report(
        "text to a contact, sessions established",
        &mut one,
        &mut three,
        "three devices",
    );

    // Two groups of MEMBERS: one device each, and two devices each.
    let mut group_of_ones = Vec::new();
    let mut group_of_twos = Vec::new();
    let lead_one = account(&server, &home, "lead-1", 1, &mut others).await?;
    let lead_two = account(&server, &home, "lead-2", 2, &mut others).await?;
    for i in 1..MEMBERS {
        group_of_ones.push(account(&server, &home, &format!("m1-{i}"), 1, &mut others).await?);
        group_of_twos.push(account(&server, &home, &format!("m2-{i}"), 2, &mut others).await?);
    }
    let ids = |members: &[Client]| -> Vec<String> {
        members.iter().map(|m| m.user_id().to_owned()).collect()
    };
    let (ones, twos) = (ids(&group_of_ones), ids(&group_of_twos));
    let ones: Vec<&str> = ones.iter().map(String::as_str).collect();
    let twos: Vec<&str> = twos.iter().map(String::as_str).collect();
    let started = Instant::now();
    let group_one = lead_one.create_group(&ones).await?.group_id;
    let create_one = started.elapsed();
    let started = Instant::now();
    let group_two = lead_two.create_group(&twos).await?.group_id;
    let create_two = started.elapsed();
    println!(
        "create a {MEMBERS}-member group (announcement: first sessions, one bundle per device):\n  \
         one device each    {}\n  two devices each   {}\n  ratio {:.2}x",
        ms(create_one),
        ms(create_two),
        create_two.as_secs_f64() / create_one.as_secs_f64()
    );
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        for (lead, group, times) in [
            (&lead_one, &group_one, &mut one),
            (&lead_two, &group_two, &mut two),
        ] {
            let started = Instant::now();
            lead.send_group_text(group, &format!("group message {i} {}", "x".repeat(200)))
                .await?;
            times.push(started.elapsed());
        }
    }
    report(
        &format!("text to a {MEMBERS}-member group, sessions established"),
        &mut one,
        &mut two,
        "two devices each",
    );
    drop(others);
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}
