//! Webhooks (issue 13, item 7). `webhooks`: an organization's endpoints, each with its URL, the
//! events it wants (`record.created,record.reviewed`), its signing secret sealed under the
//! organization's data key, who added it and when, and when it was removed (rows stay for the
//! log). `webhook_deliveries`: the queue, one message per endpoint, with its `webhook-id`, its
//! event and JSON body (ids and links, no personal data), when its next attempt is due (also
//! the lease of the process sending it), how many attempts it has had, when it was delivered
//! or given up and the last HTTP status. `webhook_attempts`: the delivery log, one row per
//! attempt with its status, Cista's words for what went wrong and how long it took.

use super::columns::{big, fk, random_id, text, timestamp, timestamp_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhooks")
                    .col(random_id())
                    .col(big("org_id"))
                    .col(text("url"))
                    .col(text("events"))
                    .col(super::columns::blob("sealed_secret"))
                    .col(text("created_by"))
                    .col(timestamp("created_at"))
                    .col(timestamp_null("removed_at"))
                    .foreign_key(&mut fk(
                        "fk_webhooks_org",
                        ("webhooks", "org_id"),
                        ("organizations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhooks_org")
                    .table("webhooks")
                    .col("org_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(random_id())
                    .col(big("webhook_id"))
                    .col(big("org_id"))
                    .col(text("message_id"))
                    .col(text("event"))
                    .col(text("payload"))
                    .col(timestamp("created_at"))
                    .col(timestamp("next_attempt_at"))
                    .col(ColumnDef::new("attempts").integer().not_null().default(0))
                    .col(timestamp_null("delivered_at"))
                    .col(timestamp_null("failed_at"))
                    .col(ColumnDef::new("last_status").integer().null())
                    .check(Expr::cust("attempts >= 0"))
                    .foreign_key(&mut fk(
                        "fk_webhook_deliveries_webhook",
                        ("webhook_deliveries", "webhook_id"),
                        ("webhooks", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_due")
                    .table("webhook_deliveries")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_org")
                    .table("webhook_deliveries")
                    .col("org_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_attempts")
                    .col(random_id())
                    .col(big("delivery_id"))
                    .col(timestamp("attempted_at"))
                    .col(ColumnDef::new("status").integer().null())
                    .col(ColumnDef::new("error").text().null())
                    .col(big("duration_ms"))
                    .foreign_key(&mut fk(
                        "fk_webhook_attempts_delivery",
                        ("webhook_attempts", "delivery_id"),
                        ("webhook_deliveries", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_attempts_delivery")
                    .table("webhook_attempts")
                    .col("delivery_id")
                    .col("attempted_at")
                    .to_owned(),
            )
            .await?;
        super::m20261202_000002_byte_order_text::byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
