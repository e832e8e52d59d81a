//! Paths derived from the configuration and the data directory: where the database, the
//! TLS files, the key file, the outbox, backups and blobs are when the config does not say.

use super::{Config, KeysConfig};
use cista_types::Secret;
use std::path::{Path, PathBuf};

/// Paths and values derived from the config and the data directory.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub data_dir: PathBuf,
    /// A secret: a PostgreSQL URL may hold a password.
    pub database_url: Secret,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub kek_file: PathBuf,
    pub ca_file: PathBuf,
    pub metrics_token_file: PathBuf,
    pub outbox_dir: PathBuf,
    /// `backup.target`, or else `<data dir>-backup` if that directory exists (the demo makes
    /// it); `None`: no backup.
    pub backup_target: Option<String>,
    /// The shipper's status, for `cista backup status` in another process.
    pub backup_status_file: PathBuf,
    /// Its existence asks the running shipper for a snapshot.
    pub backup_snapshot_request: PathBuf,
    /// Held (locked) by the process that ships this database's backup.
    pub backup_lock_file: PathBuf,
    /// `blobs.target`, or else `<data dir>/blobs`.
    pub blobs_target: String,
    /// Whether the TLS files are the generated local ones (so `init` may create them).
    pub generated_tls: bool,
}

impl Resolved {
    pub fn new(config: &Config, data_dir: &Path) -> Self {
        let tls_dir = data_dir.join("tls");
        let generated_tls = config.tls.cert_file.is_none() && config.tls.key_file.is_none();
        let mut kek = data_dir.as_os_str().to_owned();
        kek.push(".kek");
        Self {
            data_dir: data_dir.to_owned(),
            database_url: config.database.url.clone().unwrap_or_else(|| {
                Secret::new(format!("sqlite://{}", data_dir.join("cista.db").display()))
            }),
            cert_file: config
                .tls
                .cert_file
                .clone()
                .unwrap_or_else(|| tls_dir.join("server.pem")),
            key_file: config
                .tls
                .key_file
                .clone()
                .unwrap_or_else(|| tls_dir.join("server-key.pem")),
            kek_file: match &config.keys {
                KeysConfig::Local { file } => file.clone().unwrap_or_else(|| PathBuf::from(kek)),
                // Not used: the keys are on the token.
                KeysConfig::Pkcs11 { .. } => PathBuf::from(kek),
            },
            ca_file: tls_dir.join("ca.pem"),
            metrics_token_file: data_dir.join("secrets").join("metrics-token"),
            outbox_dir: config
                .email
                .outbox_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("outbox")),
            generated_tls,
            backup_target: config.backup.target.clone().or_else(|| {
                let default = Self::default_backup_dir(data_dir);
                default.is_dir().then(|| default.display().to_string())
            }),
            backup_status_file: data_dir.join("backup-status.json"),
            backup_snapshot_request: data_dir.join("backup-snapshot.request"),
            backup_lock_file: data_dir.join("backup.lock"),
            blobs_target: config
                .blobs
                .target
                .clone()
                .unwrap_or_else(|| data_dir.join("blobs").display().to_string()),
        }
    }

    /// Where backups go when `backup.target` is not set: beside the data directory, not in
    /// it, so losing the data directory does not lose them.
    pub fn default_backup_dir(data_dir: &Path) -> PathBuf {
        let mut dir = data_dir.as_os_str().to_owned();
        dir.push("-backup");
        PathBuf::from(dir)
    }
}
