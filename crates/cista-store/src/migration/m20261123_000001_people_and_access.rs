//! People and access in the main database: accounts, memberships, one-time credentials,
//! sessions, recovery codes and the outbox. No personal data: people appear by subject code;
//! secrets appear as hashes or sealed bytes. The person vault has its own migration set.

use super::columns::{fk, timestamp, timestamp_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Allows at most one instance-level stored key per purpose.
async fn create_instance_key_index(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // At most one instance-level key (no organization) per purpose, even under races.
    manager
        .get_connection()
        .execute_unprepared(
            "CREATE UNIQUE INDEX ux_stored_keys_instance_purpose ON stored_keys (purpose) \
             WHERE org_id IS NULL",
        )
        .await?;
    Ok(())
}

/// Creates the `accounts` table.
async fn create_accounts(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("accounts")
                .col(
                    ColumnDef::new("subject")
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("status").text().not_null())
                .col(ColumnDef::new("password_hash").text().null())
                .col(timestamp_null("password_changed_at"))
                .col(ColumnDef::new("totp_secret").blob().null())
                .col(ColumnDef::new("totp_pending").blob().null())
                .col(
                    ColumnDef::new("totp_last_step")
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new("failed_attempts")
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(timestamp_null("locked_until"))
                .col(timestamp("created_at"))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `memberships` table and its index.
async fn create_memberships(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("memberships")
                .col(ColumnDef::new("org_id").big_integer().not_null())
                .col(ColumnDef::new("subject").big_integer().not_null())
                .col(ColumnDef::new("role").text().not_null())
                .col(timestamp("created_at"))
                .primary_key(Index::create().col("org_id").col("subject"))
                .foreign_key(&mut fk(
                    "fk_memberships_org",
                    ("memberships", "org_id"),
                    ("organizations", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_memberships_account",
                    ("memberships", "subject"),
                    ("accounts", "subject"),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_memberships_subject")
                .table("memberships")
                .col("subject")
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `credentials` table of one-time credentials and its index.
async fn create_credentials(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("credentials")
                .col(ColumnDef::new("token_hash").blob().not_null().primary_key())
                .col(ColumnDef::new("purpose").text().not_null())
                .col(ColumnDef::new("subject").big_integer().not_null())
                .col(ColumnDef::new("org_id").big_integer().null())
                .col(ColumnDef::new("code_hash").blob().null())
                .col(timestamp("created_at"))
                .col(timestamp("expires_at"))
                .col(timestamp_null("used_at"))
                .col(ColumnDef::new("attempts").integer().not_null().default(0))
                .foreign_key(&mut fk(
                    "fk_credentials_account",
                    ("credentials", "subject"),
                    ("accounts", "subject"),
                ))
                .foreign_key(&mut fk(
                    "fk_credentials_org",
                    ("credentials", "org_id"),
                    ("organizations", "id"),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_credentials_subject_purpose")
                .table("credentials")
                .col("subject")
                .col("purpose")
                .col("created_at")
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `sessions` table and its index.
async fn create_sessions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("sessions")
                .col(ColumnDef::new("id_hash").blob().not_null().primary_key())
                .col(ColumnDef::new("subject").big_integer().not_null())
                .col(ColumnDef::new("stage").text().not_null())
                .col(timestamp("created_at"))
                .col(timestamp("last_seen_at"))
                .col(timestamp("expires_at"))
                .foreign_key(&mut fk(
                    "fk_sessions_account",
                    ("sessions", "subject"),
                    ("accounts", "subject"),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_sessions_subject")
                .table("sessions")
                .col("subject")
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `recovery_codes` table.
async fn create_recovery_codes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("recovery_codes")
                .col(ColumnDef::new("subject").big_integer().not_null())
                .col(ColumnDef::new("code_hash").blob().not_null())
                .col(timestamp_null("used_at"))
                .primary_key(Index::create().col("subject").col("code_hash"))
                .foreign_key(&mut fk(
                    "fk_recovery_codes_account",
                    ("recovery_codes", "subject"),
                    ("accounts", "subject"),
                ))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `outbox` table and its index.
async fn create_outbox(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("outbox")
                .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                .col(ColumnDef::new("channel").text().not_null())
                .col(ColumnDef::new("recipient").big_integer().not_null())
                .col(ColumnDef::new("template").text().not_null())
                .col(ColumnDef::new("params").blob().not_null())
                .col(timestamp("created_at"))
                .col(ColumnDef::new("attempts").integer().not_null().default(0))
                .col(timestamp("next_attempt_at"))
                .col(timestamp_null("delivered_at"))
                .col(timestamp_null("failed_at"))
                .col(ColumnDef::new("last_error").text().null())
                .foreign_key(&mut fk(
                    "fk_outbox_account",
                    ("outbox", "recipient"),
                    ("accounts", "subject"),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_outbox_due")
                .table("outbox")
                .col("delivered_at")
                .col("failed_at")
                .col("next_attempt_at")
                .to_owned(),
        )
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_instance_key_index(manager).await?;
        create_accounts(manager).await?;
        create_memberships(manager).await?;
        create_credentials(manager).await?;
        create_sessions(manager).await?;
        create_recovery_codes(manager).await?;
        create_outbox(manager).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
