//! Linked devices (spec section 9), end to end on each backend: Alice on
//! two and then three devices set up from the same words, at the same
//! time. Every message from Bob and every group message is read on each of
//! her devices exactly once; what she sends from one shows on the others;
//! live push reaches all of them; a view-once photo viewed on one is gone
//! on all; removing a device stops its delivery; and a server that serves
//! an older, tampered or forged device list is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::proxy::LyingProxy;
use common::*;
use glyph_client::{Client, ClientError, Content, Conversation, Refusal};
use reqwest::Method;
use serde_json::json;

/// One device of an account: its client and profile directory.
struct Device {
    client: Arc<Client>,
    _dir: tempfile::TempDir,
}

impl Device {
    /// A new account on its first device: the device and the words.
    async fn created(url: &str) -> (Self, String) {
        let dir = tempfile::tempdir().unwrap();
        let (client, words) = Client::create(&dir.path().join("p"), PIN, url)
            .await
            .unwrap();
        let device = Self {
            client: Arc::new(client),
            _dir: dir,
        };
        (device, words.phrase().to_owned())
    }

    fn id(&self) -> String {
        self.client.user_id().to_owned()
    }

    /// The account with these words, set up on a new device through `url`.
    async fn restored(url: &str, words: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::restore(&dir.path().join("p"), PIN, url, words)
            .await
            .unwrap();
        client.set_receipts(false).await.unwrap();
        Self {
            client: Arc::new(client),
            _dir: dir,
        }
    }

    /// Syncs; the texts of the new messages (no group announcements or
    /// notices).
    async fn read(&self) -> Vec<String> {
        texts(&self.client.sync().await.unwrap())
    }

    async fn texts(&self, conversation: &Conversation) -> Vec<String> {
        texts(&self.client.history(conversation).await.unwrap())
    }
}

/// What a person reads: texts and files, not announcements or notices.
fn texts(messages: &[glyph_client::Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| {
            !matches!(
                m.content,
                Content::Group(_) | Content::Notice { .. } | Content::Receipt { .. }
            )
        })
        .map(|m| m.content.summary())
        .collect()
}

/// A device receiving live, collecting what it is pushed.
struct Listening {
    seen: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ClientError>>,
}

