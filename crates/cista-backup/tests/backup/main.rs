//! The SQLite backup end to end on a real database file: shipping, checkpoints across WAL
//! generations, snapshots, resume after a crash, point-in-time restore, retention with a fake
//! clock, and the refusals (gap, tampering, another key, outside the window, non-empty
//! directory). The S3 path runs against a real S3-protocol server (moto) when one is available.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use cista_backup::{
    BackupError, BackupStatus, BackupTarget, RestoreDir, RestorePoint, Shipper, ShipperSettings,
    TargetSpec, format, ledger, restore, retention,
};
use cista_crypto::DataKey;
use cista_types::{Clock, ManualClock, OsRng, SystemClock, Timestamp};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod clock;

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    pool: SqlitePool,
    target: BackupTarget,
    target_dir: PathBuf,
    key: DataKey,
    scratch: PathBuf,
}

async fn pool(db: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .pragma("wal_autocheckpoint", "0");
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("cista.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let pool = pool(&db).await;
    sqlx::query("CREATE TABLE votes (id INTEGER PRIMARY KEY, unit TEXT NOT NULL UNIQUE, body BLOB NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let target_dir = dir.path().join("backup");
    let target = BackupTarget::open(&TargetSpec::Local(target_dir.clone())).unwrap();
    let scratch = dir.path().join("scratch");
    Fixture {
        db,
        pool,
        target,
        target_dir,
        key: DataKey::generate(&OsRng),
        scratch,
        _dir: dir,
    }
}

fn settings(f: &Fixture) -> ShipperSettings {
    let mut s = ShipperSettings::new(f.db.clone());
    s.checkpoint_frames = 1000;
    s
}

async fn shipper(f: &Fixture, settings: ShipperSettings, clock: Arc<dyn Clock>) -> Shipper {
    Shipper::start(
        settings,
        f.target.clone(),
        f.key.clone(),
        Arc::new(OsRng),
        clock,
        None,
        Arc::new(Mutex::new(BackupStatus::default())),
    )
    .await
    .unwrap()
}

async fn insert(pool: &SqlitePool, n: u32, size: usize) {
    sqlx::query("INSERT INTO votes (unit, body) VALUES (?, ?)")
        .bind(format!("unit-{n}"))
        .bind(vec![(n % 251) as u8; size])
        .execute(pool)
        .await
        .unwrap();
}

async fn units(db: &Path) -> Vec<String> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(db).read_only(true))
        .await
        .unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT unit FROM votes ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

/// Restores into a fresh directory and returns the units it holds.
async fn restore_units(
    f: &Fixture,
    point: RestorePoint,
    name: &str,
) -> Result<Vec<String>, BackupError> {
    let into = f.scratch.join(name);
    let dir = RestoreDir::prepare(&into)?;
    restore::restore_file(&f.target, &f.key, point, &dir.work_file(), &|_| {}).await?;
    restore::integrity_check(&dir.work_file()).await?;
    let path = dir.commit()?;
    Ok(units(&path).await)
}

fn now_ms() -> i64 {
    SystemClock.now().unix_micros() / 1000
}

#[tokio::test]
async fn every_commit_is_shipped_and_restores_exactly_at_a_past_time() {
    let f = fixture().await;
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    s.flush().await.unwrap();
    for n in 0..20 {
        insert(&f.pool, n, 100).await;
        s.tick().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let middle = now_ms();
    tokio::time::sleep(Duration::from_millis(30)).await;
    for n in 20..40 {
        insert(&f.pool, n, 100).await;
        s.tick().await.unwrap();
    }
    let all: Vec<String> = (0..40).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap(),
        all
    );
    assert_eq!(
        restore_units(&f, RestorePoint::At(middle), "middle")
            .await
            .unwrap(),
        all[..20].to_vec()
    );
    // Each object in the target is encrypted: no row content in clear.
    for entry in walk(&f.target_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"unit-12"),
            "{} holds plaintext",
            entry.display()
        );
    }
}

