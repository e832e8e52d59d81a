//! Point-in-time restore of the SQLite database: a snapshot, then every segment after it in
//! sequence order, each checked for gaps, checksums and authenticity. The backup's own order
//! decides what comes after what; a chosen time only says where to stop (before the first
//! transaction stamped later than it), so a clock that went backwards cannot hide a segment.
//! The work happens in a hidden directory inside the destination and is renamed into place
//! only when everything checked out, so nothing half-restored ever looks like a database.

use crate::format::{
    self, ChunkHeader, ListedLineage, ListedSegment, ListedSnapshot, SegmentHeader,
    SnapshotManifest,
};
use crate::wal::{self, Checksum, FrameView, WalHeader};
use crate::{BackupError, BackupTarget};
use cista_crypto::DataKey;
use sha2::Digest as _;
use std::os::unix::fs::{
    DirBuilderExt as _, FileExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};

/// Restored data is as private as the data directory `cista init` makes: the directory is
/// the owner's alone (0700) and so is every file in it (0600), from the moment it exists.
const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// The moment to restore to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePoint {
    Latest,
    /// Unix milliseconds.
    At(i64),
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub lineage: String,
    pub snapshot_seq: u64,
    pub snapshot_ms: i64,
    pub segments: u64,
    pub transactions: u64,
    /// The time of the last transaction applied (the snapshot's time if none).
    pub restored_to_ms: i64,
    /// The sequence number of the last segment applied (the snapshot's if none).
    pub restored_to_seq: u64,
    pub db_len: u64,
}

/// The range of times a restore can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub first_ms: i64,
    pub last_ms: i64,
}

/// A Unix-millisecond time as RFC 3339.
pub fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// Lists the lineages that can be restored (those with a complete snapshot), oldest first,
/// each with the newest time it reaches (its last segment, or its heartbeat if later).
pub async fn restorable(
    target: &BackupTarget,
) -> Result<Vec<(ListedLineage, Window)>, BackupError> {
    let listing = target.list(format::SQLITE).await?;
    let mut out = Vec::new();
    for lineage in format::catalog(&listing) {
        let (Some(first_ms), Some(mut last_ms)) = (lineage.first_ms(), lineage.last_ms()) else {
            continue;
        };
        let heartbeat = format!("{}/heartbeat.json", format::lineage_prefix(&lineage.id));
        if let Some(bytes) = target.get(&heartbeat).await? {
            let beat: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let seq = beat.get("seq").and_then(serde_json::Value::as_u64);
            // A heartbeat only extends the window if no segment after it is known.
            if seq == Some(lineage.segments.last().map_or(0, |s| s.seq))
                && let Some(at) = beat.get("at_ms").and_then(serde_json::Value::as_i64)
            {
                last_ms = last_ms.max(at);
            }
        }
        out.push((lineage, Window { first_ms, last_ms }));
    }
    Ok(out)
}

/// The whole restorable window over all lineages.
pub fn window(lineages: &[(ListedLineage, Window)]) -> Option<Window> {
    let first_ms = lineages.iter().map(|(_, w)| w.first_ms).min()?;
    let last_ms = lineages.iter().map(|(_, w)| w.last_ms).max()?;
    Some(Window { first_ms, last_ms })
}

/// A destination directory prepared for a restore: it must not exist or be empty, and is made
/// private (0700). Dropping it without `commit` removes everything the restore wrote.
#[derive(Debug)]
pub struct RestoreDir {
    into: PathBuf,
    work: PathBuf,
    created: bool,
    committed: bool,
}

