//! A recorded ballot's box entry found by its unit, and at most one per unit: a partial unique
//! index `ballot_box (ballot_id, unit_id) WHERE unit_id IS NOT NULL`. A person's data export
//! looks up the entry their unit's vote put in a recorded ballot's box (`box_entry_of_unit`)
//! with one index read instead of a walk over the whole box, and the database itself refuses
//! a second entry for one unit. A secret ballot's entries name no unit, so none of them is in
//! the index (and its casts pay nothing for it). The statement is the same on SQLite and
//! PostgreSQL, and has no parameters.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's statement (`m20261212_000001_box_keyed_by_ballot` puts it back on the rebuilt
/// SQLite table).
pub(super) const CREATE_UNIT_INDEX: &str = "CREATE UNIQUE INDEX ix_ballot_box_unit ON ballot_box \
     (ballot_id, unit_id) WHERE unit_id IS NOT NULL";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(CREATE_UNIT_INDEX)
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
