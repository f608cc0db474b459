//! Media blob storage: ciphertext the server cannot open, kept in an
//! `object_store` backend (a folder under the data directory by default,
//! S3-compatible storage with the `s3` build feature). Uploads stream
//! through to storage and are never held whole in memory; the size limit is
//! enforced while streaming. Accounting (quota, who owns what, what is
//! removed) lives in the database, not here.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use thiserror::Error;

use crate::config::Config;

/// Parts in flight at once while uploading to storage.
const UPLOAD_CONCURRENCY: usize = 4;

/// Why a blob operation failed.
#[derive(Debug, Error)]
pub enum BlobError {
    /// The upload passed the size limit (nothing was kept).
    #[error("the blob is larger than {0} bytes")]
    TooLarge(u64),
    /// The client's body stream failed (it disconnected, say).
    #[error("reading the upload failed: {0}")]
    Body(String),
    /// The storage configuration is unusable.
    #[error("media storage: {0}")]
    Config(String),
    /// Storage has no such object.
    #[error("no such blob")]
    NotFound,
    /// The body did not arrive before its deadline (nothing was kept).
    #[error("the upload took too long")]
    TimedOut,
    /// The disk under local storage is full (nothing was kept).
    #[error("media storage is full")]
    Full,
    /// Storage failed.
    #[error("media storage: {0}")]
    Storage(object_store::Error),
}

impl From<object_store::Error> for BlobError {
    fn from(err: object_store::Error) -> Self {
        // A full disk surfaces as an I/O error somewhere in the chain.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(current) = cause {
            if let Some(io) = current.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::StorageFull
            {
                return BlobError::Full;
            }
            cause = current.source();
        }
        BlobError::Storage(err)
    }
}

/// Where blobs live.
#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl Blobs {
    /// Opens the storage the configuration names.
    pub fn open(config: &Config) -> Result<Self, BlobError> {
        match config.media_url.as_deref() {
            None => {
                std::fs::create_dir_all(config.data_dir.join("media"))
                    .map_err(|e| BlobError::Config(e.to_string()))?;
                let local = LocalFileSystem::new_with_prefix(&config.data_dir)?
                    .with_automatic_cleanup(true);
                Ok(Self {
                    store: Arc::new(local),
                })
            }
            Some(url) => Self::open_url(url),
        }
    }

    #[cfg(feature = "s3")]
    fn open_url(url: &str) -> Result<Self, BlobError> {
        let (bucket, prefix) = url
            .strip_prefix("s3://")
            .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
            .ok_or_else(|| BlobError::Config(format!("{url}: only s3:// URLs are supported")))?;
        let s3 = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()?;
        let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                s3,
                prefix.trim_matches('/'),
            ))
        };
        Ok(Self { store })
    }

    #[cfg(not(feature = "s3"))]
    fn open_url(url: &str) -> Result<Self, BlobError> {
        Err(BlobError::Config(format!(
            "{url}: this build has no S3 support; rebuild with `--features s3`"
        )))
    }

    /// Wraps any object store (tests use the in-memory one).
    pub fn from_store(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Streams `body` to `path`, refusing it once it passes `max` bytes or
    /// `deadline`. Returns the bytes stored. On any error nothing is left
    /// at `path`.
    pub async fn upload(
        &self,
        path: &str,
        body: Body,
        max: u64,
        deadline: tokio::time::Instant,
    ) -> Result<u64, BlobError> {
        let location = ObjectPath::from(path);
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut stream = body.into_data_stream();
        let mut total: u64 = 0;
        loop {
            let Ok(next) = tokio::time::timeout_at(deadline, stream.next()).await else {
                writer.abort().await.ok();
                return Err(BlobError::TimedOut);
            };
            let Some(chunk) = next else { break };
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(err) => {
                    writer.abort().await.ok();
                    return Err(BlobError::Body(err.to_string()));
                }
            };
            total += chunk.len() as u64;
            if total > max {
                writer.abort().await.ok();
                return Err(BlobError::TooLarge(max));
            }
            if let Err(err) = writer.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                writer.abort().await.ok();
                return Err(err.into());
            }
            writer.put(chunk);
        }
        writer.finish().await?;
        Ok(total)
    }

    /// The blob at `path` as a stream of chunks.
    pub async fn download(
        &self,
        path: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, object_store::Error>>, BlobError> {
        match self.store.get(&ObjectPath::from(path)).await {
            Ok(found) => Ok(found.into_stream()),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes the blob at `path`; deleting a missing blob is not an error.
    pub async fn delete(&self, path: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}
