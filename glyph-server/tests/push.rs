//! Live push over the WebSocket, against every backend: backlog then live,
//! every connection of a user, bursts in order, token expiry, refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &TestServer, token: &str, after: i64) -> Socket {
    let mut request = format!("ws://{}/v1/ws?after={after}", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next JSON frame, skipping pings; panics after 10 s.
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("no frame within 10 s");
        match message.expect("socket closed").unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn backlog_then_caught_up_then_live_to_every_connection() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        alice
            .send_text(&server, "before", &[&bob], "sent while offline", None)
            .await;

        let mut phone = connect(&server, &bob.token, 0).await;
        let frame = next_frame(&mut phone).await;
        assert_eq!(frame["type"], "message");
        assert_eq!(bob.open(&frame["message"]["payload"]), "sent while offline");
        let caught_up = next_frame(&mut phone).await;
        assert_eq!(caught_up["type"], "caught_up");
        let cursor = caught_up["after"].as_i64().unwrap();

        // A second device resuming from the cursor gets no backlog.
        let mut laptop = connect(&server, &bob.token, cursor).await;
        assert_eq!(next_frame(&mut laptop).await["type"], "caught_up");

        // Alice has a second device; it is live too.
        let alice_laptop = alice.link(&server, 2, 2, &[DEVICE, 2]).await;
        let mut alice_other = connect(&server, &alice_laptop, 0).await;
        assert_eq!(next_frame(&mut alice_other).await["type"], "caught_up");
        let mut alice_sending = connect(&server, &alice.token, 0).await;
        let frame = next_frame(&mut alice_sending).await;
        assert_eq!(frame["type"], "caught_up", "{frame}");

        alice
            .send_text(&server, "live", &[&bob], "live one", None)
            .await;
        for socket in [&mut phone, &mut laptop] {
            let frame = next_frame(socket).await;
            assert_eq!(bob.open(&frame["message"]["payload"]), "live one");
            assert!(frame["message"]["seq"].as_i64().unwrap() > cursor);
        }
        // The sender's other device gets the self-copy, live.
        let frame = next_frame(&mut alice_other).await;
        assert_eq!(frame["message"]["direction"], "out");
        assert_eq!(
            alice.open(&frame["message"]["payload"]),
            "live one",
            "{frame}"
        );
        // The sending device has its own record: nothing comes back to it.
        let quiet =
            tokio::time::timeout(Duration::from_millis(300), next_frame(&mut alice_sending)).await;
        assert!(quiet.is_err(), "the sending device got {quiet:?}");
    }
}

/// Sends 40 messages from `sender` to `bob`, one after another.
async fn burst(server: &TestServer, sender: &TestUser, bob: &TestUser, tag: &str) {
    for i in 0..40 {
        let (status, body) = sender
            .send_text(
                server,
                &format!("{tag}{i}"),
                &[bob],
                &format!("{tag}{i}"),
                None,
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
}

#[tokio::test]
async fn a_burst_of_sends_arrives_complete_and_in_order() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let carol = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let mut socket = connect(&server, &bob.token, 0).await;
        assert_eq!(next_frame(&mut socket).await["type"], "caught_up");
        // Two senders at once, 40 messages each, concurrently.
        futures_util::future::join(
            burst(&server, &alice, &bob, "a"),
            burst(&server, &carol, &bob, "c"),
        )
        .await;
        let mut seqs = Vec::new();
        let (mut from_a, mut from_c) = (Vec::new(), Vec::new());
        for _ in 0..80 {
            let frame = next_frame(&mut socket).await;
            seqs.push(frame["message"]["seq"].as_i64().unwrap());
            let text = bob.open(&frame["message"]["payload"]);
            if text.starts_with('a') {
                from_a.push(text)
            } else {
                from_c.push(text)
            }
        }
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "out of order: {seqs:?}"
        );
        assert_eq!(from_a, (0..40).map(|i| format!("a{i}")).collect::<Vec<_>>());
        assert_eq!(from_c, (0..40).map(|i| format!("c{i}")).collect::<Vec<_>>());
        // The inbox agrees with what was pushed.
        let inbox: Vec<i64> = bob
            .inbox(&server, 0)
            .await
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(inbox, seqs);
    }
}

