//! Continuous backup in the binary: the shipper `serve` runs beside the server (SQLite), the
//! trust page's backup line, and the commands `backup status | snapshot | verify` and
//! `restore`. PostgreSQL is archived by pgBackRest; these commands report on it.

use crate::config::Resolved;
use crate::runtime::{Failure, Runtime};
use cista_backup::{
    BackupError, BackupStatus, BackupTarget, ErasureSource, SharedStatus, Shipper, ShipperSettings,
    TargetSpec, keyring, ledger, restore,
};
use cista_core::Cista;
use cista_core::ports::Vault;
use cista_store::Target;
use cista_types::{Clock as _, OsRng, Secret, SubjectCode, SystemClock, Timestamp};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod probe;
mod recovery;
mod status;

use probe::PgProbe;
pub use probe::ShipperProbe;
pub use recovery::{restore, verify};
pub use status::status;

impl From<BackupError> for Failure {
    fn from(e: BackupError) -> Self {
        Failure(e.to_string())
    }
}

fn now_ms() -> i64 {
    SystemClock.now().unix_micros() / 1000
}

/// The configured target, if any.
pub fn target_spec(rt: &Runtime) -> Result<Option<TargetSpec>, Failure> {
    let Some(raw) = &rt.paths.backup_target else {
        return Ok(None);
    };
    Ok(Some(spec_with_account(rt, raw)?))
}

/// Where attachments' bytes go (`blobs.target`, default `<data dir>/blobs`).
pub fn blob_store(rt: &Runtime) -> Result<cista_backup::blobs::ObjectBlobStore, Failure> {
    let spec = spec_with_account(rt, &rt.paths.blobs_target)?;
    Ok(cista_backup::blobs::ObjectBlobStore::open(&spec)?)
}

/// `raw` (a directory or `s3://bucket/prefix`) with the `[backup]` section's object storage
/// account (endpoint, region, path style, credentials) for a bucket.
fn spec_with_account(rt: &Runtime, raw: &str) -> Result<TargetSpec, Failure> {
    let mut spec = TargetSpec::parse(raw)?;
    if let TargetSpec::S3(s3) = &mut spec {
        let b = &rt.config.backup;
        s3.endpoint.clone_from(&b.s3_endpoint);
        s3.region.clone_from(&b.s3_region);
        s3.path_style = b.s3_path_style;
        s3.access_key_id = b
            .s3_access_key_id
            .clone()
            .or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok());
        s3.secret_access_key = b
            .s3_secret_access_key
            .clone()
            .or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok().map(Secret::new));
    }
    Ok(spec)
}

fn require_target(rt: &Runtime) -> Result<BackupTarget, Failure> {
    match target_spec(rt)? {
        Some(spec) => Ok(BackupTarget::open(&spec)?),
        None => Err(Failure(format!(
            "no backup is configured: set backup.target (a directory or s3://bucket/prefix), or \
             create {} for the default",
            Resolved::default_backup_dir(&rt.paths.data_dir).display()
        ))),
    }
}

fn sqlite_path(rt: &Runtime) -> Result<Option<PathBuf>, Failure> {
    match rt.target()? {
        Target::SqliteFile(path) => Ok(Some(path)),
        _ => Ok(None),
    }
}

/// Feeds the erasure ledger from the person vault.
#[derive(Debug)]
struct VaultErasures(Arc<dyn Vault>);

#[async_trait::async_trait]
impl ErasureSource for VaultErasures {
    async fn erasures(&self) -> Result<Vec<ledger::ErasureEntry>, String> {
        Ok(self
            .0
            .tombstones()
            .await
            .map_err(|e| e.chain())?
            .into_iter()
            .map(|(subject, at)| ledger::ErasureEntry {
                subject: subject.to_string(),
                erased_at: at.to_rfc3339(),
            })
            .collect())
    }
}

/// What a running server does for backups.
#[derive(Debug)]
pub struct RunningBackup {
    pub probe: Arc<dyn cista_http::BackupProbe>,
    task: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
    _lock: Option<std::fs::File>,
}

