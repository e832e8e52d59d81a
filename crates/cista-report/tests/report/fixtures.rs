//! Closed ballots built the way the close builds them: a definition, ballots counted by the
//! real `tally`, the ballot list's hash and Merkle root from the bundle code, and a real
//! signed-note verifier key.

use cista_core::ports::{BallotStatus, StoredBallot};
use cista_core::products::voting::Ballot;
use cista_core::products::voting::bundle::{
    self, BallotResults, PublishedBallot, RESULTS_FORMAT, ballot_list_sha256,
};
use cista_core::products::voting::definition::{
    Answer, BallotDefinition, Candidate, Choice, Choices, Contest, ContestKind, Secrecy, Threshold,
    Weighting,
};
use cista_core::products::voting::tally::{CountedBallot, Turnout, tally};
use cista_crypto::note::NoteSigner;
use cista_report::ResultsDocument;
use cista_types::{BallotId, OrgId, Percent, SeededRng, TimeZoneName, Timestamp, Tracker, Weight};

/// A closed ballot and everything the certificate needs, owned.
pub struct Closed {
    pub organization: String,
    pub ballot: Ballot,
    pub results: BallotResults,
    pub key_id: String,
    pub key: String,
    pub bulletin_url: String,
}

impl Closed {
    pub fn document(&self) -> ResultsDocument<'_> {
        ResultsDocument {
            organization: &self.organization,
            ballot: &self.ballot,
            results: &self.results,
            verifier_key_id: &self.key_id,
            verifier_key: &self.key,
            bulletin_url: &self.bulletin_url,
            generated_at: at("2026-12-08T15:30:12Z"),
        }
    }

    pub fn candidate_names(&self) -> Vec<String> {
        self.ballot
            .definition
            .contests
            .iter()
            .flat_map(|c| match &c.kind {
                ContestKind::Election { candidates, .. } => {
                    candidates.iter().map(|c| c.name.clone()).collect()
                }
                ContestKind::Resolution { .. } => Vec::new(),
            })
            .collect()
    }
}

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

pub fn resolution(id: u32, title: &str, threshold: Threshold) -> Contest {
    Contest {
        id,
        title: title.to_owned(),
        description: String::new(),
        kind: ContestKind::Resolution { threshold },
    }
}

pub fn election(id: u32, title: &str, seats: u32, names: &[&str]) -> Contest {
    Contest {
        id,
        title: title.to_owned(),
        description: String::new(),
        kind: ContestKind::Election {
            seats,
            candidates: names
                .iter()
                .zip(1u32..)
                .map(|(name, id)| Candidate {
                    id,
                    name: (*name).to_owned(),
                })
                .collect(),
            shuffle: true,
        },
    }
}

pub fn definition(
    title: &str,
    weighting: Weighting,
    secrecy: Secrecy,
    quorum: &str,
    min_turnout: Option<&str>,
    contests: Vec<Contest>,
) -> BallotDefinition {
    BallotDefinition {
        title: title.to_owned(),
        description: "Annual meeting ballot.".to_owned(),
        opens_at: at("2026-12-01T14:00:00Z"),
        closes_at: at("2026-12-08T14:00:00Z"),
        time_zone: TimeZoneName::parse("America/New_York").unwrap(),
        secrecy,
        weighting,
        quorum: Percent::parse(quorum).unwrap(),
        min_turnout: min_turnout.map(|p| Percent::parse(p).unwrap()),
        paper: true,
        notify_sms: false,
        reminder_hours: vec![24],
        contests,
    }
}

/// One voter's choices: an answer per resolution and candidate ids per election, in contest
/// order.
pub enum Pick {
    Answer(Answer),
    Candidates(Vec<u32>),
}

