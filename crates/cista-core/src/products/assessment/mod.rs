//! The embedded assessment (seed `001`): a firm defines questions, scoring rules and result
//! bands; a client answers in a widget on the firm's own site; the score is computed here, on
//! the server, never in the browser. The definition and its checks (`definition`), the
//! answers' checks (`answers`), scoring with its publish-time proofs (`scoring`), publishing
//! through the platform's form pipeline (`publish`), what a client's browser may see of a
//! definition (`client_form`), the widget's signed load token (`load_token`), a submission
//! from the widget with the client apart in the person vault (`submit`), and the firm's side
//! of results: list, reveal, purge, export (`results`).

pub mod actions;
pub mod answers;
pub mod audit;
pub mod client_form;
pub mod definition;
pub mod error;
pub mod load_token;
pub mod notices;
pub mod publish;
pub mod report;
pub mod results;
pub mod scoring;
pub mod settings;
pub mod submit;

pub use actions::AssessmentAction;
pub use answers::Answers;
pub use audit::AssessmentAuditKind;
pub use client_form::{ClientForm, ClientOption, ClientQuestion, ClientSection};
pub use definition::Definition;
pub use error::AssessmentError;
pub use load_token::{LOAD_TOKEN_LIFETIME, LoadClaims, LoadToken};
pub use notices::AssessmentNotice;
pub use publish::PublishedAssessment;
pub use report::{AnswerLine, AnswerSection, ResultDetail, ResultReport, ScoreLine};
pub use results::{Client, MAX_RESULTS, ResultFilter, ResultRow};
pub use scoring::{Rules, Scored};
pub use settings::{AssessmentSettings, MAX_NOTIFIED, MAX_RETENTION_DAYS, StaffChoice};
pub use submit::{
    ClientDetails, ClientResult, LoadedWidget, SentFrom, ShownBand, ShownScore, WidgetSubmission,
};

/// The "Investment risk profile" of the demo's advisory firm: ten questions, three scores,
/// three bands. Also the example the file format is documented by.
pub const RISK_PROFILE: &str = include_str!("examples/risk-profile.json");

/// A definition read, checked and compiled: what publishing and scoring use.
#[derive(Debug)]
pub struct Assessment {
    pub definition: Definition,
    pub rules: Rules,
}

impl Assessment {
    /// Reads and checks a definition whole (structure, then rules); the error names the part
    /// at fault and says what to change.
    pub fn parse(json: &serde_json::Value) -> Result<Self, AssessmentError> {
        let definition = Definition::parse(json)?;
        let rules = Rules::compile(&definition)?;
        Ok(Self { definition, rules })
    }

    /// SHA-256 of what scores a result and nothing else (every option's points, the numeric
    /// questions' bounds, the score rules, the bands' ranges and labels), as canonical JSON:
    /// the same for two versions that differ only in wording. Each result records it.
    pub fn rules_sha256(&self) -> cista_crypto::Digest32 {
        let d = &self.definition;
        let points: serde_json::Map<String, serde_json::Value> = d
            .questions()
            .filter(|q| q.kind.is_scored())
            .map(|q| {
                let scored = match &q.kind {
                    definition::QuestionKind::Number { min, max, whole } => {
                        serde_json::json!({ "min": min, "max": max, "whole": whole })
                    }
                    definition::QuestionKind::Scale { min, max, .. } => {
                        serde_json::json!({ "min": min, "max": max })
                    }
                    kind => kind
                        .options()
                        .iter()
                        .map(|o| (o.id.clone(), serde_json::json!(o.points)))
                        .collect::<serde_json::Map<_, _>>()
                        .into(),
                };
                (q.id.clone(), scored)
            })
            .collect();
        let scores: Vec<serde_json::Value> = d
            .scores
            .iter()
            .map(|s| serde_json::json!({ "id": s.id, "logic": s.logic, "decimals": s.decimals }))
            .collect();
        let bands: Vec<serde_json::Value> = d
            .result
            .bands
            .iter()
            .map(|b| serde_json::json!({ "from": b.from, "to": b.to, "label": b.label }))
            .collect();
        let rules = serde_json::json!({
            "points": points,
            "scores": scores,
            "result": { "score": d.result.score, "bands": bands },
        });
        let text = crate::platform::intake::sorted(&rules).to_string();
        cista_crypto::Digest32::sha256(&[text.as_bytes()])
    }

    /// Checks `answers` and scores them.
    pub fn evaluate(
        &self,
        answers: &serde_json::Value,
    ) -> Result<(Answers, Scored), AssessmentError> {
        let answers = Answers::check(&self.definition, answers)?;
        let scored = self
            .rules
            .score(&answers.points, &answers.for_rules(&self.definition))?;
        Ok((answers, scored))
    }
}

#[cfg(test)]
mod tests;
