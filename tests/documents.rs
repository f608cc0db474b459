//! The repository's documents point only at what exists: every Markdown
//! link (inline or reference-style) to a repository file resolves, with
//! its `#anchor` when it names one, and every repository path written in
//! code quotes (`docs/api.md`, `tests/cli_two_users.sh`) exists. A reader
//! with only a clone of the repository never meets a dead reference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The documents checked: the top-level Markdown files, docs/, and each
/// crate's Markdown files.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut found = Vec::new();
    let mut dirs = vec![root.clone(), root.join("docs"), root.join("tests")];
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.join("Cargo.toml").exists() {
            dirs.push(path);
        }
    }
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The targets of Markdown links in `text`: `[..](target)` and
/// `[..]: target`, outside fenced code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((label, target)) = trimmed.split_once("]: ")
            && !label.contains(']')
        {
            targets.push(
                target
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    targets
}

/// GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to
/// hyphens.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor_of(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_to_a_repository_file_resolves() {
    let mut dead = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        for target in link_targets(&text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                document.clone()
            } else {
                document.parent().unwrap().join(path)
            };
            let Ok(file) = file.canonicalize() else {
                dead.push(format!("{}: {target} does not exist", document.display()));
                continue;
            };
            if !file.starts_with(root()) {
                dead.push(format!(
                    "{}: {target} is outside the repository",
                    document.display()
                ));
                continue;
            }
            if let Some(anchor) = anchor
                && file.extension().is_some_and(|e| e == "md")
            {
                let headings = anchors(&std::fs::read_to_string(&file).unwrap());
                if !headings.iter().any(|h| h == anchor) {
                    dead.push(format!("{}: {target}: no such heading", document.display()));
                }
            }
        }
    }
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

/// Whether a code-quoted word reads as a path in this repository.
fn looks_like_repository_path(quoted: &str) -> bool {
    const EXTENSIONS: [&str; 10] = [
        "md", "rs", "sh", "toml", "json", "py", "mjs", "sql", "yml", "html",
    ];
    !quoted.contains(['<', '>', '*', ' ', '$', '~'])
        && !quoted.starts_with('.')
        && !quoted.starts_with('/')
        && quoted.contains('/')
        && quoted
            .rsplit_once('.')
            .is_some_and(|(_, ext)| EXTENSIONS.contains(&ext))
}

#[test]
fn every_repository_path_in_code_quotes_exists() {
    let root = root();
    let mut missing = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        for (i, quoted) in text.split('`').enumerate() {
            // Odd pieces are inside single backquotes.
            if i % 2 == 0 || !looks_like_repository_path(quoted) {
                continue;
            }
            let path = quoted.split(':').next().unwrap();
            let here = document.parent().unwrap().join(path);
            // Also a path inside some crate or its sources (ARCHITECTURE.md
            // names `store/shared.rs` under glyph-server's code map).
            let in_a_crate = std::fs::read_dir(&root)
                .unwrap()
                .filter_map(Result::ok)
                .any(|dir| {
                    dir.path().join(path).exists() || dir.path().join("src").join(path).exists()
                });
            if !root.join(path).exists() && !here.exists() && !in_a_crate {
                missing.push(format!("{}: `{quoted}`", document.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_checker_finds_what_it_should() {
    let text = "see [a](docs/a.md#b) and [c][d]\n\n[d]: ../x.md\n```\n[no](fenced.md)\n```\n";
    assert_eq!(link_targets(text), ["docs/a.md#b", "../x.md"]);
    assert_eq!(
        anchor_of(" 9. Devices: one identity"),
        "9-devices-one-identity"
    );
    assert!(looks_like_repository_path("tests/cli_two_users.sh"));
    assert!(!looks_like_repository_path("<profile>/glyph.vault"));
    assert!(!looks_like_repository_path("README.md"));
}
