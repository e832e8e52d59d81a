//! Where one of my units stands on one ballot, in words: what the owner can do now (vote,
//! consent, vote on paper). When the unit cannot vote online the form page answers with the
//! core's coded refusal (`UnitBallotState::refusal`), the same the cast would give.

use cista_core::ports::{BallotStatus, ConsentStatus, Unit};
use cista_core::products::voting::Window;
use cista_core::products::voting::units::{MyBallot, UnitBallotState};
use cista_types::Timestamp;

/// One unit on one ballot, as its owner sees it.
pub(crate) struct UnitLine {
    pub id: String,
    pub label: String,
    /// A short status: "Not voted yet", "Voted", "Paper ballot", …
    pub status: &'static str,
    /// `ok`, `todo` or `info`: how the status is shown.
    pub tone: &'static str,
    pub text: String,
    /// The ballot form, when this unit can vote now.
    pub vote_href: Option<String>,
    /// Whether to offer the consent form (the unit votes on paper for want of consent).
    pub consent_form: bool,
}

const PAPER: &str = "ask the association's office for a paper ballot";

/// The line for `unit` on `my` ballot at `now`.
pub(crate) fn unit_line(
    my: &MyBallot,
    unit: &Unit,
    state: &UnitBallotState,
    now: Timestamp,
) -> UnitLine {
    let ballot = &my.ballot;
    let label = unit.label.to_string();
    let open = ballot.accepts_votes(now);
    let still_ahead = ballot.status() == BallotStatus::Published && my.window != Window::Over;
    let mut line = UnitLine {
        id: unit.id.to_string(),
        label: label.clone(),
        status: "",
        tone: "info",
        text: String::new(),
        vote_href: None,
        consent_form: false,
    };
    match state {
        UnitBallotState::CanVote if open => {
            line.status = "Not voted yet";
            line.tone = "todo";
            line.text = format!("You vote for unit {label}.");
            line.vote_href = Some(format!("/vote/{}/unit/{}", ballot.id(), unit.id));
        }
        UnitBallotState::CanVote if my.window == Window::NotYetOpen => {
            line.status = "Not open yet";
            line.text = format!(
                "You vote for unit {label} once voting opens on {}.",
                ballot.local(ballot.definition.opens_at)
            );
        }
        UnitBallotState::CanVote => {
            line.status = "Did not vote";
            line.text = format!(
                "Unit {label} did not vote: voting closed on {}.",
                ballot.local(ballot.definition.closes_at)
            );
        }
        UnitBallotState::Voted(p) => {
            line.status = "Voted";
            line.tone = "ok";
            line.text = format!("Voted on {}, {}.", ballot.local(p.at), p.channel.describe());
        }
        UnitBallotState::Paper(consent) => {
            line.status = "Paper ballot";
            line.tone = "todo";
            line.text = paper_reason(&label, *consent);
            if still_ahead {
                line.text.push_str(match consent {
                    ConsentStatus::OptedOut => {
                        " To vote online instead, you can consent to online voting again."
                    }
                    _ => " To vote online instead, give your consent to online voting.",
                });
                line.consent_form = true;
            }
        }
        UnitBallotState::NotDesignated => {
            line.status = "Another owner votes";
            line.text =
                format!("Another owner votes for unit {label}: they are its designated voter.");
        }
        UnitBallotState::NotOnRoll => {
            line.status = "Not on this ballot";
            line.text = format!(
                "Unit {label} is not on this ballot's roll: it was added after the ballot was \
                 published, so it does not vote on this ballot."
            );
        }
    }
    line
}

/// Why a unit without online consent votes on paper (FL-01).
fn paper_reason(label: &str, consent: ConsentStatus) -> String {
    match consent {
        ConsentStatus::OptedOut => {
            format!("Unit {label} opted out of online voting, so it votes on paper: {PAPER}.")
        }
        _ => format!(
            "Unit {label} has no consent to online voting on record, so it votes on paper: \
             {PAPER}."
        ),
    }
}
