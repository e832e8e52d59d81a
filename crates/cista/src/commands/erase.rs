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
    if let Some(at) = cista.vault().tombstone(subject).await? {
        super::backup::record_erasure(rt, subject, at).await?;
    }
    println!(
        "erased subject {subject}: their key is destroyed and a tombstone recorded; their \
         personal data can no longer be read, and the subject will never be used again"
    );
    Ok(())
}
