//! The official record of a ballot (FL-08) as CSV: for a recorded ballot, each unit's choices
//! with time and channel; for a secret ballot, the anonymous ballot list and the participation
//! list as two separate files that nothing joins. Ballot contents are exported only after the
//! close (FL-09); the participation list at any time. Every export is audited.

use super::VotingAction;
use super::VotingError;
use super::audit::VotingAuditKind;
use super::bundle::PublishedBallot;
use super::definition::{Answer, BallotDefinition, Choice, Secrecy};
use super::published::{BALLOT_PAGE, PublishedList};
use super::{Ballot, Window};
use crate::platform::audit::NewAuditEntry;
use crate::platform::spreadsheet::CsvBytes;
use crate::ports::{BallotStatus, EligibleUnit, Participation};
use crate::{Actor, Cista, Error, Result};
use cista_types::{BallotId, OrgId, SubjectCode, UnitId};
use std::collections::HashMap;

/// Which file of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFile {
    /// Recorded ballots: unit, weight, time, channel and choices.
    RecordedVotes,
    /// Secret ballots: tracker, weight and choices, in tracker order.
    AnonymousBallots,
    /// Who took part: unit, weight, channel, time, origin.
    Participation,
    /// Refused attempts: unit, channel, time, origin, reason.
    Refusals,
}

impl RecordFile {
    pub fn file_name(self, ballot: BallotId) -> String {
        let what = match self {
            Self::RecordedVotes => "votes",
            Self::AnonymousBallots => "ballots",
            Self::Participation => "participation",
            Self::Refusals => "refused-attempts",
        };
        format!("ballot-{ballot}-{what}.csv")
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::RecordedVotes => "recorded-votes",
            Self::AnonymousBallots => "anonymous-ballots",
            Self::Participation => "participation",
            Self::Refusals => "refusals",
        }
    }
}

fn choice_cells(definition: &BallotDefinition, choices: &[Choice]) -> Vec<String> {
    definition
        .contests
        .iter()
        .map(
            |contest| match choices.iter().find(|c| c.contest() == contest.id) {
                Some(Choice::Answer { answer, .. }) => match answer {
                    Answer::Yes => "yes",
                    Answer::No => "no",
                    Answer::Abstain => "abstain",
                }
                .to_owned(),
                Some(Choice::Candidates { candidates, .. }) => candidates
                    .iter()
                    .filter_map(|id| contest.candidate(*id).map(|c| c.name.clone()))
                    .collect::<Vec<_>>()
                    .join("; "),
                None => String::new(),
            },
        )
        .collect()
}

fn origin_cell(p_ip: &Option<String>, ua: &Option<String>, staff: &Option<SubjectCode>) -> String {
    match (staff, p_ip) {
        (Some(s), _) => format!("entered by staff subject {s}"),
        (None, Some(ip)) => format!("{ip} {}", ua.as_deref().unwrap_or(""))
            .trim()
            .to_owned(),
        (None, None) => String::new(),
    }
}

/// The sealed results of a closed ballot with what a certificate needs beside them.
#[derive(Debug, Clone)]
pub struct ResultsForCertificate {
    pub organization: String,
    pub ballot: Ballot,
    pub results: super::bundle::BallotResults,
    /// The instance signing key's id (8 hex digits).
    pub verifier_key_id: String,
    /// The signed-note verifier key that checks the ballot's checkpoint.
    pub verifier_key: String,
}

/// How many units of the roll a record file reads and writes at a time (one `IN` list).
const RECORD_PART: u64 = 1000;

/// How many refused attempts a record file reads at a time.
const REFUSAL_PAGE: u64 = 1000;

/// The contests' titles, one column each after a record's fixed columns.
fn contest_titles(definition: &BallotDefinition) -> Vec<String> {
    definition
        .contests
        .iter()
        .map(|c| c.title.clone())
        .collect()
}

