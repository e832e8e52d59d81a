//! The core's `BlobStore` over `object_store`: a local directory (created 0700; the default is
//! `<data dir>/blobs`) or an S3-compatible bucket, opened from the same `TargetSpec` as the
//! backup target. Writes stream through `WriteMultipart` (S3 multipart uploads of 5 MiB parts;
//! on a local directory a staging file renamed into place when complete), so a blob is never
//! held whole in memory and nothing is visible under its key until it is complete.

use crate::BackupError;
use crate::target::{BackupTarget, TargetSpec};
use async_trait::async_trait;
use cista_core::ports::{BlobListing, BlobReader, BlobStore, BlobWriter};
use cista_core::{Error, Result};
use cista_types::Timestamp;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use object_store::{ObjectStoreExt as _, WriteMultipart};

/// How many parts of one blob upload at once.
const PARTS_IN_FLIGHT: usize = 2;

fn core_error(e: BackupError) -> Error {
    Error::store_unavailable(e)
}

/// Blobs in a local directory or a bucket.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    target: BackupTarget,
}

impl ObjectBlobStore {
    /// Opens the store; a local directory is created with mode 0700 (blobs are sealed, but
    /// their sizes and count are still nobody else's business).
    pub fn open(spec: &TargetSpec) -> std::result::Result<Self, BackupError> {
        if let TargetSpec::Local(dir) = spec {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    BackupError::Unavailable(format!(
                        "cannot create the blob directory {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                    |e| {
                        BackupError::Unavailable(format!(
                            "cannot restrict the blob directory {}: {e}",
                            dir.display()
                        ))
                    },
                )?;
            }
        }
        Ok(Self {
            target: BackupTarget::open(spec)?,
        })
    }

    fn failed(&self, e: object_store::Error) -> Error {
        core_error(self.target.unavailable(e))
    }
}

struct Writer {
    upload: Option<WriteMultipart>,
    store: ObjectBlobStore,
}

#[async_trait]
impl BlobWriter for Writer {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<()> {
        let upload = self
            .upload
            .as_mut()
            .ok_or(Error::Internal("a finished blob was written to".into()))?;
        upload
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| self.store.failed(e))?;
        upload.write(&bytes);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        let upload = self
            .upload
            .take()
            .ok_or(Error::Internal("a blob was finished twice".into()))?;
        upload.finish().await.map_err(|e| self.store.failed(e))?;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        if let Some(upload) = self.upload.take() {
            upload.abort().await.map_err(|e| self.store.failed(e))?;
        }
        Ok(())
    }
}

struct Reader {
    stream: BoxStream<'static, object_store::Result<bytes::Bytes>>,
    store: ObjectBlobStore,
}

#[async_trait]
impl BlobReader for Reader {
    async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        match self.stream.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            Some(Err(e)) => Err(self.store.failed(e)),
        }
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    fn describe(&self) -> String {
        self.target.describe().to_owned()
    }

    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>> {
        let upload = self
            .target
            .store
            .put_multipart(&self.target.path(key))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(Box::new(Writer {
            upload: Some(WriteMultipart::new(upload)),
            store: self.clone(),
        }))
    }

    async fn open(&self, key: &str) -> Result<Option<Box<dyn BlobReader>>> {
        match self.target.store.get(&self.target.path(key)).await {
            Ok(result) => Ok(Some(Box::new(Reader {
                stream: result.into_stream(),
                store: self.clone(),
            }))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        match self.target.store.head(&self.target.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.target
            .store
            .rename(&self.target.path(from), &self.target.path(to))
            .await
            .map_err(|e| self.failed(e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.target.delete(key).await.map_err(core_error)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobListing>> {
        self.target
            .list_objects(prefix)
            .await
            .map_err(core_error)?
            .into_iter()
            // A local directory also holds `put_multipart`'s unfinished files (`KEY#N`), which
            // are not blobs; the staging keys are (`staging/…`).
            .filter(|o| !o.key.contains('#'))
            .map(|o| {
                Ok(BlobListing {
                    modified: Timestamp::from_unix_micros(o.modified_unix_micros)
                        .map_err(|e| Error::Internal(format!("{}: {e}", o.key)))?,
                    key: o.key,
                })
            })
            .collect()
    }
}
