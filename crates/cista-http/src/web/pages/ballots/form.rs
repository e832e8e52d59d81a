//! The builder's forms as typed values: a ballot's settings and a contest, read from posted
//! fields into the core's `BallotSettings` and `NewContest`, with every problem tied to the
//! field it is about. Pure code: no store, no clock but the time passed in.

use super::Problem;
use cista_core::products::voting::ballots::{BallotSettings, NewContest};
use cista_core::products::voting::definition::{
    BallotDefinition, Contest, ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
};
use cista_types::{Percent, TimeZoneName, Timestamp};
use serde::Deserialize;
use time::Duration;

/// The quorum a new ballot starts with: a majority of voting interests, the common default
/// for condominiums (FL-14; homeowners' associations often use 30).
pub const DEFAULT_QUORUM: &str = "50";
/// Reminders a new ballot starts with, in hours before the close.
pub const DEFAULT_REMINDERS: &str = "72, 24";

/// `The {name} {message}.`: a sentence for the error summary.
fn sentence(name: &str, message: &str) -> String {
    format!("The {name} {message}.")
}

/// The settings form as posted (checkboxes are absent when unticked).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    pub title: String,
    pub description: String,
    pub opens: String,
    pub closes: String,
    pub secrecy: String,
    pub weighting: String,
    pub quorum: String,
    pub min_turnout: String,
    pub paper: Option<String>,
    pub notify_sms: Option<String>,
    pub reminders: String,
}

impl SettingsForm {
    /// A new ballot: opening tomorrow, closing two weeks later (owners must be able to test
    /// their device at least 14 days before the deadline, FL-03), paper ballots accepted.
    pub fn defaults(zone: &TimeZoneName, now: Timestamp) -> Self {
        let opens = now.plus(Duration::days(1));
        Self {
            opens: zone.to_local_input(opens),
            closes: zone.to_local_input(opens.plus(Duration::days(14))),
            secrecy: Secrecy::Secret.as_str().to_owned(),
            weighting: Weighting::Weighted.as_str().to_owned(),
            quorum: DEFAULT_QUORUM.to_owned(),
            paper: Some("on".to_owned()),
            reminders: DEFAULT_REMINDERS.to_owned(),
            ..Self::default()
        }
    }

    /// The form filled with a draft's settings.
    pub fn from_definition(d: &BallotDefinition) -> Self {
        Self {
            title: d.title.clone(),
            description: d.description.clone(),
            opens: d.time_zone.to_local_input(d.opens_at),
            closes: d.time_zone.to_local_input(d.closes_at),
            secrecy: d.secrecy.as_str().to_owned(),
            weighting: d.weighting.as_str().to_owned(),
            quorum: d.quorum.to_string(),
            min_turnout: d.min_turnout.map(|p| p.to_string()).unwrap_or_default(),
            paper: d.paper.then(|| "on".to_owned()),
            notify_sms: d.notify_sms.then(|| "on".to_owned()),
            reminders: d
                .reminder_hours
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    pub fn paper_checked(&self) -> bool {
        self.paper.is_some()
    }

    pub fn sms_checked(&self) -> bool {
        self.notify_sms.is_some()
    }

    /// Reads the form; times are local to `zone`.
    pub fn parse(&self, zone: &TimeZoneName) -> Result<BallotSettings, Vec<Problem>> {
        let mut problems = Vec::new();
        let opens = zone
            .parse_local(&self.opens, "opening time")
            .map_err(|e| problems.push(Problem::new("opens", sentence(e.what, &e.message))))
            .ok();
        let closes = zone
            .parse_local(&self.closes, "closing time")
            .map_err(|e| problems.push(Problem::new("closes", sentence(e.what, &e.message))))
            .ok();
        let secrecy = match self.secrecy.as_str() {
            "secret" => Some(Secrecy::Secret),
            "recorded" => Some(Secrecy::Recorded),
            _ => {
                problems.push(Problem::new(
                    "secrecy-secret",
                    "Choose whether the ballot is secret or recorded.",
                ));
                None
            }
        };
        let weighting = match self.weighting.as_str() {
            "weighted" => Some(Weighting::Weighted),
            "per-unit" => Some(Weighting::PerUnit),
            _ => {
                problems.push(Problem::new(
                    "weighting-weighted",
                    "Choose how ballots count: by voting interest or one per unit.",
                ));
                None
            }
        };
        let quorum = Percent::parse(&self.quorum)
            .map_err(|e| problems.push(Problem::new("quorum", sentence("quorum", &e.message))))
            .ok();
        let min_turnout = if self.min_turnout.trim().is_empty() {
            Some(None)
        } else {
            Percent::parse(&self.min_turnout)
                .map(Some)
                .map_err(|e| {
                    problems.push(Problem::new(
                        "min_turnout",
                        sentence("minimum turnout", &e.message),
                    ));
                })
                .ok()
        };
        let reminders = parse_hours(&self.reminders)
            .map_err(|message| problems.push(Problem::new("reminders", message)))
            .ok();
        match (
            opens,
            closes,
            secrecy,
            weighting,
            quorum,
            min_turnout,
            reminders,
        ) {
            (
                Some(opens_at),
                Some(closes_at),
                Some(secrecy),
                Some(weighting),
                Some(quorum),
                Some(min_turnout),
                Some(reminder_hours),
            ) if problems.is_empty() => Ok(BallotSettings {
                title: self.title.clone(),
                description: self.description.clone(),
                opens_at,
                closes_at,
                secrecy,
                weighting,
                quorum,
                min_turnout,
                paper: self.paper_checked(),
                notify_sms: self.sms_checked(),
                reminder_hours,
            }),
            _ => Err(problems),
        }
    }
}

/// `72, 24` → [72, 24]; blank → none.
fn parse_hours(raw: &str) -> Result<Vec<u32>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            h.parse::<u32>().map_err(|_| {
                format!(
                    "The reminders must be whole numbers of hours before the close, separated \
                     by commas, such as 72, 24 (“{h}” is not)."
                )
            })
        })
        .collect()
}

