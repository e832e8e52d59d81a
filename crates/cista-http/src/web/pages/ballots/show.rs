//! The ballot pages that read: the organization's list, one ballot's page (which shows what
//! its status allows: the builder for a draft, live turnout for a published ballot, results
//! for a closed one, the reissue for a cancelled one), and the preview.

use super::form::{ContestForm, SettingsForm};
use super::ledger::{Ledger, LedgerQuery};
use super::view::{ContestView, ResultView, TurnoutView, status_label};
use super::{Problem, org_and_ballot};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, render};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cista_core::Actor;
use cista_core::ports::{BallotStatus, Organization};
use cista_core::products::voting::Ballot;
use cista_core::products::voting::VotingAction;
use cista_types::words::{count, noun};
use serde::Deserialize;

/// One line of the ballot list.
struct ListLine {
    id: String,
    title: String,
    status: &'static str,
    window: String,
    /// `2 of 6 units` for published and closed ballots; empty otherwise.
    turnout: String,
}

#[derive(Template)]
#[template(path = "admin/ballots/list.html")]
struct ListPage {
    chrome: Chrome,
    name: String,
    slug: String,
    ballots: Vec<ListLine>,
    can_manage: bool,
    zone: String,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let mut ballots = Vec::new();
    for b in state.cista.ballots(&actor, org.id).await? {
        let turnout = match b.status() {
            BallotStatus::Published | BallotStatus::Closed => {
                let live = state.cista.live_turnout(&actor, &b).await?;
                format!(
                    "{} of {} units",
                    live.turnout.voted_units, live.turnout.eligible_units
                )
            }
            BallotStatus::Draft | BallotStatus::Cancelled => String::new(),
        };
        ballots.push(ListLine {
            id: b.id().to_string(),
            title: b.definition.title.clone(),
            status: status_label(&b, state.cista.window_of(&b)),
            window: format!(
                "{} to {}",
                b.local(b.definition.opens_at),
                b.local(b.definition.closes_at)
            ),
            turnout,
        });
    }
    render(
        StatusCode::OK,
        ListPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            ballots,
            can_manage: actor.may_in(org.id, VotingAction::ManageBallots),
            zone: org.time_zone.to_string(),
        },
    )
}

/// What a page shows on top of the ballot itself: a notice after a change, or the problems
/// of a form sent back with what was typed.
#[derive(Debug, Default)]
pub struct Overrides {
    pub status: Option<StatusCode>,
    pub notice: Option<String>,
    pub errors: Vec<Problem>,
    pub settings: Option<SettingsForm>,
    pub edit: Option<(u32, ContestForm)>,
    pub add_resolution: Option<ContestForm>,
    pub add_election: Option<ContestForm>,
    pub cancel_reason: String,
    /// What the address asked of the lists of who took part.
    pub ledger: LedgerQuery,
}

/// A contest of a draft, with its edit form.
struct DraftContest {
    contest: ContestView,
    form: ContestForm,
    /// The edit form is shown open (it was sent back with a problem).
    open: bool,
    first: bool,
    last: bool,
}

impl DraftContest {
    /// The id prefix of its edit form's fields.
    fn prefix(&self) -> String {
        format!("k{}-", self.contest.id)
    }
}

/// What every ballot page shows at the top.
struct Head {
    name: String,
    slug: String,
    id: String,
    title: String,
    description: String,
    status: &'static str,
    zone: String,
    opens: String,
    closes: String,
    secrecy: &'static str,
    weighting: &'static str,
    paper: bool,
    /// The cancelled ballot this one corrects.
    replaces: Option<String>,
    definition_sha256: String,
}

