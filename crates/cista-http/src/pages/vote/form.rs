//! The ballot form for one unit, the cast, and the receipt. The form carries the hash of the
//! exact definition it was made from (FL-04); the receipt exists only in the response to the
//! cast (FL-05): nothing here stores or logs the choices.

use super::states;
use super::{ContestLine, ballot_id, unit_id};
use crate::AppState;
use crate::context::{RequestContext, vote_origin};
use crate::error::{AppError, status_for};
use crate::pages::chrome::{Chrome, person_or_redirect, person_or_refuse, render, see_other};
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use base64::Engine as _;
use cista_core::ports::Unit;
use cista_core::voting::cast::{CastRequest, Receipt};
use cista_core::voting::definition::{Answer, BallotDefinition, Contest, ContestKind, Secrecy};
use cista_core::voting::units::{MyBallot, UnitBallotState};
use cista_core::{Actor, Error};
use cista_types::{BallotId, Rng, UnitId};
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
    contests: Vec<ContestField>,
    errors: Vec<FieldError>,
}

impl FormPage {
    fn new(
        chrome: Chrome,
        my: &MyBallot,
        unit: &Unit,
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
    heading: String,
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
            AppError(Error::NotEligible(
                "you are not an owner of this unit in this association".to_owned(),
            ))
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
    Path((ballot, unit)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (actor, _) = match person_or_redirect(&ctx) {
        Ok(found) => found,
        Err(to) => return Ok(see_other(to)),
    };
    let (ballot, unit) = (ballot_id(&ballot)?, unit_id(&unit)?);
    let (my, unit, unit_state) = my_unit(&state, &actor, ballot, unit).await?;
    let chrome = Chrome::new(&ctx, &state);
    let now = state.cista.clock().now();
    if let Some(refusal) = states::refusal(&my.ballot, &unit, &unit_state, now) {
        let consent_form =
            matches!(unit_state, UnitBallotState::Paper(_)) && my.ballot.accepts_votes(now);
        return render(
            status_for(refusal.class()),
            CannotPage {
                chrome,
                back: format!("/vote/{ballot}"),
                ballot_id: ballot.to_string(),
                heading: sentence(&refusal.public_message()),
                code: refusal.code(),
                unit_id: unit.id.to_string(),
                unit_label: unit.label.to_string(),
                consent_form,
            },
        );
    }
    render(
        StatusCode::OK,
        FormPage::new(chrome, &my, &unit, &[], None, state.cista.rng().as_ref()),
    )
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
    signed: String,
    download_name: String,
    download_href: String,
}

impl ReceiptPage {
    fn new(chrome: Chrome, receipt: Receipt) -> Self {
        let tracker = receipt.tracker.to_string();
        Self {
            chrome,
            organization: receipt.organization,
            ballot_id: receipt.ballot.to_string(),
            ballot_title: receipt.ballot_title,
            unit: receipt.unit,
            cast_at: receipt.cast_at_local,
            channel: receipt.channel.describe(),
            secret: receipt.secrecy == Secrecy::Secret,
            choices: receipt
                .choices
                .into_iter()
                .map(|(contest, chosen)| ChoiceLine {
                    contest,
                    chosen: chosen.join(", "),
                })
                .collect(),
            definition_hash: receipt.definition_hash.to_hex(),
            download_name: format!("cista-receipt-{tracker}.txt"),
            download_href: format!(
                "data:text/plain;charset=utf-8;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(receipt.signed.as_bytes())
            ),
            signed: receipt.signed,
            tracker,
        }
    }
}

/// Casts the vote: on success the receipt is this response, and only this response.
pub async fn cast(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Path((ballot, unit)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (actor, _) = person_or_refuse(&ctx)?;
    let (ballot, unit) = (ballot_id(&ballot)?, unit_id(&unit)?);
    let mut definition_hash = None;
    let mut fields = Vec::with_capacity(form.len());
    for (name, value) in form {
        match name.as_str() {
            crate::csrf::FIELD => {}
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
    };
    let submitted = request.fields.clone();
    match state.cista.cast_vote(&actor, request).await {
        Ok(receipt) => render(
            StatusCode::OK,
            ReceiptPage::new(Chrome::new(&ctx, &state), receipt),
        ),
        Err(Error::InvalidInput { field, reason }) => {
            let (my, unit, _) = my_unit(&state, &actor, ballot, unit).await?;
            let message = format!("{field} {reason}.");
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage::new(
                    Chrome::new(&ctx, &state),
                    &my,
                    &unit,
                    &submitted,
                    Some((field, message)),
                    state.cista.rng().as_ref(),
                ),
            )
        }
        Err(e) => Err(AppError(e)),
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