#[tokio::test]
async fn an_expired_token_closes_the_socket_with_4001() {
    let db = databases().await.remove(0);
    let server = TestServer::start_with(test_config(&db, &["--jwt-lifetime-secs", "2"])).await;
    let bob = TestUser::new(&server, 0).await;
    let mut socket = connect(&server, &bob.token, 0).await;
    assert_eq!(next_frame(&mut socket).await["type"], "caught_up");
    let closed = tokio::time::timeout(Duration::from_secs(6), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(_)) => {}
                other => panic!("ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("not closed after the token expired");
    assert_eq!(closed, glyph_server::routes::CLOSE_TOKEN_EXPIRED);
}

#[tokio::test]
async fn a_socket_without_a_valid_token_is_refused_before_upgrading() {
    let db = databases().await.remove(0);
    let server = TestServer::start(&db).await;
    for token in [None, Some("nonsense")] {
        let mut request = format!("ws://{}/v1/ws", server.addr)
            .into_client_request()
            .unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401)
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    // A client that closes politely is let go.
    let bob = TestUser::new(&server, 0).await;
    let mut socket = connect(&server, &bob.token, 0).await;
    assert_eq!(next_frame(&mut socket).await["type"], "caught_up");
    socket.send(Message::Close(None)).await.unwrap();
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_disconnected_not_buffered_for() {
    let db = databases().await.remove(0);
    let server = TestServer::start(&db).await;
    let alice = TestUser::new(&server, 0).await;
    let bob = TestUser::new(&server, 0).await;
    let socket = connect(&server, &bob.token, 0).await;
    // About 16 MB of pushes, far more than the socket buffers hold.
    let filler = "A".repeat(60 * 1024);
    for i in 0..256 {
        let copy = serde_json::json!({"recipient": bob.user_id, "device_id": DEVICE, "envelope": {"v": 1, "pad": filler}});
        let body = serde_json::json!({"client_id": format!("fill{i}"), "copies": [copy]});
        assert!(
            server
                .post("/v1/messages", Some(&alice.token), body)
                .await
                .0
                .is_success()
        );
    }
    let gauge = || server.metric("glyph_websocket_connections");
    assert_eq!(gauge().await, 1);
    // Bob never reads. Within the send timeout (10 s) plus slack the server
    // gives up on him.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while gauge().await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled reader was never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(socket);
}

#[tokio::test]
async fn a_send_on_one_instance_is_pushed_by_another_sharing_postgresql() {
    for db in databases().await {
        if !db.url.starts_with("postgres") {
            continue;
        }
        // Two instances on one database (and one token secret, the file in
        // the shared data directory).
        let first = TestServer::start(&db).await;
        let second = TestServer::start(&db).await;
        let alice = TestUser::new(&first, 0).await;
        let bob = TestUser::new(&first, 0).await;
        let mut socket = connect(&second, &bob.token, 0).await;
        assert_eq!(next_frame(&mut socket).await["type"], "caught_up");
        alice
            .send_text(
                &first,
                "across",
                &[&bob],
                "sent to the other instance",
                None,
            )
            .await;
        let frame = next_frame(&mut socket).await;
        assert_eq!(frame["type"], "message");
        assert_eq!(
            bob.open(&frame["message"]["payload"]),
            "sent to the other instance"
        );
        // Sends through both at once: the socket's own instance carries its
        // entries, the other's come as wake-ups to read; none is lost,
        // repeated or reordered.
        futures_util::future::join(
            burst(&first, &alice, &bob, "a"),
            burst(&second, &alice, &bob, "b"),
        )
        .await;
        let mut pushed = vec![frame["message"].clone()];
        for _ in 0..80 {
            pushed.push(next_frame(&mut socket).await["message"].clone());
        }
        assert_eq!(pushed, bob.inbox(&second, 0).await);
    }
}

const PUSH_READS: &str = "glyph_push_inbox_reads_total";

#[tokio::test]
async fn a_live_push_carries_what_the_inbox_returns_without_reading_it() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let carol = TestUser::new(&server, 0).await;
        let alice_laptop = alice.link(&server, 2, 2, &[DEVICE, 2]).await;
        let group = alice.create_group(&server, &[&bob, &carol]).await;
        let mut bob_socket = connect(&server, &bob.token, 0).await;
        assert_eq!(next_frame(&mut bob_socket).await["type"], "caught_up");
        let mut alice_other = connect(&server, &alice_laptop, 0).await;
        assert_eq!(next_frame(&mut alice_other).await["type"], "caught_up");
        let reads = server.metric(PUSH_READS).await;

        alice
            .send_text(&server, "plain", &[&bob], "plain", None)
            .await;
        alice
            .send_text(
                &server,
                "group",
                &[&bob, &carol],
                "to the group",
                Some(&group),
            )
            .await;
        let expiring = serde_json::json!({"client_id": "expiring", "copies": [{
            "recipient": bob.user_id, "device_id": DEVICE, "envelope": {"v": 1, "opaque": true},
            "self_copy": {"v": 1, "mine": true},
            "expires_at": glyph_server::input::now() + 3600, "view_once": true}]});
        let (status, body) = server
            .post("/v1/messages", Some(&alice.token), expiring)
            .await;
        assert!(status.is_success(), "{body}");

        // What each device was pushed is exactly what its inbox returns.
        let mut pushed = Vec::new();
        for _ in 0..3 {
            pushed.push(next_frame(&mut bob_socket).await["message"].clone());
        }
        assert_eq!(pushed, bob.inbox(&server, 0).await);
        assert_eq!(pushed[2]["view_once"], true, "{}", pushed[2]);
        let mut self_copies = Vec::new();
        for _ in 0..3 {
            self_copies.push(next_frame(&mut alice_other).await["message"].clone());
        }
        assert_eq!(self_copies, alice.inbox_of(&server, &alice_laptop).await);
        assert_eq!(self_copies[0]["direction"], "out");
        // And no connection read its inbox for them.
        assert_eq!(server.metric(PUSH_READS).await, reads);
    }
}

