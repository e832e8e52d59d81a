//! Retention by age: snapshots younger than the retention period are kept, the newest snapshot
//! always, and every segment a kept snapshot needs to reach later times. A lineage left with
//! no kept snapshot goes entirely, unless it is the newest (it may be writing its first
//! snapshot). The erasure ledger and the backup key are never touched.

use crate::format::{self, ListedLineage};
use crate::{BackupError, BackupTarget};

/// Half-written snapshots (no manifest) older than this are debris of a crash.
const INCOMPLETE_GRACE_MS: i64 = 6 * 3_600_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    pub delete: Vec<String>,
    pub kept_snapshots: usize,
    pub removed_snapshots: usize,
    pub removed_segments: usize,
    pub removed_lineages: usize,
}

/// Decides what to delete at `now_ms`, keeping `keep_ms` of history.
pub fn plan(lineages: &[ListedLineage], now_ms: i64, keep_ms: i64) -> RetentionPlan {
    let cutoff = now_ms - keep_ms;
    let newest_snapshot = lineages
        .iter()
        .flat_map(|l| {
            l.complete_snapshots()
                .map(move |s| (s.at_ms, l.id.clone(), s.dir.clone()))
        })
        .max();
    let newest_lineage = lineages.last().map(|l| l.id.clone());
    let mut out = RetentionPlan::default();
    for lineage in lineages {
        let kept: Vec<_> = lineage
            .complete_snapshots()
            .filter(|s| {
                s.at_ms >= cutoff
                    || newest_snapshot
                        .as_ref()
                        .is_some_and(|(_, _, dir)| *dir == s.dir)
            })
            .collect();
        out.kept_snapshots += kept.len();
        let Some(oldest_kept_seq) = kept.iter().map(|s| s.seq).min() else {
            if newest_lineage.as_deref() == Some(lineage.id.as_str()) {
                continue;
            }
            out.removed_lineages += 1;
            out.removed_segments += lineage.segments.len();
            out.removed_snapshots += lineage.snapshots.len();
            out.delete
                .extend(lineage.segments.iter().map(|s| s.key.clone()));
            out.delete.extend(
                lineage
                    .snapshots
                    .iter()
                    .flat_map(|s| s.objects.iter().cloned()),
            );
            out.delete
                .extend(lineage.reached.iter().map(|r| r.key.clone()));
            out.delete.push(format!(
                "{}/heartbeat.json",
                format::lineage_prefix(&lineage.id)
            ));
            continue;
        };
        for snapshot in &lineage.snapshots {
            let old_complete =
                snapshot.complete && snapshot.seq < oldest_kept_seq && snapshot.at_ms < cutoff;
            let debris = !snapshot.complete && snapshot.at_ms < now_ms - INCOMPLETE_GRACE_MS;
            if old_complete || debris {
                out.removed_snapshots += 1;
                out.delete.extend(snapshot.objects.iter().cloned());
            }
        }
        for segment in &lineage.segments {
            if segment.seq <= oldest_kept_seq {
                out.removed_segments += 1;
                out.delete.push(segment.key.clone());
            }
        }
        // A mark at the oldest kept snapshot's sequence still bounds restores from it.
        out.delete.extend(
            lineage
                .reached
                .iter()
                .filter(|r| r.seq < oldest_kept_seq)
                .map(|r| r.key.clone()),
        );
    }
    out
}

/// Lists the target, plans, and deletes. Manifests go first, so a snapshot being removed
/// stops looking complete before its chunks disappear.
pub async fn apply(
    target: &BackupTarget,
    now_ms: i64,
    keep_ms: i64,
) -> Result<RetentionPlan, BackupError> {
    let listing = target.list(format::SQLITE).await?;
    let mut plan = plan(&format::catalog(&listing), now_ms, keep_ms);
    plan.delete.sort_by_key(|k| !k.ends_with("/manifest"));
    for key in &plan.delete {
        target.delete(key).await?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{chunk_key, manifest_key, segment_key, snapshot_dir};

    const DAY: i64 = 86_400_000;

    /// A lineage with a daily snapshot and one segment per day, from `from_day` to `to_day`.
    fn listing(id: &str, from_day: i64, to_day: i64) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (n, day) in (from_day..=to_day).enumerate() {
            let seq = n as u64;
            let dir = snapshot_dir(id, seq, day * DAY);
            out.push((chunk_key(&dir, 0), 10));
            out.push((manifest_key(&dir), 1));
            out.push((segment_key(id, seq + 1, day * DAY + 1, day * DAY + 2), 5));
        }
        out
    }

    #[test]
    fn keeps_thirty_five_days_and_what_they_need() {
        let lineages = format::catalog(&listing("a", 0, 49));
        let plan = plan(&lineages, 50 * DAY, 35 * DAY);
        // Snapshots of days 15..=49 are kept (35), days 0..=14 go (15).
        assert_eq!(plan.kept_snapshots, 35);
        assert_eq!(plan.removed_snapshots, 15);
        // Segments 1..=15 only lead up to day 15's snapshot (seq 15): not needed any more.
        assert_eq!(plan.removed_segments, 15);
        assert!(plan.delete.iter().all(|k| !k.contains("0000000000000016-")));
    }

    #[test]
    fn never_deletes_the_newest_snapshot_however_old() {
        let lineages = format::catalog(&listing("a", 0, 2));
        let plan = plan(&lineages, 400 * DAY, 35 * DAY);
        assert_eq!(plan.kept_snapshots, 1);
        assert_eq!(plan.removed_snapshots, 2);
        // The newest snapshot is seq 2; segment 3 continues it and stays.
        assert!(
            !plan
                .delete
                .iter()
                .any(|k| k.contains("/segments/0000000000000003-"))
        );
        assert!(
            !plan
                .delete
                .iter()
                .any(|k| k.contains("/snapshots/0000000000000002-"))
        );
    }

    #[test]
    fn old_lineages_go_whole_but_the_newest_stays_while_it_starts() {
        let mut all = listing("20260101T000000Z-aaaa", 0, 3);
        // A newer lineage whose first snapshot is still uploading (no manifest yet).
        all.push((
            chunk_key(&snapshot_dir("20260301T000000Z-bbbb", 0, 60 * DAY), 0),
            10,
        ));
        let lineages = format::catalog(&all);
        let plan = plan(&lineages, 100 * DAY, 35 * DAY);
        // The old lineage holds the newest complete snapshot, so it stays.
        assert_eq!(plan.removed_lineages, 0);
        let plan2 = plan_with_complete_newer(&all);
        assert_eq!(plan2.removed_lineages, 1);
    }

    fn plan_with_complete_newer(all: &[(String, u64)]) -> RetentionPlan {
        let mut all = all.to_vec();
        all.push((
            manifest_key(&snapshot_dir("20260301T000000Z-bbbb", 0, 60 * DAY)),
            1,
        ));
        plan(&format::catalog(&all), 100 * DAY, 35 * DAY)
    }
}
