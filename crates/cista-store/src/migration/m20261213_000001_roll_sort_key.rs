//! Each row of a ballot's roll keeps its label's natural sort key (`ballot_roll.sort_key`, the
//! bytes of `natural_key`: `2` before `10`, `10A` before `10B`, in plain byte order), with an
//! index `ballot_roll (ballot_id, sort_key, unit_id)`. The record's files by unit then read
//! the roll a part at a time in the order people expect, and the staff page's roll search and
//! the paper entry's units yet to vote come out of the database in that order. Before, the
//! files sorted the whole roll in memory (+228 MB on PostgreSQL and +328 MB on SQLite at a
//! million units), and a search of more than 200 units showed the first 200 in byte order.
//!
//! Rows written before this migration get their keys here, a page of rows at a time (the
//! key is computed in Rust: SQL has no natural order). Roll rows are otherwise never updated,
//! so the guard that refuses updates is lifted for the backfill and put back in the same
//! transaction. On PostgreSQL the column then loses its default, so an insert that does not
//! name the key fails; SQLite cannot drop a default, so a trigger refuses a row without one.
//! On PostgreSQL the backfill leaves a new version of every roll row: the worker's next
//! vacuum after a shuffle (`VACUUM (ANALYZE) participation, ballot_roll`), or autovacuum,
//! makes the turnout's index-only reads of the roll whole again.

use cista_core::products::voting::units::natural_key;
use sea_orm::sea_query::{Expr, ExprTrait as _, Order, Query};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The SQLite guard that refuses updates to roll rows (`backend::voting_guards`).
const SQLITE_UPDATE_GUARD: &str = "ballot_roll_no_update";
/// The PostgreSQL guard that refuses updates and deletes of roll rows.
const POSTGRES_GUARD: &str = "ballot_roll_kept";
/// SQLite cannot drop the column's default: a row inserted without its key (an empty key,
/// where a real one is at least two bytes) is refused, as PostgreSQL refuses its NULL.
const SQLITE_KEY_GIVEN: &str = "CREATE TRIGGER ballot_roll_sort_key_given BEFORE INSERT ON \
     ballot_roll WHEN length(NEW.sort_key) < 2 \
     BEGIN SELECT RAISE(ABORT, 'cista: a roll row needs its sort key'); END";
/// Roll rows read a page at a time for the backfill, and keyed in one statement.
const BACKFILL_PAGE: u64 = 1_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite as well (sea-orm's default there is none): the guard is
    /// never left lifted, and the column never left half filled.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared(match backend {
            DbBackend::Sqlite => {
                "ALTER TABLE ballot_roll ADD COLUMN sort_key BLOB NOT NULL DEFAULT X''"
            }
            _ => "ALTER TABLE ballot_roll ADD COLUMN sort_key bytea NOT NULL DEFAULT '\\x'::bytea",
        })
        .await?;
        let (lift, restore) = super::update_guard_lifted(
            backend,
            "ballot_roll",
            SQLITE_UPDATE_GUARD,
            POSTGRES_GUARD,
        )?;
        db.execute_unprepared(&lift).await?;
        backfill(db).await?;
        db.execute_unprepared(&restore).await?;
        db.execute_unprepared(match backend {
            DbBackend::Postgres => "ALTER TABLE ballot_roll ALTER COLUMN sort_key DROP DEFAULT",
            _ => SQLITE_KEY_GIVEN,
        })
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ballot_roll_sort")
                    .table("ballot_roll")
                    .col("ballot_id")
                    .col("sort_key")
                    .col("unit_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}

/// Writes every roll row's key, `BACKFILL_PAGE` rows at a time in primary-key order, each
/// page's keys in one statement (`UPDATE … FROM (VALUES …)`, SQLite 3.33 and PostgreSQL):
/// a million-unit roll is a thousand statements, not a million.
async fn backfill(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut after: Option<(i64, i64)> = None;
    loop {
        let mut page = Query::select();
        page.columns(["ballot_id", "unit_id", "label"])
            .from("ballot_roll")
            .order_by("ballot_id", Order::Asc)
            .order_by("unit_id", Order::Asc)
            .limit(BACKFILL_PAGE);
        if let Some((ballot, unit)) = after {
            page.and_where(
                Expr::tuple([Expr::col("ballot_id"), Expr::col("unit_id")])
                    .gt(Expr::tuple([Expr::val(ballot), Expr::val(unit)])),
            );
        }
        let rows = db.query_all_raw(backend.build(&page)).await?;
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 3);
        for row in &rows {
            let ballot: i64 = row.try_get("", "ballot_id")?;
            let unit: i64 = row.try_get("", "unit_id")?;
            let label: String = row.try_get("", "label")?;
            values.extend([
                ballot.into(),
                unit.into(),
                natural_key(&label).into_bytes().into(),
            ]);
            after = Some((ballot, unit));
        }
        if !rows.is_empty() {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                keys_update(backend, rows.len()),
                values,
            ))
            .await?;
        }
        if (rows.len() as u64) < BACKFILL_PAGE {
            return Ok(());
        }
    }
}

/// `UPDATE ballot_roll` from `rows` rows of (ballot id, unit id, key) parameters. The VALUES
/// list's columns are `column1` to `column3` on both engines; PostgreSQL needs their types,
/// SQLite takes the values as bound (a cast there would turn the key's bytes into a number).
fn keys_update(backend: DbBackend, rows: usize) -> String {
    let tuples: Vec<String> = (0..rows)
        .map(|r| match backend {
            DbBackend::Postgres => format!(
                "(CAST(${} AS bigint), CAST(${} AS bigint), CAST(${} AS bytea))",
                3 * r + 1,
                3 * r + 2,
                3 * r + 3
            ),
            _ => "(?, ?, ?)".to_owned(),
        })
        .collect();
    format!(
        "UPDATE ballot_roll SET sort_key = v.column3 FROM (VALUES {}) AS v \
         WHERE ballot_roll.ballot_id = v.column1 AND ballot_roll.unit_id = v.column2",
        tuples.join(", ")
    )
}
