//! The certified results of a closed ballot (FL-09, issue 4 item 8): what was asked, who took
//! part, the quorum, each contest's outcome, and what anyone needs to recount it (the ballot
//! list hash, the Merkle tree root, the instance's verifier key and the bulletin), with a
//! signature block for the election official. Every figure is printed exactly from the sealed
//! tally; only percentages are rounded, and the page says so.

use crate::layout::{Frame, Typesetter};
use crate::{ReportError, certificate, fonts, numbers, pdf};
use cista_core::products::voting::Ballot;
use cista_core::products::voting::bundle::BallotResults;
use cista_core::products::voting::definition::{ContestKind, Secrecy, Threshold, Weighting};
use cista_core::products::voting::summary::{ContestSummary, ResultsSummary};
use cista_core::products::voting::tally::{ContestResult, OptionCount, Tally};
use cista_types::Timestamp;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Everything the certificate shows. The web app fills it from a closed ballot.
#[derive(Debug, Clone, Copy)]
pub struct ResultsDocument<'a> {
    pub organization: &'a str,
    /// The ballot: title, window, time zone, secrecy, weighting, contests.
    pub ballot: &'a Ballot,
    /// The results sealed at close.
    pub results: &'a BallotResults,
    /// The instance signing key's id (8 hex digits).
    pub verifier_key_id: &'a str,
    /// The full signed-note verifier key (`name+keyid+base64`).
    pub verifier_key: &'a str,
    /// The ballot's public bulletin, `https://…/e/{id}/bulletin`.
    pub bulletin_url: &'a str,
    pub generated_at: Timestamp,
}

/// Lays out the certified results as a US Letter PDF/A with its fonts embedded. Refuses
/// (rather than prints) results that do not belong to the ballot or contradict themselves, and
/// names or titles with a character no bundled font draws.
pub fn certified_results_pdf(doc: &ResultsDocument<'_>) -> Result<Vec<u8>, ReportError> {
    printable(doc)?;
    let view = View::of(doc)?;
    let pages = lay_out(&view)?;
    let ident = format!(
        "cista-results/{}/{}",
        doc.results.ballot, doc.results.root_sha256
    );
    pdf::write(
        &pages,
        certificate::PAGE,
        &pdf::Info {
            title: &format!("Certified results: {}", view.title),
            author: &view.organization,
            ident: &ident,
            created: doc.generated_at,
        },
    )
}

/// The characters of the certificate that the layout sets with no glyph (a font's "missing
/// glyph" box), whatever the core would have accepted: what the glyph table is checked
/// against. Empty for every certificate the core lets through.
pub fn unprintable_characters(doc: &ResultsDocument<'_>) -> Result<BTreeSet<char>, ReportError> {
    let view = View::of(doc)?;
    Ok(pdf::missing_glyphs(&lay_out(&view)?))
}

/// The certificate's pages, laid out with the bundled fonts only.
fn lay_out(view: &View) -> Result<Vec<Frame>, ReportError> {
    let mut typesetter = Typesetter::new(fonts::context()?);
    // The layout engine reports nothing as an error; a panic inside it would be a bug there,
    // and must not take a web request (or the server) down with it.
    catch_unwind(AssertUnwindSafe(|| {
        certificate::pages(view, &mut typesetter)
    }))
    .map_err(|_| ReportError::Layout("the layout engine failed unexpectedly".to_owned()))
}

/// What the certificate prints: strings already formatted (exactly), flags for the outcome
/// marks.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) organization: String,
    pub(crate) title: String,
    pub(crate) reference: String,
    pub(crate) opens: String,
    pub(crate) closes: String,
    pub(crate) zone: String,
    pub(crate) closed_at: String,
    pub(crate) generated_at: String,
    pub(crate) secrecy: &'static str,
    pub(crate) counting: &'static str,
    pub(crate) weighted: bool,
    pub(crate) participation: Vec<Fact>,
    pub(crate) channels: Vec<Fact>,
    pub(crate) quorum: Requirement,
    pub(crate) min_turnout: Option<Requirement>,
    pub(crate) contests: Vec<ContestView>,
    pub(crate) integrity: Integrity,
}

