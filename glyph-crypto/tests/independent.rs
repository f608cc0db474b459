//! Runs the independent Python implementation (`tests/independent/`) over
//! the shipped vector files: a second reading of the spec, sharing no code
//! with this crate. Skipped, with a message, where Python or its
//! `cryptography` package is missing; required when `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn python_implementation_agrees_with_the_shipped_vectors() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let probe = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output();
    if !probe.as_ref().is_ok_and(|out| out.status.success()) {
        assert!(!in_ci, "CI needs python3 with the `cryptography` package");
        eprintln!("skipped: python3 with the `cryptography` package is not available");
        return;
    }
    let out = Command::new("python3")
        .arg(root.join("tests/independent/check_vectors.py"))
        .arg(root.join("tests/vectors"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.lines().count() >= 5,
        "too few files checked:\n{stdout}"
    );
}
