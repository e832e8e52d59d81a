//! The advisor portal, `/admin/{org}/assessments/…`: building and publishing an assessment
//! (`edit`); the results of a form,
//! de-identified and filtered (`list`); one result in full with "Show who", the report as PDF
//! and "Erase" (`result`); and the form's settings — who is told of new results, whether the
//! email links to the report or attaches it, how long results are kept (`settings`).

pub mod edit;
pub mod list;
pub mod result;
pub mod settings;

use crate::AppState;
use crate::error::AppError;
use axum::Router;
use axum::routing::{get, post};
use cista_core::Error;
use cista_types::SubmissionId;

pub use edit::{edit, edit_submit, list, new, new_submit};
pub use list::{results, results_csv};
pub use result::{purge, report_pdf, result, reveal};
pub use settings::{settings, settings_submit};

/// The advisor portal's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/{org}/assessments", get(list))
        .route("/admin/{org}/assessments/new", get(new).post(new_submit))
        .route(
            "/admin/{org}/assessments/{form}/edit",
            get(edit).post(edit_submit),
        )
        .route("/admin/{org}/assessments/{form}", get(results))
        .route(
            "/admin/{org}/assessments/{form}/results.csv",
            get(results_csv),
        )
        .route(
            "/admin/{org}/assessments/{form}/settings",
            get(settings).post(settings_submit),
        )
        .route("/admin/{org}/assessments/{form}/results/{id}", get(result))
        .route(
            "/admin/{org}/assessments/{form}/results/{id}/report.pdf",
            get(report_pdf),
        )
        .route(
            "/admin/{org}/assessments/{form}/results/{id}/reveal",
            post(reveal),
        )
        .route(
            "/admin/{org}/assessments/{form}/results/{id}/purge",
            post(purge),
        )
}

/// A result's id from its path segment; anything else is a result that does not exist.
fn result_id(raw: &str) -> Result<SubmissionId, AppError> {
    raw.parse::<i64>().map(SubmissionId::from_i64).map_err(|_| {
        AppError(Error::NotFound {
            what: "that result",
        })
    })
}

/// The path of a form's pages.
fn form_path(slug: &str, key: &str) -> String {
    format!("/admin/{slug}/assessments/{key}")
}
