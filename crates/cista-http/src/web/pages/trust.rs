//! The live trust page (`/security`; its JSON twin is the API's `/api/v1/trust`): what this
//! running system does, as gathered by `crate::trust`. Anonymous visitors get the facts;
//! signed-in staff also get exact versions, paths and key ids (the core decides who is staff).

use super::templates::Fact;
use crate::AppState;
use crate::error::AppError;
use crate::tls::ConnectionTls;
pub use crate::trust::{TrustView, instance_time};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use cista_core::Error;
use std::sync::Arc;

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
    Extension(ctx): Extension<crate::web::context::RequestContext>,
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
