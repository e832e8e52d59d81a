//! Per-requester budgets for what a stranger can set off against a known person (issue 10,
//! item 11): SMS codes, reset links and invitation re-sends sent, and wrong passwords. Each
//! row is one attempt, counted against the requester that made it — a keyed hash of the
//! device (a device cookie from an earlier sign-in) or of the network address — so one
//! requester's attempts never use up another's budget. Rows older than a day are purged.

use super::columns::timestamp;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("access_attempts")
                    .col(
                        ColumnDef::new("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("subject").big_integer().not_null())
                    .col(ColumnDef::new("kind").text().not_null())
                    .col(ColumnDef::new("requester").blob().not_null())
                    .col(ColumnDef::new("trusted").boolean().not_null())
                    .col(timestamp("at"))
                    .check(Expr::cust(
                        "kind IN ('sms-code', 'reset', 'invitation', 'password')",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_attempts_subject_kind_at")
                    .table("access_attempts")
                    .col("subject")
                    .col("kind")
                    .col("at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_attempts_at")
                    .table("access_attempts")
                    .col("at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
