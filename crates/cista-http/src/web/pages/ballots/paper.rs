//! Paper ballot entry by staff. Every form here follows Post/Redirect/Get and leaves a notice
//! for the page it leads to.
//!
//! A **secret** ballot's paper channel offers only the two envelopes (see
//! `cista_core::products::voting::paper`): check in an outer envelope by unit (the participation row;
//! a unit that already voted is refused and the attempt recorded), open the waiting envelopes
//! of one weight as a batch, then enter the batch's inner ballots one by one with no unit
//! anywhere on the screen, so whoever enters them cannot tell whose ballot is whose.
//!
//! A **recorded** ballot keeps the one-screen entry: choose the unit and enter its choices
//! (the association's record links them anyway). The page then says which unit was entered
//! and when, nothing else.

use super::view::ContestView;
use super::{Problem, org_and_ballot};
use crate::AppState;
use crate::error::{AppError, status_for};
use crate::web::context::{RequestContext, vote_origin, with_notice};
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, render, see_other};
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::ports::Organization;
use cista_core::products::voting::Ballot;
use cista_core::products::voting::VotingAction;
use cista_core::products::voting::VotingError;
use cista_core::products::voting::cast::CastRequest;
use cista_core::products::voting::paper::{self, MIN_BATCH, PaperState, PaperUnits, envelopes};
use cista_core::{Actor, Error};
use cista_types::{UnitId, Weight};
use std::net::SocketAddr;

/// One pile of waiting envelopes, with the button that opens it as a batch.
struct PileLine {
    weight: String,
    weight_micros: i64,
    waiting: String,
    can_open: bool,
}

/// One opened batch and its progress.
struct BatchLine {
    number: u32,
    weight: String,
    progress: String,
    opened: String,
    complete: bool,
}

#[derive(Template)]
#[template(path = "admin/ballots/paper.html")]
struct PaperPage {
    chrome: Chrome,
    name: String,
    slug: String,
    id: String,
    title: String,
    status: &'static str,
    /// Whether envelopes (or, for a recorded ballot, paper ballots) can be taken now.
    accepts: bool,
    why_not: String,
    /// Whether the two-envelope flow applies (a secret ballot).
    two_envelopes: bool,
    weighted: bool,
    /// The units yet to vote to choose from (id, label); empty with `typed_unit`.
    units: Vec<(String, String)>,
    /// Too many units are yet to vote to list: the unit's label is typed instead.
    typed_unit: bool,
    /// The label typed in a form sent back.
    unit_label: String,
    definition_sha256: String,
    contests: Vec<ContestView>,
    disabled: bool,
    piles: Vec<PileLine>,
    batches: Vec<BatchLine>,
    /// "3 paper ballots checked in are not yet entered: …", when the close waits for them.
    pending: Option<String>,
    min_batch: u64,
    errors: Vec<Problem>,
}

#[derive(Template)]
#[template(path = "admin/ballots/inner_ballot.html")]
struct InnerBallotPage {
    chrome: Chrome,
    name: String,
    slug: String,
    id: String,
    title: String,
    batch: u32,
    /// "Inner ballot 4 of 12".
    position: String,
    definition_sha256: String,
    contests: Vec<ContestView>,
    disabled: bool,
    errors: Vec<Problem>,
}

fn paper_path(org: &Organization, ballot: &Ballot) -> String {
    format!("/admin/{}/ballots/{}/paper", org.slug, ballot.id())
}

