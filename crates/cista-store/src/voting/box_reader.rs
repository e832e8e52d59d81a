//! A ballot box read in bulk on SQLite through a read-only connection of its own (rusqlite,
//! on a blocking thread) instead of through sqlx. sqlx-sqlite reads on a worker thread that
//! copies every value of every row (one `malloc` each) and hands each row over a channel to
//! the async task that takes it: at a million ballots that worker and that task spent
//! 2.5 s of CPU between them, more than opening the ballots did. Here one thread steps the
//! statement and copies each sealed ballot once, straight into the page.
//!
//! Only the ballots' own three columns are read this way (`BoxColumns::Ballots`: tracker,
//! weight, sealed choices, all integers and a blob). A record file that names units and times
//! (`BoxColumns::All`) still reads through sqlx, which decodes the stored times.
//!
//! The reader is another connection, so it sees what is committed, not a transaction's own
//! uncommitted writes: `SeaTx` reads through it only while the box is as committed (see
//! [`TxBoxReading`]).
//!
//! On PostgreSQL the close's box is read apart from its transaction too, so that the
//! transaction sums the turnout meanwhile: as one streamed statement, on a connection of its
//! own in a read-only transaction that imports the close's snapshot ([`TxBoxReading::apart`],
//! `box_stream`).

use super::box_stream::PostgresBoxStream;
use super::lists::{ballot_entry, keyset_page};
use async_trait::async_trait;
use cista_core::ports::{BoxColumns, BoxEntry, BoxReaderApart};
use cista_core::{Error, Result};
use cista_types::{BallotId, Tracker};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use sea_orm::sea_query::Value;
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
};
use sqlx::pool::PoolConnection;
use sqlx::{Executor as _, Postgres};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A read-only connection to the store's SQLite file, for box pages. The file is read
/// through a memory map while it is open (as `backend::map_for_bulk_read` does for sqlx's
/// connections), and the map goes with the connection.
pub(crate) struct BoxReader {
    conn: Connection,
}

