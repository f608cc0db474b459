//! Two people on one server, from an app's point of view: create accounts,
//! find each other, verify, talk, send a file, listen live.
//!
//! Run a server (`cargo run -p glyph-server`), then:
//! `cargo run -p glyph-client --example two_people -- http://127.0.0.1:8080`

use std::time::Duration;

use glyph_client::{Client, ClientError, Content, Conversation};

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let home = std::env::temp_dir().join(format!("glyph-example-{}", std::process::id()));

    // 1. Accounts. `create` returns the 12 words: show them once, never store them.
    let (alice, words) = Client::create(&home.join("alice"), "alice's PIN", &server).await?;
    println!("Alice's recovery words: {}", words.phrase());
    let (bob, _) = Client::create(&home.join("bob"), "bob's PIN", &server).await?;

    // 2. Contacts: by user id here (or a handle: `bob.set_handle("bob")`, then "@bob").
    alice.add_contact(bob.user_id(), Some("Bob")).await?;
    println!(
        "Compare with Bob: {}",
        alice.safety_number(bob.user_id()).await?
    );
    alice.verify_contact(bob.user_id()).await?;

    // 3. Text. Bob is offline: the first message uses his prekeys (X3DH).
    alice.send_text("Bob", "Hi Bob!").await?;
    for message in bob.sync().await? {
        println!("Bob got: {}", message.content.summary());
    }

    // 4. A file, sealed on Alice's device; Bob's copy is checked against its SHA-256.
    let photo = vec![42u8; 100_000];
    let to_bob = Conversation::Peer(bob.user_id().to_owned());
    alice
        .send_media(&to_bob, "photo.jpg", &photo, false, None)
        .await?;
    for message in bob.sync().await? {
        if let Content::Media(_) = message.content {
            let (descriptor, bytes) = bob.open_media(message.local_id, None).await?;
            println!("Bob opened {} ({} bytes)", descriptor.name, bytes.len());
        }
    }

    // 5. Live receive: Bob listens while Alice writes; stop after two seconds.
    let stop = tokio::time::sleep(Duration::from_secs(2));
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        alice.send_text("Bob", "Are you there?").await
    };
    let listener = bob.listen(stop, |m| println!("live: {}", m.content.summary()), |_| {});
    let (sent, listened) = tokio::join!(writer, listener);
    sent?;
    listened?;

    // 6. The whole conversation, as Alice's device keeps it (encrypted at rest).
    for message in alice.history(&to_bob).await? {
        let who = if message.outgoing { "me" } else { "Bob" };
        println!("{who}: {}", message.content.summary());
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}