impl Listening {
    fn start(client: &Arc<Client>) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = {
            let (client, seen) = (client.clone(), seen.clone());
            tokio::spawn(async move {
                client
                    .listen(
                        async {
                            let _ = stopped.await;
                        },
                        |m| seen.lock().unwrap().push(m.content.summary()),
                        |_| {},
                    )
                    .await
            })
        };
        Self {
            seen,
            stop: Some(stop),
            task,
        }
    }

    /// Waits (10 s at most) until `n` messages were pushed; returns them.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            if self.seen.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.seen.lock().unwrap().clone()
    }

    async fn stop(mut self) -> Result<(), ClientError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_from_the_same_words_each_read_everything_once() {
    for (backend, server) in Server::on_each_backend(&[]) {
        let (phone, words) = Device::created(&server.url).await;
        let alice = phone.id();
        let bob = Person::new(&server).await;
        let carol = Person::new(&server).await;
        let laptop = Device::restored(&server.url, &words).await;
        let ids = [phone.client.device_id(), laptop.client.device_id()];
        assert_ne!(ids[0], ids[1]);
        assert_eq!(laptop.client.user_id(), alice);
        assert_eq!(laptop.client.safety_code(), phone.client.safety_code());

        // Two devices: Bob's message reaches both, once each.
        bob.client.send_text(&alice, "one").await.unwrap();
        for device in [&phone, &laptop] {
            assert_eq!(device.read().await, ["one"], "{backend}");
            assert!(device.read().await.is_empty());
        }

        // A third device, while the other two keep working. Bob's client
        // learns of it from the server's 409 and checks the signed list.
        let pc = Device::restored(&server.url, &words).await;
        bob.client.send_text(&alice, "two").await.unwrap();
        for device in [&phone, &laptop, &pc] {
            assert_eq!(device.read().await, ["two"], "{backend}");
        }
        let bobs_view = bob
            .client
            .history(&Conversation::Peer(alice.clone()))
            .await
            .unwrap();
        let notices: Vec<String> = bobs_view
            .iter()
            .filter(|m| matches!(m.content, Content::Notice { .. }))
            .map(|m| m.content.summary())
            .collect();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("linked a new device"), "{notices:?}");
        assert!(notices[0].contains("safety number is unchanged"));

        // What Alice sends from her laptop shows on her phone and PC, and
        // reaches Bob once.
        laptop
            .client
            .send_text(&bob.id(), "from the laptop")
            .await
            .unwrap();
        assert_eq!(bob.read().await, ["from the laptop"]);
        let with_bob = Conversation::Peer(bob.id());
        for device in [&phone, &pc] {
            device.client.sync().await.unwrap();
            let history = device.client.history(&with_bob).await.unwrap();
            let last = history.last().unwrap();
            assert!(last.outgoing, "{backend}");
            assert_eq!(last.content.summary(), "from the laptop");
        }
        assert_eq!(
            phone.texts(&with_bob).await,
            ["one", "two", "from the laptop"]
        );
        assert_eq!(pc.texts(&with_bob).await, ["two", "from the laptop"]);

        // A group made on the phone: every device of Alice's learns it from
        // the phone's sealed announcement, and reads each message once.
        let group = phone
            .client
            .create_group(&[&bob.id(), &carol.id()])
            .await
            .unwrap();
        let gid = Conversation::Group(group.group_id.clone());
        bob.read().await;
        carol.read().await;
        bob.client
            .send_group_text(&group.group_id, "hello all")
            .await
            .unwrap();
        for device in [&phone, &laptop, &pc] {
            assert_eq!(device.read().await, ["hello all"], "{backend}");
        }
        assert_eq!(carol.read().await, ["hello all"]);
        pc.client
            .send_group_text(&group.group_id, "from the pc")
            .await
            .unwrap();
        assert_eq!(bob.read().await, ["from the pc"]);
        assert_eq!(carol.read().await, ["from the pc"]);
        for device in [&phone, &laptop] {
            device.client.sync().await.unwrap();
            assert_eq!(device.texts(&gid).await, ["hello all", "from the pc"]);
        }

        // Live push reaches all three at once.
        let live: Vec<Listening> = [&phone, &laptop, &pc]
            .iter()
            .map(|d| Listening::start(&d.client))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        bob.client.send_text(&alice, "live").await.unwrap();
        for listening in &live {
            assert_eq!(listening.wait_for(1).await, ["live"], "{backend}");
        }
        for listening in live {
            listening.stop().await.unwrap();
        }

        // The phone removes the PC: it gets nothing more and is told so.
        phone
            .client
            .remove_device(pc.client.device_id())
            .await
            .unwrap();
        let mine: Vec<u32> = phone
            .client
            .devices()
            .await
            .unwrap()
            .iter()
            .map(|d| d.device_id)
            .collect();
        let mut expected = ids.to_vec();
        expected.sort_unstable();
        assert_eq!(mine, expected);
        bob.client
            .send_text(&alice, "after the pc is gone")
            .await
            .unwrap();
        for device in [&phone, &laptop] {
            assert_eq!(device.read().await, ["after the pc is gone"], "{backend}");
        }
        let removed = pc.client.sync().await;
        assert!(
            matches!(removed, Err(ClientError::DeviceRemoved)),
            "{removed:?}"
        );
        let refused = pc.client.send_text(&bob.id(), "still here?").await;
        assert!(
            matches!(refused, Err(ClientError::DeviceRemoved)),
            "{refused:?}"
        );
        assert!(bob.read().await.is_empty());
        // A device cannot remove itself (it would lock itself out).
        let own = phone.client.remove_device(phone.client.device_id()).await;
        assert!(matches!(own, Err(ClientError::Unsupported(_))), "{own:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_once_photo_viewed_on_one_device_is_gone_on_all() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let laptop = Device::restored(&server.url, &alice.words).await;
    let photo = vec![7u8; 4096];
    bob.client
        .send_media(
            &Conversation::Peer(alice.id()),
            "photo.jpg",
            &photo,
            true,
            None,
        )
        .await
        .unwrap();
    let on_phone = alice.read_messages().await;
    let on_laptop = laptop.client.sync().await.unwrap();
    assert_eq!((on_phone.len(), on_laptop.len()), (1, 1));
    let (_, opened) = alice
        .client
        .open_media(on_phone[0].local_id, None)
        .await
        .unwrap();
    assert_eq!(opened, photo);
    let second = laptop.client.open_media(on_laptop[0].local_id, None).await;
    assert!(
        matches!(second, Err(ClientError::AlreadyViewed)),
        "{second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_serving_an_older_tampered_or_forged_device_list_is_refused() {
    let server = Server::start(&[]);
    let proxy = LyingProxy::start(&server.url).await;
    let alice = Person::new(&server).await;
    let bob = Person::new_at(&proxy.url).await;
    let _laptop = Device::restored(&server.url, &alice.words).await;
    bob.client.send_text(&alice.id(), "hi").await.unwrap();
    let path = format!("/v1/users/{}/devices", alice.id());
    let accepted = bob
        .client
        .api()
        .user_devices(&alice.id())
        .await
        .unwrap()
        .unwrap()
        .to_json_value();
    assert_eq!(accepted["version"], 2);

    // Alice links a PC; Bob's next send meets a 409, and the server then
    // serves the list Alice signed before (a rollback to hide a device, or
    // to keep one she removed).
    let _pc = Device::restored(&server.url, &alice.words).await;
    let older =
        glyph_crypto::DeviceList::sign(alice.identity().signing(), 1, &[alice.client.device_id()])
            .unwrap()
            .to_json_value();
    proxy.rewrite_json(Method::GET, &path, move |body| body["list"] = older.clone());
    let sent = bob.client.send_text(&alice.id(), "rolled back?").await;
    assert!(
        matches!(sent, Err(ClientError::Refused(Refusal::DeviceList(ref why))) if why.contains("older")),
        "{sent:?}"
    );

    // The current list with a device added by the server: the signature
    // no longer holds.
    proxy.clear();
    let tampered = {
        let mut list = accepted.clone();
        list["version"] = json!(3);
        list["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!(4_000_000_000u32));
        list
    };
    proxy.rewrite_json(Method::GET, &path, move |body| {
        body["list"] = tampered.clone()
    });
    let sent = bob.client.send_text(&alice.id(), "tampered?").await;
    assert!(
        matches!(sent, Err(ClientError::Refused(Refusal::DeviceList(_)))),
        "{sent:?}"
    );

    // A list signed by someone else's key, naming Alice.
    proxy.clear();
    let mallory = Person::new(&server).await;
    let forged = glyph_crypto::DeviceList::sign(mallory.identity().signing(), 9, &[1, 2, 3])
        .unwrap()
        .to_json_value();
    proxy.rewrite_json(Method::GET, &path, move |body| {
        body["list"] = forged.clone()
    });
    let sent = bob.client.send_text(&alice.id(), "forged?").await;
    assert!(
        matches!(sent, Err(ClientError::Refused(Refusal::DeviceList(_)))),
        "{sent:?}"
    );

    // Nothing was sent while the lies lasted; with the truth, the message
    // reaches every device.
    proxy.clear();
    assert_eq!(alice.read().await, ["hi"]);
    bob.client.send_text(&alice.id(), "honest").await.unwrap();
    assert_eq!(alice.read().await, ["honest"]);
}

/// A send the server did not take stays in the outbox without its
/// self-copy (which steps no ratchet, so it is sealed while the commit
/// waits for the disk, not stored); re-posted later, it is sealed again,
/// and my other device reads what I sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_while_the_server_was_down_still_reaches_my_other_device() {
    let mut server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let laptop = Device::restored(&server.url, &alice.words).await;
    alice.client.send_text(&bob.id(), "before").await.unwrap();
    assert_eq!(laptop.read().await, ["before"]);

    server.kill();
    let queued = alice
        .client
        .send_text(&bob.id(), "sent while the server was down")
        .await
        .unwrap();
    assert_eq!(queued.delivery, glyph_client::Delivery::Pending);
    server.restart();
    assert_eq!(alice.client.flush_outbox().await.unwrap(), 1);

    assert_eq!(laptop.read().await, ["sent while the server was down"]);
    assert_eq!(
        bob.read().await,
        ["before", "sent while the server was down"]
    );
    let on_laptop = laptop.texts(&Conversation::Peer(bob.id())).await;
    assert_eq!(on_laptop, ["before", "sent while the server was down"]);
}
