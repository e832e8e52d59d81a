//! Continuous backup and point-in-time restore (DESIGN §7). On SQLite the server ships every
//! committed transaction from the WAL to object storage (a local directory or an S3-compatible
//! bucket), encrypted and compressed, takes snapshots and applies retention; restore rebuilds
//! the database as it was at any moment of the window and proves there is no gap. The erasure
//! ledger beside the backups is replayed by every restore. On PostgreSQL, pgBackRest archives
//! and Cista reports its state.

pub mod blobs;
pub mod format;
pub mod keyring;
pub mod ledger;
pub mod pgbackrest;
pub mod restore;
pub mod retention;
pub mod shipper;
pub mod status;
pub mod target;
pub mod wal;

pub use restore::{Progress, RestoreDir, RestorePoint, RestoreReport, Window};
pub use shipper::{ErasureSource, Shipper, ShipperSettings};
pub use status::{BackupStatus, SharedStatus};
pub use target::{BackupTarget, S3Spec, TargetSpec};

/// A backup failure, each kind with a message that names the problem for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target cannot be reached or written (network, permissions, disk full).
    #[error("{0}")]
    Unavailable(String),
    /// The key provider cannot unwrap the backup key.
    #[error("{0}")]
    WrongKey(String),
    /// An object failed its checksum or authentication, or does not belong where it is.
    #[error("{0}")]
    Integrity(String),
    /// A segment or snapshot piece is missing.
    #[error("{0}")]
    Gap(String),
    /// The requested time is outside what the backup holds.
    #[error("{0}")]
    OutsideWindow(String),
    /// The WAL no longer continues what was shipped (the shipper starts a new lineage).
    #[error("{0}")]
    Continuity(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Database(String),
}
