//! The blob store: where large values (attachments) live, as objects under keys, written and
//! read in pieces so nothing is held whole in memory. Implemented over `object_store` (a local
//! directory, or an S3-compatible bucket) in `cista-backup::blobs`. The core never hands it
//! plaintext: `crate::platform::blobs` seals every piece first.

use crate::Result;
use async_trait::async_trait;
use cista_types::Timestamp;

/// A blob as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobListing {
    /// Its key, as `create` was given it.
    pub key: String,
    /// When it was last written (published or replaced), as the store records it (whole
    /// seconds on some stores).
    pub modified: Timestamp,
}

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Where blobs go, for the trust page and messages (`local directory …`, `s3://…`).
    fn describe(&self) -> String;

    /// Starts writing `key`. Nothing is visible under `key` until the writer's `finish`
    /// succeeds; an aborted or dropped writer leaves nothing behind.
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>>;

    /// Reads `key` in pieces; `None` when there is no such blob.
    async fn open(&self, key: &str) -> Result<Option<Box<dyn BlobReader>>>;

    async fn exists(&self, key: &str) -> Result<bool>;

    /// Moves a finished blob to another key (replacing what is there).
    async fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// Removes a blob; removing one that is not there is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Every published blob whose key starts with `prefix`, sorted by key. The listing is held
    /// in memory: callers list one organization's space (`orgs/ORG/`) at a time.
    async fn list(&self, prefix: &str) -> Result<Vec<BlobListing>>;
}

#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<()>;

    /// Publishes the blob under its key.
    async fn finish(self: Box<Self>) -> Result<()>;

    /// Gives up: nothing is published.
    async fn abort(self: Box<Self>) -> Result<()>;
}

#[async_trait]
pub trait BlobReader: Send {
    /// The next piece, or `None` at the end.
    async fn next(&mut self) -> Result<Option<Vec<u8>>>;
}
