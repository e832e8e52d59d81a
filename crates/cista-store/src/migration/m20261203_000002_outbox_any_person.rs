//! Lets the outbox address any person of the vault, not only people with an account (issue 12,
//! item 5): an embedded assessment's client, who has no account, may ask for a copy of their
//! result by email. The foreign key from `outbox.recipient` to `accounts` goes; delivery
//! already reads the address from the vault and abandons a message whose recipient has none
//! (erased, or never had one). PostgreSQL drops the constraint; SQLite cannot drop a foreign key,
//! so the table is rebuilt with the same columns, rows and index, without it.

use super::columns::{timestamp, timestamp_null};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The outbox as `m20261123_000001_people_and_access` made it, under `name`, without the key.
fn outbox_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(ColumnDef::new("id").big_integer().not_null().primary_key())
        .col(ColumnDef::new("channel").text().not_null())
        .col(ColumnDef::new("recipient").big_integer().not_null())
        .col(ColumnDef::new("template").text().not_null())
        .col(ColumnDef::new("params").blob().not_null())
        .col(timestamp("created_at"))
        .col(ColumnDef::new("attempts").integer().not_null().default(0))
        .col(timestamp("next_attempt_at"))
        .col(timestamp_null("delivered_at"))
        .col(timestamp_null("failed_at"))
        .col(ColumnDef::new("last_error").text().null())
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE outbox DROP CONSTRAINT IF EXISTS fk_outbox_account")
                .await?;
            return Ok(());
        }
        // One batch on one connection: a statement on another connection of the pool can
        // still see the old table, and SQLite would refuse the rename.
        let create = outbox_table("outbox_rebuilt").to_string(SqliteQueryBuilder);
        let index = Index::create()
            .name("ix_outbox_due")
            .table("outbox")
            .col("delivered_at")
            .col("failed_at")
            .col("next_attempt_at")
            .to_string(SqliteQueryBuilder);
        db.execute_unprepared(&format!(
            "{create}; \
             INSERT INTO outbox_rebuilt (id, channel, recipient, template, params, created_at, \
             attempts, next_attempt_at, delivered_at, failed_at, last_error) \
             SELECT id, channel, recipient, template, params, created_at, attempts, \
             next_attempt_at, delivered_at, failed_at, last_error FROM outbox; \
             DROP TABLE outbox; \
             ALTER TABLE outbox_rebuilt RENAME TO outbox; \
             {index};"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
