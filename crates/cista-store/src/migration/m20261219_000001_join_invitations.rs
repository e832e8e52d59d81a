//! Invitations to join an organization that the person must accept: a `join` credential
//! carries the role the person is to get, in `credentials.role`. Empty for every other
//! credential (an invitation to someone new is made together with their membership). An index
//! finds an organization's invitations still waiting for an answer.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("credentials")
                    .add_column(ColumnDef::new("role").text().null())
                    .to_owned(),
            )
            .await?;
        // The people page lists the organization's invitations waiting for an answer.
        manager
            .create_index(
                Index::create()
                    .name("ix_credentials_org_purpose")
                    .table("credentials")
                    .col("org_id")
                    .col("purpose")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
