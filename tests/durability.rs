//! The server killed in the middle of a conversation, live receive across
//! the outage, and keys swapped behind the users' backs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use glyph_client::{ClientError, Conversation, Delivery, LiveEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_conversation_loses_nothing_and_live_receive_resumes() {
    let mut server = Server::start(&[]);
    let alice = Arc::new(Person::new(&server).await);
    let bob = Person::new(&server).await;
    alice.client.send_text(&bob.id(), "before").await.unwrap();
    bob.client
        .send_text(&alice.id(), "reply before")
        .await
        .unwrap();

    // Alice listens live the whole time.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let events = Arc::new(Mutex::new(Vec::<LiveEvent>::new()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = {
        let (alice, seen, events) = (alice.clone(), seen.clone(), events.clone());
        tokio::spawn(async move {
            alice
                .client
                .listen(
                    async {
                        let _ = stop_rx.await;
                    },
                    |m| seen.lock().unwrap().push(m.content.summary()),
                    |e| events.lock().unwrap().push(e.clone()),
                )
                .await
        })
    };
    let wait_for = |n: usize| {
        let seen = seen.clone();
        async move {
            for _ in 0..200 {
                if seen.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("live receive saw only {:?}", seen.lock().unwrap());
        }
    };
    wait_for(1).await;
    assert_eq!(*seen.lock().unwrap(), ["reply before"]);

    // kill -9 in the middle of the conversation.
    server.kill();
    let queued = bob
        .client
        .send_text(&alice.id(), "sent while the server was down")
        .await
        .unwrap();
    assert_eq!(
        queued.delivery,
        Delivery::Pending,
        "kept in the outbox, not lost"
    );
    let refused = bob.client.sync().await;
    assert!(
        matches!(refused, Err(ClientError::Network(_))),
        "{refused:?}"
    );

    server.restart();
    // Bob's next sync sends the queued message first; then more.
    assert_eq!(bob.read().await, ["before"]);
    bob.client
        .send_text(&alice.id(), "and after")
        .await
        .unwrap();
    wait_for(3).await;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "reply before",
            "sent while the server was down",
            "and after"
        ]
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, LiveEvent::Reconnecting(..))),
        "it noticed the outage"
    );

    // Nothing twice: a sync after live receive finds nothing new, and the
    // history holds each message once, in order.
    assert!(alice.read().await.is_empty());
    let history = alice.texts(&Conversation::Peer(bob.id())).await;
    assert_eq!(
        history,
        [
            "before",
            "reply before",
            "sent while the server was down",
            "and after"
        ]
    );
    let bob_history = bob
        .client
        .history(&Conversation::Peer(alice.id()))
        .await
        .unwrap();
    assert!(
        bob_history.iter().all(|m| m.delivery != Delivery::Pending),
        "{bob_history:?}"
    );

    // And the conversation goes on.
    alice
        .client
        .send_text(&bob.id(), "welcome back")
        .await
        .unwrap();
    assert_eq!(bob.read().await, ["welcome back"]);
    stop_tx.send(()).unwrap();
    listener.await.unwrap().unwrap();
}

/// A send returns once the server has the message; taking it out of the
/// outbox is written afterwards. A process that ends before that leaves
/// the message in the outbox: the next run posts it again (after the
/// recipient has read it and the server has let it go), and the recipient
/// still reads it once.
#[test]
fn a_send_whose_sent_mark_was_lost_is_posted_again_and_read_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = Server::start(&[]);
    let (alice, bob) =
        runtime.block_on(async { (Person::new(&server).await, Person::new(&server).await) });
    runtime.block_on(async { alice.client.send_text(&bob.id(), "first").await.unwrap() });

    // Another run of Alice's profile sends, and its process ends at once:
    // one thread, which the send returns to before the mark's task runs.
    let one_shot = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sent = one_shot.block_on(async {
        let other_run = glyph_client::Client::open(&alice.profile, PIN)
            .await
            .unwrap();
        other_run.send_text(&bob.id(), "second").await.unwrap()
    });
    drop(one_shot);
    assert_eq!(sent.delivery, Delivery::Sent, "the server has it");

    runtime.block_on(async {
        let to_bob = Conversation::Peer(bob.id());
        let history = alice.client.history(&to_bob).await.unwrap();
        assert_eq!(
            history.iter().map(|m| m.delivery).collect::<Vec<_>>(),
            [Delivery::Sent, Delivery::Pending],
            "the mark was never written"
        );
        assert_eq!(bob.read().await, ["first", "second"]);
        // Alice's next sync posts it again; Bob does not read it twice.
        alice.client.sync().await.unwrap();
        let history = alice.client.history(&to_bob).await.unwrap();
        assert!(
            history.iter().all(|m| m.delivery == Delivery::Sent),
            "{history:?}"
        );
        assert!(bob.read().await.is_empty());
        assert_eq!(
            bob.texts(&Conversation::Peer(alice.id())).await,
            ["first", "second"]
        );
        // A send that returned normally is marked by the time the history
        // is read, with no wait in between.
        alice.client.send_text(&bob.id(), "third").await.unwrap();
        let history = alice.client.history(&to_bob).await.unwrap();
        assert_eq!(history.last().map(|m| m.delivery), Some(Delivery::Sent));
    });
}

