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
fn a_newcomers_rough_edges_are_smoothed() {
    run_script("cli_polish.sh", "command-line polish: ok");
}

#[test]
fn one_person_on_two_devices_chats_with_the_command_line() {
    run_script("cli_linked_devices.sh", "linked devices walk-through: ok");
}

/// Runs `glyph` with a profile in `dir` against `server`: exit code,
/// standard output and standard error.
fn glyph(dir: &std::path::Path, who: &str, server: &str, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(glyph_program())
        .args(args)
        .env("GLYPH_PROFILE", dir.join(who))
        .env("GLYPH_SERVER", server)
        .env("GLYPH_PIN", PIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn with_the_server_down_a_send_is_queued_with_exit_4_and_history_still_reads() {
    let mut server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    let run = |who: &str, args: &[&str]| glyph(dir.path(), who, &url, args);
    assert_eq!(run("alice", &["init"]).0, 0);
    assert_eq!(run("bob", &["init"]).0, 0);
    assert_eq!(run("bob", &["handle", "set", "bob"]).0, 0);
    assert_eq!(
        run("alice", &["contact", "add", "@bob", "--name", "bob"]).0,
        0
    );
    assert_eq!(run("alice", &["send", "bob", "before"]).0, 0);

    server.kill();
    let (code, out, err) = run("alice", &["send", "bob", "while", "down"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("Queued"), "{out}");
    assert!(err.contains("queued"), "{err}");
    // The history is on this device: shown, with a note.
    let (code, out, err) = run("alice", &["read", "bob"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("before") && out.contains("while down"),
        "{out}"
    );
    assert!(out.contains("(queued)"), "{out}");
    assert!(err.contains("unreachable"), "{err}");
    // New messages need the server.
    let (code, _, err) = run("alice", &["read"]);
    assert_eq!(code, 4, "{err}");

    server.restart();
    assert_eq!(run("alice", &["read"]).0, 0);
    let (_, out, _) = run("bob", &["read"]);
    assert!(
        out.contains("before") && out.contains("while down"),
        "{out}"
    );
}

/// A catch-up (`glyph read`) killed mid-page, again and again, loses no
/// message and stores none twice: each page of the inbox is one
/// transaction with its cursor, synced before anything is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_killed_mid_catch_up_loses_nothing_and_repeats_nothing() {
    const MESSAGES: usize = 1200;
    let server = Server::start(&["--sends-per-minute", "100000"]);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    assert_eq!(glyph(dir.path(), "bob", &url, &["init"]).0, 0);
    let (_, whoami, _) = glyph(dir.path(), "bob", &url, &["whoami"]);
    let bob_id = whoami
        .lines()
        .find_map(|l| l.strip_prefix("user id:"))
        .unwrap()
        .trim()
        .to_owned();
    let alice = Person::new(&server).await;
    for i in 0..MESSAGES {
        alice
            .client
            .send_text(&bob_id, &format!("m{i}"))
            .await
            .unwrap();
    }
    // Kill `glyph read` at growing delays while it catches up.
    let mut kills = 0;
    for delay_ms in [150u64, 300, 450, 600, 800, 1000] {
        let mut child = std::process::Command::new(glyph_program())
            .args(["read"])
            .env("GLYPH_PROFILE", dir.path().join("bob"))
            .env("GLYPH_SERVER", &url)
            .env("GLYPH_PIN", PIN)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    assert!(
        kills > 0,
        "no read was killed mid-way: the test proves nothing"
    );
    let (code, _, err) = glyph(dir.path(), "bob", &url, &["read"]);
    assert_eq!(code, 0, "{err}");
    let alice_id = alice.id();
    let (code, history, err) = glyph(dir.path(), "bob", &url, &["read", &alice_id]);
    assert_eq!(code, 0, "{err}");
    let mut seen = std::collections::BTreeMap::new();
    for line in history.lines() {
        if let Some(text) = line.rsplit(": ").next().filter(|t| t.starts_with('m')) {
            *seen.entry(text.to_owned()).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), MESSAGES, "every message is kept");
    assert!(seen.values().all(|n| *n == 1), "none twice");
}