/// A file's fixed columns, then the contests' titles for the files that hold choices.
fn header(columns: &[&str], contests: Option<&BallotDefinition>) -> Vec<String> {
    let mut header: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    header.extend(contests.map(contest_titles).unwrap_or_default());
    header
}

/// Writes one part of a file (its rows as CSV) to `out`.
async fn write_part<W>(out: &mut W, csv: CsvBytes) -> Result<()>
where
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    use tokio::io::AsyncWriteExt as _;
    let bytes = csv.finish()?;
    out.write_all(&bytes)
        .await
        .map_err(|e| Error::Internal(format!("writing the record file: {e}")))
}

/// One file of a ballot's official record, checked and audited, to be written by
/// `Cista::write_record`.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    ballot: Ballot,
    file: RecordFile,
    /// The ballot's list with its key unwrapped, for the files that hold its contents: read
    /// while planning, so an outage of the key provider is the request's error, not a broken
    /// download.
    list: Option<PublishedList>,
}

impl RecordPlan {
    pub fn file(&self) -> RecordFile {
        self.file
    }
}

impl Cista {
    /// One file of a ballot's official record, as CSV bytes, whole in memory: for tests and
    /// the command line. Errors as `plan_record` and `write_record`.
    pub async fn export_record(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        file: RecordFile,
    ) -> Result<Vec<u8>> {
        let plan = self.plan_record(actor, org, id, file).await?;
        let mut bytes = Vec::new();
        self.write_record(&plan, &mut bytes).await?;
        Ok(bytes)
    }

