//! What processing made of a record's photo (issue 13, item 5): one row per attachment that
//! was processed, naming the blob of its delivered copy (upright, no metadata: what staff see
//! and exports hold), its type and size, and its thumbnail's blob; or why it could not be
//! processed. The original upload's blob, which may carry the phone's location in its EXIF, is
//! no longer kept once a row names a delivered copy (the blob sweep removes it).

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
                    .table("attachment_media")
                    .col(big("submission_id"))
                    .col(text("name"))
                    .col(ColumnDef::new("delivered_sha256").blob().null())
                    .col(ColumnDef::new("delivered_type").text().null())
                    .col(ColumnDef::new("delivered_size").big_integer().null())
                    .col(ColumnDef::new("thumbnail_sha256").blob().null())
                    .col(ColumnDef::new("error").text().null())
                    .col(timestamp("processed_at"))
                    .primary_key(Index::create().col("submission_id").col("name"))
                    .foreign_key(&mut fk(
                        "fk_attachment_media_submission",
                        ("attachment_media", "submission_id"),
                        ("submissions", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        super::m20261202_000002_byte_order_text::byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
