//! What the firm's staff do with results: list them de-identified (subject code, date,
//! version, band, scores), see who one client is (a vault read, audited every time, with its
//! purpose), and erase a client's name and email for good on request (crypto-shredding: the
//! person's own key is destroyed and a tombstone kept, which every restore replays; the
//! scored answers stay under the subject code). The code that links a result to its client is
//! read from the sealed result itself, so a result can only ever reveal or purge its own.

use super::{AssessmentAction, PublishedAssessment};
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::intake::FormProduct;
use crate::platform::people::PersonFields;
use crate::platform::spreadsheet::{MAX_EXPORTED, too_many_to_export};
use crate::platform::submission_pages::SubmissionPages;
use crate::ports::{StoredForm, StoredSubmission};
use crate::{Actor, Cista, Error, Result};
use cista_types::{FormId, OrgId, SubjectCode, SubmissionId, Timestamp};
use std::collections::BTreeMap;

/// The most results one listing returns.
pub const MAX_RESULTS: usize = 1000;

/// One result as staff list it: no name, no email.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub submission: SubmissionId,
    pub received_at: Timestamp,
    pub form_version: u32,
    pub subject: SubjectCode,
    pub band: String,
    /// Every score, label and value, in the version's order.
    pub scores: Vec<(String, f64)>,
    /// The client's name and email were erased.
    pub client_erased: bool,
}

impl ResultRow {
    /// The value of each score named in `labels` (a version's score labels, in order), as
    /// text; empty where this result has no such score.
    pub fn score_cells(&self, labels: &[String]) -> Vec<String> {
        labels
            .iter()
            .map(|label| {
                self.scores
                    .iter()
                    .find(|(l, _)| l == label)
                    .map_or_else(String::new, |(_, v)| v.to_string())
            })
            .collect()
    }
}

/// Which results a listing keeps: every one by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultFilter {
    /// Only results in the band with this label.
    pub band: Option<String>,
    /// Only results received at or after this instant.
    pub received_from: Option<Timestamp>,
    /// Only results received before this instant.
    pub received_before: Option<Timestamp>,
}

impl ResultFilter {
    fn keeps(&self, band: &str, received_at: Timestamp) -> bool {
        self.band.as_deref().is_none_or(|b| b == band)
            && self.received_from.is_none_or(|from| received_at >= from)
            && self
                .received_before
                .is_none_or(|before| received_at < before)
    }

    /// Whether it keeps everything.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Who a client is, or that they were erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    Known(PersonFields),
    Erased(Timestamp),
}

impl Cista {
    /// The results of `org`'s assessment `key`, every version, newest first (the newest
    /// `MAX_RESULTS`), and the newest version.
    pub async fn assessment_results(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
    ) -> Result<(PublishedAssessment, Vec<ResultRow>)> {
        self.assessment_results_where(actor, org, key, &ResultFilter::default())
            .await
    }

    /// The results of `org`'s assessment `key` that `filter` keeps, newest first, at most
    /// `MAX_RESULTS` (the filter is applied to every result, so an older match is found past
    /// newer ones), and the newest version.
    pub async fn assessment_results_where(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
        filter: &ResultFilter,
    ) -> Result<(PublishedAssessment, Vec<ResultRow>)> {
        self.results_matching(actor, org, key, (filter, Some(MAX_RESULTS)))
            .await
    }