/// The field id of a settings field the core names in an `invalid_input` error.
pub fn settings_field(core_field: &str) -> &'static str {
    match core_field {
        "description" => "description",
        "closing time" => "closes",
        "opening time" => "opens",
        "reminders" => "reminders",
        "weighting" => "weighting-weighted",
        "quorum" | "percentage" => "quorum",
        _ => "title",
    }
}

/// A contest form as posted: the add forms, and the edit form of each contest (whose
/// `action` says what to do: update, remove, up or down).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContestForm {
    pub action: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub threshold: String,
    pub percent: String,
    pub seats: String,
    pub candidates: String,
    pub shuffle: Option<String>,
}

impl ContestForm {
    /// An empty resolution form (majority of votes cast).
    pub fn resolution() -> Self {
        Self {
            kind: "resolution".to_owned(),
            threshold: "majority".to_owned(),
            ..Self::default()
        }
    }

    /// An empty election form (one seat, candidates shown in random order).
    pub fn election() -> Self {
        Self {
            kind: "election".to_owned(),
            seats: "1".to_owned(),
            shuffle: Some("on".to_owned()),
            ..Self::default()
        }
    }

    /// The form filled with a contest.
    pub fn from_contest(c: &Contest) -> Self {
        let base = Self {
            title: c.title.clone(),
            description: c.description.clone(),
            ..Self::default()
        };
        match &c.kind {
            ContestKind::Resolution { threshold } => {
                let (threshold, percent) = match threshold {
                    Threshold::MajorityOfCast => ("majority", String::new()),
                    Threshold::TwoThirdsOfCast => ("two-thirds", String::new()),
                    Threshold::ShareOfAllInterests { percent } => ("share", percent.to_string()),
                };
                Self {
                    kind: "resolution".to_owned(),
                    threshold: threshold.to_owned(),
                    percent,
                    ..base
                }
            }
            ContestKind::Election {
                seats,
                candidates,
                shuffle,
            } => Self {
                kind: "election".to_owned(),
                seats: seats.to_string(),
                candidates: candidates
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                shuffle: shuffle.then(|| "on".to_owned()),
                ..base
            },
        }
    }

    pub fn is_election(&self) -> bool {
        self.kind == "election"
    }

    pub fn shuffle_checked(&self) -> bool {
        self.shuffle.is_some()
    }

    /// Reads the form; `prefix` is the id prefix of its fields on the page.
    pub fn parse(&self, prefix: &str) -> Result<NewContest, Vec<Problem>> {
        let field = |name: &str| format!("{prefix}{name}");
        let kind = match self.kind.as_str() {
            "resolution" => {
                let threshold = match self.threshold.as_str() {
                    "majority" => Threshold::MajorityOfCast,
                    "two-thirds" => Threshold::TwoThirdsOfCast,
                    "share" => match Percent::parse(&self.percent) {
                        Ok(percent) if percent.hundredths() > 0 => {
                            Threshold::ShareOfAllInterests { percent }
                        }
                        Ok(_) => {
                            return Err(vec![Problem::new(
                                field("percent"),
                                "The share of all voting interests must be more than 0.",
                            )]);
                        }
                        Err(e) => {
                            return Err(vec![Problem::new(
                                field("percent"),
                                sentence("share of all voting interests", &e.message),
                            )]);
                        }
                    },
                    _ => {
                        return Err(vec![Problem::new(
                            field("threshold-majority"),
                            "Choose what the resolution needs to pass.",
                        )]);
                    }
                };
                ContestKind::Resolution { threshold }
            }
            "election" => {
                let seats = self.seats.trim().parse::<u32>().map_err(|_| {
                    vec![Problem::new(
                        field("seats"),
                        "The number of seats must be a whole number, such as 3.",
                    )]
                })?;
                ContestKind::Election {
                    seats,
                    candidates: candidates_from_lines(&self.candidates),
                    shuffle: self.shuffle_checked(),
                }
            }
            _ => {
                return Err(vec![Problem::new(
                    field("title"),
                    "The form is not a resolution or an election.",
                )]);
            }
        };
        Ok(NewContest {
            title: self.title.clone(),
            description: self.description.clone(),
            kind,
        })
    }
}

