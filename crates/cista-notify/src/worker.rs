//! The outbox worker: every second, take what is due, render it, send it, and record how it
//! went. Several server processes may run one each: the core claims each message for one.

use crate::{EmailSender, SmsSender, render};
use cista_core::platform::notices::DeliveryOutcome;
use cista_core::ports::Channel;
use cista_core::{Actor, Cista};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OutboxWorker {
    pub cista: Cista,
    pub email: Arc<dyn EmailSender>,
    pub sms: Arc<dyn SmsSender>,
}

/// Messages taken per pass.
const BATCH: u32 = 20;

impl OutboxWorker {
    /// One pass: delivers what is due now. Returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, cista_core::Error> {
        let due = self.cista.due_deliveries(&Actor::System, BATCH).await?;
        let count = due.len();
        for delivery in due {
            let outcome = match render(&delivery) {
                Err(_) => DeliveryOutcome::Abandon("the message could not be rendered".to_owned()),
                Ok(message) => match delivery.channel {
                    Channel::Email => {
                        self.email
                            .send(&delivery.address, delivery.first_name.as_str(), &message)
                            .await
                    }
                    Channel::Sms => self.sms.send(&delivery.address, &message.text).await,
                },
            };
            match &outcome {
                DeliveryOutcome::Delivered => {
                    metrics_delivered(delivery.channel, "delivered");
                    tracing::info!(
                        message = delivery.id,
                        channel = delivery.channel.as_str(),
                        "delivered"
                    );
                }
                DeliveryOutcome::Retry(error) | DeliveryOutcome::Abandon(error) => {
                    metrics_delivered(delivery.channel, "failed");
                    tracing::warn!(message = delivery.id, channel = delivery.channel.as_str(), error = %error, "delivery failed");
                }
            }
            self.cista
                .record_delivery(&Actor::System, delivery.id, delivery.attempts, outcome)
                .await?;
        }
        Ok(count)
    }

    /// Runs until `stop` turns true, finishing the pass under way.
    pub async fn run(self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.deliver_due().await {
                tracing::error!(code = e.code(), cause = %e.chain(), "outbox pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Counts deliveries by channel and outcome (never by recipient).
fn metrics_delivered(channel: Channel, outcome: &'static str) {
    metrics::counter!(
        "cista_outbox_deliveries_total",
        "channel" => channel.as_str(),
        "outcome" => outcome
    )
    .increment(1);
}
