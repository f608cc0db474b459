//! The encrypted profile: the right PIN opens it, a wrong one is refused,
//! and a file that is not a profile is a clear error. (That the file shows
//! no secret without the PIN is checked end to end, in
//! `tests/conversations.rs`, on a profile that has really been used.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use glyph_client::ClientError;
use glyph_client::vault::{KdfParams, Vault};

#[tokio::test]
async fn a_wrong_pin_is_refused_and_the_right_one_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let vault = Vault::create(&path, "1234", KdfParams::default())
        .await
        .unwrap();
    vault.close().await;
    assert!(matches!(
        Vault::open(&path, "1235").await,
        Err(ClientError::WrongPin)
    ));
    assert!(matches!(
        Vault::open(&path, "").await,
        Err(ClientError::WrongPin)
    ));
    Vault::open(&path, "1234").await.unwrap();
    assert!(matches!(
        Vault::create(&path, "x", KdfParams::default()).await,
        Err(ClientError::ProfileExists(_))
    ));
    assert!(matches!(
        Vault::create(&dir.path().join("w"), "", KdfParams::default()).await,
        Err(ClientError::EmptyPin)
    ));
    assert!(matches!(
        Vault::open(&dir.path().join("none"), "1234").await,
        Err(ClientError::NoProfile(_))
    ));
}

#[tokio::test]
async fn a_file_that_is_not_a_vault_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    std::fs::write(&path, b"this is not a database, not even close to one").unwrap();
    let opened = Vault::open(&path, "1234").await;
    assert!(
        matches!(
            opened,
            Err(ClientError::Store(_) | ClientError::CorruptStore(_))
        ),
        "{opened:?}"
    );
}

#[tokio::test]
async fn absurd_kdf_parameters_in_the_file_are_refused_before_deriving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    Vault::create(&path, "1234", KdfParams::default())
        .await
        .unwrap()
        .close()
        .await;
    // 4 TiB of memory, as a hostile file might ask.
    let status = std::process::Command::new("sqlite3")
        .arg(&path)
        .arg("UPDATE meta SET value = x'ffffffff0000000200000001' WHERE name = 'kdf'")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("skipped: no sqlite3 program");
        return;
    }
    let opened = Vault::open(&path, "1234").await;
    assert!(
        matches!(opened, Err(ClientError::CorruptStore(_))),
        "{opened:?}"
    );
}