impl Head {
    fn of(state: &AppState, org: &Organization, ballot: &Ballot) -> Self {
        let d = &ballot.definition;
        Self {
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            id: ballot.id().to_string(),
            title: d.title.clone(),
            description: d.description.clone(),
            status: status_label(ballot, state.cista.window_of(ballot)),
            zone: d.time_zone.to_string(),
            opens: ballot.local(d.opens_at),
            closes: ballot.local(d.closes_at),
            secrecy: d.secrecy.label(),
            weighting: d.weighting.label(),
            paper: d.paper,
            replaces: ballot.stored.replaces.map(|r| r.to_string()),
            definition_sha256: ballot.stored.definition_hash.to_hex(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/ballots/draft.html")]
struct DraftPage {
    chrome: Chrome,
    head: Head,
    notice: Option<String>,
    errors: Vec<Problem>,
    can_manage: bool,
    settings: SettingsForm,
    quorum_text: String,
    min_turnout_text: String,
    reminders_text: String,
    contests: Vec<DraftContest>,
    add_resolution: ContestForm,
    add_election: ContestForm,
    cancel_reason: String,
    /// Candidates whose names look the same, to fix before publishing.
    name_warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/ballots/live.html")]
struct LivePage {
    chrome: Chrome,
    head: Head,
    notice: Option<String>,
    errors: Vec<Problem>,
    turnout: TurnoutView,
    contests: Vec<ContestView>,
    ledger: Ledger,
    can_paper: bool,
    can_remind: bool,
    can_cancel: bool,
    can_close: bool,
    can_records: bool,
    window_over: bool,
    cancel_reason: String,
}

#[derive(Template)]
#[template(path = "admin/ballots/closed.html")]
struct ClosedPage {
    chrome: Chrome,
    head: Head,
    notice: Option<String>,
    /// Why an action on the closed ballot was refused (a reminder, a cancel).
    errors: Vec<Problem>,
    closed_at: String,
    can_records: bool,
    recorded: bool,
    weighted: bool,
    results: Vec<ResultView>,
    turnout: Option<TurnoutView>,
    ballots_counted: u64,
    ballot_list_sha256: String,
    root_sha256: String,
    tree_size: u64,
    ledger: Ledger,
}

#[derive(Template)]
#[template(path = "admin/ballots/cancelled.html")]
struct CancelledPage {
    chrome: Chrome,
    head: Head,
    notice: Option<String>,
    errors: Vec<Problem>,
    cancelled_at: String,
    contests: Vec<ContestView>,
    ledger: Ledger,
    can_reissue: bool,
    can_records: bool,
}

/// Renders a ballot's page as its status allows, with `extra` on top.
pub async fn render_ballot(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    ballot: &Ballot,
    extra: Overrides,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(ctx, state);
    let head = Head::of(state, org, ballot);
    let d = &ballot.definition;
    let status = extra.status.unwrap_or(StatusCode::OK);
    let page_path = format!("/admin/{}/ballots/{}", org.slug, ballot.id());
    let cista = &state.cista;
    let may = |action| actor.may_in(org.id, action);
    match ballot.status() {
        BallotStatus::Draft => render(
            status,
            draft_page(
                chrome,
                head,
                ballot,
                extra,
                may(VotingAction::ManageBallots),
            ),
        ),
        BallotStatus::Published => {
            let live = cista.live_turnout(actor, ballot).await?;
            let window = cista.window_of(ballot);
            let accepts = window == cista_core::products::voting::Window::Open;
            let ledger = Ledger::read(state, actor, ballot, &page_path, &extra.ledger).await?;
            render(
                status,
                LivePage {
                    chrome,
                    head,
                    notice: extra.notice,
                    errors: extra.errors,
                    turnout: TurnoutView::live(&live, d),
                    contests: ContestView::all(d),
                    ledger,
                    can_paper: accepts && d.paper && may(VotingAction::EnterPaperBallots),
                    can_remind: accepts && may(VotingAction::ManageBallots),
                    can_cancel: may(VotingAction::ManageBallots),
                    can_close: window == cista_core::products::voting::Window::Over
                        && may(VotingAction::ManageBallots),
                    can_records: may(VotingAction::ViewRecords),
                    window_over: window == cista_core::products::voting::Window::Over,
                    cancel_reason: extra.cancel_reason,
                },
            )
        }
        BallotStatus::Closed => {
            let can_records = may(VotingAction::ViewRecords);
            let sealed = if can_records {
                Some(cista.results(actor, ballot.id()).await?.1)
            } else {
                None
            };
            let ledger = Ledger::read(state, actor, ballot, &page_path, &extra.ledger).await?;
            render(
                status,
                ClosedPage {
                    chrome,
                    head,
                    notice: extra.notice,
                    errors: extra.errors,
                    closed_at: ballot
                        .stored
                        .closed_at
                        .map(|t| ballot.local(t))
                        .unwrap_or_default(),
                    can_records,
                    recorded: d.secrecy
                        == cista_core::products::voting::definition::Secrecy::Recorded,
                    weighted: d.weighting
                        == cista_core::products::voting::definition::Weighting::Weighted,
                    results: sealed.as_ref().map(ResultView::all).unwrap_or_default(),
                    turnout: sealed.as_ref().map(|r| TurnoutView::sealed(r, d)),
                    ballots_counted: sealed.as_ref().map_or(0, |r| r.tally.ballots_counted),
                    ballot_list_sha256: sealed
                        .as_ref()
                        .map(|r| r.ballot_list_sha256.clone())
                        .unwrap_or_default(),
                    root_sha256: sealed
                        .as_ref()
                        .map(|r| r.root_sha256.clone())
                        .unwrap_or_default(),
                    tree_size: sealed.as_ref().map_or(0, |r| r.tree_size),
                    ledger,
                },
            )
        }
        BallotStatus::Cancelled => {
            let ledger = Ledger::read(state, actor, ballot, &page_path, &extra.ledger).await?;
            render(
                status,
                CancelledPage {
                    chrome,
                    head,
                    notice: extra.notice,
                    errors: extra.errors,
                    cancelled_at: ballot
                        .stored
                        .cancelled_at
                        .map(|t| ballot.local(t))
                        .unwrap_or_default(),
                    contests: ContestView::all(d),
                    ledger,
                    can_reissue: may(VotingAction::ManageBallots),
                    can_records: may(VotingAction::ViewRecords),
                },
            )
        }
    }
}

/// The builder of a draft ballot: its settings and contests, with the forms `extra` sent back
/// after a refused change open in place.
fn draft_page(
    chrome: Chrome,
    head: Head,
    ballot: &Ballot,
    extra: Overrides,
    can_manage: bool,
) -> DraftPage {
    let d = &ballot.definition;
    let count = d.contests.len();
    let contests = d
        .contests
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let sent_back = extra
                .edit
                .as_ref()
                .filter(|(id, _)| *id == c.id)
                .map(|(_, f)| f.clone());
            DraftContest {
                contest: ContestView::of(c),
                open: sent_back.is_some(),
                form: sent_back.unwrap_or_else(|| ContestForm::from_contest(c)),
                first: i == 0,
                last: i + 1 == count,
            }
        })
        .collect();
    DraftPage {
        chrome,
        head,
        notice: extra.notice,
        errors: extra.errors,
        can_manage,
        name_warnings: cista_core::products::voting::names::candidate_warnings(d),
        settings: extra
            .settings
            .unwrap_or_else(|| SettingsForm::from_definition(d)),
        quorum_text: d.quorum.to_string(),
        min_turnout_text: d
            .min_turnout
            .map_or_else(|| "none".to_owned(), |p| format!("{p}%")),
        reminders_text: if d.reminder_hours.is_empty() {
            "none".to_owned()
        } else {
            d.reminder_hours
                .iter()
                .map(|h| format!("{h} hours"))
                .collect::<Vec<_>>()
                .join(", ")
                + " before the close"
        },
        contests,
        add_resolution: extra.add_resolution.unwrap_or_else(ContestForm::resolution),
        add_election: extra.add_election.unwrap_or_else(ContestForm::election),
        cancel_reason: extra.cancel_reason,
    }
}

/// `?done=…` after a change, and a count where it has one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: Option<String>,
    n: Option<u64>,
}

fn notice(done: &Done) -> Option<String> {
    let n = done.n.unwrap_or(0);
    let text = match done.done.as_deref()? {
        "created" => {
            "The draft is saved. Add its resolutions and elections, preview it, then publish it."
                .to_owned()
        }
        "settings" => "The settings are saved.".to_owned(),
        "added" => "The contest is added.".to_owned(),
        "changed" => "The contest is changed.".to_owned(),
        "removed" => "The contest is removed.".to_owned(),
        "moved" => "The contest is moved.".to_owned(),
        "published" => format!(
            "The ballot is published and can no longer change. {} to owners {} on their way.",
            count(n, "notice", "notices"),
            noun(n == 1, "is", "are")
        ),
        "cancelled" => "The ballot is cancelled; its records stay.".to_owned(),
        "reissued" => {
            "This is a corrected copy of the cancelled ballot. Check it, then publish it."
                .to_owned()
        }
        "reminded" => {
            format!(
                "{} {} on {} way to the owners of units that have not voted.",
                count(n, "reminder", "reminders"),
                noun(n == 1, "is", "are"),
                noun(n == 1, "its", "their")
            )
        }
        "closed" => "The ballot is closed and counted.".to_owned(),
        _ => return None,
    };
    Some(text)
}

pub async fn ballot(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    Query(done): Query<Done>,
    Query(ledger): Query<LedgerQuery>,
) -> Result<Response, AppError> {
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    let extra = Overrides {
        notice: notice(&done),
        ledger,
        ..Overrides::default()
    };
    render_ballot(&state, &ctx, &actor, &org, &ballot, extra).await
}

#[derive(Template)]
#[template(path = "admin/ballots/preview.html")]
struct PreviewPage {
    chrome: Chrome,
    head: Head,
    organization: String,
    contests: Vec<ContestView>,
    disabled: bool,
    /// Candidates whose names look the same, to fix before publishing.
    name_warnings: Vec<String>,
}

/// The ballot exactly as owners will see it, with every input disabled.
pub async fn preview(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    render(
        StatusCode::OK,
        PreviewPage {
            chrome: Chrome::new(&ctx, &state),
            head: Head::of(&state, &org, &ballot),
            organization: org.name.to_string(),
            contests: ContestView::all(&ballot.definition),
            disabled: true,
            name_warnings: cista_core::products::voting::names::candidate_warnings(
                &ballot.definition,
            ),
        },
    )
}