/// A labelled figure, with its share where one makes sense.
#[derive(Debug)]
pub(crate) struct Fact {
    pub(crate) label: &'static str,
    pub(crate) value: String,
    pub(crate) share: String,
}

#[derive(Debug)]
pub(crate) struct Requirement {
    pub(crate) rule: String,
    pub(crate) measured: String,
    pub(crate) reached: bool,
}

#[derive(Debug)]
pub(crate) enum ContestView {
    Resolution(ResolutionView),
    Election(ElectionView),
}

#[derive(Debug)]
pub(crate) struct ResolutionView {
    pub(crate) number: usize,
    pub(crate) title: String,
    pub(crate) threshold: String,
    pub(crate) rows: Vec<AnswerRow>,
    pub(crate) measured: String,
    pub(crate) passed: bool,
    /// The verdict in capitals with its qualifier: `NOT PASSED: quorum not reached`.
    pub(crate) outcome: String,
    pub(crate) reason: String,
}

#[derive(Debug)]
pub(crate) struct ElectionView {
    pub(crate) number: usize,
    pub(crate) title: String,
    pub(crate) seats: String,
    pub(crate) candidates: Vec<CandidateRow>,
    pub(crate) elected: String,
    pub(crate) blank: String,
    pub(crate) ballots: String,
    pub(crate) tie: Option<String>,
    pub(crate) open_seats: Option<String>,
    pub(crate) valid: bool,
    pub(crate) validity: String,
}

#[derive(Debug)]
pub(crate) struct AnswerRow {
    pub(crate) label: &'static str,
    pub(crate) ballots: String,
    pub(crate) weight: String,
}

#[derive(Debug)]
pub(crate) struct CandidateRow {
    pub(crate) rank: String,
    pub(crate) name: String,
    pub(crate) ballots: String,
    pub(crate) weight: String,
    /// `ELECTED`, `TIED` or empty.
    pub(crate) status: String,
}

#[derive(Debug)]
pub(crate) struct Integrity {
    pub(crate) ballots_counted: String,
    pub(crate) ballot_list_sha256: String,
    pub(crate) root_sha256: String,
    pub(crate) tree_size: String,
    pub(crate) definition_sha256: String,
    pub(crate) key_id: String,
    /// The verifier key cut at its `+` separators, so a long key name can wrap there.
    pub(crate) key_parts: Vec<String>,
    pub(crate) bulletin_url: String,
    /// Only http(s) addresses become links; anything else is printed as text.
    pub(crate) bulletin_link: bool,
}

impl View {
    fn of(doc: &ResultsDocument<'_>) -> Result<Self, ReportError> {
        check(doc)?;
        let definition = &doc.ballot.definition;
        let results = doc.results;
        let tally = &results.tally;
        let zone = &definition.time_zone;
        let weighted = definition.weighting == Weighting::Weighted;
        Ok(Self {
            organization: doc.organization.to_owned(),
            title: definition.title.clone(),
            reference: results.ballot.clone(),
            opens: zone.format(definition.opens_at),
            closes: zone.format(definition.closes_at),
            zone: zone.as_str().to_owned(),
            closed_at: zone.format_precise(results.closed_at),
            generated_at: zone.format_precise(doc.generated_at),
            secrecy: match definition.secrecy {
                Secrecy::Secret => "Secret: no ballot can be tied to the unit that cast it",
                Secrecy::Recorded => "Recorded: each unit's choices are on the record",
            },
            counting: match definition.weighting {
                Weighting::Weighted => "Weighted by each unit's voting interest",
                Weighting::PerUnit => "One vote per unit",
            },
            weighted,
            participation: participation(tally, weighted),
            channels: channels(tally),
            quorum: quorum(tally, definition.weighting),
            min_turnout: min_turnout(tally),
            contests: tally
                .contests
                .iter()
                .zip(ResultsSummary::of(tally).contests)
                .enumerate()
                .map(|(i, (c, summary))| contest(i + 1, c, &summary, tally, definition.weighting))
                .collect(),
            integrity: Integrity {
                ballots_counted: numbers::count(tally.ballots_counted),
                ballot_list_sha256: results.ballot_list_sha256.clone(),
                root_sha256: results.root_sha256.clone(),
                tree_size: numbers::count(results.tree_size),
                definition_sha256: results.definition_sha256.clone(),
                key_id: doc.verifier_key_id.trim().to_owned(),
                key_parts: key_parts(doc.verifier_key),
                bulletin_url: doc.bulletin_url.to_owned(),
                bulletin_link: doc.bulletin_url.starts_with("https://")
                    || doc.bulletin_url.starts_with("http://"),
            },
        })
    }
}

