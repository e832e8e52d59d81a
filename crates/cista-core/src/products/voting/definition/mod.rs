//! A ballot's definition and a voter's choices: the data, its validation for publication, and
//! the exact check of a submitted form against the definition version it was made from
//! (FL-04). Pure code: no store, no clock but the one passed in.

use crate::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{Percent, TimeZoneName, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

mod choices;

pub use choices::{Answer, Choice, Choices};

/// The longest title, description and candidate name accepted.
pub const MAX_TITLE: usize = 200;
pub const MAX_TEXT: usize = 4000;
pub const MAX_NAME: usize = 120;
pub const MAX_CONTESTS: usize = 50;
pub const MAX_CANDIDATES: usize = 100;

/// Whether choices can be tied to the unit that made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Secrecy {
    /// The ballot box holds choices and a tracker only (FL-06).
    Secret,
    /// Choices are recorded against the unit, with time and channel.
    Recorded,
}

impl Secrecy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Recorded => "recorded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Secret => "Secret: nobody can tie a ballot to its unit",
            Self::Recorded => "Recorded: each unit's choices are on the record",
        }
    }
}

/// How ballots count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// Each unit counts with its voting weight (voting interest).
    Weighted,
    /// Each unit counts once.
    PerUnit,
}

impl Weighting {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::PerUnit => "per-unit",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Weighted => "Weighted by each unit's voting interest",
            Self::PerUnit => "One vote per unit",
        }
    }
}

/// What a resolution needs to pass (FL-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Threshold {
    /// More yes than no among the votes cast (abstentions are not votes cast).
    MajorityOfCast,
    /// At least two thirds of the votes cast are yes.
    TwoThirdsOfCast,
    /// Yes reaches this share of all voting interests; units that do not vote count against.
    ShareOfAllInterests { percent: Percent },
}

