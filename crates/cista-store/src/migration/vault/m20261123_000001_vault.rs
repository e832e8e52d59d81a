//! The vault: people's personal fields, sealed per person, with keyed-hash lookup columns;
//! and tombstones, which outlive the people they record and are never removed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("vault_people")
                    .col(
                        ColumnDef::new("subject")
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("kek_id").text().not_null())
                    .col(ColumnDef::new("wrapped_key").blob().not_null())
                    .col(ColumnDef::new("fields").blob().not_null())
                    .col(ColumnDef::new("email_index").blob().null().unique_key())
                    .col(ColumnDef::new("phone_index").blob().null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("updated_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_vault_people_phone")
                    .table("vault_people")
                    .col("phone_index")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("vault_tombstones")
                    .col(
                        ColumnDef::new("subject")
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new("erased_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::super::forward_only()
    }
}
