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
        })
    }
}
