//! A voter's choices: the answers and candidates chosen per contest, read from a submitted
//! form and checked exactly against the definition version the form was made from (FL-04).

use super::{BallotDefinition, ContestKind};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A resolution answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Yes,
    No,
    Abstain,
}

impl Answer {
    pub fn label(self) -> &'static str {
        match self {
            Self::Yes => "Yes",
            Self::No => "No",
            Self::Abstain => "Abstain",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "yes" => Some(Self::Yes),
            "no" => Some(Self::No),
            "abstain" => Some(Self::Abstain),
            _ => None,
        }
    }
}

/// One contest's choice. As JSON, `{"contest": 1, "answer": "yes"}` or `{"contest": 2,
/// "candidates": [1, 3]}`; one with both or neither, or any other key, is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Choice {
    Answer {
        contest: u32,
        answer: Answer,
    },
    /// Candidate ids, ascending; possibly fewer than the seats (an undervote), never more.
    Candidates {
        contest: u32,
        candidates: Vec<u32>,
    },
}

impl<'de> Deserialize<'de> for Choice {
    /// Reads either form in one pass over the fields. (A derived untagged enum buffers each
    /// choice and tries the forms in turn: most of the parse in a million-ballot close or
    /// recount.)
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // Exactly the written form: a published list with anything more is not the one that
        // was hashed and signed.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            contest: u32,
            answer: Option<Answer>,
            candidates: Option<Vec<u32>>,
        }
        let Fields {
            contest,
            answer,
            candidates,
        } = Fields::deserialize(d)?;
        match (answer, candidates) {
            (Some(answer), None) => Ok(Choice::Answer { contest, answer }),
            (None, Some(candidates)) => Ok(Choice::Candidates {
                contest,
                candidates,
            }),
            _ => Err(serde::de::Error::custom(
                "a choice has an answer or candidates, not both or neither",
            )),
        }
    }
}

impl Choice {
    pub fn contest(&self) -> u32 {
        match self {
            Choice::Answer { contest, .. } | Choice::Candidates { contest, .. } => *contest,
        }
    }
}

/// A complete ballot: one choice per contest, in contest order. Its JSON is what is sealed
/// in the ballot box and published on the bulletin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Choices(pub Vec<Choice>);

impl Choices {
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Internal(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|_| Error::Integrity("a stored ballot is malformed".to_owned()))
    }

    /// Reads a ballot form: field `c{id}` per contest (`yes`/`no`/`abstain`, or a candidate id
    /// per checked box). Anything not on this exact definition is refused: a choice for an
    /// unknown contest or candidate, a missing answer, too many candidates, a repeated field.
    pub fn from_form(definition: &BallotDefinition, fields: &[(String, String)]) -> Result<Self> {
        let mut choices = Vec::with_capacity(definition.contests.len());
        for (name, _) in fields {
            if let Some(id) = name.strip_prefix('c') {
                let known = id
                    .parse::<u32>()
                    .ok()
                    .is_some_and(|id| definition.contest(id).is_some());
                if !known {
                    return Err(Error::BadRequest {
                        reason: "the form names a contest that is not on this ballot".to_owned(),
                    });
                }
            }
        }
        for contest in &definition.contests {
            let field = format!("c{}", contest.id);
            let values: Vec<&str> = fields
                .iter()
                .filter(|(k, _)| *k == field)
                .map(|(_, v)| v.as_str())
                .collect();
            match &contest.kind {
                ContestKind::Resolution { .. } => {
                    let answer = match values.as_slice() {
                        [one] => Answer::parse(one).ok_or_else(|| Error::BadRequest {
                            reason: format!("“{}” is not an answer on this ballot", one),
                        })?,
                        [] => {
                            return Err(Error::invalid(
                                contest.title.clone(),
                                "needs an answer: choose yes, no or abstain",
                            ));
                        }
                        _ => {
                            return Err(Error::BadRequest {
                                reason: format!("{} has more than one answer", contest.title),
                            });
                        }
                    };
                    choices.push(Choice::Answer {
                        contest: contest.id,
                        answer,
                    });
                }
                ContestKind::Election {
                    seats, candidates, ..
                } => {
                    let mut chosen = BTreeSet::new();
                    for v in &values {
                        let id = v
                            .parse::<u32>()
                            .ok()
                            .filter(|id| candidates.iter().any(|c| c.id == *id))
                            .ok_or_else(|| Error::BadRequest {
                                reason: format!(
                                    "a choice for {} is not a candidate on this ballot",
                                    contest.title
                                ),
                            })?;
                        if !chosen.insert(id) {
                            return Err(Error::BadRequest {
                                reason: format!(
                                    "a candidate for {} is chosen twice",
                                    contest.title
                                ),
                            });
                        }
                    }
                    if chosen.len() > *seats as usize {
                        return Err(Error::invalid(
                            contest.title.clone(),
                            format!(
                                "has {} candidates chosen; choose at most {seats}",
                                chosen.len()
                            ),
                        ));
                    }
                    choices.push(Choice::Candidates {
                        contest: contest.id,
                        candidates: chosen.into_iter().collect(),
                    });
                }
            }
        }
        Ok(Self(choices))
    }

    /// Checks stored or published choices against the definition (recount, verification).
    pub fn check(&self, definition: &BallotDefinition) -> Result<()> {
        if self.0.len() != definition.contests.len() {
            return Err(Error::Integrity(
                "a ballot does not answer every contest".to_owned(),
            ));
        }
        for (choice, contest) in self.0.iter().zip(&definition.contests) {
            let ok = match (choice, &contest.kind) {
                (Choice::Answer { contest: id, .. }, ContestKind::Resolution { .. }) => {
                    *id == contest.id
                }
                (
                    Choice::Candidates {
                        contest: id,
                        candidates: chosen,
                    },
                    ContestKind::Election {
                        seats, candidates, ..
                    },
                ) => {
                    *id == contest.id
                        && chosen.len() <= *seats as usize
                        && chosen.windows(2).all(|w| w.first() < w.get(1))
                        && chosen.iter().all(|c| candidates.iter().any(|k| k.id == *c))
                }
                _ => false,
            };
            if !ok {
                return Err(Error::Integrity(format!(
                    "a ballot's choice for {} is not valid on this ballot",
                    contest.title
                )));
            }
        }
        Ok(())
    }

    /// Each contest's title and the chosen option(s) in words, for receipts.
    pub fn describe(&self, definition: &BallotDefinition) -> Vec<(String, Vec<String>)> {
        self.0
            .iter()
            .filter_map(|choice| {
                let contest = definition.contest(choice.contest())?;
                let words = match choice {
                    Choice::Answer { answer, .. } => vec![answer.label().to_owned()],
                    Choice::Candidates { candidates, .. } if candidates.is_empty() => {
                        vec!["(no candidate chosen)".to_owned()]
                    }
                    Choice::Candidates { candidates, .. } => candidates
                        .iter()
                        .filter_map(|id| contest.candidate(*id).map(|c| c.name.clone()))
                        .collect(),
                };
                Some((contest.title.clone(), words))
            })
            .collect()
    }
}