/// Refuses results that are not this ballot's, or whose parts disagree.
fn check(doc: &ResultsDocument<'_>) -> Result<(), ReportError> {
    let results = doc.results;
    let ballot_id = doc.ballot.id().to_string();
    if results.ballot != ballot_id {
        return Err(ReportError::Inconsistent(format!(
            "the results are those of ballot {}, not of ballot {ballot_id}",
            results.ballot
        )));
    }
    let definition_hash = doc.ballot.stored.definition_hash.to_hex();
    if !results
        .definition_sha256
        .eq_ignore_ascii_case(&definition_hash)
    {
        return Err(ReportError::Inconsistent(
            "the results were counted under a different definition of this ballot".to_owned(),
        ));
    }
    let tally = &results.tally;
    if results.tree_size != tally.ballots_counted
        || tally.ballots_counted != tally.turnout.voted_units
    {
        return Err(ReportError::Inconsistent(format!(
            "{} ballots were counted, the tree holds {} and {} units took part",
            tally.ballots_counted, results.tree_size, tally.turnout.voted_units
        )));
    }
    if tally.contests.len() != doc.ballot.definition.contests.len() {
        return Err(ReportError::Inconsistent(
            "the results and the ballot do not have the same contests".to_owned(),
        ));
    }
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex64(&results.root_sha256) || !hex64(&results.ballot_list_sha256) {
        return Err(ReportError::Inconsistent(
            "the tree root and the ballot list hash must be SHA-256 digests in hex".to_owned(),
        ));
    }
    // A signed-note verifier key is `name+keyid+key`; the id printed beside it must be its own.
    let key_id = doc.verifier_key_id.trim();
    match doc.verifier_key.trim().split('+').nth(1) {
        Some(id) if id.eq_ignore_ascii_case(key_id) => Ok(()),
        _ => Err(ReportError::Inconsistent(format!(
            "the verifier key is not the key with id {key_id}"
        ))),
    }
}

/// Refuses, before any layout, a name or title that the bundled fonts cannot draw (Typst would
/// fail on it deep in the PDF writer). These are all the texts people wrote that the
/// certificate prints; a template that prints another must check it here, and the core must
/// check it at entry.
fn printable(doc: &ResultsDocument<'_>) -> Result<(), ReportError> {
    let definition = &doc.ballot.definition;
    let mut texts: Vec<(&'static str, &str)> = vec![
        ("organization name", doc.organization),
        ("ballot title", &definition.title),
        ("verifier key", doc.verifier_key),
        ("bulletin address", doc.bulletin_url),
    ];
    for contest in &definition.contests {
        texts.push(("contest title", &contest.title));
        if let ContestKind::Election { candidates, .. } = &contest.kind {
            texts.extend(
                candidates
                    .iter()
                    .map(|c| ("candidate name", c.name.as_str())),
            );
        }
    }
    // The sealed results carry their own copies of titles and names; those are printed too.
    for contest in &doc.results.tally.contests {
        match contest {
            ContestResult::Resolution { title, .. } => texts.push(("contest title", title)),
            ContestResult::Election {
                title, candidates, ..
            } => {
                texts.push(("contest title", title));
                texts.extend(
                    candidates
                        .iter()
                        .map(|c| ("candidate name", c.name.as_str())),
                );
            }
        }
    }
    for (what, text) in texts {
        cista_types::glyphs::check_printable(text).map_err(|reason| ReportError::Unprintable {
            what,
            text: text.to_owned(),
            reason,
        })?;
    }
    Ok(())
}

