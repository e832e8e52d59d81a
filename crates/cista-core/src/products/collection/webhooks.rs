//! Webhooks (issue 13, item 7): an organization's staff name HTTPS endpoints that are told of
//! every new record (`record.created`) and every review (`record.reviewed`). Each endpoint has
//! a secret (Standard Webhooks' `whsec_…`, shown once, sealed under the organization's data
//! key: it signs, so it cannot be stored hashed). An event becomes one message per endpoint,
//! queued in the database in the same transaction as the record or review it tells of, so a
//! message is never lost and never sent for a change that did not happen; `webhook_delivery`
//! sends them. Messages carry ids and links, never personal data.

use crate::platform::audit::NewAuditEntry;
use crate::ports::StoreTx;
use crate::products::collection::actions::CollectionAction;
use crate::products::collection::audit::CollectionAuditKind;
use crate::{Actor, Cista, Error, Result};
use cista_crypto::Sealed;
use cista_crypto::standard_webhooks::secret_text;
use cista_types::{OrgId, Secret, SubmissionId, Timestamp};
use serde::Serialize;
use std::net::IpAddr;

crate::platform::public_id::public_id!(
    /// A webhook endpoint's public id, `wh-` and 16 hexadecimal digits.
    WebhookId,
    "wh-",
    "webhook",
    "wh- followed by 16 hexadecimal digits"
);

/// The longest endpoint URL, in bytes.
pub const MAX_URL: usize = 2000;

/// Endpoints an organization may have at once.
pub const MAX_WEBHOOKS: usize = 10;

/// What an endpoint is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WebhookEvent {
    /// A record arrived (its photos follow separately).
    #[serde(rename = "record.created")]
    RecordCreated,
    /// A reviewer put a record in a review state.
    #[serde(rename = "record.reviewed")]
    RecordReviewed,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 2] = [WebhookEvent::RecordCreated, WebhookEvent::RecordReviewed];

    /// The event type as sent in the payload's `type` and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::RecordCreated => "record.created",
            WebhookEvent::RecordReviewed => "record.reviewed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub org: OrgId,
    /// `https://…` (loopback only where the instance allows it: the demo and tests).
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// The signing key (the bytes behind `whsec_…`), sealed under the organization's key.
    pub sealed_secret: Vec<u8>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}

impl Webhook {
    pub fn is_live(&self) -> bool {
        self.removed_at.is_none()
    }

    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.is_live() && self.events.contains(&event)
    }
}

/// One message to one endpoint, queued until delivered or given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Random.
    pub id: i64,
    pub webhook: WebhookId,
    pub org: OrgId,
    /// The `webhook-id` header: the same for every attempt (receivers use it to ignore a
    /// message they already have), `msg_` and 32 hexadecimal digits.
    pub message_id: String,
    pub event: WebhookEvent,
    /// The body sent, JSON.
    pub payload: String,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    /// Attempts since it was queued (or queued again by hand).
    pub attempts: u32,
    pub delivered_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    /// The HTTP status of the last attempt that got an answer.
    pub last_status: Option<u16>,
}

impl WebhookDelivery {
    /// `delivered`, `failed` or `waiting`.
    pub fn state(&self) -> &'static str {
        if self.delivered_at.is_some() {
            "delivered"
        } else if self.failed_at.is_some() {
            "failed"
        } else {
            "waiting"
        }
    }
}

/// One attempt at a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// Random.
    pub id: i64,
    pub delivery: i64,
    pub attempted_at: Timestamp,
    /// The endpoint's HTTP status; `None` when there was no answer.
    pub status: Option<u16>,
    /// Why there was no 2xx answer, in a few words of Cista's own (never the response body).
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A new endpoint and its secret, shown once.
#[derive(Debug)]
pub struct NewWebhook {
    pub webhook: Webhook,
    /// `whsec_…`: the receiver verifies signatures with it.
    pub secret: Secret,
}

pub(crate) fn secret_aad(org: OrgId, id: WebhookId) -> Vec<u8> {
    format!("cista/v1|webhook-secret|{org}|{}", id.as_i64()).into_bytes()
}

