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
//! `SeaTx::box_as_committed`).

use super::lists::keyset_page;
use async_trait::async_trait;
use cista_core::ports::{BoxColumns, BoxEntry, BoxReaderApart};
use cista_core::{Error, Result};
use cista_types::{BallotId, Tracker, Weight};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use sea_orm::DbBackend;
use sea_orm::sea_query::Value;
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
            page.push(BoxEntry {
                ballot,
                tracker: Tracker::from_i64(row.get(0).map_err(Error::store)?),
                weight: Weight::from_micros(row.get(1).map_err(Error::store)?),
                sealed_choices: sealed.as_blob().map_err(Error::store)?.to_vec(),
                unit: None,
                cast_at: None,
            });
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

/// How a write transaction (`SeaTx`) reads its box pages on SQLite: through a [`BoxReader`]
/// of its own while that sees the box exactly as the transaction does, through its own
/// connection otherwise.
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
    busy_timeout: Duration,
    reader: Option<BoxReader>,
    /// False once the transaction has added entries to a box; shared with the readers
    /// handed out apart from it.
    as_committed: Arc<AtomicBool>,
}

impl TxBoxReading {
    /// For a transaction on the database in `file` (`None` in memory and on PostgreSQL).
    pub(crate) fn new(file: Option<Arc<Path>>, busy_timeout: Duration) -> Self {
        Self {
            file,
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

    /// A reader of `ballot`'s box apart from the transaction (`None` in memory, on
    /// PostgreSQL, and once the transaction has added box entries).
    pub(crate) fn apart(&self, ballot: BallotId) -> Option<Box<dyn BoxReaderApart>> {
        let file = self.file.clone()?;
        self.as_committed
            .load(Ordering::SeqCst)
            .then(|| -> Box<dyn BoxReaderApart> {
                Box::new(ReaderApart {
                    file,
                    busy_timeout: self.busy_timeout,
                    reader: None,
                    as_committed: self.as_committed.clone(),
                    ballot,
                })
            })
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

/// [`TxBoxReading::apart`]'s reader.
struct ReaderApart {
    file: Arc<Path>,
    busy_timeout: Duration,
    reader: Option<BoxReader>,
    as_committed: Arc<AtomicBool>,
    ballot: BallotId,
}

#[async_trait]
impl BoxReaderApart for ReaderApart {
    async fn page(&mut self, after: Option<Tracker>, limit: u64) -> Result<Vec<BoxEntry>> {
        let page = (self.ballot, after, limit);
        let read = read_page(&mut self.reader, &self.file, self.busy_timeout, page).await?;
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
