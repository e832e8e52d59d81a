//! One result in full, as the firm's staff see it (issue 12, items 5 and 6): every answer in
//! the words of the question and its options, every score, the band with its texts for the
//! client and for the advisor, the versions and hashes that make it checkable. De-identified
//! on the result's page (`assessment_result`); with the client's name and email for the report
//! (`assessment_report`), a vault read audited like "show who". The PDF is drawn from
//! `ResultReport` by `cista-report`; this module decides what it says.

use super::definition::{Definition, QuestionKind};
use super::results::Client;
use super::submit::StoredResult;
use super::{AssessmentAction, PublishedAssessment};
use crate::{Action, Actor, Cista, Error, Result};
use cista_types::{OrgId, SubjectCode, SubmissionId, TimeZoneName, Timestamp};
use serde_json::Value;

/// A question and the client's answer, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerLine {
    pub question: String,
    /// The chosen options' labels (`; ` between several), the number, the scale point with
    /// its end labels, the text as typed; `Not answered` for an optional question left out.
    pub answer: String,
    pub answered: bool,
}

/// A section of the definition with its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerSection {
    pub title: String,
    pub answers: Vec<AnswerLine>,
}

/// A score with its value as text (at its rule's decimals) and whether the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreLine {
    pub label: String,
    pub value: String,
    pub shown_to_client: bool,
}

/// A result in full, without who it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultDetail {
    pub organization: String,
    pub title: String,
    pub form_key: String,
    pub version: u32,
    pub submission: SubmissionId,
    pub subject: SubjectCode,
    /// When the client's name and email were erased, if they were.
    pub client_erased_at: Option<Timestamp>,
    pub received_at: Timestamp,
    /// The organization's time zone, in which the report states times.
    pub time_zone: TimeZoneName,
    pub sections: Vec<AnswerSection>,
    pub scores: Vec<ScoreLine>,
    pub band_label: String,
    pub band_client_text: String,
    pub band_advisor_text: String,
    pub band_shown_to_client: bool,
    /// The purpose the client agreed to, as the form stated it then.
    pub consented_to: String,
    /// The firm's site the widget was on.
    pub origin: String,
    pub rules_sha256: String,
    pub definition_sha256: String,
    pub content_sha256: String,
}

/// A result with who it was: what the advisor's report prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultReport {
    pub detail: ResultDetail,
    pub client: Client,
    pub generated_at: Timestamp,
}

impl ResultReport {
    /// The report's file name: `risk-profile-result-123.pdf` (no personal data in it).
    pub fn file_name(&self) -> String {
        format!(
            "{}-result-{}.pdf",
            self.detail.form_key, self.detail.submission
        )
    }
}

impl Cista {
    /// Result `submission` of `org` in full, de-identified (the subject code, never the name).
    pub async fn assessment_result(
        &self,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
    ) -> Result<ResultDetail> {
        actor.authorize_in(org, AssessmentAction::ViewResults)?;
        self.result_detail(org, submission).await
    }

    /// Result `submission` of `org` with its client's name and email, for the report: a
    /// vault read recorded in the audit log (subject code and purpose, never the name).
    pub async fn assessment_report(
        &self,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
    ) -> Result<ResultReport> {
        actor.authorize_in(org, AssessmentAction::RevealClient)?;
        self.report_with_client(actor, org, submission, "advisor's report")
            .await
    }

    /// The report of a result for the outbox worker, which attaches it to the message that
    /// tells the chosen advisors (when the form's settings say to attach it). Audited.
    pub async fn report_for_delivery(
        &self,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
    ) -> Result<ResultReport> {
        actor.authorize(Action::DeliverMessages)?;
        self.report_with_client(actor, org, submission, "report emailed to an advisor")
            .await
    }

    async fn report_with_client(
        &self,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
        purpose: &str,
    ) -> Result<ResultReport> {
        let detail = self.result_detail(org, submission).await?;
        let client = self
            .read_client(actor, org, (detail.subject, submission), purpose)
            .await?;
        Ok(ResultReport {
            detail,
            client,
            generated_at: self.clock().now(),
        })
    }

