//! One writer per profile at a time: an in-process mutex plus an exclusive
//! lock on a file in the profile directory, so that two processes (say
//! `glyph listen` and `glyph send` in two terminals) never advance the same
//! ratchet from the same state. Each operation takes it, reads what it
//! needs from the vault, writes, and lets go.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::ClientError;

/// The profile's lock.
#[derive(Debug, Clone)]
pub(crate) struct ProfileLock {
    file: Arc<File>,
    local: Arc<Mutex<()>>,
}

/// Held while an operation runs; dropping it unlocks.
pub(crate) struct LockGuard {
    file: Arc<File>,
    _local: OwnedMutexGuard<()>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the process also releases it; an error here is harmless.
        let _ = self.file.unlock();
    }
}

impl ProfileLock {
    pub(crate) fn new(profile: &Path) -> Result<Self, ClientError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(profile.join("lock"))?;
        Ok(Self {
            file: Arc::new(file),
            local: Arc::new(Mutex::new(())),
        })
    }

    /// Waits for the profile, in this process and then across processes.
    pub(crate) async fn acquire(&self) -> Result<LockGuard, ClientError> {
        let local = self.local.clone().lock_owned().await;
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || file.lock())
            .await
            .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))??;
        Ok(LockGuard {
            file: self.file.clone(),
            _local: local,
        })
    }
}
