//! The embedded assessment's own errors: a definition whose rules do not hold, answers that
//! do not fit the questions, and a widget on a site not allowed or with a bad load token.
//! They fold into the platform's `Error` through one `From`. Codes are part of the public
//! interface: never renamed.

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
    /// The page asking is not on the form's list of sites allowed to embed it (or sent no
    /// `Origin` at all).
    #[error("this form may not be used from {origin}")]
    OriginNotAllowed { origin: String },
    /// The widget's load token is malformed, forged, or for another form or site.
    #[error("this form's page is not valid; reload the page and try again")]
    LoadTokenInvalid,
    /// The widget's load token is older than `LOAD_TOKEN_LIFETIME`.
    #[error("this form was opened too long ago; reload the page to start again")]
    LoadTokenExpired,
}

impl AssessmentError {
    /// Every code of this product, for documentation and the uniqueness test.
    pub const ALL_CODES: &'static [&'static str] = &[
        "rules_invalid",
        "answer_invalid",
        "origin_not_allowed",
        "load_token_invalid",
        "load_token_expired",
    ];

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
            Self::OriginNotAllowed { .. } => "origin_not_allowed",
            Self::LoadTokenInvalid => "load_token_invalid",
            Self::LoadTokenExpired => "load_token_expired",
        }
    }

    /// Rules and answers are the caller's to fix; a site or token refused is forbidden.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::RulesInvalid { .. } | Self::AnswerInvalid { .. } => ErrorClass::BadRequest,
            Self::OriginNotAllowed { .. } | Self::LoadTokenInvalid | Self::LoadTokenExpired => {
                ErrorClass::Forbidden
            }
        }
    }
}
