//! The ballot pages that change something: a new draft, its settings and contests,
//! publication, cancel and reissue, reminders and the close. Each handler reads its form,
//! calls one core function and either redirects to the ballot's page with a notice or shows
//! the page again with the problem next to the form it came from.

use super::form::{ContestForm, SettingsForm, contest_field, settings_field};
use super::show::{Overrides, render_ballot};
use super::{Problem, ballot_path, org_and_ballot};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, person_or_refuse, render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::ports::Organization;
use cista_core::products::voting::Ballot;
use cista_core::products::voting::VotingAction;
use cista_core::products::voting::VotingError;
use cista_core::{Actor, Error};
use cista_types::words::count;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "admin/ballots/new.html")]
struct NewPage {
    chrome: Chrome,
    name: String,
    slug: String,
    zone: String,
    settings: SettingsForm,
    errors: Vec<Problem>,
}

pub async fn new_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, VotingAction::ManageBallots)?;
    let settings = SettingsForm::defaults(&org.time_zone, state.cista.clock().now());
    render(
        StatusCode::OK,
        NewPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            zone: org.time_zone.to_string(),
            settings,
            errors: Vec::new(),
        },
    )
}

pub async fn new_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, VotingAction::ManageBallots)?;
    let errors = match form.parse(&org.time_zone) {
        Ok(settings) => match state.cista.create_ballot(&actor, org.id, settings).await {
            Ok(id) => {
                return Ok(see_other(&format!(
                    "{}?done=created",
                    ballot_path(&org, id)
                )));
            }
            Err(e @ Error::InvalidInput { .. }) => vec![settings_problem(&e)],
            Err(e) => return Err(e.into()),
        },
        Err(problems) => problems,
    };
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        NewPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            zone: org.time_zone.to_string(),
            settings: form,
            errors,
        },
    )
}

fn settings_problem(e: &Error) -> Problem {
    let field = match e {
        Error::InvalidInput { field, .. } => settings_field(field),
        _ => "title",
    };
    Problem::from_error(field, e)
}

/// The ballot of a form post, for someone who may manage ballots.
async fn managed(
    state: &AppState,
    ctx: &RequestContext,
    slug: &str,
    id: &str,
) -> Result<(Actor, Organization, Ballot), AppError> {
    let (actor, _) = person_or_refuse(ctx)?;
    let (org, ballot) = org_and_ballot(state, &actor, slug, id).await?;
    actor.authorize_in(org.id, VotingAction::ManageBallots)?;
    Ok((actor, org, ballot))
}

/// Back to the ballot's page with a notice.
fn done(org: &Organization, ballot: &Ballot, what: &str) -> Response {
    see_other(&format!("{}?done={what}", ballot_path(org, ballot.id())))
}

/// The ballot's page again, with a problem (422 for input, the error's own status else).
async fn sent_back(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    ballot: &Ballot,
    error: &Error,
    extra: Overrides,
) -> Result<Response, AppError> {
    let status = match error {
        Error::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        other => crate::error::status_for(other.class()),
    };
    // The ballot may have changed (published or cancelled meanwhile): show it as it is now.
    let fresh = state.cista.ballot(actor, org.id, ballot.id()).await?;
    let extra = Overrides {
        status: Some(status),
        ..extra
    };
    render_ballot(state, ctx, actor, org, &fresh, extra).await
}

/// Errors a person can act on are shown on the page; the rest become the error page.
fn shown_on_page(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidInput { .. }
            | Error::Conflict(_)
            | Error::Voting(VotingError::BallotNotOpen(_))
    )
}

pub async fn settings(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    let problems = match form.parse(&ballot.definition.time_zone) {
        Ok(s) => match state
            .cista
            .update_ballot_settings(&actor, org.id, ballot.id(), s)
            .await
        {
            Ok(()) => return Ok(done(&org, &ballot, "settings")),
            Err(e) if shown_on_page(&e) => (vec![settings_problem(&e)], e),
            Err(e) => return Err(e.into()),
        },
        Err(problems) => (
            problems,
            Error::invalid("settings", "have problems".to_owned()),
        ),
    };
    let (errors, error) = problems;
    let extra = Overrides {
        errors,
        settings: Some(form),
        ..Overrides::default()
    };
    sent_back(&state, &ctx, &actor, &org, &ballot, &error, extra).await
}

/// The problem of a contest form, tied to the form's own field ids.
fn contest_problem(prefix: &str, e: &Error) -> Problem {
    let field = match e {
        Error::InvalidInput { field, .. } => contest_field(field),
        _ => "title",
    };
    Problem::from_error(format!("{prefix}{field}"), e)
}

pub async fn add_contest(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<ContestForm>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    let prefix = if form.is_election() { "e-" } else { "r-" };
    let (errors, error) = match form.parse(prefix) {
        Ok(contest) => match state
            .cista
            .add_contest(&actor, org.id, ballot.id(), contest)
            .await
        {
            Ok(_) => return Ok(done(&org, &ballot, "added")),
            Err(e) if shown_on_page(&e) => (vec![contest_problem(prefix, &e)], e),
            Err(e) => return Err(e.into()),
        },
        Err(problems) => (problems, Error::invalid("contest", "has problems")),
    };
    let extra = if form.is_election() {
        Overrides {
            errors,
            add_election: Some(form),
            ..Overrides::default()
        }
    } else {
        Overrides {
            errors,
            add_resolution: Some(form),
            ..Overrides::default()
        }
    };
    sent_back(&state, &ctx, &actor, &org, &ballot, &error, extra).await
}

