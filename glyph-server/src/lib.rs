//! The Glyph server: it stores and forwards sealed boxes and never sees a
//! plaintext or a private key.
//!
//! What it will hold (the server issue): key-based authentication (a signed
//! challenge answered with a one-hour JWT), users and an optional handle
//! directory, signed and one-time prekeys, the message table (an envelope for
//! each recipient and a sealed self-copy), group rosters, live WebSocket
//! push, and storage behind a trait with a SQLite (embedded default) and a
//! PostgreSQL (scale-out) implementation. The encrypted media store and the
//! one-view share relay follow.
//!
//! Today it holds only the server's view of the crypto crate: the checks it
//! can make on what clients upload without any secret.
#![forbid(unsafe_code)]

/// Whether `code` is a well-formed share code (spec section 7), the check the
/// relay applies to every `/s/<code>` path before touching storage.
pub fn is_valid_share_code(code: &str) -> bool {
    glyph_crypto::validate_share_code(code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_codes_are_checked() {
        assert!(is_valid_share_code("AbCdEfGhIjK"));
        assert!(!is_valid_share_code("../../etc"));
    }
}
