//! A PostgreSQL ballot box read apart from the close's transaction as one streamed statement
//! instead of a statement per page. Read page by page, each page was a round trip: the
//! server stepped its index for 4,096 rows while Cista waited, then Cista decoded the rows
//! while the server waited, and a million-ballot close left a core idle a fifth of the time.
//! Here one `SELECT … ORDER BY tracker` runs on a connection of its own, in the close's
//! exported snapshot, and a task decodes its rows as the server sends them, into chunks
//! handed over a short queue: the server, the decoding and the opening of ballots run at
//! once. Memory stays bounded: the queue holds [`CHUNKS_AHEAD`] chunks, and the server
//! waits on the socket while Cista is behind.
//!
//! The statement is read through sqlx itself, not through sea-orm, which wraps each row in
//! a result of its own and looks each value up again: at a million rows that cost more CPU
//! than the server spent sending them.

use super::lists::{ballot_entry, box_page};
use crate::convert::db_err;
use cista_core::ports::{BoxColumns, BoxEntry};
use cista_core::{Error, Result};
use cista_types::BallotId;
use futures::TryStreamExt as _;
use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, DbErr, RuntimeErr};
use sqlx::pool::PoolConnection;
use sqlx::{Executor as _, Postgres, Row as _};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Rows decoded into one chunk before it is handed over.
const CHUNK_ROWS: usize = 1_024;

/// Chunks the decoding task may hold ready ahead of the reader (four pages of the close's
/// 4,096 rows, about a megabyte of sealed ballots).
const CHUNKS_AHEAD: usize = 16;

/// A sqlx error as the core's, classed as `convert::db_err` classes a sea-orm one.
fn sqlx_err(e: sqlx::Error) -> Error {
    db_err(DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))
}

/// A ballot's box streamed in tracker order, its ballots alone (`BoxColumns::Ballots`), from
/// a read-only transaction on a connection of its own.
pub(crate) struct PostgresBoxStream {
    chunks: mpsc::Receiver<Result<Vec<BoxEntry>>>,
    /// Rows received and not yet handed out.
    buffered: VecDeque<BoxEntry>,
    /// The stream ended (every row received, or an error handed out).
    ended: bool,
}

impl PostgresBoxStream {
    /// Starts streaming `ballot`'s box on `conn`, which holds an open read-only transaction
    /// (in the snapshot the box is to be read in). The transaction is committed when every
    /// row is read; the connection is closed instead when the reader is dropped before
    /// that or the statement fails, so that no half-read statement goes back to the pool.
    pub(crate) fn start(mut conn: PoolConnection<Postgres>, ballot: BallotId) -> Result<Self> {
        // The statement of a box page, with no limit and no start: the whole box.
        let statement = DbBackend::Postgres.build(&box_page(ballot, BoxColumns::Ballots));
        let parameters = statement.values.map(|v| v.0).unwrap_or_default();
        let ballot_id = match parameters.as_slice() {
            [Value::BigInt(Some(id))] => *id,
            other => {
                // Its transaction is open: the connection must not go back to the pool.
                conn.close_on_drop();
                return Err(Error::Internal(format!(
                    "a whole box's query holds other parameters than its ballot: {other:?}"
                )));
            }
        };
        let (sender, chunks) = mpsc::channel(CHUNKS_AHEAD);
        tokio::spawn(async move {
            let read = stream_rows(&mut conn, statement.sql, ballot_id, ballot, &sender).await;
            match read {
                Ok(true) => {
                    // Every row was read and handed over: the read-only transaction ends,
                    // and the connection goes back to the pool.
                    if let Err(e) = conn.execute("COMMIT").await {
                        conn.close_on_drop();
                        tracing::debug!(error = %e, "ending a box stream's transaction failed");
                    }
                }
                Ok(false) => conn.close_on_drop(),
                Err(e) => {
                    conn.close_on_drop();
                    // A reader that has gone no longer waits for the error.
                    let _ = sender.send(Err(e)).await;
                }
            }
        });
        Ok(Self {
            chunks,
            buffered: VecDeque::new(),
            ended: false,
        })
    }

    /// The next up to `limit` entries in tracker order; empty once every one was handed out.
    ///
    /// # Errors
    /// The store's error if the statement failed.
    pub(crate) async fn next_page(&mut self, limit: u64) -> Result<Vec<BoxEntry>> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        while self.buffered.len() < limit && !self.ended {
            match self.chunks.recv().await {
                Some(Ok(chunk)) => self.buffered.extend(chunk),
                Some(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                None => self.ended = true,
            }
        }
        Ok(self
            .buffered
            .drain(..limit.min(self.buffered.len()))
            .collect())
    }
}

/// Reads every row of `sql` (the whole box of `ballot`, whose id is `ballot_id`) on `conn`,
/// planned from the box's index (sorting turned off, as `lists::read_box_page` explains),
/// and hands them to `sender` in chunks. True when every row was handed over, false when the
/// reader went away first.
async fn stream_rows(
    conn: &mut PoolConnection<Postgres>,
    sql: String,
    ballot_id: i64,
    ballot: BallotId,
    sender: &mpsc::Sender<Result<Vec<BoxEntry>>>,
) -> Result<bool> {
    conn.execute("SET LOCAL enable_sort = off")
        .await
        .map_err(sqlx_err)?;
    // Built by sea-query, with the ballot as its one bound parameter.
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ballot_id)
        .fetch(&mut **conn);
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    while let Some(row) = rows.try_next().await.map_err(sqlx_err)? {
        // The columns of `lists::box_page`, by position: tracker, weight, choices.
        chunk.push(ballot_entry(
            ballot,
            row.try_get(0).map_err(sqlx_err)?,
            row.try_get(1).map_err(sqlx_err)?,
            row.try_get(2).map_err(sqlx_err)?,
        ));
        if chunk.len() == CHUNK_ROWS {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
            if sender.send(Ok(full)).await.is_err() {
                return Ok(false);
            }
        }
    }
    if !chunk.is_empty() && sender.send(Ok(chunk)).await.is_err() {
        return Ok(false);
    }
    Ok(true)
}
