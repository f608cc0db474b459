//! Randomness, always from the operating system.

use zeroize::Zeroizing;

use crate::error::Error;

/// `N` fresh random bytes from the OS, wiped when dropped.
pub(crate) fn random_array<const N: usize>() -> Result<Zeroizing<[u8; N]>, Error> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(bytes.as_mut()).map_err(|_| Error::Rng)?;
    Ok(bytes)
}
