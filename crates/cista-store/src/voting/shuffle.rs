//! The shuffle of a ballot's box: rewriting its entries in tracker order, so neither storage
//! order nor any row's write history reflects casting order, under the box's own lock, while
//! casts go on (issue 15).

use super::box_count;
use crate::convert::db_err;
use crate::entity::{ballot, ballot_box};
use crate::query::Fetch as _;
use cista_core::ports::BallotStatus;
use cista_core::{Error, Result};
use cista_types::BallotId;
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Takes `ballot`'s box lock for the rest of the transaction (see `VotingWrites::lock_box`): on
/// PostgreSQL a transaction-level advisory lock keyed by the schema and the ballot, so two
/// rewrites of one box (the worker's in two processes, or the worker's and a close's) never
/// interleave, while casts, which never take it, go on. Two ballots whose ids are equal
/// modulo 2^31 − 1 share a key, which only makes their rewrites wait for each other. On SQLite,
/// whose write transactions run one at a time, the transaction already holds the box.
pub(crate) async fn lock_box(db: &impl ConnectionTrait, ballot: BallotId) -> Result<()> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
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
/// (`record_shuffled`). The rows go through a temporary table inside the database (moved
/// there by `take_box`, then written back in tracker order), so a million-ballot box never
/// passes through this process's memory.
///
/// Casts may commit while it runs (on PostgreSQL the worker holds the box's lock and the
/// ballot only shared, as casts do): the rewrite takes only the entries it sees, so an entry
/// committed meanwhile stays as it was cast, and the count written leaves it for the next
/// shuffle.
pub(crate) async fn shuffle_box(db: &impl ConnectionTrait, ballot: BallotId) -> Result<u64> {
    let shuffled = ballot::Entity::find_by_id(ballot.as_i64())
        .first(db)
        .await?
        .map(|b| b.shuffled_count);
    let count = box_count(db, ballot).await?;
    if shuffled == Some(i64::try_from(count).unwrap_or(i64::MAX)) {
        return Ok(count);
    }
    use ballot_box::Column as C;
    let columns = [
        C::Tracker,
        C::BallotId,
        C::WeightMicros,
        C::Choices,
        C::UnitId,
        C::CastAt,
    ];
    let shuffle = Alias::new(SHUFFLE_TABLE);
    let names = columns
        .iter()
        .map(sea_orm::IdenStatic::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    // Created empty with the box's columns (no statement parameters in DDL), filled and
    // dropped in this transaction: a failure rolls the table back with everything else.
    db.execute_unprepared(&format!(
        "CREATE TEMPORARY TABLE {SHUFFLE_TABLE} AS SELECT {names} FROM ballot_box WHERE 1 = 0"
    ))
    .await
    .map_err(db_err)?;
    take_box(db, ballot, &columns, &names).await?;
    // Back in tracker order: new row versions, written by this transaction, land in tracker
    // order whatever order the originals were cast in.
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
    let count = db
        .execute_raw(db.get_database_backend().build(&back))
        .await
        .map_err(db_err)?
        .rows_affected();
    db.execute_unprepared(&format!("DROP TABLE {SHUFFLE_TABLE}"))
        .await
        .map_err(db_err)?;
    Ok(count)
}

/// Records that `count` entries of an open ballot's box are in tracker order (see
/// `VotingWrites::record_shuffled`). A ballot no longer open is left as it is.
pub(crate) async fn record_shuffled(
    db: &impl ConnectionTrait,
    ballot: BallotId,
    count: u64,
) -> Result<()> {
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

/// Moves `ballot`'s box into the shuffle's temporary table: every entry the move sees, and
/// only those, leaves the box. On PostgreSQL, where casts commit while a shuffle runs, one
/// statement deletes the entries its snapshot sees and copies exactly what it deleted, so an
/// entry committed meanwhile is neither copied nor deleted. On SQLite the transaction holds
/// the write lock from its start (`BEGIN IMMEDIATE`), so a copy and then a delete of the
/// ballot's entries see the same box.
/// `names` is `columns` as SQL, comma-separated.
async fn take_box(
    db: &impl ConnectionTrait,
    ballot: BallotId,
    columns: &[ballot_box::Column],
    names: &str,
) -> Result<()> {
    use ballot_box::Column as C;
    let backend = db.get_database_backend();
    if backend == sea_orm::DbBackend::Postgres {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            format!(
                "WITH taken AS (DELETE FROM ballot_box WHERE ballot_id = $1 RETURNING {names}) \
                 INSERT INTO {SHUFFLE_TABLE} ({names}) SELECT {names} FROM taken"
            ),
            [ballot.as_i64().into()],
        ))
        .await
        .map_err(db_err)?;
        return Ok(());
    }
    let copy = Query::insert()
        .into_table(Alias::new(SHUFFLE_TABLE))
        .columns(columns.iter().copied())
        .select_from(
            Query::select()
                .columns(columns.iter().copied())
                .from(ballot_box::Entity)
                .and_where(C::BallotId.eq(ballot.as_i64()))
                .to_owned(),
        )
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_owned();
    db.execute_raw(backend.build(&copy)).await.map_err(db_err)?;
    ballot_box::Entity::delete_many()
        .filter(C::BallotId.eq(ballot.as_i64()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The temporary table a shuffle copies a box through (per connection, dropped before commit).
const SHUFFLE_TABLE: &str = "ballot_box_shuffle";
