//! `cista keys status` and `cista keys rotate`.

use crate::cli::RotateArgs;
use crate::runtime::{Failure, Runtime};
use cista_crypto::KekId;
use cista_types::Clock as _;
use cista_types::SystemClock;
use std::process::ExitCode;

pub async fn status(rt: &Runtime) -> Result<ExitCode, Failure> {
    let cista = rt.open(false).await?;
    let status = cista.key_status(&rt.operator()).await?;
    // The backup key is held in the backup target, not in the store; a KEK that wraps it is
    // in use as much as one that wraps a stored key.
    let backup = backup_key_kek(rt).await;
    let backup_kek = backup.as_ref().ok().cloned().flatten();
    println!(
        "provider   {} ({})",
        status.provider.kind, status.provider.location
    );
    let count = |kek: &KekId| {
        let n = status.keys_by_kek.get(kek).copied().unwrap_or(0);
        let keys = cista_types::words::count(n, "stored key", "stored keys");
        if backup_kek.as_ref() == Some(kek) {
            format!("{keys} and the backup key")
        } else {
            keys
        }
    };
    println!(
        "active     {}  wraps {}",
        status.provider.active_kek,
        count(&status.provider.active_kek)
    );
    for retired in &status.provider.retired_keks {
        println!("retired    {retired}  wraps {}", count(retired));
    }
    let mut missing = status.missing_keks.clone();
    if let Some(kek) = backup_kek.as_ref().filter(|kek| {
        **kek != status.provider.active_kek
            && !status.provider.retired_keks.contains(kek)
            && !missing.contains(kek)
    }) {
        missing.push(kek.clone());
    }
    for kek in &missing {
        println!(
            "MISSING    {kek}  wraps {} that cannot be unwrapped",
            count(kek)
        );
    }
    if let Err(why) = &backup {
        println!("backup key not read: {why}");
    }
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The KEK the configured backup target's key is wrapped under; `None` when no backup is
/// configured or the target holds no key yet.
async fn backup_key_kek(rt: &Runtime) -> Result<Option<KekId>, String> {
    let Some(target) = backup_target(rt)? else {
        return Ok(None);
    };
    cista_backup::keyring::stored_kek(&target)
        .await
        .map_err(|e| e.to_string())
}

pub async fn rotate(rt: &Runtime, args: &RotateArgs) -> Result<(), Failure> {
    let cista = rt.open(false).await?;
    let actor = rt.operator();
    let mut report = cista.rotate_keys(&actor, false).await?;
    println!("new active key-encryption key {}", report.new_kek);
    println!(
        "re-wrapped {}",
        cista_types::words::count(report.rewrapped, "stored key", "stored keys")
    );
    // The backup key lives in the backup target, outside the store: re-wrapped here, before
    // any retired KEK goes, or every backup (the ones still to come too) could not be restored.
    let backup_kek = match backup_key_to_active(rt).await {
        Ok(None) => None,
        Ok(Some(kek)) => {
            println!("re-wrapped the backup key under {kek}");
            Some(kek)
        }
        Err(why) => {
            cista.sign_checkpoint(&cista_core::Actor::System).await?;
            let keeping = if args.remove_retired {
                "; no retired key was removed"
            } else {
                ""
            };
            return Err(Failure(format!(
                "the stored keys are re-wrapped under {}, but the backup key could not be: \
                 {why}{keeping}. Fix the backup target and run `cista keys rotate` again",
                report.new_kek
            )));
        }
    };
    if args.remove_retired {
        let keep: Vec<_> = backup_kek.into_iter().collect();
        (report.removed, report.kept) = cista.remove_retired_keks(&actor, &keep).await?;
    }
    for removed in &report.removed {
        println!("removed retired key {removed}");
    }
    for kept in &report.kept {
        println!("kept retired key {kept} (older backups need it; --remove-retired deletes it)");
    }
    cista.sign_checkpoint(&cista_core::Actor::System).await?;
    Ok(())
}

/// Re-wraps the configured backup target's key under the active KEK; the KEK it is under
/// now, or `None` when no backup is configured or the target holds no key yet.
async fn backup_key_to_active(rt: &Runtime) -> Result<Option<KekId>, String> {
    let Some(target) = backup_target(rt)? else {
        return Ok(None);
    };
    let keys = rt.key_provider().map_err(|f| f.0)?;
    cista_backup::keyring::rewrap_to_active(&target, keys.as_ref(), SystemClock.now())
        .await
        .map_err(|e| e.to_string())
}

/// The configured backup target, opened; `None` when no backup is configured.
fn backup_target(rt: &Runtime) -> Result<Option<cista_backup::BackupTarget>, String> {
    match super::backup::target_spec(rt).map_err(|f| f.0)? {
        Some(spec) => cista_backup::BackupTarget::open(&spec)
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}
