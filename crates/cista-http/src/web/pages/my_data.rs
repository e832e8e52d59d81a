//! Subject access and portability (GDPR Art. 15/20; issue 14, item 6): a signed-in person
//! downloads everything held about them (`/me/data`: JSON for another service, a readable
//! PDF), and staff who may read people download it for a member, to answer a request made
//! another way (`/admin/{org}/people/{subject}/data.json|pdf`). The core gathers and audits.

use super::chrome::{Chrome, render};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::platform::subject_access::SubjectAccessReport;
use cista_core::{Actor, Error};
use cista_types::SubjectCode;

#[derive(Template)]
#[template(path = "me_data.html")]
struct MyDataPage {
    chrome: Chrome,
}

/// `GET /me/data`: what the downloads hold, and the two buttons.
pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { .. }: SignedIn,
) -> Result<Response, AppError> {
    render(
        StatusCode::OK,
        MyDataPage {
            chrome: Chrome::new(&ctx, &state),
        },
    )
}

/// `GET /me/data.json`.
pub async fn my_json(
    State(state): State<AppState>,
    SignedIn { actor, session }: SignedIn,
) -> Result<Response, AppError> {
    json(state.cista.subject_access(&actor, session.subject).await?)
}

/// `GET /me/data.pdf`.
pub async fn my_pdf(
    State(state): State<AppState>,
    SignedIn { actor, session }: SignedIn,
) -> Result<Response, AppError> {
    pdf(state.cista.subject_access(&actor, session.subject).await?).await
}

/// `GET /admin/{org}/people/{subject}/data.json`: for a member of `org`.
pub async fn member_json(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, who)): Path<(String, String)>,
) -> Result<Response, AppError> {
    json(member_report(&state, &actor, &slug, &who).await?)
}

/// `GET /admin/{org}/people/{subject}/data.pdf`.
pub async fn member_pdf(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, who)): Path<(String, String)>,
) -> Result<Response, AppError> {
    pdf(member_report(&state, &actor, &slug, &who).await?).await
}

/// The report of a member of the organization `slug` (404 for anyone else: staff of one
/// organization do not learn who belongs to another).
async fn member_report(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    who: &str,
) -> Result<SubjectAccessReport, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    let not_found = || {
        AppError(Error::NotFound {
            what: "this person",
        })
    };
    let subject = SubjectCode::parse(who).map_err(|_| not_found())?;
    if state
        .cista
        .store()
        .membership(org.id, subject)
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    actor.authorize_in(org.id, cista_core::OrgAction::ViewPeople)?;
    Ok(state.cista.subject_access(actor, subject).await?)
}

fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Personal data: never kept by a shared cache or the browser's.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn json(report: SubjectAccessReport) -> Result<Response, AppError> {
    let body =
        serde_json::to_vec_pretty(&report).map_err(|e| AppError(Error::Internal(e.to_string())))?;
    Ok(download(
        body,
        "application/json",
        &format!("cista-data-{}.json", report.subject),
    ))
}

async fn pdf(report: SubjectAccessReport) -> Result<Response, AppError> {
    let name = format!("cista-data-{}.pdf", report.subject);
    // Drawing takes tens of milliseconds of CPU: off the async workers.
    let body = tokio::task::spawn_blocking(move || cista_report::subject_access_pdf(&report))
        .await
        .map_err(|e| AppError(Error::Internal(format!("the report task failed: {e}"))))?
        .map_err(|e| {
            AppError(crate::error::document_failure(
                e,
                "this report",
                ". The same data is in the JSON download",
            ))
        })?;
    Ok(download(body, "application/pdf", &name))
}