/// A clean stop (the shipper's last flush) covers the quiet time since the last change: a
/// moment between the last write and the stop is restorable, not refused as outside the window.
#[tokio::test]
async fn a_clean_stop_makes_the_quiet_time_before_it_restorable() {
    let f = fixture().await;
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    s.flush().await.unwrap();
    insert(&f.pool, 1, 100).await;
    s.tick().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let quiet = now_ms();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Before the stop the window ends at the last change.
    let err = restore_units(&f, RestorePoint::At(quiet), "too-early")
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::OutsideWindow(_)), "{err}");
    s.flush().await.unwrap();
    drop(s);
    assert_eq!(
        restore_units(&f, RestorePoint::At(quiet), "quiet")
            .await
            .unwrap(),
        vec!["unit-1".to_owned()]
    );
    // A moment after the stop is still outside: nothing vouches for it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = restore_units(&f, RestorePoint::At(now_ms()), "after")
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::OutsideWindow(_)), "{err}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn checkpoints_restart_the_wal_and_no_frame_is_lost() {
    let f = fixture().await;
    let mut settings = settings(&f);
    settings.checkpoint_frames = 8;
    // Writers take turns as the server's do; the shipper queues with them.
    let turn = Arc::new(tokio::sync::Mutex::new(()));
    settings.write_turn = Some(turn.clone());
    let mut s = shipper(&f, settings, Arc::new(SystemClock)).await;
    // Writers run concurrently with the shipper's ticks, across many WAL generations.
    let pool = f.pool.clone();
    let writer = tokio::spawn(async move {
        for n in 0..300 {
            let _turn = turn.lock().await;
            insert(&pool, n, 3000).await;
        }
    });
    while !writer.is_finished() {
        s.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    writer.await.unwrap();
    s.flush().await.unwrap();
    let wal = std::fs::metadata(format!("{}-wal", f.db.display()))
        .unwrap()
        .len();
    assert!(
        wal < 3_000_000,
        "the shipper's checkpoints keep the WAL small ({wal} bytes)"
    );
    let all: Vec<String> = (0..300).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap(),
        all
    );
}

#[tokio::test]
async fn a_snapshot_mid_lineage_is_used_and_a_crash_resumes_the_lineage() {
    let f = fixture().await;
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    for n in 0..10 {
        insert(&f.pool, n, 500).await;
    }
    s.snapshot_now().await.unwrap();
    for n in 10..15 {
        insert(&f.pool, n, 500).await;
    }
    s.tick().await.unwrap();
    let lineage = s.lineage().to_owned();
    // A crash: the shipper is gone without flushing; writes go on while it is down.
    drop(s);
    for n in 15..18 {
        insert(&f.pool, n, 500).await;
    }
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    assert_eq!(
        s.lineage(),
        lineage,
        "the WAL still holds the last shipped frame"
    );
    s.flush().await.unwrap();
    let listing = f.target.list(format::SQLITE).await.unwrap();
    let catalog = format::catalog(&listing);
    assert_eq!(catalog.len(), 1);
    assert!(catalog[0].complete_snapshots().any(|snap| snap.seq > 0));
    let all: Vec<String> = (0..18).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap(),
        all
    );
}

