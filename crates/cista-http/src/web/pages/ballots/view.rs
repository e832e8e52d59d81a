//! What the ballot pages show, in words and plain strings: contests, turnout and quorum,
//! who took part, refused attempts, and (after the close only) the results.

use cista_core::ports::{BallotStatus, Participation, Refusal};
use cista_core::products::voting::bundle::BallotResults;
use cista_core::products::voting::close::LiveTurnout;
use cista_core::products::voting::definition::{BallotDefinition, Contest, ContestKind, Weighting};
use cista_core::products::voting::summary::ResultsSummary;
use cista_core::products::voting::tally::{ContestResult, OptionCount, Turnout};
use cista_core::products::voting::{Ballot, Window};
use cista_types::voting::format_weight_sum;
use cista_types::{Percent, TimeZoneName};

/// A contest as the pages list it (never with counts).
#[derive(Debug, Clone)]
pub struct ContestView {
    pub id: u32,
    pub title: String,
    pub description: String,
    pub election: bool,
    /// What it takes, in words: the threshold, or the seats and candidates.
    pub summary: String,
    pub seats: u32,
    pub candidates: Vec<(u32, String)>,
    pub shuffle: bool,
}

impl ContestView {
    pub fn of(c: &Contest) -> Self {
        match &c.kind {
            ContestKind::Resolution { threshold } => Self {
                id: c.id,
                title: c.title.clone(),
                description: c.description.clone(),
                election: false,
                summary: format!("Resolution: passes with {}.", threshold.describe()),
                seats: 0,
                candidates: Vec::new(),
                shuffle: false,
            },
            ContestKind::Election {
                seats,
                candidates,
                shuffle,
            } => Self {
                id: c.id,
                title: c.title.clone(),
                description: c.description.clone(),
                election: true,
                summary: format!(
                    "Election: choose up to {seats} of {} candidates; no write-ins{}.",
                    candidates.len(),
                    if *shuffle {
                        "; candidates are shown in a random order to each voter"
                    } else {
                        ""
                    }
                ),
                seats: *seats,
                candidates: candidates.iter().map(|k| (k.id, k.name.clone())).collect(),
                shuffle: *shuffle,
            },
        }
    }

    pub fn all(d: &BallotDefinition) -> Vec<Self> {
        d.contests.iter().map(Self::of).collect()
    }
}

/// Where a ballot stands, in a word or two.
pub fn status_label(ballot: &Ballot, window: Window) -> &'static str {
    match (ballot.status(), window) {
        (BallotStatus::Draft, _) => "Draft",
        (BallotStatus::Published, Window::NotYetOpen) => "Not yet open",
        (BallotStatus::Published, Window::Open) => "Open",
        (BallotStatus::Published, Window::Over) => "Closing",
        (BallotStatus::Closed, _) => "Closed",
        (BallotStatus::Cancelled, _) => "Cancelled",
    }
}

/// `part` as a share of `whole`, rounded down to hundredths of a percent.
fn share(part: i128, whole: i128) -> String {
    if whole <= 0 {
        return "0%".to_owned();
    }
    let hundredths = (part.saturating_mul(10_000) / whole).clamp(0, 10_000);
    format!(
        "{}%",
        Percent::from_hundredths(u32::try_from(hundredths).unwrap_or(10_000))
    )
}

/// Turnout and quorum, as live figures or as sealed at the close.
#[derive(Debug, Clone)]
pub struct TurnoutView {
    pub voted_units: u64,
    pub eligible_units: u64,
    pub units_share: String,
    pub voted_weight: String,
    pub eligible_weight: String,
    pub weight_share: String,
    pub weighted: bool,
    pub web: u64,
    pub sms: u64,
    pub paper: u64,
    /// `50% of all voting interests` or `30% of all units`.
    pub quorum: String,
    pub quorum_reached: bool,
    /// Empty when the ballot has no minimum turnout.
    pub min_turnout: String,
    pub min_turnout_reached: bool,
}

impl TurnoutView {
    fn build(
        t: &Turnout,
        d: &BallotDefinition,
        quorum_reached: bool,
        min_reached: Option<bool>,
    ) -> Self {
        let weighted = d.weighting == Weighting::Weighted;
        Self {
            voted_units: t.voted_units,
            eligible_units: t.eligible_units,
            units_share: share(i128::from(t.voted_units), i128::from(t.eligible_units)),
            voted_weight: format_weight_sum(i128::from(t.voted_weight)),
            eligible_weight: format_weight_sum(i128::from(t.eligible_weight)),
            weight_share: share(i128::from(t.voted_weight), i128::from(t.eligible_weight)),
            weighted,
            web: t.web,
            sms: t.sms_session,
            paper: t.paper,
            quorum: format!(
                "{}% of all {}",
                d.quorum,
                if weighted {
                    "voting interests"
                } else {
                    "units"
                }
            ),
            quorum_reached,
            min_turnout: d
                .min_turnout
                .map(|p| format!("{p}% of eligible units"))
                .unwrap_or_default(),
            min_turnout_reached: min_reached.unwrap_or(false),
        }
    }