impl BoxReader {
    /// Opens `file` read-only; a writer holding the database waits up to `busy_timeout`
    /// (WAL readers wait only while a log is recovered).
    ///
    /// # Errors
    /// `StoreUnavailable` when the file cannot be opened or configured.
    pub(crate) fn open(file: &Path, busy_timeout: Duration) -> Result<Self> {
        let conn = Connection::open_with_flags(
            file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(Error::store_unavailable)?;
        // A read-only connection never checkpoints; this also keeps it from trying when it
        // is the file's last connection to close, which would take the log from under the
        // backup shipper (`wal_autocheckpoint = 0` leaves checkpoints to it).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(Error::store_unavailable)?;
        conn.busy_timeout(busy_timeout)
            .map_err(Error::store_unavailable)?;
        let map = i64::try_from(crate::backend::SQLITE_MMAP_SIZE).unwrap_or(i64::MAX);
        conn.pragma_update(None, "mmap_size", map)
            .map_err(Error::store_unavailable)?;
        Ok(Self { conn })
    }

    /// Up to `limit` entries of `ballot`'s box with a tracker above `after` (from the first
    /// when `None`), in tracker order, with no unit or time: the query of
    /// `lists::box_entries_after` with `BoxColumns::Ballots`, bound as parameters.
    ///
    /// # Errors
    /// The store's error if SQLite fails or a column does not hold the type the box keeps.
    pub(crate) fn page(
        &self,
        ballot: BallotId,
        after: Option<Tracker>,
        limit: u64,
    ) -> Result<Vec<BoxEntry>> {
        let statement =
            DbBackend::Sqlite.build(&keyset_page(ballot, after, limit, BoxColumns::Ballots));
        let parameters = integer_parameters(statement.values.map(|v| v.0).unwrap_or_default())?;
        let mut prepared = self.conn.prepare(&statement.sql).map_err(Error::store)?;
        let mut rows = prepared
            .query(rusqlite::params_from_iter(parameters))
            .map_err(Error::store)?;
        let mut page = Vec::with_capacity(usize::try_from(limit.min(4_096)).unwrap_or(0));
        while let Some(row) = rows.next().map_err(Error::store)? {
            // The columns of `lists::box_page`, by position: tracker, weight, choices.
            let sealed = row.get_ref(2).map_err(Error::store)?;
            page.push(ballot_entry(
                ballot,
                row.get(0).map_err(Error::store)?,
                row.get(1).map_err(Error::store)?,
                sealed.as_blob().map_err(Error::store)?.to_vec(),
            ));
        }
        Ok(page)
    }
}

/// The values of a box page's query (a ballot id, a tracker, a limit) as SQLite integers.
fn integer_parameters(values: Vec<Value>) -> Result<Vec<i64>> {
    values
        .into_iter()
        .map(|value| match value {
            Value::BigInt(Some(n)) => Ok(n),
            Value::BigUnsigned(Some(n)) => i64::try_from(n)
                .map_err(|_| Error::Internal(format!("a box page's bound {n} is too large"))),
            other => Err(Error::Internal(format!(
                "a box page's query holds a value that is not an integer: {other:?}"
            ))),
        })
        .collect()
}

/// Reads a page with `reader` on a blocking thread, opening it on `file` first when there is
/// none yet (the reader is kept for the next page).
///
/// # Errors
/// As [`BoxReader::open`] and [`BoxReader::page`]; `Internal` if the blocking thread stops.
pub(crate) async fn read_page(
    reader: &mut Option<BoxReader>,
    file: &Arc<Path>,
    busy_timeout: Duration,
    (ballot, after, limit): (BallotId, Option<Tracker>, u64),
) -> Result<Vec<BoxEntry>> {
    let (kept, file) = (reader.take(), file.clone());
    let (opened, page) = tokio::task::spawn_blocking(move || -> Result<_> {
        let opened = match kept {
            Some(reader) => reader,
            None => BoxReader::open(&file, busy_timeout)?,
        };
        let page = opened.page(ballot, after, limit)?;
        Ok((opened, page))
    })
    .await
    .map_err(|e| Error::Internal(format!("reading the ballot box stopped: {e}")))??;
    *reader = Some(opened);
    Ok(page)
}

/// How a write transaction (`SeaTx`) reads its box pages: on SQLite, through a [`BoxReader`]
/// of its own while that sees the box exactly as the transaction does, through its own
/// connection otherwise; and how it hands out a reader apart from it (SQLite's file and
/// PostgreSQL).
///
/// The reader sees what is committed. A write transaction on SQLite holds the database's
/// write lock from its `BEGIN IMMEDIATE` (`backend::write_transaction`), so nothing is
/// committed while it lives, and the committed box is the transaction's box until the
/// transaction itself changes which entries it holds. Entries are never updated (a
/// trigger refuses it) and only a shuffle deletes them, writing every one back
/// (`shuffle_box`: the same entries in another order), so the one change that counts is
/// adding entries: [`TxBoxReading::box_written`] marks it, and from then on the
/// transaction's own connection reads the pages, and a reader handed out apart from the
/// transaction ([`TxBoxReading::apart`]) fails.
pub(crate) struct TxBoxReading {
    /// The database file; `None` in memory and on PostgreSQL.
    file: Option<Arc<Path>>,
    /// The store's pool on PostgreSQL (`None` on SQLite): a reader apart from the
    /// transaction reads on a connection of its own, in the transaction's snapshot.
    postgres: Option<DatabaseConnection>,
    busy_timeout: Duration,
    reader: Option<BoxReader>,
    /// False once the transaction has added entries to a box; shared with the readers
    /// handed out apart from it.
    as_committed: Arc<AtomicBool>,
}

impl TxBoxReading {
    /// For a transaction on the database in `file` (`None` in memory and on PostgreSQL), or
    /// on the PostgreSQL server of the pool `postgres`.
    pub(crate) fn new(
        file: Option<Arc<Path>>,
        postgres: Option<DatabaseConnection>,
        busy_timeout: Duration,
    ) -> Self {
        Self {
            file,
            postgres,
            busy_timeout,
            reader: None,
            as_committed: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Marks that the transaction added entries to a box (before it writes them).
    pub(crate) fn box_written(&mut self) {
        self.as_committed.store(false, Ordering::SeqCst);
        self.reader = None;
    }

    /// A reader of `ballot`'s box apart from `txn`, the transaction this reads for: on a
    /// SQLite file, a read-only connection of its own (it sees what is committed, which is
    /// the transaction's box: see above); on PostgreSQL, a read-only transaction of its own
    /// in `txn`'s snapshot (`pg_export_snapshot`, `SET TRANSACTION SNAPSHOT`), which sees the
    /// box as committed when the snapshot was taken, as the transaction saw it, without the
    /// transaction's own writes (a shuffle's: the same entries). A close holds its ballot's
    /// exclusive lock (`lock_ballot`), which every cast into the box waits for, so nothing is
    /// added to the box after the snapshot but by the transaction itself. `None` in memory, once the
    /// transaction has added box entries, and when the pool has no connection to spare
    /// within [`SPARE_CONNECTION_WAIT`] (the transaction then reads the box itself, rather
    /// than every connection of a busy pool waiting on another) or that connection cannot
    /// take the snapshot (logged as a warning).
    ///
    /// # Errors
    /// The store's error if PostgreSQL refuses to export the snapshot.
    pub(crate) async fn apart(
        &mut self,
        txn: &DatabaseTransaction,
        ballot: BallotId,
    ) -> Result<Option<Box<dyn BoxReaderApart>>> {
        if !self.as_committed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let source = if let Some(file) = &self.file {
            ApartSource::SqliteFile {
                file: file.clone(),
                busy_timeout: self.busy_timeout,
                reader: None,
            }
        } else if let Some(pool) = &self.postgres {
            match in_snapshot_of(txn, pool).await? {
                Some(conn) => ApartSource::Postgres(PostgresBoxStream::start(conn, ballot)?),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        Ok(Some(Box::new(ReaderApart {
            source,
            as_committed: self.as_committed.clone(),
            ballot,
            next_after: Some(None),
        })))
    }

    /// A page as `lists::box_entries_after` reads it, through the reader when it can be
    /// (`None` otherwise: the caller reads on the transaction's connection).
    pub(crate) async fn page(
        &mut self,
        ballot: BallotId,
        after: Option<Tracker>,
        limit: u64,
        columns: BoxColumns,
    ) -> Option<Result<Vec<BoxEntry>>> {
        let file = self.file.as_ref()?;
        if !self.as_committed.load(Ordering::SeqCst) || columns != BoxColumns::Ballots {
            return None;
        }
        let page = (ballot, after, limit);
        Some(read_page(&mut self.reader, file, self.busy_timeout, page).await)
    }
}

/// How long [`TxBoxReading::apart`] waits for a spare connection of a PostgreSQL pool.
const SPARE_CONNECTION_WAIT: Duration = Duration::from_millis(250);

/// A connection of `pool` in a read-only transaction in `txn`'s snapshot, or `None` when the
/// pool has no connection to spare within [`SPARE_CONNECTION_WAIT`]. The snapshot is
/// imported while `txn`, which exported it, is still open, as PostgreSQL requires.
///
/// `None` too, with a warning, when the other connection fails to begin or to import the
/// snapshot.
///
/// # Errors
/// The store's error if PostgreSQL refuses the export (which runs in `txn`), or names the
/// snapshot in a form other than its own (hexadecimal groups joined by `-`).
async fn in_snapshot_of(
    txn: &DatabaseTransaction,
    pool: &DatabaseConnection,
) -> Result<Option<PoolConnection<Postgres>>> {
    let exported = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_export_snapshot()",
        ))
        .await
        .map_err(crate::convert::db_err)?
        .ok_or_else(|| Error::Internal("pg_export_snapshot() returned no row".to_owned()))?;
    let snapshot: String = exported
        .try_get_by_index(0)
        .map_err(crate::convert::db_err)?;
    // `SET TRANSACTION SNAPSHOT` takes no parameters: only a name of PostgreSQL's own form
    // is written into the statement.
    if snapshot.is_empty()
        || !snapshot
            .split('-')
            .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Error::Internal(format!(
            "PostgreSQL exported a snapshot named {snapshot:?}"
        )));
    }
    if pool.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let acquire = pool.get_postgres_connection_pool().acquire();
    let Ok(acquired) = tokio::time::timeout(SPARE_CONNECTION_WAIT, acquire).await else {
        return Ok(None);
    };
    // Past the export, `txn` has run nothing that failed: if the other connection cannot be
    // had or cannot take the snapshot (a closed pool, a proxy that sends read-only
    // transactions elsewhere), the transaction reads its box itself rather than fail. A
    // connection that began its transaction and then failed is closed, not put back.
    let no_reader = |err: sqlx::Error| {
        tracing::warn!(error = %err, "no reader apart from the transaction: its box is read in it");
        Ok(None)
    };
    let mut conn = match acquired {
        Ok(conn) => conn,
        Err(err) => return no_reader(err),
    };
    // Checked above to be of PostgreSQL's own form.
    let import = sqlx::AssertSqlSafe(format!("SET TRANSACTION SNAPSHOT '{snapshot}'"));
    let imported = async {
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        conn.execute(sqlx::raw_sql(import)).await
    };
    match imported.await {
        Ok(_) => Ok(Some(conn)),
        Err(err) => {
            conn.close_on_drop();
            no_reader(err)
        }
    }
}

/// Where a [`ReaderApart`] reads.
enum ApartSource {
    SqliteFile {
        file: Arc<Path>,
        busy_timeout: Duration,
        reader: Option<BoxReader>,
    },
    /// The box streamed from a read-only transaction in the snapshot of the transaction the
    /// reader is apart from (its connection closed if the reader is dropped before the end:
    /// it wrote nothing).
    Postgres(PostgresBoxStream),
}

/// [`TxBoxReading::apart`]'s reader.
struct ReaderApart {
    source: ApartSource,
    as_committed: Arc<AtomicBool>,
    ballot: BallotId,
    /// Where the next page must start: `Some(None)` before the first page, then the last
    /// tracker handed out (`None` once a page came back empty: the box was read to its end).
    next_after: Option<Option<Tracker>>,
}

#[async_trait]
impl BoxReaderApart for ReaderApart {
    async fn page(&mut self, after: Option<Tracker>, limit: u64) -> Result<Vec<BoxEntry>> {
        // PostgreSQL's reader streams one statement, so every reader keeps to one order.
        if self.next_after != Some(after) {
            return Err(Error::Internal(format!(
                "a box read apart is read once, in order: a page after {after:?} was asked \
                 where the next is after {:?}",
                self.next_after
            )));
        }
        let read = match &mut self.source {
            ApartSource::SqliteFile {
                file,
                busy_timeout,
                reader,
            } => read_page(reader, file, *busy_timeout, (self.ballot, after, limit)).await?,
            ApartSource::Postgres(stream) => stream.next_page(limit).await?,
        };
        self.next_after = read.last().map(|last| Some(last.tracker));
        // Checked after the read too: entries the transaction added while the page was read
        // are not in it.
        if !self.as_committed.load(Ordering::SeqCst) {
            return Err(Error::Internal(
                "the transaction added to the box it was reading apart from it".to_owned(),
            ));
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use crate::{ConnectOptions, SeaStore, Target};
    use cista_core::ports::Store as _;
    use cista_testkit::postgres::PrivateSchema;
    use cista_types::BallotId;

    /// A close on a PostgreSQL pool with no connection to spare reads its box in its own
    /// transaction: the reader apart is `None`, after a short wait, rather than the close
    /// waiting for a connection that every other holder may be waiting for too.
    #[tokio::test]
    async fn a_pool_with_no_connection_to_spare_gives_no_reader_apart() {
        let Some(schema) = PrivateSchema::create().await else {
            return;
        };
        let target = Target::parse(&schema.url()).unwrap();
        let options = ConnectOptions {
            max_connections: 1,
            ..ConnectOptions::default()
        };
        let store = SeaStore::connect_and_migrate(&target, &options)
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let apart = tx
            .voting()
            .box_reader_apart(BallotId::from_i64(7))
            .await
            .unwrap();
        assert!(apart.is_none());
        drop(tx);

        let roomy = SeaStore::connect(&target, &ConnectOptions::default())
            .await
            .unwrap();
        let mut tx = roomy.begin().await.unwrap();
        let mut apart = tx
            .voting()
            .box_reader_apart(BallotId::from_i64(7))
            .await
            .unwrap()
            .expect("a spare connection");
        assert!(apart.page(None, 10).await.unwrap().is_empty());
        drop((apart, tx));
        schema.drop_now().await;
    }

    /// A snapshot that the other connection cannot import (here: exported from another
    /// database, which PostgreSQL refuses) gives no reader apart, and leaves the transaction
    /// that exported it usable: the close then reads its box itself instead of failing.
    #[tokio::test]
    async fn a_snapshot_the_pool_cannot_import_gives_no_reader_apart() {
        use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _};
        let Some(schema) = PrivateSchema::create().await else {
            return;
        };
        let here = sea_orm::Database::connect(schema.url()).await.unwrap();
        // The server's URL with the database `postgres` in place of its own.
        let (address, query) = schema
            .server_url()
            .split_once('?')
            .unwrap_or((schema.server_url(), ""));
        let (server, _database) = address.rsplit_once('/').unwrap();
        let elsewhere = if query.is_empty() {
            format!("{server}/postgres")
        } else {
            format!("{server}/postgres?{query}")
        };
        let other_database = sea_orm::Database::connect(elsewhere).await.unwrap();
        let txn = here.begin().await.unwrap();
        let mut reading = super::TxBoxReading::new(
            None,
            Some(other_database),
            std::time::Duration::from_secs(1),
        );
        let apart = reading.apart(&txn, BallotId::from_i64(7)).await.unwrap();
        assert!(apart.is_none());
        let still = txn
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT 1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(still.try_get_by_index::<i32>(0).unwrap(), 1);
        txn.rollback().await.unwrap();
        schema.drop_now().await;
    }
}
