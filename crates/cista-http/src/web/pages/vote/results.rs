//! A closed ballot's results as tables, for the owners' ballot page and the public bulletin.
//! Built only from `BallotResults`, which exist only once the ballot is closed (FL-09).

use cista_core::products::voting::bundle::BallotResults;
use cista_core::products::voting::definition::{BallotDefinition, Weighting};
use cista_core::products::voting::summary::{ContestSummary, ResultsSummary};
use cista_core::products::voting::tally::{ContestResult, OptionCount, Turnout};
use cista_types::voting::format_weight_sum;

/// One row of a contest's table: an answer or a candidate.
pub(crate) struct OptionRow {
    pub label: String,
    pub ballots: u64,
    pub weight: String,
    /// "Elected", "Tied" or empty.
    pub mark: &'static str,
}

pub(crate) struct ContestView {
    pub title: String,
    pub election: bool,
    /// What the contest needed: the threshold, or the number of seats.
    pub rule: String,
    pub rows: Vec<OptionRow>,
    /// The outcome in one sentence.
    pub outcome: String,
    pub passed: bool,
    /// For a tie for the last seat(s): who is tied.
    pub tie: Option<String>,
    pub blank: Option<u64>,
}

pub(crate) struct TurnoutView {
    pub voted_units: u64,
    pub eligible_units: u64,
    pub voted_weight: String,
    pub eligible_weight: String,
    pub online: u64,
    pub sms: u64,
    pub paper: u64,
    pub quorum: String,
    pub quorum_reached: bool,
    pub min_turnout: Option<String>,
    pub min_turnout_reached: bool,
}

pub(crate) struct ResultsView {
    pub closed_at: String,
    pub counted: u64,
    pub weighted: bool,
    pub turnout: TurnoutView,
    pub contests: Vec<ContestView>,
}

fn weight(micros: i64) -> String {
    format_weight_sum(i128::from(micros))
}

fn row(label: &str, count: &OptionCount, mark: &'static str) -> OptionRow {
    OptionRow {
        label: label.to_owned(),
        ballots: count.ballots,
        weight: weight(count.weight),
        mark,
    }
}

fn turnout(t: &Turnout, results: &BallotResults) -> TurnoutView {
    let tally = &results.tally;
    TurnoutView {
        voted_units: t.voted_units,
        eligible_units: t.eligible_units,
        voted_weight: weight(t.voted_weight),
        eligible_weight: weight(t.eligible_weight),
        online: t.web,
        sms: t.sms_session,
        paper: t.paper,
        quorum: tally.quorum.to_string(),
        quorum_reached: tally.quorum_reached,
        min_turnout: tally.min_turnout.map(|p| p.to_string()),
        min_turnout_reached: tally.min_turnout_reached.unwrap_or(true),
    }
}

/// One contest: figures from the tally, words from the `ResultsSummary` that the staff page
/// and the certified PDF print too.
fn contest(c: &ContestResult, summary: ContestSummary) -> ContestView {
    let outcome = summary.line();
    let tie = [summary.tie.as_deref(), summary.open_seats.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let tie = (!tie.is_empty()).then(|| tie.join(" "));
    match c {
        ContestResult::Resolution {
            title,
            yes,
            no,
            abstain,
            threshold,
            ..
        } => ContestView {
            title: title.clone(),
            election: false,
            rule: format!("Needs {}.", threshold.describe()),
            rows: vec![
                row("Yes", yes, ""),
                row("No", no, ""),
                row("Abstain", abstain, ""),
            ],
            outcome,
            passed: summary.ok,
            tie,
            blank: None,
        },
        ContestResult::Election {
            title,
            seats,
            candidates,
            blank,
            ..
        } => {
            let rows = candidates
                .iter()
                .zip(&summary.marks)
                .map(|(c, mark)| row(&c.name, &c.votes, mark))
                .collect();
            ContestView {
                title: title.clone(),
                election: true,
                rule: if *seats == 1 {
                    "One seat: the candidate with the most votes is elected.".to_owned()
                } else {
                    format!(
                        "{seats} seats: the {seats} candidates with the most votes are elected."
                    )
                },
                rows,
                outcome,
                passed: summary.ok && candidates.iter().any(|c| c.elected),
                tie,
                blank: Some(*blank),
            }
        }
    }
}

impl ResultsView {
    pub(crate) fn of(definition: &BallotDefinition, results: &BallotResults) -> Self {
        let tally = &results.tally;
        Self {
            closed_at: definition.time_zone.format(results.closed_at),
            counted: tally.ballots_counted,
            weighted: definition.weighting == Weighting::Weighted,
            turnout: turnout(&tally.turnout, results),
            contests: tally
                .contests
                .iter()
                .zip(ResultsSummary::of(tally).contests)
                .map(|(c, summary)| contest(c, summary))
                .collect(),
        }
    }
}