    pub fn live(l: &LiveTurnout, d: &BallotDefinition) -> Self {
        Self::build(&l.turnout, d, l.quorum_reached, l.min_turnout_reached)
    }

    pub fn sealed(r: &BallotResults, d: &BallotDefinition) -> Self {
        Self::build(
            &r.tally.turnout,
            d,
            r.tally.quorum_reached,
            r.tally.min_turnout_reached,
        )
    }
}

/// One unit that took part.
#[derive(Debug, Clone)]
pub struct ParticipationLine {
    pub unit: String,
    pub channel: &'static str,
    pub at: String,
}

impl ParticipationLine {
    pub fn of(zone: &TimeZoneName, (unit, p): (String, Participation)) -> Self {
        Self {
            unit,
            channel: p.channel.describe(),
            at: zone.format_precise(p.at),
        }
    }
}

/// One refused attempt.
#[derive(Debug, Clone)]
pub struct RefusalLine {
    pub unit: String,
    pub channel: &'static str,
    pub at: String,
    pub reason: &'static str,
}

impl RefusalLine {
    pub fn of(zone: &TimeZoneName, (unit, r): (String, Refusal)) -> Self {
        Self {
            unit,
            channel: r.channel.describe(),
            at: zone.format_precise(r.at),
            reason: reason_words(&r.reason),
        }
    }
}

/// A refusal's code in words.
pub fn reason_words(code: &str) -> &'static str {
    match code {
        "already_voted" => "the unit had already voted",
        "ballot_not_open" => "the ballot was not open (too early, too late, or cancelled)",
        "not_eligible" => {
            "not eligible (not an owner, not the designated voter, or not on the roll)"
        }
        "consent_required" => "no consent to online voting on record",
        "ballot_changed" => "the ballot form was out of date",
        "invalid_input" => "the choices were incomplete or too many",
        "bad_request" => "the form was malformed or tampered with",
        _ => "refused",
    }
}

/// Ballots and weight for one option.
#[derive(Debug, Clone)]
pub struct CountView {
    pub ballots: u64,
    pub weight: String,
}

impl CountView {
    fn of(c: &OptionCount) -> Self {
        Self {
            ballots: c.ballots,
            weight: format_weight_sum(i128::from(c.weight)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CandidateView {
    pub name: String,
    pub votes: CountView,
    /// `Elected`, `Tied` or empty (`ContestSummary::marks`).
    pub outcome: &'static str,
}

/// One contest's result (shown only once the ballot is closed).
#[derive(Debug, Clone)]
pub struct ResultView {
    pub election: bool,
    pub title: String,
    pub yes: CountView,
    pub no: CountView,
    pub abstain: CountView,
    pub threshold: String,
    pub seats: u32,
    pub candidates: Vec<CandidateView>,
    pub blank: u64,
    /// Passed / valid.
    pub ok: bool,
    /// The outcome in a sentence, with why (`ContestSummary::line`).
    pub outcome: String,
    /// For a tie for the last seat(s) and the seats it leaves open; empty otherwise.
    pub tie: String,
}

fn zero() -> CountView {
    CountView {
        ballots: 0,
        weight: "0".to_owned(),
    }
}

impl ResultView {
    /// Each contest's figures from the tally and its words from the `ResultsSummary` that the
    /// member page and the certified PDF print too.
    pub fn all(r: &BallotResults) -> Vec<Self> {
        let tally = &r.tally;
        tally
            .contests
            .iter()
            .zip(ResultsSummary::of(tally).contests)
            .map(|(c, summary)| {
                let tie = [summary.tie.as_deref(), summary.open_seats.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                match c {
                    ContestResult::Resolution {
                        title,
                        yes,
                        no,
                        abstain,
                        threshold,
                        ..
                    } => Self {
                        election: false,
                        title: title.clone(),
                        yes: CountView::of(yes),
                        no: CountView::of(no),
                        abstain: CountView::of(abstain),
                        threshold: threshold.describe(),
                        seats: 0,
                        candidates: Vec::new(),
                        blank: 0,
                        ok: summary.ok,
                        outcome: summary.line(),
                        tie,
                    },
                    ContestResult::Election {
                        title,
                        seats,
                        candidates,
                        blank,
                        ..
                    } => Self {
                        election: true,
                        title: title.clone(),
                        yes: zero(),
                        no: zero(),
                        abstain: zero(),
                        threshold: String::new(),
                        seats: *seats,
                        candidates: candidates
                            .iter()
                            .zip(&summary.marks)
                            .map(|(k, mark)| CandidateView {
                                name: k.name.clone(),
                                votes: CountView::of(&k.votes),
                                outcome: mark,
                            })
                            .collect(),
                        blank: *blank,
                        ok: summary.ok,
                        outcome: summary.line(),
                        tie,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_down_and_survive_an_empty_roll() {
        assert_eq!(share(2, 6), "33.33%");
        assert_eq!(share(6, 6), "100%");
        assert_eq!(share(0, 0), "0%");
        assert_eq!(share(1, 3), "33.33%");
    }

    #[test]
    fn refusal_codes_read_as_words() {
        assert_eq!(reason_words("already_voted"), "the unit had already voted");
        assert_eq!(reason_words("something_new"), "refused");
    }
}
