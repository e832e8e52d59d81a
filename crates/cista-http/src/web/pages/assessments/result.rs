//! `/admin/{org}/assessments/{form}/results/{id}`: one result in full, de-identified — the
//! band with its texts, every score, every answer, the hashes that identify it — with its
//! actions: "Show who" reveals the client's name and email on this response only, after a
//! reason is given (the core records the read); `report.pdf` is the advisor's report, which
//! names the client (an audited read too); "Erase" destroys the client's name and email for
//! good (the result stays, de-identified).

use super::{form_path, result_id};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use cista_core::ports::Organization;
use cista_core::products::assessment::{AssessmentAction, Client, ResultDetail};
use cista_core::{Actor, Error};
use cista_types::OrgId;
use serde::Deserialize;

/// A client shown on this response only: name and email, or that they were erased and when.
struct Revealed {
    who: String,
}

#[derive(Template)]
#[template(path = "admin/assessment_result.html")]
struct ResultPage {
    chrome: Chrome,
    name: String,
    slug: String,
    key: String,
    id: String,
    received: String,
    erased: Option<String>,
    detail: ResultDetail,
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

/// Result `id` of `org` as reached through form `key`'s pages: `not_found` when it belongs to
/// another form. Checked before an action records a read of the client or erases them, so a
/// path that names the wrong form changes nothing and leaves no trace.
async fn result_in_form(
    state: &AppState,
    actor: &Actor,
    org: OrgId,
    key: &str,
    id: &str,
) -> Result<ResultDetail, AppError> {
    let detail = state
        .cista
        .assessment_result(actor, org, result_id(id)?)
        .await?;
    if detail.form_key != key {
        return Err(AppError(Error::NotFound {
            what: "that result",
        }));
    }
    Ok(detail)
}

/// The result's page, from the organization and the result already read (`result_in_form`).
async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    (org, detail): (&Organization, ResultDetail),
    revealed: Option<Revealed>,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let erased = detail.client_erased_at.map(|at| org.time_zone.format(at));
    render(
        status,
        ResultPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            key: detail.form_key.clone(),
            id: detail.submission.as_i64().to_string(),
            received: org.time_zone.format_precise(detail.received_at),
            erased,
            detail,
            revealed,
            can_reveal: actor.may_in(org.id, AssessmentAction::RevealClient),
            can_purge: actor.may_in(org.id, AssessmentAction::PurgeClient),
            errors,
        },
    )
}

/// `GET /admin/{org}/assessments/{form}/results/{id}`.
pub async fn result(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key, id)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let detail = result_in_form(&state, &actor, org.id, &key, &id).await?;
    let page = (&org, detail);
    page_for(&state, &ctx, &actor, page, None, Vec::new(), StatusCode::OK).await
}

/// `GET /admin/{org}/assessments/{form}/results/{id}/report.pdf`: the advisor's report, which
/// names the client; the core records the read.
pub async fn report_pdf(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key, id)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    result_in_form(&state, &actor, org.id, &key, &id).await?;
    let report = state
        .cista
        .assessment_report(&actor, org.id, result_id(&id)?)
        .await?;
    let file_name = report.file_name();
    // Drawing takes tens of milliseconds of CPU: off the async workers.
    let pdf = tokio::task::spawn_blocking(move || cista_report::assessment_report_pdf(&report))
        .await
        .map_err(|e| AppError(Error::Internal(format!("the report task failed: {e}"))))?
        .map_err(|e| AppError(crate::error::document_failure(e, "this report", "")))?;
    let mut response = pdf.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    // It names the client: never kept by a shared cache or the browser's.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
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
    let detail = result_in_form(&state, &actor, org.id, &key, &id).await?;
    let shown = state
        .cista
        .reveal_client(&actor, org.id, detail.submission, &form.purpose)
        .await;
    let (_, client) = match shown {
        Ok(shown) => shown,
        Err(Error::InvalidInput { reason, .. }) => {
            let error = FormError::new("purpose", format!("To see who this is, {reason}."));
            let (page, status) = ((&org, detail), StatusCode::BAD_REQUEST);
            return page_for(&state, &ctx, &actor, page, None, vec![error], status).await;
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
    let (page, revealed) = ((&org, detail), Some(Revealed { who }));
    page_for(
        &state,
        &ctx,
        &actor,
        page,
        revealed,
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
    let detail = result_in_form(&state, &actor, org.id, &key, &id).await?;
    if form.confirm != "yes" {
        let error = FormError::new(
            "confirm",
            "Tick the box to confirm: erasing a client's name and email cannot be undone.",
        );
        let (page, status) = ((&org, detail), StatusCode::BAD_REQUEST);
        return page_for(&state, &ctx, &actor, page, None, vec![error], status).await;
    }
    let result = detail.submission;
    let subject = state.cista.purge_client(&actor, org.id, result).await?;
    // The form's key and the result's id as stored, never as the path spelled them.
    let to = format!(
        "{}/results/{}",
        form_path(org.slug.as_str(), &detail.form_key),
        result.as_i64()
    );
    let response = see_other(&to);
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
