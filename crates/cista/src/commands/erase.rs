//! `cista erase SUBJECT`: crypto-shredding of one person.

use crate::cli::EraseArgs;
use crate::runtime::{Failure, Runtime};
use cista_types::SubjectCode;

pub async fn run(rt: &Runtime, args: &EraseArgs) -> Result<(), Failure> {
    let subject = SubjectCode::parse(&args.subject)
        .map_err(|e| Failure(format!("{}: the subject code {}", args.subject, e.message)))?;
    let cista = rt.open(false).await?;
    cista.erase_person(&rt.operator(), subject).await?;
    // The erasure ledger beside the backups: a restore to any earlier time replays it.
    // The erasure itself has happened; a target that cannot be reached now only delays the
    // ledger entry, which a running server (or the next one started) copies from the vault.
    if let Some(at) = cista.vault().tombstone(subject).await?
        && let Err(e) = super::backup::record_erasure(rt, subject, at).await
    {
        eprintln!(
            "warning: the erasure is done but not yet in the backup's erasure ledger ({e});              the server adds it when it can reach the backup target"
        );
    }
    println!(
        "erased subject {subject}: their key is destroyed and a tombstone recorded; their \
         personal data can no longer be read, and the subject will never be used again"
    );
    Ok(())
}
