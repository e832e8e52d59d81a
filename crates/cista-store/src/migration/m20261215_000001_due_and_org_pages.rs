//! Two indexes for reads that run again and again, whose cost grew with a whole table's
//! history:
//! - `webhook_deliveries (delivered_at, failed_at, next_attempt_at, id)` in place of
//!   `(next_attempt_at)`: the webhook worker claims what is due every second
//!   (`claim_webhook_deliveries`: not delivered, not given up, due by now, oldest first).
//!   Delivered and abandoned deliveries keep their last `next_attempt_at`, so the old index
//!   walked every delivery ever made on each claim, on SQLite inside a write transaction
//!   that holds every other writer (casts included) out meanwhile. As the outbox's
//!   `ix_outbox_due` does, the new one starts at the pending deliveries.
//! - `audit_entries (org_id, seq)` in place of `(org_id)`: an organization's entries in a
//!   time window are read in pages of 5,000 by `seq` (`org_audit_entries`: who a breach
//!   affected). On SQLite `(org_id)` already ends in the row id, `seq`; on PostgreSQL it did
//!   not, so each page read and sorted the whole window again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The indexes replaced: (the old name, the new name, the table, the new index's columns).
const REPLACED: [(&str, &str, &str, &[&str]); 2] = [
    (
        "ix_webhook_deliveries_due",
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        &["delivered_at", "failed_at", "next_attempt_at", "id"],
    ),
    (
        "ix_audit_entries_org",
        "ix_audit_entries_org_seq",
        "audit_entries",
        &["org_id", "seq"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both engines (sea-orm-migration opens one only on PostgreSQL by
    /// default): a migration stopped part-way leaves nothing made, and runs again whole.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (old, new, table, columns) in REPLACED {
            manager
                .create_index(super::columns::index(new, table, columns))
                .await?;
            manager
                .drop_index(Index::drop().name(old).table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
