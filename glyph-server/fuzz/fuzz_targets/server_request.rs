#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glyph_server_fuzz::server_request(data));