    async fn result_detail(&self, org: OrgId, submission: SubmissionId) -> Result<ResultDetail> {
        let (stored, form) = self.org_result(org, submission).await?;
        let published = PublishedAssessment::read(form)?;
        let result: StoredResult = serde_json::from_value(self.open_payload(&stored).await?)
            .map_err(|_| Error::NotFound {
                what: "that result",
            })?;
        let organization = self
            .store()
            .organization(org)
            .await?
            .ok_or(Error::NotFound {
                what: "that organization",
            })?;
        let definition = &published.assessment.definition;
        let band = definition.result.bands.get(result.band);
        Ok(ResultDetail {
            organization: organization.name.as_str().to_owned(),
            title: definition.title.clone(),
            form_key: published.form.key.clone(),
            version: published.form.version,
            submission,
            subject: result.subject,
            client_erased_at: self.vault().tombstone(result.subject).await?,
            received_at: stored.received_at,
            time_zone: organization.time_zone,
            sections: answer_sections(definition, &result.answers),
            scores: score_lines(definition, &result.scores),
            band_label: result.band_label.clone(),
            band_client_text: band.map(|b| b.client_text.clone()).unwrap_or_default(),
            band_advisor_text: band.map(|b| b.advisor_text.clone()).unwrap_or_default(),
            band_shown_to_client: definition.client_sees.band,
            consented_to: result.consented_to,
            origin: result.origin,
            rules_sha256: result.rules_sha256,
            definition_sha256: published.form.definition_sha256.to_hex(),
            content_sha256: stored.content_sha256.to_hex(),
        })
    }
}

/// Every section's questions with the answers given, in words.
fn answer_sections(
    definition: &Definition,
    answers: &serde_json::Map<String, Value>,
) -> Vec<AnswerSection> {
    definition
        .sections
        .iter()
        .map(|section| AnswerSection {
            title: section.title.clone(),
            answers: section
                .questions
                .iter()
                .map(|q| {
                    let answer = answers.get(&q.id).and_then(|a| in_words(&q.kind, a));
                    AnswerLine {
                        question: q.text.clone(),
                        answered: answer.is_some(),
                        answer: answer.unwrap_or_else(|| "Not answered".to_owned()),
                    }
                })
                .collect(),
        })
        .collect()
}

/// An answer as the client chose it: option labels, not ids. `None` for nothing given.
fn in_words(kind: &QuestionKind, answer: &Value) -> Option<String> {
    let label = |id: &str| {
        kind.options()
            .iter()
            .find(|o| o.id == id)
            .map_or_else(|| id.to_owned(), |o| o.label.clone())
    };
    let text = match (kind, answer) {
        (QuestionKind::SingleChoice { .. }, Value::String(id)) => label(id),
        (QuestionKind::MultipleChoice { .. }, Value::Array(ids)) => {
            let chosen: Vec<String> = ids.iter().filter_map(Value::as_str).map(label).collect();
            if chosen.is_empty() {
                return None;
            }
            chosen.join("; ")
        }
        (
            QuestionKind::Scale {
                min,
                max,
                min_label,
                max_label,
            },
            Value::Number(n),
        ) => {
            let ends = match (min_label.is_empty(), max_label.is_empty()) {
                (true, true) => String::new(),
                _ => format!(": {min} {min_label}, {max} {max_label}"),
            };
            format!("{n} on a scale from {min} to {max}{ends}")
        }
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::String(s)) if !s.is_empty() => s.clone(),
        (_, Value::Null) => return None,
        (_, other) => other.to_string(),
    };
    Some(text)
}

/// Every score of the definition with its value at the rule's decimals.
fn score_lines(definition: &Definition, scores: &serde_json::Map<String, Value>) -> Vec<ScoreLine> {
    definition
        .scores
        .iter()
        .map(|rule| ScoreLine {
            label: rule.label.clone(),
            value: scores.get(&rule.id).and_then(Value::as_f64).map_or_else(
                || "not computed".to_owned(),
                |v| format!("{v:.*}", usize::from(rule.decimals)),
            ),
            shown_to_client: definition.client_sees.scores.contains(&rule.id),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::assessment::Assessment;

    fn risk_profile() -> Definition {
        let json = serde_json::from_str(super::super::RISK_PROFILE).unwrap();
        Assessment::parse(&json).unwrap().definition
    }

    #[test]
    fn answers_read_in_the_words_of_their_options() {
        let definition = risk_profile();
        let horizon = definition.question("horizon").unwrap();
        assert_eq!(
            in_words(&horizon.kind, &serde_json::json!("over_7")).as_deref(),
            Some("In more than 7 years")
        );
        let age = definition.question("age").unwrap();
        assert_eq!(
            in_words(&age.kind, &serde_json::json!(42)).as_deref(),
            Some("42")
        );
        assert_eq!(in_words(&age.kind, &Value::Null), None);
    }

    #[test]
    fn an_unanswered_optional_question_says_so_and_scores_keep_their_decimals() {
        let definition = risk_profile();
        let sections = answer_sections(&definition, &serde_json::Map::new());
        assert!(
            sections
                .iter()
                .flat_map(|s| &s.answers)
                .all(|a| !a.answered && a.answer == "Not answered")
        );
        let mut scores = serde_json::Map::new();
        let first = &definition.scores[0];
        scores.insert(first.id.clone(), serde_json::json!(3));
        let lines = score_lines(&definition, &scores);
        assert_eq!(
            lines[0].value,
            format!("{:.*}", usize::from(first.decimals), 3.0)
        );
        assert!(lines[1..].iter().all(|l| l.value == "not computed"));
    }
}
