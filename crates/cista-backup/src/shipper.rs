//! The SQLite shipper, inside the server process: it follows the WAL and ships every committed
//! transaction to the target within a tick (100 ms by default), takes snapshots and applies
//! retention. Litestream's design:
//!
//! * A read transaction is held open at all times (connection `reader`). SQLite cannot copy
//!   WAL frames into the database beyond a reader's snapshot, nor restart the WAL, while it is
//!   held; so no frame is overwritten before it is shipped. The server's own connections run
//!   with `wal_autocheckpoint = 0`: only the shipper checkpoints.
//! * To checkpoint, the shipper takes the write lock (`BEGIN IMMEDIATE` on `writer`), ships
//!   what is left, releases its read transaction, runs a PASSIVE checkpoint, takes its read
//!   transaction again (now pinned to the database file alone, because the WAL is fully copied)
//!   and lets writers go. The next writer restarts the WAL with new salts; the shipper expects
//!   exactly that and follows frame 0 of the new generation. Any other change of the WAL is a
//!   break in continuity, and a new lineage (with its own snapshot) starts.
//! * While the read transaction is pinned to the database file, that file cannot change, so a
//!   snapshot is a plain copy of it, taken in the background while shipping goes on.

use crate::format::{
    self, ChunkHeader, ChunkInfo, FORMAT, SegmentHeader, SnapshotManifest, TxnMark,
};
use crate::status::{BackupStatus, SharedStatus};
use crate::wal::{self, Checksum, WalHeader};
use crate::{BackupError, BackupTarget, ledger, retention};
use cista_crypto::DataKey;
use cista_types::{Clock, Rng};
use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod snapshot;
mod upkeep;
mod wal_shipping;

/// The longest upload allowed while the shipper holds SQLite's write lock.
const LOCKED_UPLOAD_LIMIT: Duration = Duration::from_secs(2);

/// Snapshot files are read and stored in chunks of this size.
pub const CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Where the erasures to put in the ledger come from (the person vault).
#[async_trait::async_trait]
pub trait ErasureSource: Send + Sync + std::fmt::Debug {
    async fn erasures(&self) -> Result<Vec<ledger::ErasureEntry>, String>;
}

