//! Randomness from the operating system.

use crate::error::ClientError;

/// `N` random bytes.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], ClientError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| ClientError::Rng)?;
    Ok(out)
}

/// A fresh client id for a message: 16 random bytes as hex.
pub(crate) fn client_id() -> Result<String, ClientError> {
    Ok(hex::encode(bytes::<16>()?))
}
