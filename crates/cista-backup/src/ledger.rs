//! The erasure ledger: one small object per erased subject, kept in the backup target beside
//! the backups and never deleted or rolled back. Every restore replays it, so restoring to a
//! time before an erasure cannot bring the person's data back. It holds subject codes and
//! times only, never personal data.

use crate::format::{ERASURES, erasure_key};
use crate::{BackupError, BackupTarget};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureEntry {
    /// The subject code, as printed (`cista erase SUBJECT`).
    pub subject: String,
    /// RFC 3339.
    pub erased_at: String,
}

/// Records an erasure. Idempotent: writing the same subject again changes nothing.
pub async fn record(target: &BackupTarget, entry: &ErasureEntry) -> Result<(), BackupError> {
    let key = erasure_key(&entry.subject);
    if target.get(&key).await?.is_some() {
        return Ok(());
    }
    let bytes = serde_json::to_vec(entry)
        .map_err(|e| BackupError::Io(format!("cannot encode an erasure: {e}")))?;
    target.put(&key, bytes).await
}

/// Every recorded erasure, oldest subject code first.
pub async fn entries(target: &BackupTarget) -> Result<Vec<ErasureEntry>, BackupError> {
    let mut out = Vec::new();
    for (key, _) in target.list(ERASURES).await? {
        let Some(bytes) = target.get(&key).await? else {
            continue;
        };
        let entry: ErasureEntry = serde_json::from_slice(&bytes).map_err(|e| {
            BackupError::Integrity(format!("the erasure ledger entry {key} is unreadable: {e}"))
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// The subjects already in the ledger (names only, no reads).
pub async fn subjects(target: &BackupTarget) -> Result<Vec<String>, BackupError> {
    Ok(target
        .list(ERASURES)
        .await?
        .into_iter()
        .filter_map(|(key, _)| {
            key.rsplit('/')
                .next()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect())
}
