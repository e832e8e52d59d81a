//! The words of a closed ballot's outcome, written once: the member's results page, the staff
//! ballot page and the certified results PDF all print these, so the three never disagree on
//! whether something passed, why, or who is elected. The PDF sets the verdicts in capitals;
//! the words are the same.

use super::tally::{ContestResult, Tally};
use cista_types::words::count;

/// The outcome of every contest of a ballot, in the tally's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsSummary {
    pub contests: Vec<ContestSummary>,
}

/// The outcome of one contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContestSummary {
    /// Whether the contest is an election (else a resolution).
    pub election: bool,
    /// `Passed` or `Not passed` (a resolution); `Valid` or `Not valid` (an election).
    pub verdict: &'static str,
    /// A few words that qualify a verdict when they are the first thing to know: without a
    /// quorum nothing passes, whatever the votes (`quorum not reached`).
    pub qualifier: Option<&'static str>,
    /// Whether the resolution passed, or the election is valid.
    pub ok: bool,
    /// Why, in one sentence. For a resolution it starts with a capital (`Yes reached …`);
    /// for an election it follows the verdict after a colon (`the quorum was reached.`).
    pub reason: String,
    /// Who is elected, in a valid election that elected someone: `Elected: Ana Diaz, Bo Li.`
    pub elected: Option<String>,
    /// Each candidate's mark, in the tally's order: `Elected`, `Tied` or empty. Empty for a
    /// resolution.
    pub marks: Vec<&'static str>,
    /// A tie for the last seat(s) and who is in it; `None` without one (or in an invalid
    /// election, where nobody is elected).
    pub tie: Option<String>,
    /// Seats the tie leaves open (`1 of 3 seats is left open.`).
    pub open_seats: Option<String>,
}

impl ContestSummary {
    /// The verdict with its qualifier: `Not passed: quorum not reached`.
    pub fn headline(&self) -> String {
        match self.qualifier {
            Some(q) => format!("{}: {q}", self.verdict),
            None => self.verdict.to_owned(),
        }
    }

    /// The whole outcome as one line for a page: `Passed. Yes reached a majority of the
    /// votes cast, and the quorum was reached.`, `Valid: the quorum was reached. Elected: Ana
    /// Diaz.`
    pub fn line(&self) -> String {
        if self.election {
            match &self.elected {
                Some(elected) => format!("{}: {} {elected}", self.headline(), self.reason),
                None => format!("{}: {}", self.headline(), self.reason),
            }
        } else {
            format!("{}. {}", self.headline(), self.reason)
        }
    }
}

impl ResultsSummary {
    /// The words for `tally`.
    pub fn of(tally: &Tally) -> Self {
        Self {
            contests: tally.contests.iter().map(|c| contest(tally, c)).collect(),
        }
    }
}

