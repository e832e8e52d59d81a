//! The live trust page (`/security`) and its JSON twin (`/api/v1/trust`): what this running
//! system does, read from the connection, the database, the key provider and the audit log.
//! Anonymous visitors (and the JSON, which takes no cookies) get the facts; signed-in staff
//! also get exact versions, paths and key ids (the core decides who is staff).

use super::templates::Fact;
use crate::AppState;
use crate::error::AppError;
use crate::middleware::{HSTS, content_security_policy};
use crate::tls::{ConnectionTls, TlsSettings};
use askama::Template;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::response::Html;
use cista_core::trust::TrustReport;
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

fn setting<'a>(view: &'a TrustView, name: &str) -> Option<&'a str> {
    view.report
        .database
        .settings
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The headline facts, shared by the landing and trust pages.
pub fn facts(view: &TrustView) -> Vec<Fact> {
    let connection = match &view.this_connection {
        Some(c) => format!(
            "{} ({}) on this connection; offered: {}",
            c.version,
            c.cipher_suite,
            view.tls.versions.join(", ")
        ),
        None => format!("offered: {}", view.tls.versions.join(", ")),
    };
    let db = &view.report.database;
    let durability = match db.backend {
        cista_core::ports::Backend::Sqlite => format!(
            "journal {}, synchronous {}",
            setting(view, "journal_mode").unwrap_or("?"),
            setting(view, "synchronous").unwrap_or("?")
        ),
        cista_core::ports::Backend::Postgres => format!(
            "synchronous_commit {}, connection TLS {}",
            setting(view, "synchronous_commit").unwrap_or("?"),
            setting(view, "connection TLS").unwrap_or("?")
        ),
    };
    let audit = &view.report.audit;
    let (checkpoint, checkpoint_ok) = match &audit.latest_checkpoint {
        Some(cp) => (
            format!(
                "{} entries; latest signed checkpoint covers {} at {} — signature {}",
                audit.entries,
                cp.size,
                instance_time(cp.signed_at),
                if cp.signature_valid {
                    "valid"
                } else {
                    "INVALID"
                }
            ),
            cp.signature_valid,
        ),
        None => (
            format!("{} entries; no checkpoint signed yet", audit.entries),
            false,
        ),
    };
    vec![
        Fact {
            label: "Transport",
            value: connection,
            ok: view.this_connection.is_some(),
        },
        Fact {
            label: "Database",
            value: format!("{} — {}", db.version, durability),
            ok: true,
        },
        Fact {
            label: "Keys",
            value: match &view.report.keys.provider.active_kek {
                Some(kek) => format!(
                    "{} (active key-encryption key {kek}); {}",
                    view.report.keys.provider.kind, view.report.keys.cipher
                ),
                None => format!(
                    "{}; {}",
                    view.report.keys.provider.kind, view.report.keys.cipher
                ),
            },
            ok: true,
        },
        Fact {
            label: "Audit log",
            value: checkpoint,
            ok: checkpoint_ok,
        },
        Fact {
            label: "Backup",
            value: if view.report.details {
                view.backup.staff_summary().to_owned()
            } else {
                view.backup.summary.clone()
            },
            ok: view.backup.ok,
        },
        Fact {
            label: "Votes",
            value: format!(
                "one per unit, enforced by the database's primary key; voting records guarded \
                 by {} database triggers{}",
                view.report.voting.guards.len(),
                if view.report.voting.guards_complete {
                    ""
                } else {
                    " — SOME ARE MISSING"
                }
            ),
            ok: view.report.voting.guards_complete,
        },
    ]
}

#[derive(Template)]
#[template(path = "trust.html")]
struct TrustPage<'a> {
    chrome: super::chrome::Chrome,
    facts: Vec<Fact>,
    view: &'a TrustView,
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<crate::context::RequestContext>,
    connection: Option<Extension<Arc<ConnectionTls>>>,
) -> Result<Html<String>, AppError> {
    let view = TrustView::gather(&state, connection.map(|c| c.0), &ctx.actor()).await?;
    let page = TrustPage {
        chrome: super::chrome::Chrome::new(&ctx, &state),
        facts: facts(&view),
        view: &view,
    };
    Ok(Html(
        page.render().map_err(|e| Error::Internal(e.to_string()))?,
    ))
}

pub async fn json(
    State(state): State<AppState>,
    connection: Option<Extension<Arc<ConnectionTls>>>,
) -> Result<Json<TrustView>, AppError> {
    // The API takes bearer tokens, never cookies: this is always the public view.
    Ok(Json(
        TrustView::gather(&state, connection.map(|c| c.0), &Actor::Anonymous).await?,
    ))
}