#[derive(Debug, Clone)]
pub struct ShipperSettings {
    pub db_path: PathBuf,
    /// How often the WAL is read.
    pub interval: Duration,
    /// Checkpoint once this many frames are shipped in the current WAL generation.
    pub checkpoint_frames: u64,
    /// Largest segment, in frames (a larger transaction still makes one segment).
    pub segment_frames: u64,
    pub snapshot_every: time::Duration,
    pub retention: time::Duration,
    /// Lag or failure beyond this turns the status red.
    pub stale_after: time::Duration,
    /// Written after every change of status, for `cista backup status`.
    pub status_file: Option<PathBuf>,
    /// Its existence asks for a snapshot (`cista backup snapshot` against a running server).
    pub snapshot_request: Option<PathBuf>,
    /// The server's queue of SQLite writers: the shipper takes its turn there before taking
    /// the write lock, so a steady stream of writers cannot starve a checkpoint.
    pub write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl ShipperSettings {
    pub fn new(db_path: PathBuf) -> Self {
        Self {
            db_path,
            interval: Duration::from_millis(100),
            checkpoint_frames: 1000,
            segment_frames: 2048,
            snapshot_every: time::Duration::hours(24),
            retention: time::Duration::days(35),
            stale_after: time::Duration::seconds(60),
            status_file: None,
            snapshot_request: None,
            write_turn: None,
        }
    }

    fn wal_path(&self) -> PathBuf {
        let mut p = self.db_path.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    }
}

/// The generation of the WAL being followed and how far it is shipped.
#[derive(Debug, Clone, Copy)]
struct Generation {
    header: WalHeader,
    shipped: u64,
    shipped_checksum: Checksum,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    end_frame: u64,
    checksum: Checksum,
    at_ms: i64,
}

/// A snapshot being uploaded in the background.
#[derive(Debug)]
struct SnapshotJob {
    handle: tokio::task::JoinHandle<Result<SnapshotManifest, BackupError>>,
    requested: bool,
}

/// The shipper of one SQLite database.
pub struct Shipper {
    settings: ShipperSettings,
    target: BackupTarget,
    key: DataKey,
    rng: Arc<dyn Rng>,
    clock: Arc<dyn Clock>,
    reader: SqliteConnection,
    writer: SqliteConnection,
    lineage: String,
    next_seq: u64,
    generation: Option<Generation>,
    pending: Vec<Pending>,
    /// How many pending transactions segment `next_seq` holds, fixed at its first upload
    /// attempt: a retry after a failure (which may have stored the object anyway) writes the
    /// very same segment under the very same name, never a second segment with that number.
    batch_len: Option<usize>,
    /// After a full checkpoint: the next change of WAL generation is ours.
    expect_restart: bool,
    /// Frames of the current generation already copied into the database file.
    checkpointed_frames: u64,
    last_snapshot_ms: Option<i64>,
    /// The sequence number the newest stored snapshot of this lineage was taken at.
    last_snapshot_seq: Option<u64>,
    lineage_started_ms: i64,
    snapshot: Option<SnapshotJob>,
    last_retention_ms: i64,
    last_heartbeat_ms: i64,
    ledgered: HashSet<String>,
    last_ledger_ms: i64,
    erasures: Option<Arc<dyn ErasureSource>>,
    status: SharedStatus,
    /// The stamp of the last object the backup holds or this shipper observed: a clock
    /// reading behind it means the clock went back.
    last_stamp_ms: Option<i64>,
    /// The latest step back of the clock, found in the stored backup or seen while shipping.
    clock_step: Option<format::ClockStep>,
    /// The lineage's heartbeat while it is the newest word on how far the lineage reached:
    /// its sequence and time. Kept as a reach mark before anything stamped earlier follows.
    heartbeat_reach: Option<(u64, i64)>,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper")
            .field("db", &self.settings.db_path)
            .field("target", &self.target)
            .field("lineage", &self.lineage)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

fn db_error(what: &str, e: sqlx::Error) -> BackupError {
    BackupError::Database(format!("{what}: {e}"))
}

fn io_error(what: &str, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{what}: {e}"))
}

async fn connect(path: &Path) -> Result<SqliteConnection, BackupError> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5))
        .pragma("wal_autocheckpoint", "0")
        .connect()
        .await
        .map_err(|e| db_error(&format!("cannot open {}", path.display()), e))
}

/// Starts the read transaction that pins the WAL.
async fn hold_read(conn: &mut SqliteConnection) -> Result<(), BackupError> {
    sqlx::raw_sql("BEGIN")
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error("cannot begin the shipper's read transaction", e))?;
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_schema")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_error("cannot hold the shipper's read transaction", e))?;
    Ok(())
}

async fn release(conn: &mut SqliteConnection) -> Result<(), BackupError> {
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot end a shipper transaction", e))
}

impl Shipper {
    /// Opens the shipper: the backup key, the two connections, and either the lineage this
    /// database continues (when its WAL still holds the last shipped frame) or a new one.
    pub async fn start(
        settings: ShipperSettings,
        target: BackupTarget,
        key: DataKey,
        rng: Arc<dyn Rng>,
        clock: Arc<dyn Clock>,
        erasures: Option<Arc<dyn ErasureSource>>,
        status: SharedStatus,
    ) -> Result<Self, BackupError> {
        let mut reader = connect(&settings.db_path).await?;
        let writer = connect(&settings.db_path).await?;
        hold_read(&mut reader).await?;
        let now_ms = clock.now().unix_micros() / 1000;
        let ledgered = ledger::subjects(&target).await?.into_iter().collect();
        let stored = format::catalog(&target.list(format::SQLITE).await?);
        let last_stamp_ms = stored.last().and_then(format::ListedLineage::last_ms);
        let clock_step = format::clock_steps(&stored).pop();
        let mut shipper = Self {
            settings,
            target,
            key,
            rng,
            clock,
            reader,
            writer,
            lineage: String::new(),
            next_seq: 1,
            generation: None,
            pending: Vec::new(),
            batch_len: None,
            expect_restart: false,
            checkpointed_frames: 0,
            last_snapshot_ms: None,
            last_snapshot_seq: None,
            lineage_started_ms: now_ms,
            snapshot: None,
            last_retention_ms: 0,
            last_heartbeat_ms: now_ms,
            ledgered,
            last_ledger_ms: 0,
            erasures,
            status,
            last_stamp_ms,
            clock_step,
            heartbeat_reach: None,
        };
        if !shipper.resume().await? {
            shipper.begin_lineage().await?;
        }
        shipper.note_time(now_ms);
        shipper.publish(None);
        Ok(shipper)
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().unix_micros() / 1000
    }

