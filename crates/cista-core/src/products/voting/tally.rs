//! Counting: the same pure function tallies at close and recounts from a published bundle.
//! Weights are integers (millionths), so every comparison with a threshold is exact.

use super::definition::{
    Answer, BallotDefinition, Candidate, Choice, Choices, Contest, ContestKind, Threshold,
    Weighting,
};
use crate::{Error, Result};
use cista_types::{Percent, Tracker, Weight};
use serde::{Deserialize, Serialize};

/// One ballot as counted and published: its tracker, the weight it carries (1 for
/// one-vote-per-unit ballots) and its choices (`bundle::PublishedBallot` is the same type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedBallot {
    pub tracker: Tracker,
    pub weight: Weight,
    pub choices: Choices,
}

/// Who could vote and who did, as totals (weights in millionths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turnout {
    pub eligible_units: u64,
    pub eligible_weight: i64,
    pub voted_units: u64,
    pub voted_weight: i64,
    pub web: u64,
    pub sms_session: u64,
    pub paper: u64,
}

impl Turnout {
    /// The base quorum is measured on: weights for a weighted ballot, units otherwise.
    pub fn quorum_measure(&self, weighting: Weighting) -> (i128, i128) {
        match weighting {
            Weighting::Weighted => (
                i128::from(self.voted_weight),
                i128::from(self.eligible_weight),
            ),
            Weighting::PerUnit => (
                i128::from(self.voted_units),
                i128::from(self.eligible_units),
            ),
        }
    }

    pub fn quorum_reached(&self, definition: &BallotDefinition) -> bool {
        let (part, whole) = self.quorum_measure(definition.weighting);
        whole > 0 && definition.quorum.reached_by(part, whole)
    }

