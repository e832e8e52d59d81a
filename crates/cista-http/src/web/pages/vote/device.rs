//! "Test my device" (FL-03): what the server can see of this browser's connection, and a
//! practice form whose arrival proves the device can vote. Each use is recorded in the audit
//! log. No sign-in needed; the practice answer is never a vote and is not stored.

use crate::AppState;
use crate::error::AppError;
use crate::tls::ConnectionTls;
use crate::web::context::{PRE_SESSION_COOKIE, RequestContext, SESSION_COOKIE, cookie_value};
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::Actor;
use cista_types::TimeZoneName;
use serde::Deserialize;
use std::sync::Arc;

/// What this request shows about the device and its connection.
struct Checks {
    tls: String,
    tls_ok: bool,
    cookie: &'static str,
    cookie_ok: bool,
    user_agent: String,
    /// The server's time in the organization's zone, with its abbreviation.
    now: String,
    /// Whose zone that is, e.g. `America/New_York, the association's time zone`.
    zone: String,
}

impl Checks {
    fn of(
        state: &AppState,
        ctx: &RequestContext,
        headers: &HeaderMap,
        connection: Option<&ConnectionTls>,
        zone: &TimeZoneName,
    ) -> Self {
        let (tls, tls_ok) = match connection {
            Some(c) => (
                format!(
                    "This connection uses {} with {}.",
                    c.version, c.cipher_suite
                ),
                c.version == "TLS 1.3" || c.version == "TLS 1.2",
            ),
            None => (
                "The server could not see this connection's encryption details.".to_owned(),
                false,
            ),
        };
        let (cookie, cookie_ok) = if ctx.signed_in() {
            (
                "Your session cookie came with this request: you are signed in.",
                true,
            )
        } else if cookie_value(headers, SESSION_COOKIE).is_some()
            || cookie_value(headers, PRE_SESSION_COOKIE).is_some()
        {
            (
                "A Cista cookie came with this request: your browser keeps the cookies \
                 signing in needs.",
                true,
            )
        } else {
            (
                "No cookie came with this request. That is normal on a first visit: reload \
                 this page. If this line stays, your browser refuses cookies and you cannot \
                 sign in to vote.",
                false,
            )
        };
        Self {
            tls,
            tls_ok,
            cookie,
            cookie_ok,
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none sent)")
                .chars()
                .take(300)
                .collect(),
            now: zone.format_precise(state.cista.clock().now()),
            zone: if zone.as_str() == "UTC" {
                "Coordinated Universal Time".to_owned()
            } else {
                format!("{zone}, the association's time zone")
            },
        }
    }
}

#[derive(Template)]
#[template(path = "vote/device.html")]
struct DevicePage {
    chrome: Chrome,
    checks: Checks,
    errors: Vec<FormError>,
}

#[derive(Template)]
#[template(path = "vote/device_done.html")]
struct DonePage {
    chrome: Chrome,
    checks: Checks,
    answer: &'static str,
}

/// `?done=yes|no|abstain`: the page after a practice answer was recorded (Post/Redirect/Get).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    done: Option<String>,
}

/// The zone the page shows the time in: the visitor's organization's, or the one all
/// organizations here share (see `Cista::time_zone_for`).
async fn zone_for(state: &AppState, ctx: &RequestContext) -> Result<TimeZoneName, AppError> {
    let actor = ctx
        .session
        .as_ref()
        .and_then(|s| s.actor.clone())
        .unwrap_or(Actor::Anonymous);
    Ok(state.cista.time_zone_for(&actor).await?)
}

fn practice_answer(raw: &str) -> Option<&'static str> {
    match raw {
        "yes" => Some("Yes"),
        "no" => Some("No"),
        "abstain" => Some("Abstain"),
        _ => None,
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(query): Query<DoneQuery>,
    headers: HeaderMap,
    connection: Option<Extension<Arc<ConnectionTls>>>,
) -> Result<Response, AppError> {
    let zone = zone_for(&state, &ctx).await?;
    let connection = connection.as_deref().map(|c| &**c);
    let checks = Checks::of(&state, &ctx, &headers, connection, &zone);
    if let Some(answer) = query.done.as_deref().and_then(practice_answer) {
        return render(
            StatusCode::OK,
            DonePage {
                chrome: Chrome::new(&ctx, &state),
                checks,
                answer,
            },
        );
    }
    render(
        StatusCode::OK,
        DevicePage {
            chrome: Chrome::new(&ctx, &state),
            checks,
            errors: Vec::new(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PracticeForm {
    practice: String,
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    connection: Option<Extension<Arc<ConnectionTls>>>,
    Form(form): Form<PracticeForm>,
) -> Result<Response, AppError> {
    let zone = zone_for(&state, &ctx).await?;
    let connection = connection.as_deref().map(|c| &**c);
    let checks = Checks::of(&state, &ctx, &headers, connection, &zone);
    if practice_answer(&form.practice).is_none() {
        {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                DevicePage {
                    chrome: Chrome::new(&ctx, &state),
                    checks,
                    errors: vec![FormError::new(
                        "practice-yes",
                        "Choose an answer to the practice question: yes, no or abstain.",
                    )],
                },
            );
        }
    };
    let tls = connection
        .map(|c| format!("{} {}", c.version, c.cipher_suite))
        .unwrap_or_else(|| "unknown".to_owned());
    state
        .cista
        .record_device_test(&ctx.actor(), &checks.user_agent, &tls)
        .await?;
    Ok(see_other(&format!(
        "/vote/test-device?done={}",
        form.practice
    )))
}
