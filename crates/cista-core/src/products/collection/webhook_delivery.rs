//! Sending queued webhook messages (issue 13, item 7): a worker in any server process claims
//! what is due (see `WebhookReads::claim_webhook_deliveries`), signs and posts each message,
//! and records the attempt here, which decides what follows. A message that gets no 2xx answer
//! is tried again after 5 seconds, 5 minutes, 30 minutes, 2, 5, 10 and 10 hours — the retry
//! schedule of Svix, the Standard Webhooks authors — eight attempts over about 28 hours, then
//! it is given up (and can be sent again by hand).

use crate::ports::AttemptEnd;
use crate::products::collection::webhooks::{WebhookAttempt, WebhookDelivery};
use crate::{Action, Actor, Cista, Result};
use cista_types::{Secret, Timestamp};
use time::Duration;

/// The wait before each retry: the n-th entry follows the n-th failed attempt.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// How long a claimed message is this process's before another may take it (longer than an
/// attempt's timeout, so a slow endpoint is not sent the same message twice at once).
pub const LEASE: Duration = Duration::minutes(2);

/// The longest error text kept per attempt, in characters.
const MAX_ERROR: usize = 200;

/// A message due now, with where to send it and the key to sign it with.
#[derive(Debug)]
pub struct DueWebhook {
    pub delivery: WebhookDelivery,
    pub url: String,
    /// The endpoint's secret, `whsec_…` (see `cista_crypto::standard_webhooks`).
    pub secret: Secret,
}

/// What follows an attempt that ended at `now` with `delivered` or not, after `attempts`
/// attempts in all (this one included).
pub fn after_attempt(now: Timestamp, attempts: u32, delivered: bool) -> AttemptEnd {
    if delivered {
        return AttemptEnd::Delivered;
    }
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    match RETRY_DELAYS.get(index) {
        Some(delay) => AttemptEnd::RetryAt(now.plus(*delay)),
        None => AttemptEnd::GaveUp,
    }
}

impl Cista {
    /// Claims up to `limit` messages due now for this process (for `LEASE`), each with its
    /// endpoint's address and secret. Needs `Action::DeliverMessages` (the system).
    pub async fn due_webhooks(&self, actor: &Actor, limit: u64) -> Result<Vec<DueWebhook>> {
        actor.authorize(Action::DeliverMessages)?;
        let now = self.clock().now();
        let reads = self.store().webhooks();
        let claimed = reads
            .claim_webhook_deliveries(now, now.plus(LEASE), limit)
            .await?;
        let mut due = Vec::with_capacity(claimed.len());
        for delivery in claimed {
            let Some(webhook) = reads.webhook(delivery.org, delivery.webhook).await? else {
                continue;
            };
            let secret = self.webhook_secret(&webhook).await?;
            due.push(DueWebhook {
                delivery,
                url: webhook.url,
                secret,
            });
        }
        Ok(due)
    }

    /// Records an attempt at `delivery`: `status` is the endpoint's HTTP status (`None` when
    /// it did not answer), `error` why it was not a 2xx in a few words, `duration_ms` how
    /// long it took. A 2xx delivers the message; anything else schedules a retry or, after
    /// the last, gives it up. Returns what follows. Needs `Action::DeliverMessages`.
    pub async fn record_webhook_attempt(
        &self,
        actor: &Actor,
        delivery: &WebhookDelivery,
        status: Option<u16>,
        error: Option<&str>,
        duration_ms: u64,
    ) -> Result<AttemptEnd> {
        actor.authorize(Action::DeliverMessages)?;
        let now = self.clock().now();
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let end = after_attempt(now, delivery.attempts.saturating_add(1), delivered);
        let attempt = WebhookAttempt {
            id: self.rng().id63(),
            delivery: delivery.id,
            attempted_at: now,
            status,
            error: if delivered {
                None
            } else {
                Some(
                    error
                        .unwrap_or("the endpoint did not answer 2xx")
                        .chars()
                        .take(MAX_ERROR)
                        .collect(),
                )
            },
            duration_ms,
        };
        self.store()
            .webhooks()
            .record_webhook_attempt(&attempt, end.clone())
            .await?;
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_give_up() {
        let now = Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
        assert_eq!(after_attempt(now, 1, true), AttemptEnd::Delivered);
        assert_eq!(
            after_attempt(now, 1, false),
            AttemptEnd::RetryAt(now.plus(Duration::seconds(5)))
        );
        assert_eq!(
            after_attempt(now, 7, false),
            AttemptEnd::RetryAt(now.plus(Duration::hours(10)))
        );
        assert_eq!(after_attempt(now, 8, false), AttemptEnd::GaveUp);
        let total: Duration = RETRY_DELAYS.iter().copied().sum();
        assert!(total >= Duration::hours(20) && total <= Duration::hours(30));
    }
}