impl RestoreDir {
    pub fn prepare(into: &Path) -> Result<Self, BackupError> {
        let created = if into.exists() {
            let mut entries = std::fs::read_dir(into).map_err(|e| {
                BackupError::Invalid(format!("cannot read {}: {e}", into.display()))
            })?;
            if entries.next().is_some() {
                return Err(BackupError::Invalid(format!(
                    "{} is not empty: restore only into a new or empty directory, never over \
                     existing data",
                    into.display()
                )));
            }
            std::fs::set_permissions(into, std::fs::Permissions::from_mode(PRIVATE_DIR)).map_err(
                |e| BackupError::Invalid(format!("cannot make {} private: {e}", into.display())),
            )?;
            false
        } else {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR)
                .create(into)
                .map_err(|e| {
                    BackupError::Invalid(format!("cannot create {}: {e}", into.display()))
                })?;
            // The mode given to mkdir is narrowed by the umask, never widened; set it exactly.
            std::fs::set_permissions(into, std::fs::Permissions::from_mode(PRIVATE_DIR)).map_err(
                |e| BackupError::Invalid(format!("cannot make {} private: {e}", into.display())),
            )?;
            true
        };
        let work = into.join(".restore-in-progress");
        std::fs::DirBuilder::new()
            .mode(PRIVATE_DIR)
            .create(&work)
            .map_err(|e| BackupError::Io(format!("cannot create {}: {e}", work.display())))?;
        Ok(Self {
            into: into.to_owned(),
            work,
            created,
            committed: false,
        })
    }

    /// Where the database is built.
    pub fn work_file(&self) -> PathBuf {
        self.work.join("cista.db")
    }

    /// Moves the finished database into place; returns its final path.
    pub fn commit(mut self) -> Result<PathBuf, BackupError> {
        let dest = self.into.join("cista.db");
        for suffix in ["-wal", "-shm"] {
            let mut side = self.work_file().into_os_string();
            side.push(suffix);
            let side = PathBuf::from(side);
            if std::fs::metadata(&side).is_ok_and(|m| m.len() > 0 && suffix == "-wal") {
                return Err(BackupError::Io(
                    "the restored database still has a write-ahead log; run finalize first"
                        .to_owned(),
                ));
            }
            let _ = std::fs::remove_file(side);
        }
        std::fs::rename(self.work_file(), &dest)
            .map_err(|e| BackupError::Io(format!("cannot move the restored database: {e}")))?;
        let _ = std::fs::remove_dir_all(&self.work);
        self.committed = true;
        Ok(dest)
    }
}

impl Drop for RestoreDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.work);
            if self.created {
                let _ = std::fs::remove_dir(&self.into);
            }
        }
    }
}

/// Restores into `dest` (a file that must not exist). Returns what was restored.
pub async fn restore_file(
    target: &BackupTarget,
    key: &DataKey,
    point: RestorePoint,
    dest: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RestoreReport, BackupError> {
    let lineages = restorable(target).await?;
    let (lineage, stop) = choose_lineage(target, &lineages, point)?;
    let snapshot = choose_snapshot(lineage, stop)?;
    let at_ms = stop.unwrap_or(i64::MAX);
    let segments: Vec<_> = lineage
        .segments
        .iter()
        .filter(|s| s.seq > snapshot.seq)
        .collect();
    let total_bytes = snapshot.size + segments.iter().map(|s| s.size).sum::<u64>();
    let mut meter = Meter {
        progress,
        done_bytes: 0,
        total_bytes,
    };
    meter.report();

    // The snapshot.
    let (file, manifest) = write_snapshot(target, key, lineage, snapshot, dest, &mut meter).await?;
    let out = Output { file: &file, dest };

    // The segments after it, in order, without a gap.
    let mut report = RestoreReport {
        lineage: lineage.id.clone(),
        snapshot_seq: snapshot.seq,
        snapshot_ms: snapshot.at_ms,
        segments: 0,
        transactions: 0,
        restored_to_ms: snapshot.at_ms,
        restored_to_seq: snapshot.seq,
        db_len: manifest.db_len,
    };
    let mut position: Option<((u32, u32), u64, Checksum)> = manifest
        .wal_salt
        .zip(manifest.end_checksum)
        .map(|(salt, sum)| (salt, manifest.wal_end, sum));
    // A reach mark past the stopping time ends the restore where it stands: what follows it
    // happened later, though a clock set back stamped it earlier.
    let mut reached_stop = lineage.reached_after(|r| r == snapshot.seq, at_ms);
    for (expected_seq, listed) in (snapshot.seq + 1..).zip(segments) {
        if reached_stop {
            break;
        }
        if listed.seq != expected_seq {
            return Err(BackupError::Gap(format!(
                "segment {expected_seq} of lineage {} is missing; the last consistent time is {} \
                 (restore with --to {})",
                lineage.id,
                format_time(report.restored_to_ms),
                format_time(report.restored_to_ms)
            )));
        }
        let object = fetch(target, &listed.key).await.map_err(|e| match e {
            BackupError::Gap(_) => BackupError::Gap(format!(
                "segment {} vanished during the restore; the last consistent time is {}",
                listed.seq,
                format_time(report.restored_to_ms)
            )),
            other => other,
        })?;
        let last_good = format_time(report.restored_to_ms);
        let (header, frames) = open_segment(
            key,
            &object,
            listed,
            &lineage.id,
            position,
            manifest.page_size,
            &last_good,
        )?;
        let (applied_frames, running, stopped) = apply_transactions(
            &header,
            &frames,
            at_ms,
            &out,
            listed,
            &last_good,
            &mut report,
        )?;
        report.segments += 1;
        meter.advance(object.len() as u64);
        if stopped {
            break;
        }
        if applied_frames != header.wal_end - header.wal_start || running != header.end_checksum {
            return Err(BackupError::Integrity(format!(
                "{} does not end where its header says",
                listed.key
            )));
        }
        position = Some((header.wal_salt, header.wal_end, header.end_checksum));
        reached_stop = lineage.reached_after(|r| r == listed.seq, at_ms);
    }
    if matches!(point, RestorePoint::At(_)) {
        report.restored_to_ms = report.restored_to_ms.max(snapshot.at_ms);
    }
    file.sync_all()
        .map_err(|e| BackupError::Io(format!("cannot sync {}: {e}", dest.display())))?;
    meter.finish();
    Ok(report)
}

/// Counts restored bytes and reports them to the progress callback.
struct Meter<'a> {
    progress: &'a (dyn Fn(Progress) + Sync),
    done_bytes: u64,
    total_bytes: u64,
}

