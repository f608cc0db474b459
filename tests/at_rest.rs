//! What sits on disk reveals nothing: after a conversation with a text and
//! a file, neither the server's database (with its write-ahead log) and
//! media folder nor a person's profile holds the message, the file, the
//! recovery words or a secret key in the clear.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use glyph_client::Conversation;

/// Every byte of every file under `dir`.
fn bytes_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path.display().to_string(), bytes));
            }
        }
    }
    found
}

fn assert_absent(files: &[(String, Vec<u8>)], secret: &[u8], what: &str) {
    assert!(!secret.is_empty());
    for (path, bytes) in files {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{what} is readable in {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_at_rest_reveals_no_message_and_no_key() {
    let server = Server::start(&[]);
    let alice = Person::new(&server).await;
    let bob = Person::new(&server).await;
    let text = "the launch code is 7-alpha-tango-niner";
    let file: Vec<u8> = b"a file nobody else may read: ".repeat(100);
    alice.client.send_text(&bob.id(), text).await.unwrap();
    alice
        .client
        .send_media(
            &Conversation::Peer(bob.id()),
            "plan.txt",
            &file,
            false,
            None,
        )
        .await
        .unwrap();
    let received = bob.read_messages().await;
    assert_eq!(received.len(), 2);
    let (_, opened) = bob
        .client
        .open_media(received[1].local_id, None)
        .await
        .unwrap();
    assert_eq!(opened, file);
    // The check is only as good as its search: the text is on screen.
    assert_eq!(received[0].content.summary(), text);

    let server_files = bytes_under(server.database().parent().unwrap());
    let profiles: Vec<_> = [&alice, &bob]
        .iter()
        .flat_map(|p| bytes_under(&p.profile))
        .collect();
    assert!(server_files.iter().any(|(p, _)| p.ends_with("glyph.db")));
    // The search does see what is stored in the clear (public ids).
    let id = alice.id();
    assert!(
        server_files
            .iter()
            .any(|(_, b)| b.windows(id.len()).any(|w| w == id.as_bytes())),
        "the scan does not see the database's contents"
    );
    assert!(profiles.iter().any(|(p, _)| p.ends_with("glyph.vault")));
    for files in [&server_files, &profiles] {
        assert_absent(files, text.as_bytes(), "the text");
        assert_absent(files, &file[..64], "the file");
        for person in [&alice, &bob] {
            assert_absent(files, person.words.as_bytes(), "the words");
            let identity = person.identity();
            assert_absent(
                files,
                &identity.signing().secret_bytes()[..],
                "a signing key",
            );
            assert_absent(files, &identity.dh().secret_bytes()[..], "a DH key");
        }
    }
}
