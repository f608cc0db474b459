#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glyph_client_fuzz::inbox_entry(data));
