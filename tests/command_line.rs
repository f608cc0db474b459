//! The `glyph` command line used by two people in a script
//! (`cli_two_users.sh`), against the real server process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[test]
fn two_people_chat_with_the_command_line() {
    let server = Server::start(&[]);
    let output = std::process::Command::new("bash")
        .arg(crate_dir().join("cli_two_users.sh"))
        .env("GLYPH", glyph_program())
        .env("GLYPH_SERVER", &server.url)
        .env_remove("GLYPH_PIN")
        .env_remove("GLYPH_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("command-line walk-through: ok"), "{stdout}");
}
