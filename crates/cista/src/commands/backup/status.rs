//! `cista backup status`: the shipper, the stored snapshots and lineages, the clock and the
//! erasure ledger (SQLite), or pgBackRest's report (PostgreSQL).

use super::{now_ms, require_target, sqlite_path, take_lock};
use crate::runtime::{Failure, Runtime};
use cista_backup::{BackupStatus, ledger, pgbackrest, restore};
use std::process::ExitCode;

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
