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
        // Uncontended (the usual case), the file lock is taken here at
        // once; only when another process holds it is the wait moved to a
        // blocking thread (a hand-off that costs about 50 µs).
        match self.file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let file = self.file.clone();
                tokio::task::spawn_blocking(move || file.lock())
                    .await
                    .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))??;
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(ClientError::Io(err)),
        }
        Ok(LockGuard {
            file: self.file.clone(),
            _local: local,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::ProfileLock;

    /// Two handles on one profile's lock file stand for two processes
    /// (a file lock belongs to the open file, not to the process).
    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProfileLock::new(dir.path()).unwrap();
        let second = ProfileLock::new(dir.path()).unwrap();
        let held = first.acquire().await.unwrap();
        let waiting = tokio::spawn(async move { second.acquire().await.map(|_| ()) });
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert!(!waiting.is_finished(), "the lock was taken twice");
        drop(held);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the second holder gets the lock once it is free")
            .unwrap()
            .unwrap();
        // Uncontended, it is taken again at once.
        drop(first.acquire().await.unwrap());
    }
}