    /// Checks that `actor` may export `file` of ballot `id` now, and audits the export.
    ///
    /// # Errors
    /// `forbidden` without the right to view records; `not_found` for another organization's
    /// ballot; `results_sealed` for the ballot's contents before the close (FL-09);
    /// `invalid_input` on `record` for the votes of a secret ballot (it has none per unit).
    pub async fn plan_record(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        file: RecordFile,
    ) -> Result<RecordPlan> {
        actor.authorize_in(org, VotingAction::ViewRecords)?;
        let ballot = self.ballot(actor, org, id).await?;
        let definition = &ballot.definition;
        let contents = matches!(
            file,
            RecordFile::RecordedVotes | RecordFile::AnonymousBallots
        );
        if contents && ballot.status() != BallotStatus::Closed {
            return Err(Error::from(VotingError::ResultsSealed(format!(
                "ballot contents are sealed until voting closes on {}",
                ballot.local(definition.closes_at)
            ))));
        }
        if file == RecordFile::RecordedVotes && definition.secrecy != Secrecy::Recorded {
            return Err(Error::invalid(
                "record",
                "a secret ballot has no per-unit votes; export the anonymous ballot list \
                 and the participation list",
            ));
        }
        let list = if contents {
            Some(self.published_list_of(&ballot).await?)
        } else {
            None
        };
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                VotingAuditKind::RecordExported,
                serde_json::json!({ "ballot": id.to_string(), "file": file.as_str() }),
            ))
            .await?;
        Ok(RecordPlan { ballot, file, list })
    }

    /// Writes a planned record file to `out` as CSV, a part at a time: the files by unit
    /// (the votes, the participation list) read the ballot's roll `RECORD_PART` units at a
    /// time in natural label order (from the roll's stored sort keys) with those units' rows;
    /// the anonymous list and the refusals are read page by page. A million-unit ballot's
    /// file takes the memory of a part, not of its roll.
    ///
    /// # Errors
    /// The store's errors, and `internal` when `out` refuses the bytes (the client went
    /// away); what was written before stays written.
    pub async fn write_record<W>(&self, plan: &RecordPlan, out: &mut W) -> Result<()>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        match plan.file {
            // The anonymous list names no unit: the roll is not read for it.
            RecordFile::AnonymousBallots => self.write_anonymous_ballots(plan, out).await,
            RecordFile::RecordedVotes | RecordFile::Participation => {
                self.write_by_unit(plan, out).await
            }
            RecordFile::Refusals => self.write_refusals(&plan.ballot, out).await,
        }
    }

    /// The recorded votes (per unit: when and how its ballot came, and its choices) or the
    /// participation list (which units voted, when, how and from where), by unit.
    async fn write_by_unit<W>(&self, plan: &RecordPlan, out: &mut W) -> Result<()>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        let (ballot, votes) = (&plan.ballot, plan.file == RecordFile::RecordedVotes);
        let (id, definition) = (ballot.id(), &ballot.definition);
        let mut csv = CsvBytes::new();
        csv.row(&if votes {
            header(
                &[
                    "unit",
                    "weight",
                    "received",
                    "received_utc",
                    "channel",
                    "tracker",
                ],
                Some(definition),
            )
        } else {
            header(
                &[
                    "unit",
                    "weight",
                    "channel",
                    "received",
                    "received_utc",
                    "voter_subject",
                    "origin",
                ],
                None,
            )
        })?;
        write_part(out, csv).await?;
        let list = plan.list.as_ref().filter(|_| votes);
        let voting = self.store().voting();
        // The cursor is the last row's stored key, as read (see `roll_in_order`).
        let mut after: Option<(Vec<u8>, UnitId)> = None;
        loop {
            let cursor = after.as_ref().map(|(key, unit)| (key.as_slice(), *unit));
            let rows = voting.roll_in_order(id, cursor, RECORD_PART).await?;
            // A full part may have more after it, from its last row's key.
            let next = match rows.last() {
                Some((key, last)) if rows.len() as u64 == RECORD_PART => {
                    Some((key.clone(), last.unit))
                }
                _ => None,
            };
            let part: Vec<EligibleUnit> = rows.into_iter().map(|(_, e)| e).collect();
            let units: Vec<UnitId> = part.iter().map(|e| e.unit).collect();
            let mut taken: HashMap<UnitId, Participation> = voting
                .participation_of_units(id, &units)
                .await?
                .into_iter()
                .map(|p| (p.unit, p))
                .collect();
            let mut csv = CsvBytes::new();
            if let Some(list) = list {
                let entries = voting.box_entries_of_units(id, &units).await?;
                let opened = super::published::open_with_units(list, entries).await?;
                let mut choices: HashMap<UnitId, PublishedBallot> = opened
                    .units
                    .into_iter()
                    .zip(opened.ballots)
                    .filter_map(|(unit, ballot)| unit.map(|u| (u, ballot)))
                    .collect();
                for e in &part {
                    if let Some(published) = choices.remove(&e.unit) {
                        csv.row(&vote_row(definition, e, taken.get(&e.unit), &published))?;
                    }
                }
            } else {
                for e in &part {
                    if let Some(p) = taken.remove(&e.unit) {
                        csv.row(&participation_row(definition, e, &p))?;
                    }
                }
            }
            write_part(out, csv).await?;
            match next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The anonymous ballot list: tracker, weight and choices, in tracker order, a page at a
    /// time.
    async fn write_anonymous_ballots<W>(&self, plan: &RecordPlan, out: &mut W) -> Result<()>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        let definition = &plan.ballot.definition;
        let mut csv = CsvBytes::new();
        csv.row(&header(&["tracker", "weight"], Some(definition)))?;
        write_part(out, csv).await?;
        let Some(list) = &plan.list else {
            return Err(Error::Internal("the plan holds no ballot list".to_owned()));
        };
        let mut after = None;
        loop {
            let page = self.published_page(list, after, BALLOT_PAGE).await?;
            let mut csv = CsvBytes::new();
            for b in &page {
                let mut row = vec![b.tracker.to_string(), b.weight.to_string()];
                row.extend(choice_cells(definition, &b.choices.0));
                csv.row(&row)?;
            }
            write_part(out, csv).await?;
            match page.last() {
                Some(last) if page.len() == BALLOT_PAGE as usize => after = Some(last.tracker),
                _ => return Ok(()),
            }
        }
    }

    /// The refusals: every attempt refused, with its reason, oldest first, a page at a time.
    async fn write_refusals<W>(&self, ballot: &Ballot, out: &mut W) -> Result<()>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        let (id, tz) = (ballot.id(), &ballot.definition.time_zone);
        let mut csv = CsvBytes::new();
        csv.row(&header(
            &[
                "unit",
                "channel",
                "at",
                "at_utc",
                "reason",
                "voter_subject",
                "origin",
            ],
            None,
        ))?;
        write_part(out, csv).await?;
        let voting = self.store().voting();
        let mut after = None;
        loop {
            let page = voting.refusals_after(id, after, REFUSAL_PAGE).await?;
            let mut csv = CsvBytes::new();
            for (label, r) in &page {
                csv.row(&[
                    label.clone(),
                    r.channel.as_str().to_owned(),
                    tz.format_precise(r.at),
                    r.at.to_rfc3339(),
                    r.reason.clone(),
                    r.voter.map(|s| s.to_string()).unwrap_or_default(),
                    origin_cell(&r.origin.ip, &r.origin.user_agent, &r.origin.staff),
                ])?;
            }
            write_part(out, csv).await?;
            match page.last() {
                Some((_, last)) if page.len() as u64 == REFUSAL_PAGE => {
                    after = Some((last.at, last.id));
                }
                _ => return Ok(()),
            }
        }
    }

    /// What the certified results of a closed ballot print: the sealed results, the
    /// organization's name and the instance's verifier key. Reading it for a certificate is an
    /// export of the official record and is audited like the CSV files.
    pub async fn results_for_certificate(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
    ) -> Result<ResultsForCertificate> {
        actor.authorize_in(org, VotingAction::ViewRecords)?;
        let ballot = self.ballot(actor, org, id).await?;
        let results = super::close::sealed_results(&ballot)?;
        let organization = self
            .store()
            .organization(org)
            .await?
            .map(|o| o.name.to_string())
            .unwrap_or_default();
        let verifier = self.signer().verifier();
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                VotingAuditKind::RecordExported,
                serde_json::json!({ "ballot": id.to_string(), "file": "results.pdf" }),
            ))
            .await?;
        Ok(ResultsForCertificate {
            organization,
            ballot,
            results,
            verifier_key_id: verifier.key_id(),
            verifier_key: verifier.to_verifier_key(),
        })
    }

    /// Whether a ballot's window is over (for pages that offer to close it).
    pub fn window_of(&self, ballot: &Ballot) -> Window {
        ballot.window(self.clock().now())
    }
}

