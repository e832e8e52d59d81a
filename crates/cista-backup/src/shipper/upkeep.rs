//! Upkeep between ticks: the heartbeat, retention, the erasure ledger and the shared status.

use super::*;

impl Shipper {
    /// Writes the lineage's heartbeat object: the time and the last shipped sequence.
    pub(super) async fn heartbeat(&mut self) -> Result<(), BackupError> {
        let now_ms = self.now_ms();
        self.keep_reach(now_ms).await?;
        let body = serde_json::json!({ "at_ms": now_ms, "seq": self.next_seq - 1 });
        self.target
            .put(
                &format!("{}/heartbeat.json", format::lineage_prefix(&self.lineage)),
                body.to_string().into_bytes(),
            )
            .await?;
        self.last_heartbeat_ms = now_ms;
        self.heartbeat_reach = Some((self.next_seq - 1, now_ms));
        Ok(())
    }

    /// The stored heartbeat of this lineage, if it speaks of sequence `seq` (the last shipped).
    pub(super) async fn stored_heartbeat(
        &self,
        seq: u64,
    ) -> Result<Option<(u64, i64)>, BackupError> {
        let key = format!("{}/heartbeat.json", format::lineage_prefix(&self.lineage));
        let Some(bytes) = self.target.get(&key).await? else {
            return Ok(None);
        };
        let beat: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let beat_seq = beat.get("seq").and_then(serde_json::Value::as_u64);
        let at_ms = beat.get("at_ms").and_then(serde_json::Value::as_i64);
        Ok(match (beat_seq, at_ms) {
            (Some(s), Some(at)) if s == seq => Some((s, at)),
            _ => None,
        })
    }

    /// Before an object stamped `now_ms` follows the heartbeat: if the clock is now behind the
    /// heartbeat, the time it vouched for is written as a reach mark, which nothing
    /// overwrites, so restores to the quiet time before the step still stop there.
    pub(super) async fn keep_reach(&mut self, now_ms: i64) -> Result<(), BackupError> {
        if let Some((seq, at_ms)) = self.heartbeat_reach
            && now_ms < at_ms
        {
            let body = serde_json::json!({ "at_ms": at_ms, "seq": seq });
            self.target
                .put(
                    &format::reach_key(&self.lineage, seq, at_ms),
                    body.to_string().into_bytes(),
                )
                .await?;
            self.heartbeat_reach = None;
        }
        Ok(())
    }

    /// Removes what the retention policy no longer keeps.
    pub(super) async fn apply_retention(&mut self) -> Result<(), BackupError> {
        let now_ms = self.now_ms();
        let removed = retention::apply(
            &self.target,
            now_ms,
            self.settings.retention.whole_milliseconds() as i64,
        )
        .await?;
        if !removed.delete.is_empty() {
            tracing::info!(
                objects = removed.delete.len(),
                "backup retention removed old objects"
            );
        }
        self.last_retention_ms = now_ms;
        Ok(())
    }

    /// Copies erasures not yet in the ledger.
    pub(super) async fn sync_ledger(&mut self) -> Result<(), BackupError> {
        let Some(source) = &self.erasures else {
            return Ok(());
        };
        let entries = source
            .erasures()
            .await
            .map_err(|e| BackupError::Database(format!("cannot list erasures: {e}")))?;
        for entry in entries {
            if self.ledgered.contains(&entry.subject) {
                continue;
            }
            ledger::record(&self.target, &entry).await?;
            self.ledgered.insert(entry.subject.clone());
        }
        Ok(())
    }

    /// Updates the shared status (and its file).
    pub(super) fn publish(&self, error: Option<&BackupError>) {
        let now_ms = self.now_ms();
        let lag_ms = self
            .pending
            .first()
            .map_or(0, |p| (now_ms - p.at_ms).max(0));
        let mut status = match self.status.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let previous_error_since = status.error_since_ms;
        *status = BackupStatus {
            engine: "sqlite".to_owned(),
            target: self.target.describe().to_owned(),
            lineage: Some(self.lineage.clone()),
            last_seq: self.next_seq - 1,
            lag_ms: u64::try_from(lag_ms).unwrap_or(0),
            pending_transactions: self.pending.len() as u64,
            newest_snapshot_ms: self.last_snapshot_ms,
            lineage_started_ms: self.lineage_started_ms,
            snapshot_running: self.snapshot.is_some(),
            last_error: error.map(|e| e.to_string()),
            error_since_ms: error.map(|_| previous_error_since.unwrap_or(now_ms)),
            stale_after_ms: self.settings.stale_after.whole_milliseconds() as i64,
            updated_ms: now_ms,
            running: true,
            clock_step: self.clock_step.clone(),
        };
        metrics::gauge!("cista_backup_lag_seconds").set(lag_ms as f64 / 1000.0);
        if let Some(path) = &self.settings.status_file {
            status.write_file(path);
        }
    }
}
