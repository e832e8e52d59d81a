//! What an organization decided about one of its forms, apart from the form's immutable
//! versions (issue 12, items 5 and 6): who is told of each new result (subject codes of the
//! organization's staff, never an address), whether that email carries a link to the portal
//! (the default) or the report itself, and how long de-identified results are kept (`NULL`:
//! indefinitely). One row per organization and form key; changed only with an audit entry.

use super::columns::{big, fk, text, timestamp};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("form_settings")
                    .col(big("org_id"))
                    .col(text("form_key"))
                    .col(text("notify"))
                    .col(ColumnDef::new("attach_report").boolean().not_null())
                    .col(ColumnDef::new("retention_days").integer().null())
                    .col(timestamp("updated_at"))
                    .primary_key(Index::create().col("org_id").col("form_key"))
                    .check(Expr::cust(
                        "retention_days IS NULL OR (retention_days >= 1 AND retention_days <= 36600)",
                    ))
                    .foreign_key(&mut fk(
                        "fk_form_settings_org",
                        ("form_settings", "org_id"),
                        ("organizations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        // Its key sorts by bytes on PostgreSQL as on SQLite.
        super::m20261202_000002_byte_order_text::byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
