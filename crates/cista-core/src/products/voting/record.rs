//! The official record of a ballot (FL-08) as CSV: for a recorded ballot, each unit's choices
//! with time and channel; for a secret ballot, the anonymous ballot list and the participation
//! list as two separate files that nothing joins. Ballot contents are exported only after the
//! close (FL-09); the participation list at any time. Every export is audited.

use super::VotingAction;
use super::VotingError;
use super::audit::VotingAuditKind;
use super::definition::{Answer, BallotDefinition, Choice, Secrecy};
use super::{Ballot, Window};
use crate::platform::audit::NewAuditEntry;
use crate::platform::spreadsheet::CsvBytes;
use crate::ports::{BallotStatus, BoxColumns, Participation};
use crate::{Actor, Cista, Error, Result};
use cista_types::{BallotId, OrgId, SubjectCode, UnitId};
use std::collections::BTreeMap;

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

fn write_rows(rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    crate::platform::spreadsheet::csv_bytes(rows)
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

/// The units of a ballot: label and weight, as written in the record.
type UnitCells = BTreeMap<UnitId, (String, String)>;

/// A unit's label and weight cells (empty when the unit is not among the ballot's).
fn unit_cells(units: &UnitCells, unit: &UnitId) -> (String, String) {
    units.get(unit).cloned().unwrap_or_default()
}

/// The contests' titles, one column each after a record's fixed columns.
fn contest_titles(definition: &BallotDefinition) -> Vec<String> {
    definition
        .contests
        .iter()
        .map(|c| c.title.clone())
        .collect()
}

/// Sorts (unit label, row) pairs in the natural order of the labels and adds the rows.
fn push_by_unit(rows: &mut Vec<Vec<String>>, mut lines: Vec<(String, Vec<String>)>) {
    lines.sort_by(|a, b| super::units::natural_cmp(&a.0, &b.0));
    rows.extend(lines.into_iter().map(|(_, r)| r));
}

impl Cista {
    /// One file of a ballot's official record, as CSV bytes.
    pub async fn export_record(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        file: RecordFile,
    ) -> Result<Vec<u8>> {
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
        let bytes = match file {
            // The anonymous list names no unit: the roll is not read for it.
            RecordFile::AnonymousBallots => self.anonymous_ballot_csv(&ballot).await?,
            RecordFile::RecordedVotes => {
                let units = self.unit_cells(id).await?;
                write_rows(self.recorded_vote_rows(&ballot, &units).await?)?
            }
            RecordFile::Participation => {
                let units = self.unit_cells(id).await?;
                write_rows(self.participation_rows(id, definition, &units).await?)?
            }
            RecordFile::Refusals => {
                let units = self.unit_cells(id).await?;
                write_rows(self.refusal_rows(id, definition, &units).await?)?
            }
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
        Ok(bytes)
    }

    /// The ballot's roll: each unit's label and weight cells.
    async fn unit_cells(&self, id: BallotId) -> Result<UnitCells> {
        Ok(self
            .store()
            .voting()
            .eligible_units(id)
            .await?
            .into_iter()
            .map(|e| (e.unit, (e.label.to_string(), e.weight.to_string())))
            .collect())
    }

    /// The recorded votes: per unit, when and how its ballot came and its choices (a secret
    /// ballot has none to give).
    async fn recorded_vote_rows(
        &self,
        ballot: &Ballot,
        units: &UnitCells,
    ) -> Result<Vec<Vec<String>>> {
        let (id, definition) = (ballot.id(), &ballot.definition);
        if definition.secrecy != Secrecy::Recorded {
            return Err(Error::invalid(
                "record",
                "a secret ballot has no per-unit votes; export the anonymous ballot list \
                 and the participation list",
            ));
        }
        let tz = &definition.time_zone;
        let participation: BTreeMap<UnitId, Participation> = self
            .store()
            .voting()
            .participation(id)
            .await?
            .into_iter()
            .map(|p| (p.unit, p))
            .collect();
        let mut header = vec![
            "unit".to_owned(),
            "weight".to_owned(),
            "received".to_owned(),
            "received_utc".to_owned(),
            "channel".to_owned(),
            "tracker".to_owned(),
        ];
        header.extend(contest_titles(definition));
        let mut rows = vec![header];
        let mut lines = Vec::new();
        // The box page by page (each entry of a recorded ballot names its unit), not the
        // whole list at once.
        let list = self.published_list_of(ballot).await?;
        self.open_published_list(&list, BoxColumns::All, None, |page| {
            for (unit, published) in page.units.iter().zip(&page.ballots) {
                let Some(unit) = unit else {
                    continue;
                };
                let (l, w) = unit_cells(units, unit);
                let p = participation.get(unit);
                let mut row = vec![
                    l.clone(),
                    w,
                    p.map(|p| tz.format_precise(p.at)).unwrap_or_default(),
                    p.map(|p| p.at.to_rfc3339()).unwrap_or_default(),
                    p.map(|p| p.channel.as_str().to_owned()).unwrap_or_default(),
                    published.tracker.to_string(),
                ];
                row.extend(choice_cells(definition, &published.choices.0));
                lines.push((l, row));
            }
            Ok(())
        })
        .await?;
        push_by_unit(&mut rows, lines);
        Ok(rows)
    }

    /// The anonymous ballot list as CSV: tracker, weight and choices, in tracker order,
    /// written as the box is read page by page.
    async fn anonymous_ballot_csv(&self, ballot: &Ballot) -> Result<Vec<u8>> {
        let definition = &ballot.definition;
        let mut csv = CsvBytes::new();
        let mut header = vec!["tracker".to_owned(), "weight".to_owned()];
        header.extend(contest_titles(definition));
        csv.row(&header)?;
        let list = self.published_list_of(ballot).await?;
        self.open_published_list(&list, BoxColumns::Ballots, None, |page| {
            for b in &page.ballots {
                let mut row = vec![b.tracker.to_string(), b.weight.to_string()];
                row.extend(choice_cells(definition, &b.choices.0));
                csv.row(&row)?;
            }
            Ok(())
        })
        .await?;
        csv.finish()
    }

    /// The participation list: which units voted, when, how and from where.
    async fn participation_rows(
        &self,
        id: BallotId,
        definition: &BallotDefinition,
        units: &UnitCells,
    ) -> Result<Vec<Vec<String>>> {
        let tz = &definition.time_zone;
        let mut rows = vec![
            [
                "unit",
                "weight",
                "channel",
                "received",
                "received_utc",
                "voter_subject",
                "origin",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        let lines: Vec<(String, Vec<String>)> = self
            .store()
            .voting()
            .participation(id)
            .await?
            .into_iter()
            .map(|p| {
                let (l, w) = unit_cells(units, &p.unit);
                let row = vec![
                    l.clone(),
                    w,
                    p.channel.as_str().to_owned(),
                    tz.format_precise(p.at),
                    p.at.to_rfc3339(),
                    p.voter.map(|s| s.to_string()).unwrap_or_default(),
                    origin_cell(&p.origin.ip, &p.origin.user_agent, &p.origin.staff),
                ];
                (l, row)
            })
            .collect();
        push_by_unit(&mut rows, lines);
        Ok(rows)
    }

    /// The refusals: every vote refused, with its reason.
    async fn refusal_rows(
        &self,
        id: BallotId,
        definition: &BallotDefinition,
        units: &UnitCells,
    ) -> Result<Vec<Vec<String>>> {
        let tz = &definition.time_zone;
        let mut rows = vec![
            [
                "unit",
                "channel",
                "at",
                "at_utc",
                "reason",
                "voter_subject",
                "origin",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for r in self.store().voting().refusals(id).await? {
            let (l, _) = unit_cells(units, &r.unit);
            rows.push(vec![
                l,
                r.channel.as_str().to_owned(),
                tz.format_precise(r.at),
                r.at.to_rfc3339(),
                r.reason.clone(),
                r.voter.map(|s| s.to_string()).unwrap_or_default(),
                origin_cell(&r.origin.ip, &r.origin.user_agent, &r.origin.staff),
            ]);
        }
        Ok(rows)
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