fn contest(tally: &Tally, c: &ContestResult) -> ContestSummary {
    match c {
        ContestResult::Resolution {
            threshold,
            threshold_met,
            passed,
            ..
        } => {
            let need = threshold.describe();
            let reason = match (*threshold_met, tally.quorum_reached) {
                (true, true) => format!("Yes reached {need}, and the quorum was reached."),
                (false, true) => format!("Yes did not reach {need}."),
                (true, false) => format!("Yes reached {need}, but the quorum was not reached."),
                (false, false) => {
                    format!("Yes did not reach {need}, and the quorum was not reached.")
                }
            };
            ContestSummary {
                election: false,
                verdict: if *passed { "Passed" } else { "Not passed" },
                qualifier: (!passed && !tally.quorum_reached).then_some("quorum not reached"),
                ok: *passed,
                reason,
                elected: None,
                marks: Vec::new(),
                tie: None,
                open_seats: None,
            }
        }
        ContestResult::Election {
            seats,
            candidates,
            tied,
            open_seats,
            valid,
            ..
        } => {
            let min_turnout_missed = tally.min_turnout_reached == Some(false);
            let reason = match (*valid, tally.quorum_reached, min_turnout_missed) {
                (true, _, _) if tally.min_turnout.is_some() => {
                    "the quorum and the minimum turnout were reached.".to_owned()
                }
                (true, _, _) => "the quorum was reached.".to_owned(),
                (false, false, true) => "neither the quorum nor the minimum turnout was \
                                         reached; nobody is elected."
                    .to_owned(),
                (false, false, false) => {
                    "the quorum was not reached; nobody is elected.".to_owned()
                }
                (false, true, _) => {
                    "the minimum turnout was not reached; nobody is elected.".to_owned()
                }
            };
            let names: Vec<&str> = candidates
                .iter()
                .filter(|k| k.elected)
                .map(|k| k.name.as_str())
                .collect();
            let elected =
                (*valid && !names.is_empty()).then(|| format!("Elected: {}.", names.join(", ")));
            let marks = candidates
                .iter()
                .map(|k| {
                    if k.elected {
                        "Elected"
                    } else if *valid && tied.contains(&k.id) {
                        "Tied"
                    } else {
                        ""
                    }
                })
                .collect();
            // A tie only matters in a valid election; in an invalid one nobody is elected.
            let tie = (*valid && !tied.is_empty()).then(|| {
                let names: Vec<&str> = candidates
                    .iter()
                    .filter(|k| tied.contains(&k.id))
                    .map(|k| k.name.as_str())
                    .collect();
                format!(
                    "Tie for the last {} between {}: decided by the association's rules.",
                    if *open_seats == 1 { "seat" } else { "seats" },
                    names.join(", ")
                )
            });
            let open_seats = (*open_seats > 0).then(|| {
                let verb = if *open_seats == 1 { "is" } else { "are" };
                format!(
                    "{open_seats} of {} {verb} left open.",
                    count(u64::from(*seats), "seat", "seats")
                )
            });
            ContestSummary {
                election: true,
                verdict: if *valid { "Valid" } else { "Not valid" },
                qualifier: None,
                ok: *valid,
                reason,
                elected,
                marks,
                tie,
                open_seats,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::products::voting::definition::Threshold;
    use crate::products::voting::tally::{CandidateResult, OptionCount, Turnout};
    use cista_types::Percent;

    fn votes(ballots: u64) -> OptionCount {
        OptionCount {
            ballots,
            weight: ballots as i64 * 1_000_000,
        }
    }

    fn candidate(id: u32, name: &str, ballots: u64, elected: bool) -> CandidateResult {
        CandidateResult {
            id,
            name: name.into(),
            votes: votes(ballots),
            elected,
        }
    }

    fn tally(quorum_reached: bool, min_turnout_reached: Option<bool>) -> Tally {
        Tally {
            turnout: Turnout {
                eligible_units: 10,
                eligible_weight: 10_000_000,
                voted_units: 6,
                voted_weight: 6_000_000,
                web: 6,
                sms_session: 0,
                paper: 0,
            },
            quorum: Percent::parse("50").unwrap(),
            quorum_reached,
            min_turnout: min_turnout_reached.map(|_| Percent::parse("20").unwrap()),
            min_turnout_reached,
            ballots_counted: 6,
            contests: vec![
                ContestResult::Resolution {
                    contest: 1,
                    title: "Roof".into(),
                    yes: votes(5),
                    no: votes(1),
                    abstain: votes(0),
                    threshold: Threshold::TwoThirdsOfCast,
                    threshold_met: true,
                    passed: quorum_reached,
                },
                ContestResult::Election {
                    contest: 2,
                    title: "Board".into(),
                    seats: 2,
                    candidates: vec![
                        candidate(1, "Ana", 4, quorum_reached),
                        candidate(2, "Bo", 2, false),
                        candidate(3, "Cy", 2, false),
                    ],
                    tied: vec![2, 3],
                    open_seats: 1,
                    blank: 0,
                    valid: quorum_reached,
                },
            ],
        }
    }

    #[test]
    fn a_passed_resolution_and_a_tied_election_read_the_same_everywhere() {
        let summary = ResultsSummary::of(&tally(true, Some(true)));
        let resolution = &summary.contests[0];
        assert!(resolution.ok && !resolution.election);
        assert_eq!(
            resolution.line(),
            "Passed. Yes reached two thirds of the votes cast, and the quorum was reached."
        );
        let election = &summary.contests[1];
        assert_eq!(
            election.line(),
            "Valid: the quorum and the minimum turnout were reached. Elected: Ana."
        );
        assert_eq!(election.marks, vec!["Elected", "Tied", "Tied"]);
        assert_eq!(
            election.tie.as_deref(),
            Some("Tie for the last seat between Bo, Cy: decided by the association's rules.")
        );
        assert_eq!(
            election.open_seats.as_deref(),
            Some("1 of 2 seats is left open.")
        );
    }

    #[test]
    fn without_a_quorum_nothing_passes_and_nobody_is_elected_and_that_comes_first() {
        let summary = ResultsSummary::of(&tally(false, Some(true)));
        let resolution = &summary.contests[0];
        assert!(!resolution.ok);
        assert_eq!(resolution.headline(), "Not passed: quorum not reached");
        assert_eq!(
            resolution.reason,
            "Yes reached two thirds of the votes cast, but the quorum was not reached."
        );
        let election = &summary.contests[1];
        assert_eq!(
            election.line(),
            "Not valid: the quorum was not reached; nobody is elected."
        );
        // In an invalid election a tie decides nothing: no tie, no marks.
        assert_eq!(election.tie, None);
        assert_eq!(election.elected, None);
        assert_eq!(election.marks, vec!["", "", ""]);

        let both = ResultsSummary::of(&tally(false, Some(false)));
        assert_eq!(
            both.contests[1].reason,
            "neither the quorum nor the minimum turnout was reached; nobody is elected."
        );
    }
}
