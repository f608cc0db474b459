//! The keys a PIN unlocks: Argon2id with parameters stored in the file
//! (bounded, so a hostile file cannot make opening it take gigabytes or
//! hours), then HKDF into a sealing key and a tagging key.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::FORMAT;
use crate::error::ClientError;

/// Argon2id cost. The default is OWASP's recommended minimum for Argon2id
/// (19 MiB, 2 passes, 1 lane); the parameters are stored in the file, so a
/// later version can raise them for new vaults without breaking old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    pub(super) fn encode(self) -> Vec<u8> {
        [self.memory_kib, self.iterations, self.parallelism]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        let field = |i: usize| -> Result<u32, ClientError> {
            bytes
                .get(i * 4..i * 4 + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or(ClientError::CorruptStore("KDF parameters"))
        };
        if bytes.len() != 12 {
            return Err(ClientError::CorruptStore("KDF parameters"));
        }
        let params = Self {
            memory_kib: field(0)?,
            iterations: field(1)?,
            parallelism: field(2)?,
        };
        // A damaged (or hostile) file must not make opening it take
        // gigabytes or hours: stay within what a version of this crate
        // would choose.
        let sane = params.memory_kib <= MAX_KDF_MEMORY_KIB
            && (1..=MAX_KDF_ITERATIONS).contains(&params.iterations)
            && (1..=MAX_KDF_PARALLELISM).contains(&params.parallelism);
        if sane {
            Ok(params)
        } else {
            Err(ClientError::CorruptStore("KDF parameters out of range"))
        }
    }
}

/// Most memory a stored KDF setting may ask for (1 GiB).
const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
/// Most passes a stored KDF setting may ask for.
const MAX_KDF_ITERATIONS: u32 = 16;
/// Most lanes a stored KDF setting may ask for.
const MAX_KDF_PARALLELISM: u32 = 8;

/// The two keys a PIN unlocks: one seals values, one tags names.
pub(super) struct VaultKeys {
    pub(super) seal: Zeroizing<[u8; 32]>,
    pub(super) tag: Zeroizing<[u8; 32]>,
}

impl VaultKeys {
    pub(super) fn derive(pin: &str, salt: &[u8], params: KdfParams) -> Result<Self, ClientError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|_| ClientError::CorruptStore("KDF parameters"))?;
        let mut master = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
            .hash_password_into(pin.as_bytes(), salt, master.as_mut())
            .map_err(|_| ClientError::CorruptStore("KDF parameters"))?;
        let hkdf = Hkdf::<Sha256>::new(Some(FORMAT), master.as_ref());
        let mut seal = Zeroizing::new([0u8; 32]);
        let mut tag = Zeroizing::new([0u8; 32]);
        hkdf.expand(b"seal", seal.as_mut())
            .and_then(|()| hkdf.expand(b"tag", tag.as_mut()))
            .map_err(|_| ClientError::CorruptStore("key derivation"))?;
        Ok(Self { seal, tag })
    }
}