fn key_parts(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.trim().split('+').collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i < last {
                format!("{p}+")
            } else {
                (*p).to_owned()
            }
        })
        .collect()
}

fn participation(tally: &Tally, weighted: bool) -> Vec<Fact> {
    let t = &tally.turnout;
    let mut facts = vec![Fact {
        label: "Units that voted",
        value: format!(
            "{} of {}",
            numbers::count(t.voted_units),
            numbers::count(t.eligible_units)
        ),
        share: numbers::percent(i128::from(t.voted_units), i128::from(t.eligible_units)),
    }];
    if weighted {
        facts.push(Fact {
            label: "Voting interests voted",
            value: format!(
                "{} of {}",
                numbers::weight(t.voted_weight),
                numbers::weight(t.eligible_weight)
            ),
            share: numbers::percent(i128::from(t.voted_weight), i128::from(t.eligible_weight)),
        });
    }
    facts.push(Fact {
        label: "Ballots counted",
        value: numbers::count(tally.ballots_counted),
        share: String::new(),
    });
    facts
}

fn channels(tally: &Tally) -> Vec<Fact> {
    let t = &tally.turnout;
    let voted = i128::from(t.voted_units);
    [
        ("Online", t.web),
        ("Online, signed in by SMS code", t.sms_session),
        ("Paper, entered by staff", t.paper),
    ]
    .into_iter()
    .map(|(label, n)| Fact {
        label,
        value: numbers::count(n),
        share: numbers::percent(i128::from(n), voted),
    })
    .collect()
}

fn quorum(tally: &Tally, weighting: Weighting) -> Requirement {
    let t = &tally.turnout;
    let (rule, measured) = match weighting {
        Weighting::Weighted => (
            format!("{}% of all voting interests", tally.quorum),
            format!(
                "{} of {} voting interests ({})",
                numbers::weight(t.voted_weight),
                numbers::weight(t.eligible_weight),
                numbers::percent(i128::from(t.voted_weight), i128::from(t.eligible_weight))
            ),
        ),
        Weighting::PerUnit => (
            format!("{}% of all eligible units", tally.quorum),
            format!(
                "{} of {} units ({})",
                numbers::count(t.voted_units),
                numbers::count(t.eligible_units),
                numbers::percent(i128::from(t.voted_units), i128::from(t.eligible_units))
            ),
        ),
    };
    Requirement {
        rule,
        measured,
        reached: tally.quorum_reached,
    }
}

fn min_turnout(tally: &Tally) -> Option<Requirement> {
    let t = &tally.turnout;
    tally.min_turnout.map(|p| Requirement {
        rule: format!("{p}% of eligible units, for elections to be valid"),
        measured: format!(
            "{} of {} units ({})",
            numbers::count(t.voted_units),
            numbers::count(t.eligible_units),
            numbers::percent(i128::from(t.voted_units), i128::from(t.eligible_units))
        ),
        reached: tally.min_turnout_reached.unwrap_or(false),
    })
}

/// The figure a ballot's weighting decides on: weight for weighted ballots, ballots otherwise.
fn measure(c: &OptionCount, weighting: Weighting) -> i128 {
    match weighting {
        Weighting::Weighted => i128::from(c.weight),
        Weighting::PerUnit => i128::from(c.ballots),
    }
}

fn shown(measure: i128, weighting: Weighting) -> String {
    match weighting {
        Weighting::Weighted => numbers::weight(i64::try_from(measure).unwrap_or(i64::MAX)),
        Weighting::PerUnit => numbers::count(u64::try_from(measure).unwrap_or(0)),
    }
}

