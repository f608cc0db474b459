//! Two, three and five people talking through the real server process:
//! first contact while the peer is offline, crossing messages both ways,
//! groups with members added and removed, contacts and key checks, and a
//! second device restored from the 12 words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use glyph_client::{Client, ClientError, Conversation, KeyCheck};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_while_offline_then_crossing_messages_both_ways() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    bob.client.set_handle("bob").await.unwrap();
    alice.client.set_handle("alice").await.unwrap();
    let (contact, check) = alice
        .client
        .add_contact("@bob", Some("Bobby"))
        .await
        .unwrap();
    assert_eq!(check, KeyCheck::New);
    assert_eq!(contact.user_id, bob.id());

    // Bob is offline: Alice's first messages use his prekey bundle (X3DH).
    for text in ["hi bob", "are you there?", "ping"] {
        alice.client.send_text("Bobby", text).await.unwrap();
    }
    assert_eq!(bob.read().await, ["hi bob", "are you there?", "ping"]);
    assert!(bob.read().await.is_empty(), "nothing is shown twice");
    // Bob learned who wrote: Alice's keys from her first message, her
    // handle from the directory; unverified until they compare numbers.
    let alice_seen = bob.client.contact(&alice.id()).await.unwrap().unwrap();
    assert_eq!(alice_seen.display_name(), "@alice");
    assert!(!alice_seen.verified);

    // Bob replies; then both write at once, before reading (crossing
    // ratchet steps), several times over.
    bob.client
        .send_text(&alice.id(), "hello alice")
        .await
        .unwrap();
    assert_eq!(alice.read().await, ["hello alice"]);
    for round in 0..3 {
        alice
            .client
            .send_text(&bob.id(), &format!("a{round}"))
            .await
            .unwrap();
        bob.client
            .send_text(&alice.id(), &format!("b{round}"))
            .await
            .unwrap();
        bob.client
            .send_text(&alice.id(), &format!("b{round}'"))
            .await
            .unwrap();
    }
    assert_eq!(alice.read().await, ["b0", "b0'", "b1", "b1'", "b2", "b2'"]);
    assert_eq!(bob.read().await, ["a0", "a1", "a2"]);

    // Both histories hold the whole conversation in order, mine included.
    let with_bob = Conversation::Peer(bob.id());
    let alice_view = alice.texts(&with_bob).await;
    assert_eq!(alice_view.len(), 3 + 1 + 9);
    assert_eq!(
        alice_view[..4],
        ["hi bob", "are you there?", "ping", "hello alice"]
    );
    let sent = alice.client.history(&with_bob).await.unwrap();
    assert!(
        sent.iter()
            .filter(|m| m.outgoing)
            .all(|m| m.delivery == glyph_client::Delivery::Sent),
        "every message Alice sent is marked sent"
    );
    let bob_view = bob.texts(&Conversation::Peer(alice.id())).await;
    assert_eq!(bob_view.len(), 13);

    // The safety number is the same on both sides and 60 digits long.
    let number = alice.client.safety_number(&bob.id()).await.unwrap();
    assert_eq!(number, bob.client.safety_number(&alice.id()).await.unwrap());
    assert_eq!(number.len(), 60);
    alice.client.verify_contact(&bob.id()).await.unwrap();
    assert!(
        alice
            .client
            .contact(&bob.id())
            .await
            .unwrap()
            .unwrap()
            .verified
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_five_with_an_add_and_a_remove() {
    let server = Server::start(&[]);
    let mut people = Vec::new();
    for _ in 0..5 {
        people.push(Person::new(&server).await);
    }
    let (a, b, c, d, e) = (&people[0], &people[1], &people[2], &people[3], &people[4]);
    let group = a
        .client
        .create_group(&[&b.id(), &c.id(), &d.id()])
        .await
        .unwrap();
    assert_eq!(group.members.len(), 4);
    let gid = group.group_id.clone();
    let sent = a
        .client
        .send_group_text(&gid, "welcome, four of us")
        .await
        .unwrap();
    for member in [b, c, d] {
        let new = member.read_messages().await;
        assert_eq!(new.len(), 2);
        // First A's sealed announcement of who is in the group, then the text.
        assert!(
            matches!(&new[0].content, glyph_client::Content::Group(update)
                if update.members == group.members && update.added.len() == 3),
            "{:?}",
            new[0].content
        );
        assert_eq!(new[1].content.summary(), "welcome, four of us");
        assert_eq!(new[1].conversation, Conversation::Group(gid.clone()));
        assert_eq!(
            new[1].client_id, sent.client_id,
            "one message, one client id"
        );
    }
    assert!(e.read().await.is_empty());

    // B adds E. A's kept roster is now stale: the server answers A's next
    // send with 409, and A refreshes the roster and retries on its own.
    b.client.add_to_group(&gid, &e.id()).await.unwrap();
    assert_eq!(
        a.client.roster(&gid, false).await.unwrap().len(),
        4,
        "A has not seen the change"
    );
    a.client.send_group_text(&gid, "five now").await.unwrap();
    assert_eq!(
        a.client.roster(&gid, false).await.unwrap().len(),
        5,
        "refreshed on the 409"
    );
    assert_eq!(e.read().await, ["five now"]);
    b.client.send_group_text(&gid, "hi e").await.unwrap();
    a.client.remove_from_group(&gid, &c.id()).await.unwrap();
    a.client.send_group_text(&gid, "c has left").await.unwrap();

    assert_eq!(e.read().await, ["hi e", "c has left"]);
    assert_eq!(
        c.read().await,
        ["five now", "hi e"],
        "removed members get nothing more"
    );
    assert_eq!(d.read().await, ["five now", "hi e", "c has left"]);
    assert_eq!(a.read().await, ["hi e"]);
    // Each group message is in the group's history once. (Messages sent in
    // the same second may be listed in the order this device saw them.)
    let mut history = a.texts(&Conversation::Group(gid.clone())).await;
    history.sort();
    assert_eq!(
        history,
        ["c has left", "five now", "hi e", "welcome, four of us"]
    );
    // A removed member can no longer send to the group.
    let refused = c.client.send_group_text(&gid, "still here?").await;
    // (C's kept roster still lists C; the server refuses a non-member.)
    assert!(
        matches!(refused, Err(ClientError::Api { status: 404, .. })),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_restored_from_the_words_is_the_same_person_from_now_on() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    alice.client.send_text(&bob.id(), "one").await.unwrap();
    assert_eq!(bob.read().await, ["one"]);

    // The same words (any case) on a new device: the same identity, linked
    // beside the first; it starts with an empty history.
    let dir = tempfile::tempdir().unwrap();
    let restored = Client::restore(
        &dir.path().join("p"),
        "another pin",
        &server.url,
        &alice.words.to_uppercase(),
    )
    .await
    .unwrap();
    assert_eq!(restored.user_id(), alice.id());
    assert_eq!(restored.safety_code(), alice.client.safety_code());
    assert_ne!(restored.device_id(), alice.client.device_id());
    assert!(
        restored
            .history(&Conversation::Peer(bob.id()))
            .await
            .unwrap()
            .is_empty()
    );

    // Bob's safety number for Alice is unchanged; both her devices talk.
    let number = bob.client.safety_number(&alice.id()).await.unwrap();
    restored.send_text(&bob.id(), "new phone").await.unwrap();
    assert_eq!(bob.read().await, ["new phone"]);
    assert_eq!(bob.client.safety_number(&alice.id()).await.unwrap(), number);
    bob.client.send_text(&alice.id(), "got it").await.unwrap();
    assert_eq!(summaries(&restored.sync().await.unwrap()), ["got it"]);
    assert_eq!(alice.read().await, ["new phone", "got it"]);

    // Wrong words and wrong PINs are clear errors.
    let bad = Client::restore(&dir.path().join("q"), "pin", &server.url, "abandon abandon").await;
    assert!(matches!(bad, Err(ClientError::Mnemonic(_))), "{bad:?}");
    let wrong = Client::open(&alice.profile, "not the pin").await;
    assert!(matches!(wrong, Err(ClientError::WrongPin)), "{wrong:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_prekeys_are_topped_up_when_the_server_runs_low() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    assert_eq!(
        alice.client.api().prekey_count().await.unwrap().one_time,
        100
    );
    // 80 first contacts (here, bundles fetched by Bob) use up 80 prekeys.
    for _ in 0..80 {
        let bundle = bob
            .client
            .api()
            .device_bundle(&alice.id(), alice.client.device_id())
            .await
            .unwrap();
        assert!(bundle.bundle.opk.is_some());
    }
    assert_eq!(
        alice.client.api().prekey_count().await.unwrap().one_time,
        20
    );
    alice.client.sync().await.unwrap();
    assert_eq!(
        alice.client.api().prekey_count().await.unwrap().one_time,
        100,
        "topped up"
    );
    // A message built on one of the old prekeys still opens.
    bob.client
        .send_text(&alice.id(), "on an old prekey")
        .await
        .unwrap();
    assert_eq!(alice.read().await, ["on an old prekey"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_on_a_rotated_out_signed_prekey_still_opens() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let before = alice
        .client
        .api()
        .prekey_count()
        .await
        .unwrap()
        .signed_prekey_id;
    // Bob writes (X3DH on Alice's current signed prekey) while Alice is away;
    // Alice rotates before she reads: the old key is kept for messages in flight.
    bob.client
        .send_text(&alice.id(), "sent before the rotation")
        .await
        .unwrap();
    alice.client.rotate_signed_prekey().await.unwrap();
    let after = alice
        .client
        .api()
        .prekey_count()
        .await
        .unwrap()
        .signed_prekey_id;
    assert_ne!(before, after, "the server hands out the new one");
    assert_eq!(alice.read().await, ["sent before the rotation"]);
    // New first contacts use the new key.
    let carol = Person::new(&server).await;
    carol
        .client
        .send_text(&alice.id(), "on the new key")
        .await
        .unwrap();
    assert_eq!(alice.read().await, ["on the new key"]);
    // The window is the last five signed prekeys: a first message written on
    // a key rotated out five times since cannot open any more.
    let dave = Person::new(&server).await;
    dave.client
        .send_text(&alice.id(), "far too late")
        .await
        .unwrap();
    for _ in 0..5 {
        alice.client.rotate_signed_prekey().await.unwrap();
    }
    let late = alice.read_messages().await;
    assert_eq!(late.len(), 1);
    assert!(
        late[0].content.summary().contains("could not decrypt"),
        "{late:?}"
    );
}
