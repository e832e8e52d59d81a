//! The embedded assessment (seed `001`): a firm defines questions, scoring rules and result
//! bands; a client answers in a widget on the firm's own site; the score is computed here, on
//! the server, never in the browser. So far: the definition and its checks (`definition`), the
//! answers' checks (`answers`), scoring with its publish-time proofs (`scoring`: no division by
//! zero, every score in its range, exactly one band for every result), and publishing through
//! the platform's form pipeline (`publish`).

pub mod actions;
pub mod answers;
pub mod definition;
pub mod error;
pub mod publish;
pub mod scoring;

pub use actions::AssessmentAction;
pub use answers::Answers;
pub use definition::Definition;
pub use error::AssessmentError;
pub use publish::PublishedAssessment;
pub use scoring::{Rules, Scored};

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
