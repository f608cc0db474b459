//! The normative spec (`PROTOCOL.md` at the repository's root) and the code
//! agree on every label and constant: the spec's "Labels and constants"
//! table and `glyph_crypto::spec::TABLE` hold the same names with the same
//! values, every label also appears where the spec's text defines it, and
//! the code's behaviour uses those values (checked here on a few directly;
//! the test vectors check the rest byte for byte).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use glyph_crypto::spec::{self, TABLE, Value};

fn spec_text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of the spec's table: name, value (as text), section.
fn spec_table(text: &str) -> BTreeMap<String, (String, String)> {
    let section = text
        .split("\n## Labels and constants")
        .nth(1)
        .expect("the spec has a Labels and constants section");
    let section = section.split("\n## ").next().unwrap();
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a malformed row: {line}");
        let unquote = |cell: &str| cell.trim_matches('`').to_owned();
        let name = unquote(cells[0]);
        let previous = rows.insert(name.clone(), (unquote(cells[1]), cells[2].to_owned()));
        assert!(
            previous.is_none(),
            "{name} appears twice in the spec's table"
        );
    }
    rows
}

#[test]
fn every_constant_of_the_spec_is_the_value_the_code_uses_and_back() {
    let text = spec_text();
    let table = spec_table(&text);
    assert!(
        table.len() >= 20,
        "the spec's table is incomplete: {table:?}"
    );
    let code: BTreeMap<&str, Value> = TABLE.iter().copied().collect();
    for (name, (value, _)) in &table {
        let used = code
            .get(name.as_str())
            .unwrap_or_else(|| panic!("the spec names {name}, which the code does not define"));
        assert_eq!(
            &used.to_string(),
            value,
            "{name}: the spec says {value}, the code uses {used}"
        );
    }
    for (name, value) in &code {
        let (stated, _) = table.get(*name).unwrap_or_else(|| {
            panic!("the code defines {name} = {value}, which the spec's table lacks")
        });
        assert_eq!(stated, &value.to_string(), "{name}");
    }
}

#[test]
fn every_label_appears_where_the_spec_defines_it() {
    let text = spec_text();
    let body = text.split("\n## Labels and constants").next().unwrap();
    let table = spec_table(&text);
    for (name, value) in TABLE {
        if let Value::Label(label) = value {
            let section = &table[*name].1;
            let heading = format!("\n## {section}.");
            let start = body
                .find(&heading)
                .unwrap_or_else(|| panic!("{name}: the spec has no section {section}"));
            let rest = &body[start + heading.len()..];
            let end = rest.find("\n## ").unwrap_or(rest.len());
            assert!(
                rest[..end].contains(&format!("\"{label}\"")),
                "{name}: \"{label}\" is not in section {section} of the spec"
            );
        }
    }
}

#[test]
fn the_code_behaves_by_these_constants() {
    let words = glyph_crypto::Mnemonic::generate().unwrap();
    assert_eq!(words.phrase().split(' ').count(), spec::MNEMONIC_WORDS);
    // The safety code shows SAFETY_CODE_BYTES bytes as hex.
    let identity = glyph_crypto::Identity::from_mnemonic(&words, "").unwrap();
    let code = identity.public().fingerprint();
    let hex: String = code.chars().filter(char::is_ascii_hexdigit).collect();
    assert_eq!(hex.len(), spec::SAFETY_CODE_BYTES * 2, "{code}");
    // A media blob is the file and a TAG_LEN tag; a share blob is an
    // SHARE_IV_LEN IV, the secret and the tag.
    let blob = glyph_crypto::MediaKey::generate()
        .unwrap()
        .seal(b"file")
        .unwrap();
    assert_eq!(blob.len(), 4 + spec::TAG_LEN);
    let share = glyph_crypto::ShareKey::generate()
        .unwrap()
        .seal(b"secret")
        .unwrap();
    assert_eq!(share.len(), spec::SHARE_IV_LEN + 6 + spec::TAG_LEN);
    // A share code shorter than SHARE_CODE_MIN_LEN is refused.
    let key = || glyph_crypto::ShareKey::from_bytes([7; 32]);
    let short = "a".repeat(spec::SHARE_CODE_MIN_LEN - 1);
    let enough = "a".repeat(spec::SHARE_CODE_MIN_LEN);
    assert!(glyph_crypto::ShareLink::new("https://relay.example", &short, key()).is_err());
    assert!(glyph_crypto::ShareLink::new("https://relay.example", &enough, key()).is_ok());
    // A device list holds at most MAX_DEVICES.
    let ids: Vec<u32> = (1..=u32::try_from(spec::MAX_DEVICES).unwrap() + 1).collect();
    let signer = identity.signing();
    assert!(glyph_crypto::DeviceList::sign(signer, 1, &ids[..spec::MAX_DEVICES]).is_ok());
    assert!(glyph_crypto::DeviceList::sign(signer, 1, &ids).is_err());
}
