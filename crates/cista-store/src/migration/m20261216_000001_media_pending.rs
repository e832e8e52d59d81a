//! The photos still to be processed, as rows of their own (`media_pending`). The photo worker
//! asks every 2 s for the oldest photos of records without an `attachment_media` row; that
//! question walked every attachment and every record ever stored, processed or not (60 ms of
//! processor time a pass in `sqlite3` at 100,000 processed photos, on a copy of a `cista
//! init` database). A row here is written with a record's image attachment and removed with
//! the row that records its processing, so a pass reads the few rows left, oldest first, from
//! `ix_media_pending_due`. The migration writes the rows of the photos not yet processed.

use super::columns::{big, index, text, timestamp};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both engines (sea-orm-migration opens one only on PostgreSQL by
    /// default): a migration stopped part-way leaves nothing made, and runs again whole.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("media_pending")
                    .col(big("submission_id"))
                    .col(text("name"))
                    .col(timestamp("stored_at"))
                    .primary_key(Index::create().col("submission_id").col("name"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_media_pending_due",
                "media_pending",
                &["stored_at", "submission_id"],
            ))
            .await?;
        super::m20261202_000002_byte_order_text::byte_order_text(manager).await?;
        // The photos the worker's old question would still have found.
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO media_pending (submission_id, name, stored_at) \
             SELECT a.submission_id, a.name, a.stored_at FROM attachments a \
             JOIN submissions s ON s.id = a.submission_id \
             JOIN forms f ON f.id = s.form_id \
             WHERE f.product = 'collection' AND a.content_type LIKE 'image/%' \
             AND NOT EXISTS (SELECT 1 FROM attachment_media m \
                             WHERE m.submission_id = a.submission_id AND m.name = a.name)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
