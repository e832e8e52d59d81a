//! Paper ballot entry by staff: choose a unit that has not voted, enter its choices, and the
//! core writes it under the same one-vote-per-unit constraint as online votes. The page then
//! says which unit was entered and when, and nothing else: no tracker and no choices, so the
//! entry screen cannot tie a secret ballot to its unit. A refusal (the unit already voted,
//! online or on paper) is shown with the core's sentence; the core records it for counsel.

use super::view::ContestView;
use super::{Problem, org_and_ballot};
use crate::AppState;
use crate::context::{RequestContext, vote_origin};
use crate::error::{AppError, status_for};
use crate::pages::chrome::{Chrome, person_or_redirect, person_or_refuse, render, see_other};
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::ports::Organization;
use cista_core::voting::Ballot;
use cista_core::voting::cast::CastRequest;
use cista_core::{Actor, Error, OrgAction};
use cista_types::UnitId;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "admin/ballots/paper.html")]
struct PaperPage {
    chrome: Chrome,
    name: String,
    slug: String,
    id: String,
    title: String,
    status: &'static str,
    /// Whether the ballot takes paper ballots now (published, open, paper allowed).
    accepts: bool,
    why_not: String,
    units: Vec<(String, String)>,
    definition_sha256: String,
    contests: Vec<ContestView>,
    disabled: bool,
    notice: Option<String>,
    errors: Vec<Problem>,
}

async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    ballot: &Ballot,
    notice: Option<String>,
    errors: Vec<Problem>,
) -> Result<PaperPage, AppError> {
    let cista = &state.cista;
    let units = cista
        .paper_candidates(actor, ballot)
        .await?
        .into_iter()
        .map(|u| (u.unit.to_string(), u.label.to_string()))
        .collect();
    let accepts_votes = ballot.accepts_votes(cista.clock().now());
    let why_not = if !ballot.definition.paper {
        "This ballot does not accept paper ballots.".to_owned()
    } else if accepts_votes {
        String::new()
    } else {
        format!(
            "This ballot is not open for votes: it is open from {} to {}.",
            ballot.local(ballot.definition.opens_at),
            ballot.local(ballot.definition.closes_at)
        )
    };
    Ok(PaperPage {
        chrome: Chrome::new(ctx, state),
        name: org.name.to_string(),
        slug: org.slug.to_string(),
        id: ballot.id().to_string(),
        title: ballot.definition.title.clone(),
        status: super::view::status_label(ballot, cista.window_of(ballot)),
        accepts: accepts_votes && ballot.definition.paper,
        why_not,
        units,
        definition_sha256: ballot.stored.definition_hash.to_hex(),
        contests: ContestView::all(&ballot.definition),
        disabled: false,
        notice,
        errors,
    })
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, _) = match person_or_redirect(&ctx) {
        Ok(found) => found,
        Err(to) => return Ok(see_other(to)),
    };
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    actor.authorize_in(org.id, OrgAction::EnterPaperBallots)?;
    let page = page_for(&state, &ctx, &actor, &org, &ballot, None, Vec::new()).await?;
    render(StatusCode::OK, page)
}

/// Whether a field is a contest's choice (`c` and the contest id).
fn is_choice(name: &str) -> bool {
    name.strip_prefix('c')
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (actor, _) = person_or_refuse(&ctx)?;
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    actor.authorize_in(org.id, OrgAction::EnterPaperBallots)?;
    let value = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let Ok(unit) = value("unit").parse::<i64>().map(UnitId::from_i64) else {
        let errors = vec![Problem::new(
            "unit",
            "Choose the unit whose paper ballot this is.",
        )];
        let page = page_for(&state, &ctx, &actor, &org, &ballot, None, errors).await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, page);
    };
    let request = CastRequest {
        ballot: ballot.id(),
        unit,
        definition_hash: value("definition"),
        fields: fields
            .iter()
            .filter(|(k, _)| is_choice(k))
            .cloned()
            .collect(),
        origin: vote_origin(&headers, peer.map(|Extension(ConnectInfo(p))| p)),
    };
    match state.cista.enter_paper_ballot(&actor, request).await {
        Ok(entered) => {
            let notice = format!(
                "Paper ballot for unit {} entered at {}.",
                entered.unit, entered.at_local
            );
            let page = page_for(
                &state,
                &ctx,
                &actor,
                &org,
                &ballot,
                Some(notice),
                Vec::new(),
            )
            .await?;
            render(StatusCode::OK, page)
        }
        Err(
            e @ (Error::InvalidInput { .. }
            | Error::BadRequest { .. }
            | Error::AlreadyVoted(_)
            | Error::BallotNotOpen(_)
            | Error::NotEligible(_)
            | Error::BallotChanged),
        ) => {
            let (field, status) = match &e {
                Error::InvalidInput { .. } => ("contests", StatusCode::UNPROCESSABLE_ENTITY),
                Error::BadRequest { .. } => ("contests", status_for(e.class())),
                _ => ("unit", status_for(e.class())),
            };
            let errors = vec![Problem::from_error(field, &e)];
            let page = page_for(&state, &ctx, &actor, &org, &ballot, None, errors).await?;
            render(status, page)
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
