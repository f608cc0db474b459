//! A lying server: for each claim of the server that the client can check
//! (docs/client.md, "What the client trusts the server for"), a test where
//! the server lies, showing the lie refused or harmless. The server is
//! real; a proxy in front of it (`common/proxy.rs`) rewrites what one
//! client is told, or answers in its place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use common::proxy::LyingProxy;
use common::*;
use glyph_api::{MessageCopy, SendRequest};
use glyph_client::{ClientError, Content, Conversation, Refusal};
use serde_json::{Value, json};

/// A text content's sealed bytes.
fn text(body: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": "text", "body": body})).unwrap()
}

/// `from` posts `envelope` to device `device` of `to` as itself, bypassing
/// its client (the server stores any JSON object it is given).
async fn post_raw(from: &Person, to: &str, device: u32, envelope: Value, client_id: &str) {
    let request = SendRequest {
        client_id: client_id.to_owned(),
        copies: vec![MessageCopy {
            recipient: to.to_owned(),
            device_id: device,
            envelope,
            self_copy: None,
            group_id: None,
            expires_at: None,
            view_once: false,
            media_path: None,
        }],
    };
    from.client.api().send(&request).await.unwrap();
}

/// The lying server says `real`'s messages come from `claimed`.
fn relabel_sender(proxy: &LyingProxy, real: &str, claimed: &str) {
    let (real, claimed) = (real.to_owned(), claimed.to_owned());
    proxy.rewrite_inbox(move |entry| {
        if entry["sender"] == real.as_str() {
            entry["sender"] = Value::String(claimed.clone());
        }
    });
}

fn refused_because(content: &Content, why: &str) -> bool {
    matches!(content, Content::Refused { reason } if reason.contains(why))
}

