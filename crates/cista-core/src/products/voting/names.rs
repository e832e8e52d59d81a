//! Names on ballots and rosters as readers see them: ballot titles and candidate names are
//! stored in one spelling (NFC, single spaces) with no invisible character out of place, and
//! names a reader could not tell apart (look-alike letters from another script, invisible
//! differences, letter case) are flagged to staff before a ballot is published or a roster
//! imported. The character rules themselves are `cista_types::names`.

use super::definition::{BallotDefinition, ContestKind};
use super::import::Roster;
use crate::{Error, Result};
use cista_types::names::{check_visible, clean_name, find_lookalikes};
use unicode_normalization::UnicodeNormalization;

/// Refuses a title or name with an invisible character out of place.
pub fn check_name(field: &str, value: &str) -> Result<()> {
    check_visible(value).map_err(|message| Error::invalid(field, message))
}

/// Puts a definition's texts in their one stored spelling: titles and candidate names NFC
/// and single-spaced, descriptions NFC (their line breaks kept). Text that is not a valid
/// name is left as typed, for validation to refuse with its message.
pub fn normalize_definition(definition: &mut BallotDefinition) {
    let name = |text: &mut String| {
        if let Ok(clean) = clean_name(text, "name", usize::MAX) {
            *text = clean;
        }
    };
    let prose = |text: &mut String| *text = text.nfc().collect();
    name(&mut definition.title);
    prose(&mut definition.description);
    for contest in &mut definition.contests {
        name(&mut contest.title);
        prose(&mut contest.description);
        if let ContestKind::Election { candidates, .. } = &mut contest.kind {
            for candidate in candidates {
                name(&mut candidate.name);
            }
        }
    }
}

/// Warnings about candidates of one election whose names look the same, naming both.
pub fn candidate_warnings(definition: &BallotDefinition) -> Vec<String> {
    let mut warnings = Vec::new();
    for contest in &definition.contests {
        let ContestKind::Election { candidates, .. } = &contest.kind else {
            continue;
        };
        let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
        for pair in find_lookalikes(&names) {
            if let (Some(a), Some(b)) = (names.get(pair.first), names.get(pair.second)) {
                warnings.push(format!(
                    "In “{}”, the candidates “{a}” and “{b}” look the same: they {}. Voters \
                     cannot tell them apart; correct the name that was mistyped or pasted.",
                    contest.title, pair.how
                ));
            }
        }
    }
    warnings
}

/// Warnings about owners in a roster file, or an owner in the file and a person on file,
/// whose names look the same but are spelled differently, naming both and their lines.
pub fn owner_warnings(roster: &Roster, on_file: &[String]) -> Vec<String> {
    let mut names: Vec<(String, String)> = roster
        .units
        .iter()
        .flat_map(|u| &u.owners)
        .map(|o| {
            (
                format!("{} {}", o.first_name, o.last_name),
                format!("line {}", o.line),
            )
        })
        .collect();
    names.extend(on_file.iter().map(|n| (n.clone(), "on file".to_owned())));
    let spellings: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    find_lookalikes(&spellings)
        .into_iter()
        .filter_map(|pair| {
            let (a, at) = names.get(pair.first)?;
            let (b, bt) = names.get(pair.second)?;
            if at == "on file" && bt == "on file" {
                return None;
            }
            Some(format!(
                "“{a}” ({at}) and “{b}” ({bt}) look the same: they {}. If they are one \
                 person, spell the name the same way; if not, check that neither was pasted \
                 from somewhere with look-alike characters.",
                pair.how
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::products::voting::definition::{Candidate, Contest, Secrecy, Weighting};
    use cista_types::{Percent, TimeZoneName, Timestamp};

    fn with_candidates(names: &[&str]) -> BallotDefinition {
        BallotDefinition {
            title: "Annual meeting 2027".into(),
            description: String::new(),
            opens_at: Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap(),
            closes_at: Timestamp::parse_rfc3339("2027-01-15T00:00:00Z").unwrap(),
            time_zone: TimeZoneName::parse("America/New_York").unwrap(),
            secrecy: Secrecy::Secret,
            weighting: Weighting::PerUnit,
            quorum: Percent::parse("30").unwrap(),
            min_turnout: None,
            paper: true,
            notify_sms: false,
            reminder_hours: vec![],
            contests: vec![Contest {
                id: 1,
                title: "Board".into(),
                description: String::new(),
                kind: ContestKind::Election {
                    seats: 1,
                    candidates: names
                        .iter()
                        .zip(1u32..)
                        .map(|(n, id)| Candidate {
                            id,
                            name: (*n).to_owned(),
                        })
                        .collect(),
                    shuffle: false,
                },
            }],
        }
    }

    #[test]
    fn a_cyrillic_a_in_oscar_baker_is_flagged_naming_both() {
        let d = with_candidates(&["Oscar Baker", "Alma Diaz", "Oscar B\u{430}ker"]);
        let warnings = candidate_warnings(&d);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("“Oscar Baker”"), "{}", warnings[0]);
        assert!(
            warnings[0].contains("“Oscar B\u{430}ker”"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("U+0430, Cyrillic"), "{}", warnings[0]);
        assert!(candidate_warnings(&with_candidates(&["Oscar Baker", "Ana Ruiz"])).is_empty());
    }

    #[test]
    fn a_zero_width_joiner_in_a_candidate_name_is_refused() {
        let d = with_candidates(&["Oscar Baker", "Oscar Ba\u{200d}ker"]);
        let e = d.validate_draft().unwrap_err();
        let text = e.to_string();
        assert!(text.contains("U+200D"), "{text}");
        assert!(text.contains("candidate name"), "{text}");
    }

    #[test]
    fn texts_are_stored_composed_and_single_spaced() {
        let mut d = with_candidates(&["Jose\u{301}  Pe\u{301}rez", "Ana Ruiz"]);
        d.title = " Elecci\u{6f}\u{301}n  2027 ".into();
        normalize_definition(&mut d);
        assert_eq!(d.title, "Elecci\u{f3}n 2027");
        let ContestKind::Election { candidates, .. } = &d.contests[0].kind else {
            unreachable!()
        };
        assert_eq!(candidates[0].name, "Jos\u{e9} P\u{e9}rez");
    }
}
