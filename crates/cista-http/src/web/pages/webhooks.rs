//! An organization's webhooks (`/admin/{org}/webhooks`), for owners and administrators: the
//! endpoints told of new and reviewed records, **Add an endpoint** (its `whsec_…` secret is
//! shown once, carried through the redirect sealed to this session as new app tokens are),
//! **Remove**, and the delivery log: the newest 100 messages, each with its state and every
//! attempt's time, HTTP status and what went wrong, and **Send again**.

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, ShownOnce, with_notice};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use cista_core::ports::Organization;
use cista_core::products::collection::webhook_delivery::RETRY_DELAYS;
use cista_core::products::collection::webhooks::{WebhookEvent, WebhookId};
use cista_core::{Actor, Error};
use cista_types::TimeZoneName;
use serde::Deserialize;

const NEW_SECRET: ShownOnce = ShownOnce {
    cookie: "__Host-cista_webhook",
    purpose: "webhook-secret",
    ttl: time::Duration::minutes(5),
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/{org}/webhooks", get(page).post(create))
        .route("/admin/{org}/webhooks/{id}/remove", post(remove))
        .route(
            "/admin/{org}/webhooks/messages/{delivery}/redeliver",
            post(redeliver),
        )
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    reviewed: Option<String>,
}

struct EndpointRow {
    id: String,
    url: String,
    events: String,
    added: String,
    removed: Option<String>,
}

struct AttemptRow {
    at: String,
    status: String,
    error: String,
    duration_ms: u64,
}

struct MessageRow {
    id: String,
    message_id: String,
    endpoint: String,
    event: &'static str,
    record: String,
    created: String,
    state: &'static str,
    next: String,
    attempts: Vec<AttemptRow>,
    can_resend: bool,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    name: String,
    slug: String,
    endpoints: Vec<EndpointRow>,
    messages: Vec<MessageRow>,
    secret: Option<String>,
    url: String,
    created: bool,
    reviewed: bool,
    errors: Vec<FormError>,
    schedule: String,
}

/// The retry schedule in words: "5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h".
fn schedule() -> String {
    RETRY_DELAYS
        .iter()
        .map(|d| {
            let s = d.whole_seconds();
            if s < 60 {
                format!("{s} s")
            } else if s < 3600 {
                format!("{} min", s / 60)
            } else {
                format!("{} h", s / 3600)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct Kept {
    url: String,
    created: bool,
    reviewed: bool,
    errors: Vec<FormError>,
}

async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    secret: Option<String>,
    kept: Kept,
    status: StatusCode,
) -> Result<Response, AppError> {
    let zone = &org.time_zone;
    let when = |at| TimeZoneName::format_precise(zone, at);
    let hooks = state.cista.webhooks(actor, org.id).await?;
    let live: Vec<WebhookId> = hooks.iter().filter(|w| w.is_live()).map(|w| w.id).collect();
    let url_of = |id: WebhookId| {
        hooks
            .iter()
            .find(|w| w.id == id)
            .map_or_else(String::new, |w| w.url.clone())
    };
    let log = state.cista.webhook_log(actor, org.id, None).await?;
    let messages = log
        .into_iter()
        .map(|(d, attempts)| {
            let record = serde_json::from_str::<serde_json::Value>(&d.payload)
                .ok()
                .and_then(|v| v.pointer("/data/record")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            MessageRow {
                id: d.id.to_string(),
                message_id: d.message_id.clone(),
                endpoint: url_of(d.webhook),
                event: d.event.as_str(),
                record,
                created: when(d.created_at),
                state: d.state(),
                next: if d.state() == "waiting" {
                    when(d.next_attempt_at)
                } else {
                    String::new()
                },
                can_resend: live.contains(&d.webhook),
                attempts: attempts
                    .into_iter()
                    .map(|a| AttemptRow {
                        at: when(a.attempted_at),
                        status: a
                            .status
                            .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
                        error: a.error.unwrap_or_default(),
                        duration_ms: a.duration_ms,
                    })
                    .collect(),
            }
        })
        .collect();
    let endpoints = hooks
        .iter()
        .map(|w| EndpointRow {
            id: w.id.to_string(),
            url: w.url.clone(),
            events: w
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            added: when(w.created_at),
            removed: w.removed_at.map(when),
        })
        .collect();
    render(
        status,
        WebhooksPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            endpoints,
            messages,
            secret,
            url: kept.url,
            created: kept.created,
            reviewed: kept.reviewed,
            errors: kept.errors,
            schedule: schedule(),
        },
    )
}

fn path(org: &Organization) -> String {
    format!("/admin/{}/webhooks", org.slug)
}

/// `GET /admin/{org}/webhooks`.
pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let (secret, had_cookie) = NEW_SECRET.take(&state, &ctx, &headers);
    let kept = Kept {
        url: String::new(),
        created: true,
        reviewed: true,
        errors: Vec::new(),
    };
    let mut response = page_for(&state, &ctx, &actor, &org, secret, kept, StatusCode::OK).await?;
    if had_cookie {
        NEW_SECRET.forget(&mut response);
    }
    Ok(response)
}

/// `POST /admin/{org}/webhooks`: adds an endpoint and shows its secret once.
pub async fn create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<CreateForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let mut events = Vec::new();
    if form.created.is_some() {
        events.push(WebhookEvent::RecordCreated);
    }
    if form.reviewed.is_some() {
        events.push(WebhookEvent::RecordReviewed);
    }
    match state
        .cista
        .create_webhook(&actor, org.id, &form.url, &events)
        .await
    {
        Ok(new) => NEW_SECRET.redirect(&state, &ctx, &path(&org), new.secret.expose().as_bytes()),
        Err(Error::InvalidInput { field, reason }) => {
            let field = if field == "events" { "events" } else { "url" };
            let kept = Kept {
                url: form.url.clone(),
                created: form.created.is_some(),
                reviewed: form.reviewed.is_some(),
                errors: vec![FormError::new(field, sentence(&reason))],
            };
            page_for(
                &state,
                &ctx,
                &actor,
                &org,
                None,
                kept,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A core reason as a sentence for a form's error: capitalized, with a full stop.
pub(crate) fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let first = chars.next().map(|c| c.to_uppercase().to_string());
    format!("{}{}.", first.unwrap_or_default(), chars.as_str())
}

/// `POST /admin/{org}/webhooks/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let id: WebhookId = id.parse().map_err(|_| Error::NotFound {
        what: "that webhook",
    })?;
    state.cista.remove_webhook(&actor, org.id, id).await?;
    Ok(with_notice(
        &state,
        &ctx,
        see_other(&path(&org)),
        "The endpoint is removed: nothing more is sent to it, and its waiting messages are given up. Its log stays below.",
    ))
}

/// `POST /admin/{org}/webhooks/messages/{delivery}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, delivery)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let delivery: i64 = delivery.parse().map_err(|_| Error::NotFound {
        what: "that webhook message",
    })?;
    state
        .cista
        .redeliver_webhook(&actor, org.id, delivery)
        .await?;
    Ok(with_notice(
        &state,
        &ctx,
        see_other(&path(&org)),
        "The message is queued to be sent again within a few seconds, with the same webhook-id.",
    ))
}