#[tokio::test]
async fn a_reader_that_falls_behind_reads_its_inbox_and_misses_nothing() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let carol = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let mut socket = connect(&server, &bob.token, 0).await;
        assert_eq!(next_frame(&mut socket).await["type"], "caught_up");
        let reads = server.metric(PUSH_READS).await;
        // Bob stops reading while two senders send at once, each payload
        // small enough to be carried, until his connection, stuck on a
        // full socket, has missed wake-ups and read its inbox instead.
        let pad = "A".repeat(15 * 1024);
        let send = |from: &TestUser, n: usize| {
            let copy = serde_json::json!({"recipient": bob.user_id, "device_id": DEVICE,
                                          "envelope": {"v": 1, "n": n, "pad": pad}});
            let body = serde_json::json!({"client_id": format!("n{n}"), "copies": [copy]});
            let (server, token) = (&server, from.token.clone());
            async move {
                let (status, body) = server.post("/v1/messages", Some(&token), body).await;
                assert!(status.is_success(), "{body}");
            }
        };
        let mut sent = 0;
        while server.metric(PUSH_READS).await == reads {
            assert!(sent < 600, "no wake-up was ever missed");
            let round =
                (sent..sent + 20).map(|n| send(if n % 2 == 0 { &alice } else { &carol }, n));
            futures_util::future::join_all(round).await;
            sent += 20;
        }
        let (mut seqs, mut numbers) = (Vec::new(), Vec::new());
        for _ in 0..sent {
            let frame = next_frame(&mut socket).await;
            seqs.push(frame["message"]["seq"].as_i64().unwrap());
            numbers.push(frame["message"]["payload"]["n"].as_u64().unwrap());
        }
        let quiet = tokio::time::timeout(Duration::from_millis(300), next_frame(&mut socket)).await;
        assert!(quiet.is_err(), "pushed more than was sent: {quiet:?}");
        // Every message once, in inbox order; the inbox agrees.
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "out of order: {seqs:?}"
        );
        numbers.sort_unstable();
        assert_eq!(numbers, (0..sent as u64).collect::<Vec<_>>());
        let mut inbox = Vec::new();
        loop {
            let after = inbox.last().copied().unwrap_or(0);
            let page = bob.inbox(&server, after).await;
            if page.is_empty() {
                break;
            }
            inbox.extend(page.iter().map(|m| m["seq"].as_i64().unwrap()));
        }
        assert_eq!(inbox, seqs);
    }
}

#[tokio::test]
async fn a_send_whose_client_hangs_up_is_still_pushed_once_committed() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let alice = TestUser::new(&server, 0).await;
        let bob = TestUser::new(&server, 0).await;
        let mut socket = connect(&server, &bob.token, 0).await;
        assert_eq!(next_frame(&mut socket).await["type"], "caught_up");
        let client = http_client();
        let mut pushed = Vec::new();
        let mut given_up_after_storing = 0;
        // Rounds of sends all given up by their client at one moment, a
        // little later each round: some never stored, some stored and
        // answered to no one. After each round nothing else is sent, so
        // only the stored sends themselves can wake Bob's socket.
        for round in 0..12u64 {
            let attempts = (0..20u64).map(|n| {
                let copy = serde_json::json!({"recipient": bob.user_id, "device_id": DEVICE,
                                              "envelope": {"v": 1, "n": n, "round": round}});
                let request = client
                    .post(format!("{}/v1/messages", server.base))
                    .bearer_auth(&alice.token)
                    .json(&serde_json::json!({"client_id": format!("r{round}n{n}"), "copies": [copy]}))
                    .send();
                async move {
                    tokio::time::timeout(Duration::from_millis(round), request)
                        .await
                        .is_err()
                }
            });
            let given_up = futures_util::future::join_all(attempts).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stored = bob.inbox(&server, 0).await;
            given_up_after_storing += stored[pushed.len()..]
                .iter()
                .filter(|m| given_up[m["payload"]["n"].as_u64().unwrap() as usize])
                .count();
            while pushed.len() < stored.len() {
                pushed.push(next_frame(&mut socket).await["message"].clone());
            }
            assert_eq!(pushed, stored);
        }
        assert!(
            given_up_after_storing > 0,
            "no send was given up after storing"
        );
    }
}