pub async fn change_contest(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id, contest)): Path<(String, String, String)>,
    Form(form): Form<ContestForm>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    let contest_id = contest.parse::<u32>().map_err(|_| {
        AppError(Error::NotFound {
            what: "this contest",
        })
    })?;
    let cista = &state.cista;
    let (org_id, ballot_id) = (org.id, ballot.id());
    let outcome = match form.action.as_str() {
        "remove" => cista
            .remove_contest(&actor, org_id, ballot_id, contest_id)
            .await
            .map(|()| "removed"),
        "up" | "down" => cista
            .move_contest(&actor, org_id, ballot_id, contest_id, form.action == "up")
            .await
            .map(|()| "moved"),
        "update" => {
            let prefix = format!("k{contest_id}-");
            match form.parse(&prefix) {
                Ok(c) => cista
                    .replace_contest(&actor, org_id, ballot_id, contest_id, c)
                    .await
                    .map(|()| "changed"),
                Err(errors) => {
                    let extra = Overrides {
                        errors,
                        edit: Some((contest_id, form)),
                        ..Overrides::default()
                    };
                    let error = Error::invalid("contest", "has problems");
                    return sent_back(&state, &ctx, &actor, &org, &ballot, &error, extra).await;
                }
            }
        }
        _ => Err(Error::BadRequest {
            reason: "say what to do with the contest: update, remove, up or down".to_owned(),
        }),
    };
    match outcome {
        Ok(what) => Ok(done(&org, &ballot, what)),
        Err(e) if shown_on_page(&e) => {
            let prefix = format!("k{contest_id}-");
            let extra = Overrides {
                errors: vec![contest_problem(&prefix, &e)],
                edit: Some((contest_id, form)),
                ..Overrides::default()
            };
            sent_back(&state, &ctx, &actor, &org, &ballot, &e, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn publish(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    match state
        .cista
        .publish_ballot(&actor, org.id, ballot.id())
        .await
    {
        Ok(published) => Ok(see_other(&format!(
            "{}?done=published&n={}",
            ballot_path(&org, ballot.id()),
            published.notices
        ))),
        Err(e) if shown_on_page(&e) => {
            let message = match &e {
                Error::InvalidInput { field, reason } => {
                    format!("This ballot cannot be published yet: {field}: {reason}.")
                }
                other => Problem::from_error("", other).message,
            };
            let extra = Overrides {
                errors: vec![Problem::new("publish", message)],
                ..Overrides::default()
            };
            sent_back(&state, &ctx, &actor, &org, &ballot, &e, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelForm {
    reason: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<CancelForm>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    match state
        .cista
        .cancel_ballot(&actor, org.id, ballot.id(), &form.reason)
        .await
    {
        Ok(()) => Ok(done(&org, &ballot, "cancelled")),
        Err(e) if shown_on_page(&e) => {
            let extra = Overrides {
                errors: vec![Problem::from_error("reason", &e)],
                cancel_reason: form.reason,
                ..Overrides::default()
            };
            sent_back(&state, &ctx, &actor, &org, &ballot, &e, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn reissue(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    let copy = state
        .cista
        .reissue_ballot(&actor, org.id, ballot.id())
        .await?;
    Ok(see_other(&format!(
        "{}?done=reissued",
        ballot_path(&org, copy)
    )))
}

#[derive(Template)]
#[template(path = "admin/ballots/remind.html")]
struct RemindPage {
    chrome: Chrome,
    slug: String,
    name: String,
    id: String,
    title: String,
    /// `Send a reminder to 3 people?`
    question: String,
    people: usize,
}

/// The confirmation before a reminder goes out: to how many people.
pub async fn remind_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    let people = state
        .cista
        .reminder_count(&actor, org.id, ballot.id())
        .await?;
    render(
        StatusCode::OK,
        RemindPage {
            chrome: Chrome::new(&ctx, &state),
            slug: org.slug.to_string(),
            name: org.name.to_string(),
            id: ballot.id().to_string(),
            title: ballot.definition.title.clone(),
            question: format!("Send a reminder to {}?", count(people, "person", "people")),
            people,
        },
    )
}

pub async fn remind(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    match state
        .cista
        .send_reminders(&actor, org.id, ballot.id())
        .await
    {
        Ok(n) => Ok(see_other(&format!(
            "{}?done=reminded&n={n}",
            ballot_path(&org, ballot.id())
        ))),
        Err(e) if shown_on_page(&e) => {
            let extra = Overrides {
                errors: vec![Problem::from_error("remind", &e)],
                ..Overrides::default()
            };
            sent_back(&state, &ctx, &actor, &org, &ballot, &e, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn close(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, org, ballot) = managed(&state, &ctx, &slug, &id).await?;
    match state
        .cista
        .close_ballot_now(&actor, org.id, ballot.id())
        .await
    {
        Ok(()) => Ok(done(&org, &ballot, "closed")),
        Err(e) if shown_on_page(&e) => {
            let extra = Overrides {
                errors: vec![Problem::from_error("close", &e)],
                ..Overrides::default()
            };
            sent_back(&state, &ctx, &actor, &org, &ballot, &e, extra).await
        }
        Err(e) => Err(e.into()),
    }
}