    /// The results `filter` keeps, newest first: at most `most`, or every one (the CSV).
    /// Read a page at a time (`SubmissionPages`, the data key unwrapped once); who is erased
    /// is found in one vault read.
    async fn results_matching(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
        (filter, most): (&ResultFilter, Option<usize>),
    ) -> Result<(PublishedAssessment, Vec<ResultRow>)> {
        actor.authorize_in(org, AssessmentAction::ViewResults)?;
        let mut versions = BTreeMap::new();
        for form in self.versions_of_key(org, key).await? {
            if form.product == FormProduct::Assessment.as_str() {
                versions.insert(form.id, PublishedAssessment::read(form)?);
            }
        }
        let ids: Vec<FormId> = versions.keys().copied().collect();
        let mut results = Vec::new();
        let mut pages = SubmissionPages::new(self, org, ids);
        'read: while let Some(page) = pages.next().await? {
            for (submission, payload) in page {
                // Newest first: once past the filter's first day (or full), nothing further
                // can be kept.
                let too_old = filter
                    .received_from
                    .is_some_and(|from| submission.received_at < from);
                if too_old || most.is_some_and(|most| results.len() >= most) {
                    break 'read;
                }
                let Some(version) = versions.get(&submission.form) else {
                    continue;
                };
                let result = result_of(payload)?;
                if filter.keeps(&result.band_label, submission.received_at) {
                    // Not the sealed payload: only what the row shows is kept.
                    results.push(((submission.id, submission.received_at), version, result));
                }
            }
        }
        let subjects: Vec<SubjectCode> = results.iter().map(|(_, _, r)| r.subject).collect();
        let standing = self.vault_standing(&subjects).await?;
        let mut rows = Vec::with_capacity(results.len());
        for ((submission, received_at), version, result) in results {
            let definition = &version.assessment.definition;
            let scores = definition
                .scores
                .iter()
                .filter_map(|rule| {
                    let value = result.scores.get(&rule.id)?.as_f64()?;
                    Some((rule.label.clone(), value))
                })
                .collect();
            rows.push(ResultRow {
                submission,
                received_at,
                form_version: version.form.version,
                subject: result.subject,
                band: result.band_label,
                scores,
                client_erased: standing.get(&result.subject).is_some_and(|s| s.erased),
            });
        }
        let newest = versions
            .into_values()
            .max_by_key(|v| v.form.version)
            .ok_or(Error::NotFound {
                what: "that assessment",
            })?;
        Ok((newest, rows))
    }

    /// The de-identified results of `org`'s assessment `key` that `filter` keeps, as CSV (one
    /// row per result: result id, received at (RFC 3339, UTC), version, subject code, band,
    /// every score of the newest version, whether the client was erased), formula-safe;
    /// audited with the filter.
    pub async fn assessment_results_csv(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
        filter: &ResultFilter,
    ) -> Result<Vec<u8>> {
        // Every result the filter keeps: the download is whole, or refused.
        let (newest, rows) = self
            .results_matching(actor, org, key, (filter, Some(MAX_EXPORTED + 1)))
            .await?;
        if rows.len() > MAX_EXPORTED {
            return Err(too_many_to_export("results"));
        }
        let labels = newest.assessment.definition.score_labels();
        let mut lines = vec![
            ["result", "received_at", "version", "subject", "band"]
                .iter()
                .map(|h| (*h).to_owned())
                .chain(labels.iter().cloned())
                .chain(["client_erased".to_owned()])
                .collect::<Vec<_>>(),
        ];
        for row in &rows {
            let mut line = vec![
                row.submission.to_string(),
                row.received_at.to_rfc3339(),
                row.form_version.to_string(),
                row.subject.to_string(),
                row.band.clone(),
            ];
            line.extend(row.score_cells(&labels));
            line.push(row.client_erased.to_string());
            lines.push(line);
        }
        let bytes = crate::platform::spreadsheet::csv_bytes(lines)?;
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                super::AssessmentAuditKind::ResultsExported,
                serde_json::json!({
                    "form": newest.form.key,
                    "rows": rows.len(),
                    "band": filter.band,
                    "received_from": filter.received_from.map(|t| t.to_rfc3339()),
                    "received_before": filter.received_before.map(|t| t.to_rfc3339()),
                }),
            ))
            .await?;
        Ok(bytes)
    }

    /// Who the client of result `submission` is, for `purpose` (recorded in the audit log
    /// with the subject code, never the name).
    pub async fn reveal_client(
        &self,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
        purpose: &str,
    ) -> Result<(SubjectCode, Client)> {
        actor.authorize_in(org, AssessmentAction::RevealClient)?;
        let purpose = purpose.trim();
        // Said in words a reader of the audit log sees, as a ballot's cancel reason is.
        if !cista_types::controls::is_readable(purpose) || purpose.chars().count() > 200 {
            return Err(Error::invalid(
                "purpose",
                "say in a few words why you need to see who this is (at most 200 characters)",
            ));
        }
        let subject = self.result_subject(org, submission).await?;
        let client = self
            .read_client(actor, org, (subject, submission), purpose)
            .await?;
        Ok((subject, client))
    }

    /// Reads who client `subject` of result `submission` is, or that they were erased, and
    /// records the read with its purpose (subject code and purpose, never the name).
    pub(crate) async fn read_client(
        &self,
        actor: &Actor,
        org: OrgId,
        (subject, submission): (SubjectCode, SubmissionId),
        purpose: &str,
    ) -> Result<Client> {
        let client = match self.vault().tombstone(subject).await? {
            Some(at) => Client::Erased(at),
            None => Client::Known(self.own_fields(subject).await?),
        };
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                AuditKind::PersonRead,
                serde_json::json!({
                    "subjects": [subject.to_string()],
                    "submission": submission,
                    "purpose": purpose,
                }),
            ))
            .await?;
        Ok(client)
    }

    /// Erases the name and email of result `submission`'s client for good. Erasing again
    /// changes nothing and records nothing.
    pub async fn purge_client(
        &self,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
    ) -> Result<SubjectCode> {
        actor.authorize_in(org, AssessmentAction::PurgeClient)?;
        let subject = self.result_subject(org, submission).await?;
        let now = self.clock().now();
        // The vault first: once this returns, the name and email are unreadable everywhere,
        // and the tombstone makes every later restore erase them again.
        if self.vault().erase_person(subject, now).await? {
            self.store()
                .append_audit(NewAuditEntry::new(
                    now,
                    actor,
                    Some(org),
                    AuditKind::PersonErased,
                    serde_json::json!({
                        "subject": subject.to_string(),
                        "submission": submission,
                        "client_of": "assessment",
                    }),
                ))
                .await?;
        }
        Ok(subject)
    }

    /// The subject code sealed in `org`'s assessment result `submission`.
    async fn result_subject(&self, org: OrgId, submission: SubmissionId) -> Result<SubjectCode> {
        let (stored, _) = self.org_result(org, submission).await?;
        Ok(self.stored_result(&stored).await?.subject)
    }

    /// `org`'s assessment result `submission` and the form version it answered; `not_found`
    /// for anything else. A field record is a submission of the same organization too, and
    /// its answers are the collector's to shape: read as a result, a record whose fields
    /// mimic one would name any subject code, and a reveal or a purge would act on that
    /// person (OWASP API1, broken object level authorization). Every read of one result by
    /// its id goes through here.
    pub(crate) async fn org_result(
        &self,
        org: OrgId,
        submission: SubmissionId,
    ) -> Result<(StoredSubmission, StoredForm)> {
        let stored = self.org_submission(org, submission, "that result").await?;
        let form = self
            .store()
            .intake()
            .form(stored.form)
            .await?
            .filter(|f| f.product == FormProduct::Assessment.as_str())
            .ok_or(Error::NotFound {
                what: "that result",
            })?;
        Ok((stored, form))
    }

    pub(crate) async fn stored_result(
        &self,
        stored: &StoredSubmission,
    ) -> Result<super::submit::StoredResult> {
        result_of(self.open_payload(stored).await?)
    }
}

/// An assessment's stored result, from its opened payload (`not_found` if it is none).
fn result_of(payload: serde_json::Value) -> Result<super::submit::StoredResult> {
    serde_json::from_value(payload).map_err(|_| Error::NotFound {
        what: "that result",
    })
}
