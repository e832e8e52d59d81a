//! Staff pages for ballots: the list, the builder (settings, contests, preview, publication),
//! the live page of a published ballot (turnout and quorum, never a count per choice before
//! the close, FL-09), paper ballot entry, reminders, cancel and reissue, the results of a
//! closed ballot and the official record's CSV files. Inspectors read all of it and see no
//! forms; the core checks every call again.

mod certificate;
mod edit;
mod form;
mod ledger;
mod paper;
mod record;
mod show;
mod view;

use crate::AppState;
use crate::error::AppError;
use axum::Router;
use axum::routing::{get, post};
use cista_core::ports::Organization;
use cista_core::products::voting::Ballot;
use cista_core::{Actor, Error};
use cista_types::BallotId;

pub fn routes() -> Router<AppState> {
    Router::new()
        // The organization's settings (its time zone, which ballot windows are set in).
        .route("/admin/{org}/settings", post(super::admin::settings_submit))
        .route("/admin/{org}/ballots", get(show::list))
        .route(
            "/admin/{org}/ballots/new",
            get(edit::new_page).post(edit::new_submit),
        )
        .route("/admin/{org}/ballots/{id}", get(show::ballot))
        .route("/admin/{org}/ballots/{id}/preview", get(show::preview))
        .route("/admin/{org}/ballots/{id}/settings", post(edit::settings))
        .route(
            "/admin/{org}/ballots/{id}/contests",
            post(edit::add_contest),
        )
        .route(
            "/admin/{org}/ballots/{id}/contests/{contest}",
            post(edit::change_contest),
        )
        .route("/admin/{org}/ballots/{id}/publish", post(edit::publish))
        .route("/admin/{org}/ballots/{id}/cancel", post(edit::cancel))
        .route("/admin/{org}/ballots/{id}/reissue", post(edit::reissue))
        .route(
            "/admin/{org}/ballots/{id}/remind",
            get(edit::remind_page).post(edit::remind),
        )
        .route("/admin/{org}/ballots/{id}/close", post(edit::close))
        .route(
            "/admin/{org}/ballots/{id}/paper",
            get(paper::page).post(paper::submit),
        )
        .route(
            "/admin/{org}/ballots/{id}/paper/check-in",
            post(paper::check_in),
        )
        .route(
            "/admin/{org}/ballots/{id}/paper/batches",
            post(paper::open_batch),
        )
        .route(
            "/admin/{org}/ballots/{id}/paper/batches/{batch}",
            get(paper::batch_page).post(paper::enter_inner),
        )
        .route(
            "/admin/{org}/ballots/{id}/results.pdf",
            get(certificate::download),
        )
        .route(
            "/admin/{org}/ballots/{id}/record/{file}",
            get(record::download),
        )
}

/// One problem on a page, linked from the error summary to the field it is about (the same
/// shape `form_errors.html` shows, with ids made per form).
#[derive(Debug, Clone)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A core error as a sentence a person can act on.
    pub fn from_error(field: impl Into<String>, error: &Error) -> Self {
        Self::new(
            field,
            super::chrome::FormError::from_error("", error).message,
        )
    }
}

/// A ballot id from the URL; anything else is "not found".
fn ballot_id(raw: &str) -> Result<BallotId, AppError> {
    raw.parse::<i64>().map(BallotId::from_i64).map_err(|_| {
        AppError(Error::NotFound {
            what: "this ballot",
        })
    })
}

/// The organization in the URL and one of its ballots, for someone who may see its ballots.
async fn org_and_ballot(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    id: &str,
) -> Result<(Organization, Ballot), AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    let ballot = state.cista.ballot(actor, org.id, ballot_id(id)?).await?;
    Ok((org, ballot))
}

/// The ballot's page.
fn ballot_path(org: &Organization, ballot: BallotId) -> String {
    format!("/admin/{}/ballots/{ballot}", org.slug)
}