impl Threshold {
    pub fn describe(&self) -> String {
        match self {
            Self::MajorityOfCast => "a majority of the votes cast".to_owned(),
            Self::TwoThirdsOfCast => "two thirds of the votes cast".to_owned(),
            Self::ShareOfAllInterests { percent } => {
                format!("{percent}% of all voting interests")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ContestKind {
    /// Yes, no or abstain.
    Resolution { threshold: Threshold },
    /// Choose up to `seats` of the candidates; plurality; no write-ins (FL-13).
    Election {
        seats: u32,
        candidates: Vec<Candidate>,
        /// Show candidates in a random order to each voter.
        shuffle: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contest {
    /// Stable within the ballot; forms and choices refer to it.
    pub id: u32,
    pub title: String,
    pub description: String,
    pub kind: ContestKind,
}

impl Contest {
    pub fn candidate(&self, id: u32) -> Option<&Candidate> {
        match &self.kind {
            ContestKind::Election { candidates, .. } => candidates.iter().find(|c| c.id == id),
            ContestKind::Resolution { .. } => None,
        }
    }
}

/// Everything a ballot is. Serialized as stored; hashed as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotDefinition {
    pub title: String,
    pub description: String,
    pub opens_at: Timestamp,
    pub closes_at: Timestamp,
    /// The zone the window was set in and is shown in.
    pub time_zone: TimeZoneName,
    pub secrecy: Secrecy,
    pub weighting: Weighting,
    /// Share of voting interests (or of units, when one vote per unit) that must take part.
    pub quorum: Percent,
    /// For elections: share of eligible units that must take part for the election to be
    /// valid (Florida condominium board elections: 20%). None: no such rule.
    pub min_turnout: Option<Percent>,
    /// Whether staff may enter paper ballots.
    pub paper: bool,
    /// Whether notices and reminders also go by SMS to owners with a mobile number.
    pub notify_sms: bool,
    /// Hours before the close at which owners who have not voted are reminded.
    pub reminder_hours: Vec<u32>,
    pub contests: Vec<Contest>,
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if cista_types::controls::has_stray_control(value) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    // Bidi overrides and zero-width characters would make a description read otherwise than
    // it is stored (titles and names refuse them in `check_name`).
    cista_types::names::check_visible_text(value).map_err(|why| Error::invalid(field, why))
}

/// Text the certified results PDF prints (the ballot title, contest titles, candidate names)
/// must be drawable by its bundled fonts: refused here, naming the character, rather than
/// failing the certificate after the close. Descriptions are not printed there.
fn check_printed(field: &str, value: &str) -> Result<()> {
    cista_types::glyphs::check_printable(value).map_err(|e| Error::invalid(field, e.to_string()))
}

impl BallotDefinition {
    /// The stored form: compact JSON, hashed as is.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Internal(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|_| Error::Integrity("a stored ballot definition is malformed".to_owned()))
    }

    pub fn hash_of(json: &str) -> Digest32 {
        Digest32::sha256(&[json.as_bytes()])
    }

    pub fn contest(&self, id: u32) -> Option<&Contest> {
        self.contests.iter().find(|c| c.id == id)
    }

    pub fn next_contest_id(&self) -> u32 {
        self.contests.iter().map(|c| c.id + 1).max().unwrap_or(1)
    }

    pub fn has_election(&self) -> bool {
        self.contests
            .iter()
            .any(|c| matches!(c.kind, ContestKind::Election { .. }))
    }

    /// Checks the fields a draft may hold at any time.
    pub fn validate_draft(&self) -> Result<()> {
        check_text("title", &self.title, MAX_TITLE, true)?;
        super::names::check_name("title", &self.title)?;
        check_printed("title", &self.title)?;
        check_text("description", &self.description, MAX_TEXT, false)?;
        if self.closes_at <= self.opens_at {
            return Err(Error::invalid(
                "closing time",
                "must be after the opening time",
            ));
        }
        if self.contests.len() > MAX_CONTESTS {
            return Err(Error::invalid(
                "contests",
                format!("at most {MAX_CONTESTS} per ballot"),
            ));
        }
        if self.reminder_hours.len() > 5
            || self.reminder_hours.iter().any(|h| *h == 0 || *h > 24 * 60)
        {
            return Err(Error::invalid(
                "reminders",
                "at most 5, each between 1 hour and 60 days before the close",
            ));
        }
        let mut ids = BTreeSet::new();
        for contest in &self.contests {
            if !ids.insert(contest.id) {
                return Err(Error::Integrity("two contests share an id".to_owned()));
            }
            validate_contest(contest)?;
        }
        Ok(())
    }

    /// Checks that the ballot is complete and its window still ahead, before publication.
    pub fn validate_for_publication(&self, now: Timestamp) -> Result<()> {
        self.validate_draft()?;
        if self.contests.is_empty() {
            return Err(Error::invalid(
                "contests",
                "add at least one resolution or election before publishing",
            ));
        }
        if self.closes_at <= now {
            return Err(Error::invalid(
                "closing time",
                "is in the past; choose a closing time ahead",
            ));
        }
        Ok(())
    }
}

/// Checks one contest on its own (also used by the builder before it is added).
pub fn validate_contest(contest: &Contest) -> Result<()> {
    check_text("contest title", &contest.title, MAX_TITLE, true)?;
    super::names::check_name("contest title", &contest.title)?;
    check_printed("contest title", &contest.title)?;
    check_text("contest description", &contest.description, MAX_TEXT, false)?;
    if let ContestKind::Election {
        seats, candidates, ..
    } = &contest.kind
    {
        if candidates.is_empty() {
            return Err(Error::invalid(
                "candidates",
                "must hold at least one name, one per line",
            ));
        }
        if candidates.len() > MAX_CANDIDATES {
            return Err(Error::invalid(
                "candidates",
                format!("must be at most {MAX_CANDIDATES} per election"),
            ));
        }
        if *seats == 0 || *seats as usize > candidates.len() {
            return Err(Error::invalid(
                "seats",
                format!(
                    "must be between 1 and the number of candidates ({})",
                    candidates.len()
                ),
            ));
        }
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for c in candidates {
            check_text("candidate name", &c.name, MAX_NAME, true)?;
            super::names::check_name("candidate name", &c.name)?;
            cista_types::glyphs::check_printable(&c.name).map_err(|e| {
                Error::invalid("candidate name", format!("“{}” {e}", c.name.trim()))
            })?;
            if !names.insert(c.name.trim().to_lowercase()) {
                return Err(Error::invalid(
                    "candidates",
                    format!("{} is listed twice", c.name.trim()),
                ));
            }
            if !ids.insert(c.id) {
                return Err(Error::Integrity("two candidates share an id".to_owned()));
            }
        }
    }
    Ok(())
}

/// Candidates from a text area: one name per line, blank lines ignored.
pub fn candidates_from_lines(text: &str) -> Vec<Candidate> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .zip(1u32..)
        .map(|(name, id)| Candidate {
            id,
            name: name.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    pub(crate) fn sample() -> BallotDefinition {
        BallotDefinition {
            title: "Annual meeting 2026".into(),
            description: String::new(),
            opens_at: Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap(),
            closes_at: Timestamp::parse_rfc3339("2026-12-15T00:00:00Z").unwrap(),
            time_zone: TimeZoneName::parse("America/New_York").unwrap(),
            secrecy: Secrecy::Secret,
            weighting: Weighting::PerUnit,
            quorum: Percent::parse("30").unwrap(),
            min_turnout: None,
            paper: true,
            notify_sms: false,
            reminder_hours: vec![72],
            contests: vec![
                Contest {
                    id: 1,
                    title: "Amendment".into(),
                    description: String::new(),
                    kind: ContestKind::Resolution {
                        threshold: Threshold::TwoThirdsOfCast,
                    },
                },
                Contest {
                    id: 2,
                    title: "Board".into(),
                    description: String::new(),
                    kind: ContestKind::Election {
                        seats: 2,
                        candidates: candidates_from_lines("Ann\nBob\n\nCy\n"),
                        shuffle: true,
                    },
                },
            ],
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Stored and published choices read back as written; a choice with both an answer and
    /// candidates, neither, no contest, a wrong answer or another key is malformed.
    #[test]
    fn choices_read_back_and_malformed_ones_are_refused() {
        let both = r#"[{"contest":1,"answer":"yes"},{"contest":2,"candidates":[]}]"#;
        let read = Choices::from_json(both).unwrap();
        assert_eq!(read.to_json().unwrap(), both);
        assert_eq!(
            read.0[1],
            Choice::Candidates {
                contest: 2,
                candidates: vec![]
            }
        );
        for bad in [
            r#"[{"contest":1,"answer":"yes","candidates":[1]}]"#,
            r#"[{"contest":1}]"#,
            r#"[{"answer":"yes"}]"#,
            r#"[{"contest":1,"answer":"maybe"}]"#,
            r#"[{"contest":-1,"answer":"yes"}]"#,
            r#"[{"contest":1,"candidates":"1"}]"#,
            r#"[{"contest":1,"answer":"yes","answer":"no"}]"#,
            r#"[{"contest":1,"answer":"yes","note":"x"}]"#,
            r#"{"contest":1,"answer":"yes"}"#,
        ] {
            let err = Choices::from_json(bad).unwrap_err();
            assert_eq!(err.code(), "integrity_failed", "{bad}");
        }
    }

    #[test]
    fn a_complete_form_becomes_choices_in_contest_order() {
        let d = sample();
        let c = Choices::from_form(&d, &form(&[("c2", "3"), ("c1", "yes"), ("c2", "1")])).unwrap();
        assert_eq!(
            c.to_json().unwrap(),
            r#"[{"contest":1,"answer":"yes"},{"contest":2,"candidates":[1,3]}]"#
        );
        c.check(&d).unwrap();
        assert_eq!(Choices::from_json(&c.to_json().unwrap()).unwrap(), c);
        assert_eq!(
            c.describe(&d),
            vec![
                ("Amendment".to_owned(), vec!["Yes".to_owned()]),
                ("Board".to_owned(), vec!["Ann".to_owned(), "Cy".to_owned()])
            ]
        );
        // An undervote is allowed.
        Choices::from_form(&d, &form(&[("c1", "no")])).unwrap();
    }

    #[test]
    fn forms_not_made_from_this_definition_are_refused() {
        let d = sample();
        let cases: &[&[(&str, &str)]] = &[
            &[("c2", "1")],                                          // no answer to the resolution
            &[("c1", "maybe")],                                      // not an answer
            &[("c1", "yes"), ("c1", "no")],                          // two answers
            &[("c1", "yes"), ("c2", "9")],                           // not a candidate
            &[("c1", "yes"), ("c2", "1"), ("c2", "1")],              // the same candidate twice
            &[("c1", "yes"), ("c2", "1"), ("c2", "2"), ("c2", "3")], // too many
            &[("c1", "yes"), ("c7", "1")],                           // not a contest
        ];
        for case in cases {
            assert!(Choices::from_form(&d, &form(case)).is_err(), "{case:?}");
        }
    }

    #[test]
    fn publication_needs_a_contest_and_a_future_close() {
        let mut d = sample();
        let now = Timestamp::parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        d.validate_for_publication(now).unwrap();
        let later = Timestamp::parse_rfc3339("2026-12-16T00:00:00Z").unwrap();
        assert!(d.validate_for_publication(later).is_err());
        d.contests.clear();
        assert!(d.validate_for_publication(now).is_err());
        let mut d = sample();
        if let ContestKind::Election { seats, .. } = &mut d.contests[1].kind {
            *seats = 4;
        }
        assert!(d.validate_draft().is_err());
        let mut d = sample();
        d.closes_at = d.opens_at;
        assert!(d.validate_draft().is_err());
        // Each refusal reads as a sentence: "The candidates must hold at least one name…".
        let mut d = sample();
        if let ContestKind::Election { candidates, .. } = &mut d.contests[1].kind {
            candidates.clear();
        }
        let err = d.validate_draft().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { reason, .. } if reason.starts_with("must ")),
            "{err}"
        );
    }

    #[test]
    fn names_in_every_script_are_accepted_and_unprintable_ones_are_refused_by_name() {
        let mut d = sample();
        d.title = "选举 2027 — Ελληνικά, русский, עברית, العربية".into();
        d.contests[0].title = "理事会 선거 สมาคม 🏠".into();
        if let ContestKind::Election { candidates, .. } = &mut d.contests[1].kind {
            *candidates = candidates_from_lines(
                "陈测试\n🏠 Team\n山田 太郎\n김민준\nمحمد علي\nדוד כהן\nराहुल शर्मा\nNguyễn Văn Anh",
            );
        }
        d.validate_draft().unwrap();

        let mut d = sample();
        if let ContestKind::Election { candidates, .. } = &mut d.contests[1].kind {
            candidates[1].name = "Bob \u{E000}".into();
        }
        let err = d.validate_draft().unwrap_err().to_string();
        // Refused where it is typed, by the invisible-character check (which runs first and
        // says where), before the font check would.
        assert!(err.contains("candidate name"), "{err}");
        assert!(
            err.contains("U+E000") && err.contains("private use") && err.contains("character 5"),
            "{err}"
        );

        let mut d = sample();
        d.title = "Annual \u{E000}".into();
        let err = d.validate_draft().unwrap_err().to_string();
        assert!(err.starts_with("title:") && err.contains("U+E000"), "{err}");

        let mut d = sample();
        d.contests[0].title = "Amendment \u{378}".into();
        let err = validate_contest(&d.contests[0]).unwrap_err().to_string();
        assert!(
            err.starts_with("contest title:") && err.contains("U+0378"),
            "{err}"
        );

        // Descriptions are not printed on the certificate, but are read: lines and tabs are
        // kept, while invisible characters out of place (a bidi override that reorders the
        // words, a zero-width space) and private-use ones are refused, as in names.
        let mut d = sample();
        d.description = "Notes — voir l'article 7 ✓\r\nLine two\tend".into();
        d.validate_draft().unwrap();
        for hidden in ["ok\u{202e}evil", "abc\u{200b}", "Notes \u{E000}", "a\rb"] {
            d.description = hidden.into();
            let err = d.validate_draft().unwrap_err().to_string();
            assert!(err.starts_with("description:"), "{hidden:?}: {err}");
        }
        let mut contest = sample().contests[0].clone();
        contest.description = "two\nlines\u{2066}".into();
        let err = validate_contest(&contest).unwrap_err().to_string();
        assert!(err.contains("U+2066") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn the_hash_changes_with_any_edit() {
        let d = sample();
        let a = BallotDefinition::hash_of(&d.to_json().unwrap());
        let mut e = d.clone();
        e.contests[1].title.push('!');
        assert_ne!(a, BallotDefinition::hash_of(&e.to_json().unwrap()));
        assert_eq!(
            BallotDefinition::from_json(&d.to_json().unwrap()).unwrap(),
            d
        );
    }
}