/// One contest for the certificate: the figures from the tally, the words from the
/// `ResultsSummary` that the web pages print too (verdicts set in capitals here).
fn contest(
    number: usize,
    c: &ContestResult,
    summary: &ContestSummary,
    tally: &Tally,
    weighting: Weighting,
) -> ContestView {
    match c {
        ContestResult::Resolution {
            title,
            yes,
            no,
            abstain,
            threshold,
            passed,
            ..
        } => {
            let row = |label, c: &OptionCount| AnswerRow {
                label,
                ballots: numbers::count(c.ballots),
                weight: numbers::weight(c.weight),
            };
            let (y, n) = (measure(yes, weighting), measure(no, weighting));
            let unit = match weighting {
                Weighting::Weighted => "voting interests",
                Weighting::PerUnit => "units",
            };
            let measured = match threshold {
                Threshold::MajorityOfCast | Threshold::TwoThirdsOfCast => format!(
                    "Yes: {} of {} cast for yes or no ({}); abstentions are not votes cast.",
                    shown(y, weighting),
                    shown(y + n, weighting),
                    numbers::percent(y, y + n)
                ),
                Threshold::ShareOfAllInterests { .. } => {
                    let (_, all) = tally.turnout.quorum_measure(weighting);
                    format!(
                        "Yes: {} of all {} {unit} ({}).",
                        shown(y, weighting),
                        shown(all, weighting),
                        numbers::percent(y, all)
                    )
                }
            };
            let need = threshold.describe();
            ContestView::Resolution(ResolutionView {
                number,
                title: title.clone(),
                threshold: need,
                rows: vec![row("Yes", yes), row("No", no), row("Abstain", abstain)],
                measured,
                passed: *passed,
                // Without a quorum nothing passes, whatever the votes: the qualifier says so
                // first.
                outcome: match summary.qualifier {
                    Some(q) => format!("{}: {q}", summary.verdict.to_uppercase()),
                    None => summary.verdict.to_uppercase(),
                },
                reason: summary.reason.clone(),
            })
        }
        ContestResult::Election {
            title,
            seats,
            candidates,
            blank,
            valid,
            ..
        } => {
            // Standard competition ranking: equal figures share a rank (1, 2, 2, 4).
            let mut rows = Vec::with_capacity(candidates.len());
            let mut rank = 0;
            let mut previous = None;
            for (i, (cand, mark)) in candidates.iter().zip(&summary.marks).enumerate() {
                let m = measure(&cand.votes, weighting);
                if previous != Some(m) {
                    rank = i + 1;
                    previous = Some(m);
                }
                rows.push(CandidateRow {
                    rank: rank.to_string(),
                    name: cand.name.clone(),
                    ballots: numbers::count(cand.votes.ballots),
                    weight: numbers::weight(cand.votes.weight),
                    status: mark.to_uppercase(),
                });
            }
            let elected = candidates.iter().filter(|c| c.elected).count() as u64;
            // An invalid election's verdict is set in capitals: nobody is elected.
            let verdict = if *valid {
                summary.verdict.to_owned()
            } else {
                summary.verdict.to_uppercase()
            };
            let validity = format!("{verdict}: {}", summary.reason);
            let tie = summary.tie.clone();
            let open = summary.open_seats.clone();
            ContestView::Election(ElectionView {
                number,
                title: title.clone(),
                seats: numbers::count(u64::from(*seats)),
                candidates: rows,
                elected: numbers::count(elected),
                blank: numbers::count(*blank),
                ballots: numbers::count(tally.ballots_counted),
                tie,
                open_seats: open,
                valid: *valid,
                validity,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_key_wraps_only_at_its_separators() {
        assert_eq!(
            key_parts("cista.example+0a1b2c3d+AQID"),
            vec!["cista.example+", "0a1b2c3d+", "AQID"]
        );
        assert_eq!(key_parts("single"), vec!["single"]);
    }
}
