//! What the backup is doing right now: shared with the trust page and `/metrics` inside the
//! server, and written to a small file for `cista backup status` in another process.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub type SharedStatus = Arc<Mutex<BackupStatus>>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupStatus {
    /// `sqlite` (shipped by Cista) or `postgresql` (archived by pgBackRest).
    pub engine: String,
    pub target: String,
    pub lineage: Option<String>,
    /// The last segment shipped.
    pub last_seq: u64,
    /// Age of the oldest committed transaction not yet in the target; 0 when caught up.
    pub lag_ms: u64,
    pub pending_transactions: u64,
    /// The newest snapshot of the current lineage: without one, nothing since the lineage
    /// began can be restored.
    pub newest_snapshot_ms: Option<i64>,
    pub lineage_started_ms: i64,
    pub snapshot_running: bool,
    pub last_error: Option<String>,
    pub error_since_ms: Option<i64>,
    pub stale_after_ms: i64,
    /// When the shipper last wrote this status.
    pub updated_ms: i64,
    pub running: bool,
    /// The latest step back of the system clock in this backup's history, if any. It does
    /// not make the backup unhealthy (restores follow sequence numbers), but it is reported.
    #[serde(default)]
    pub clock_step: Option<crate::format::ClockStep>,
}

impl BackupStatus {
    /// Whether the backup is keeping up at `now_ms`: shipping runs, no error has lasted
    /// longer than `stale_after`, the lag is below it, and the status itself is fresh.
    pub fn healthy(&self, now_ms: i64) -> bool {
        let stale = self.stale_after_ms.max(1);
        self.running
            && i64::try_from(self.lag_ms).unwrap_or(i64::MAX) < stale
            && self
                .error_since_ms
                .is_none_or(|since| now_ms - since < stale)
            && now_ms - self.updated_ms < stale
            && (self.newest_snapshot_ms.is_some() || now_ms - self.lineage_started_ms < stale)
    }

    /// A one-line summary for logs, the CLI and the trust page.
    pub fn summary(&self, now_ms: i64) -> String {
        if !self.running {
            return "not running".to_owned();
        }
        let lag = format!("{:.1} s", self.lag_ms as f64 / 1000.0);
        if self.newest_snapshot_ms.is_none() && self.last_error.is_none() {
            return format!(
                "taking the first snapshot of a new lineage (lag {lag}); nothing since it began \
                 is restorable until it is stored"
            );
        }
        match &self.last_error {
            Some(error) => format!(
                "failing for {} s: {error} (lag {lag})",
                (now_ms - self.error_since_ms.unwrap_or(now_ms)) / 1000
            ),
            None => format!(
                "shipping, lag {lag}, {} transactions waiting",
                self.pending_transactions
            ),
        }
    }

    /// Writes the status atomically (a temporary file renamed into place).
    pub fn write_file(&self, path: &Path) {
        let Ok(bytes) = serde_json::to_vec_pretty(self) else {
            return;
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }

    pub fn read_file(path: &Path) -> Option<Self> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}
