//! The backup target: one interface over a local directory and an S3-compatible bucket, both
//! through `object_store`. Writes are whole objects, published atomically (the local store
//! stages and renames with fsync; S3 PUTs are atomic), so a failed write never leaves a
//! partial object that looks valid.

use crate::BackupError;
use cista_types::Secret;
use futures::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where backups go.
#[derive(Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A directory on a local or mounted filesystem.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Spec),
}

/// An S3-compatible bucket; the secret never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Spec {
    pub bucket: String,
    /// Key prefix inside the bucket ("" for the root).
    pub prefix: String,
    /// e.g. `https://s3.eu-central-1.amazonaws.com` or a MinIO/Garage URL; `None` for AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`), which most self-hosted servers need.
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
}

impl std::fmt::Debug for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TargetSpec({})", self.describe())
    }
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    matches!(host, "localhost" | "127.0.0.1") || rest.starts_with("[::1]")
}

impl TargetSpec {
    /// Parses `backup.target`: a path (or `file:///path`) or `s3://bucket/prefix`.
    pub fn parse(raw: &str) -> Result<Self, BackupError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(BackupError::Invalid(
                "backup.target is empty: use a directory path or s3://bucket/prefix".to_owned(),
            ));
        }
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(BackupError::Invalid(format!(
                    "backup.target {raw}: an s3:// target needs a bucket, e.g. s3://cista-backups/palm-court"
                )));
            }
            return Ok(TargetSpec::S3(S3Spec {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                endpoint: None,
                region: "us-east-1".to_owned(),
                path_style: false,
                access_key_id: None,
                secret_access_key: None,
            }));
        }
        let path = raw.strip_prefix("file://").unwrap_or(raw);
        if raw.contains("://") && !raw.starts_with("file://") {
            return Err(BackupError::Invalid(format!(
                "backup.target {raw}: use a directory path, file:///path or s3://bucket/prefix"
            )));
        }
        Ok(TargetSpec::Local(PathBuf::from(path)))
    }

    /// A printable location without credentials.
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Local(path) => path.display().to_string(),
            TargetSpec::S3(s3) => {
                let at = s3
                    .endpoint
                    .as_deref()
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default();
                if s3.prefix.is_empty() {
                    format!("s3://{}{at}", s3.bucket)
                } else {
                    format!("s3://{}/{}{at}", s3.bucket, s3.prefix)
                }
            }
        }
    }
}

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its key relative to the target's root (or prefix).
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// When it was last written, in microseconds since the Unix epoch (whole seconds on S3).
    pub modified_unix_micros: i64,
}

/// An opened backup target. Keys are relative to the target's root (or prefix).
#[derive(Clone)]
pub struct BackupTarget {
    pub(crate) store: Arc<dyn ObjectStore>,
    prefix: String,
    description: String,
}

impl std::fmt::Debug for BackupTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupTarget({})", self.description)
    }
}

impl BackupTarget {
    /// Opens a target. A local directory is created if its parent exists (so an unmounted
    /// disk is an error, not a silent write to the root filesystem).
    pub fn open(spec: &TargetSpec) -> Result<Self, BackupError> {
        let description = spec.describe();
        match spec {
            TargetSpec::Local(dir) => {
                if !dir.exists() {
                    let parent_exists = dir
                        .parent()
                        .is_none_or(|p| p.as_os_str().is_empty() || p.exists());
                    if !parent_exists {
                        return Err(BackupError::Unavailable(format!(
                            "the backup directory {} does not exist and neither does its parent \
                             (is the disk mounted?)",
                            dir.display()
                        )));
                    }
                    std::fs::create_dir_all(dir).map_err(|e| {
                        BackupError::Unavailable(format!(
                            "cannot create the backup directory {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| {
                        BackupError::Unavailable(format!(
                            "cannot use the backup directory {}: {e}",
                            dir.display()
                        ))
                    })?
                    .with_fsync(true);
                Ok(Self {
                    store: Arc::new(store),
                    prefix: String::new(),
                    description,
                })
            }
            TargetSpec::S3(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_retry(RetryConfig {
                        backoff: BackoffConfig {
                            init_backoff: Duration::from_millis(100),
                            max_backoff: Duration::from_secs(2),
                            base: 2.0,
                        },
                        max_retries: 3,
                        retry_timeout: Duration::from_secs(15),
                    })
                    .with_client_options(
                        ClientOptions::new()
                            .with_timeout(Duration::from_secs(60))
                            .with_connect_timeout(Duration::from_secs(5)),
                    );
                if let Some(endpoint) = &s3.endpoint {
                    if endpoint.starts_with("http://") && !is_loopback_url(endpoint) {
                        return Err(BackupError::Invalid(format!(
                            "backup.s3_endpoint {endpoint}: backups leave this machine only over \
                             TLS; use https:// (plain http is accepted for a loopback test \
                             server only)"
                        )));
                    }
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(id) = &s3.access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose());
                }
                let store = builder.build().map_err(|e| {
                    BackupError::Invalid(format!("backup.target {description}: {e}"))
                })?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: s3.prefix.clone(),
                    description,
                })
            }
        }
    }