impl RunningBackup {
    /// Ships what is left and stops.
    pub async fn stop(self) {
        if let Some((task, stop)) = self.task {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// Takes the lock that makes this process the only shipper of this database.
fn take_lock(rt: &Runtime) -> Result<Option<std::fs::File>, Failure> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&rt.paths.backup_lock_file)
        .map_err(|e| Failure(format!("{}: {e}", rt.paths.backup_lock_file.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Failure(format!(
            "{}: {e}",
            rt.paths.backup_lock_file.display()
        ))),
    }
}

fn shipper_settings(
    rt: &Runtime,
    db: PathBuf,
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
) -> ShipperSettings {
    let b = &rt.config.backup;
    let mut settings = ShipperSettings::new(db);
    settings.interval = Duration::from_millis(b.ship_interval_ms.clamp(10, 10_000));
    settings.checkpoint_frames = b.checkpoint_frames.max(16);
    settings.snapshot_every =
        time::Duration::hours(i64::try_from(b.snapshot_interval_hours.max(1)).unwrap_or(24));
    settings.retention = time::Duration::days(i64::try_from(b.retention_days.max(1)).unwrap_or(35));
    settings.stale_after =
        time::Duration::seconds(i64::try_from(b.stale_after_secs.max(1)).unwrap_or(60));
    settings.status_file = Some(rt.paths.backup_status_file.clone());
    settings.snapshot_request = Some(rt.paths.backup_snapshot_request.clone());
    settings.write_turn = write_turn;
    settings
}

async fn start_shipper(
    rt: &Runtime,
    cista: &Cista,
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    db: PathBuf,
    target: BackupTarget,
    status: SharedStatus,
) -> Result<Shipper, Failure> {
    let keys = rt.key_provider()?;
    let key = keyring::load_or_create(&target, keys.as_ref(), &OsRng, SystemClock.now()).await?;
    let settings = shipper_settings(rt, db, write_turn);
    Ok(Shipper::start(
        settings,
        target,
        key,
        Arc::new(OsRng),
        Arc::new(SystemClock),
        Some(Arc::new(VaultErasures(cista.vault().clone()))),
        status,
    )
    .await?)
}

/// Starts shipping beside the server, or explains why there is none. A target that cannot be
/// reached at start stops the server: better than running without the promised backup.
pub async fn start(
    rt: &Runtime,
    cista: &Cista,
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
) -> Result<RunningBackup, Failure> {
    let Some(spec) = target_spec(rt)? else {
        tracing::warn!("no backup.target: this instance is not backed up");
        return Ok(RunningBackup {
            probe: Arc::new(cista_http::NoBackup),
            task: None,
            _lock: None,
        });
    };
    let Some(db) = sqlite_path(rt)? else {
        return Ok(RunningBackup {
            probe: Arc::new(PgProbe::spawn(rt)),
            task: None,
            _lock: None,
        });
    };
    let Some(lock) = take_lock(rt)? else {
        return Err(Failure(format!(
            "another process ships the backup of {} (it holds {}); stop it first",
            db.display(),
            rt.paths.backup_lock_file.display()
        )));
    };
    let target = BackupTarget::open(&spec)?;
    let status: SharedStatus = Arc::new(Mutex::new(BackupStatus::default()));
    let shipper = start_shipper(rt, cista, write_turn, db, target, status.clone()).await?;
    tracing::info!(target = %spec.describe(), lineage = %shipper.lineage(), "continuous backup started");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(shipper.run(async {
        let _ = stopped.await;
    }));
    Ok(RunningBackup {
        probe: Arc::new(ShipperProbe(status)),
        task: Some((task, stop)),
        _lock: Some(lock),
    })
}

/// `cista backup snapshot`.
pub async fn snapshot(rt: &Runtime) -> Result<(), Failure> {
    let Some(db) = sqlite_path(rt)? else {
        return Err(Failure(format!(
            "on PostgreSQL, pgBackRest takes backups: pgbackrest --stanza={} backup",
            rt.config
                .backup
                .pgbackrest_stanza
                .as_deref()
                .unwrap_or("STANZA")
        )));
    };
    let target = require_target(rt)?;
    let started = now_ms();
    match take_lock(rt)? {
        None => {
            // A running server ships this database: ask it, and wait.
            std::fs::write(&rt.paths.backup_snapshot_request, b"snapshot\n").map_err(|e| {
                Failure(format!(
                    "{}: {e}",
                    rt.paths.backup_snapshot_request.display()
                ))
            })?;
            println!("asked the running server for a snapshot…");
            for _ in 0..3600 {
                if !rt.paths.backup_snapshot_request.exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            if rt.paths.backup_snapshot_request.exists() {
                let _ = std::fs::remove_file(&rt.paths.backup_snapshot_request);
                return Err(Failure(
                    "the running server did not take the snapshot within 15 minutes; see its log"
                        .to_owned(),
                ));
            }
        }
        Some(_lock) => {
            let (cista, write_turn) = rt.open_parts(false).await?;
            let status: SharedStatus = Arc::new(Mutex::new(BackupStatus::default()));
            let mut shipper =
                start_shipper(rt, &cista, write_turn, db, target.clone(), status).await?;
            shipper.snapshot_now().await?;
        }
    }
    let listing = target.list(cista_backup::format::SQLITE).await?;
    let newest = cista_backup::format::catalog(&listing)
        .iter()
        .flat_map(|l| l.complete_snapshots().cloned().collect::<Vec<_>>())
        .max_by_key(|s| s.at_ms);
    match newest {
        Some(s) if s.at_ms >= started - 1000 => {
            println!(
                "snapshot stored at {} ({:.1} MB) in {}",
                restore::format_time(s.at_ms),
                s.size as f64 / 1e6,
                target.describe()
            );
            Ok(())
        }
        _ => Err(Failure("no new snapshot appeared in the target".to_owned())),
    }
}

/// After `cista erase`: put the erasure in the ledger at once (a running server would within
/// a second; a stopped one would not until it starts).
pub async fn record_erasure(
    rt: &Runtime,
    subject: SubjectCode,
    at: Timestamp,
) -> Result<(), Failure> {
    let Some(spec) = target_spec(rt)? else {
        return Ok(());
    };
    let target = BackupTarget::open(&spec)?;
    ledger::record(
        &target,
        &ledger::ErasureEntry {
            subject: subject.to_string(),
            erased_at: at.to_rfc3339(),
        },
    )
    .await?;
    Ok(())
}
