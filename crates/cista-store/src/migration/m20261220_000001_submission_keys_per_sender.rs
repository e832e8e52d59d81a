//! A submission's idempotency key is its sender's: unique per organization and sender
//! (`submitted_by`), no longer per organization. Two collectors whose apps drew the same key
//! (or a client that sends a fixed one) each get their own submission, and neither learns
//! from a replay or a conflict that the other used it. The new index is made before the old
//! one goes, so a key stays unique throughout; every existing row satisfies it (the old rule
//! was stricter).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ux_submissions_org_sender_key")
                    .table("submissions")
                    .col("org_id")
                    .col("submitted_by")
                    .col("idempotency_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_submissions_org_key")
                    .table("submissions")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
