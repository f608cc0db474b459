//! Checks test-vector files made by anyone, or writes this crate's own.
//!
//! ```text
//! cargo run -p glyph-crypto --example vectors -- verify FILE...
//! cargo run -p glyph-crypto --example vectors -- generate DIR
//! ```
//!
//! Exit status: 0 when every vector agrees (or the files were written),
//! 1 on the first disagreement (the message names the vector and field),
//! 2 on a usage, file or JSON error.

use std::path::Path;
use std::process::ExitCode;

use glyph_crypto::vectors;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, files)) if command == "verify" && !files.is_empty() => verify(files),
        Some((command, dir)) if command == "generate" && dir.len() == 1 => {
            generate(Path::new(&dir[0]))
        }
        _ => {
            eprintln!("usage: vectors verify FILE...\n       vectors generate DIR");
            ExitCode::from(2)
        }
    }
}

fn verify(files: &[String]) -> ExitCode {
    for file in files {
        let value = match std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        {
            Ok(value) => value,
            Err(err) => {
                eprintln!("{file}: {err}");
                return ExitCode::from(2);
            }
        };
        match vectors::verify(&value) {
            Ok((section, count)) => println!("{file}: {count} {section} vectors agree"),
            Err(vectors::VectorError::Mismatch(mismatch)) => {
                eprintln!("{file}: DISAGREES: {mismatch}");
                return ExitCode::from(1);
            }
            Err(err) => {
                eprintln!("{file}: {err}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

fn generate(dir: &Path) -> ExitCode {
    if let Err(err) = std::fs::create_dir_all(dir) {
        eprintln!("{}: {err}", dir.display());
        return ExitCode::from(2);
    }
    for kind in vectors::KINDS {
        let path = dir.join(format!("{kind}.json"));
        let written = vectors::generate(kind)
            .map_err(|e| e.to_string())
            .and_then(|file| serde_json::to_string_pretty(&file).map_err(|e| e.to_string()))
            .and_then(|text| std::fs::write(&path, text + "\n").map_err(|e| e.to_string()));
        match written {
            Ok(()) => println!("wrote {}", path.display()),
            Err(err) => {
                eprintln!("{}: {err}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
