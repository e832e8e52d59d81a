//! `cista restore` and `cista backup verify`: a point-in-time restore into a directory, the
//! erasure ledger replayed, integrity and audit log checked before the database moves in.

use super::{require_target, sqlite_path};
use crate::cli::RestoreArgs;
use crate::runtime::{Failure, Runtime};
use cista_backup::{BackupTarget, RestoreDir, RestorePoint, keyring, ledger, restore};
use cista_core::{Actor, Cista};
use cista_types::{Clock as _, OsRng, Secret, SubjectCode, SystemClock, Timestamp};
use std::path::{Path, PathBuf};

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
        demo: false,
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