/// Whether `ip` is one no webhook may reach outside the demo and tests: loopback, private,
/// link-local, unspecified, carrier-grade NAT or unique-local (cloud metadata services and the
/// server's own neighbours live there).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// Checks an endpoint URL: absolute `https`, a host, no user name or password, no fragment,
/// at most 2000 bytes; a loopback or private address (or `localhost`) only when
/// `allow_internal` (the demo and tests). Returns it normalized.
pub fn check_url(text: &str, allow_internal: bool) -> Result<String> {
    let invalid = |why: &str| Error::invalid("url", why.to_owned());
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid("give the endpoint's address, https://…"));
    }
    if text.len() > MAX_URL {
        return Err(invalid("the address is longer than 2000 characters"));
    }
    let url = url::Url::parse(text)
        .map_err(|_| invalid("that is not an address; write it as https://host/path"))?;
    if url.scheme() != "https" {
        return Err(invalid("webhooks are sent over HTTPS only; use https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "leave the user name and password out of the address; the signature authenticates",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("leave the #fragment out of the address"));
    }
    let internal = match url.host() {
        None => return Err(invalid("the address needs a host name")),
        Some(url::Host::Ipv4(ip)) => is_internal(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_internal(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost") || !name.contains('.')
        }
    };
    if internal && !allow_internal {
        return Err(invalid(
            "that address is on this machine or a private network; webhooks go to public HTTPS endpoints",
        ));
    }
    Ok(url.to_string())
}

/// What an event tells of: ids and links only.
#[derive(Debug, Clone)]
pub(crate) struct RecordEvent<'a> {
    pub event: WebhookEvent,
    pub org: OrgId,
    pub form_key: &'a str,
    pub form_version: u32,
    pub record: SubmissionId,
    pub state: &'a str,
    pub at: Timestamp,
}

impl Cista {
    /// Adds an endpoint to `org`, told of `events` (at least one), and returns it with its
    /// secret (shown once). Needs `CollectionAction::ManageWebhooks`; at most 10 live
    /// endpoints. Audited (`webhook.created`, the URL's host only).
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        org: OrgId,
        url: &str,
        events: &[WebhookEvent],
    ) -> Result<NewWebhook> {
        actor.authorize_in(org, CollectionAction::ManageWebhooks)?;
        let url = check_url(url, self.settings().allow_internal_webhooks)?;
        if events.is_empty() {
            return Err(Error::invalid(
                "events",
                "choose at least one event to send".to_owned(),
            ));
        }
        let live = self.store().webhooks().webhooks_of(org).await?;
        if live.iter().filter(|w| w.is_live()).count() >= MAX_WEBHOOKS {
            return Err(Error::Conflict(format!(
                "an organization has at most {MAX_WEBHOOKS} webhooks; remove one first"
            )));
        }
        let id = WebhookId::from_i64(self.rng().id63());
        let mut key = [0u8; 32];
        self.rng().fill(&mut key);
        let secret = Secret::new(secret_text(&key));
        let sealed = self.seal_for_org(org, &secret_aad(org, id), &key).await?;
        let now = self.clock().now();
        let mut events = events.to_vec();
        events.dedup();
        let webhook = Webhook {
            id,
            org,
            url,
            events,
            sealed_secret: sealed.into_bytes(),
            created_by: actor.audit_name(),
            created_at: now,
            removed_at: None,
        };
        let mut tx = self.store().begin().await?;
        tx.webhooks().insert_webhook(&webhook).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            CollectionAuditKind::WebhookCreated,
            serde_json::json!({
                "webhook": id,
                "host": url::Url::parse(&webhook.url).ok().and_then(|u| u.host_str().map(str::to_owned)),
                "events": webhook.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            }),
        ))
        .await?;
        Ok(NewWebhook { webhook, secret })
    }

    /// Removes `org`'s endpoint `id`: nothing more is sent to it (its waiting messages are
    /// given up), its log stays. `false` if it was removed already. Audited.
    pub async fn remove_webhook(&self, actor: &Actor, org: OrgId, id: WebhookId) -> Result<bool> {
        actor.authorize_in(org, CollectionAction::ManageWebhooks)?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let removed = tx
            .webhooks()
            .remove_webhook(org, id, now)
            .await?
            .ok_or(Error::NotFound {
                what: "that webhook",
            })?;
        if !removed {
            tx.commit_housekeeping().await?;
            return Ok(false);
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            CollectionAuditKind::WebhookRemoved,
            serde_json::json!({ "webhook": id }),
        ))
        .await?;
        Ok(true)
    }

    /// `org`'s endpoints (removed ones too), newest first, for staff who manage them.
    pub async fn webhooks(&self, actor: &Actor, org: OrgId) -> Result<Vec<Webhook>> {
        actor.authorize_in(org, CollectionAction::ManageWebhooks)?;
        self.store().webhooks().webhooks_of(org).await
    }

    /// `org`'s newest 100 messages (of one endpoint when given), each with its attempts.
    pub async fn webhook_log(
        &self,
        actor: &Actor,
        org: OrgId,
        webhook: Option<WebhookId>,
    ) -> Result<Vec<(WebhookDelivery, Vec<WebhookAttempt>)>> {
        actor.authorize_in(org, CollectionAction::ManageWebhooks)?;
        let reads = self.store().webhooks();
        let deliveries = reads.webhook_deliveries(org, webhook, 100).await?;
        let mut log = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let attempts = reads.webhook_attempts(delivery.id).await?;
            log.push((delivery, attempts));
        }
        Ok(log)
    }

    /// Queues `org`'s message `id` to be sent again now, its attempts counted afresh (the same
    /// `webhook-id`, so a receiver that has it can tell). Audited.
    pub async fn redeliver_webhook(&self, actor: &Actor, org: OrgId, id: i64) -> Result<()> {
        actor.authorize_in(org, CollectionAction::ManageWebhooks)?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        if !tx.webhooks().redeliver_webhook(org, id, now).await? {
            return Err(Error::NotFound {
                what: "that webhook message (or its endpoint was removed)",
            });
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            CollectionAuditKind::WebhookRedelivered,
            serde_json::json!({ "delivery": id.to_string() }),
        ))
        .await?;
        Ok(())
    }

    /// Queues `event` for every live endpoint of its organization that wants it, in `tx` (the
    /// transaction that makes the change it tells of). Nothing when there are none.
    pub(crate) async fn queue_record_event(
        &self,
        tx: &mut Box<dyn StoreTx>,
        event: &RecordEvent<'_>,
    ) -> Result<()> {
        let hooks: Vec<Webhook> = tx
            .webhooks()
            .live_webhooks(event.org)
            .await?
            .into_iter()
            .filter(|w| w.wants(event.event))
            .collect();
        if hooks.is_empty() {
            return Ok(());
        }
        let slug = self
            .store()
            .organization(event.org)
            .await?
            .map(|o| o.slug.to_string())
            .ok_or(Error::NotFound {
                what: "the organization",
            })?;
        let payload = self.record_event_payload(event, &slug);
        let mut raw = [0u8; 16];
        self.rng().fill(&mut raw);
        let message_id: String = std::iter::once("msg_".to_owned())
            .chain(raw.iter().map(|b| format!("{b:02x}")))
            .collect();
        for hook in hooks {
            tx.webhooks()
                .insert_webhook_delivery(&WebhookDelivery {
                    id: self.rng().id63(),
                    webhook: hook.id,
                    org: event.org,
                    message_id: message_id.clone(),
                    event: event.event,
                    payload: payload.clone(),
                    created_at: event.at,
                    next_attempt_at: event.at,
                    attempts: 0,
                    delivered_at: None,
                    failed_at: None,
                    last_status: None,
                })
                .await?;
        }
        Ok(())
    }

    /// The Standard Webhooks payload: `type`, `timestamp` (RFC 3339) and `data` with the ids
    /// (as strings: JavaScript's numbers cannot hold 63 bits) and links to the record's page
    /// (staff sign in) and its review state in the API (an app token reads it).
    fn record_event_payload(&self, event: &RecordEvent<'_>, slug: &str) -> String {
        let origin = self.settings().public_origin.trim_end_matches('/');
        let record = event.record.as_i64().to_string();
        serde_json::json!({
            "type": event.event.as_str(),
            "timestamp": event.at.to_rfc3339(),
            "data": {
                "organization": slug,
                "form": event.form_key,
                "form_version": event.form_version,
                "record": record,
                "state": event.state,
                "links": {
                    "record": format!("{origin}/admin/{slug}/records/{record}"),
                    "status": format!("{origin}/api/v1/submissions/{record}/status"),
                },
            },
        })
        .to_string()
    }

    /// The secret of endpoint `webhook`, opened: its text form, `whsec_…`.
    pub(crate) async fn webhook_secret(&self, webhook: &Webhook) -> Result<Secret> {
        let sealed = Sealed::from_bytes(webhook.sealed_secret.clone());
        let key = self
            .open_for_org(webhook.org, &secret_aad(webhook.org, webhook.id), &sealed)
            .await?;
        Ok(Secret::new(secret_text(&key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_public_and_plain() {
        assert_eq!(
            check_url(" https://hooks.example.org/cista ", false).unwrap(),
            "https://hooks.example.org/cista"
        );
        for bad in [
            "",
            "http://hooks.example.org/",
            "ftp://hooks.example.org/",
            "https://user:pw@hooks.example.org/",
            "https://hooks.example.org/#x",
            "https://127.0.0.1/",
            "https://localhost:8443/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:192.168.1.1]/",
            "https://100.64.0.1/",
            "https://intranet/",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("https://localhost:8443/demo/webhook-receiver", true).is_ok());
        assert!(check_url("http://127.0.0.1/", true).is_err());
    }

    #[test]
    fn events_round_trip() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(WebhookEvent::parse("record.deleted"), None);
    }
}
