//! Connecting to the database and its schema: which migrations a database applied, applying
//! the pending ones, refusing a database newer than this binary, and measuring the raw durable
//! commit rate (for `cista bench`).

use crate::SeaStore;
use crate::backend::{self, ConnectOptions, Target};
use crate::convert::db_err;
use crate::migration::{Migrator, known_migrations};
use crate::query;
use cista_core::ports::Backend;
use cista_core::{Error, Result};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use std::sync::Arc;

/// Reads which migrations a database applied (in `table`) and compares with `known`.
pub(crate) async fn schema_status_of(
    db: &DatabaseConnection,
    table: &str,
    known: &[String],
) -> Result<SchemaStatus> {
    use sea_orm::{ConnectionTrait as _, Statement};
    let manager = sea_orm_migration::SchemaManager::new(db);
    let applied: Vec<String> = if manager.has_table(table).await.map_err(db_err)? {
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT version FROM {table} ORDER BY version"),
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .collect()
    } else {
        Vec::new()
    };
    if let Some(unknown) = applied.iter().filter(|a| !known.contains(a)).max() {
        return Err(Error::SchemaTooNew {
            database: unknown.clone(),
            binary: known.last().cloned().unwrap_or_default(),
        });
    }
    let pending = known
        .iter()
        .filter(|k| !applied.contains(k))
        .cloned()
        .collect();
    Ok(SchemaStatus { applied, pending })
}

/// Where the schema stands relative to this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

impl SeaStore {
    /// Connects without touching the schema. Refuses a database newer than this binary.
    pub async fn connect(target: &Target, options: &ConnectOptions) -> Result<Self> {
        let db = backend::connect(target, options).await?;
        let backend = target.backend();
        let store = Self {
            db,
            backend,
            location: target.describe(),
            write_turn: (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
            write_wait: options.busy_timeout,
            sqlite_file: match target {
                Target::SqliteFile(path) => Some(Arc::from(path.as_path())),
                Target::SqliteMemory | Target::Postgres(_) => None,
            },
            box_readers: Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(options.max_connections.max(1)).unwrap_or(1),
            )),
        };
        store.schema_status().await?;
        Ok(store)
    }

    /// Connects and applies pending migrations (forward only).
    pub async fn connect_and_migrate(target: &Target, options: &ConnectOptions) -> Result<Self> {
        let store = Self::connect(target, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Which known migrations are applied and which are pending. A migration applied to the
    /// database but unknown to this binary means the database is newer: that is an error.
    pub async fn schema_status(&self) -> Result<SchemaStatus> {
        schema_status_of(&self.db, "seaql_migrations", &known_migrations()).await
    }

    /// Applies every pending migration. Returns the names applied now.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let pending = self.schema_status().await?.pending;
        if pending.is_empty() {
            return Ok(pending);
        }
        if let Err(e) = Migrator::up(&self.db, None).await {
            // Another process may have migrated at the same moment; if nothing is pending
            // now, its work is ours too.
            if self.schema_status().await?.pending.is_empty() {
                return Ok(Vec::new());
            }
            return Err(db_err(e));
        }
        Ok(pending)
    }

    /// Refuses to serve from a schema older than the binary (when migrations were not run).
    pub async fn require_current_schema(&self) -> Result<()> {
        let status = self.schema_status().await?;
        if status.applied.is_empty() {
            return Err(Error::NotInitialized);
        }
        if let Some(first) = status.pending.first() {
            return Err(Error::Conflict(format!(
                "the database schema is older than this binary (migration {first} is pending); \
                 run `cista migrate`"
            )));
        }
        Ok(())
    }

    /// Measures the database's raw durable commit rate: `n` single-row inserts into a scratch
    /// table, each in its own write transaction with the same durability settings as every
    /// vote, from `writers` writers at once (PostgreSQL then flushes concurrent commits
    /// together, its group commit; SQLite's writers take turns). The scratch table is dropped
    /// afterwards.
    pub async fn measure_commits(&self, n: u32, writers: u32) -> Result<RawCommits> {
        use sea_orm::ConnectionTrait as _;
        use sea_orm::sea_query::{ColumnDef, Query, Table};
        let create = Table::create()
            .table("cista_bench_commits")
            .if_not_exists()
            .col(ColumnDef::new("id").big_integer().not_null().primary_key())
            .col(ColumnDef::new("payload").text().not_null())
            .to_owned();
        self.db.execute(&create).await.map_err(db_err)?;
        let writers = writers.clamp(1, n.max(1));
        let started = std::time::Instant::now();
        // Each writer commits its share of the rows, one row per transaction, all at once.
        let per_writer = futures::future::try_join_all((0..writers).map(|w| async move {
            let mut times = Vec::new();
            for i in (w..n).step_by(writers as usize) {
                let insert = Query::insert()
                    .into_table("cista_bench_commits")
                    .columns(["id", "payload"])
                    .values([i64::from(i).into(), "a single durable row".into()])
                    .map_err(|e| Error::Internal(e.to_string()))?
                    .to_owned();
                let began = std::time::Instant::now();
                let (_turn, txn) = self.begin_write().await?;
                txn.execute(&insert).await.map_err(db_err)?;
                query::commit(txn).await?;
                times.push(began.elapsed());
            }
            Ok::<_, Error>(times)
        }))
        .await?;
        let wall = started.elapsed();
        let drop = Table::drop().table("cista_bench_commits").to_owned();
        self.db.execute(&drop).await.map_err(db_err)?;
        let mut latencies: Vec<_> = per_writer.into_iter().flatten().collect();
        latencies.sort();
        Ok(RawCommits {
            writers,
            wall,
            latencies,
        })
    }
}

/// What [`SeaStore::measure_commits`] measured.
#[derive(Debug, Clone)]
pub struct RawCommits {
    /// Writers committing at the same time.
    pub writers: u32,
    /// From the first commit's start to the last one's end.
    pub wall: std::time::Duration,
    /// Each commit's time from asking for the transaction to its durable end, sorted.
    pub latencies: Vec<std::time::Duration>,
}

impl RawCommits {
    /// Durable commits per second over the whole measurement.
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }
}
