//! The advisor portal's results page, `/admin/{org}/assessments/{form}`: every result of the
//! form, de-identified (the client's subject code, the band, the scores); "Show who" reveals
//! one client's name and email on this response only, after a reason is given, and the core
//! records the read in the audit log; "Erase" destroys a client's name and email for good
//! (the result stays, de-identified); `results.csv` downloads the de-identified results
//! (formula-safe cells, audited).

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use cista_core::products::assessment::{AssessmentAction, Client};
use cista_core::{Actor, Error};
use cista_types::{SubmissionId, TimeZoneName};
use serde::Deserialize;

struct Row {
    id: String,
    received: String,
    version: u32,
    band: String,
    scores: Vec<String>,
    subject: String,
    erased: bool,
}

/// A client shown on this response only.
struct Revealed {
    result: String,
    subject: String,
    /// Name and email, or that they were erased and when.
    who: String,
}

#[derive(Template)]
#[template(path = "admin/assessment_results.html")]
struct ResultsPage {
    chrome: Chrome,
    name: String,
    slug: String,
    key: String,
    title: String,
    version: u32,
    score_labels: Vec<String>,
    rows: Vec<Row>,
    revealed: Option<Revealed>,
    can_reveal: bool,
    can_purge: bool,
    errors: Vec<FormError>,
}

#[derive(Debug, Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    purpose: String,
}

#[derive(Debug, Deserialize)]
pub struct PurgeForm {
    #[serde(default)]
    confirm: String,
}

fn result_id(raw: &str) -> Result<SubmissionId, AppError> {
    raw.parse::<i64>().map(SubmissionId::from_i64).map_err(|_| {
        AppError(Error::NotFound {
            what: "that result",
        })
    })
}

async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    (slug, key): (&str, &str),
    revealed: Option<Revealed>,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    let (newest, results) = state.cista.assessment_results(actor, org.id, key).await?;
    let zone: &TimeZoneName = &org.time_zone;
    let score_labels = newest.assessment.definition.score_labels();
    let rows = results
        .into_iter()
        .map(|r| Row {
            id: r.submission.to_string(),
            received: zone.format(r.received_at),
            version: r.form_version,
            scores: r.score_cells(&score_labels),
            band: r.band,
            subject: r.subject.to_string(),
            erased: r.client_erased,
        })
        .collect();
    render(
        status,
        ResultsPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            key: key.to_owned(),
            title: newest.assessment.definition.title.clone(),
            version: newest.form.version,
            score_labels,
            rows,
            revealed,
            can_reveal: actor.may_in(org.id, AssessmentAction::RevealClient),
            can_purge: actor.may_in(org.id, AssessmentAction::PurgeClient),
            errors,
        },
    )
}

/// `GET /admin/{org}/assessments/{form}`.
pub async fn results(
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

/// `GET /admin/{org}/assessments/{form}/results.csv`.
pub async fn results_csv(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let csv = state
        .cista
        .assessment_results_csv(&actor, org.id, &key)
        .await?;
    let disposition = format!("attachment; filename=\"{}-{key}-results.csv\"", org.slug);
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `POST /admin/{org}/assessments/{form}/results/{id}/reveal`: shows who, on this answer only.
pub async fn reveal(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key, id)): Path<(String, String, String)>,
    Form(form): Form<RevealForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let result = result_id(&id)?;
    let shown = state
        .cista
        .reveal_client(&actor, org.id, result, &form.purpose)
        .await;
    let (subject, client) = match shown {
        Ok(shown) => shown,
        Err(Error::InvalidInput { reason, .. }) => {
            let error = FormError::new("purpose", format!("To see who this is, {reason}."));
            let status = StatusCode::BAD_REQUEST;
            return page_for(
                &state,
                &ctx,
                &actor,
                (&slug, &key),
                None,
                vec![error],
                status,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let who = match client {
        Client::Known(fields) => format!(
            "{} {}{}",
            fields.first_name.as_str(),
            fields.last_name.as_str(),
            fields
                .email
                .map(|e| format!(", {}", e.as_str()))
                .unwrap_or_default()
        ),
        Client::Erased(at) => format!("erased on {}", org.time_zone.format(at)),
    };
    let revealed = Revealed {
        result: id,
        subject: subject.to_string(),
        who,
    };
    page_for(
        &state,
        &ctx,
        &actor,
        (&slug, &key),
        Some(revealed),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/{org}/assessments/{form}/results/{id}/purge`.
pub async fn purge(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key, id)): Path<(String, String, String)>,
    Form(form): Form<PurgeForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let result = result_id(&id)?;
    if form.confirm != "yes" {
        let error = FormError::new(
            "confirm",
            "Tick the box to confirm: erasing a client's name and email cannot be undone.",
        );
        let status = StatusCode::BAD_REQUEST;
        return page_for(
            &state,
            &ctx,
            &actor,
            (&slug, &key),
            None,
            vec![error],
            status,
        )
        .await;
    }
    let subject = state.cista.purge_client(&actor, org.id, result).await?;
    let response = see_other(&format!("/admin/{}/assessments/{key}", org.slug));
    Ok(with_notice(
        &state,
        &ctx,
        response,
        &format!(
            "The name and email of client {subject} are erased for good, backups included; \
             the result stays, de-identified."
        ),
    ))
}
