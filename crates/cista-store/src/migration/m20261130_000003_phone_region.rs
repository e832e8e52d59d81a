//! The organization's country for phone numbers: numbers typed without a country code (in an
//! import, an invitation, the SMS sign-in form) are read in its national numbering plan.
//! Empty for organizations made before it: those keep requiring the country code until a
//! manager chooses one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("organizations")
                    .add_column(ColumnDef::new("phone_region").text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
