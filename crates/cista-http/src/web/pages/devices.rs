//! A collector's phones (`/admin/{org}/people/{subject}/devices`), for staff who manage
//! devices and for the collector themself: the phones signed in with Cista Collect (state,
//! expiry, last use, number of calls), revoking one or all, and **Show a sign-in QR code**,
//! which issues a device and shows its one-time pairing link as a QR code for the phone's
//! camera. The code is shown once: the form's redirect carries it sealed to this session in a
//! short-lived cookie (Post/Redirect/Get, as new app tokens are shown).

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
use cista_core::products::collection::devices::{DEFAULT_DEVICE_DAYS, DeviceRequest};
use cista_core::products::collection::{DeviceId, DeviceState};
use cista_core::{Actor, Error, OrgAction};
use cista_types::{SubjectCode, TimeZoneName};
use serde::Deserialize;

const NEW_CODE: ShownOnce = ShownOnce {
    cookie: "__Host-cista_pairing",
    purpose: "device-pairing",
    ttl: time::Duration::minutes(5),
};

/// The phones pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/{org}/people/{subject}/devices",
            get(page).post(issue),
        )
        .route(
            "/admin/{org}/people/{subject}/devices/{device}/revoke",
            post(revoke),
        )
        .route(
            "/admin/{org}/people/{subject}/devices/revoke-all",
            post(revoke_all),
        )
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    days: String,
}

struct Row {
    id: String,
    name: String,
    state: &'static str,
    live: bool,
    /// Issued, not paired yet: its code can still be cancelled.
    pending: bool,
    expires: String,
    last_used: String,
    uses: u64,
}

/// The pairing just issued: the link, its QR code, until when it works.
struct Pairing {
    link: String,
    qr: String,
    until: String,
}

#[derive(Template)]
#[template(path = "admin/devices.html")]
struct DevicesPage {
    chrome: Chrome,
    name: String,
    slug: String,
    subject: String,
    /// "Your phones" or "Phones of Ana Lima".
    heading: String,
    devices: Vec<Row>,
    any_live: bool,
    pairing: Option<Pairing>,
    days: String,
    errors: Vec<FormError>,
}

fn parse_subject(raw: &str) -> Result<SubjectCode, AppError> {
    SubjectCode::parse(raw).map_err(|_| {
        AppError(Error::NotFound {
            what: "this person",
        })
    })
}

/// "Your phones", or the person's name for staff who may read it (an audited read).
async fn heading(
    state: &AppState,
    actor: &Actor,
    org: &Organization,
    subject: SubjectCode,
) -> Result<String, AppError> {
    if actor.person().is_some_and(|p| p.subject == subject) {
        return Ok("Your phones".to_owned());
    }
    if !actor.may_in(org.id, OrgAction::ViewPeople) {
        return Ok(format!("Phones of {subject}"));
    }
    let read = state
        .cista
        .read_people(actor, org.id, &[subject], "collector's phones page")
        .await?;
    Ok(match read.into_iter().next().and_then(|(_, f)| f) {
        Some(fields) => format!("Phones of {} {}", fields.first_name, fields.last_name),
        None => format!("Phones of {subject} (erased)"),
    })
}

#[allow(clippy::too_many_arguments)]
async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    subject: SubjectCode,
    pairing: Option<Pairing>,
    (days, errors): (String, Vec<FormError>),
    status: StatusCode,
) -> Result<Response, AppError> {
    let devices = state.cista.devices(actor, org.id, Some(subject)).await?;
    let now = state.cista.clock().now();
    let zone = &org.time_zone;
    let when = |at| TimeZoneName::format_precise(zone, at);
    let rows: Vec<Row> = devices
        .into_iter()
        .map(|d| {
            let state = d.state(now);
            Row {
                id: d.id.to_string(),
                name: if d.name.is_empty() {
                    "(not paired yet)".to_owned()
                } else {
                    d.name.clone()
                },
                state: state.as_str(),
                live: matches!(state, DeviceState::Active | DeviceState::Pending),
                pending: state == DeviceState::Pending,
                expires: d.expires_at.map_or_else(
                    || format!("code until {}", when(d.pairing_expires_at)),
                    when,
                ),
                last_used: d.last_used_at.map_or_else(|| "never".to_owned(), when),
                uses: d.use_count,
            }
        })
        .collect();
    render(
        status,
        DevicesPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            subject: subject.to_string(),
            heading: heading(state, actor, org, subject).await?,
            any_live: rows.iter().any(|r| r.live),
            devices: rows,
            pairing,
            days,
            errors,
        },
    )
}

