//! What the trust page and `/api/v1/trust` show, gathered live from the connection, the
//! database, the key provider and the audit log. Shared by the web and API surfaces.

use crate::AppState;
use crate::middleware::{HSTS, content_security_policy};
use crate::tls::{ConnectionTls, TlsSettings};
use cista_core::platform::trust::TrustReport;
use cista_core::{Actor, Error};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything the trust page shows.
#[derive(Debug, Serialize)]
pub struct TrustView {
    pub report: TrustReport,
    pub tls: Arc<TlsSettings>,
    /// The TLS parameters of the connection this request came on.
    pub this_connection: Option<ConnectionTls>,
    /// Handshakes by negotiated version since the server started.
    pub connections_by_version: BTreeMap<String, u64>,
    pub plain_http: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub checkpoint_interval_seconds: u64,
    pub messaging: Vec<(String, String)>,
    pub backup: crate::BackupLine,
    /// Every external service this instance sends data to, from the live configuration and
    /// (webhook receivers) the database.
    pub third_parties: Vec<ThirdPartyLine>,
    /// Where vulnerabilities are reported, as `/.well-known/security.txt` says.
    pub disclosure: DisclosureLine,
}

/// One third party as this viewer may see it.
#[derive(Debug, Clone, Serialize)]
pub struct ThirdPartyLine {
    pub service: String,
    /// The host for everyone where it is public; the staff view's exact address otherwise.
    pub endpoint: String,
    pub receives: String,
    /// The configuration keys behind it (staff view; empty for the public).
    pub settings: Vec<String>,
}

/// The responsible-disclosure line: served or not, and why.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosureLine {
    /// `/.well-known/security.txt` is served now.
    pub served: bool,
    pub contact: Vec<String>,
    pub expires: Option<cista_types::Timestamp>,
    /// `2 March 2027, 14:57:24 UTC`, for the pages.
    pub valid_until: Option<String>,
    pub summary: String,
}

impl DisclosureLine {
    /// From the configured file at `now`.
    pub fn of(txt: Option<&crate::disclosure::SecurityTxt>, now: cista_types::Timestamp) -> Self {
        match txt {
            Some(txt) if !txt.expired(now) => Self {
                served: true,
                contact: txt.contact.clone(),
                expires: Some(txt.expires),
                valid_until: Some(instance_time(txt.expires)),
                summary: format!(
                    "/.well-known/security.txt (RFC 9116), valid until {}",
                    instance_time(txt.expires)
                ),
            },
            Some(txt) => Self {
                served: false,
                contact: txt.contact.clone(),
                expires: Some(txt.expires),
                valid_until: None,
                summary: format!(
                    "security.txt expired on {} and is not served until the operator confirms \
                     the contacts",
                    instance_time(txt.expires)
                ),
            },
            None => Self {
                served: false,
                contact: Vec::new(),
                expires: None,
                valid_until: None,
                summary: "no security contact is configured: /.well-known/security.txt is not \
                          served"
                    .to_owned(),
            },
        }
    }
}

/// How the instance-wide pages show a time: in UTC, saying so (`30 November 2026, 19:05:09
/// UTC`); the instance has no organization whose zone it could use.
pub fn instance_time(at: cista_types::Timestamp) -> String {
    cista_types::TimeZoneName::utc().format_precise(at)
}

impl TrustView {
    /// `instance_time` for the template.
    pub fn time(&self, at: &cista_types::Timestamp) -> String {
        instance_time(*at)
    }

    /// The view `actor` may see: the staff view (`report.details`) or the public one.
    pub async fn gather(
        state: &AppState,
        connection: Option<Arc<ConnectionTls>>,
        actor: &Actor,
    ) -> Result<Self, Error> {
        let report = state.cista.trust_report(actor).await?;
        let staff = report.details;
        let now = report.generated_at;
        let report_webhooks = report.webhooks.clone();
        let backup = state.backup.line();
        Ok(Self {
            report,
            tls: state.tls.clone(),
            this_connection: connection.map(|c| (*c).clone()),
            connections_by_version: state.tls_stats.snapshot(),
            plain_http: if state.http_redirect {
                "redirects page requests to HTTPS; serves no content or API"
            } else {
                "not listening"
            },
            headers: vec![
                ("Strict-Transport-Security", HSTS.to_owned()),
                ("Content-Security-Policy", content_security_policy("…")),
                ("X-Content-Type-Options", "nosniff".to_owned()),
                ("Referrer-Policy", "no-referrer".to_owned()),
                ("Cache-Control", "no-store (pages)".to_owned()),
            ],
            checkpoint_interval_seconds: state.checkpoint_interval.as_secs(),
            messaging: state
                .messaging
                .iter()
                .map(|m| {
                    let value = if staff { &m.staff } else { &m.public };
                    (m.channel.clone(), value.clone())
                })
                .collect(),
            backup: if staff { backup } else { backup.public() },
            third_parties: third_parties(state, &report_webhooks, staff),
            disclosure: DisclosureLine::of(state.disclosure.as_ref(), now),
        })
    }
}

/// The configured third parties, then the webhook receivers organizations set.
fn third_parties(
    state: &AppState,
    webhooks: &cista_core::platform::trust::WebhookReport,
    staff: bool,
) -> Vec<ThirdPartyLine> {
    let mut out: Vec<ThirdPartyLine> = state
        .third_parties
        .iter()
        .map(|t| ThirdPartyLine {
            service: t.service.clone(),
            endpoint: if staff {
                t.endpoint.clone()
            } else {
                t.public_endpoint.clone()
            },
            receives: t.receives.clone(),
            settings: if staff {
                t.settings.clone()
            } else {
                Vec::new()
            },
        })
        .collect();
    if webhooks.endpoints > 0 {
        let count = format!(
            "{} set by {}",
            cista_types::words::count(webhooks.endpoints as usize, "endpoint", "endpoints"),
            cista_types::words::count(
                webhooks.organizations as usize,
                "organization",
                "organizations"
            )
        );
        out.push(ThirdPartyLine {
            service: "Webhook receivers".to_owned(),
            endpoint: if staff && !webhooks.hosts.is_empty() {
                format!("{count}: {}", webhooks.hosts.join(", "))
            } else {
                count
            },
            receives: webhooks.receives.to_owned(),
            settings: if staff {
                vec!["an organization's webhooks page".to_owned()]
            } else {
                Vec::new()
            },
        });
    }
    out
}
