//! Whole ballots read in bulk: the roll and participation summed by the database (from
//! indexes alone: see migrations `m20261208_000001_turnout_indexes` and
//! `m20261210_000001_participation_weight`), and the
//! ballot box read a page at a time (keyset or numbered pages), so a million-unit ballot's
//! turnout, bulletin and bundle never need a million rows in memory at once.

use crate::convert::db_err;
use crate::entity::{ballot_box, ballot_roll, participation};
use crate::query::{Db, Fetch};
use cista_core::ports::{BoxColumns, BoxEntry, TurnoutTotals, VoteChannel};
use cista_core::{Error, Result};
use cista_types::{BallotId, Tracker, UnitId, Weight};
use sea_orm::prelude::TimeDateTimeWithTimeZone;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait as _, Func, Order, Query, SelectStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, TransactionTrait as _,
};

/// A ballot's roll and participation summed by the database. Sums of BIGINT are NUMERIC on
/// PostgreSQL, so they are cast back (a million units of the largest weight stay in range).
pub(crate) async fn turnout_totals(db: &impl Db, ballot: BallotId) -> Result<TurnoutTotals> {
    let backend = db.backend();
    let sum = |column: Expr| {
        Func::cast_as(
            Func::coalesce([Expr::from(Func::sum(column)), Expr::val(0i64)]),
            Alias::new("BIGINT"),
        )
    };
    let roll = Query::select()
        .expr(Expr::col(ballot_roll::Column::UnitId).count())
        .expr(sum(Expr::col(ballot_roll::Column::WeightMicros)))
        .from(ballot_roll::Entity)
        .and_where(Expr::col(ballot_roll::Column::BallotId).eq(ballot.as_i64()))
        .to_owned();
    let row = db
        .query_one_raw(backend.build(&roll))
        .await
        .map_err(db_err)?;
    let number =
        |row: &sea_orm::QueryResult, i: usize| row.try_get_by_index::<i64>(i).map_err(db_err);
    let mut totals = TurnoutTotals::default();
    if let Some(row) = row {
        totals.eligible_units = count(number(&row, 0)?);
        totals.eligible_weight = number(&row, 1)?;
    }
    // Units and their roll weight per channel, from the (ballot_id, channel,
    // roll_weight_micros) index alone: one walk over the ballot's part of it.
    let channels = Query::select()
        .column(participation::Column::Channel)
        // COUNT(*), not COUNT(unit_id): SQLite's index holds no unit id, and reading it would
        // cost a table lookup per voter.
        .expr(Expr::col(Asterisk).count())
        .expr(sum(Expr::col(participation::Column::RollWeightMicros)))
        .from(participation::Entity)
        .and_where(Expr::col(participation::Column::BallotId).eq(ballot.as_i64()))
        .group_by_col(participation::Column::Channel)
        // In channel order on both engines (PostgreSQL's hash aggregate has none of its own).
        .order_by(participation::Column::Channel, Order::Asc)
        .to_owned();
    for row in crate::query::select_rows(db, &channels).await? {
        let channel: String = row.try_get_by_index(0).map_err(db_err)?;
        let channel = VoteChannel::parse(&channel)
            .ok_or_else(|| Error::Integrity(format!("unknown vote channel {channel:?}")))?;
        totals.voted.push((channel, count(number(&row, 1)?)));
        totals.voted_weight = totals
            .voted_weight
            .checked_add(number(&row, 2)?)
            .ok_or_else(|| Error::Integrity("the voters' weight overflows".to_owned()))?;
    }
    Ok(totals)
}

/// A count as read from the database (never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Up to `limit` box entries after `after` (from the first when `None`), in tracker order,
/// read with `columns`: keyset paging on the `(ballot_id, tracker)` index, so page n costs
/// what page 1 does. On SQLite the connection reads through a memory map
/// (`backend::map_for_bulk_read`), so `db` must be a transaction: a pool could run the pragma
/// and the query on two connections.
pub(crate) async fn box_entries_after(
    db: &DatabaseTransaction,
    ballot: BallotId,
    after: Option<Tracker>,
    limit: u64,
    columns: BoxColumns,
) -> Result<Vec<BoxEntry>> {
    crate::backend::map_for_bulk_read(db).await?;
    let query = keyset_page(ballot, after, limit, columns);
    read_box_page(db, ballot, columns, &query).await
}

