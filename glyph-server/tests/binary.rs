//! The real `glyph-server` binary, started as the README says (no flags, in
//! a fresh directory; only the port is left to the OS so tests never
//! collide): it creates ./glyph-data, keeps what it acknowledged across a
//! `kill -9`, and exits cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use glyph_api::TokenResponse;
use glyph_crypto::{Identity, Mnemonic};
use serde_json::json;

/// The server process, killed when the test ends however it ends (a
/// panicking test must not leave it running, holding the test's output).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// A registered user with one listed device (`DEVICE`), logged in over
/// raw HTTP.
async fn user_at(http: &reqwest::Client, base: &str) -> (Identity, TokenResponse) {
    let id = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
    let response = http
        .post(format!("{base}/v1/users"))
        .json(&registration(&id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let challenge: serde_json::Value = http
        .post(format!("{base}/v1/auth/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token: TokenResponse = http
        .post(format!("{base}/v1/auth/token"))
        .json(&token_request(
            &id,
            challenge["challenge"].as_str().unwrap(),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claimed = http
        .post(format!("{base}/v1/devices"))
        .bearer_auth(&token.token)
        .json(&json!({"device_id": DEVICE}))
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 201);
    let list = glyph_crypto::DeviceList::first(id.signing(), DEVICE).unwrap();
    let published = http
        .put(format!("{base}/v1/devices"))
        .bearer_auth(&token.token)
        .json(&list.to_json_value())
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    (id, token)
}

/// Starts the binary in `dir`; returns it and the address it bound.
fn start(dir: &Path) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_glyph-server"))
        .current_dir(dir)
        .env("GLYPH_LISTEN", "127.0.0.1:0")
        .env("GLYPH_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read the log on a thread, so a server that never says where it
    // listens fails the test after 30 s instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(rest) = line.split("addr=").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server did not log its address within 30 s");
    (Running(child), addr)
}

#[tokio::test]
async fn the_readme_command_keeps_what_it_acknowledged_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    assert!(dir.path().join("glyph-data/glyph.db").exists());
    let secret = dir.path().join("glyph-data/jwt-secret");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let http = http_client();
    let base = format!("http://{addr}");
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(user_at(&http, &base).await.1);
    }
    let body = json!({"client_id": "durable", "copies": [{"recipient": tokens[1].user_id, "device_id": 1, "envelope": {"v": 1, "note": "kept"}}]});
    let response = http
        .post(format!("{base}/v1/messages"))
        .bearer_auth(&tokens[0].token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    // SIGKILL right after the acknowledgement.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, addr) = start(dir.path());
    let inbox: serde_json::Value = http
        .get(format!("http://{addr}/v1/messages"))
        .bearer_auth(&tokens[1].token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["messages"][0]["payload"]["note"], "kept", "{inbox}");

    // SIGTERM: a graceful, successful exit.
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn help_documents_every_option_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_glyph-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--public-url",
        "--max-body-bytes",
        "--max-envelope-bytes",
        "--jwt-lifetime-secs",
        "--jwt-secret",
        "--database-acquire-timeout-ms",
        "--header-timeout-secs",
        "--body-timeout-secs",
        "--idle-timeout-secs",
        "--max-connections",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
    assert!(help.contains("GLYPH_DATABASE_URL") && help.contains("GLYPH_JWT_SECRET"));
}

#[tokio::test]
async fn sigterm_tells_websockets_the_server_is_going_away() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    let http = http_client();
    let base = format!("http://{addr}");
    let (_, token) = user_at(&http, &base).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{addr}/v1/ws"),
            )
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", token.token).parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        // Wait for `caught_up`: the socket is being served.
        let first = socket.next().await.unwrap().unwrap();
        assert!(first.to_text().unwrap().contains("caught_up"));
        sockets.push(socket);
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    for mut socket in sockets {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("no close frame within 10 s");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => {
                assert_eq!(u16::from(close.code), 1001, "{close:?}");
            }
            other => panic!("expected a 1001 close frame, got {other:?}"),
        }
    }
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}
