//! The end-to-end harness: the server as a separate process on a loopback
//! port (killed and restarted on the same port when a test asks), and
//! clients with their own profile directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use glyph_client::{Client, Conversation, Message};

pub mod proxy;

/// The PIN every test profile uses.
pub const PIN: &str = "correct horse 1";

/// A running server process and its data directory.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    listen: String,
    data: tempfile::TempDir,
    extra: Vec<String>,
    /// The PostgreSQL database it uses, dropped with it.
    postgres: Option<String>,
}

/// Where tests find PostgreSQL (trust authentication), as `psql` takes it.
const POSTGRES_HOST: &str = "127.0.0.1";

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args(["-h", POSTGRES_HOST, "-U", "postgres", "-q", "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Server {
    /// Starts a fresh server (SQLite in a temporary directory).
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(extra, None)
    }

    fn start_with(extra: &[&str], postgres: Option<String>) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        if let Some(name) = &postgres {
            extra.extend([
                "--database-url".to_owned(),
                format!("postgres://postgres@{POSTGRES_HOST}:5432/{name}"),
            ]);
        }
        let mut server = Self {
            child: None,
            url: String::new(),
            listen: "127.0.0.1:0".into(),
            data,
            extra,
            postgres,
        };
        server.spawn();
        server
    }

    /// A fresh server on a new PostgreSQL database, or `None` when no
    /// PostgreSQL answers (an error when `GLYPH_REQUIRE_POSTGRES` is set, as
    /// CI sets it).
    pub fn start_on_postgres(extra: &[&str]) -> Option<Self> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "glyph_e2e_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        if !psql(&format!("CREATE DATABASE {name}")) {
            assert!(
                std::env::var_os("GLYPH_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL at {POSTGRES_HOST}:5432 is required (GLYPH_REQUIRE_POSTGRES is set) but unreachable"
            );
            return None;
        }
        Some(Self::start_with(extra, Some(name)))
    }

    /// A fresh server on each backend: SQLite, then PostgreSQL if it
    /// answers.
    pub fn on_each_backend(extra: &[&str]) -> Vec<(&'static str, Self)> {
        let mut servers = vec![("sqlite", Self::start(extra))];
        servers.extend(Self::start_on_postgres(extra).map(|s| ("postgres", s)));
        servers
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_e2e-glyph-server"))
            .arg("--listen")
            .arg(&self.listen)
            .arg("--data-dir")
            .arg(self.data.path())
            .args(&self.extra)
            .env("GLYPH_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
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
            .recv_timeout(Duration::from_secs(30))
            .expect("the server did not start within 30 s");
        self.listen = addr.clone();
        self.url = format!("http://{addr}");
        self.child = Some(child);
    }

    /// The server's SQLite database file.
    pub fn database(&self) -> PathBuf {
        self.data.path().join("glyph.db")
    }

    /// Kills the server without warning (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        for attempt in 0.. {
            // The port can take a moment to be free again.
            if std::net::TcpListener::bind(&self.listen).is_ok() || attempt == 50 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(name) = &self.postgres {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A person: a profile directory and a client.
pub struct Person {
    /// The client.
    pub client: Client,
    /// The profile directory.
    pub profile: PathBuf,
    /// The recovery words (shown once at creation).
    pub words: String,
    _dir: tempfile::TempDir,
}

impl Person {
    /// A new account on `server`.
    pub async fn new(server: &Server) -> Self {
        Self::new_at(&server.url).await
    }

    /// A new account through `url` (a server, or a lying proxy before one).
    pub async fn new_at(url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile");
        let (client, words) = Client::create(&profile, PIN, url).await.unwrap();
        // Receipts are on by default; the tests of other features keep
        // them out of what they count (tests/annotations.rs turns them on).
        client.set_receipts(false).await.unwrap();
        Self {
            client,
            profile,
            words: words.phrase().to_owned(),
            _dir: dir,
        }
    }

    /// My user id.
    pub fn id(&self) -> String {
        self.client.user_id().to_owned()
    }

    /// The texts of a conversation's history, in order (without the
    /// groups' roster announcements).
    pub async fn texts(&self, conversation: &Conversation) -> Vec<String> {
        summaries(&self.client.history(conversation).await.unwrap())
    }

    /// Syncs and returns the texts of the new messages (without the groups'
    /// roster announcements).
    pub async fn read(&self) -> Vec<String> {
        summaries(&self.client.sync().await.unwrap())
    }

    /// Syncs and returns the new messages.
    pub async fn read_messages(&self) -> Vec<Message> {
        self.client.sync().await.unwrap()
    }

    /// The same account restored from its words on a new device, through
    /// `url`.
    pub async fn restored_at(&self, url: &str) -> (Client, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::restore(&dir.path().join("p"), PIN, url, &self.words)
            .await
            .unwrap();
        client.set_receipts(false).await.unwrap();
        (client, dir)
    }

    /// My identity, rebuilt from my words (for tests that play an attacker
    /// holding their own keys).
    pub fn identity(&self) -> glyph_crypto::Identity {
        let words = glyph_crypto::Mnemonic::parse(&self.words).unwrap();
        glyph_crypto::Identity::from_mnemonic(&words, "").unwrap()
    }
}

/// What people read of these messages: every summary but the groups'
/// roster announcements and receipts.
pub fn summaries(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| {
            !matches!(
                m.content,
                glyph_client::Content::Group(_) | glyph_client::Content::Receipt { .. }
            )
        })
        .map(|m| m.content.summary())
        .collect()
}

/// The directory of the e2e crate (for scripts).
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The command-line program.
pub fn glyph_program() -> &'static str {
    env!("CARGO_BIN_EXE_e2e-glyph")
}
