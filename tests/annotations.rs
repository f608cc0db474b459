//! Receipts, reactions, edits and deletes (spec section 5) over the real
//! server: each applied to the message it names, on every device of every
//! member; an edit or delete from anyone but the message's sender ignored;
//! receipts sent unless the profile turns them off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use glyph_client::{Content, Conversation, Message, ReceiptKind, SendOptions};

/// A person whose profile sends receipts (the default of a real profile).
async fn with_receipts(server: &Server) -> Person {
    let person = Person::new(server).await;
    person.client.set_receipts(true).await.unwrap();
    person
}

/// The stored copy of the message with this sealed id, as `who` sees it.
async fn copy_of(who: &Person, conversation: &Conversation, client_id: &str) -> Message {
    who.client
        .history(conversation)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.client_id == client_id)
        .unwrap_or_else(|| panic!("no message {client_id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_say_delivered_then_read_and_can_be_turned_off() {
    let server = Server::start(&[]);
    let alice = with_receipts(&server).await;
    let bob = with_receipts(&server).await;
    let to_bob = Conversation::Peer(bob.id());
    let sent = alice
        .client
        .send_text(&bob.id(), "did you get this?")
        .await
        .unwrap();
    assert!(
        copy_of(&alice, &to_bob, &sent.client_id)
            .await
            .annotations
            .receipts
            .is_empty()
    );

    // Bob's device receives it: a delivery receipt goes back.
    assert_eq!(bob.read().await, ["did you get this?"]);
    let receipts = alice.read_messages().await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert!(matches!(
        receipts[0].content,
        Content::Receipt {
            kind: ReceiptKind::Delivered,
            ..
        }
    ));
    assert_eq!(
        receipts[0].local_id, sent.local_id,
        "it names the message it is about"
    );
    let mine = copy_of(&alice, &to_bob, &sent.client_id).await;
    assert_eq!(
        mine.annotations.receipts.get(&bob.id()),
        Some(&ReceiptKind::Delivered)
    );

    // A receipt is kept under a number of its own, which is not a message
    // to react to or delete.
    let mut refused = 0;
    for local_id in 1..=sent.local_id + 4 {
        if let Ok(stored) = alice.client.message(local_id).await
            && stored.content.is_annotation()
        {
            assert!(alice.client.react(local_id, "👍").await.is_err());
            assert!(alice.client.delete_message(local_id).await.is_err());
            refused += 1;
        }
    }
    assert!(refused >= 1, "the receipt is stored");

    // Bob opens the conversation: read.
    let from_alice = Conversation::Peer(alice.id());
    assert_eq!(bob.client.mark_read(&from_alice).await.unwrap(), 1);
    assert_eq!(bob.client.mark_read(&from_alice).await.unwrap(), 0, "once");
    alice.read_messages().await;
    let mine = copy_of(&alice, &to_bob, &sent.client_id).await;
    assert_eq!(
        mine.annotations.receipts.get(&bob.id()),
        Some(&ReceiptKind::Read)
    );
    // A late "delivered" never undoes "read".
    assert!(
        copy_of(&bob, &from_alice, &sent.client_id)
            .await
            .annotations
            .read
    );

    // Bob turns receipts off: Alice learns nothing more.
    bob.client.set_receipts(false).await.unwrap();
    let quiet = alice
        .client
        .send_text(&bob.id(), "and this?")
        .await
        .unwrap();
    assert_eq!(bob.read().await, ["and this?"]);
    bob.client.mark_read(&from_alice).await.unwrap();
    assert!(alice.read_messages().await.is_empty());
    assert!(
        copy_of(&alice, &to_bob, &quiet.client_id)
            .await
            .annotations
            .receipts
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_edits_and_deletes_reach_everyone_in_a_group() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let carol = Person::new(&server).await;
    let (alice_laptop, _dir) = alice.restored_at(&server.url).await;
    let group = alice
        .client
        .create_group(&[&bob.id(), &carol.id()])
        .await
        .unwrap();
    let gid = Conversation::Group(group.group_id.clone());
    let sent = alice
        .client
        .send_group_text(&group.group_id, "dinner at 8?")
        .await
        .unwrap();
    for person in [&bob, &carol] {
        assert_eq!(person.read().await, ["dinner at 8?"]);
    }
    alice_laptop.sync().await.unwrap();

    // Bob reacts, changes his mind, Carol reacts too.
    let bobs_copy = copy_of(&bob, &gid, &sent.client_id).await;
    bob.client.react(bobs_copy.local_id, "👍").await.unwrap();
    bob.client.react(bobs_copy.local_id, "🎉").await.unwrap();
    let carols_copy = copy_of(&carol, &gid, &sent.client_id).await;
    carol
        .client
        .react(carols_copy.local_id, "👀")
        .await
        .unwrap();
    carol.read().await;
    bob.read().await;
    alice.read_messages().await;
    alice_laptop.sync().await.unwrap();
    for (who, history) in [
        ("alice", alice.client.history(&gid).await.unwrap()),
        ("alice's laptop", alice_laptop.history(&gid).await.unwrap()),
        ("bob", bob.client.history(&gid).await.unwrap()),
        ("carol", carol.client.history(&gid).await.unwrap()),
    ] {
        let message = history
            .iter()
            .find(|m| m.client_id == sent.client_id)
            .unwrap();
        let reactions: Vec<(&str, &str)> = message
            .annotations
            .reactions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut expected = [(bob.id(), "🎉"), (carol.id(), "👀")];
        expected.sort();
        let expected: Vec<(&str, &str)> = expected.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(reactions, expected, "{who}");
    }
    // Bob takes his back.
    bob.client.react(bobs_copy.local_id, "").await.unwrap();
    carol.read().await;
    let seen = copy_of(&carol, &gid, &sent.client_id).await;
    assert_eq!(seen.annotations.reactions.len(), 1);

    // Alice edits, from her laptop: everyone sees the new text.
    let on_laptop = alice_laptop
        .history(&gid)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.client_id == sent.client_id)
        .unwrap();
    alice_laptop
        .edit_message(on_laptop.local_id, "dinner at 9?")
        .await
        .unwrap();
    for person in [&bob, &carol, &alice] {
        person.read_messages().await;
        let edited = copy_of(person, &gid, &sent.client_id).await;
        assert_eq!(edited.content.summary(), "dinner at 9?");
        assert!(edited.annotations.edited_at.is_some());
    }
    // Only a sender's own text can be edited.
    let bobs_copy = copy_of(&bob, &gid, &sent.client_id).await;
    assert!(
        bob.client
            .edit_message(bobs_copy.local_id, "mine now")
            .await
            .is_err()
    );

    // Alice deletes it for everyone.
    let alices = copy_of(&alice, &gid, &sent.client_id).await;
    alice.client.delete_message(alices.local_id).await.unwrap();
    assert_eq!(
        alice.client.message(alices.local_id).await.unwrap().content,
        Content::Deleted
    );
    for person in [&bob, &carol] {
        person.read_messages().await;
        let gone = copy_of(person, &gid, &sent.client_id).await;
        assert_eq!(gone.content, Content::Deleted);
        assert!(gone.annotations.reactions.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_or_delete_by_anyone_but_the_sender_is_ignored() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let mallory = Person::new(&server).await;
    let group = alice
        .client
        .create_group(&[&bob.id(), &mallory.id()])
        .await
        .unwrap();
    let gid = Conversation::Group(group.group_id.clone());
    let sent = alice
        .client
        .send_group_text(&group.group_id, "the plan is A")
        .await
        .unwrap();
    bob.read().await;
    mallory.read().await;

    // Mallory, a member, sends an edit and a delete naming Alice's message
    // (her client would not; she crafts them).
    let forged_edit = Content::Edit {
        target: sent.client_id.clone(),
        body: "the plan is B".into(),
    };
    let forged_delete = Content::Delete {
        target: sent.client_id.clone(),
    };
    for content in [forged_edit, forged_delete] {
        mallory
            .client
            .send(&gid, content, SendOptions::default())
            .await
            .unwrap();
    }
    // The same sent to Bob directly, where the target is not in the
    // conversation either.
    let direct = Content::Delete {
        target: sent.client_id.clone(),
    };
    mallory
        .client
        .send(
            &Conversation::Peer(bob.id()),
            direct,
            SendOptions::default(),
        )
        .await
        .unwrap();
    let received = bob.read_messages().await;
    assert!(received.is_empty(), "nothing was applied: {received:?}");
    let untouched = copy_of(&bob, &gid, &sent.client_id).await;
    assert_eq!(untouched.content.summary(), "the plan is A");
    assert!(untouched.annotations.edited_at.is_none());
    // Alice's own edit still works afterwards.
    let alices = copy_of(&alice, &gid, &sent.client_id).await;
    alice
        .client
        .edit_message(alices.local_id, "the plan is A, confirmed")
        .await
        .unwrap();
    bob.read().await;
    assert_eq!(
        copy_of(&bob, &gid, &sent.client_id).await.content.summary(),
        "the plan is A, confirmed"
    );
}
