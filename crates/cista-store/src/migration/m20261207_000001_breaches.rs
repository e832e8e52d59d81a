//! Breaches (issue 14, item 2; GDPR Art. 33/34). `breaches`: an organization's recorded
//! breaches, each with its incident window (`window_from` < `window_to`), its scope
//! (`activity` or `members`), what happened in staff's words, who recorded it and when (the
//! 72-hour deadline runs from then), the notice's subject and body (MiniJinja templates, no
//! personal data) and when the supervisory authority was told. `breach_notices`: one row per
//! person told of a breach (by subject code), with the outbox message that carries the notice;
//! its primary key on breach and subject makes sure nobody is told twice. An index on the audit
//! log's organization and time, for a breach's window.

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
                    .table("breaches")
                    .col(random_id())
                    .col(big("org_id"))
                    .col(timestamp("recorded_at"))
                    .col(text("recorded_by"))
                    .col(timestamp("window_from"))
                    .col(timestamp("window_to"))
                    .col(text("scope"))
                    .col(text("description"))
                    .col(text("notice_subject"))
                    .col(text("notice_body"))
                    .col(timestamp_null("reported_at"))
                    .check(Expr::cust("window_to > window_from"))
                    .check(Expr::cust("scope IN ('activity', 'members')"))
                    .foreign_key(&mut fk(
                        "fk_breaches_org",
                        ("breaches", "org_id"),
                        ("organizations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_breaches_org")
                    .table("breaches")
                    .col("org_id")
                    .col("recorded_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("breach_notices")
                    .col(big("breach_id"))
                    .col(big("subject"))
                    .col(timestamp("notified_at"))
                    .col(big("message_id"))
                    .primary_key(Index::create().col("breach_id").col("subject"))
                    .foreign_key(&mut fk(
                        "fk_breach_notices_breach",
                        ("breach_notices", "breach_id"),
                        ("breaches", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        // A breach's assessment reads one organization's entries in its window.
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_entries_org_at")
                    .table("audit_entries")
                    .col("org_id")
                    .col("at")
                    .to_owned(),
            )
            .await?;
        super::m20261202_000002_byte_order_text::byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