/// A participation list's row for unit `e` (its label and weight on the roll).
fn participation_row(
    definition: &BallotDefinition,
    e: &EligibleUnit,
    p: &Participation,
) -> Vec<String> {
    vec![
        e.label.to_string(),
        e.weight.to_string(),
        p.channel.as_str().to_owned(),
        definition.time_zone.format_precise(p.at),
        p.at.to_rfc3339(),
        p.voter.map(|s| s.to_string()).unwrap_or_default(),
        origin_cell(&p.origin.ip, &p.origin.user_agent, &p.origin.staff),
    ]
}

/// A recorded ballot's row for unit `e`: when and how its ballot came (blank without its
/// participation row), its tracker and choices.
fn vote_row(
    definition: &BallotDefinition,
    e: &EligibleUnit,
    p: Option<&Participation>,
    published: &PublishedBallot,
) -> Vec<String> {
    let tz = &definition.time_zone;
    let mut row = vec![
        e.label.to_string(),
        e.weight.to_string(),
        p.map(|p| tz.format_precise(p.at)).unwrap_or_default(),
        p.map(|p| p.at.to_rfc3339()).unwrap_or_default(),
        p.map(|p| p.channel.as_str().to_owned()).unwrap_or_default(),
        published.tracker.to_string(),
    ];
    row.extend(choice_cells(definition, &published.choices.0));
    row
}
