//! The outbox worker: every second, take what is due, render it, send it, and record how it
//! went. Several server processes may run one each: the core claims each message for one.

use crate::render::{Attachment, Rendered};
use crate::{EmailSender, SmsSender, render};
use cista_core::platform::notices::{DeliveryOutcome, Notice};
use cista_core::ports::Channel;
use cista_core::products::assessment::AssessmentNotice;
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
            let rendered = match render(&delivery) {
                Err(_) => Err(DeliveryOutcome::Abandon(
                    "the message could not be rendered".to_owned(),
                )),
                Ok(message) => self.with_attachments(&delivery.notice, message).await,
            };
            let outcome = match rendered {
                Err(outcome) => outcome,
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
                        outbox_id = delivery.id,
                        channel = delivery.channel.as_str(),
                        "delivered"
                    );
                }
                DeliveryOutcome::Retry(error) | DeliveryOutcome::Abandon(error) => {
                    metrics_delivered(delivery.channel, "failed");
                    tracing::warn!(outbox_id = delivery.id, channel = delivery.channel.as_str(), error = %error, "delivery failed");
                }
            }
            self.cista
                .record_delivery(&Actor::System, delivery.id, delivery.attempts, outcome)
                .await?;
        }
        Ok(count)
    }

    /// Adds the files a notice sends along: the advisor's report when the form's settings
    /// attach it (read and rendered now, so it shows the client as they are now: an erased
    /// client is not named). A result that is gone (deleted at the end of its retention
    /// period) abandons the message; any other failure is retried.
    async fn with_attachments(
        &self,
        notice: &Notice,
        mut message: Rendered,
    ) -> Result<Rendered, DeliveryOutcome> {
        let Notice::Assessment(AssessmentNotice::AssessmentResult {
            org,
            submission,
            attach_report: true,
            ..
        }) = notice
        else {
            return Ok(message);
        };
        let report = match self
            .cista
            .report_for_delivery(&Actor::System, *org, *submission)
            .await
        {
            Ok(report) => report,
            Err(cista_core::Error::NotFound { .. }) => {
                return Err(DeliveryOutcome::Abandon(
                    "the result is no longer held".to_owned(),
                ));
            }
            Err(e) => {
                tracing::warn!(code = e.code(), cause = %e.chain(), "could not read a result for its report");
                return Err(DeliveryOutcome::Retry(
                    "the report could not be prepared".to_owned(),
                ));
            }
        };
        let bytes = match cista_report::assessment_report_pdf(&report) {
            Ok(bytes) => bytes,
            Err(e) => {
                // Not the error's text: an unprintable name quotes the client's name, and the
                // log is no place for personal data.
                let cause = match &e {
                    cista_report::ReportError::Unprintable { what, reason, .. } => {
                        format!("the {what} {reason}")
                    }
                    other => other.to_string(),
                };
                tracing::warn!(%cause, "could not draw a report");
                return Err(DeliveryOutcome::Abandon(
                    "the report could not be drawn".to_owned(),
                ));
            }
        };
        message.attachments.push(Attachment {
            file_name: report.file_name(),
            content_type: "application/pdf".to_owned(),
            bytes,
        });
        Ok(message)
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