/// The query of [`box_entries_after`]: a [`box_page`] of up to `limit` entries with a
/// tracker above `after` (from the first when `None`). SQLite's bulk reader runs it too
/// (`box_reader`).
pub(super) fn keyset_page(
    ballot: BallotId,
    after: Option<Tracker>,
    limit: u64,
    columns: BoxColumns,
) -> SelectStatement {
    let mut query = box_page(ballot, columns);
    query.limit(limit);
    if let Some(after) = after {
        query.and_where(Expr::col(ballot_box::Column::Tracker).gt(after.as_i64()));
    }
    query
}

/// The columns of a box page, in the order [`box_entry_at`] reads them: the ballot's own
/// three, then its unit and time (`BoxColumns::All` only).
const BOX_PAGE_COLUMNS: [ballot_box::Column; 5] = [
    ballot_box::Column::Tracker,
    ballot_box::Column::WeightMicros,
    ballot_box::Column::Choices,
    ballot_box::Column::UnitId,
    ballot_box::Column::CastAt,
];

/// How many of [`BOX_PAGE_COLUMNS`] a page reads.
fn column_count(columns: BoxColumns) -> usize {
    match columns {
        BoxColumns::Ballots => 3,
        BoxColumns::All => BOX_PAGE_COLUMNS.len(),
    }
}

/// A ballot's box entries in tracker order, with the first `column_count(columns)` of
/// [`BOX_PAGE_COLUMNS`] (callers add the page's `LIMIT`, and where the page starts).
pub(super) fn box_page(ballot: BallotId, columns: BoxColumns) -> SelectStatement {
    Query::select()
        .columns(BOX_PAGE_COLUMNS.into_iter().take(column_count(columns)))
        .from(ballot_box::Entity)
        .and_where(Expr::col(ballot_box::Column::BallotId).eq(ballot.as_i64()))
        .order_by(ballot_box::Column::Tracker, Order::Asc)
        .to_owned()
}

/// A ballot's whole box in tracker order, every column, for the small boxes that are read at
/// once (see `VotingReads::box_entries`); a large one is read with [`box_entries_after`],
/// page by page.
pub(crate) async fn box_entries(
    db: &DatabaseConnection,
    ballot: BallotId,
) -> Result<Vec<BoxEntry>> {
    let all = BoxColumns::All;
    in_read_transaction(db, |txn| {
        Box::pin(async move { read_box_page(txn, ballot, all, &box_page(ballot, all)).await })
    })
    .await
}

/// Runs a [`box_page`] query made with `columns`. On PostgreSQL the close, the bundle and the
/// record files read a whole box this way, a million rows for a million units (on a SQLite
/// file only the record file naming units does: the rest go through `box_reader`), so each
/// row is read by column position, without the ballot's id, and (but for a record file's)
/// without the unit and time: the entity's own decoding looks every column up by name and
/// formats a message for each NULL (a secret ballot's unit and time), and every value read
/// is one more copy the driver makes. Measured on a 300,000-ballot close, reading by
/// position cut the CPU of the task that takes the rows by a fifth (0.49 s to 0.40 s).
///
/// On PostgreSQL the statement is planned with sorting turned off ([`rows_in_index_order`]),
/// so the rows come in tracker order from the `(ballot_id, tracker)` index
/// and a page stops after its `LIMIT`. Left to its statistics, the planner sorts instead
/// whenever they underestimate the ballot's rows (a box filled since the table was last
/// analysed, as every ballot's box is while it is cast into): it then fetches every entry
/// after the page's start and sorts them to keep a page, so reading a box page by page costs
/// the square of its size. Measured at a million ballots: 290-320 ms a page that way, 3-6
/// ms from the index, and the close spent 1.5 s on its first five pages (PostgreSQL plans
/// a prepared statement's first five runs with their values, then may keep a generic plan).
async fn read_box_page(
    txn: &DatabaseTransaction,
    ballot: BallotId,
    columns: BoxColumns,
    query: &SelectStatement,
) -> Result<Vec<BoxEntry>> {
    let statement = txn.get_database_backend().build(query);
    rows_in_index_order(txn, statement)
        .await?
        .iter()
        .map(|row| box_entry_at(ballot, columns, row))
        .collect()
}

