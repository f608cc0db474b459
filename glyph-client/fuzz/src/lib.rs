//! The body of the fuzz target: arbitrary bytes handed to the client as an
//! inbox entry from its server. It must never panic, whatever the entry
//! says (sender, direction, routing, payload). glyph-client's `fuzz_corpus`
//! test runs this same function over every file in `corpus/inbox_entry/`.

/// One input.
pub fn inbox_entry(data: &[u8]) {
    let _ = glyph_client::fuzzing::receive(data);
}
