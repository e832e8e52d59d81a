//! An index that lets an organization's submissions be read newest first a page at a time
//! (`IntakeReads::submissions_of`: the records list, the map and the exports, the results
//! list and its CSV) and oldest first up to a moment (`submissions_before`: retention). The
//! table had none on the time of receipt, so each page of 500 read and sorted every
//! submission of every organization, and a list whose filter matched few records cost the
//! square of the history: 1.7–2.0 s for 20,020 records on SQLite (`bench collection
//! --records 10000`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(super::columns::index(
                "ix_submissions_org_received",
                "submissions",
                &["org_id", "received_at", "id"],
            ))
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