    pub fn describe(&self) -> &str {
        &self.description
    }

    pub(crate) fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        }
    }

    pub(crate) fn unavailable(&self, e: object_store::Error) -> BackupError {
        BackupError::Unavailable(format!(
            "the backup target {} failed: {}",
            self.description,
            one_line(&e.to_string())
        ))
    }

    /// Writes a whole object, replacing any object of that name.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.unavailable(e))
    }

    /// Reads an object; `None` if it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackupError> {
        match self.store.get(&self.path(key)).await {
            Ok(result) => Ok(Some(
                result
                    .bytes()
                    .await
                    .map_err(|e| self.unavailable(e))?
                    .to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    /// Every object under `prefix` (recursively), as (key relative to the target, size),
    /// sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, BackupError> {
        Ok(self
            .list_objects(prefix)
            .await?
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect())
    }

    /// Every object under `prefix` (recursively), with its size and modification time,
    /// sorted by key.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<ListedObject>, BackupError> {
        let base = self.path(prefix.trim_end_matches('/'));
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut listed: Vec<ListedObject> = self
            .store
            .list(Some(&base))
            .map_ok(|meta| {
                let full = meta.location.to_string();
                ListedObject {
                    key: full.strip_prefix(&strip).unwrap_or(&full).to_owned(),
                    size: meta.size,
                    modified_unix_micros: meta.last_modified.timestamp_micros(),
                }
            })
            .try_collect()
            .await
            .map_err(|e| self.unavailable(e))?;
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    pub async fn delete(&self, key: &str) -> Result<(), BackupError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.unavailable(e)),
        }
    }
}

/// object_store errors span lines and repeat their source; the operator gets one line.
fn one_line(message: &str) -> String {
    let flat: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.len() > 300 {
        let mut end = 300;
        while !flat.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", flat.get(..end).unwrap_or(""))
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_from_paths_and_urls() {
        assert_eq!(
            TargetSpec::parse("/var/backups/cista").ok(),
            Some(TargetSpec::Local(PathBuf::from("/var/backups/cista")))
        );
        assert_eq!(
            TargetSpec::parse("file:///var/backups/cista").ok(),
            Some(TargetSpec::Local(PathBuf::from("/var/backups/cista")))
        );
        match TargetSpec::parse("s3://bucket/a/b/") {
            Ok(TargetSpec::S3(s3)) => {
                assert_eq!(s3.bucket, "bucket");
                assert_eq!(s3.prefix, "a/b");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(TargetSpec::parse("gs://bucket").is_err());
        assert!(TargetSpec::parse("s3:///x").is_err());
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let spec = |endpoint: &str| {
            TargetSpec::S3(S3Spec {
                bucket: "b".into(),
                prefix: String::new(),
                endpoint: Some(endpoint.into()),
                region: "us-east-1".into(),
                path_style: true,
                access_key_id: Some("k".into()),
                secret_access_key: Some(Secret::from("s")),
            })
        };
        assert!(BackupTarget::open(&spec("http://backup.example.org:9000")).is_err());
        assert!(BackupTarget::open(&spec("http://127.0.0.1:9000")).is_ok());
        assert!(BackupTarget::open(&spec("https://backup.example.org")).is_ok());
    }
}