/// Runs `statement` in `txn`, on PostgreSQL planned with sorting turned off for this one
/// statement (`enable_sort`, set back after it), so an ordered page of an indexed table is
/// read from its index (see [`read_box_page`]). Sorting is only made dear, not forbidden: a
/// statement that cannot be ordered any other way still sorts.
///
/// # Errors
/// The store's error if the database refuses the setting or the statement.
async fn rows_in_index_order(
    txn: &DatabaseTransaction,
    statement: sea_orm::Statement,
) -> Result<Vec<sea_orm::QueryResult>> {
    let on_postgres = txn.get_database_backend() == DbBackend::Postgres;
    if on_postgres {
        txn.execute_unprepared("SET LOCAL enable_sort = off")
            .await
            .map_err(db_err)?;
    }
    // A failed statement is returned as it is: PostgreSQL has aborted the transaction, so
    // the setting goes with it, and a reset would only fail in its place.
    let rows = txn.query_all_raw(statement).await.map_err(db_err)?;
    if on_postgres {
        // Back to the setting in force before, for whatever the transaction runs next.
        txn.execute_unprepared("SET LOCAL enable_sort TO DEFAULT")
            .await
            .map_err(db_err)?;
    }
    Ok(rows)
}

/// The box entry of `ballot` held by the first three columns of a [`box_page`] row (tracker,
/// weight in millionths, sealed choices), with no unit or time: every reader of the box
/// builds its entries through this, whichever driver read the row.
pub(super) fn ballot_entry(
    ballot: BallotId,
    tracker: i64,
    weight_micros: i64,
    sealed_choices: Vec<u8>,
) -> BoxEntry {
    BoxEntry {
        ballot,
        tracker: Tracker::from_i64(tracker),
        weight: Weight::from_micros(weight_micros),
        sealed_choices,
        unit: None,
        cast_at: None,
    }
}

/// One row of a [`box_page`] made with `columns` as the box entry of `ballot` it holds (with
/// no unit or time when they were not read).
fn box_entry_at(
    ballot: BallotId,
    columns: BoxColumns,
    row: &sea_orm::QueryResult,
) -> Result<BoxEntry> {
    let mut entry = ballot_entry(
        ballot,
        row.try_get_by_index(0).map_err(db_err)?,
        row.try_get_by_index(1).map_err(db_err)?,
        row.try_get_by_index(2).map_err(db_err)?,
    );
    if columns == BoxColumns::All {
        entry.unit = row
            .try_get_by_index::<Option<i64>>(3)
            .map_err(db_err)?
            .map(UnitId::from_i64);
        entry.cast_at = row
            .try_get_by_index::<Option<TimeDateTimeWithTimeZone>>(4)
            .map_err(db_err)?
            .map(crate::convert::from_db_time);
    }
    Ok(entry)
}

/// [`box_entries_after`] on the store's pool, in a read transaction of its own (one snapshot,
/// one connection for the map and the page).
pub(crate) async fn box_entries_after_in_pool(
    db: &DatabaseConnection,
    ballot: BallotId,
    after: Option<Tracker>,
    limit: u64,
    columns: BoxColumns,
) -> Result<Vec<BoxEntry>> {
    in_read_transaction(db, |txn| {
        Box::pin(async move { box_entries_after(txn, ballot, after, limit, columns).await })
    })
    .await
}

/// Runs `read` in a transaction of its own on the pool, committed when it succeeds: the
/// statements a box page needs (a pragma or a planner setting, then the page) on one
/// connection and one snapshot.
async fn in_read_transaction<T>(
    db: &DatabaseConnection,
    read: impl for<'t> FnOnce(
        &'t DatabaseTransaction,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>,
) -> Result<T> {
    let txn = db.begin().await.map_err(db_err)?;
    let value = read(&txn).await?;
    txn.commit().await.map_err(db_err)?;
    Ok(value)
}

