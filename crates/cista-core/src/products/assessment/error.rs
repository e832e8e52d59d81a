//! The embedded assessment's own errors: a definition whose rules do not hold, and answers
//! that do not fit the questions. They fold into the platform's `Error` through one `From`.
//! Codes are part of the public interface: never renamed.

use crate::ErrorClass;

/// A refusal specific to the embedded assessment. The message is the whole sentence a person
/// (the firm's staff for rules, the client for answers) sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssessmentError {
    /// The definition or its scoring rules do not hold; `rule` names the part at fault.
    #[error("{rule}: {reason}")]
    RulesInvalid { rule: String, reason: String },
    /// An answer does not fit its question (not an option, out of bounds, missing, too long).
    #[error("{question}: {reason}")]
    AnswerInvalid { question: String, reason: String },
}

impl AssessmentError {
    /// Every code of this product, for documentation and the uniqueness test.
    pub const ALL_CODES: &'static [&'static str] = &["rules_invalid", "answer_invalid"];

    pub(crate) fn rules(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::RulesInvalid {
            rule: rule.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn answer(question: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::AnswerInvalid {
            question: question.into(),
            reason: reason.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RulesInvalid { .. } => "rules_invalid",
            Self::AnswerInvalid { .. } => "answer_invalid",
        }
    }

    /// Both are the caller's to fix.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::BadRequest
    }
}