async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    ballot: &Ballot,
    errors: Vec<Problem>,
) -> Result<PaperPage, AppError> {
    let cista = &state.cista;
    let now = cista.clock().now();
    let (units, typed_unit) = match cista.paper_candidates(actor, ballot).await? {
        PaperUnits::Listed(units) => (
            units
                .into_iter()
                .map(|u| (u.unit.to_string(), u.label.to_string()))
                .collect(),
            false,
        ),
        PaperUnits::Typed => (Vec::new(), true),
    };
    let accepts_votes = ballot.accepts_votes(now);
    let two_envelopes = paper::two_envelopes(ballot);
    let why_not = if !ballot.definition.paper {
        "This ballot does not accept paper ballots.".to_owned()
    } else if accepts_votes {
        String::new()
    } else {
        use cista_core::ports::BallotStatus;
        match ballot.status() {
            BallotStatus::Cancelled => {
                "This ballot was cancelled: it takes no more votes.".to_owned()
            }
            BallotStatus::Closed => "This ballot is closed and counted.".to_owned(),
            BallotStatus::Draft => "This ballot is not published yet.".to_owned(),
            BallotStatus::Published => format!(
                "This ballot is not open for votes: it is open from {} to {}.",
                ballot.local(ballot.definition.opens_at),
                ballot.local(ballot.definition.closes_at)
            ),
        }
    };
    let state_now = if two_envelopes {
        cista.paper_state(actor, ballot).await?
    } else {
        PaperState::default()
    };
    let still_published = ballot.status() == cista_core::ports::BallotStatus::Published;
    let open_window = now < ballot.definition.closes_at;
    let piles = state_now
        .piles
        .iter()
        .filter(|p| p.waiting() > 0)
        .map(|p| PileLine {
            weight: p.weight.to_string(),
            weight_micros: p.weight.micros(),
            waiting: envelopes(p.waiting()),
            can_open: still_published && (!open_window || p.waiting() >= MIN_BATCH),
        })
        .collect();
    let batches = state_now
        .batches
        .iter()
        .map(|b| BatchLine {
            number: b.number,
            weight: b.weight.to_string(),
            progress: format!("{} of {} entered", b.entered, b.envelopes),
            opened: paper::opened_at(b, ballot),
            complete: b.remaining() == 0,
        })
        .collect();
    Ok(PaperPage {
        chrome: Chrome::new(ctx, state),
        name: org.name.to_string(),
        slug: org.slug.to_string(),
        id: ballot.id().to_string(),
        title: ballot.definition.title.clone(),
        status: super::view::status_label(ballot, cista.window_of(ballot)),
        accepts: accepts_votes && ballot.definition.paper,
        why_not,
        two_envelopes,
        weighted: ballot.definition.weighting
            == cista_core::products::voting::definition::Weighting::Weighted,
        units,
        typed_unit,
        unit_label: String::new(),
        definition_sha256: ballot.stored.definition_hash.to_hex(),
        contests: ContestView::all(&ballot.definition),
        disabled: false,
        piles,
        batches,
        pending: state_now.blocks_close().map(|e| e.public_message()),
        min_batch: MIN_BATCH,
        errors,
    })
}

async fn staff_ballot(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    id: &str,
) -> Result<(Organization, Ballot), AppError> {
    let (org, ballot) = org_and_ballot(state, actor, slug, id).await?;
    actor.authorize_in(org.id, VotingAction::EnterPaperBallots)?;
    Ok((org, ballot))
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (org, ballot) = staff_ballot(&state, &actor, &slug, &id).await?;
    let page = page_for(&state, &ctx, &actor, &org, &ballot, Vec::new()).await?;
    render(StatusCode::OK, page)
}

