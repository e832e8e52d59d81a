//! `cista blobs sweep`: removes from the blob store what no record needs (see
//! `Cista::sweep_blobs`), the same sweep `serve` runs once a day.

use crate::cli::SweepArgs;
use crate::runtime::{Failure, Runtime};
use cista_core::platform::blobs::BlobSweep;
use std::time::Duration;

pub async fn sweep(rt: &Runtime, args: &SweepArgs) -> Result<(), Failure> {
    let cista = rt.open(false).await?;
    let blobs = super::backup::blob_store(rt)?;
    let grace = Duration::from_secs(args.grace_hours.saturating_mul(3600));
    let found = cista.sweep_blobs(&blobs, grace, args.dry_run).await?;
    println!(
        "{} ({}, keeping what was written in the last {} hours)",
        summary(&found, args.dry_run),
        cista_core::ports::BlobStore::describe(&blobs),
        args.grace_hours
    );
    Ok(())
}

/// One line: what was removed (or would be, on a dry run) and what was kept.
pub fn summary(found: &BlobSweep, dry_run: bool) -> String {
    let verb = if dry_run { "would remove" } else { "removed" };
    format!(
        "{verb} {} and {}; kept {} referenced, {} recent, {} not Cista's",
        count(found.orphans, "unreferenced blob", "unreferenced blobs"),
        count(
            found.stale_staging,
            "stale staging file",
            "stale staging files"
        ),
        found.referenced,
        found.recent,
        found.unknown
    )
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