impl Meter<'_> {
    /// Reports the bytes done so far.
    fn report(&self) {
        (self.progress)(Progress {
            done_bytes: self.done_bytes,
            total_bytes: self.total_bytes,
        });
    }

    /// Counts `bytes` more as done, then reports.
    fn advance(&mut self, bytes: u64) {
        self.done_bytes += bytes;
        self.report();
    }

    /// Reports everything done.
    fn finish(&self) {
        (self.progress)(Progress {
            done_bytes: self.total_bytes,
            total_bytes: self.total_bytes,
        });
    }
}

/// The database file being built, with errors that name it.
struct Output<'a> {
    file: &'a std::fs::File,
    dest: &'a Path,
}

impl Output<'_> {
    /// Writes `bytes` at `offset`.
    fn write_at(&self, bytes: &[u8], offset: u64) -> Result<(), BackupError> {
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| BackupError::Io(format!("cannot write {}: {e}", self.dest.display())))
    }

    /// Sets the file's length.
    fn set_len(&self, len: u64) -> Result<(), BackupError> {
        self.file
            .set_len(len)
            .map_err(|e| BackupError::Io(format!("cannot size {}: {e}", self.dest.display())))
    }
}

/// The lineage to restore from, and `stop`: apply transactions, in sequence order, until the
/// first one stamped after it.
fn choose_lineage<'a>(
    target: &BackupTarget,
    lineages: &'a [(ListedLineage, Window)],
    point: RestorePoint,
) -> Result<(&'a ListedLineage, Option<i64>), BackupError> {
    let Some(whole) = window(lineages) else {
        return Err(BackupError::Invalid(format!(
            "{} holds no complete snapshot: there is nothing to restore",
            target.describe()
        )));
    };
    match point {
        RestorePoint::Latest => match lineages.last() {
            Some((lineage, _)) => Ok((lineage, None)),
            None => Err(BackupError::Invalid(format!(
                "{} holds no complete snapshot: there is nothing to restore",
                target.describe()
            ))),
        },
        RestorePoint::At(t) => {
            if t < whole.first_ms || t > whole.last_ms {
                return Err(BackupError::OutsideWindow(format!(
                    "{} is outside the restorable window {} … {}",
                    format_time(t),
                    format_time(whole.first_ms),
                    format_time(whole.last_ms)
                )));
            }
            // The newest lineage (in the backup's order) whose stamps span the time, else the
            // newest that had begun by then: the same choice as before whenever the clock only
            // went forwards.
            let chosen = lineages
                .iter()
                .rev()
                .find(|(_, w)| w.first_ms <= t && t <= w.last_ms)
                .or_else(|| lineages.iter().rev().find(|(_, w)| w.first_ms <= t));
            let Some((lineage, _)) = chosen else {
                return Err(BackupError::OutsideWindow(format!(
                    "no lineage covers {}",
                    format_time(t)
                )));
            };
            Ok((lineage, Some(t)))
        }
    }
}