/// Up to `limit` box entries with a tracker above `after` (from the first when `None`),
/// skipping the first `offset` of those, in tracker order, read with `columns`: a numbered page
/// of the list, read from a mark near it (see `VotingReads::box_marks`). The index is stepped
/// through from `after` up to `offset`, so the cost grows with `offset`, not with the page's
/// number.
pub(crate) async fn box_entries_at(
    db: &DatabaseConnection,
    ballot: BallotId,
    (after, offset): (Option<Tracker>, u64),
    limit: u64,
    columns: BoxColumns,
) -> Result<Vec<BoxEntry>> {
    let mut query = keyset_page(ballot, after, limit, columns);
    query.offset(offset);
    in_read_transaction(db, |txn| {
        Box::pin(async move { read_box_page(txn, ballot, columns, &query).await })
    })
    .await
}

/// How many of a ballot's box entries have a tracker above `after` (from the first when
/// `None`) and below `tracker`: its 0-based position in tracker order counted from `after`,
/// when it is in the box.
pub(crate) async fn box_position(
    db: &impl Db,
    ballot: BallotId,
    after: Option<Tracker>,
    tracker: Tracker,
) -> Result<u64> {
    let mut query = ballot_box::Entity::find()
        .filter(ballot_box::Column::BallotId.eq(ballot.as_i64()))
        .filter(ballot_box::Column::Tracker.lt(tracker.as_i64()));
    if let Some(after) = after {
        query = query.filter(ballot_box::Column::Tracker.gt(after.as_i64()));
    }
    query.count_rows(db).await
}

/// The statement of [`box_marks`]: a recursive query whose every step is a keyset read of
/// one entry, `every - 1` entries after the mark before. One statement steps through the
/// box's `(ballot_id, tracker)` index once, as a read of its last page by `OFFSET` does.
/// Measured on a million entries: 89–163 ms on SQLite and 96 ms on PostgreSQL 15, against
/// 490–670 ms and 316–423 ms numbered by `row_number()`, whose rows SQLite and PostgreSQL
/// number one by one. Errors: `invalid_input` when `every` is 0.
fn marks_statement(backend: DbBackend, ballot: BallotId, every: u64) -> Result<sea_orm::Statement> {
    let step = every
        .checked_sub(1)
        .and_then(|step| i64::try_from(step).ok())
        .ok_or_else(|| Error::invalid("every", "must be a positive count"))?;
    // Each value bound once per placeholder, in order (`?` on SQLite): sea-orm's rendering of
    // a statement for its logs fills placeholders one value each.
    let [ballot_at, step_at, ballot_again, step_again] = match backend {
        DbBackend::Postgres => ["$1", "$2", "$3", "$4"],
        _ => ["?"; 4],
    };
    let sql = format!(
        "WITH RECURSIVE marks (tracker) AS (\
         SELECT (SELECT tracker FROM ballot_box WHERE ballot_id = {ballot_at} \
         ORDER BY tracker LIMIT 1 OFFSET {step_at}) \
         UNION ALL \
         SELECT (SELECT b.tracker FROM ballot_box AS b WHERE b.ballot_id = {ballot_again} \
         AND b.tracker > marks.tracker ORDER BY b.tracker LIMIT 1 OFFSET {step_again}) \
         FROM marks WHERE marks.tracker IS NOT NULL) \
         SELECT tracker FROM marks WHERE tracker IS NOT NULL"
    );
    let (ballot, step) = (ballot.as_i64(), step);
    Ok(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [ballot.into(), step.into(), ballot.into(), step.into()],
    ))
}