    /// The FL-13 rule, on units (eligible voters), if the ballot has one.
    pub fn min_turnout_reached(&self, definition: &BallotDefinition) -> Option<bool> {
        definition.min_turnout.map(|p| {
            self.eligible_units > 0
                && p.reached_by(
                    i128::from(self.voted_units),
                    i128::from(self.eligible_units),
                )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionCount {
    /// Ballots that chose it.
    pub ballots: u64,
    /// Their weight (millionths); equals `ballots` × 1 000 000 for one vote per unit.
    pub weight: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateResult {
    pub id: u32,
    pub name: String,
    pub votes: OptionCount,
    pub elected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ContestResult {
    Resolution {
        contest: u32,
        title: String,
        yes: OptionCount,
        no: OptionCount,
        abstain: OptionCount,
        threshold: Threshold,
        /// Whether yes reached the threshold (before considering quorum).
        threshold_met: bool,
        /// Passed: threshold met and quorum reached.
        passed: bool,
    },
    Election {
        contest: u32,
        title: String,
        seats: u32,
        /// Highest first; ties broken only for display (by name), never for `elected`.
        candidates: Vec<CandidateResult>,
        /// Candidates tied for the last seat(s): not elected; the association's rules
        /// decide between them.
        tied: Vec<u32>,
        /// Seats the tie leaves open.
        open_seats: u32,
        /// Ballots that chose nobody in this contest.
        blank: u64,
        /// Whether the election is valid: quorum and, if set, the minimum turnout.
        valid: bool,
    },
}

/// The outcome of a ballot, as sealed at close and published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub turnout: Turnout,
    pub quorum: Percent,
    pub quorum_reached: bool,
    pub min_turnout: Option<Percent>,
    pub min_turnout_reached: Option<bool>,
    pub ballots_counted: u64,
    pub contests: Vec<ContestResult>,
}

fn add(count: &mut OptionCount, weight: Weight) -> Result<()> {
    count.ballots += 1;
    count.weight = count
        .weight
        .checked_add(weight.micros())
        .ok_or_else(|| Error::Internal("weight total overflows".to_owned()))?;
    Ok(())
}

fn zero() -> OptionCount {
    OptionCount {
        ballots: 0,
        weight: 0,
    }
}

/// What every contest of one count is measured against.
struct Counting {
    weighting: Weighting,
    quorum_reached: bool,
    min_turnout_reached: Option<bool>,
    /// All the voting interests (weights or units), for shares of all interests.
    all_interests: i128,
}

impl Counting {
    /// A count as the ballot measures it: weight for a weighted ballot, ballots otherwise.
    fn measure(&self, c: &OptionCount) -> i128 {
        match self.weighting {
            Weighting::Weighted => i128::from(c.weight),
            Weighting::PerUnit => i128::from(c.ballots),
        }
    }
}

/// Counts `ballots` under `definition`. Each ballot must match the definition exactly; the
/// number of ballots must equal the number of units that took part (a box with more ballots
/// than participants, or fewer, is an integrity failure, not a result).
pub fn tally(
    definition: &BallotDefinition,
    turnout: Turnout,
    ballots: &[CountedBallot],
) -> Result<Tally> {
    let mut counter = Counter::new(definition);
    for b in ballots {
        counter.add(b)?;
    }
    counter.finish(turnout)
}

/// A count in progress, a ballot at a time: the close folds a million-ballot box into it
/// page by page, and `finish` gives what `tally` gives over the whole list. Memory is a few
/// numbers per option, whatever the number of ballots.
#[derive(Debug)]
pub struct Counter<'d> {
    definition: &'d BallotDefinition,
    ballots: u64,
    /// One per contest, in the definition's order.
    contests: Vec<ContestCount>,
}

/// The running counts of one contest.
#[derive(Debug)]
enum ContestCount {
    Resolution {
        yes: OptionCount,
        no: OptionCount,
        abstain: OptionCount,
    },
    /// Votes per candidate in the definition's order, and ballots that chose nobody.
    Election { votes: Vec<OptionCount>, blank: u64 },
}

impl<'d> Counter<'d> {
    pub fn new(definition: &'d BallotDefinition) -> Self {
        let contests = definition
            .contests
            .iter()
            .map(|contest| match &contest.kind {
                ContestKind::Resolution { .. } => ContestCount::Resolution {
                    yes: zero(),
                    no: zero(),
                    abstain: zero(),
                },
                ContestKind::Election { candidates, .. } => ContestCount::Election {
                    votes: vec![zero(); candidates.len()],
                    blank: 0,
                },
            })
            .collect();
        Self {
            definition,
            ballots: 0,
            contests,
        }
    }

    /// Adds one ballot. Errors: `integrity` when it does not match the definition, or
    /// carries a weight on a one-vote-per-unit ballot, or a total overflows.
    pub fn add(&mut self, b: &CountedBallot) -> Result<()> {
        let definition = self.definition;
        b.choices.check(definition)?;
        if definition.weighting == Weighting::PerUnit && b.weight != Weight::ONE {
            return Err(Error::Integrity(
                "a ballot of a one-vote-per-unit ballot carries a weight".to_owned(),
            ));
        }
        for ((count, contest), choice) in self
            .contests
            .iter_mut()
            .zip(&definition.contests)
            .zip(&b.choices.0)
        {
            match (count, choice, &contest.kind) {
                (
                    ContestCount::Resolution { yes, no, abstain },
                    Choice::Answer { answer, .. },
                    _,
                ) => {
                    let slot = match answer {
                        Answer::Yes => yes,
                        Answer::No => no,
                        Answer::Abstain => abstain,
                    };
                    add(slot, b.weight)?;
                }
                (
                    ContestCount::Election { votes, blank },
                    Choice::Candidates {
                        candidates: chosen, ..
                    },
                    ContestKind::Election { candidates, .. },
                ) => {
                    if chosen.is_empty() {
                        *blank += 1;
                    }
                    for id in chosen {
                        if let Some(i) = candidates.iter().position(|c| c.id == *id)
                            && let Some(slot) = votes.get_mut(i)
                        {
                            add(slot, b.weight)?;
                        }
                    }
                }
                _ => {}
            }
        }
        self.ballots += 1;
        Ok(())
    }

    /// The result. Errors: `integrity` when the ballots added are not as many as the units
    /// that took part.
    pub fn finish(self, turnout: Turnout) -> Result<Tally> {
        let definition = self.definition;
        if self.ballots != turnout.voted_units {
            return Err(Error::Integrity(format!(
                "the ballot box holds {} ballots but {} units took part",
                self.ballots, turnout.voted_units
            )));
        }
        let (_, all_interests) = turnout.quorum_measure(definition.weighting);
        let counting = Counting {
            weighting: definition.weighting,
            quorum_reached: turnout.quorum_reached(definition),
            min_turnout_reached: turnout.min_turnout_reached(definition),
            all_interests,
        };
        let contests = definition
            .contests
            .iter()
            .zip(self.contests)
            .map(|(contest, count)| match (&contest.kind, count) {
                (
                    ContestKind::Resolution { threshold },
                    ContestCount::Resolution { yes, no, abstain },
                ) => resolution_result(&counting, contest, *threshold, [yes, no, abstain]),
                (
                    ContestKind::Election {
                        seats, candidates, ..
                    },
                    ContestCount::Election { votes, blank },
                ) => election_result(&counting, contest, *seats, candidates, votes, blank),
                _ => Err(Error::Internal(
                    "a contest's count does not match its kind".to_owned(),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tally {
            turnout,
            quorum: definition.quorum,
            quorum_reached: counting.quorum_reached,
            min_turnout: definition.min_turnout,
            min_turnout_reached: counting.min_turnout_reached,
            ballots_counted: self.ballots,
            contests,
        })
    }
}

/// A resolution's result from its counts (yes, no, abstain): whether yes reached the
/// threshold.
fn resolution_result(
    counting: &Counting,
    contest: &Contest,
    threshold: Threshold,
    [yes, no, abstain]: [OptionCount; 3],
) -> Result<ContestResult> {
    let (y, n) = (counting.measure(&yes), counting.measure(&no));
    let all_interests = counting.all_interests;
    let threshold_met = match threshold {
        Threshold::MajorityOfCast => y > n,
        Threshold::TwoThirdsOfCast => y + n > 0 && y * 3 >= (y + n) * 2,
        Threshold::ShareOfAllInterests { percent } => {
            all_interests > 0 && y > 0 && percent.reached_by(y, all_interests)
        }
    };
    Ok(ContestResult::Resolution {
        contest: contest.id,
        title: contest.title.clone(),
        yes,
        no,
        abstain,
        threshold,
        threshold_met,
        passed: threshold_met && counting.quorum_reached,
    })
}

/// An election's result from its counts (votes per candidate, in the definition's order, and
/// blank ballots): who is elected, who is tied for the last seat(s), and whether the
/// election is valid at all.
fn election_result(
    counting: &Counting,
    contest: &Contest,
    seats: u32,
    candidates: &[Candidate],
    votes: Vec<OptionCount>,
    blank: u64,
) -> Result<ContestResult> {
    let measure = |c: &OptionCount| counting.measure(c);
    let mut counts: Vec<CandidateResult> = candidates
        .iter()
        .zip(votes)
        .map(|(c, votes)| CandidateResult {
            id: c.id,
            name: c.name.clone(),
            votes,
            elected: false,
        })
        .collect();
    counts.sort_by(|a, b| {
        measure(&b.votes)
            .cmp(&measure(&a.votes))
            .then_with(|| a.name.cmp(&b.name))
    });
    let seats_n = seats as usize;
    // The measure of the last seat, and of the first candidate below it: equal
    // and above zero means a tie for the last seat(s).
    let last_in = counts
        .get(seats_n.saturating_sub(1))
        .map(|c| measure(&c.votes));
    let first_out = counts.get(seats_n).map(|c| measure(&c.votes));
    let tie_value = match (last_in, first_out) {
        (Some(a), Some(b)) if a == b && a > 0 => Some(a),
        _ => None,
    };
    for c in &mut counts {
        let m = measure(&c.votes);
        c.elected = m > 0
            && match tie_value {
                Some(t) => m > t,
                None => last_in.is_some_and(|l| m >= l),
            };
    }
    let tied: Vec<u32> = match tie_value {
        Some(t) => counts
            .iter()
            .filter(|c| measure(&c.votes) == t)
            .map(|c| c.id)
            .collect(),
        None => Vec::new(),
    };
    let elected = counts.iter().filter(|c| c.elected).count() as u32;
    let open_seats = seats.saturating_sub(elected);
    let valid = counting.quorum_reached && counting.min_turnout_reached.unwrap_or(true);
    let open_seats = if valid {
        open_seats
    } else {
        for c in &mut counts {
            c.elected = false;
        }
        seats
    };
    Ok(ContestResult::Election {
        contest: contest.id,
        title: contest.title.clone(),
        seats,
        candidates: counts,
        tied,
        open_seats,
        blank,
        valid,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::products::voting::definition::{Contest, Secrecy, candidates_from_lines};
    use cista_types::{SeededRng, TimeZoneName, Timestamp};

    fn definition(weighting: Weighting, threshold: Threshold, seats: u32) -> BallotDefinition {
        BallotDefinition {
            title: "t".into(),
            description: String::new(),
            opens_at: Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap(),
            closes_at: Timestamp::parse_rfc3339("2026-12-15T00:00:00Z").unwrap(),
            time_zone: TimeZoneName::utc(),
            secrecy: Secrecy::Recorded,
            weighting,
            quorum: Percent::parse("50").unwrap(),
            min_turnout: Some(Percent::parse("20").unwrap()),
            paper: true,
            notify_sms: false,
            reminder_hours: vec![],
            contests: vec![
                Contest {
                    id: 1,
                    title: "R".into(),
                    description: String::new(),
                    kind: ContestKind::Resolution { threshold },
                },
                Contest {
                    id: 2,
                    title: "E".into(),
                    description: String::new(),
                    kind: ContestKind::Election {
                        seats,
                        candidates: candidates_from_lines("A\nB\nC"),
                        shuffle: false,
                    },
                },
            ],
        }
    }

    fn ballot(rng: &SeededRng, weight: &str, answer: Answer, candidates: &[u32]) -> CountedBallot {
        CountedBallot {
            tracker: Tracker::new(rng),
            weight: Weight::parse(weight).unwrap(),
            choices: Choices(vec![
                Choice::Answer { contest: 1, answer },
                Choice::Candidates {
                    contest: 2,
                    candidates: candidates.to_vec(),
                },
            ]),
        }
    }

    fn turnout(eligible_units: u64, eligible_weight: &str, ballots: &[CountedBallot]) -> Turnout {
        Turnout {
            eligible_units,
            eligible_weight: Weight::parse(eligible_weight).unwrap().micros(),
            voted_units: ballots.len() as u64,
            voted_weight: ballots.iter().map(|b| b.weight.micros()).sum(),
            web: ballots.len() as u64,
            sms_session: 0,
            paper: 0,
        }
    }

    #[test]
    fn weighted_two_thirds_is_exact_and_abstentions_are_not_votes_cast() {
        let rng = SeededRng::new(1);
        // yes 2.0, no 1.0: exactly two thirds of the votes cast; abstain 5.0 does not count.
        let ballots = vec![
            ballot(&rng, "2", Answer::Yes, &[1]),
            ballot(&rng, "1", Answer::No, &[2]),
            ballot(&rng, "5", Answer::Abstain, &[]),
        ];
        let d = definition(Weighting::Weighted, Threshold::TwoThirdsOfCast, 1);
        let t = tally(&d, turnout(10, "10", &ballots), &ballots).unwrap();
        assert!(t.quorum_reached, "8 of 10 took part");
        let ContestResult::Resolution {
            yes,
            threshold_met,
            passed,
            abstain,
            ..
        } = &t.contests[0]
        else {
            panic!()
        };
        assert_eq!(yes.weight, 2_000_000);
        assert_eq!(abstain.ballots, 1);
        assert!(*threshold_met && *passed);
        // One millionth less yes and it fails.
        let ballots = vec![
            ballot(&rng, "1.999999", Answer::Yes, &[1]),
            ballot(&rng, "1", Answer::No, &[2]),
            ballot(&rng, "5", Answer::Abstain, &[]),
        ];
        let t = tally(&d, turnout(10, "10", &ballots), &ballots).unwrap();
        let ContestResult::Resolution { passed, .. } = &t.contests[0] else {
            panic!()
        };
        assert!(!passed);
    }

    #[test]
    fn a_share_of_all_interests_counts_non_voters_against() {
        let rng = SeededRng::new(2);
        let ballots = vec![
            ballot(&rng, "1", Answer::Yes, &[1]),
            ballot(&rng, "1", Answer::Yes, &[1]),
            ballot(&rng, "1", Answer::Yes, &[1]),
        ];
        let share = Threshold::ShareOfAllInterests {
            percent: Percent::parse("66.67").unwrap(),
        };
        let d = definition(Weighting::PerUnit, share, 1);
        // Everyone who voted said yes, but 3 of 5 units is below two thirds of all.
        let t = tally(&d, turnout(5, "5", &ballots), &ballots).unwrap();
        let ContestResult::Resolution { passed, .. } = &t.contests[0] else {
            panic!()
        };
        assert!(!passed);
        let t = tally(&d, turnout(4, "4", &ballots), &ballots).unwrap();
        let ContestResult::Resolution { passed, .. } = &t.contests[0] else {
            panic!()
        };
        assert!(passed, "3 of 4 is 75%");
    }

    #[test]
    fn a_tie_for_the_last_seat_is_reported_not_decided() {
        let rng = SeededRng::new(3);
        let ballots = vec![
            ballot(&rng, "1", Answer::Yes, &[1, 2]),
            ballot(&rng, "1", Answer::Yes, &[1, 3]),
            ballot(&rng, "1", Answer::Yes, &[1]),
        ];
        let d = definition(Weighting::PerUnit, Threshold::MajorityOfCast, 2);
        let t = tally(&d, turnout(4, "4", &ballots), &ballots).unwrap();
        let ContestResult::Election {
            candidates,
            tied,
            open_seats,
            valid,
            ..
        } = &t.contests[1]
        else {
            panic!()
        };
        assert!(valid);
        assert_eq!(candidates[0].name, "A");
        assert!(candidates[0].elected);
        assert!(!candidates[1].elected && !candidates[2].elected);
        assert_eq!(tied, &vec![2, 3]);
        assert_eq!(*open_seats, 1);
    }

    #[test]
    fn without_quorum_nothing_passes_and_nobody_is_elected() {
        let rng = SeededRng::new(4);
        let ballots = vec![ballot(&rng, "1", Answer::Yes, &[1])];
        let d = definition(Weighting::PerUnit, Threshold::MajorityOfCast, 1);
        let t = tally(&d, turnout(10, "10", &ballots), &ballots).unwrap();
        assert!(!t.quorum_reached);
        let ContestResult::Resolution {
            passed,
            threshold_met,
            ..
        } = &t.contests[0]
        else {
            panic!()
        };
        assert!(*threshold_met && !passed);
        let ContestResult::Election {
            valid, candidates, ..
        } = &t.contests[1]
        else {
            panic!()
        };
        assert!(!valid && candidates.iter().all(|c| !c.elected));
    }

    #[test]
    fn a_box_that_disagrees_with_the_ledger_is_not_counted() {
        let rng = SeededRng::new(5);
        let ballots = vec![ballot(&rng, "1", Answer::Yes, &[1])];
        let d = definition(Weighting::PerUnit, Threshold::MajorityOfCast, 1);
        let mut t = turnout(10, "10", &ballots);
        t.voted_units = 2;
        assert!(tally(&d, t, &ballots).is_err());
    }
}
