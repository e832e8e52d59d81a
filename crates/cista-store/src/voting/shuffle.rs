//! The shuffle of a ballot's box: rewriting its entries in tracker order, so neither storage
//! order nor any row's write history reflects casting order, under the box's own lock, part
//! by part, while casts go on (issue 15).

use super::box_count;
use crate::convert::db_err;
use crate::entity::{ballot, ballot_box};
use crate::query::{Db, Fetch as _};
use cista_core::ports::{BallotStatus, ShuffledPart};
use cista_core::{Error, Result};
use cista_types::{BallotId, Tracker};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Takes `ballot`'s box lock for the rest of the transaction (see `VotingWrites::lock_box`): on
/// PostgreSQL a transaction-level advisory lock keyed by the schema and the ballot, so two
/// rewrites of one box (the worker's in two processes, or the worker's and a close's) never
/// interleave, while casts, which never take it, go on. Two ballots whose ids are equal
/// modulo 2^31 − 1 share a key, which only makes their rewrites wait for each other. On SQLite,
/// whose write transactions run one at a time, the transaction already holds the box.
pub(crate) async fn lock_box(db: &impl Db, ballot: BallotId) -> Result<()> {
    if db.backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let key = i32::try_from(ballot.as_i64().rem_euclid(i64::from(i32::MAX)))
        .map_err(|e| Error::Internal(e.to_string()))?;
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.ballot_box'), $1)",
        [key.into()],
    ))
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Rewrites a ballot's box in tracker order, unless nothing was added since the last rewrite
/// (the box holds as many entries as that shuffle wrote: entries are only ever added); returns
/// the entries written (or, left as it was, counted). The caller records the count
/// (`record_shuffled`). The rows are moved inside the database (`rewrite_in_one_statement`,
/// `rewrite_through_a_table`), so a million-ballot box never passes through this process's
/// memory.
///
/// Casts may commit while it runs (on PostgreSQL the worker holds the box's lock and the
/// ballot only shared, as casts do): the rewrite takes only the entries it sees, so an entry
/// committed meanwhile stays as it was cast, and the count written leaves it for the next
/// shuffle.
pub(crate) async fn shuffle_box(db: &impl Db, ballot: BallotId) -> Result<u64> {
    Ok(shuffle_part(db, ballot, None, None).await?.written)
}

/// One part of a shuffle (`VotingWrites::shuffle_box_part`): `shuffle_box` for at most
/// `entries` entries (at least one) with a tracker above `after`. On PostgreSQL the part is
/// the rest of the box, whatever `entries`: casts go on beside a rewrite there, and parts
/// would each be in tracker order but not among themselves, since a later part's rows reuse
/// the space the earlier parts' old rows left (pruned as the next part reads the pages).
pub(crate) async fn shuffle_box_part(
    db: &impl Db,
    ballot: BallotId,
    after: Option<Tracker>,
    entries: u64,
) -> Result<ShuffledPart> {
    let entries = (db.backend() != sea_orm::DbBackend::Postgres).then_some(entries.max(1));
    shuffle_part(db, ballot, after, entries).await
}

/// Rewrites the entries above `after` (all when `None`), at most `entries` of them (all when
/// `None`); the first part leaves an unchanged box as it is.
async fn shuffle_part(
    db: &impl Db,
    ballot: BallotId,
    after: Option<Tracker>,
    entries: Option<u64>,
) -> Result<ShuffledPart> {
    if after.is_none() {
        let shuffled = ballot::Entity::find_by_id(ballot.as_i64())
            .first(db)
            .await?
            .map(|b| b.shuffled_count);
        let count = box_count(db, ballot).await?;
        if shuffled == Some(i64::try_from(count).unwrap_or(i64::MAX)) {
            return Ok(ShuffledPart {
                written: count,
                last: None,
            });
        }
    }
    // Inclusive bounds: trackers are 60-bit and never negative, and the part after a last
    // tracker starts one above it.
    let from = after.map_or(i64::MIN, |t| t.as_i64().saturating_add(1));
    let last = match entries {
        Some(entries) => part_end(db, ballot, from, entries).await?,
        None => None,
    };
    let range = (from, last.map_or(i64::MAX, |t| t.as_i64()));
    let written = if db.backend() == sea_orm::DbBackend::Postgres {
        rewrite_in_one_statement(db, ballot, range).await?
    } else {
        rewrite_through_a_table(db, ballot, range).await?
    };
    Ok(ShuffledPart { written, last })
}

