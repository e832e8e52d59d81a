//! App tokens, the bearer credentials of the JSON API (issue 11, item 1): one row per token,
//! holding the SHA-256 of its secret (unique), never the secret; the organization it belongs
//! to, its purpose, a label naming the system that holds it, who created it, when it expires,
//! when it was revoked and last used.

use super::columns::{fk, timestamp, timestamp_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("app_tokens")
                    .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                    .col(ColumnDef::new("org_id").big_integer().not_null())
                    .col(ColumnDef::new("purpose").text().not_null())
                    .col(ColumnDef::new("label").text().not_null())
                    .col(
                        ColumnDef::new("secret_sha256")
                            .blob()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new("created_by").text().not_null())
                    .col(timestamp("created_at"))
                    .col(timestamp("expires_at"))
                    .col(timestamp_null("revoked_at"))
                    .col(timestamp_null("last_used_at"))
                    .foreign_key(&mut fk(
                        "fk_app_tokens_org",
                        ("app_tokens", "org_id"),
                        ("organizations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_app_tokens_org")
                    .table("app_tokens")
                    .col("org_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
