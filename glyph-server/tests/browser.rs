//! The share relay in a real browser: headless Chromium (Debian's
//! `chromium`), driven by `tests/browser/relay.mjs` through playwright-core.
//! Without Chromium or Node.js the test says it skipped; with
//! `GLYPH_REQUIRE_BROWSER` set (as `.ci/run` sets it) that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64ct::{Base64, Encoding};
use common::*;
use glyph_crypto::{ShareKey, ShareLink};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("GLYPH_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether the browser and its driver are here (installing the driver's
/// locked npm package if needed); says why not otherwise.
fn browser_ready() -> Result<(), String> {
    if !chromium().exists() {
        return Err(format!(
            "no Chromium at {} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no Node.js".into());
    }
    if !driver_dir().join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(driver_dir())
            .status()
            .map_err(|e| format!("npm: {e}"))?;
        if !status.success() {
            return Err("npm ci failed".into());
        }
    }
    Ok(())
}

/// Runs one step of the driver and parses what it printed.
fn drive(args: &[&str]) -> Value {
    let output = Command::new("node")
        .arg("relay.mjs")
        .args(args)
        .env("GLYPH_CHROMIUM", chromium())
        .current_dir(driver_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "driver {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["problems"], json!([]), "the page reported problems");
    result
}

fn curl(url: &str, user_agent: &str) -> String {
    let output = Command::new("curl")
        .args(["-s", "-A", user_agent, url])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

// Multi-threaded: the driver and curl are run blocking on this thread while
// the server answers on the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_work_in_a_real_browser_and_interoperate_with_the_crate() {
    if let Err(why) = browser_ready() {
        assert!(
            std::env::var_os("GLYPH_REQUIRE_BROWSER").is_none(),
            "browser test required: {why}"
        );
        eprintln!("skipped the browser test: {why}");
        return;
    }
    let db = databases().await.remove(0);
    let server = TestServer::start(&db).await;

    // The page makes a share; only ciphertext reached the server.
    let secret = format!("browser secret ✓ {}", std::process::id());
    let created = drive(&["create", &server.base, &secret, "1"]);
    // One link per secret: the form is gone until "Make another".
    assert_eq!(created["form_hidden"], true, "{created}");
    assert_eq!(created["another"]["form_visible"], true, "{created}");
    assert_eq!(created["another"]["result_hidden"], true, "{created}");
    let link = ShareLink::parse(created["link"].as_str().unwrap()).unwrap();
    assert_eq!(link.base(), server.base);
    assert_eq!(share_views_left(&server, link.code()).await, Some(1));

    // curl, preview bots and a page opened without its key spend nothing.
    let page_url = format!("{}/s/{}", server.base, link.code());
    assert!(curl(&page_url, "curl/8").contains("Reveal"));
    assert!(curl(&page_url, "facebookexternalhit/1.1").contains("og:title"));
    assert!(curl(&page_url, "Slackbot-LinkExpanding 1.0").contains("og:title"));
    let nokey = drive(&["nokey", &page_url]);
    assert!(
        nokey["error"].as_str().unwrap().contains("incomplete"),
        "{nokey}"
    );
    assert_eq!(nokey["disabled"], true);
    assert_eq!(
        share_views_left(&server, link.code()).await,
        Some(1),
        "nothing spent yet"
    );

    // A fresh browser context opens it; a reload shows it is gone.
    let revealed = drive(&["reveal", &link.to_url()]);
    assert_eq!(revealed["secret"], secret.as_str(), "{revealed}");
    assert_eq!(revealed["copy"], true, "a Copy button: {revealed}");
    assert!(
        !revealed["address"].as_str().unwrap().contains("#key="),
        "the key leaves the address bar"
    );
    assert!(
        revealed["after_reload"]
            .as_str()
            .unwrap()
            .contains("This secret is gone"),
        "{revealed}"
    );
    assert_eq!(share_views_left(&server, link.code()).await, None);
    let again = drive(&["visit", &link.to_url()]);
    assert!(
        again["text"]
            .as_str()
            .unwrap()
            .contains("This secret is gone"),
        "{again}"
    );
    assert_eq!(again["has_reveal"], false);

    // A share the page made opens with the Rust crate...
    let by_page = drive(&["create", &server.base, "made by the page", "3"]);
    // Revealed in a tab, then reloaded: the page says what happened and
    // how many views remain, not "incomplete".
    let revealed = drive(&["reveal", by_page["link"].as_str().unwrap()]);
    assert_eq!(revealed["secret"], "made by the page", "{revealed}");
    let after = revealed["after_reload"].as_str().unwrap();
    assert!(
        after.contains("You revealed this secret here"),
        "{revealed}"
    );
    assert!(after.contains("2 views remain"), "{revealed}");
    assert!(!after.contains("incomplete"), "{revealed}");
    let link = ShareLink::parse(by_page["link"].as_str().unwrap()).unwrap();
    let (status, opened) = server
        .post(&format!("/v1/shares/{}/open", link.code()), None, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let blob = Base64::decode_vec(opened["blob"].as_str().unwrap()).unwrap();
    assert_eq!(link.key().open(&blob).unwrap(), b"made by the page");
    assert_eq!(opened["views_left"], 1);
    // Browsers ask for /favicon.ico unprompted: it is there, under the CSP.
    let icon = server
        .http
        .get(format!("{}/favicon.ico", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.headers().contains_key("content-security-policy"));

    // ...and one the crate made opens in the page.
    let key = ShareKey::generate().unwrap();
    let blob = key.seal("made by Rust — ✓".as_bytes()).unwrap();
    let (status, made) = server
        .post(
            "/v1/shares",
            None,
            json!({"blob": Base64::encode_string(&blob)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let link = ShareLink::new(&server.base, made["code"].as_str().unwrap(), key).unwrap();
    let revealed = drive(&["reveal", &link.to_url()]);
    assert_eq!(revealed["secret"], "made by Rust — ✓");
}