#[tokio::test]
async fn a_gap_tampering_another_key_and_bad_destinations_are_refused() {
    let f = fixture().await;
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    s.flush().await.unwrap();
    for n in 0..6 {
        insert(&f.pool, n, 100).await;
        s.tick().await.unwrap();
    }
    let listing = f.target.list(format::SQLITE).await.unwrap();
    let segments = format::catalog(&listing)[0].segments.clone();
    assert_eq!(segments.len(), 6);

    // Another backup key: authentication fails, nothing is left behind.
    let other = DataKey::generate(&OsRng);
    let into = f.scratch.join("other-key");
    let dir = RestoreDir::prepare(&into).unwrap();
    let err = restore::restore_file(
        &f.target,
        &other,
        RestorePoint::Latest,
        &dir.work_file(),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("failed authentication"), "{err}");
    drop(dir);
    assert!(
        !into.exists(),
        "a failed restore leaves no directory behind"
    );

    // A tampered segment: its checksum fails and the message names the last good time.
    let victim = f.target_dir.join(&segments[3].key);
    let original = std::fs::read(&victim).unwrap();
    let mut tampered = original.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x40;
    std::fs::write(&victim, &tampered).unwrap();
    let err = restore_units(&f, RestorePoint::Latest, "tampered")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad checksum"), "{err}");
    assert!(err.to_string().contains("last consistent time"), "{err}");
    assert!(!f.scratch.join("tampered").exists());
    std::fs::write(&victim, &original).unwrap();

    // A missing segment: the gap is named, with the time to restore to instead.
    std::fs::remove_file(&victim).unwrap();
    let err = restore_units(&f, RestorePoint::Latest, "gap")
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::Gap(_)), "{err}");
    assert!(err.to_string().contains("segment 4"), "{err}");
    assert!(err.to_string().contains("--to"), "{err}");
    std::fs::write(&victim, &original).unwrap();

    // Outside the window, and a destination that is not empty.
    let err = restore_units(&f, RestorePoint::At(now_ms() - 86_400_000), "early")
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::OutsideWindow(_)), "{err}");
    assert!(
        err.to_string().contains("outside the restorable window"),
        "{err}"
    );
    std::fs::create_dir_all(f.scratch.join("full")).unwrap();
    std::fs::write(f.scratch.join("full").join("keep.txt"), "mine").unwrap();
    let err = RestoreDir::prepare(&f.scratch.join("full")).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(f.scratch.join("full").join("keep.txt")).unwrap(),
        "mine"
    );

    // And with everything back in place it restores.
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "ok")
            .await
            .unwrap()
            .len(),
        6
    );
}

#[tokio::test]
async fn retention_keeps_thirty_five_days_with_a_fake_clock() {
    let f = fixture().await;
    let start = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let mut settings = settings(&f);
    settings.snapshot_every = time::Duration::days(1);
    let mut s = shipper(&f, settings, clock.clone()).await;
    s.flush().await.unwrap();
    for day in 0..45u32 {
        insert(&f.pool, day, 200).await;
        s.tick().await.unwrap();
        clock.advance(time::Duration::days(1));
        s.tick().await.unwrap(); // due: checkpoint and snapshot
        s.flush().await.unwrap();
        s.tick().await.unwrap(); // retention after the snapshot
    }
    let listing = f.target.list(format::SQLITE).await.unwrap();
    let catalog = format::catalog(&listing);
    let snapshots: Vec<i64> = catalog[0].complete_snapshots().map(|s| s.at_ms).collect();
    let now = clock.now().unix_micros() / 1000;
    let cutoff = now - 35 * 86_400_000;
    assert!(
        snapshots.iter().all(|&at| at >= cutoff),
        "no snapshot older than 35 days"
    );
    assert!(
        snapshots.len() >= 34,
        "about one snapshot a day is kept: {}",
        snapshots.len()
    );
    // Every kept snapshot can still reach the present: restore at the oldest kept one.
    let oldest = *snapshots.iter().min().unwrap();
    let restored = restore_units(&f, RestorePoint::At(oldest), "oldest")
        .await
        .unwrap();
    assert!(!restored.is_empty());
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap()
            .len(),
        45
    );
    // Times before the window are refused.
    let err = restore_units(&f, RestorePoint::At(oldest - 1), "before")
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::OutsideWindow(_)), "{err}");
    // Retention planned again changes nothing.
    let again = retention::apply(&f.target, now, 35 * 86_400_000)
        .await
        .unwrap();
    assert!(again.delete.is_empty());
}

#[tokio::test]
async fn the_ledger_is_idempotent_and_lists_what_it_holds() {
    let f = fixture().await;
    let entry = ledger::ErasureEntry {
        subject: "P12345".into(),
        erased_at: "2026-11-23T10:00:00Z".into(),
    };
    ledger::record(&f.target, &entry).await.unwrap();
    ledger::record(&f.target, &entry).await.unwrap();
    assert_eq!(ledger::entries(&f.target).await.unwrap(), vec![entry]);
    assert_eq!(
        ledger::subjects(&f.target).await.unwrap(),
        vec!["P12345".to_owned()]
    );
}

