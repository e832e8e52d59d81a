//! Three indexes for reads keyed by a column that had none, each of which walked a whole
//! table's history:
//! - `outbox (recipient)`: erasing a person deletes the messages still queued to them
//!   (`delete_messages_to`). Sent messages stay in the outbox, so the delete read every
//!   message ever queued, inside the erasure's write transaction (on SQLite every other
//!   writer, casts included, waits for it).
//! - `webhook_deliveries (org_id, webhook_id, created_at)`: a webhook's page lists its newest
//!   deliveries (`webhook_deliveries` with a webhook), which walked the organization's
//!   deliveries to all its webhooks, newest first, until it had found enough of this one's.
//!   (Removing a webhook gives up only its pending deliveries, which
//!   `ix_webhook_deliveries_pending` already finds.)
//! - `submissions (org_id, form_id, received_at, id)`: a form's results and an assessment's
//!   CSV read its submissions newest first a page at a time (`submissions_of` with one form).
//!   `(org_id, received_at, id)` walked the submissions of the organization's other forms
//!   too, so a form used rarely beside a busy one paid for the busy one's history.
//!
//! The organization leads the last two, as it does every read of them: two equal columns
//! before the order let both engines' planners prefer these to the organization's own
//! indexes without statistics.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The indexes made: (name, table, columns).
const INDEXES: [(&str, &str, &[&str]); 3] = [
    ("ix_outbox_recipient", "outbox", &["recipient"]),
    (
        "ix_webhook_deliveries_webhook",
        "webhook_deliveries",
        &["org_id", "webhook_id", "created_at"],
    ),
    (
        "ix_submissions_form_received",
        "submissions",
        &["org_id", "form_id", "received_at", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both engines: stopped part-way, nothing is left made.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::columns::create_indexes(manager, &INDEXES).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
