//! Owners' voting pages: their ballots, the ballot form, casting, the receipt, consent to
//! online voting (FL-01), and the "test my device" page (FL-03). Owners only ever see their
//! own units' states; no page here shows a count per choice before the close (FL-09).

pub(crate) mod device;
mod form;
pub(crate) mod results;
mod states;

use super::chrome::{Chrome, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use cista_core::Error;
use cista_core::ports::{BallotStatus, ConsentStatus};
use cista_core::products::voting::Window;
use cista_core::products::voting::units::MyBallot;
use cista_types::{BallotId, UnitId};
use serde::Deserialize;
use states::UnitLine;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/vote", get(index))
        .route("/vote/units/{unit}/consent", post(consent))
        .route("/vote/{ballot}", get(ballot))
        .route(
            "/vote/{ballot}/unit/{unit}",
            get(form::page).post(form::cast),
        )
        .route("/vote/{ballot}/unit/{unit}/receipt", get(form::receipt))
}

/// A ballot id from the URL: decimal, positive; anything else is a page that does not exist.
pub(crate) fn ballot_id(raw: &str) -> Result<BallotId, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(BallotId::from_i64)
        .ok_or(AppError(Error::NotFound {
            what: "this ballot",
        }))
}

fn unit_id(raw: &str) -> Result<UnitId, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(UnitId::from_i64)
        .ok_or(AppError(Error::NotFound { what: "this unit" }))
}

/// One ballot in a list or on its own page, with my units' lines.
struct BallotSummary {
    id: String,
    title: String,
    organization: String,
    /// "Open until …", "Opens on …", "Closed on …".
    window: String,
    /// open | upcoming | counting | closed
    phase: &'static str,
    units: Vec<UnitLine>,
}

impl BallotSummary {
    fn of(my: &MyBallot, now: cista_types::Timestamp) -> Self {
        let b = &my.ballot;
        let d = &b.definition;
        let (phase, window) = match (b.status(), my.window) {
            (BallotStatus::Closed, _) => (
                "closed",
                format!("Voting closed on {}.", b.local(d.closes_at)),
            ),
            (_, Window::Open) => (
                "open",
                format!(
                    "Open from {} until {}.",
                    b.local(d.opens_at),
                    b.local(d.closes_at)
                ),
            ),
            (_, Window::NotYetOpen) => (
                "upcoming",
                format!(
                    "Opens on {}, closes on {}.",
                    b.local(d.opens_at),
                    b.local(d.closes_at)
                ),
            ),
            (_, Window::Over) => (
                "counting",
                format!(
                    "Voting closed on {}; the results are being sealed.",
                    b.local(d.closes_at)
                ),
            ),
        };
        Self {
            id: b.id().to_string(),
            title: d.title.clone(),
            organization: my.organization.clone(),
            window,
            phase,
            units: my
                .units
                .iter()
                .map(|(unit, state)| states::unit_line(my, unit, state, now))
                .collect(),
        }
    }

    /// Open ballots first (closing soonest first), then upcoming, then closed (newest first).
    fn order(my: &MyBallot) -> (u8, i64) {
        let closes = my.ballot.definition.closes_at.unix_micros();
        match (my.ballot.status(), my.window) {
            (BallotStatus::Published, Window::Open) => (0, closes),
            (BallotStatus::Published, Window::NotYetOpen) => (1, closes),
            _ => (2, -closes),
        }
    }
}

/// A unit of mine and its standing consent, with the form that changes it.
struct MyUnitLine {
    id: String,
    label: String,
    organization: String,
    consent: &'static str,
    consented: bool,
}

#[derive(Template)]
#[template(path = "vote/index.html")]
struct IndexPage {
    chrome: Chrome,
    back: String,
    ballots: Vec<BallotSummary>,
    units: Vec<MyUnitLine>,
}

