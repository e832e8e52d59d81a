//! On PostgreSQL the guard that keeps a ballot box's entries once their ballot is closed
//! (`ballot_box_kept`) checks once a statement, over the rows the statement deleted, instead
//! of once a row (issue 15). A shuffle deletes and rewrites a whole box (then under the
//! ballot's exclusive lock, so casts waited for it; since `179a981` under the box's own lock,
//! while casts go on); at a million entries the row trigger's
//! PL/pgSQL call and ballot lookup took 15 s of a 25 s shuffle. The rule is the same: a
//! statement that deletes an entry whose ballot is not open (or gone) fails, and with it every
//! row it deleted. SQLite's row trigger is a plain `WHEN` and stays.
//!
//! The statements are `backend::voting_guards`' own, so a new database and an upgraded one
//! hold the same guard.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The guard's trigger and function on PostgreSQL.
const TRIGGER: &str = "ballot_box_kept";
const FUNCTION: &str = "cista_ballot_box_delete";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction, so the box is never left without its guard.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        if backend != DbBackend::Postgres {
            return Ok(());
        }
        let guards = crate::backend::voting_guards(backend);
        let statement = |prefix: String| {
            guards
                .iter()
                .find(|s| s.starts_with(&prefix))
                .copied()
                .ok_or_else(|| DbErr::Migration(format!("no guard statement `{prefix}…`")))
        };
        let function = statement(format!("CREATE OR REPLACE FUNCTION {FUNCTION}() "))?;
        let trigger = statement(format!("CREATE TRIGGER {TRIGGER} "))?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {TRIGGER} ON ballot_box"))
            .await?;
        db.execute_unprepared(function).await?;
        db.execute_unprepared(trigger).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
