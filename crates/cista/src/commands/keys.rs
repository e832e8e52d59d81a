//! `cista keys status` and `cista keys rotate`.

use crate::cli::RotateArgs;
use crate::runtime::{Failure, Runtime};
use std::process::ExitCode;

pub async fn status(rt: &Runtime) -> Result<ExitCode, Failure> {
    let cista = rt.open(false).await?;
    let status = cista.key_status(&rt.operator()).await?;
    println!(
        "provider   {} ({})",
        status.provider.kind, status.provider.location
    );
    let count = |kek| {
        let n = status.keys_by_kek.get(kek).copied().unwrap_or(0);
        cista_types::words::count(n, "stored key", "stored keys")
    };
    println!(
        "active     {}  wraps {}",
        status.provider.active_kek,
        count(&status.provider.active_kek)
    );
    for retired in &status.provider.retired_keks {
        println!("retired    {retired}  wraps {}", count(retired));
    }
    for missing in &status.missing_keks {
        println!(
            "MISSING    {missing}  wraps {} that cannot be unwrapped",
            count(missing)
        );
    }
    Ok(if status.missing_keks.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn rotate(rt: &Runtime, args: &RotateArgs) -> Result<(), Failure> {
    let cista = rt.open(false).await?;
    let report = cista
        .rotate_keys(&rt.operator(), args.remove_retired)
        .await?;
    println!("new active key-encryption key {}", report.new_kek);
    println!(
        "re-wrapped {}",
        cista_types::words::count(report.rewrapped, "stored key", "stored keys")
    );
    for removed in &report.removed {
        println!("removed retired key {removed}");
    }
    for kept in &report.kept {
        println!("kept retired key {kept} (older backups need it; --remove-retired deletes it)");
    }
    cista.sign_checkpoint(&cista_core::Actor::System).await?;
    Ok(())
}
