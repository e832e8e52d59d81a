//! The webhook worker (issue 13, item 7): every second, claim the messages due (any server
//! process may run one; the store hands each message to one), sign each as Standard Webhooks
//! asks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), POST it, and record the
//! attempt, which the core turns into delivered, a retry later, or given up.
//!
//! Outbound safety: HTTPS only, redirects not followed (a 3xx is a failed attempt), a
//! 10-second timeout, and no address on this machine or a private network unless the instance
//! allows it (the demo, tests): checked on the URL's host and again on every address its name
//! resolves to, so a public name pointing inside is refused too. The endpoint's answer is
//! never read beyond its status.

use crate::SetupError;
use cista_core::products::collection::webhook_delivery::DueWebhook;
use cista_core::products::collection::webhooks::{check_url, is_internal};
use cista_core::{Actor, Cista};
use cista_crypto::standard_webhooks;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages claimed per pass; they are sent concurrently.
const BATCH: u64 = 20;

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct WebhookWorker {
    cista: Cista,
    client: reqwest::Client,
    allow_internal: bool,
}

/// Resolves names with the system resolver and drops internal addresses unless allowed.
struct PublicOnly {
    allow_internal: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_internal = self.allow_internal;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allow_internal || !is_internal(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err("the endpoint's name resolves to no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// What one attempt came to.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
}

impl WebhookWorker {
    /// A worker for `cista`, trusting the usual web roots and `extra_roots_pem` (the demo's
    /// own certificate, a test's). Internal addresses are allowed only when the instance's
    /// settings allow them.
    pub fn new(cista: Cista, extra_roots_pem: &[Vec<u8>]) -> Result<Self, SetupError> {
        let allow_internal = cista.settings().allow_internal_webhooks;
        let mut builder = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .user_agent("Cista-Webhooks/1")
            .dns_resolver(Arc::new(PublicOnly { allow_internal }));
        for pem in extra_roots_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| SetupError(format!("a webhook root certificate: {e}")))?;
            builder = builder.tls_certs_merge([cert]);
        }
        let client = builder
            .build()
            .map_err(|e| SetupError(format!("webhook HTTP client: {e}")))?;
        Ok(Self {
            cista,
            client,
            allow_internal,
        })
    }

    /// One pass: sends what is due now, concurrently. Returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, cista_core::Error> {
        let due = self.cista.due_webhooks(&Actor::System, BATCH).await?;
        let count = due.len();
        let mut sends = tokio::task::JoinSet::new();
        for message in due {
            let worker = self.clone();
            sends.spawn(async move {
                let outcome = worker.send(&message).await;
                worker.record(&message, outcome).await
            });
        }
        while let Some(done) = sends.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(code = e.code(), cause = %e.chain(), "could not record a webhook attempt");
                }
                Err(e) => tracing::error!(cause = %e, "a webhook send stopped"),
            }
        }
        Ok(count)
    }

    async fn record(&self, message: &DueWebhook, outcome: Outcome) -> cista_core::Result<()> {
        let end = self
            .cista
            .record_webhook_attempt(
                &Actor::System,
                &message.delivery,
                outcome.status,
                outcome.error.as_deref(),
                outcome.duration_ms,
            )
            .await?;
        let label = match end {
            cista_core::ports::AttemptEnd::Delivered => "delivered",
            cista_core::ports::AttemptEnd::RetryAt(_) => "retry",
            cista_core::ports::AttemptEnd::GaveUp => "gave_up",
        };
        metrics::counter!("cista_webhook_attempts_total", "outcome" => label).increment(1);
        tracing::info!(
            delivery = message.delivery.id,
            message_id = %message.delivery.message_id,
            status = outcome.status,
            outcome = label,
            "webhook attempt"
        );
        Ok(())
    }

    /// Signs and posts one message.
    async fn send(&self, message: &DueWebhook) -> Outcome {
        let started = Instant::now();
        let finish = |status: Option<u16>, error: Option<String>| Outcome {
            status,
            error,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        if check_url(&message.url, self.allow_internal).is_err() {
            return finish(
                None,
                Some("the endpoint's address is not allowed".to_owned()),
            );
        }
        let timestamp = self.cista.clock().now().unix_micros() / 1_000_000;
        let body = message.delivery.payload.as_bytes();
        let signature =
            match standard_webhooks::secret_key(message.secret.expose()).and_then(|key| {
                standard_webhooks::sign(&key, &message.delivery.message_id, timestamp, body)
            }) {
                Ok(signature) => signature,
                Err(_) => {
                    return finish(None, Some("the endpoint's secret is unusable".to_owned()));
                }
            };
        let sent = self
            .client
            .post(&message.url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.delivery.payload.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let error = (!response.status().is_success())
                    .then(|| format!("the endpoint answered {status}"));
                finish(Some(status), error)
            }
            Err(e) => {
                let why = if e.is_timeout() {
                    "the endpoint did not answer within 10 seconds"
                } else if e.is_connect() {
                    "could not connect to the endpoint"
                } else {
                    "the request failed"
                };
                finish(None, Some(why.to_owned()))
            }
        }
    }

    /// Runs until `stop` turns true, finishing the pass under way.
    pub async fn run(self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.deliver_due().await {
                tracing::error!(code = e.code(), cause = %e.chain(), "webhook pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
