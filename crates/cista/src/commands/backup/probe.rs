//! The trust page's backup line: the running SQLite shipper's status, or pgBackRest's state
//! polled in the background on PostgreSQL.

use super::now_ms;
use crate::runtime::Runtime;
use cista_backup::{SharedStatus, pgbackrest, restore};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The trust page's view of a running shipper.
#[derive(Debug)]
pub struct ShipperProbe(pub SharedStatus);

impl cista_http::BackupProbe for ShipperProbe {
    fn line(&self) -> cista_http::BackupLine {
        let status = match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let now = now_ms();
        let mut details = vec![
            ("Target".to_owned(), status.target.clone()),
            (
                "Method".to_owned(),
                "every committed transaction read from SQLite's WAL and shipped within a \
                 tick; AES-256-GCM under a backup key wrapped by the key provider; \
                 deflate-compressed; SHA-256 per object; gap-free sequence"
                    .to_owned(),
            ),
            (
                "Lag".to_owned(),
                format!("{:.1} s", status.lag_ms as f64 / 1000.0),
            ),
        ];
        if let Some(at) = status.newest_snapshot_ms {
            details.push(("Newest snapshot".to_owned(), restore::format_time(at)));
        }
        if let Some(lineage) = &status.lineage {
            details.push((
                "Lineage".to_owned(),
                format!("{lineage}, {} segments", status.last_seq),
            ));
        }
        let mut notices = Vec::new();
        if let Some(step) = &status.clock_step {
            details.push(("Clock".to_owned(), step.describe()));
            notices.push(
                "the server's clock was once set back; the backup keeps its own order, so \
                 restores are not affected"
                    .to_owned(),
            );
        }
        let ok = status.healthy(now);
        let lag = format!("lag {:.1} s", status.lag_ms as f64 / 1000.0);
        cista_http::BackupLine {
            ok,
            // No target path, lineage id or error text for the public: the facts only.
            summary: if ok {
                format!("continuous, encrypted; {lag}")
            } else if status.running {
                format!("FAILING: the backup is behind or failing ({lag})")
            } else {
                "FAILING: not running".to_owned()
            },
            staff_summary: if ok {
                format!("continuous to {}; {lag}", status.target)
            } else {
                format!("FAILING: {}", status.summary(now))
            },
            details,
            notices,
        }
    }
}

/// PostgreSQL: pgBackRest's state, polled in the background for the trust page.
#[derive(Debug)]
pub(super) struct PgProbe(Arc<Mutex<cista_http::BackupLine>>);

impl PgProbe {
    pub(super) fn spawn(rt: &Runtime) -> Self {
        let line = Arc::new(Mutex::new(cista_http::BackupLine {
            ok: false,
            summary: "PostgreSQL archiving: not yet checked".to_owned(),
            ..cista_http::BackupLine::default()
        }));
        let shared = line.clone();
        let stanza = rt.config.backup.pgbackrest_stanza.clone();
        let config = rt.config.backup.pgbackrest_config.clone();
        let url = rt.paths.database_url.clone();
        let stale = i64::try_from(rt.config.backup.stale_after_secs).unwrap_or(60);
        tokio::spawn(async move {
            loop {
                let fresh =
                    pg_line(stanza.as_deref(), config.as_deref(), url.expose(), stale).await;
                if let Ok(mut slot) = shared.lock() {
                    *slot = fresh;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        Self(line)
    }
}

impl cista_http::BackupProbe for PgProbe {
    fn line(&self) -> cista_http::BackupLine {
        match self.0.lock() {
            Ok(line) => line.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

async fn pg_line(
    stanza: Option<&str>,
    config: Option<&Path>,
    url: &str,
    stale_secs: i64,
) -> cista_http::BackupLine {
    let Some(stanza) = stanza else {
        return cista_http::BackupLine {
            ok: false,
            summary: "PostgreSQL archiving: not configured".to_owned(),
            staff_summary:
                "PostgreSQL: set backup.pgbackrest_stanza (see docs/postgresql-backup.md)"
                    .to_owned(),
            ..cista_http::BackupLine::default()
        };
    };
    let info = pgbackrest::info(stanza, config).await;
    let archiver = pgbackrest::archiver_stats(url).await;
    let mut details = Vec::new();
    let mut ok = true;
    let mut summary =
        format!("PostgreSQL continuous archiving through pgBackRest (stanza {stanza})");
    match &info {
        Ok(info) => {
            ok &= info.healthy && info.backups > 0;
            details.push((
                "pgBackRest".to_owned(),
                format!("{}; {} backups", info.status, info.backups),
            ));
            if let Some(stop) = info.newest_backup_stop {
                details.push((
                    "Newest backup".to_owned(),
                    restore::format_time(stop * 1000),
                ));
            }
        }
        Err(e) => {
            ok = false;
            summary = format!("FAILING: {e}");
        }
    }
    match &archiver {
        Ok(a) => {
            ok &= !a.failing;
            if a.failing {
                summary = format!(
                    "FAILING: archiving of {} failed",
                    a.last_failed_wal.clone().unwrap_or_default()
                );
            }
            // An idle server archives nothing, so the age of the last archived segment is
            // shown, not judged; archive_timeout itself must bound the loss.
            if let (Some(since), Some(timeout)) = (a.seconds_since_archived, a.archive_timeout_secs)
            {
                ok &= timeout > 0 && timeout <= stale_secs;
                details.push((
                    "Last WAL archived".to_owned(),
                    format!("{since} s ago (archive_timeout {timeout} s)"),
                ));
            }
        }
        Err(e) => {
            ok = false;
            details.push(("Archiver".to_owned(), e.to_string()));
        }
    }
    cista_http::BackupLine {
        ok,
        // The public sees whether archiving keeps up, not the stanza or the error text.
        summary: if ok {
            "PostgreSQL continuous archiving through pgBackRest".to_owned()
        } else {
            "FAILING: PostgreSQL archiving is behind or failing".to_owned()
        },
        staff_summary: summary,
        details,
        notices: Vec::new(),
    }
}
