//! The certified results of a closed ballot as a PDF (issue 4 item 8): laid out by
//! `cista-report` from the sealed results, for staff and inspectors. The core audits every
//! download as an export of the official record.

use super::ballot_id;
use crate::AppState;
use crate::context::RequestContext;
use crate::error::AppError;
use crate::pages::chrome::{person_or_redirect, see_other};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::Error;
use cista_report::{ResultsDocument, certified_results_pdf};

pub async fn download(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, _) = match person_or_redirect(&ctx) {
        Ok(found) => found,
        Err(to) => return Ok(see_other(&to)),
    };
    let cista = &state.cista;
    let org = cista.organization_for(&actor, &slug).await?;
    let ballot = ballot_id(&id)?;
    // One read of the ballot: the core checks it belongs to the organization.
    let certificate = cista
        .results_for_certificate(&actor, org.id, ballot)
        .await?;
    let bulletin_url = format!("{}/e/{ballot}/bulletin", state.public_origin);
    let generated_at = cista.clock().now();
    // Typst takes tens of milliseconds of CPU to lay a page out: off the async workers.
    let laid_out = tokio::task::spawn_blocking(move || {
        certified_results_pdf(&ResultsDocument {
            organization: &certificate.organization,
            ballot: &certificate.ballot,
            results: &certificate.results,
            verifier_key_id: &certificate.verifier_key_id,
            verifier_key: &certificate.verifier_key,
            bulletin_url: &bulletin_url,
            generated_at,
        })
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let pdf = laid_out.map_err(|e| {
        tracing::error!(error = %e, "certified results PDF could not be produced");
        AppError(Error::Internal(e))
    })?;
    let mut response = (StatusCode::OK, pdf).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let disposition =
        format!("attachment; filename=\"cista-ballot-{ballot}-certified-results.pdf\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
