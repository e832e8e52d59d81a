//! The webhook capability of the store: an organization's endpoints, the queue of messages to
//! deliver to them and the log of every attempt. Reads and the delivery worker's claims through
//! `Store::webhooks`, changes that go with an audit entry through `StoreTx::webhooks`.

use crate::Result;
use crate::products::collection::webhooks::{Webhook, WebhookAttempt, WebhookDelivery, WebhookId};
use async_trait::async_trait;
use cista_types::{OrgId, Timestamp};

/// How one delivery attempt ended, as the queue records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The endpoint answered 2xx: the message is delivered.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// No attempts left: the message failed.
    GaveUp,
}

#[async_trait]
pub trait WebhookReads: Send + Sync {
    /// `org`'s endpoints, the removed ones too, newest first.
    async fn webhooks_of(&self, org: OrgId) -> Result<Vec<Webhook>>;

    async fn webhook(&self, org: OrgId, id: WebhookId) -> Result<Option<Webhook>>;

    /// Every organization's live (not removed) endpoints, oldest first: the receivers the
    /// trust page lists among the third parties.
    async fn live_webhook_receivers(&self) -> Result<Vec<Webhook>>;

    /// `org`'s newest messages (of one endpoint when given), at most `limit`.
    async fn webhook_deliveries(
        &self,
        org: OrgId,
        webhook: Option<WebhookId>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>>;

    async fn webhook_delivery(&self, org: OrgId, id: i64) -> Result<Option<WebhookDelivery>>;

    /// Every attempt to deliver message `delivery`, oldest first.
    async fn webhook_attempts(&self, delivery: i64) -> Result<Vec<WebhookAttempt>>;

    /// Claims up to `limit` messages due at `now` (not delivered, not given up, next attempt
    /// at or before `now`, endpoint not removed) for this process until `lease_until`: their
    /// next attempt moves to `lease_until`, so no other process takes them meanwhile (on
    /// PostgreSQL rows another process is claiming are skipped, `FOR UPDATE SKIP LOCKED`).
    /// Oldest due first.
    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>>;

    /// Records an attempt at message `attempt.delivery` and what follows from it, in one
    /// transaction of its own (no audit entry: the attempt log is the record).
    async fn record_webhook_attempt(&self, attempt: &WebhookAttempt, end: AttemptEnd)
    -> Result<()>;
}

#[async_trait]
pub trait WebhookWrites: Send {
    async fn insert_webhook(&mut self, webhook: &Webhook) -> Result<()>;

    /// Removes `org`'s endpoint `id` at `at` (its log stays; its waiting messages are given
    /// up). `Some(true)` if it was live, `Some(false)` if removed already, `None` if unknown.
    async fn remove_webhook(
        &mut self,
        org: OrgId,
        id: WebhookId,
        at: Timestamp,
    ) -> Result<Option<bool>>;

    /// `org`'s live endpoints, read in this transaction (to queue an event to each).
    async fn live_webhooks(&mut self, org: OrgId) -> Result<Vec<Webhook>>;

    async fn insert_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> Result<()>;

    /// Queues `org`'s message `id` again for `at` with its attempts counted from zero
    /// (its log stays). `false` if `org` has no such message or its endpoint was removed.
    async fn redeliver_webhook(&mut self, org: OrgId, id: i64, at: Timestamp) -> Result<bool>;
}