fn path(org: &Organization, subject: SubjectCode) -> String {
    format!("/admin/{}/people/{subject}/devices", org.slug)
}

/// `GET /admin/{org}/people/{subject}/devices`.
pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, subject)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let subject = parse_subject(&subject)?;
    let (shown, had_cookie) = NEW_CODE.take(&state, &ctx, &headers);
    let pairing = shown.and_then(|text| {
        let (code, until) = text.split_once('\n')?;
        let link = format!("{}/collect/#pair={code}", state.public_origin);
        let qr = super::auth::mfa::qr_data_uri(&link).ok()?;
        Some(Pairing {
            link,
            qr,
            until: until.to_owned(),
        })
    });
    let form = (DEFAULT_DEVICE_DAYS.to_string(), Vec::new());
    let mut response = page_for(
        &state,
        &ctx,
        &actor,
        &org,
        subject,
        pairing,
        form,
        StatusCode::OK,
    )
    .await?;
    if had_cookie {
        NEW_CODE.forget(&mut response);
    }
    Ok(response)
}

/// `POST /admin/{org}/people/{subject}/devices`: issues a device and shows its QR code.
pub async fn issue(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, subject)): Path<(String, String)>,
    Form(form): Form<IssueForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let subject = parse_subject(&subject)?;
    let refuse = async |message: String| {
        let kept = (form.days.clone(), vec![FormError::new("days", message)]);
        page_for(
            &state,
            &ctx,
            &actor,
            &org,
            subject,
            None,
            kept,
            StatusCode::BAD_REQUEST,
        )
        .await
    };
    let Ok(lifetime_days) = form.days.trim().parse::<u32>() else {
        return refuse("Give the number of days, 1 to 365.".to_owned()).await;
    };
    let request = DeviceRequest {
        lifetime_days,
        ..DeviceRequest::for_collector(subject)
    };
    let issued = match state.cista.issue_device(&actor, org.id, &request).await {
        Ok(issued) => issued,
        Err(Error::InvalidInput { reason, .. }) => {
            return refuse(super::webhooks::sentence(&reason)).await;
        }
        Err(e) => return Err(e.into()),
    };
    let until = TimeZoneName::format_precise(&org.time_zone, issued.device.pairing_expires_at);
    NEW_CODE.redirect(
        &state,
        &ctx,
        &path(&org, subject),
        format!("{}\n{until}", issued.code.expose()).as_bytes(),
    )
}

/// `POST /admin/{org}/people/{subject}/devices/{device}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, subject, device)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let subject = parse_subject(&subject)?;
    let id: DeviceId = device.parse().map_err(|_| Error::NotFound {
        what: "that device",
    })?;
    state
        .cista
        .revoke_device(&actor, org.id, subject, id)
        .await?;
    Ok(with_notice(
        &state,
        &ctx,
        see_other(&path(&org, subject)),
        "The phone is signed out: its next call is refused. Records it saved but has not sent stay on it until it is signed in again.",
    ))
}

/// `POST /admin/{org}/people/{subject}/devices/revoke-all`.
pub async fn revoke_all(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, subject)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let subject = parse_subject(&subject)?;
    let revoked = state
        .cista
        .revoke_devices_of(&actor, org.id, subject)
        .await?;
    let notice = match revoked {
        0 => "No phone was signed in.".to_owned(),
        1 => "1 phone is signed out.".to_owned(),
        n => format!("{n} phones are signed out."),
    };
    Ok(with_notice(
        &state,
        &ctx,
        see_other(&path(&org, subject)),
        &notice,
    ))
}