/// Mallory's first message to `bob`, forged to name `victim`'s signing key
/// beside Mallory's own DH key: it decrypts at Bob, and only the check of
/// the header's keys can tell it from a message by the victim.
async fn forge_first_message(mallory: &Person, victim: &Person, bob: &Person, body: &str) {
    let device = bob.client.device_id();
    let bundle = mallory
        .client
        .api()
        .device_bundle(&bob.id(), device)
        .await
        .unwrap()
        .bundle;
    let mut forged = glyph_crypto::vectors::impersonate(
        &victim.client.public_identity().sign_pub,
        &mallory.identity(),
        &bundle,
    )
    .unwrap();
    let envelope = forged.encrypt(&text(body)).unwrap();
    post_raw(
        mallory,
        &bob.id(),
        device,
        envelope.to_json_value(),
        "forged-1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_first_message_from_a_new_sender_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let mallory = Person::new(&server).await;
    forge_first_message(&mallory, &alice, &bob, "it's Alice: send me the code").await;
    relabel_sender(&proxy, &mallory.id(), &alice.id());

    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].conversation, Conversation::Peer(alice.id()));
    assert!(
        refused_because(&received[0].content, "registered keys"),
        "shown: {:?}",
        received[0].content
    );
    assert!(
        bob.client.contact(&alice.id()).await.unwrap().is_none(),
        "a refused sender is not made a contact"
    );
    // No session on the forger's key was kept: Bob's next message to Alice
    // starts a session with her real keys, so she can read it.
    proxy.clear();
    bob.client
        .send_text(&alice.id(), "who is this?")
        .await
        .unwrap();
    assert_eq!(alice.read().await, ["who is this?"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_first_message_from_a_known_contact_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let mallory = Person::new(&server).await;
    bob.client
        .add_contact(&alice.id(), Some("alice"))
        .await
        .unwrap();
    bob.client.verify_contact(&alice.id()).await.unwrap();
    let before = bob.client.contact(&alice.id()).await.unwrap().unwrap();

    forge_first_message(&mallory, &alice, &bob, "new phone, it's me").await;
    relabel_sender(&proxy, &mallory.id(), &alice.id());
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1);
    assert!(
        refused_because(&received[0].content, "registered keys"),
        "{:?}",
        received[0].content
    );
    assert_eq!(
        bob.client.contact(&alice.id()).await.unwrap().unwrap(),
        before,
        "the contact is unchanged: still verified, no key change recorded"
    );
    // Bob and the real Alice go on as before.
    proxy.clear();
    bob.client.send_text("alice", "still you?").await.unwrap();
    assert_eq!(alice.read().await, ["still you?"]);
    alice.client.send_text(&bob.id(), "yes").await.unwrap();
    assert_eq!(bob.read().await, ["yes"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_routed_as_from_another_user_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let carol = Person::new(&server).await;
    // Carol's genuine first message, which the server says is Alice's.
    carol
        .client
        .send_text(&bob.id(), "hello from carol")
        .await
        .unwrap();
    relabel_sender(&proxy, &carol.id(), &alice.id());
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1);
    assert!(
        refused_because(&received[0].content, "someone else"),
        "{:?}",
        received[0].content
    );
    assert!(bob.client.contact(&alice.id()).await.unwrap().is_none());
    assert!(bob.client.contact(&carol.id()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_message_routed_as_from_another_user_does_not_open() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let carol = Person::new(&server).await;
    alice.client.send_text(&bob.id(), "hi bob").await.unwrap();
    carol
        .client
        .send_text(&bob.id(), "hi from carol")
        .await
        .unwrap();
    assert_eq!(bob.read().await, ["hi bob", "hi from carol"]);
    bob.client.send_text(&alice.id(), "hi alice").await.unwrap();
    assert_eq!(alice.read().await, ["hi alice"]);
    // Alice's next message (no header now) is said to be Carol's: it is
    // tried on Bob's sessions with Carol, and opens on none of them.
    alice
        .client
        .send_text(&bob.id(), "for bob, from alice")
        .await
        .unwrap();
    relabel_sender(&proxy, &alice.id(), &carol.id());
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1);
    assert!(
        matches!(received[0].content, Content::Undecryptable { .. }),
        "shown as Carol's: {:?}",
        received[0].content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_first_message_is_refused_after_its_session_is_gone() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice_proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&alice_proxy.url).await;
    let bob = Person::new_at(&proxy.url).await;
    // No one-time prekey in the bundle: nothing at Bob is used up by the
    // handshake, so only Bob's memory of the header stops a replay.
    alice_proxy.rewrite_json(Method::GET, "/v1/users/", |bundle| {
        if bundle.get("spk_id").is_some() {
            bundle["opk_id"] = Value::Null;
            bundle["opk_pub"] = Value::Null;
        }
    });
    alice.client.send_text(&bob.id(), "pay 100").await.unwrap();
    // The lying server keeps Alice's first envelope...
    let captured = Arc::new(Mutex::new(None::<Value>));
    let keep = captured.clone();
    proxy.rewrite_inbox(move |entry| {
        if entry["payload"]["x3dh"].is_object() && keep.lock().unwrap().is_none() {
            *keep.lock().unwrap() = Some(entry["payload"].clone());
        }
    });
    assert_eq!(bob.read().await, ["pay 100"]);
    proxy.clear();
    // ...while Alice replaces that device with a new one: once Bob sees
    // her new list, he forgets the old device's session.
    let (laptop, _dir) = alice.restored_at(&server.url).await;
    laptop
        .remove_device(alice.client.device_id())
        .await
        .unwrap();
    bob.client.send_text(&alice.id(), "noted").await.unwrap();
    // ...and hands the first message to Bob again, as the old device's,
    // in place of a later message.
    laptop.send_text(&bob.id(), "marker").await.unwrap();
    let replay = captured.lock().unwrap().clone().unwrap();
    let old_device = alice.client.device_id();
    proxy.rewrite_inbox(move |entry| {
        entry["payload"] = replay.clone();
        entry["sender_device"] = json!(old_device);
    });
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1);
    assert!(
        refused_because(&received[0].content, "replay"),
        "{:?}",
        received[0].content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_later_message_is_shown_once() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    alice.client.send_text(&bob.id(), "first").await.unwrap();
    assert_eq!(bob.read().await, ["first"]);
    bob.client.send_text(&alice.id(), "ok").await.unwrap();
    assert_eq!(alice.read().await, ["ok"]);
    alice
        .client
        .send_text(&bob.id(), "once only")
        .await
        .unwrap();
    let captured = Arc::new(Mutex::new(None::<Value>));
    let keep = captured.clone();
    let alice_id = alice.id();
    proxy.rewrite_inbox(move |entry| {
        if entry["sender"] == alice_id.as_str() {
            keep.lock().unwrap().get_or_insert(entry["payload"].clone());
        }
    });
    assert_eq!(bob.read().await, ["once only"]);
    proxy.clear();
    // The server serves the same envelope again under a new id and place
    // (instead of Alice's next message), and every entry twice.
    alice.client.send_text(&bob.id(), "marker").await.unwrap();
    let replay = captured.lock().unwrap().clone().unwrap();
    proxy.rewrite_inbox(move |entry| {
        entry["payload"] = replay.clone();
        entry["client_id"] = json!("fresh-id");
    });
    proxy.rewrite_json(Method::GET, "/v1/messages", |page| {
        if let Some(entries) = page["messages"].as_array_mut() {
            let again = entries.clone();
            entries.extend(again);
        }
    });
    assert!(bob.read().await.is_empty(), "nothing is shown twice");
    let history = bob.texts(&Conversation::Peer(alice.id())).await;
    assert_eq!(
        history.iter().filter(|t| *t == "once only").count(),
        1,
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_direction_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let (restored, _dir) = bob.restored_at(&proxy.url).await;
    alice.client.send_text(&bob.id(), "to bob").await.unwrap();
    bob.client.send_text(&alice.id(), "from bob").await.unwrap();
    // On Bob's other device, his own sent copy comes back as "in" and
    // Alice's message as "out".
    proxy.rewrite_inbox(|entry| {
        let flipped = if entry["direction"] == "in" {
            "out"
        } else {
            "in"
        };
        entry["direction"] = json!(flipped);
    });
    restored.sync().await.unwrap();
    let history = restored
        .history(&Conversation::Peer(bob.id()))
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    for message in &history {
        assert!(
            refused_because(&message.content, "not seal"),
            "{:?}",
            message.content
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_bundle_is_refused_before_anything_is_sent() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let (bob, bob2, bob3) = (
        Person::new(&server).await,
        Person::new(&server).await,
        Person::new(&server).await,
    );
    let carol = Person::new(&server).await;
    let bundle_of = |p: &Person| {
        format!(
            "/v1/users/{}/devices/{}/bundle",
            p.id(),
            p.client.device_id()
        )
    };

    // Bob's bundle with Carol's DH key beside his signing key: a key change.
    let carol_dh = carol.client.public_identity().dh_pub.to_base64();
    proxy.rewrite_json(Method::GET, &bundle_of(&bob), move |bundle| {
        bundle["dh_pub"] = json!(carol_dh);
    });
    let sent = alice.client.send_text(&bob.id(), "secret").await;
    assert!(matches!(sent, Err(ClientError::KeyChanged(_))), "{sent:?}");

    // Bob2's bundle with a signed prekey his identity did not sign.
    let fake_spk = glyph_crypto::DhKeyPair::generate()
        .unwrap()
        .public()
        .to_base64();
    proxy.rewrite_json(Method::GET, &bundle_of(&bob2), move |bundle| {
        bundle["spk_pub"] = json!(fake_spk);
    });
    let sent = alice.client.send_text(&bob2.id(), "secret").await;
    assert!(
        matches!(
            sent,
            Err(ClientError::Crypto(glyph_crypto::Error::BadSignature))
        ),
        "{sent:?}"
    );

    // Carol's whole (valid) bundle handed out as Bob3's.
    let mut carols = alice
        .client
        .api()
        .device_bundle(&carol.id(), carol.client.device_id())
        .await
        .unwrap()
        .to_json_value();
    carols["device_id"] = json!(bob3.client.device_id());
    proxy.answer(Method::GET, &bundle_of(&bob3), move |_| {
        Some((200, carols.clone()))
    });
    let sent = alice.client.send_text(&bob3.id(), "secret").await;
    assert!(matches!(sent, Err(ClientError::BadBinding(_))), "{sent:?}");
    for person in [&bob, &bob2, &bob3] {
        assert!(person.read().await.is_empty(), "nothing was delivered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_record_with_swapped_keys_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    let carol = Person::new(&server).await;
    let carol_dh = carol.client.public_identity().dh_pub.to_base64();
    proxy.rewrite_json(
        Method::GET,
        &format!("/v1/users/{}", bob.id()),
        move |record| {
            record["dh_pub"] = json!(carol_dh);
        },
    );
    let added = alice.client.add_contact(&bob.id(), None).await;
    assert!(
        matches!(added, Err(ClientError::BadBinding(_))),
        "{added:?}"
    );
    assert!(alice.client.contact(&bob.id()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relabelled_self_copy_is_filed_by_what_was_sealed() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let carol = Person::new(&server).await;
    let (restored, _dir) = alice.restored_at(&proxy.url).await;
    alice
        .client
        .send_text(&bob.id(), "for bob only")
        .await
        .unwrap();
    let carol_id = carol.id();
    proxy.rewrite_inbox(move |entry| entry["recipient"] = json!(carol_id));
    restored.sync().await.unwrap();
    let with_bob = restored
        .history(&Conversation::Peer(bob.id()))
        .await
        .unwrap();
    assert_eq!(with_bob.len(), 1);
    assert_eq!(with_bob[0].content.summary(), "for bob only");
    assert!(with_bob[0].warning.is_some(), "the lie is pointed out");
    assert!(
        restored
            .history(&Conversation::Peer(carol.id()))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_group_id_is_filed_by_what_was_sealed() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let carol = Person::new(&server).await;
    let group = alice
        .client
        .create_group(&[&bob.id(), &carol.id()])
        .await
        .unwrap();
    let other = alice.client.create_group(&[&bob.id()]).await.unwrap();
    assert!(bob.read().await.is_empty(), "announcements are not texts");
    alice
        .client
        .send_group_text(&group.group_id, "for the three of us")
        .await
        .unwrap();
    alice
        .client
        .send_group_text(&group.group_id, "me too")
        .await
        .unwrap();
    // The first is filed as a direct message, the second under the other group.
    let other_id = other.group_id.clone();
    let mut count = 0;
    proxy.rewrite_inbox(move |entry| {
        count += 1;
        entry["group_id"] = if count == 1 {
            Value::Null
        } else {
            json!(other_id)
        };
    });
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 2);
    for message in &received {
        assert_eq!(
            message.conversation,
            Conversation::Group(group.group_id.clone())
        );
        assert!(message.warning.is_some(), "{message:?}");
    }
    assert!(bob.texts(&Conversation::Peer(alice.id())).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_with_an_extra_member_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    let mallory = Person::new(&server).await;
    let group = alice.client.create_group(&[&bob.id()]).await.unwrap();
    let gid = group.group_id.clone();
    // The server now lists Mallory as a member (no member added her), and
    // refuses sends that leave her out.
    let m = mallory.id();
    proxy.rewrite_json(Method::GET, &format!("/v1/groups/{gid}"), move |roster| {
        roster["members"].as_array_mut().unwrap().push(json!(m));
    });
    let m = mallory.id();
    let g = gid.clone();
    proxy.answer(Method::POST, "/v1/messages", move |request| {
        let to_group = request["copies"][0]["group_id"] == g.as_str();
        let covers = request["copies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["recipient"] == m.as_str());
        (to_group && !covers).then(|| {
            (
                409,
                json!({"error": {"code": "roster_mismatch", "message": "roster changed",
                                 "details": {"missing": [m.clone()], "extra": []}}}),
            )
        })
    });
    let sent = alice.client.send_group_text(&gid, "secret plans").await;
    assert!(
        matches!(&sent, Err(ClientError::Refused(Refusal::UnconfirmedMembers(who))) if *who == [mallory.id()]),
        "{sent:?}"
    );
    assert_eq!(
        alice.client.unconfirmed_members(&gid).await.unwrap(),
        [mallory.id()]
    );
    assert!(mallory.read().await.is_empty(), "nothing reached Mallory");
    assert!(bob.read().await.is_empty(), "and nothing went out at all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_view_once_flag_changes_nothing() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let to_bob = Conversation::Peer(bob.id());
    alice
        .client
        .send_media(&to_bob, "photo.jpg", &[7u8; 5000], true, None)
        .await
        .unwrap();
    proxy.rewrite_inbox(|entry| {
        entry["view_once"] = json!(false);
        entry["media_path"] = Value::Null;
    });
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1);
    assert!(received[0].warning.is_some());
    let Content::Media(descriptor) = &received[0].content else {
        panic!("{:?}", received[0].content)
    };
    assert!(descriptor.view_once, "the sealed flag stands");
    let (_, file) = bob
        .client
        .open_media(received[0].local_id, None)
        .await
        .unwrap();
    assert_eq!(file, [7u8; 5000]);
    let again = bob.client.open_media(received[0].local_id, None).await;
    assert!(
        matches!(again, Err(ClientError::AlreadyViewed)),
        "{again:?}"
    );
    // The view was reported (the server's own flag was never changed), so
    // the blob is gone for everyone.
    let gone = alice
        .client
        .api()
        .download_media(&descriptor.path, 1 << 20, None)
        .await;
    assert!(
        matches!(gone, Err(ClientError::Api { status: 410, .. })),
        "{gone:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_expiry_still_expires() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let options = glyph_client::SendOptions {
        expires_in: Some(4),
        ..Default::default()
    };
    alice
        .client
        .send(
            &Conversation::Peer(bob.id()),
            Content::Text {
                body: "gone soon".into(),
            },
            options,
        )
        .await
        .unwrap();
    proxy.rewrite_inbox(|entry| entry["expires_at"] = Value::Null);
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 1);
    assert!(received[0].expires_at.is_some(), "the sealed expiry stands");
    assert!(received[0].warning.is_some());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        bob.texts(&Conversation::Peer(alice.id())).await.is_empty(),
        "it disappeared anyway"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_blob_is_caught() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let to_bob = Conversation::Peer(bob.id());
    alice
        .client
        .send_media(&to_bob, "report.pdf", &[1u8; 3000], false, None)
        .await
        .unwrap();
    let received = bob.read_messages().await;
    proxy.rewrite_bytes(Method::GET, "/v1/media/", |blob| {
        if let Some(byte) = blob.get_mut(10) {
            *byte ^= 1;
        }
    });
    let opened = bob.client.open_media(received[0].local_id, None).await;
    assert!(
        matches!(opened, Err(ClientError::Crypto(_) | ClientError::Integrity)),
        "{opened:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_user_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    let bob_id = bob.id();
    proxy.rewrite_json(Method::POST, "/v1/auth/token", move |token| {
        token["user_id"] = json!(bob_id);
    });
    let login = alice.client.api().login().await;
    assert!(
        matches!(login, Err(ClientError::BadResponse(_))),
        "{login:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_link_points_at_the_server_it_was_made_on() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    proxy.rewrite_json(Method::POST, "/v1/shares", |created| {
        let code = created["code"].as_str().unwrap().to_owned();
        created["url"] = json!(format!("https://evil.example/s/{code}"));
    });
    let (link, _) = glyph_client::create_share(&proxy.url, b"hunter2", 1, 60)
        .await
        .unwrap();
    assert!(
        link.to_url().starts_with(&format!("{}/s/", proxy.url)),
        "{}",
        link.to_url()
    );
    // A relay that alters the blob it hands back is caught by the key in
    // the link, and its count of views left is only shown.
    proxy.clear();
    proxy.rewrite_json(Method::POST, "/v1/shares/", |opened| {
        // One ciphertext character changed (still canonical base64).
        let mut blob: Vec<char> = opened["blob"].as_str().unwrap().chars().collect();
        blob[20] = if blob[20] == 'A' { 'B' } else { 'A' };
        opened["blob"] = json!(blob.into_iter().collect::<String>());
        opened["views_left"] = json!(99);
    });
    let (second, _) = glyph_client::create_share(&proxy.url, b"AAAA secret AAAA", 2, 60)
        .await
        .unwrap();
    let tampered = glyph_client::open_share(&second.to_url()).await;
    assert!(
        matches!(tampered, Err(ClientError::Crypto(_))),
        "{tampered:?}"
    );
    proxy.clear();
    let (secret, _) = glyph_client::open_share(&link.to_url()).await.unwrap();
    assert_eq!(secret, b"hunter2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_pointed_elsewhere_does_not_redirect_a_contact() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    let mallory = Person::new(&server).await;
    bob.client.set_handle("bob").await.unwrap();
    alice.client.add_contact("@bob", None).await.unwrap();
    // The directory now says @bob is Mallory.
    let record = alice.client.api().user(&mallory.id()).await.unwrap().0;
    let mut record = serde_json::to_value(record).unwrap();
    record["handle"] = json!("bob");
    proxy.answer(Method::GET, "/v1/handles/", move |_| {
        Some((200, record.clone()))
    });
    alice.client.send_text("@bob", "hi bob").await.unwrap();
    assert_eq!(bob.read().await, ["hi bob"]);
    assert!(mallory.read().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_prekey_count_is_harmless() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    // The server has none of Alice's one-time prekeys left, and says it
    // has plenty, so she does not top up.
    alice.client.api().clear_one_time_prekeys().await.unwrap();
    proxy.rewrite_json(Method::GET, "/v1/prekeys/count", |count| {
        count["one_time"] = json!(1000);
    });
    alice.client.sync().await.unwrap();
    proxy.clear();
    assert_eq!(alice.client.api().prekey_count().await.unwrap().one_time, 0);
    // First contact still works, without a one-time prekey.
    bob.client.send_text(&alice.id(), "hello").await.unwrap();
    assert_eq!(alice.read().await, ["hello"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_media_allowance_is_harmless() {
    let server = Server::start(&["--media-quota-bytes", "4000"]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    proxy.rewrite_json(Method::GET, "/v1/media", |usage| {
        usage["quota_bytes"] = json!(1u64 << 40);
    });
    let sent = alice
        .client
        .send_media(
            &Conversation::Peer(bob.id()),
            "big.bin",
            &[0u8; 10_000],
            false,
            None,
        )
        .await;
    assert!(sent.is_err(), "the server still enforces its quota");
    assert!(bob.read().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_shows_a_forged_message_as_refused_and_exits_8() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let mallory = Person::new(&server).await;
    let profile = tempfile::tempdir().unwrap();
    let glyph = |args: &[&str]| {
        std::process::Command::new(glyph_program())
            .args(args)
            .env("GLYPH_PROFILE", profile.path().join("bob"))
            .env("GLYPH_SERVER", &proxy.url)
            .env("GLYPH_PIN", PIN)
            .output()
            .unwrap()
    };
    assert!(glyph(&["init"]).status.success());
    let whoami = String::from_utf8(glyph(&["whoami"]).stdout).unwrap();
    let bob_id = whoami
        .lines()
        .find_map(|l| l.strip_prefix("user id:"))
        .unwrap()
        .trim()
        .to_owned();
    let bob_device = mallory
        .client
        .api()
        .user_devices(&bob_id)
        .await
        .unwrap()
        .unwrap()
        .devices()[0];
    let bundle = mallory
        .client
        .api()
        .device_bundle(&bob_id, bob_device)
        .await
        .unwrap()
        .bundle;
    let mut forged = glyph_crypto::vectors::impersonate(
        &alice.client.public_identity().sign_pub,
        &mallory.identity(),
        &bundle,
    )
    .unwrap();
    let envelope = forged.encrypt(&text("it's Alice")).unwrap();
    post_raw(
        &mallory,
        &bob_id,
        bob_device,
        envelope.to_json_value(),
        "forged-cli",
    )
    .await;
    relabel_sender(&proxy, &mallory.id(), &alice.id());
    let read = glyph(&["read"]);
    let stdout = String::from_utf8_lossy(&read.stdout);
    let stderr = String::from_utf8_lossy(&read.stderr);
    assert_eq!(read.status.code(), Some(8), "{stdout}{stderr}");
    assert!(
        stdout.contains("[refused: keys do not match the sender's registered keys]"),
        "{stdout}"
    );
    assert!(!stdout.contains("it's Alice"), "{stdout}");
    // It stays in the history, refused, and reading again is quiet.
    let again = glyph(&["read"]);
    assert_eq!(again.status.code(), Some(0));
    let history = glyph(&["read", &alice.id()]);
    assert!(String::from_utf8_lossy(&history.stdout).contains("[refused:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sending_device_is_a_hint_that_costs_nothing() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    alice.client.send_text(&bob.id(), "first").await.unwrap();
    assert_eq!(bob.read().await, ["first"]);
    // Alice's laptop writes to Bob on a session of its own.
    let (laptop, _dir) = alice.restored_at(&server.url).await;
    laptop
        .send_text(&bob.id(), "from the laptop")
        .await
        .unwrap();
    assert_eq!(bob.read().await, ["from the laptop"]);

    // The server swaps the two devices in every entry: each message is
    // tried on the other device's sessions first, and still opens.
    let (phone_device, laptop_device) = (alice.client.device_id(), laptop.device_id());
    proxy.rewrite_inbox(move |entry| {
        let swapped = if entry["sender_device"] == json!(phone_device) {
            laptop_device
        } else {
            phone_device
        };
        entry["sender_device"] = json!(swapped);
    });
    alice
        .client
        .send_text(&bob.id(), "phone again")
        .await
        .unwrap();
    laptop.send_text(&bob.id(), "laptop again").await.unwrap();
    let received = bob.read_messages().await;
    assert_eq!(summaries(&received), ["phone again", "laptop again"]);
    assert!(received.iter().all(|m| m.warning.is_none()), "{received:?}");

    // A device Alice never listed: the message opens on its session, and
    // the lie is pointed out.
    proxy.clear();
    proxy.rewrite_inbox(|entry| entry["sender_device"] = json!(77));
    alice
        .client
        .send_text(&bob.id(), "and once more")
        .await
        .unwrap();
    let received = bob.read_messages().await;
    assert_eq!(summaries(&received), ["and once more"]);
    let warning = received[0].warning.clone().unwrap_or_default();
    assert!(
        warning.contains("not in the sender's signed device list"),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_refuses_a_swapped_key_with_exit_7() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let carol = Person::new(&server).await;
    let profile = tempfile::tempdir().unwrap();
    let glyph = |args: &[&str]| {
        std::process::Command::new(glyph_program())
            .args(args)
            .env("GLYPH_PROFILE", profile.path().join("bob"))
            .env("GLYPH_SERVER", &proxy.url)
            .env("GLYPH_PIN", PIN)
            .output()
            .unwrap()
    };
    assert!(glyph(&["init"]).status.success());
    assert!(
        glyph(&["contact", "add", &alice.id(), "--name", "alice"])
            .status
            .success()
    );
    // Alice's bundles now carry Carol's DH key (its prekey still signed).
    let carol_dh = carol.client.public_identity().dh_pub.to_base64();
    proxy.rewrite_json(
        Method::GET,
        &format!("/v1/users/{}/devices/", alice.id()),
        move |bundle| {
            bundle["dh_pub"] = json!(carol_dh);
        },
    );
    let sent = glyph(&["send", "alice", "hello"]);
    assert_eq!(
        sent.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stderr).contains("keys of alice changed"));
    assert!(alice.read().await.is_empty());
}

/// A `Retry-After` is the server's word on when to come back: the client
/// waits at most 10 s in all for one request, so an hour ends in a prompt
/// refusal and a short one repeated for ever in one after about 10 s,
/// never in a program that hangs. The message is not sent either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_retry_after_is_waited_out_only_briefly() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new_at(&proxy.url).await;
    let bob = Person::new(&server).await;
    let busy = |_: &Value| {
        Some((
            429,
            json!({"error": {"code": "rate_limited", "message": "come back later"}}),
        ))
    };
    for (retry_after, at_least, at_most) in [
        ("3600", Duration::ZERO, Duration::from_secs(3)),
        ("3", Duration::from_secs(8), Duration::from_secs(14)),
    ] {
        proxy.clear();
        proxy.answer_with_headers(
            Method::POST,
            "/v1/messages",
            vec![("retry-after", retry_after.to_owned())],
            busy,
        );
        let started = std::time::Instant::now();
        let sent = alice.client.send_text(&bob.id(), "hello?").await;
        let took = started.elapsed();
        assert!(
            matches!(sent, Err(ClientError::Api { status: 429, .. })),
            "{sent:?}"
        );
        assert!(
            took >= at_least && took <= at_most,
            "Retry-After {retry_after}: gave up after {took:?}"
        );
    }
    proxy.clear();
    assert!(bob.read().await.is_empty(), "nothing was delivered");
}
