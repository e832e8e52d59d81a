//! PostgreSQL is backed up by its own continuous archiving through pgBackRest (see
//! docs/postgresql-backup.md); Cista only reports on it. `cista backup status` reads
//! `pgbackrest info --output=json` and the server's `pg_stat_archiver`.

use crate::BackupError;
use serde::Serialize;
use serde_json::Value;

/// What pgBackRest's `info` says about one stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PgBackrestInfo {
    pub stanza: String,
    /// `ok`, or pgBackRest's own message when the stanza is unhealthy.
    pub status: String,
    pub healthy: bool,
    pub backups: usize,
    /// Unix seconds.
    pub oldest_backup_start: Option<i64>,
    pub newest_backup_stop: Option<i64>,
    pub newest_backup_label: Option<String>,
    pub archive_min_wal: Option<String>,
    pub archive_max_wal: Option<String>,
}

/// Parses the JSON `pgbackrest --stanza=S info --output=json` prints (an array of stanzas).
pub fn parse_info(json: &str, stanza: &str) -> Result<PgBackrestInfo, BackupError> {
    let root: Value = serde_json::from_str(json).map_err(|e| {
        BackupError::Invalid(format!(
            "pgbackrest info printed something that is not JSON: {e}"
        ))
    })?;
    let stanzas = root.as_array().cloned().unwrap_or_default();
    let Some(entry) = stanzas
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(stanza))
    else {
        return Err(BackupError::Invalid(format!(
            "pgbackrest knows no stanza `{stanza}`; run `pgbackrest --stanza={stanza} stanza-create`"
        )));
    };
    let code = entry
        .pointer("/status/code")
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    let message = entry
        .pointer("/status/message")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let backups = entry
        .get("backup")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let start = |b: &Value| b.pointer("/timestamp/start").and_then(Value::as_i64);
    let stop = |b: &Value| b.pointer("/timestamp/stop").and_then(Value::as_i64);
    let newest = backups.iter().max_by_key(|b| stop(b));
    let archives = entry
        .get("archive")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wal = |field: &str| {
        archives
            .iter()
            .filter_map(|a| a.get(field).and_then(Value::as_str).map(str::to_owned))
            .max()
    };
    Ok(PgBackrestInfo {
        stanza: stanza.to_owned(),
        status: message,
        healthy: code == 0,
        backups: backups.len(),
        oldest_backup_start: backups.iter().filter_map(start).min(),
        newest_backup_stop: newest.and_then(stop),
        newest_backup_label: newest
            .and_then(|b| b.get("label"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        archive_min_wal: archives
            .iter()
            .filter_map(|a| a.get("min").and_then(Value::as_str).map(str::to_owned))
            .min(),
        archive_max_wal: wal("max"),
    })
}

/// Runs `pgbackrest info` for a stanza.
pub async fn info(
    stanza: &str,
    config: Option<&std::path::Path>,
) -> Result<PgBackrestInfo, BackupError> {
    let mut command = tokio::process::Command::new("pgbackrest");
    if let Some(config) = config {
        command.arg(format!("--config={}", config.display()));
    }
    command
        .arg(format!("--stanza={stanza}"))
        .args(["info", "--output=json"]);
    let output = command.output().await.map_err(|e| {
        BackupError::Unavailable(format!(
            "cannot run pgbackrest ({e}); install it (apt install pgbackrest) and see \
             docs/postgresql-backup.md"
        ))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(BackupError::Unavailable(format!(
            "pgbackrest info failed: {}",
            stderr.lines().next().unwrap_or("no message")
        )));
    }
    parse_info(&String::from_utf8_lossy(&output.stdout), stanza)
}

/// The server's own view of archiving (`pg_stat_archiver`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArchiverStats {
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    /// Seconds since the last WAL segment was archived.
    pub seconds_since_archived: Option<i64>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    /// Whether the last attempt failed (the failure is newer than the last success).
    pub failing: bool,
    /// Seconds since the current WAL segment began filling; with `archive_timeout` it bounds
    /// what a lost server could take with it.
    pub archive_timeout_secs: Option<i64>,
}

/// Reads `pg_stat_archiver` and `archive_timeout` from a PostgreSQL server.
pub async fn archiver_stats(url: &str) -> Result<ArchiverStats, BackupError> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| BackupError::Database(format!("cannot reach PostgreSQL: {e}")))?;
    let row: (i64, Option<String>, Option<f64>, i64, Option<String>, bool) = sqlx::query_as(
        "SELECT archived_count, last_archived_wal, \
                extract(epoch FROM now() - last_archived_time)::float8, \
                failed_count, last_failed_wal, \
                coalesce(last_failed_time > coalesce(last_archived_time, 'epoch'), false) \
         FROM pg_stat_archiver",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| BackupError::Database(format!("cannot read pg_stat_archiver: {e}")))?;
    let timeout: Option<String> =
        sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'archive_timeout'")
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| BackupError::Database(format!("cannot read archive_timeout: {e}")))?;
    let _ = conn.close().await;
    Ok(ArchiverStats {
        archived_count: row.0,
        last_archived_wal: row.1,
        seconds_since_archived: row.2.map(|s| s as i64),
        failed_count: row.3,
        last_failed_wal: row.4,
        failing: row.5,
        archive_timeout_secs: timeout.and_then(|t| t.parse().ok()),
    })
}
