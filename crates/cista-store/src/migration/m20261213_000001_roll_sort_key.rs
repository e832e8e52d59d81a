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
//! name the key fails; SQLite cannot drop a default, and the store names it in every insert.

use cista_core::products::voting::units::natural_key;
use sea_orm::sea_query::{Expr, ExprTrait as _, Order, Query};
use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The SQLite guard that refuses updates to roll rows (`backend::voting_guards`).
const SQLITE_UPDATE_GUARD: &str = "ballot_roll_no_update";
/// The PostgreSQL guard that refuses updates and deletes of roll rows.
const POSTGRES_GUARD: &str = "ballot_roll_kept";
/// Roll rows read a page at a time for the backfill.
const BACKFILL_PAGE: u64 = 5_000;

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
        if backend == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE ballot_roll ALTER COLUMN sort_key DROP DEFAULT")
                .await?;
        }
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

/// Writes every roll row's key, `BACKFILL_PAGE` rows at a time in primary-key order.
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
        for row in &rows {
            let ballot: i64 = row.try_get("", "ballot_id")?;
            let unit: i64 = row.try_get("", "unit_id")?;
            let label: String = row.try_get("", "label")?;
            let update = Query::update()
                .table("ballot_roll")
                .value("sort_key", natural_key(&label).into_bytes())
                .and_where(Expr::col("ballot_id").eq(ballot))
                .and_where(Expr::col("unit_id").eq(unit))
                .to_owned();
            db.execute_raw(backend.build(&update)).await?;
            after = Some((ballot, unit));
        }
        if (rows.len() as u64) < BACKFILL_PAGE {
            return Ok(());
        }
    }
}
