//! The public bulletin of a closed ballot: trackers with their choices, the signed checkpoint,
//! a tracker lookup with its inclusion proof, and the bundle anyone can recount from. No
//! sign-in; before the close it says when the bulletin will appear and shows no counts (FL-09).

use super::chrome::{Chrome, render};
use super::vote::ballot_id;
use super::vote::results::ResultsView;
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use cista_core::Error;
use cista_core::ports::BallotStatus;
use cista_core::products::voting::VotingError;
use cista_core::products::voting::bundle::{Bundle, find_tracker};
use cista_core::products::voting::close::definition_of;
use cista_core::products::voting::definition::BallotDefinition;
use cista_types::{BallotId, Tracker};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/e/{ballot}/bulletin", get(bulletin))
        .route("/e/{ballot}/bundle.json", get(bundle_json))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupQuery {
    tracker: Option<String>,
}

/// A ballot that has no bulletin yet: why, and when it will have one.
#[derive(Template)]
#[template(path = "bulletin/pending.html")]
struct PendingPage {
    chrome: Chrome,
    title: String,
    message: String,
}

struct BallotRow {
    tracker: String,
    weight: String,
    choices: Vec<String>,
    found: bool,
}

/// The answer to a tracker lookup.
struct Lookup {
    tracker: String,
    found: bool,
    message: String,
}

#[derive(Template)]
#[template(path = "bulletin/closed.html")]
struct ClosedPage {
    chrome: Chrome,
    id: String,
    title: String,
    organization: String,
    results: ResultsView,
    checkpoint: String,
    verifier_key: String,
    definition_sha256: String,
    ballot_list_sha256: String,
    root_sha256: String,
    rows: Vec<BallotRow>,
    query: String,
    lookup: Option<Lookup>,
}

/// Looks a tracker up on the bulletin; a malformed one is explained, not an error page.
fn lookup(bundle: &Bundle, raw: &str) -> (StatusCode, Option<Tracker>, Lookup) {
    let tracker = match Tracker::parse(raw) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("That is not a tracker: it {}.", e.message);
            return (
                StatusCode::BAD_REQUEST,
                None,
                Lookup {
                    tracker: String::new(),
                    found: false,
                    message,
                },
            );
        }
    };
    let total = bundle.ballots.len();
    let hit = find_tracker(bundle, tracker);
    let found = matches!(hit, Some((_, _, true)));
    let message = match hit {
        Some((index, _, true)) => format!(
            "Found: position {} of {total}; its inclusion proof verifies against the signed \
             checkpoint. Your ballot was counted as published below.",
            index + 1
        ),
        Some((index, _, false)) => format!(
            "Found at position {} of {total}, but its inclusion proof does NOT verify against \
             the signed checkpoint. Report this to the association and keep your receipt.",
            index + 1
        ),
        None => format!(
            "Tracker {tracker} is not on this ballot's list. Check it against your receipt; \
             if it is right, report this to the association and keep your receipt."
        ),
    };
    (
        StatusCode::OK,
        Some(tracker),
        Lookup {
            tracker: tracker.to_string(),
            found,
            message,
        },
    )
}

fn rows(bundle: &Bundle, definition: &BallotDefinition, found: Option<Tracker>) -> Vec<BallotRow> {
    bundle
        .ballots
        .iter()
        .map(|b| BallotRow {
            tracker: b.tracker.to_string(),
            weight: b.weight.to_string(),
            choices: b
                .choices
                .describe(definition)
                .into_iter()
                .map(|(contest, chosen)| format!("{contest}: {}", chosen.join(", ")))
                .collect(),
            found: Some(b.tracker) == found,
        })
        .collect()
}

/// A ballot as the bulletin sees it: published, or not yet (and why).
enum Published {
    Bundle(Box<Bundle>),
    Pending { title: String, message: String },
}

async fn published(state: &AppState, id: BallotId) -> Result<Published, AppError> {
    match state.cista.election_bundle(id).await {
        Ok(bundle) => Ok(Published::Bundle(Box::new(bundle))),
        Err(Error::Voting(VotingError::ResultsSealed(_))) => {
            // Sealed: say when the bulletin appears, from the published definition.
            let stored = state
                .cista
                .store()
                .voting()
                .ballot(id)
                .await?
                .ok_or(Error::NotFound {
                    what: "this ballot",
                })?;
            let d = BallotDefinition::from_json(&stored.definition)?;
            let closes = d.time_zone.format(d.closes_at);
            let now = state.cista.clock().now();
            let message = match stored.status {
                BallotStatus::Cancelled => {
                    "This ballot was cancelled: it has no results and no bulletin.".to_owned()
                }
                _ if now >= d.closes_at => format!(
                    "Voting closed on {closes}. The bulletin appears here as soon as the count \
                     is sealed, within a few minutes."
                ),
                _ => format!(
                    "The bulletin is published when voting closes on {closes}. Until then no \
                     one, staff included, can see any count."
                ),
            };
            Ok(Published::Pending {
                title: d.title,
                message,
            })
        }
        Err(e) => Err(AppError(e)),
    }
}

pub async fn bulletin(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(raw): Path<String>,
    Query(query): Query<LookupQuery>,
) -> Result<Response, AppError> {
    let id = ballot_id(&raw)?;
    let chrome = Chrome::new(&ctx, &state);
    let bundle = match published(&state, id).await? {
        Published::Bundle(bundle) => bundle,
        Published::Pending { title, message } => {
            return render(
                StatusCode::OK,
                PendingPage {
                    chrome,
                    title,
                    message,
                },
            );
        }
    };
    let definition = definition_of(&bundle)?;
    let query_text = query.tracker.unwrap_or_default();
    let (status, found, lookup) = if query_text.trim().is_empty() {
        (StatusCode::OK, None, None)
    } else {
        let (status, found, lookup) = lookup(&bundle, &query_text);
        (status, found, Some(lookup))
    };
    render(
        status,
        ClosedPage {
            chrome,
            id: id.to_string(),
            title: bundle.title.clone(),
            organization: bundle.organization.clone(),
            results: ResultsView::of(&definition, &bundle.results),
            rows: rows(&bundle, &definition, found),
            checkpoint: bundle.checkpoint.clone(),
            verifier_key: bundle.verifier_key.clone(),
            definition_sha256: bundle.definition_sha256.clone(),
            ballot_list_sha256: bundle.results.ballot_list_sha256.clone(),
            root_sha256: bundle.results.root_sha256.clone(),
            query: query_text.chars().take(40).collect(),
            lookup,
        },
    )
}

/// The bundle as a download: anyone can recount it with `cista verify-election`.
pub async fn bundle_json(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = ballot_id(&raw)?;
    let bundle = state.cista.election_bundle(id).await?;
    let body = serde_json::to_vec_pretty(&bundle).map_err(|e| Error::Internal(e.to_string()))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"cista-ballot-{id}.json\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
