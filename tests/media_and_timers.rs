//! Files both ways, a view-once photo, and disappearing messages, through
//! the real server process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use glyph_client::{ClientError, Content, Conversation};

fn file_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_both_ways_and_a_view_once_photo_opens_once() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let to_bob = Conversation::Peer(bob.id());
    let to_alice = Conversation::Peer(alice.id());

    let report = file_of(700_000, 1);
    let uploaded = Arc::new(AtomicU64::new(0));
    let seen = uploaded.clone();
    let progress: glyph_client::Progress = Arc::new(move |done, total| {
        assert!(done <= total);
        seen.store(done, Ordering::SeqCst);
    });
    alice
        .client
        .send_media(&to_bob, "report.pdf", &report, false, Some(progress))
        .await
        .unwrap();
    assert_eq!(
        uploaded.load(Ordering::SeqCst),
        report.len() as u64 + 16,
        "progress reached the whole blob"
    );
    let received = bob.read_messages().await;
    let Content::Media(descriptor) = &received[0].content else {
        panic!("{received:?}")
    };
    assert_eq!(
        (
            descriptor.name.as_str(),
            descriptor.mime.as_str(),
            descriptor.size
        ),
        ("report.pdf", "application/pdf", 700_000)
    );
    let (_, opened) = bob
        .client
        .open_media(received[0].local_id, None)
        .await
        .unwrap();
    assert_eq!(opened, report);
    // Not view-once: it opens again.
    assert_eq!(
        bob.client
            .open_media(received[0].local_id, None)
            .await
            .unwrap()
            .1,
        report
    );

    // And back, from a file on disk.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"notes from bob").unwrap();
    bob.client
        .send_file(&to_alice, &path, false, None)
        .await
        .unwrap();
    let received = alice.read_messages().await;
    assert_eq!(
        alice
            .client
            .open_media(received[0].local_id, None)
            .await
            .unwrap()
            .1,
        b"notes from bob"
    );

    // A view-once photo: viewed once, then gone here and on the server.
    let photo = file_of(50_000, 9);
    let sent = alice
        .client
        .send_media(&to_bob, "photo.jpg", &photo, true, None)
        .await
        .unwrap();
    let Content::Media(sent_descriptor) = &sent.content else {
        panic!()
    };
    let received = bob.read_messages().await;
    assert!(received[0].content.summary().contains("view-once"));
    assert_eq!(
        bob.client
            .open_media(received[0].local_id, None)
            .await
            .unwrap()
            .1,
        photo
    );
    let again = bob.client.open_media(received[0].local_id, None).await;
    assert!(
        matches!(again, Err(ClientError::AlreadyViewed)),
        "{again:?}"
    );
    let on_server = alice
        .client
        .api()
        .download_media(&sent_descriptor.path, 1 << 20, None)
        .await;
    assert!(
        matches!(on_server, Err(ClientError::Api { status: 410, .. })),
        "{on_server:?}"
    );
    assert_eq!(
        alice.client.api().media_usage().await.unwrap().used_bytes,
        700_016,
        "only the report is stored"
    );

    // Exactly 25 MiB is allowed; one byte more is refused before any upload.
    let largest = vec![1u8; 25 * 1024 * 1024];
    alice
        .client
        .send_media(&to_bob, "largest.bin", &largest, false, None)
        .await
        .unwrap();
    let received = bob.read_messages().await;
    let (_, opened) = bob
        .client
        .open_media(received[0].local_id, None)
        .await
        .unwrap();
    assert_eq!(opened.len(), largest.len());
    let huge = vec![0u8; 25 * 1024 * 1024 + 1];
    let refused = alice
        .client
        .send_media(&to_bob, "big.bin", &huge, false, None)
        .await;
    assert!(
        matches!(refused, Err(ClientError::FileTooLarge { .. })),
        "{refused:?}"
    );
    assert_eq!(
        alice.client.api().media_usage().await.unwrap().used_bytes,
        700_016 + 25 * 1024 * 1024 + 16
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disappearing_message_is_gone_from_both_sides_after_its_time() {
    let server = Server::start(&["--sweep-secs", "1"]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    // Alice's laptop gets the self-copies of what her phone sends.
    let (laptop, _dir) = alice.restored_at(&server.url).await;
    let with_bob = Conversation::Peer(bob.id());
    alice
        .client
        .send_text(&bob.id(), "this one stays")
        .await
        .unwrap();
    alice.client.set_timer(&with_bob, Some(3)).await.unwrap();
    assert_eq!(alice.client.timer(&with_bob).await.unwrap(), Some(3));
    let sent = alice
        .client
        .send_text(&bob.id(), "burn after reading")
        .await
        .unwrap();
    assert!(sent.expires_at.is_some());
    assert_eq!(bob.read().await, ["this one stays", "burn after reading"]);
    assert_eq!(alice.texts(&with_bob).await.len(), 2);

    let expires_at = sent.expires_at.unwrap();
    while glyph_server::input::now() <= expires_at + 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alice.texts(&with_bob).await, ["this one stays"]);
    assert_eq!(
        bob.texts(&Conversation::Peer(alice.id())).await,
        ["this one stays"]
    );
    // The server deleted its copies too.
    let page = bob.client.api().inbox(0, 100).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    let page = laptop.api().inbox(0, 100).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    let page = alice.client.api().inbox(0, 100).await.unwrap();
    assert!(page.messages.is_empty(), "the sending device keeps no copy");
    laptop.sync().await.unwrap();
    assert_eq!(
        summaries(&laptop.history(&with_bob).await.unwrap()),
        ["this one stays"]
    );

    alice.client.set_timer(&with_bob, None).await.unwrap();
    assert!(
        alice
            .client
            .send_text(&bob.id(), "kept again")
            .await
            .unwrap()
            .expires_at
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_without_the_app_noticing() {
    let server = Server::start(&["--jwt-lifetime-secs", "3"]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(1600)).await;
        alice
            .client
            .send_text(&bob.id(), &format!("round {round}"))
            .await
            .unwrap();
    }
    assert_eq!(bob.read().await, ["round 0", "round 1", "round 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_is_checked_before_uploading() {
    let server = Server::start(&["--media-quota-bytes", "100000"]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let to_bob = Conversation::Peer(bob.id());
    let file = file_of(60_000, 3);
    alice
        .client
        .send_media(&to_bob, "a.bin", &file, false, None)
        .await
        .unwrap();
    let refused = alice
        .client
        .send_media(&to_bob, "b.bin", &file, false, None)
        .await;
    assert!(
        matches!(
            refused,
            Err(ClientError::QuotaExceeded {
                used: 60_016,
                quota: 100_000
            })
        ),
        "{refused:?}"
    );
    assert_eq!(
        bob.read().await.len(),
        1,
        "nothing was sent for the refused file"
    );
}

/// One-view shares from the library, from two async runtimes in turn: the
/// process shares one HTTP client for shares (building one reads every
/// root certificate), so a call from a runtime started after the first one
/// is gone must still work.
#[test]
fn shares_work_from_one_runtime_after_another() {
    let server = Server::start(&[]);
    for round in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let secret = format!("secret of round {round}");
            let (link, _) = glyph_client::create_share(&server.url, secret.as_bytes(), 2, 60)
                .await
                .unwrap();
            let (opened, views_left) = glyph_client::open_share(&link.to_url()).await.unwrap();
            assert_eq!((opened, views_left), (secret.into_bytes(), 1));
        });
        drop(runtime);
    }
}