/// The unit a paper form names: `unit_label` as typed (the page offers a text field when too
/// many units are yet to vote to list them), else `unit`, an id chosen from the list. A form
/// naming none is sent back saying `missing`, one naming a label the roll does not have with
/// the core's reason; any other error is the request's.
async fn named_unit(
    state: &AppState,
    actor: &Actor,
    ballot: &Ballot,
    fields: &[(String, String)],
    missing: &str,
) -> Result<Result<UnitId, (Problem, StatusCode)>, AppError> {
    let label = value(fields, "unit_label");
    if label.is_empty() {
        let chosen = value(fields, "unit").parse::<i64>().ok();
        return Ok(chosen.map(UnitId::from_i64).ok_or_else(|| {
            (
                Problem::new("unit", missing),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }));
    }
    match state.cista.paper_unit_labelled(actor, ballot, &label).await {
        Ok(unit) => Ok(Ok(unit)),
        // A label the roll does not have is a field to correct (422), as an unanswered
        // contest is.
        Err(e @ Error::InvalidInput { .. }) => Ok(Err((
            Problem::from_error("unit", &e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Whether a field is a contest's choice (`c` and the contest id).
fn is_choice(name: &str) -> bool {
    name.strip_prefix('c')
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

fn value(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

fn choices(fields: &[(String, String)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|(k, _)| is_choice(k))
        .cloned()
        .collect()
}

/// The field a refusal is about, and the status it is shown with.
fn problem_for(e: &Error) -> (&'static str, StatusCode) {
    match e {
        Error::InvalidInput { .. } => ("contests", StatusCode::UNPROCESSABLE_ENTITY),
        Error::BadRequest { .. } => ("contests", status_for(e.class())),
        _ => ("unit", status_for(e.class())),
    }
}

/// Whether a core error is a refusal staff can act on (shown on the page), not a failure.
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidInput { .. }
            | Error::BadRequest { .. }
            | Error::Voting(VotingError::AlreadyVoted(_))
            | Error::Voting(VotingError::BallotNotOpen(_))
            | Error::Voting(VotingError::NotEligible(_))
            | Error::Voting(VotingError::BallotChanged)
            | Error::Conflict(_)
            | Error::NotFound { .. }
    )
}

/// A recorded ballot's one-screen entry: the unit and its choices.
pub async fn submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (org, ballot) = staff_ballot(&state, &actor, &slug, &id).await?;
    let refuse = async |problem: Problem, status: StatusCode| {
        let mut page = page_for(&state, &ctx, &actor, &org, &ballot, vec![problem]).await?;
        page.unit_label = value(&fields, "unit_label");
        render(status, page)
    };
    let unit = match named_unit(
        &state,
        &actor,
        &ballot,
        &fields,
        "Choose the unit whose paper ballot this is.",
    )
    .await?
    {
        Ok(unit) => unit,
        Err((problem, status)) => return refuse(problem, status).await,
    };
    let request = CastRequest {
        ballot: ballot.id(),
        unit,
        definition_hash: value(&fields, "definition"),
        fields: choices(&fields),
        origin: vote_origin(&headers, peer.map(|Extension(ConnectInfo(p))| p)),
        submission: None,
    };
    match state.cista.enter_paper_ballot(&actor, request).await {
        Ok(entered) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&paper_path(&org, &ballot)),
            &format!(
                "Paper ballot for unit {} entered at {}.",
                entered.unit, entered.at_local
            ),
        )),
        Err(e) if is_refusal(&e) => {
            let (field, status) = problem_for(&e);
            refuse(Problem::from_error(field, &e), status).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Step one of a secret ballot's paper channel: check in an outer envelope.
pub async fn check_in(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (org, ballot) = staff_ballot(&state, &actor, &slug, &id).await?;
    let refuse = async |problem: Problem, status: StatusCode| {
        let mut page = page_for(&state, &ctx, &actor, &org, &ballot, vec![problem]).await?;
        page.unit_label = value(&fields, "unit_label");
        render(status, page)
    };
    let unit = match named_unit(
        &state,
        &actor,
        &ballot,
        &fields,
        "Choose the unit named on the outer envelope.",
    )
    .await?
    {
        Ok(unit) => unit,
        Err((problem, status)) => return refuse(problem, status).await,
    };
    let origin = vote_origin(&headers, peer.map(|Extension(ConnectInfo(p))| p));
    match state
        .cista
        .check_in_envelope(&actor, ballot.id(), unit, origin)
        .await
    {
        Ok(done) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&paper_path(&org, &ballot)),
            &format!(
                "Outer envelope of unit {} checked in at {}. Keep its inner envelope sealed \
                 until the batch is opened.",
                done.unit, done.at_local
            ),
        )),
        Err(e) if is_refusal(&e) => {
            refuse(Problem::from_error("unit", &e), status_for(e.class())).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Step two: open the waiting envelopes of one weight as a batch.
pub async fn open_batch(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (org, ballot) = staff_ballot(&state, &actor, &slug, &id).await?;
    let weight = value(&fields, "weight")
        .parse::<i64>()
        .ok()
        .filter(|w| *w > 0)
        .map(Weight::from_micros);
    let result = match weight {
        Some(weight) => {
            state
                .cista
                .open_paper_batch(&actor, ballot.id(), weight)
                .await
        }
        None => Err(Error::BadRequest {
            reason: "choose which envelopes to open".to_owned(),
        }),
    };
    match result {
        Ok(batch) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!(
                "{}/batches/{}",
                paper_path(&org, &ballot),
                batch.number
            )),
            &format!(
                "Batch {} opened: {}. Take out the inner envelopes, mix them, then enter each \
                 ballot as it is marked.",
                batch.number,
                envelopes(batch.envelopes)
            ),
        )),
        Err(e) if is_refusal(&e) => {
            let problem = Problem::from_error("batches", &e);
            let page = page_for(&state, &ctx, &actor, &org, &ballot, vec![problem]).await?;
            render(status_for(e.class()), page)
        }
        Err(e) => Err(e.into()),
    }
}

fn batch_number(raw: &str) -> Result<u32, AppError> {
    raw.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(AppError(Error::NotFound { what: "this batch" }))
}

async fn inner_page(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    ballot: &Ballot,
    number: u32,
    errors: Vec<Problem>,
) -> Result<Option<InnerBallotPage>, AppError> {
    let paper = state.cista.paper_state(actor, ballot).await?;
    let batch = paper
        .batches
        .iter()
        .find(|b| b.number == number)
        .ok_or(AppError(Error::NotFound { what: "this batch" }))?;
    if batch.remaining() == 0 {
        return Ok(None);
    }
    Ok(Some(InnerBallotPage {
        chrome: Chrome::new(ctx, state),
        name: org.name.to_string(),
        slug: org.slug.to_string(),
        id: ballot.id().to_string(),
        title: ballot.definition.title.clone(),
        batch: number,
        position: format!("Inner ballot {} of {}", batch.entered + 1, batch.envelopes),
        definition_sha256: ballot.stored.definition_hash.to_hex(),
        contests: ContestView::all(&ballot.definition),
        disabled: false,
        errors,
    }))
}

/// Step three: the form for the next inner ballot of a batch (no unit anywhere).
pub async fn batch_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id, number)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let (org, ballot) = staff_ballot(&state, &actor, &slug, &id).await?;
    let number = batch_number(&number)?;
    match inner_page(&state, &ctx, &actor, &org, &ballot, number, Vec::new()).await? {
        Some(page) => render(StatusCode::OK, page),
        None => Ok(see_other(&paper_path(&org, &ballot))),
    }
}

/// Enters one inner ballot of a batch.
pub async fn enter_inner(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id, number)): Path<(String, String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (org, ballot) = staff_ballot(&state, &actor, &slug, &id).await?;
    let number = batch_number(&number)?;
    let entered = state
        .cista
        .enter_inner_ballot(
            &actor,
            ballot.id(),
            number,
            &value(&fields, "definition"),
            &choices(&fields),
        )
        .await;
    match entered {
        Ok(done) if done.entered >= done.envelopes => Ok(with_notice(
            &state,
            &ctx,
            see_other(&paper_path(&org, &ballot)),
            &format!(
                "Batch {} is complete: all {} of its inner ballots are entered.",
                done.batch, done.envelopes
            ),
        )),
        Ok(done) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!("{}/batches/{number}", paper_path(&org, &ballot))),
            &format!(
                "Inner ballot {} of {} entered.",
                done.entered, done.envelopes
            ),
        )),
        Err(e) if is_refusal(&e) => {
            let (field, status) = problem_for(&e);
            let problem = Problem::from_error(if field == "unit" { "contests" } else { field }, &e);
            match inner_page(&state, &ctx, &actor, &org, &ballot, number, vec![problem]).await? {
                Some(page) => render(status, page),
                None => {
                    let problem = Problem::from_error("batches", &e);
                    let page = page_for(&state, &ctx, &actor, &org, &ballot, vec![problem]).await?;
                    render(status, page)
                }
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contest_fields_are_choices() {
        assert!(is_choice("c1") && is_choice("c42"));
        for other in ["csrf", "c", "cx", "unit", "definition", "c1x"] {
            assert!(!is_choice(other), "{other}");
        }
    }
}