pub async fn index(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
) -> Result<Response, AppError> {
    let now = state.cista.clock().now();
    let mut mine = state.cista.my_ballots(&actor).await?;
    mine.sort_by_key(BallotSummary::order);
    let units = state
        .cista
        .my_units(&actor)
        .await?
        .into_iter()
        .map(|m| MyUnitLine {
            id: m.unit.id.to_string(),
            label: m.unit.label.to_string(),
            organization: m.organization,
            consent: m.unit.consent.label(),
            consented: m.unit.consent == ConsentStatus::Consented,
        })
        .collect();
    render(
        StatusCode::OK,
        IndexPage {
            chrome: Chrome::new(&ctx, &state),
            back: "/vote".to_owned(),
            ballots: mine.iter().map(|b| BallotSummary::of(b, now)).collect(),
            units,
        },
    )
}

struct ContestLine {
    title: String,
    what: String,
}

#[derive(Template)]
#[template(path = "vote/ballot.html")]
struct BallotPage {
    chrome: Chrome,
    back: String,
    summary: BallotSummary,
    description: String,
    secrecy: &'static str,
    weighting: &'static str,
    contests: Vec<ContestLine>,
    /// Why there are no results yet (before the close), or None once they are shown.
    sealed: Option<String>,
    results: Option<results::ResultsView>,
}

pub async fn ballot(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = ballot_id(&raw)?;
    let cista = &state.cista;
    let my = cista.my_ballot(&actor, id).await?;
    let d = &my.ballot.definition;
    let summary = BallotSummary::of(&my, cista.clock().now());
    let (sealed, results) = match (my.ballot.status(), summary.phase) {
        (BallotStatus::Closed, _) => {
            let (ballot, sealed) = cista.results(&actor, id).await?;
            (
                None,
                Some(results::ResultsView::of(&ballot.definition, &sealed)),
            )
        }
        (_, "counting") => (
            Some(format!(
                "Voting closed on {}. The results appear here as soon as the count is sealed, \
                 within a few minutes.",
                my.ballot.local(d.closes_at)
            )),
            None,
        ),
        _ => (
            Some(format!(
                "Results are sealed until voting closes on {}: until then nobody, staff \
                 included, can see how anyone voted or how many chose each option.",
                my.ballot.local(d.closes_at)
            )),
            None,
        ),
    };
    render(
        StatusCode::OK,
        BallotPage {
            chrome: Chrome::new(&ctx, &state),
            back: format!("/vote/{id}"),
            description: d.description.clone(),
            secrecy: d.secrecy.label(),
            weighting: d.weighting.label(),
            contests: d.contests.iter().map(form::contest_line).collect(),
            summary,
            sealed,
            results,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsentForm {
    consent: String,
    back: String,
}

/// Where to go after recording consent: a local voting page, or the voting home.
fn back_to(back: &str) -> &str {
    let local = (back == "/vote" || back.starts_with("/vote/"))
        && back.len() <= 200
        && back
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_?=&.".contains(c));
    if local { back } else { "/vote" }
}

pub async fn consent(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path(raw): Path<String>,
    Form(form): Form<ConsentForm>,
) -> Result<Response, AppError> {
    let unit = unit_id(&raw)?;
    let status = match form.consent.as_str() {
        "yes" => ConsentStatus::Consented,
        "no" => ConsentStatus::OptedOut,
        _ => {
            return Err(AppError(Error::BadRequest {
                reason: "consent must be yes or no".to_owned(),
            }));
        }
    };
    state.cista.record_consent(&actor, unit, status).await?;
    Ok(see_other(back_to(&form.back)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_voting_pages_are_places_to_go_back_to() {
        assert_eq!(back_to("/vote/123"), "/vote/123");
        assert_eq!(back_to("/vote"), "/vote");
        for bad in [
            "https://evil.example/vote",
            "//evil.example",
            "/vote\\evil",
            "/voter",
            "/admin",
            "/vote/\r\nSet-Cookie: x",
            "",
        ] {
            assert_eq!(back_to(bad), "/vote", "{bad:?}");
        }
    }

    #[test]
    fn ids_in_urls_are_positive_decimals() {
        assert!(ballot_id("42").is_ok());
        for bad in ["", "abc", "-1", "0", "1e3", "99999999999999999999", " 1"] {
            assert!(ballot_id(bad).is_err(), "{bad:?}");
            assert!(unit_id(bad).is_err(), "{bad:?}");
        }
    }
}
