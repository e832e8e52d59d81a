//! The ballot form for one unit, the cast, and the receipt. The form carries the hash of the
//! exact definition it was made from (FL-04). The cast follows Post/Redirect/Get: it answers
//! with a 303 to the receipt page and the receipt itself travels sealed in a short-lived cookie
//! bound to the voter's session (FL-05), so a reload or the back button shows it again while
//! the server keeps no copy. A repeated submission of the same form gets the first cast's
//! receipt (the core re-derives it) and is never recorded as a refused attempt. Nothing here
//! stores or logs the choices.

use super::{ContestLine, ballot_id, unit_id};
use crate::AppState;
use crate::error::{AppError, status_for};
use crate::web::context::{RequestContext, cookie_value, sealed_cookie, vote_origin};
use crate::web::csrf::FormSubmission;
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, render, see_other};
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::{Extension, Form};
use base64::Engine as _;
use cista_core::ports::Unit;
use cista_core::products::voting::VotingError;
use cista_core::products::voting::cast::{CastRequest, RECEIPT_TTL, Receipt};
use cista_core::products::voting::definition::{
    Answer, BallotDefinition, Contest, ContestKind, Secrecy,
};
use cista_core::products::voting::units::{MyBallot, UnitBallotState};
use cista_core::{Actor, Error};
use cista_types::{BallotId, Rng, UnitId, Weight};
use std::net::SocketAddr;

/// The form field of a contest.
fn field(contest: &Contest) -> String {
    format!("c{}", contest.id)
}

/// What a contest asks, in one line (the ballot page; no candidate order is implied).
pub(super) fn contest_line(contest: &Contest) -> ContestLine {
    let what = match &contest.kind {
        ContestKind::Resolution { threshold } => format!(
            "Resolution: yes, no or abstain; it needs {}.",
            threshold.describe()
        ),
        ContestKind::Election {
            seats, candidates, ..
        } => format!(
            "Election: choose up to {seats} of {} candidates.",
            candidates.len()
        ),
    };
    ContestLine {
        title: contest.title.clone(),
        what,
    }
}

struct OptionField {
    id: String,
    value: String,
    label: String,
    checked: bool,
}

struct ContestField {
    field: String,
    title: String,
    description: String,
    election: bool,
    hint: String,
    options: Vec<OptionField>,
    error: Option<String>,
}

/// A problem with the form, linked from the summary to the contest's first option.
struct FieldError {
    anchor: String,
    message: String,
}

