//! Continuous backup in the binary: the shipper `serve` runs beside the server (SQLite), the
//! trust page's backup line, and the commands `backup status | snapshot | verify` and
//! `restore`. PostgreSQL is archived by pgBackRest; these commands report on it.

use crate::cli::RestoreArgs;
use crate::config::Resolved;
use crate::runtime::{Failure, Runtime};
use cista_backup::{
    BackupError, BackupStatus, BackupTarget, ErasureSource, RestoreDir, RestorePoint, SharedStatus,
    Shipper, ShipperSettings, TargetSpec, keyring, ledger, pgbackrest, restore,
};
use cista_core::ports::Vault;
use cista_core::{Actor, Cista};
use cista_store::Target;
use cista_types::{Clock as _, OsRng, Secret, SubjectCode, SystemClock, Timestamp};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// The trust page's view of a running shipper.
#[derive(Debug)]
pub struct ShipperProbe(pub SharedStatus);

impl cista_http::BackupProbe for ShipperProbe {
    fn line(&self) -> cista_http::BackupLine {
        let status = match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let now = now_ms();
        let mut details = vec![
            ("Target".to_owned(), status.target.clone()),
            (
                "Method".to_owned(),
                "every committed transaction read from SQLite's WAL and shipped within a \
                 tick; AES-256-GCM under a backup key wrapped by the key provider; \
                 deflate-compressed; SHA-256 per object; gap-free sequence"
                    .to_owned(),
            ),
            (
                "Lag".to_owned(),
                format!("{:.1} s", status.lag_ms as f64 / 1000.0),
            ),
        ];
        if let Some(at) = status.newest_snapshot_ms {
            details.push(("Newest snapshot".to_owned(), restore::format_time(at)));
        }
        if let Some(lineage) = &status.lineage {
            details.push((
                "Lineage".to_owned(),
                format!("{lineage}, {} segments", status.last_seq),
            ));
        }
        let mut notices = Vec::new();
        if let Some(step) = &status.clock_step {
            details.push(("Clock".to_owned(), step.describe()));
            notices.push(
                "the server's clock was once set back; the backup keeps its own order, so \
                 restores are not affected"
                    .to_owned(),
            );
        }
        let ok = status.healthy(now);
        let lag = format!("lag {:.1} s", status.lag_ms as f64 / 1000.0);
        cista_http::BackupLine {
            ok,
            // No target path, lineage id or error text for the public: the facts only.
            summary: if ok {
                format!("continuous, encrypted; {lag}")
            } else if status.running {
                format!("FAILING: the backup is behind or failing ({lag})")
            } else {
                "FAILING: not running".to_owned()
            },
            staff_summary: if ok {
                format!("continuous to {}; {lag}", status.target)
            } else {
                format!("FAILING: {}", status.summary(now))
            },
            details,
            notices,
        }
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

/// PostgreSQL: pgBackRest's state, polled in the background for the trust page.
#[derive(Debug)]
struct PgProbe(Arc<Mutex<cista_http::BackupLine>>);

impl PgProbe {
    fn spawn(rt: &Runtime) -> Self {
        let line = Arc::new(Mutex::new(cista_http::BackupLine {
            ok: false,
            summary: "PostgreSQL archiving: not yet checked".to_owned(),
            ..cista_http::BackupLine::default()
        }));
        let shared = line.clone();
        let stanza = rt.config.backup.pgbackrest_stanza.clone();
        let config = rt.config.backup.pgbackrest_config.clone();
        let url = rt.paths.database_url.clone();
        let stale = i64::try_from(rt.config.backup.stale_after_secs).unwrap_or(60);
        tokio::spawn(async move {
            loop {
                let fresh =
                    pg_line(stanza.as_deref(), config.as_deref(), url.expose(), stale).await;
                if let Ok(mut slot) = shared.lock() {
                    *slot = fresh;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        Self(line)
    }
}

impl cista_http::BackupProbe for PgProbe {
    fn line(&self) -> cista_http::BackupLine {
        match self.0.lock() {
            Ok(line) => line.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

async fn pg_line(
    stanza: Option<&str>,
    config: Option<&Path>,
    url: &str,
    stale_secs: i64,
) -> cista_http::BackupLine {
    let Some(stanza) = stanza else {
        return cista_http::BackupLine {
            ok: false,
            summary: "PostgreSQL archiving: not configured".to_owned(),
            staff_summary:
                "PostgreSQL: set backup.pgbackrest_stanza (see docs/postgresql-backup.md)"
                    .to_owned(),
            ..cista_http::BackupLine::default()
        };
    };
    let info = pgbackrest::info(stanza, config).await;
    let archiver = pgbackrest::archiver_stats(url).await;
    let mut details = Vec::new();
    let mut ok = true;
    let mut summary =
        format!("PostgreSQL continuous archiving through pgBackRest (stanza {stanza})");
    match &info {
        Ok(info) => {
            ok &= info.healthy && info.backups > 0;
            details.push((
                "pgBackRest".to_owned(),
                format!("{}; {} backups", info.status, info.backups),
            ));
            if let Some(stop) = info.newest_backup_stop {
                details.push((
                    "Newest backup".to_owned(),
                    restore::format_time(stop * 1000),
                ));
            }
        }
        Err(e) => {
            ok = false;
            summary = format!("FAILING: {e}");
        }
    }
    match &archiver {
        Ok(a) => {
            ok &= !a.failing;
            if a.failing {
                summary = format!(
                    "FAILING: archiving of {} failed",
                    a.last_failed_wal.clone().unwrap_or_default()
                );
            }
            // An idle server archives nothing, so the age of the last archived segment is
            // shown, not judged; archive_timeout itself must bound the loss.
            if let (Some(since), Some(timeout)) = (a.seconds_since_archived, a.archive_timeout_secs)
            {
                ok &= timeout > 0 && timeout <= stale_secs;
                details.push((
                    "Last WAL archived".to_owned(),
                    format!("{since} s ago (archive_timeout {timeout} s)"),
                ));
            }
        }
        Err(e) => {
            ok = false;
            details.push(("Archiver".to_owned(), e.to_string()));
        }
    }
    cista_http::BackupLine {
        ok,
        // The public sees whether archiving keeps up, not the stanza or the error text.
        summary: if ok {
            "PostgreSQL continuous archiving through pgBackRest".to_owned()
        } else {
            "FAILING: PostgreSQL archiving is behind or failing".to_owned()
        },
        staff_summary: summary,
        details,
        notices: Vec::new(),
    }
}

/// `cista backup status`.
pub async fn status(rt: &Runtime) -> Result<ExitCode, Failure> {
    if sqlite_path(rt)?.is_none() {
        return pg_status(rt).await;
    }
    let target = require_target(rt)?;
    println!("Backup target       {}", target.describe());
    let now = now_ms();
    let running = take_lock(rt)?.is_none();
    let shipper = BackupStatus::read_file(&rt.paths.backup_status_file);
    let mut healthy = true;
    match (&shipper, running) {
        (Some(s), true) => {
            healthy = s.healthy(now);
            println!(
                "Shipping            {}{}",
                s.summary(now),
                if healthy {
                    ""
                } else {
                    "  — BEHIND OR FAILING"
                }
            );
            println!("Lag                 {:.1} s", s.lag_ms as f64 / 1000.0);
            println!(
                "Status written      {:.1} s ago by the running server",
                (now - s.updated_ms) as f64 / 1000.0
            );
        }
        (_, true) => println!(
            "Shipping            a server holds the backup lock but has written no status yet"
        ),
        (_, false) => {
            println!("Shipping            not running (no server has this data directory open)")
        }
    }
    let lineages = restore::restorable(&target).await?;
    let listing = target.list(cista_backup::format::SQLITE).await?;
    let catalog = cista_backup::format::catalog(&listing);
    let newest = catalog
        .iter()
        .flat_map(|l| l.complete_snapshots())
        .max_by_key(|s| s.at_ms);
    match newest {
        Some(s) => println!(
            "Newest snapshot     {} ({:.1} MB stored)",
            restore::format_time(s.at_ms),
            s.size as f64 / 1e6
        ),
        None => {
            healthy = false;
            println!("Newest snapshot     none");
        }
    }
    match restore::window(&lineages) {
        Some(w) => println!(
            "Restorable window   {} … {}",
            restore::format_time(w.first_ms),
            restore::format_time(w.last_ms)
        ),
        None => println!("Restorable window   empty"),
    }
    // A clock that went back, found in the stored backup itself (or seen by the running
    // shipper): restores follow sequence numbers, so it is reported, not fatal.
    let mut steps = cista_backup::format::clock_steps(&catalog);
    if steps.is_empty()
        && let Some(step) = shipper.as_ref().and_then(|s| s.clock_step.clone())
    {
        steps.push(step);
    }
    match steps.last() {
        None => println!("Clock               never went back in this backup"),
        Some(step) => println!(
            "Clock               WENT BACK {}; latest: {}",
            cista_types::words::count(steps.len(), "time", "times"),
            step.describe()
        ),
    }
    let segments: usize = catalog.iter().map(|l| l.segments.len()).sum();
    let stored: u64 = catalog
        .iter()
        .map(|l| {
            l.segments.iter().map(|s| s.size).sum::<u64>()
                + l.snapshots.iter().map(|s| s.size).sum::<u64>()
        })
        .sum();
    println!(
        "Stored              {} lineages, {segments} segments, {:.1} MB",
        catalog.len(),
        stored as f64 / 1e6
    );
    println!(
        "Erasure ledger      {} erased subjects",
        ledger::subjects(&target).await?.len()
    );
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn pg_status(rt: &Runtime) -> Result<ExitCode, Failure> {
    let Some(stanza) = &rt.config.backup.pgbackrest_stanza else {
        return Err(Failure(
            "PostgreSQL is backed up by pgBackRest: set backup.pgbackrest_stanza (see \
             docs/postgresql-backup.md)"
                .to_owned(),
        ));
    };
    let info = pgbackrest::info(stanza, rt.config.backup.pgbackrest_config.as_deref()).await?;
    let archiver = pgbackrest::archiver_stats(rt.paths.database_url.expose()).await?;
    println!("Backup              PostgreSQL continuous archiving through pgBackRest");
    println!("Stanza              {} ({})", info.stanza, info.status);
    println!("Backups             {}", info.backups);
    if let Some(stop) = info.newest_backup_stop {
        println!(
            "Newest backup       {} ({})",
            restore::format_time(stop * 1000),
            info.newest_backup_label.clone().unwrap_or_default()
        );
    }
    if let (Some(start), Some(max)) = (info.oldest_backup_start, &info.archive_max_wal) {
        println!(
            "Restorable window   {} … WAL {max}",
            restore::format_time(start * 1000)
        );
    }
    match archiver.seconds_since_archived {
        Some(s) => println!(
            "Lag                 last WAL segment archived {s} s ago ({}); archive_timeout {} s",
            archiver.last_archived_wal.clone().unwrap_or_default(),
            archiver.archive_timeout_secs.unwrap_or(0)
        ),
        None => println!("Lag                 nothing archived yet"),
    }
    if archiver.failing {
        println!(
            "Archiving           FAILING at {}",
            archiver.last_failed_wal.clone().unwrap_or_default()
        );
    }
    let healthy = info.healthy && info.backups > 0 && !archiver.failing;
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
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

fn parse_point(raw: &str) -> Result<RestorePoint, Failure> {
    if raw.trim().eq_ignore_ascii_case("latest") {
        return Ok(RestorePoint::Latest);
    }
    let at = Timestamp::parse_rfc3339(raw.trim()).map_err(|_| {
        Failure(format!(
            "--to {raw}: use an RFC 3339 time such as 2026-11-22T14:03:00Z, or `latest`"
        ))
    })?;
    Ok(RestorePoint::At(at.unix_micros() / 1000))
}

/// What a finished restore did.
struct Restored {
    report: cista_backup::RestoreReport,
    erasures_replayed: usize,
    audit: String,
    path: PathBuf,
}

/// Restores into `into`, replays the erasure ledger, checks integrity and the audit log, and
/// only then moves the database into place.
async fn restore_into(
    rt: &Runtime,
    point: RestorePoint,
    into: &Path,
    show_progress: bool,
) -> Result<Restored, Failure> {
    if rt.config.vault.url.is_some() {
        return Err(Failure(
            "this instance keeps its vault in a separate database (vault.url), which the SQLite \
             backup does not ship yet; restore is refused rather than return people without \
             their vault"
                .to_owned(),
        ));
    }
    let target = require_target(rt)?;
    let keys = rt.key_provider()?;
    let Some(key) = keyring::load(&target, keys.as_ref()).await? else {
        return Err(Failure(format!(
            "{} holds no backup key: nothing was ever backed up there",
            target.describe()
        )));
    };
    let dir = RestoreDir::prepare(into)?;
    let work = dir.work_file();
    let bar = if show_progress {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "  restoring {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |p: cista_backup::Progress| {
        bar.set_length(p.total_bytes);
        bar.set_position(p.done_bytes);
    };
    let report = restore::restore_file(&target, &key, point, &work, &progress).await?;
    bar.finish_and_clear();
    restore::integrity_check(&work).await?;

    // Open the restored database as Cista would, replay the ledger, verify the audit log.
    let mut scratch = Runtime {
        config: rt.config.clone(),
        paths: rt.paths.clone(),
    };
    scratch.config.database.url = Some(Secret::new(format!("sqlite://{}", work.display())));
    scratch.paths.database_url = Secret::new(format!("sqlite://{}", work.display()));
    scratch.paths.backup_target = None;
    let (erasures_replayed, audit) = {
        let cista = scratch.open(true).await?;
        let replayed = replay_erasures(&cista, &target).await?;
        let verification = cista.verify_audit(&rt.operator()).await?;
        if let Some(problem) = &verification.problem {
            return Err(Failure(format!(
                "the restored audit log does not verify: {}",
                problem.message
            )));
        }
        (
            replayed,
            format!(
                "{} entries, {} signed checkpoints verified",
                verification.entries_checked, verification.checkpoints_checked
            ),
        )
    };
    restore::finalize(&work).await?;
    restore::integrity_check(&work).await?;
    let path = dir.commit()?;
    Ok(Restored {
        report,
        erasures_replayed,
        audit,
        path,
    })
}

/// Applies every erasure in the ledger that the restored database does not have yet.
async fn replay_erasures(cista: &Cista, target: &BackupTarget) -> Result<usize, Failure> {
    let actor = Actor::operator("restore: erasure ledger");
    let mut replayed = 0;
    for entry in ledger::entries(target).await? {
        let subject = SubjectCode::parse(&entry.subject).map_err(|e| {
            Failure(format!(
                "the erasure ledger holds a bad subject {}: {}",
                entry.subject, e.message
            ))
        })?;
        let vault = cista.vault().clone();
        if vault.tombstone(subject).await?.is_some() {
            continue;
        }
        match cista.erase_person(&actor, subject).await {
            Ok(()) => {}
            // Not in this copy at all (created after the restore time): record the tombstone
            // anyway, so the subject can never be stored again.
            Err(cista_core::Error::NotFound { .. }) => {
                let at = Timestamp::parse_rfc3339(&entry.erased_at)
                    .unwrap_or_else(|_| SystemClock.now());
                vault.erase_person(subject, at).await?;
            }
            Err(e) => return Err(e.into()),
        }
        replayed += 1;
    }
    Ok(replayed)
}

/// `cista restore --to TIME --into DIR`.
pub async fn restore(rt: &Runtime, args: &RestoreArgs) -> Result<(), Failure> {
    if sqlite_path(rt)?.is_none() {
        return Err(Failure(
            "this instance runs on PostgreSQL: restore with pgBackRest (pgbackrest --stanza=S \
             --type=time --target=TIME restore; see docs/postgresql-backup.md)"
                .to_owned(),
        ));
    }
    let point = parse_point(&args.to)?;
    let started = std::time::Instant::now();
    let done = restore_into(rt, point, &args.into, true).await?;
    let r = &done.report;
    println!(
        "restored {} as of {} (through segment {}: {} transactions in {} segments after the \
         snapshot of {}) in {:.1} s",
        done.path.display(),
        restore::format_time(r.restored_to_ms),
        r.restored_to_seq,
        r.transactions,
        r.segments,
        restore::format_time(r.snapshot_ms),
        started.elapsed().as_secs_f64()
    );
    println!("  integrity_check ok; audit log: {}", done.audit);
    println!(
        "  erasure ledger replayed: {} applied that this copy predates",
        cista_types::words::count(done.erasures_replayed, "erasure", "erasures")
    );
    println!(
        "serve it with: cista serve --data-dir {} (the key file stays {}; copy or point keys.file at it)",
        args.into.display(),
        rt.paths.kek_file.display()
    );
    Ok(())
}

/// `cista backup verify`.
pub async fn verify(rt: &Runtime) -> Result<(), Failure> {
    if sqlite_path(rt)?.is_none() {
        return Err(Failure(
            "on PostgreSQL, verify restores with scripts/pg-pitr-check.sh (see \
             docs/postgresql-backup.md)"
                .to_owned(),
        ));
    }
    let mut random = [0u8; 6];
    cista_types::Rng::fill(&OsRng, &mut random);
    let scratch = std::env::temp_dir().join(format!("cista-verify-{}", hex_string(&random)));
    let started = std::time::Instant::now();
    let result = restore_into(rt, RestorePoint::Latest, &scratch, false).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let done = result?;
    println!(
        "backup OK: restored to {} in {:.1} s ({:.1} MB, {} transactions after the snapshot of {}); integrity_check ok; audit log: {}; {} replayed",
        restore::format_time(done.report.restored_to_ms),
        started.elapsed().as_secs_f64(),
        done.report.db_len as f64 / 1e6,
        done.report.transactions,
        restore::format_time(done.report.snapshot_ms),
        done.audit,
        cista_types::words::count(done.erasures_replayed, "ledger erasure", "ledger erasures")
    );
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