    /// Records a clock reading that will stamp backup objects; a reading behind the newest
    /// stamp is a step back of the clock, reported in the status (restores are unaffected:
    /// they follow sequence numbers).
    fn note_time(&mut self, now_ms: i64) {
        if let Some(last) = self.last_stamp_ms
            && now_ms + format::CLOCK_TOLERANCE_MS < last
        {
            let step = format::ClockStep {
                lineage: self.lineage.clone(),
                seq: self.next_seq,
                newest_before_ms: last,
                behind_ms: last - now_ms,
            };
            tracing::warn!(
                behind_ms = step.behind_ms,
                lineage = %step.lineage,
                seq = step.seq,
                "the system clock went back; backups keep their sequence order"
            );
            self.clock_step = Some(step);
        }
        self.last_stamp_ms = Some(now_ms);
    }

    fn open_wal(&self) -> Result<Option<std::fs::File>, BackupError> {
        match std::fs::File::open(self.settings.wal_path()) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read the WAL", e)),
        }
    }

    /// Continues the newest lineage if this WAL still holds its last shipped frame.
    async fn resume(&mut self) -> Result<bool, BackupError> {
        let listing = self.target.list(format::SQLITE).await?;
        let Some(lineage) = format::catalog(&listing).pop() else {
            return Ok(false);
        };
        let Some(last) = lineage.segments.last() else {
            return Ok(false);
        };
        if lineage.first_ms().is_none() {
            return Ok(false);
        }
        let Some(object) = self.target.get(&last.key).await? else {
            return Ok(false);
        };
        let header: SegmentHeader = format::peek_header(&object, &last.key)?;
        let Some(mut file) = self.open_wal()? else {
            return Ok(false);
        };
        let Some(wal_header) = wal::read_header(&mut file).map_err(|e| io_error("WAL", e))? else {
            return Ok(false);
        };
        if wal_header.salt != header.wal_salt || wal_header.page_size != header.page_size {
            return Ok(false);
        }
        let at = wal::checksum_before(&mut file, &wal_header, header.wal_end)
            .map_err(|e| io_error("WAL", e))?;
        if at != Some(header.end_checksum) {
            return Ok(false);
        }
        self.lineage = lineage.id.clone();
        self.next_seq = header.seq + 1;
        self.generation = Some(Generation {
            header: wal_header,
            shipped: header.wal_end,
            shipped_checksum: header.end_checksum,
        });
        let newest = lineage
            .complete_snapshots()
            .max_by_key(|s| (s.at_ms, s.seq));
        self.last_snapshot_ms = newest.map(|s| s.at_ms);
        self.last_snapshot_seq = newest.map(|s| s.seq);
        self.heartbeat_reach = self.stored_heartbeat(header.seq).await?;
        tracing::info!(lineage = %self.lineage, seq = header.seq, "backup continues its lineage");
        Ok(true)
    }

    /// Starts a new lineage: checkpoint everything into the database file, pin it, and
    /// snapshot it as sequence 0.
    async fn begin_lineage(&mut self) -> Result<(), BackupError> {
        let listing = self.target.list(format::SQLITE).await?;
        let mut random = [0u8; 4];
        self.rng.fill(&mut random);
        self.lineage = format::next_lineage_id(&format::catalog(&listing), self.now_ms(), random);
        self.lineage_started_ms = self.now_ms();
        self.last_snapshot_ms = None;
        self.last_snapshot_seq = None;
        self.next_seq = 1;
        self.heartbeat_reach = None;
        self.pending.clear();
        self.batch_len = None;
        self.generation = None;
        let mut full = false;
        for attempt in 0..50 {
            if self.checkpoint(false).await? {
                full = true;
                break;
            }
            // A long reader in the server holds the WAL; try again shortly.
            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
        }
        if !full {
            return Err(BackupError::Database(
                "cannot start a backup: the WAL could not be fully checkpointed (a reader \
                 held it for over 25 s)"
                    .to_owned(),
            ));
        }
        tracing::info!(lineage = %self.lineage, "backup starts a new lineage");
        self.start_snapshot(false);
        Ok(())
    }

    /// Takes the write lock, ships everything, checkpoints and re-pins. Returns whether the
    /// WAL was fully copied into the database file (which is then frozen until the next
    /// checkpoint). With `ship` false (a new lineage), nothing is shipped: the database file
    /// becomes the lineage's starting point.
    async fn checkpoint(&mut self, ship: bool) -> Result<bool, BackupError> {
        let turn = match self.settings.write_turn.clone() {
            Some(turn) => {
                match tokio::time::timeout(Duration::from_secs(1), turn.lock_owned()).await {
                    Ok(guard) => Some(guard),
                    Err(_) => return Ok(false),
                }
            }
            None => None,
        };
        let taken = self.checkpoint_with_turn(ship).await;
        drop(turn);
        taken
    }

    async fn checkpoint_with_turn(&mut self, ship: bool) -> Result<bool, BackupError> {
        if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut self.writer)
            .await
        {
            tracing::debug!(error = %e, "checkpoint postponed: the write lock is busy");
            return Ok(false);
        }
        let result = self.checkpoint_locked(ship).await;
        let rolled_back = release(&mut self.writer).await;
        let full = result?;
        rolled_back?;
        Ok(full)
    }

    async fn checkpoint_locked(&mut self, ship: bool) -> Result<bool, BackupError> {
        if ship {
            // Everything older was shipped just before the lock was taken; what committed since
            // is small. Writers wait while the lock is held, so a slow target postpones the
            // checkpoint instead of stalling them.
            self.observe()?;
            if !self.pending.is_empty() {
                match tokio::time::timeout(LOCKED_UPLOAD_LIMIT, self.ship_pending()).await {
                    Ok(shipped) => shipped?,
                    Err(_) => return Ok(false),
                }
            }
        }
        release(&mut self.reader).await?;
        let checkpointed = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut self.reader)
            .await;
        let pinned = hold_read(&mut self.reader).await;
        let (busy, log, copied) = checkpointed.map_err(|e| db_error("checkpoint failed", e))?;
        pinned?;
        let full = busy == 0 && log == copied;
        if full {
            self.expect_restart = true;
            self.checkpointed_frames = u64::try_from(log).unwrap_or(0);
            if !ship {
                // The database file now holds every committed frame of this generation; the
                // lineage starts after them.
                self.generation = self.current_end()?;
            }
        }
        Ok(full)
    }

    /// One round: observe, ship, and the housekeeping that is due.
    pub async fn tick(&mut self) -> Result<(), BackupError> {
        self.observe()?;
        self.ship_pending().await?;
        let now_ms = self.now_ms();

        if let Some(job) = self.snapshot.take_if(|j| j.handle.is_finished()) {
            let manifest = job
                .handle
                .await
                .map_err(|e| BackupError::Io(format!("the snapshot task failed: {e}")))??;
            tracing::info!(lineage = %manifest.lineage, seq = manifest.seq, bytes = manifest.db_len, "backup snapshot stored");
            self.last_snapshot_ms = Some(manifest.at_ms);
            self.last_snapshot_seq = Some(manifest.seq);
            if job.requested
                && let Some(request) = &self.settings.snapshot_request
            {
                let _ = std::fs::remove_file(request);
            }
            self.apply_retention().await?;
        }

        if self.snapshot.is_none() {
            let requested = self
                .settings
                .snapshot_request
                .as_ref()
                .is_some_and(|r| r.exists());
            let due = self.last_snapshot_ms.is_none_or(|last| {
                now_ms - last >= self.settings.snapshot_every.whole_milliseconds() as i64
            });
            let shipped = self.generation.map_or(0, |g| g.shipped);
            let wal_full =
                shipped.saturating_sub(self.checkpointed_frames) >= self.settings.checkpoint_frames;
            let wants_snapshot = requested || due;
            if wants_snapshot || wal_full {
                let full = self.checkpoint(true).await?;
                if full && wants_snapshot {
                    self.start_snapshot(requested);
                }
            }
        }

        if now_ms - self.last_retention_ms >= 3_600_000 && self.snapshot.is_none() {
            self.apply_retention().await?;
        }
        if now_ms - self.last_ledger_ms >= 1000 {
            self.sync_ledger().await?;
            self.last_ledger_ms = now_ms;
        }
        if now_ms - self.last_heartbeat_ms >= 10_000 && self.pending.is_empty() {
            self.heartbeat().await?;
        }
        Ok(())
    }

    /// Ships everything and finishes any snapshot: for a clean stop and for tests.
    pub async fn flush(&mut self) -> Result<(), BackupError> {
        self.observe()?;
        self.ship_pending().await?;
        if self.pending.is_empty() {
            // Everything committed is shipped: the backup reaches this moment, not only the
            // last change. Without this a clean stop soon after a write would leave the
            // seconds before the stop outside the restorable window.
            self.heartbeat().await?;
        }
        if let Some(job) = self.snapshot.take() {
            let manifest = job
                .handle
                .await
                .map_err(|e| BackupError::Io(format!("the snapshot task failed: {e}")))??;
            self.last_snapshot_ms = Some(manifest.at_ms);
            self.last_snapshot_seq = Some(manifest.seq);
            if job.requested
                && let Some(request) = &self.settings.snapshot_request
            {
                let _ = std::fs::remove_file(request);
            }
        }
        self.sync_ledger().await?;
        self.publish(None);
        Ok(())
    }

    /// Checkpoints and snapshots now, waiting for the upload (on-demand snapshot, tests).
    pub async fn snapshot_now(&mut self) -> Result<(), BackupError> {
        self.flush().await?;
        if self.last_snapshot_seq == Some(self.next_seq - 1) {
            // The newest snapshot (a new lineage's first one) already holds everything shipped.
            return Ok(());
        }
        for attempt in 0..50 {
            if self.checkpoint(true).await? {
                self.start_snapshot(false);
                return self.flush().await;
            }
            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
        }
        Err(BackupError::Database(
            "cannot snapshot: the WAL could not be fully checkpointed".to_owned(),
        ))
    }

    pub fn lineage(&self) -> &str {
        &self.lineage
    }

    /// Runs until `stop` resolves: a tick every interval; errors are logged, counted and shown
    /// (the trust page's backup line turns red) and the work is retried on the next tick.
    /// A break in continuity starts a new lineage.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut failing = false;
        loop {
            let result = self.tick().await;
            match &result {
                Ok(()) => {
                    if failing {
                        tracing::info!("backup shipping recovered");
                        failing = false;
                    }
                    self.publish(None);
                }
                Err(BackupError::Continuity(why)) => {
                    tracing::error!(reason = %why, "backup continuity broken; starting a new lineage");
                    metrics::counter!("cista_backup_errors_total").increment(1);
                    if let Err(e) = self.begin_lineage().await {
                        tracing::error!(error = %e, "backup cannot start a new lineage");
                    }
                    self.publish(result.as_ref().err());
                }
                Err(e) => {
                    metrics::counter!("cista_backup_errors_total").increment(1);
                    if !failing {
                        tracing::error!(error = %e, "backup shipping failed; retrying");
                    }
                    failing = true;
                    self.publish(Some(e));
                }
            }
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
        if let Err(e) = self.flush().await {
            tracing::error!(error = %e, "backup could not ship the last transactions at shutdown");
        }
    }
}
