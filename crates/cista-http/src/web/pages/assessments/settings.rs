//! `/admin/{org}/assessments/{form}/settings`: who of the firm's staff is told of each new
//! result, whether that email links to the report (the default: it stays behind a sign-in)
//! or attaches it as a PDF, and how long de-identified results are kept (empty: indefinitely).
//! Listing the staff reads their names from the vault, which the core records.

use super::form_path;
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::products::assessment::{AssessmentSettings, MAX_RETENTION_DAYS};
use cista_core::{Actor, Error};
use cista_types::SubjectCode;

struct Choice {
    subject: String,
    label: String,
    chosen: bool,
}

#[derive(Template)]
#[template(path = "admin/assessment_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    name: String,
    slug: String,
    key: String,
    title: String,
    choices: Vec<Choice>,
    attach_report: bool,
    retention_days: String,
    max_retention_days: u32,
    errors: Vec<FormError>,
}

/// The form as sent: repeated `notify` boxes, `delivery` (`link` or `attach`), and
/// `retention_days` (empty: indefinitely).
#[derive(Debug, Default)]
pub struct SettingsForm {
    notify: Vec<String>,
    delivery: String,
    retention_days: String,
}

impl<'de> serde::Deserialize<'de> for SettingsForm {
    /// Read as pairs, so that `notify` may repeat (one box per person).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<(String, String)> = serde::Deserialize::deserialize(d)?;
        let mut form = SettingsForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "notify" => form.notify.push(value),
                "delivery" => form.delivery = value,
                "retention_days" => form.retention_days = value,
                _ => {}
            }
        }
        Ok(form)
    }
}

#[allow(clippy::too_many_arguments)]
async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    (slug, key): (&str, &str),
    shown: Option<(&AssessmentSettings, String)>,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    let newest = state.cista.latest_assessment(actor, org.id, key).await?;
    let stored = state.cista.assessment_settings(actor, org.id, key).await?;
    let (settings, retention_days) = match shown {
        Some((settings, typed)) => (settings.clone(), typed),
        None => (
            stored.clone(),
            stored
                .retention_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
    };
    let choices = state
        .cista
        .notify_choices(actor, org.id, key)
        .await?
        .into_iter()
        .map(|c| Choice {
            subject: c.subject.to_string(),
            label: format!(
                "{} ({})",
                c.name
                    .unwrap_or_else(|| format!("erased person {}", c.subject)),
                c.role.label()
            ),
            chosen: settings.notify.contains(&c.subject),
        })
        .collect();
    render(
        status,
        SettingsPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            key: key.to_owned(),
            title: newest.assessment.definition.title.clone(),
            choices,
            attach_report: settings.attach_report,
            retention_days,
            max_retention_days: MAX_RETENTION_DAYS,
            errors,
        },
    )
}

/// `GET /admin/{org}/assessments/{form}/settings`.
pub async fn settings(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    page_for(
        &state,
        &ctx,
        &actor,
        (&slug, &key),
        None,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/{org}/assessments/{form}/settings`.
pub async fn settings_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let mut errors = Vec::new();
    let notify: Vec<SubjectCode> = form
        .notify
        .iter()
        .filter_map(|raw| {
            SubjectCode::parse(raw)
                .map_err(|_| errors.push(FormError::new("notify", "Choose people from the list.")))
                .ok()
        })
        .collect();
    let attach_report = match form.delivery.as_str() {
        "attach" => true,
        "link" | "" => false,
        _ => {
            errors.push(FormError::new(
                "delivery",
                "Choose a link to the report or the report attached.",
            ));
            false
        }
    };
    let typed = form.retention_days.trim().to_owned();
    let retention_days = if typed.is_empty() {
        None
    } else {
        match typed.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => {
                errors.push(FormError::new(
                    "retention_days",
                    format!(
                        "Write a number of days from 1 to {MAX_RETENTION_DAYS}, or leave it \
                         empty to keep results indefinitely."
                    ),
                ));
                None
            }
        }
    };
    let settings = AssessmentSettings {
        notify,
        attach_report,
        retention_days,
    };
    if errors.is_empty() {
        match state
            .cista
            .change_assessment_settings(&actor, org.id, &key, settings.clone())
            .await
        {
            Ok(()) => {
                let response = see_other(&form_path(&slug, &key));
                return Ok(with_notice(
                    &state,
                    &ctx,
                    response,
                    "The settings are saved. They apply to every version of this assessment.",
                ));
            }
            Err(Error::InvalidInput { field, reason }) => {
                let field = if field == "notify" {
                    "notify"
                } else {
                    "retention_days"
                };
                let mut chars = reason.chars();
                let sentence = match chars.next() {
                    Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                    None => reason,
                };
                errors.push(FormError::new(field, sentence));
            }
            Err(e) => return Err(e.into()),
        }
    }
    page_for(
        &state,
        &ctx,
        &actor,
        (&slug, &key),
        Some((&settings, typed)),
        errors,
        StatusCode::BAD_REQUEST,
    )
    .await
}
