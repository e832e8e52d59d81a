//! Whole ballots read in bulk: the roll and participation summed by the database (from
//! indexes alone: see migrations `m20261208_000001_turnout_indexes` and
//! `m20261210_000001_participation_weight`), and the
//! ballot box read a page at a time (keyset or numbered pages), so a million-unit ballot's
//! turnout, bulletin and bundle never need a million rows in memory at once.

use crate::convert::db_err;
use crate::entity::{ballot_box, ballot_roll, participation};
use crate::query::Fetch;
use cista_core::ports::{BoxColumns, BoxEntry, TurnoutTotals, VoteChannel};
use cista_core::{Error, Result};
use cista_types::{BallotId, Tracker, UnitId, Weight};
use sea_orm::prelude::TimeDateTimeWithTimeZone;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait as _, Func, Order, Query, SelectStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, TransactionTrait as _,
};

/// A ballot's roll and participation summed by the database. Sums of BIGINT are NUMERIC on
/// PostgreSQL, so they are cast back (a million units of the largest weight stay in range).
pub(crate) async fn turnout_totals(
    db: &impl ConnectionTrait,
    ballot: BallotId,
) -> Result<TurnoutTotals> {
    let backend = db.get_database_backend();
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
    for row in db
        .query_all_raw(backend.build(&channels))
        .await
        .map_err(db_err)?
    {
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
fn box_page(ballot: BallotId, columns: BoxColumns) -> SelectStatement {
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
    db: &impl ConnectionTrait,
    ballot: BallotId,
) -> Result<Vec<BoxEntry>> {
    let all = BoxColumns::All;
    read_box_page(db, ballot, all, &box_page(ballot, all)).await
}

/// Runs a [`box_page`] query made with `columns`. On PostgreSQL the close, the bundle and the
/// record files read a whole box this way, a million rows for a million units (on a SQLite
/// file only the record file naming units does: the rest go through `box_reader`), so each
/// row is read by column position, without the ballot's id, and (but for a record file's)
/// without the unit and time: the entity's own decoding looks every column up by name and
/// formats a message for each NULL (a secret ballot's unit and time), and every value read
/// is one more copy the driver makes. Measured on a 300,000-ballot close, reading by
/// position cut the CPU of the task that takes the rows by a fifth (0.49 s to 0.40 s).
async fn read_box_page(
    db: &impl ConnectionTrait,
    ballot: BallotId,
    columns: BoxColumns,
    query: &SelectStatement,
) -> Result<Vec<BoxEntry>> {
    let rows = db
        .query_all_raw(db.get_database_backend().build(query))
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|row| box_entry_at(ballot, columns, row))
        .collect()
}

/// One row of a [`box_page`] made with `columns` as the box entry of `ballot` it holds (with
/// no unit or time when they were not read).
fn box_entry_at(
    ballot: BallotId,
    columns: BoxColumns,
    row: &sea_orm::QueryResult,
) -> Result<BoxEntry> {
    let mut entry = BoxEntry {
        ballot,
        tracker: Tracker::from_i64(row.try_get_by_index(0).map_err(db_err)?),
        weight: Weight::from_micros(row.try_get_by_index(1).map_err(db_err)?),
        sealed_choices: row.try_get_by_index(2).map_err(db_err)?,
        unit: None,
        cast_at: None,
    };
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
    let txn = db.begin().await.map_err(db_err)?;
    let page = box_entries_after(&txn, ballot, after, limit, columns).await?;
    txn.commit().await.map_err(db_err)?;
    Ok(page)
}

/// Up to `limit` box entries from position `offset` (0-based) in tracker order, read with
/// `columns`: a numbered page of the list (the index is stepped through up to `offset`, so
/// deep pages cost more).
pub(crate) async fn box_entries_at(
    db: &impl ConnectionTrait,
    ballot: BallotId,
    offset: u64,
    limit: u64,
    columns: BoxColumns,
) -> Result<Vec<BoxEntry>> {
    let mut query = box_page(ballot, columns);
    query.limit(limit).offset(offset);
    read_box_page(db, ballot, columns, &query).await
}

/// How many of a ballot's box entries have a tracker below `tracker` (its 0-based position
/// in tracker order, when it is in the box).
pub(crate) async fn box_position(
    db: &impl ConnectionTrait,
    ballot: BallotId,
    tracker: Tracker,
) -> Result<u64> {
    ballot_box::Entity::find()
        .filter(ballot_box::Column::BallotId.eq(ballot.as_i64()))
        .filter(ballot_box::Column::Tracker.lt(tracker.as_i64()))
        .count_rows(db)
        .await
}
