//! The foundation schema: the instance, organizations, wrapped keys and the audit log.
//! Foreign keys are declared inside CREATE TABLE because SQLite cannot add them later.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Creates the `organizations` table.
async fn create_organizations(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("organizations")
                .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                .col(ColumnDef::new("slug").text().not_null().unique_key())
                .col(ColumnDef::new("name").text().not_null())
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `stored_keys` table of wrapped keys and its one-key-per-purpose index.
async fn create_stored_keys(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("stored_keys")
                .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                .col(ColumnDef::new("purpose").text().not_null())
                .col(ColumnDef::new("org_id").big_integer().null())
                .col(ColumnDef::new("kek_id").text().not_null())
                .col(ColumnDef::new("wrapped").blob().not_null())
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new("rewrapped_at")
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_stored_keys_org")
                        .from("stored_keys", "org_id")
                        .to("organizations", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    // One data key per organization and purpose.
    manager
        .create_index(
            Index::create()
                .name("ux_stored_keys_org_purpose")
                .table("stored_keys")
                .col("org_id")
                .col("purpose")
                .unique()
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the single-row `instance` table.
async fn create_instance(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("instance")
                .col(
                    ColumnDef::new("slot")
                        .integer()
                        .not_null()
                        .primary_key()
                        .check(Expr::col("slot").eq(1)),
                )
                .col(ColumnDef::new("id").big_integer().not_null())
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("audit_origin").text().not_null())
                .col(ColumnDef::new("audit_public_key").blob().not_null())
                .col(ColumnDef::new("audit_signing_key").big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_instance_signing_key")
                        .from("instance", "audit_signing_key")
                        .to("stored_keys", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `audit_entries` log and its organization index.
async fn create_audit_entries(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("audit_entries")
                .col(ColumnDef::new("seq").big_integer().not_null().primary_key())
                .col(ColumnDef::new("at").timestamp_with_time_zone().not_null())
                .col(ColumnDef::new("actor").text().not_null())
                .col(ColumnDef::new("org_id").big_integer().null())
                .col(ColumnDef::new("kind").text().not_null())
                .col(ColumnDef::new("details").text().not_null())
                .col(ColumnDef::new("leaf_hash").blob().not_null())
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_audit_entries_org")
                .table("audit_entries")
                .col("org_id")
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the single-row `audit_head` and inserts the empty head.
async fn create_audit_head(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("audit_head")
                .col(
                    ColumnDef::new("slot")
                        .integer()
                        .not_null()
                        .primary_key()
                        .check(Expr::col("slot").eq(1)),
                )
                .col(ColumnDef::new("size").big_integer().not_null())
                .col(ColumnDef::new("frontier").blob().not_null())
                .to_owned(),
        )
        .await?;
    let insert_head = Query::insert()
        .into_table("audit_head")
        .columns(["slot", "size", "frontier"])
        .values([1i32.into(), 0i64.into(), Vec::<u8>::new().into()])
        .map_err(|e| DbErr::Migration(e.to_string()))?
        .to_owned();
    manager.exec_stmt(insert_head).await?;
    Ok(())
}

/// Creates the `audit_checkpoints` table of signed tree heads.
async fn create_audit_checkpoints(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("audit_checkpoints")
                .col(
                    ColumnDef::new("tree_size")
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("root_hash").blob().not_null())
                .col(ColumnDef::new("note").text().not_null())
                .col(
                    ColumnDef::new("signed_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_organizations(manager).await?;
        create_stored_keys(manager).await?;
        create_instance(manager).await?;
        create_audit_entries(manager).await?;
        create_audit_head(manager).await?;
        create_audit_checkpoints(manager).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