/// Closes `definition` over `eligible` unit weights, with `votes` cast by the first units
/// (each `(weight index, picks)`), counted by the real tally.
pub fn close(
    organization: &str,
    definition: BallotDefinition,
    eligible: &[&str],
    votes: Vec<Vec<Pick>>,
    paper: u64,
    sms: u64,
) -> Closed {
    let rng = SeededRng::new(2026);
    let weights: Vec<Weight> = eligible.iter().map(|w| Weight::parse(w).unwrap()).collect();
    let per_unit = definition.weighting == Weighting::PerUnit;
    let mut list: Vec<PublishedBallot> = votes
        .into_iter()
        .enumerate()
        .map(|(i, picks)| PublishedBallot {
            tracker: Tracker::new(&rng),
            weight: if per_unit { Weight::ONE } else { weights[i] },
            choices: Choices(
                picks
                    .into_iter()
                    .zip(&definition.contests)
                    .map(|(pick, contest)| match pick {
                        Pick::Answer(answer) => Choice::Answer {
                            contest: contest.id,
                            answer,
                        },
                        Pick::Candidates(mut candidates) => {
                            candidates.sort_unstable();
                            Choice::Candidates {
                                contest: contest.id,
                                candidates,
                            }
                        }
                    })
                    .collect(),
            ),
        })
        .collect();
    list.sort_by_key(|b| b.tracker);
    let voted = list.len() as u64;
    let turnout = Turnout {
        eligible_units: eligible.len() as u64,
        eligible_weight: weights.iter().map(Weight::micros).sum(),
        voted_units: voted,
        voted_weight: weights.iter().take(list.len()).map(Weight::micros).sum(),
        web: voted - paper - sms,
        sms_session: sms,
        paper,
    };
    let counted: Vec<CountedBallot> = list
        .iter()
        .map(|b| CountedBallot {
            tracker: b.tracker,
            weight: b.weight,
            choices: b.choices.clone(),
        })
        .collect();
    let result = tally(&definition, turnout, &counted).unwrap();

    let id = BallotId::from_i64(4_711_815_162_342);
    let json = definition.to_json().unwrap();
    let hash = BallotDefinition::hash_of(&json);
    let (root, _) = bundle::proofs(&id.to_string(), &hash.to_hex(), &list).unwrap();
    let results = BallotResults {
        format: RESULTS_FORMAT.to_owned(),
        ballot: id.to_string(),
        definition_sha256: hash.to_hex(),
        closed_at: at("2026-12-08T14:00:03.250Z"),
        tally: result,
        ballot_list_sha256: ballot_list_sha256(&list).unwrap(),
        tree_size: list.len() as u64,
        root_sha256: root.to_hex(),
    };
    let stored = StoredBallot {
        id,
        org: OrgId::from_i64(99),
        status: BallotStatus::Closed,
        definition: json,
        definition_hash: hash,
        created_at: at("2026-11-20T10:00:00Z"),
        published_at: Some(at("2026-11-21T10:00:00Z")),
        closed_at: Some(results.closed_at),
        cancelled_at: None,
        replaces: None,
        closes_at: definition.closes_at,
        shuffled_count: voted as i64,
        results: Some(serde_json::to_string(&results).unwrap()),
        checkpoint: None,
    };
    let verifier = NoteSigner::new("vote.palmcourt.example/audit", [7u8; 32])
        .unwrap()
        .verifier();
    Closed {
        organization: organization.to_owned(),
        ballot: Ballot { stored, definition },
        results,
        key_id: verifier.key_id(),
        key: verifier.to_verifier_key(),
        bulletin_url: format!("https://vote.palmcourt.example/e/{id}/bulletin"),
    }
}

/// The weights of a 40-unit association (voting interests, in percent of the whole).
pub const WEIGHTS: [&str; 40] = [
    "3.125", "2.5", "2.5", "2.5", "1.875", "1.875", "2.25", "2.25", "3", "3", "2.75", "2.75",
    "2.125", "2.125", "2.5", "2.5", "2.5", "2.5", "2.5", "2.5", "2", "2", "2", "2", "3.5", "3.5",
    "1.5", "1.5", "2.625", "2.625", "2.375", "2.375", "2.5", "2.5", "2.5", "2.5", "2.75", "2.25",
    "3.25", "4.125",
];

/// A weighted secret ballot: a board election (3 seats of 5, one long name) and two
/// resolutions, one passing and one failing, with 29 of 40 units voting.
pub fn annual_meeting() -> Closed {
    use Answer::{Abstain, No, Yes};
    let definition = definition(
        "2027 Annual Meeting: Board of Directors and Budget",
        Weighting::Weighted,
        Secrecy::Secret,
        "30",
        Some("20"),
        vec![
            election(
                1,
                "Board of Directors",
                3,
                &[
                    "Maria Delgado",
                    "Robert Chen",
                    "Aisha Okonkwo-Whitfield",
                    "Daniel Fitzgerald-Montgomery of Unit 14B, nominated from the floor at the October meeting",
                    "Priya Raman",
                ],
            ),
            resolution(
                2,
                "Adopt the 2027 operating budget",
                Threshold::MajorityOfCast,
            ),
            resolution(
                3,
                "Amend Article IV of the Declaration (pet policy)",
                Threshold::ShareOfAllInterests {
                    percent: Percent::parse("66.67").unwrap(),
                },
            ),
        ],
    );
    let mut votes = Vec::new();
    for i in 0..29u32 {
        let candidates = match i % 5 {
            0 => vec![1, 2, 3],
            1 => vec![1, 3, 5],
            2 => vec![2, 4],
            3 => vec![1, 2],
            _ if i == 4 => vec![],
            _ => vec![3, 5, 1],
        };
        let budget = match i % 4 {
            0 | 1 => Yes,
            2 => No,
            _ => Abstain,
        };
        let amendment = if i % 3 == 0 { No } else { Yes };
        votes.push(vec![
            Pick::Candidates(candidates),
            Pick::Answer(budget),
            Pick::Answer(amendment),
        ]);
    }
    close(
        "Palm Court Condominium Association, Inc.",
        definition,
        &WEIGHTS,
        votes,
        4,
        2,
    )
}
