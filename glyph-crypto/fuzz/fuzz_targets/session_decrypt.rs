#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glyph_crypto_fuzz::session_decrypt(data));