/// The field (without its prefix) of a contest field the core names in an error.
pub fn contest_field(core_field: &str) -> &'static str {
    match core_field {
        "contest description" => "description",
        "candidates" | "candidate name" => "candidates",
        "seats" => "seats",
        _ => "title",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn zone() -> TimeZoneName {
        TimeZoneName::parse("America/New_York").unwrap()
    }

    #[test]
    fn a_settings_form_reads_local_times_in_the_zone() {
        let now = Timestamp::parse_rfc3339("2026-11-01T12:00:00Z").unwrap();
        let mut form = SettingsForm::defaults(&zone(), now);
        form.title = "Annual meeting".into();
        form.min_turnout = "20".into();
        form.opens = "2026-12-01T09:00".into();
        form.closes = "2026-12-15T17:00".into();
        let s = form.parse(&zone()).unwrap();
        assert_eq!(s.opens_at.to_rfc3339(), "2026-12-01T14:00:00.000000Z");
        assert_eq!(s.quorum.to_string(), "50");
        assert_eq!(s.min_turnout.unwrap().to_string(), "20");
        assert_eq!(s.reminder_hours, vec![72, 24]);
        assert!(s.paper && !s.notify_sms);
        assert_eq!(s.secrecy, Secrecy::Secret);
        // And back: the form of the definition shows the same local times.
        let back = SettingsForm {
            title: "t".into(),
            ..SettingsForm::from_definition(&BallotDefinition {
                title: "t".into(),
                description: String::new(),
                opens_at: s.opens_at,
                closes_at: s.closes_at,
                time_zone: zone(),
                secrecy: s.secrecy,
                weighting: s.weighting,
                quorum: s.quorum,
                min_turnout: s.min_turnout,
                paper: s.paper,
                notify_sms: s.notify_sms,
                reminder_hours: s.reminder_hours.clone(),
                contests: Vec::new(),
            })
        };
        assert_eq!(back.opens, "2026-12-01T09:00");
        assert_eq!(back.reminders, "72, 24");
    }

    #[test]
    fn every_bad_settings_field_is_reported_at_its_field() {
        let form = SettingsForm {
            opens: "tomorrow".into(),
            closes: "2026-12-15T17:00".into(),
            secrecy: "open".into(),
            weighting: "weighted".into(),
            quorum: "150".into(),
            min_turnout: "x".into(),
            reminders: "72, soon".into(),
            ..SettingsForm::default()
        };
        let problems = form.parse(&zone()).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "opens",
                "secrecy-secret",
                "quorum",
                "min_turnout",
                "reminders"
            ]
        );
        assert!(problems[0].message.starts_with("The opening time must be"));
    }

    #[test]
    fn contest_forms_become_contests_and_back() {
        let form = ContestForm {
            kind: "resolution".into(),
            title: "Amend article 7".into(),
            threshold: "share".into(),
            percent: "66.67".into(),
            ..ContestForm::default()
        };
        let c = form.parse("r-").unwrap();
        assert_eq!(
            c.kind,
            ContestKind::Resolution {
                threshold: Threshold::ShareOfAllInterests {
                    percent: Percent::parse("66.67").unwrap()
                }
            }
        );
        let form = ContestForm {
            kind: "election".into(),
            title: "Board".into(),
            seats: "2".into(),
            candidates: "Ann\n\nBob\nCy\n".into(),
            ..ContestForm::default()
        };
        let c = form.parse("e-").unwrap();
        let contest = Contest {
            id: 4,
            title: c.title.clone(),
            description: String::new(),
            kind: c.kind.clone(),
        };
        let back = ContestForm::from_contest(&contest);
        assert_eq!(back.candidates, "Ann\nBob\nCy");
        assert!(!back.shuffle_checked());
        assert_eq!(back.seats, "2");
        let bad = ContestForm {
            seats: "two".into(),
            ..form
        };
        assert_eq!(bad.parse("e-").unwrap_err()[0].field, "e-seats");
        let bad = ContestForm {
            kind: "resolution".into(),
            threshold: "share".into(),
            percent: "0".into(),
            ..ContestForm::default()
        };
        assert_eq!(bad.parse("k3-").unwrap_err()[0].field, "k3-percent");
    }
}
