//! The certified results of a closed ballot as a PDF (issue 4 item 8): laid out by
//! `cista-report` from the sealed results, for staff and inspectors. The core audits every
//! download as an export of the official record.

use super::ballot_id;
use crate::AppState;
use crate::error::AppError;
use crate::web::extract::SignedIn;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::Error;
use cista_report::{ReportError, ResultsDocument, certified_results_pdf};

pub async fn download(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let cista = &state.cista;
    let org = cista.organization_for(&actor, &slug).await?;
    let ballot = ballot_id(&id)?;
    // One read of the ballot: the core checks it belongs to the organization.
    let certificate = cista
        .results_for_certificate(&actor, org.id, ballot)
        .await?;
    let bulletin_url = format!("{}/e/{ballot}/bulletin", state.public_origin);
    let generated_at = cista.clock().now();
    // Laying out and writing a certificate takes milliseconds of CPU: off the async workers.
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
    })
    .await;
    let pdf = match laid_out {
        Ok(Ok(pdf)) => pdf,
        Ok(Err(e)) => return Err(AppError(report_failure(e))),
        Err(e) => {
            return Err(AppError(Error::Internal(format!(
                "the certificate's layout task failed: {e}"
            ))));
        }
    };
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

/// What a failed certificate tells its reader (`document_failure`), with where the results
/// are to be read meanwhile.
fn report_failure(e: ReportError) -> Error {
    crate::error::document_failure(
        e,
        "the certified results",
        ". The results themselves are in the official record and on the public bulletin",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_core::ErrorClass;

    #[test]
    fn a_name_no_font_prints_is_a_clear_conflict_and_layout_bugs_stay_internal() {
        let unprintable = report_failure(ReportError::Unprintable {
            what: "candidate name",
            text: "Bo \u{E000}".to_owned(),
            reason: cista_types::glyphs::Unprintable {
                character: '\u{E000}',
            },
        });
        assert_eq!(unprintable.class(), ErrorClass::Conflict);
        let shown = unprintable.public_message();
        assert!(
            shown.contains("candidate name “Bo \u{E000}”") && shown.contains("U+E000"),
            "{shown}"
        );
        let inconsistent = report_failure(ReportError::Inconsistent("the tree".to_owned()));
        assert_eq!(inconsistent.code(), "integrity_failed");
        let layout = report_failure(ReportError::Layout("parley said no".to_owned()));
        assert_eq!(layout.class(), ErrorClass::Internal);
        assert!(!layout.public_message().contains("parley"));
    }
}