/// Shuffles in place (Fisher–Yates) with the instance's generator; the order is not kept.
fn shuffle<T>(items: &mut [T], rng: &dyn Rng) {
    for i in (1..items.len()).rev() {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes);
        // The modulo bias over 64 bits for at most a hundred candidates is negligible.
        let j = (u64::from_le_bytes(bytes) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn contest_fields(
    definition: &BallotDefinition,
    submitted: &[(String, String)],
    error: Option<&(String, String)>,
    rng: &dyn Rng,
) -> Vec<ContestField> {
    let chosen = |field: &str, value: &str| {
        submitted
            .iter()
            .any(|(k, v)| k.as_str() == field && v.as_str() == value)
    };
    definition
        .contests
        .iter()
        .map(|contest| {
            let name = field(contest);
            let option = |value: String, label: String| OptionField {
                id: format!("{name}-{value}"),
                checked: chosen(&name, &value),
                value,
                label,
            };
            let (election, hint, options) = match &contest.kind {
                ContestKind::Resolution { threshold } => (
                    false,
                    format!("Choose one. To pass it needs {}.", threshold.describe()),
                    [Answer::Yes, Answer::No, Answer::Abstain]
                        .iter()
                        .map(|a| option(a.label().to_lowercase(), a.label().to_owned()))
                        .collect(),
                ),
                ContestKind::Election {
                    seats,
                    candidates,
                    shuffle: random,
                } => {
                    let mut options: Vec<OptionField> = candidates
                        .iter()
                        .map(|c| option(c.id.to_string(), c.name.clone()))
                        .collect();
                    if *random {
                        shuffle(&mut options, rng);
                    }
                    let order = if *random {
                        " Candidates are listed in a random order."
                    } else {
                        ""
                    };
                    (
                        true,
                        format!("Choose up to {seats}. You may choose fewer.{order}"),
                        options,
                    )
                }
            };
            ContestField {
                error: error
                    .filter(|(title, _)| *title == contest.title)
                    .map(|(_, message)| message.clone()),
                field: name,
                title: contest.title.clone(),
                description: contest.description.clone(),
                election,
                hint,
                options,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "vote/form.html")]
struct FormPage {
    chrome: Chrome,
    ballot_id: String,
    title: String,
    organization: String,
    unit_id: String,
    unit_label: String,
    closes: String,
    definition: String,
    secret: bool,
    /// For a weighted ballot, the voting interest this unit's vote counts with.
    weight: Option<String>,
    contests: Vec<ContestField>,
    errors: Vec<FieldError>,
}

impl FormPage {
    fn new(
        chrome: Chrome,
        my: &MyBallot,
        unit: &Unit,
        weight: Option<Weight>,
        submitted: &[(String, String)],
        error: Option<(String, String)>,
        rng: &dyn Rng,
    ) -> Self {
        let ballot = &my.ballot;
        let d = &ballot.definition;
        let contests = contest_fields(d, submitted, error.as_ref(), rng);
        let errors = error
            .map(|(title, message)| FieldError {
                anchor: contests
                    .iter()
                    .find(|c| c.title == title)
                    .or(contests.first())
                    .and_then(|c| c.options.first())
                    .map(|o| o.id.clone())
                    .unwrap_or_default(),
                message,
            })
            .into_iter()
            .collect();
        Self {
            chrome,
            ballot_id: ballot.id().to_string(),
            title: d.title.clone(),
            organization: my.organization.clone(),
            unit_id: unit.id.to_string(),
            unit_label: unit.label.to_string(),
            closes: ballot.local(d.closes_at),
            definition: ballot.stored.definition_hash.to_hex(),
            secret: d.secrecy == Secrecy::Secret,
            weight: weight.map(|w| w.to_string()),
            contests,
            errors,
        }
    }
}

/// The page shown instead of the form when the unit cannot vote online now.
#[derive(Template)]
#[template(path = "vote/cannot.html")]
struct CannotPage {
    chrome: Chrome,
    back: String,
    ballot_id: String,
    /// What stands in the way, as one sentence.
    reason: String,
    code: &'static str,
    unit_id: String,
    unit_label: String,
    consent_form: bool,
}

/// My ballot, and my unit on it with its state; not mine → refused.
async fn my_unit(
    state: &AppState,
    actor: &Actor,
    ballot: BallotId,
    unit: UnitId,
) -> Result<(MyBallot, Unit, UnitBallotState), AppError> {
    let my = state.cista.my_ballot(actor, ballot).await?;
    let (unit, unit_state) = my
        .units
        .iter()
        .find(|(u, _)| u.id == unit)
        .cloned()
        .ok_or_else(|| {
            AppError(Error::from(VotingError::NotEligible(
                "you are not an owner of this unit in this association".to_owned(),
            )))
        })?;
    Ok((my, unit, unit_state))
}

fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    headers: HeaderMap,
    Path((ballot, unit)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (ballot, unit) = (ballot_id(&ballot)?, unit_id(&unit)?);
    let (my, unit, unit_state) = my_unit(&state, &actor, ballot, unit).await?;
    let chrome = Chrome::new(&ctx, &state);
    let now = state.cista.clock().now();
    if let UnitBallotState::Voted(first) = &unit_state {
        // Back to the form after voting (the back button): the receipt while it lasts, or
        // what the unit's vote was, never a refusal.
        return voted_page(&state, &ctx, &headers, &actor, &my, &unit, first).await;
    }
    if let Some(refusal) = unit_state.refusal(&my.ballot, unit.label.as_str(), now) {
        return cannot_page(&state, &ctx, &my, &unit, &unit_state, &refusal.into());
    }
    let weight = state.cista.counted_weight(&my.ballot, unit.id).await?;
    render(
        StatusCode::OK,
        FormPage::new(
            chrome,
            &my,
            &unit,
            weight,
            &[],
            None,
            state.cista.rng().as_ref(),
        ),
    )
}

/// The friendly page instead of the form when the unit cannot vote online now: what stands
/// in the way and the next step (consent, paper, the ballot list).
fn cannot_page(
    state: &AppState,
    ctx: &RequestContext,
    my: &MyBallot,
    unit: &Unit,
    unit_state: &UnitBallotState,
    refusal: &Error,
) -> Result<Response, AppError> {
    let now = state.cista.clock().now();
    let ballot = my.ballot.id();
    let consent_form =
        matches!(unit_state, UnitBallotState::Paper(_)) && my.ballot.accepts_votes(now);
    render(
        status_for(refusal.class()),
        CannotPage {
            chrome: Chrome::new(ctx, state),
            back: format!("/vote/{ballot}"),
            ballot_id: ballot.to_string(),
            reason: sentence(&refusal.public_message()),
            code: refusal.code(),
            unit_id: unit.id.to_string(),
            unit_label: unit.label.to_string(),
            consent_form,
        },
    )
}

/// The name of the cookie that carries one unit's receipt on one ballot.
fn receipt_cookie(ballot: BallotId, unit: UnitId) -> String {
    format!("__Host-cista_receipt_{ballot}_{unit}")
}

/// The receipt sealed into this browser for this ballot and unit, if it is still there.
async fn sealed_receipt(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    actor: &Actor,
    ballot: BallotId,
    unit: UnitId,
) -> Result<Option<Receipt>, AppError> {
    let (Some(session), Some(sealed)) = (
        ctx.session_token.as_deref(),
        cookie_value(headers, &receipt_cookie(ballot, unit)),
    ) else {
        return Ok(None);
    };
    Ok(state
        .cista
        .open_receipt(actor, ballot, unit, session, &sealed)
        .await?)
}

/// A unit that voted: its receipt while this browser still holds it, otherwise when and how
/// it voted and why the receipt cannot be shown again.
async fn voted_page(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    actor: &Actor,
    my: &MyBallot,
    unit: &Unit,
    first: &cista_core::ports::Participation,
) -> Result<Response, AppError> {
    let ballot = my.ballot.id();
    if let Some(receipt) = sealed_receipt(state, ctx, headers, actor, ballot, unit.id).await? {
        return render(
            StatusCode::OK,
            ReceiptPage::new(Chrome::new(ctx, state), &state.public_origin, receipt),
        );
    }
    let d = &my.ballot.definition;
    render(
        StatusCode::OK,
        VotedPage {
            chrome: Chrome::new(ctx, state),
            ballot_id: ballot.to_string(),
            ballot_title: d.title.clone(),
            unit_label: unit.label.to_string(),
            when: my.ballot.local(first.at),
            how: first.channel.describe(),
            secret: d.secrecy == Secrecy::Secret,
        },
    )
}

/// The receipt page after a cast's redirect (and on reload).
pub async fn receipt(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    headers: HeaderMap,
    Path((ballot, unit)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (ballot, unit) = (ballot_id(&ballot)?, unit_id(&unit)?);
    let (my, unit, unit_state) = my_unit(&state, &actor, ballot, unit).await?;
    match &unit_state {
        UnitBallotState::Voted(first) => {
            voted_page(&state, &ctx, &headers, &actor, &my, &unit, first).await
        }
        _ => Ok(see_other(&format!("/vote/{ballot}/unit/{}", unit.id))),
    }
}

/// What a unit's vote was when its receipt is no longer in this browser.
#[derive(Template)]
#[template(path = "vote/voted.html")]
struct VotedPage {
    chrome: Chrome,
    ballot_id: String,
    ballot_title: String,
    unit_label: String,
    when: String,
    how: &'static str,
    secret: bool,
}

struct ChoiceLine {
    contest: String,
    chosen: String,
}

#[derive(Template)]
#[template(path = "vote/receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    organization: String,
    ballot_id: String,
    ballot_title: String,
    unit: String,
    tracker: String,
    cast_at: String,
    channel: &'static str,
    secret: bool,
    choices: Vec<ChoiceLine>,
    definition_hash: String,
    bulletin_url: String,
    signed: String,
    download_name: String,
    download_href: String,
}

impl ReceiptPage {
    fn new(chrome: Chrome, public_origin: &str, receipt: Receipt) -> Self {
        let tracker = receipt.tracker.to_string();
        let ballot_id = receipt.ballot.to_string();
        let bulletin_url = format!("{public_origin}/e/{ballot_id}/bulletin");
        let choices: Vec<ChoiceLine> = receipt
            .choices
            .into_iter()
            .map(|(contest, chosen)| ChoiceLine {
                contest,
                chosen: chosen.join(", "),
            })
            .collect();
        // The download is what the page shows: the readable part (unit, time, choices; not
        // signed), then the signed part (ballot, tracker, checkpoint; see the core).
        let mut text = format!(
            "{}\n{}\nUnit {}\nCast on {} ({})\nTracker {tracker}\n",
            receipt.organization,
            receipt.ballot_title,
            receipt.unit,
            receipt.cast_at_local,
            receipt.channel.describe()
        );
        for c in &choices {
            text.push_str(&format!("{}: {}\n", c.contest, c.chosen));
        }
        text.push_str(&format!(
            "Find your tracker on the bulletin after the close: {bulletin_url}\n\n{}",
            receipt.signed
        ));
        Self {
            chrome,
            organization: receipt.organization,
            ballot_title: receipt.ballot_title,
            unit: receipt.unit,
            cast_at: receipt.cast_at_local,
            channel: receipt.channel.describe(),
            secret: receipt.secrecy == Secrecy::Secret,
            choices,
            definition_hash: receipt.definition_hash.to_hex(),
            download_name: format!("cista-receipt-{tracker}.txt"),
            download_href: format!(
                "data:text/plain;charset=utf-8;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
            ),
            signed: receipt.signed,
            bulletin_url,
            ballot_id,
            tracker,
        }
    }
}

/// Casts the vote, then sends the browser to the receipt (Post/Redirect/Get). A repeat of the
/// same form gets the first cast's receipt; a unit that voted before gets the friendly page
/// saying when and how.
#[allow(clippy::too_many_arguments)]
pub async fn cast(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    submission: Option<Extension<FormSubmission>>,
    Path((ballot, unit)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (ballot, unit) = (ballot_id(&ballot)?, unit_id(&unit)?);
    let mut definition_hash = None;
    let mut fields = Vec::with_capacity(form.len());
    for (name, value) in form {
        match name.as_str() {
            crate::web::csrf::FIELD => {}
            "definition" => {
                definition_hash.get_or_insert(value);
            }
            _ => fields.push((name, value)),
        }
    }
    let request = CastRequest {
        ballot,
        unit,
        definition_hash: definition_hash.unwrap_or_default(),
        fields,
        origin: vote_origin(&headers, peer.map(|Extension(ConnectInfo(addr))| addr)),
        submission: submission.map(|Extension(FormSubmission(id))| id),
    };
    let submitted = request.fields.clone();
    match state.cista.cast_vote(&actor, request).await {
        Ok(receipt) => Ok(receipt_redirect(&state, &ctx, unit, receipt)),
        Err(Error::InvalidInput { field, reason }) => {
            let (my, unit, _) = my_unit(&state, &actor, ballot, unit).await?;
            let weight = state.cista.counted_weight(&my.ballot, unit.id).await?;
            let message = format!("{field} {reason}.");
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage::new(
                    Chrome::new(&ctx, &state),
                    &my,
                    &unit,
                    weight,
                    &submitted,
                    Some((field, message)),
                    state.cista.rng().as_ref(),
                ),
            )
        }
        Err(
            refusal @ (Error::Voting(VotingError::AlreadyVoted(_))
            | Error::Voting(VotingError::BallotNotOpen(_))
            | Error::Voting(VotingError::ConsentRequired(_))
            | Error::Voting(VotingError::BallotChanged)),
        ) => {
            // Refusals an owner meets in normal use: a page with the next step.
            let (my, unit, unit_state) = my_unit(&state, &actor, ballot, unit).await?;
            cannot_page(&state, &ctx, &my, &unit, &unit_state, &refusal)
        }
        Err(e) => Err(AppError(e)),
    }
}

/// The 303 to the receipt page, with the receipt sealed into this browser's session. Should
/// the receipt not fit in a cookie (a ballot with very many contests), it is this response.
fn receipt_redirect(
    state: &AppState,
    ctx: &RequestContext,
    unit: UnitId,
    receipt: Receipt,
) -> Response {
    let ballot = receipt.ballot;
    let sealed = ctx
        .session_token
        .as_deref()
        .map(|session| state.cista.seal_receipt(&receipt, unit, session));
    let cookie = match sealed {
        Some(Ok(value)) => sealed_cookie(&receipt_cookie(ballot, unit), &value, RECEIPT_TTL)
            .filter(|c| c.len() < 4000),
        Some(Err(e)) => {
            tracing::warn!(cause = %e.chain(), "could not seal a receipt");
            None
        }
        None => None,
    };
    match cookie {
        Some(cookie) => {
            let mut response = see_other(&format!("/vote/{ballot}/unit/{unit}/receipt"));
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        None => render(
            StatusCode::OK,
            ReceiptPage::new(Chrome::new(ctx, state), &state.public_origin, receipt),
        )
        .unwrap_or_else(|e| e.into_response()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cista_types::SeededRng;

    #[test]
    fn a_shuffle_keeps_every_item_and_changes_the_order_sometimes() {
        let rng = SeededRng::new(3);
        let mut orders = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let mut items = vec![1, 2, 3, 4];
            shuffle(&mut items, &rng);
            let mut sorted = items.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![1, 2, 3, 4]);
            orders.insert(items);
        }
        assert!(orders.len() > 1);
        let mut none: Vec<u8> = Vec::new();
        shuffle(&mut none, &rng);
        let mut one = vec![7];
        shuffle(&mut one, &rng);
        assert_eq!(one, vec![7]);
    }
}