/// The trackers at positions `every - 1`, `2 * every - 1`, … of a ballot's box in tracker
/// order (the last of each whole run of `every`), in order: see [`marks_statement`]. Errors:
/// `invalid_input` when `every` is 0.
pub(crate) async fn box_marks(
    db: &DatabaseConnection,
    ballot: BallotId,
    every: u64,
) -> Result<Vec<Tracker>> {
    let statement = marks_statement(db.get_database_backend(), ballot, every)?;
    let mut marks = in_read_transaction(db, |txn| {
        Box::pin(async move {
            rows_in_index_order(txn, statement)
                .await?
                .iter()
                .map(|row| Ok(Tracker::from_i64(row.try_get_by_index(0).map_err(db_err)?)))
                .collect::<Result<Vec<_>>>()
        })
    })
    .await?;
    // Each step's mark is above the one before, but a recursive query's rows come with no
    // promised order.
    marks.sort_unstable();
    Ok(marks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnectOptions, SeaStore};
    use cista_testkit::postgres::PrivateSchema;
    use sea_orm::Statement;

    /// The plan PostgreSQL makes for `statement`, one line of `EXPLAIN` per element, run
    /// with [`rows_in_index_order`] or without.
    async fn plan(txn: &DatabaseTransaction, statement: &Statement, in_order: bool) -> String {
        let explain = Statement {
            sql: format!("EXPLAIN {}", statement.sql),
            ..statement.clone()
        };
        let rows = if in_order {
            rows_in_index_order(txn, explain).await.unwrap()
        } else {
            txn.query_all_raw(explain).await.unwrap()
        };
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The transaction's `enable_sort`.
    async fn setting(txn: &DatabaseTransaction) -> String {
        let show = Statement::from_string(DbBackend::Postgres, "SHOW enable_sort");
        let row = txn.query_one_raw(show).await.unwrap().unwrap();
        row.try_get_by_index::<String>(0).unwrap()
    }

    /// A box that PostgreSQL holds no statistics for (filled since the table was analysed,
    /// as a box is while it is cast into): left to itself the planner fetches every entry
    /// after a page's start and sorts them; a box page walks the index instead, keyset and
    /// numbered pages alike, reads the whole box in tracker order, and leaves the
    /// transaction's planner as it found it.
    /// A statement that fails under [`rows_in_index_order`] is reported as itself, not as
    /// the setting's reset that PostgreSQL then refuses in the aborted transaction.
    #[tokio::test]
    async fn a_failing_statement_read_in_index_order_reports_its_own_error() {
        let Some(schema) = PrivateSchema::create().await else {
            return;
        };
        let db = sea_orm::Database::connect(schema.url()).await.unwrap();
        let txn = db.begin().await.unwrap();
        let missing = Statement::from_string(DbBackend::Postgres, "SELECT * FROM no_such_box");
        let err = rows_in_index_order(&txn, missing).await.unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("no_such_box"), "{text}");
        assert!(!text.contains("current transaction is aborted"), "{text}");
        drop(txn);
        schema.drop_now().await;
    }

    #[tokio::test]
    async fn a_box_page_on_postgresql_walks_the_index_whatever_the_statistics() {
        // A private schema (the test kit's `TestDatabase` holds its own build of `Target`).
        let Some(schema) = PrivateSchema::create().await else {
            return;
        };
        let target = crate::Target::parse(&schema.url()).unwrap();
        let store = SeaStore::connect_and_migrate(&target, &ConnectOptions::default())
            .await
            .unwrap();
        let db = store.connection();
        let ballot = BallotId::from_i64(7);
        // The box alone, never analysed; its ballot need not exist (key and guard lifted).
        db.execute_unprepared(
            "ALTER TABLE ballot_box SET (autovacuum_enabled = false); \
             ALTER TABLE ballot_box DROP CONSTRAINT fk_ballot_box_ballot; \
             ALTER TABLE ballot_box DISABLE TRIGGER ballot_box_sealed; \
             INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices) \
             SELECT n * 7919 - 400000000, 7, 1000000, decode(repeat('ab', 120), 'hex') \
             FROM generate_series(1, 60000) AS n",
        )
        .await
        .unwrap();
        let after = Tracker::from_i64(-400_000_000 + 7919 * 100);
        let keyset = keyset_page(ballot, Some(after), 4_096, BoxColumns::Ballots);
        let mut numbered = box_page(ballot, BoxColumns::Ballots);
        numbered.limit(2_000).offset(50_000);

        let txn = db.begin().await.unwrap();
        // The keyset page is the one a close reads a box with. (Left alone, the numbered
        // page's plan is not always the sorting one: it was an index scan once in 15 runs.)
        let left_alone = plan(&txn, &DbBackend::Postgres.build(&keyset), false).await;
        assert!(
            left_alone.contains("Sort"),
            "the statistics no longer mislead the planner, so this test shows nothing: \
             {left_alone}"
        );
        for query in [&keyset, &numbered] {
            let statement = DbBackend::Postgres.build(query);
            let in_order = plan(&txn, &statement, true).await;
            assert!(
                in_order.contains("Index Scan using ballot_box_pkey") && !in_order.contains("Sort"),
                "{in_order}"
            );
        }
        assert_eq!(setting(&txn).await, "on");

        let (mut read, mut last) = (0, None);
        loop {
            let page = box_entries_after(&txn, ballot, last, 4_096, BoxColumns::Ballots)
                .await
                .unwrap();
            let Some(end) = page.last() else { break };
            assert!(page.windows(2).all(|w| w[0].tracker < w[1].tracker));
            assert!(last.is_none_or(|l| l < page[0].tracker));
            (read, last) = (read + page.len(), Some(end.tracker));
        }
        assert_eq!(read, 60_000);
        assert_eq!(setting(&txn).await, "on");
        txn.rollback().await.unwrap();

        let page = box_entries_at(db, ballot, (None, 59_990), 2_000, BoxColumns::Ballots)
            .await
            .unwrap();
        assert_eq!(page.len(), 10);
        assert_eq!(
            page[9].tracker,
            Tracker::from_i64(60_000 * 7919 - 400_000_000)
        );
        // The marks are numbered in one walk of the index, with no sort.
        let txn = db.begin().await.unwrap();
        let marks = marks_statement(DbBackend::Postgres, ballot, 500).unwrap();
        let walk = plan(&txn, &marks, true).await;
        assert!(
            walk.contains("using ballot_box_pkey") && !walk.contains("Sort"),
            "{walk}"
        );
        // Each step starts from the mark before, as an index condition: the statement reads
        // the index about once. (PostgreSQL 15's `EXPLAIN` does not print the plan of the
        // recursive step's subquery, so it is judged by the pages it reads: a step that
        // filtered the ballot's entries from the first would read the first pages again at
        // every step, 120 steps here: about sixty times the pages.)
        let analysed = Statement {
            sql: format!("(ANALYZE, BUFFERS) {}", marks.sql),
            ..marks.clone()
        };
        let analysed = plan(&txn, &analysed, true).await;
        let pages_read: u64 = analysed
            .lines()
            .find(|line| line.trim_start().starts_with("Buffers:"))
            .map(|line| {
                line.split([' ', ','])
                    .filter_map(|part| part.split_once('='))
                    .filter(|(what, _)| ["hit", "read"].contains(what))
                    .map(|(_, n)| n.parse::<u64>().unwrap())
                    .sum()
            })
            .unwrap_or_else(|| panic!("{analysed}"));
        // The index and the table: with no vacuum since the rows went in, an index-only scan
        // still looks each row up in the table.
        let size = "SELECT ((pg_relation_size('ballot_box_pkey') \
                    + pg_relation_size('ballot_box')) / 8192)::bigint";
        let pages: i64 = txn
            .query_one_raw(Statement::from_string(DbBackend::Postgres, size))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        let pages = u64::try_from(pages).unwrap();
        assert!(
            pages_read <= 2 * pages + 4 * 120,
            "{pages_read} pages read, the index and table have {pages}: {analysed}"
        );
        txn.rollback().await.unwrap();
        let marks = box_marks(db, ballot, 500).await.unwrap();
        assert_eq!(marks.len(), 120);
        assert_eq!(marks[0], Tracker::from_i64(500 * 7919 - 400_000_000));
        assert_eq!(marks[119], Tracker::from_i64(60_000 * 7919 - 400_000_000));
        schema.drop_now().await;
    }
}
