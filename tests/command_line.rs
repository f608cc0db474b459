//! The `glyph` command line used by people in scripts, against the real
//! server process: two people chatting (`cli_two_users.sh`), and one of
//! them on two devices restored from the same words
//! (`cli_linked_devices.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

/// Runs a script against a fresh server; checks it ends with `done`.
fn run_script(script: &str, done: &str) {
    let server = Server::start(&[]);
    let output = std::process::Command::new("bash")
        .arg(crate_dir().join(script))
        .env("GLYPH", glyph_program())
        .env("GLYPH_SERVER", &server.url)
        .env_remove("GLYPH_PIN")
        .env_remove("GLYPH_PROFILE")
        .env_remove("GLYPH_WORDS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(done), "{stdout}");
}

#[test]
fn two_people_chat_with_the_command_line() {
    run_script("cli_two_users.sh", "command-line walk-through: ok");
}

#[test]
fn one_person_on_two_devices_chats_with_the_command_line() {
    run_script("cli_linked_devices.sh", "linked devices walk-through: ok");
}
