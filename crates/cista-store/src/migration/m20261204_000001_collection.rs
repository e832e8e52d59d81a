//! Field data collection (issue 13, items 2 and 6). `devices`: one row per collector's phone,
//! holding the SHA-256 of its current secret (the pairing code while pending, the device token
//! once paired; unique), never a secret; the organization and the collector (a subject code,
//! no name), the phone's name, who issued it, when the pairing code expires, the token's
//! lifetime, when it was paired, expires, was revoked and last used, and how many calls it
//! made. `record_reviews`: one row per review of a record (a submission of a record form), its
//! comment sealed under the organization's data key; the newest is the record's state.

use super::columns::{big, blob, fk, random_id, text, timestamp, timestamp_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("devices")
                    .col(random_id())
                    .col(big("org_id"))
                    .col(big("subject"))
                    .col(text("name"))
                    .col(blob("secret_sha256").unique_key().to_owned())
                    .col(text("created_by"))
                    .col(timestamp("created_at"))
                    .col(timestamp("pairing_expires_at"))
                    .col(ColumnDef::new("lifetime_days").integer().not_null())
                    .col(timestamp_null("paired_at"))
                    .col(timestamp_null("expires_at"))
                    .col(timestamp_null("revoked_at"))
                    .col(timestamp_null("last_used_at"))
                    .col(big("use_count").default(0).to_owned())
                    .check(Expr::cust("lifetime_days >= 1 AND lifetime_days <= 365"))
                    .check(Expr::cust("use_count >= 0"))
                    .foreign_key(&mut fk(
                        "fk_devices_org",
                        ("devices", "org_id"),
                        ("organizations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_devices_org_subject")
                    .table("devices")
                    .col("org_id")
                    .col("subject")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("record_reviews")
                    .col(random_id())
                    .col(big("org_id"))
                    .col(big("submission_id"))
                    .col(text("state"))
                    .col(blob("sealed_comment"))
                    .col(text("reviewed_by"))
                    .col(timestamp("reviewed_at"))
                    .check(Expr::cust(
                        "state IN ('received', 'approved', 'rejected', 'needs_changes')",
                    ))
                    .foreign_key(&mut fk(
                        "fk_record_reviews_submission",
                        ("record_reviews", "submission_id"),
                        ("submissions", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_record_reviews_submission")
                    .table("record_reviews")
                    .col("submission_id")
                    .col("reviewed_at")
                    .to_owned(),
            )
            .await?;
        super::m20261202_000002_byte_order_text::byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
