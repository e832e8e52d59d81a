//! Each participation row keeps its unit's weight on the ballot's roll
//! (`participation.roll_weight_micros`), and `participation (ballot_id, channel,
//! roll_weight_micros)` replaces `(ballot_id, channel)`: a ballot's turnout (units per channel
//! and the voters' weight) is then one walk over that index. Before, the voters' weight walked
//! the roll and looked each unit up in the ledger: 1.2 s on SQLite and 1.6 s on PostgreSQL at a
//! million units, paid by every close and every view of the live turnout (issue 15).
//!
//! Rows written before this migration get their weight from the roll (every participation
//! row has its roll row: `fk_participation_roll`). Participation rows are otherwise never
//! updated, so the guard that refuses updates is lifted for that one statement and put back in
//! the same transaction. On PostgreSQL the column then loses its default, so an insert that
//! does not name the weight fails; SQLite cannot drop a default, and the store names it in
//! every insert.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The SQLite guard that refuses updates to participation rows (`backend::voting_guards`).
const SQLITE_UPDATE_GUARD: &str = "participation_no_update";
/// The PostgreSQL guard that refuses updates and deletes of participation rows.
const POSTGRES_GUARD: &str = "participation_kept";

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
        manager
            .alter_table(
                Table::alter()
                    .table("participation")
                    .add_column(
                        ColumnDef::new("roll_weight_micros")
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let (lift, restore) = super::update_guard_lifted(
            backend,
            "participation",
            SQLITE_UPDATE_GUARD,
            POSTGRES_GUARD,
        )?;
        db.execute_unprepared(&lift).await?;
        db.execute_unprepared(
            "UPDATE participation SET roll_weight_micros = (SELECT r.weight_micros \
             FROM ballot_roll r WHERE r.ballot_id = participation.ballot_id \
             AND r.unit_id = participation.unit_id)",
        )
        .await?;
        db.execute_unprepared(&restore).await?;
        if backend == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE participation ALTER COLUMN roll_weight_micros DROP DEFAULT",
            )
            .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_participation_channel")
                    .table("participation")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_participation_turnout")
                    .table("participation")
                    .col("ballot_id")
                    .col("channel")
                    .col("roll_weight_micros")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