/// The box's columns, as `ballot_box`'s entity names them, and as SQL, comma-separated.
fn box_columns() -> ([ballot_box::Column; 6], String) {
    use ballot_box::Column as C;
    let columns = [
        C::Tracker,
        C::BallotId,
        C::WeightMicros,
        C::Choices,
        C::UnitId,
        C::CastAt,
    ];
    let names = columns
        .iter()
        .map(sea_orm::IdenStatic::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    (columns, names)
}

/// On PostgreSQL, where casts commit while a shuffle runs: one statement deletes the entries
/// of `ballot`'s box with a tracker from `from` to `to` (both included) that its snapshot
/// sees, and writes exactly those back in tracker order, as new row versions of this
/// transaction (the space of rows the statement deleted is not reused by its own inserts).
/// An entry committed meanwhile is neither deleted nor written. One statement, and no
/// temporary table made and dropped in the system catalogs on each pass.
async fn rewrite_in_one_statement(
    db: &impl Db,
    ballot: BallotId,
    (from, to): (i64, i64),
) -> Result<u64> {
    let (_, names) = box_columns();
    let rewritten = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!(
                "WITH taken AS (DELETE FROM ballot_box WHERE ballot_id = $1 \
                 AND tracker BETWEEN $2 AND $3 RETURNING {names}) \
                 INSERT INTO ballot_box ({names}) SELECT {names} FROM taken ORDER BY tracker"
            ),
            [ballot.as_i64().into(), from.into(), to.into()],
        ))
        .await
        .map_err(db_err)?;
    Ok(rewritten.rows_affected())
}

/// On SQLite, whose transaction holds the write lock from its start (`BEGIN IMMEDIATE`), so
/// a copy and then a delete see the same entries: the entries of `ballot`'s box with a tracker
/// from `from` to `to` (both included) are copied into a temporary table, deleted, and
/// written back in tracker order, so their cells are laid out anew in that order whatever
/// order they were cast in. The rows never pass through this process's memory.
async fn rewrite_through_a_table(
    db: &impl Db,
    ballot: BallotId,
    (from, to): (i64, i64),
) -> Result<u64> {
    use ballot_box::Column as C;
    let (columns, names) = box_columns();
    let backend = db.backend();
    let shuffle = Alias::new(SHUFFLE_TABLE);
    // Created empty with the box's columns (no statement parameters in DDL), filled and
    // dropped in this transaction: a failure rolls the table back with everything else.
    db.execute_unprepared(&format!(
        "CREATE TEMPORARY TABLE {SHUFFLE_TABLE} AS SELECT {names} FROM ballot_box WHERE 1 = 0"
    ))
    .await
    .map_err(db_err)?;
    let copy = Query::insert()
        .into_table(shuffle.clone())
        .columns(columns)
        .select_from(
            Query::select()
                .columns(columns)
                .from(ballot_box::Entity)
                .and_where(C::BallotId.eq(ballot.as_i64()))
                .and_where(C::Tracker.between(from, to))
                .to_owned(),
        )
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_owned();
    db.execute_raw(backend.build(&copy)).await.map_err(db_err)?;
    ballot_box::Entity::delete_many()
        .filter(C::BallotId.eq(ballot.as_i64()))
        .filter(C::Tracker.between(from, to))
        .exec(db)
        .await
        .map_err(db_err)?;
    let back = Query::insert()
        .into_table(ballot_box::Entity)
        .columns(columns)
        .select_from(
            Query::select()
                .columns(columns)
                .from(shuffle)
                .order_by(C::Tracker, Order::Asc)
                .to_owned(),
        )
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_owned();
    let written = db
        .execute_raw(backend.build(&back))
        .await
        .map_err(db_err)?
        .rows_affected();
    db.execute_unprepared(&format!("DROP TABLE {SHUFFLE_TABLE}"))
        .await
        .map_err(db_err)?;
    Ok(written)
}

/// The last tracker of a part of `entries` entries starting at `from`: the `entries`-th
/// tracker from there, walked on the box's index; `None` when fewer are left, so the part
/// runs to the end of the box.
async fn part_end(
    db: &impl Db,
    ballot: BallotId,
    from: i64,
    entries: u64,
) -> Result<Option<Tracker>> {
    use ballot_box::Column as C;
    let last = ballot_box::Entity::find()
        .select_only()
        .column(C::Tracker)
        .filter(C::BallotId.eq(ballot.as_i64()))
        .filter(C::Tracker.gte(from))
        .order_by_asc(C::Tracker)
        .offset(entries - 1)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await
        .map_err(db_err)?;
    Ok(last.map(Tracker::from_i64))
}

/// Records that `count` entries of an open ballot's box are in tracker order (see
/// `VotingWrites::record_shuffled`). A ballot no longer open is left as it is.
pub(crate) async fn record_shuffled(db: &impl Db, ballot: BallotId, count: u64) -> Result<()> {
    ballot::Entity::update_many()
        .col_expr(
            ballot::Column::ShuffledCount,
            Expr::value(i64::try_from(count).unwrap_or(i64::MAX)),
        )
        .filter(ballot::Column::Id.eq(ballot.as_i64()))
        .filter(ballot::Column::Status.eq(BallotStatus::Published.as_str()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The temporary table a shuffle copies a box through on SQLite (per connection, dropped
/// before commit).
const SHUFFLE_TABLE: &str = "ballot_box_shuffle";