/// The snapshot with the highest sequence number that the stopping point does not precede:
/// it and every segment before it are stamped no later than the time.
fn choose_snapshot(
    lineage: &ListedLineage,
    stop: Option<i64>,
) -> Result<&ListedSnapshot, BackupError> {
    let within = |seq: u64, at_ms: i64| {
        stop.is_none_or(|t| {
            at_ms <= t
                && lineage
                    .segments
                    .iter()
                    .filter(|s| s.seq <= seq)
                    .all(|s| s.last_ms <= t)
                && !lineage.reached_after(|r| r < seq, t)
        })
    };
    let Some(snapshot) = lineage
        .complete_snapshots()
        .filter(|s| within(s.seq, s.at_ms))
        .max_by_key(|s| (s.seq, s.at_ms))
    else {
        return Err(BackupError::OutsideWindow(format!(
            "no snapshot of lineage {} precedes {}",
            lineage.id,
            format_time(stop.unwrap_or(i64::MAX))
        )));
    };
    Ok(snapshot)
}

/// Fetches and checks the snapshot's manifest, creates `dest` and writes every chunk into it;
/// returns the file and the manifest.
async fn write_snapshot(
    target: &BackupTarget,
    key: &DataKey,
    lineage: &ListedLineage,
    snapshot: &ListedSnapshot,
    dest: &Path,
    meter: &mut Meter<'_>,
) -> Result<(std::fs::File, SnapshotManifest), BackupError> {
    let manifest_key = format::manifest_key(&snapshot.dir);
    let manifest_object = fetch(target, &manifest_key).await?;
    let (manifest, _): (SnapshotManifest, _) = format::open(key, &manifest_object, &manifest_key)?;
    if manifest.lineage != lineage.id || manifest.seq != snapshot.seq {
        return Err(BackupError::Integrity(format!(
            "{manifest_key} describes lineage {} sequence {}, not where it is stored",
            manifest.lineage, manifest.seq
        )));
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(dest)
        .map_err(|e| BackupError::Io(format!("cannot create {}: {e}", dest.display())))?;
    let out = Output { file: &file, dest };
    let mut whole_hash = sha2::Sha256::new();
    let mut offset = 0u64;
    for (index, info) in manifest.chunks.iter().enumerate() {
        let chunk_key = format::chunk_key(&snapshot.dir, u32::try_from(index).unwrap_or(u32::MAX));
        let object = fetch(target, &chunk_key).await?;
        if format::sha256_hex(&object) != info.sha256 {
            return Err(BackupError::Integrity(format!(
                "{chunk_key} does not match its manifest: it was corrupted or replaced"
            )));
        }
        let (header, bytes): (ChunkHeader, _) = format::open(key, &object, &chunk_key)?;
        if header.lineage != lineage.id
            || header.seq != snapshot.seq
            || header.index as usize != index
        {
            return Err(BackupError::Integrity(format!(
                "{chunk_key} belongs elsewhere"
            )));
        }
        whole_hash.update(&bytes);
        out.write_at(&bytes, offset)?;
        offset += bytes.len() as u64;
        meter.advance(object.len() as u64);
    }
    if offset != manifest.db_len || hex::encode(whole_hash.finalize()) != manifest.db_sha256 {
        return Err(BackupError::Integrity(format!(
            "the snapshot {} does not add up to the database its manifest describes",
            snapshot.dir
        )));
    }
    Ok((file, manifest))
}

/// Opens a fetched segment and checks that it is the one listed and continues from
/// `position` (the previous segment's salt, end frame and checksum); its header and frames.
fn open_segment(
    key: &DataKey,
    object: &[u8],
    listed: &ListedSegment,
    lineage_id: &str,
    position: Option<((u32, u32), u64, Checksum)>,
    page_size: u32,
    last_good: &str,
) -> Result<(SegmentHeader, Vec<u8>), BackupError> {
    let (header, frames): (SegmentHeader, Vec<u8>) = format::open(key, object, &listed.key)
        .map_err(|e| {
            BackupError::Integrity(format!("{e}; the last consistent time is {last_good}"))
        })?;
    if header.lineage != lineage_id || header.seq != listed.seq {
        return Err(BackupError::Integrity(format!(
            "{} holds segment {} of lineage {}; the last consistent time is {last_good}",
            listed.key, header.seq, header.lineage
        )));
    }
    let continues = match position {
        Some((salt, end, sum)) if salt == header.wal_salt => {
            header.wal_start == end && header.seed == sum
        }
        _ => header.wal_start == 0,
    };
    if !continues || header.page_size != page_size {
        return Err(BackupError::Gap(format!(
            "segment {} does not continue where segment {} ended; the last consistent time \
             is {last_good}",
            header.seq,
            header.seq - 1
        )));
    }
    Ok((header, frames))
}

/// Applies a segment's transactions stamped no later than `at_ms`, checking every frame's
/// checksum; returns the frames applied, the running checksum and whether it stopped early.
fn apply_transactions(
    header: &SegmentHeader,
    frames: &[u8],
    at_ms: i64,
    out: &Output<'_>,
    listed: &ListedSegment,
    last_good: &str,
    report: &mut RestoreReport,
) -> Result<(u64, Checksum, bool), BackupError> {
    let wal_header = WalHeader {
        big_endian: header.big_endian,
        page_size: header.page_size,
        checkpoint_seq: 0,
        salt: header.wal_salt,
        checksum: header.seed,
    };
    let frame_len = wal_header.frame_len();
    let mut running = header.seed;
    let mut applied_frames = 0u64;
    let mut txn_start = 0usize;
    let mut stopped = false;
    for txn in &header.txns {
        if txn.at_ms > at_ms {
            stopped = true;
            break;
        }
        let end = usize::try_from(txn.end_frame).unwrap_or(usize::MAX);
        let bytes = frames
            .get(txn_start * frame_len..end.saturating_mul(frame_len))
            .ok_or_else(|| {
                BackupError::Integrity(format!(
                    "{} is shorter than its header says; the last consistent time is {last_good}",
                    listed.key
                ))
            })?;
        for frame in bytes.chunks(frame_len) {
            running = wal::verify_frame(&wal_header, running, frame).ok_or_else(|| {
                BackupError::Integrity(format!(
                    "{} holds a frame that breaks the WAL checksum chain; the last consistent \
                     time is {last_good}",
                    listed.key
                ))
            })?;
            let view = FrameView { bytes: frame };
            let at = u64::from(view.page_number().saturating_sub(1)) * u64::from(header.page_size);
            out.write_at(view.page(), at)?;
            if view.commit_size() != 0 {
                let len = u64::from(view.commit_size()) * u64::from(header.page_size);
                out.set_len(len)?;
                report.db_len = len;
            }
        }
        applied_frames = txn.end_frame;
        txn_start = end;
        report.transactions += 1;
        report.restored_to_ms = txn.at_ms;
        report.restored_to_seq = header.seq;
    }
    Ok((applied_frames, running, stopped))
}

async fn fetch(target: &BackupTarget, key: &str) -> Result<Vec<u8>, BackupError> {
    target
        .get(key)
        .await?
        .ok_or_else(|| BackupError::Gap(format!("{key} is missing from the backup target")))
}

async fn open_restored(db: &Path) -> Result<sqlx::SqliteConnection, BackupError> {
    use sqlx::ConnectOptions as _;
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(|e| BackupError::Database(format!("cannot open the restored database: {e}")))
}

/// Folds any WAL the post-restore steps wrote back into the database file, so the file alone
/// is the restored database.
pub async fn finalize(db: &Path) -> Result<(), BackupError> {
    use sqlx::Connection as _;
    let mut conn = open_restored(db).await?;
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| {
            BackupError::Database(format!("cannot checkpoint the restored database: {e}"))
        })?;
    let _ = conn.close().await;
    if busy != 0 {
        return Err(BackupError::Database(
            "the restored database is still in use; cannot finish it".to_owned(),
        ));
    }
    Ok(())
}

/// Opens a restored database and runs `PRAGMA integrity_check`.
pub async fn integrity_check(db: &Path) -> Result<(), BackupError> {
    use sqlx::Connection as _;
    let mut conn = open_restored(db).await?;
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| BackupError::Integrity(format!("integrity_check could not run: {e}")))?;
    let _ = conn.close().await;
    if rows.len() == 1 && rows.first().map(String::as_str) == Some("ok") {
        Ok(())
    } else {
        Err(BackupError::Integrity(format!(
            "the restored database fails integrity_check: {}",
            rows.join("; ")
        )))
    }
}