#[test]
fn pgbackrest_info_is_read_from_its_json() {
    let json = include_str!("../data/pgbackrest-info.json");
    let info = cista_backup::pgbackrest::parse_info(json, "cista").unwrap();
    assert!(info.healthy, "{info:?}");
    assert_eq!(info.backups, 2);
    assert!(info.oldest_backup_start.unwrap() <= info.newest_backup_stop.unwrap());
    assert_eq!(
        info.archive_max_wal.as_deref(),
        Some("00000001000000000000000D")
    );
    assert!(cista_backup::pgbackrest::parse_info(json, "other").is_err());
}

/// The S3 path against moto's S3-protocol server. CI sets CISTA_TEST_REQUIRE_S3 so a missing
/// server fails instead of skipping.
#[tokio::test]
async fn shipping_and_restore_work_against_an_s3_server() {
    let Some(server) = cista_testkit::s3::required() else {
        return;
    };
    let mut f = fixture().await;
    f.target = BackupTarget::open(&TargetSpec::S3(cista_backup::S3Spec {
        bucket: cista_testkit::s3::BUCKET.into(),
        prefix: "palm-court".into(),
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        path_style: true,
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
    }))
    .unwrap();
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    s.flush().await.unwrap();
    for n in 0..10 {
        insert(&f.pool, n, 1000).await;
        s.tick().await.unwrap();
    }
    s.snapshot_now().await.unwrap();
    insert(&f.pool, 10, 1000).await;
    s.flush().await.unwrap();
    let listing = f.target.list("").await.unwrap();
    assert!(
        listing.iter().all(|(k, _)| !k.starts_with("palm-court/")),
        "keys are relative to the prefix"
    );
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "s3")
            .await
            .unwrap()
            .len(),
        11
    );

    // The server goes away: shipping fails with a clear error, writes go on, and once it is
    // back the shipper catches up.
    drop(server);
    insert(&f.pool, 11, 1000).await;
    let err = s.tick().await.unwrap_err();
    assert!(matches!(err, BackupError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("backup target"), "{err}");
}

/// SQLite's locks are per-process POSIX locks, dropped when any descriptor of the file closes.
/// Taking a snapshot must not strip the server's locks: another process that opens and closes
/// the database afterwards must not be able to checkpoint and delete the WAL under it.
#[tokio::test]
async fn a_snapshot_leaves_the_servers_locks_in_place() {
    let f = fixture().await;
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    s.snapshot_now().await.unwrap();
    insert(&f.pool, 1, 100).await;
    let python = std::env::var("CISTA_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute('INSERT INTO votes (unit, body) VALUES (?, ?)', ('other', b'0')); c.commit(); c.close()",
        f.db.display().to_string()
    );
    let status = std::process::Command::new(python)
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let wal = PathBuf::from(format!("{}-wal", f.db.display()));
    assert!(
        wal.exists(),
        "another process's close deleted the WAL: our locks were gone"
    );
    s.flush().await.unwrap();
    let units = restore_units(&f, RestorePoint::Latest, "latest")
        .await
        .unwrap();
    assert_eq!(units, vec!["unit-1".to_owned(), "other".to_owned()]);
}

#[tokio::test]
async fn a_restore_is_private_from_the_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = fixture().await;
    let mut s = shipper(&f, settings(&f), Arc::new(SystemClock)).await;
    s.flush().await.unwrap();
    insert(&f.pool, 0, 100).await;
    s.tick().await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let into = f.scratch.join("new");
    let dir = RestoreDir::prepare(&into).unwrap();
    assert_eq!(mode(&into), 0o700, "a directory the restore creates");
    assert_eq!(mode(dir.work_file().parent().unwrap()), 0o700);
    restore::restore_file(
        &f.target,
        &f.key,
        RestorePoint::Latest,
        &dir.work_file(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        mode(&dir.work_file()),
        0o600,
        "the database while it is built"
    );
    restore::integrity_check(&dir.work_file()).await.unwrap();
    restore::finalize(&dir.work_file()).await.unwrap();
    let db = dir.commit().unwrap();
    assert_eq!(mode(&db), 0o600);
    for entry in std::fs::read_dir(&into).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // An empty directory that already exists is made private too.
    let existing = f.scratch.join("existing");
    std::fs::create_dir_all(&existing).unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = RestoreDir::prepare(&existing).unwrap();
    assert_eq!(mode(&existing), 0o700);
    drop(dir);
}