/// Copies what a profile's vault holds on the disk (its file and log; the
/// log's index is rebuilt from the log when opened) from `from` to `to`.
fn copy_vault(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    let vault = glyph_client::vault_path(from);
    let name = vault.file_name().unwrap().to_str().unwrap().to_owned();
    for suffix in ["", "-wal"] {
        let file = format!("{name}{suffix}");
        std::fs::copy(from.join(&file), to.join(&file)).unwrap();
    }
    let _ = std::fs::remove_file(to.join(format!("{name}-shm")));
}

/// Most sends do not wait for the disk before their message leaves: their
/// sending chain reserved positions ahead in a synced commit. A machine
/// that crashes right after such sends comes back with the state from
/// before them; its first open skips every chain past its reservation, so
/// the next message takes a new position and key, and the recipient reads
/// everything. (Without the skip, the message after the crash reuses the
/// position of one the recipient has read, and cannot be opened.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_machine_crash_no_sending_position_is_used_twice() {
    let server = Server::start(&[]);
    let bob = Person::new(&server).await;
    let home = tempfile::tempdir().unwrap();
    let profile = home.path().join("alice");
    let (alice, _) = glyph_client::Client::create(&profile, PIN, &server.url)
        .await
        .unwrap();
    alice.send_text(&bob.id(), "one").await.unwrap();
    alice.settle().await;
    // What the disk holds for sure: the first send reserved its chain's
    // next positions in a synced commit.
    let on_disk = home.path().join("on-disk");
    copy_vault(&profile, &on_disk);
    for text in ["two", "three"] {
        alice.send_text(&bob.id(), text).await.unwrap();
    }
    assert_eq!(bob.read().await, ["one", "two", "three"]);

    // The machine crashes: the process is gone, the writes the disk had
    // not flushed are lost, and the machine starts with a new boot id.
    drop(alice);
    copy_vault(&on_disk, &profile);
    std::fs::write(profile.join("boot"), "an earlier boot").unwrap();
    let alice = glyph_client::Client::open(&profile, PIN).await.unwrap();
    alice.send_text(&bob.id(), "four").await.unwrap();
    assert_eq!(bob.read().await, ["four"]);
    // And on, across an ordinary restart.
    drop(alice);
    let alice = glyph_client::Client::open(&profile, PIN).await.unwrap();
    alice.send_text(&bob.id(), "five").await.unwrap();
    assert_eq!(bob.read().await, ["five"]);
}

/// Whether the `sqlite3` program is here to play the lying server (says so
/// when it is not).
fn can_tamper() -> bool {
    let found = std::process::Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("skipped: no sqlite3 program to play the lying server with");
    }
    found
}

/// Runs SQL on the server's database (the server is the attacker here).
fn tamper(server: &Server, sql: &str) {
    let status = std::process::Command::new("sqlite3")
        .arg(server.database())
        .arg(sql)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_swapped_by_the_server_are_caught() {
    if !can_tamper() {
        return;
    }
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let carol = Person::new(&server).await;
    alice
        .client
        .add_contact(&bob.id(), Some("bob"))
        .await
        .unwrap();

    // The server hands out Carol's DH key (and prekeys) as Bob's.
    let carol_dh = carol
        .client
        .public_identity()
        .dh_pub
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    tamper(
        &server,
        &format!(
            "UPDATE users SET dh_pub = x'{carol_dh}' WHERE user_id = '{}'",
            bob.id()
        ),
    );
    // The directory record no longer carries Bob's signature over its keys.
    let lookup = alice.client.add_contact(&bob.id(), None).await;
    assert!(
        matches!(lookup, Err(ClientError::BadBinding(_))),
        "{lookup:?}"
    );
    // A bundle with the swapped key is a key change: nothing is sent.
    let send = alice.client.send_text("bob", "secret").await;
    assert!(matches!(send, Err(ClientError::KeyChanged(_))), "{send:?}");
    let contact = alice.client.contact(&bob.id()).await.unwrap().unwrap();
    assert!(contact.changed_dh_pub.is_some() && !contact.verified);
    assert!(bob.read().await.is_empty());
    // Verifying is refused until the change is accepted.
    assert!(matches!(
        alice.client.verify_contact(&bob.id()).await,
        Err(ClientError::KeyChanged(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_history_follows_the_sealed_conversation_not_the_server() {
    if !can_tamper() {
        return;
    }
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let carol = Person::new(&server).await;
    // Alice's second device, restored from her words.
    let dir = tempfile::tempdir().unwrap();
    let restored =
        glyph_client::Client::restore(&dir.path().join("p"), PIN, &server.url, &alice.words)
            .await
            .unwrap();
    alice
        .client
        .send_text(&bob.id(), "for bob only")
        .await
        .unwrap();
    // The server re-labels Alice's message as sent to Carol.
    tamper(
        &server,
        &format!(
            "UPDATE messages SET recipient = '{}' WHERE recipient = '{}'",
            carol.id(),
            bob.id()
        ),
    );
    restored.sync().await.unwrap();
    let with_bob: Vec<String> = restored
        .history(&Conversation::Peer(bob.id()))
        .await
        .unwrap()
        .iter()
        .map(|m| m.content.summary())
        .collect();
    assert_eq!(with_bob, ["for bob only"]);
    assert!(
        restored
            .history(&Conversation::Peer(carol.id()))
            .await
            .unwrap()
            .is_empty()
    );
}
