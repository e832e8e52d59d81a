//! The one error type of Cista. Every variant has a stable code that clients, logs and docs can
//! grep for; `cista-http` turns it into HTTP in exactly one place. Public messages never carry
//! internal detail: causes go to the log through `source()`, not to the client.

use crate::products::assessment::error::AssessmentError;
use crate::products::voting::error::VotingError;
use cista_crypto::{CryptoError, KeyProviderError};
use std::error::Error as StdError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

type Cause = Box<dyn StdError + Send + Sync>;

/// One problem in an imported file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportProblem {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// The column's header name, when the problem is in one column.
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// How an error should be treated by a caller, independent of any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request was wrong; the caller can fix it.
    BadRequest,
    /// The body is not of a type this route takes, or not what it says it is (HTTP 415).
    UnsupportedMediaType,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    Timeout,
    RateLimited,
    /// A dependency (database, key provider) is down; retrying later may help.
    Unavailable,
    /// Our fault. The client learns only the code and the request id.
    Internal,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{what} was not found")]
    NotFound { what: &'static str },
    #[error("you are not allowed to {action}")]
    Forbidden { action: &'static str },
    #[error("sign in first")]
    Unauthenticated,
    #[error("{field}: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("the request is malformed: {reason}")]
    BadRequest { reason: String },
    #[error("{0}")]
    Conflict(String),
    #[error(
        "this link is not valid: it has expired, was already used, or was mistyped; ask for a new one"
    )]
    TokenInvalid,
    /// An API call without a valid bearer token (missing, malformed, unknown, expired or
    /// revoked; which one is not said). Same code as a bad link token, but a 401.
    #[error(
        "this request needs a valid app token (Authorization: Bearer …); it is missing, expired or revoked"
    )]
    BearerTokenInvalid,
    /// An upload whose type is not allowed, or whose bytes are not of the type it declares.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the email address or the password is not right")]
    SignInFailed,
    #[error("that code is not right, or it has expired")]
    CodeInvalid,
    #[error("this password is too easy to guess: {reason}")]
    WeakPassword { reason: String },
    #[error("this person's personal data was erased")]
    PersonErased,
    #[error("finish signing in with your authenticator first")]
    SecondFactorRequired,
    /// A refusal of association voting, with the product's own code.
    #[error(transparent)]
    Voting(#[from] VotingError),
    /// A refusal of the embedded assessment (rules that do not hold, answers that do not fit).
    #[error(transparent)]
    Assessment(#[from] AssessmentError),
    /// The same form was submitted again while its first submission is still running.
    #[error("this form is still being processed; wait a moment, then reload the page")]
    SubmissionInProgress,
    /// The same form was submitted again after its first submission died without recording
    /// where it went: it may or may not have made its change, so it is not run again.
    #[error(
        "this form was sent before and we cannot tell whether it went through: check the page \
         it changes, then open the form again if you still need to send it"
    )]
    SubmissionOutcomeUnknown,
    /// A file was refused as a whole: `total` problems, the first of them (at most 500,
    /// `products::voting::import::MAX_LISTED_PROBLEMS`) listed by line and column.
    #[error("the file was not imported: {} found", cista_types::words::count(*total, "problem", "problems"))]
    ImportRejected {
        problems: Vec<ImportProblem>,
        total: usize,
    },
    #[error("the request body is larger than the {limit_bytes} bytes allowed")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("the request took too long and was stopped")]
    RequestTimeout,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("the request did not come from this site's own pages (cross-site request refused)")]
    CsrfRejected,
    #[error("this service answers only over HTTPS")]
    HttpsRequired,
    /// Refused for now; the same request may succeed after `retry_after_secs` seconds (sent
    /// as HTTP `Retry-After`, RFC 9110 §10.2.3).
    #[error("too many requests; try again in {}", wait_phrase(*retry_after_secs))]
    RateLimited { retry_after_secs: u64 },
    #[error(
        "the database schema is at migration {database}, newer than this binary knows \
         (up to {binary}); run a newer Cista against this database"
    )]
    SchemaTooNew { database: String, binary: String },
    #[error("the database has not been initialized; run `cista init` (or `cista demo`)")]
    NotInitialized,
    /// The key provider refused (see `From<KeyProviderError>`: one that is unavailable is
    /// `KeyProviderUnavailable` instead, which a retry may cure).
    #[error("{0}")]
    Keys(#[source] KeyProviderError),
    #[error("cryptographic check failed: {0}")]
    Crypto(#[from] CryptoError),
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// The server is handling as many requests as it may at once and refused this one before
    /// doing anything (load shedding); sent as 503 with `Retry-After`.
    #[error("the server is busy; nothing was done, try again in a moment")]
    Overloaded,
    #[error("the database is unavailable")]
    StoreUnavailable(#[source] Cause),
    #[error("the key provider is unavailable")]
    KeyProviderUnavailable(#[source] Cause),
    #[error("the database failed")]
    Store(#[source] Cause),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn store(cause: impl StdError + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(cause))
    }

    pub fn store_unavailable(cause: impl StdError + Send + Sync + 'static) -> Self {
        Self::StoreUnavailable(Box::new(cause))
    }

    /// The stable code: part of the public interface, never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Forbidden { .. } => "forbidden",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidInput { .. } => "invalid_input",
            Self::BadRequest { .. } => "bad_request",
            Self::Conflict(_) => "conflict",
            Self::TokenInvalid | Self::BearerTokenInvalid => "token_invalid",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::SignInFailed => "sign_in_failed",
            Self::CodeInvalid => "code_invalid",
            Self::WeakPassword { .. } => "weak_password",
            Self::PersonErased => "person_erased",
            Self::SecondFactorRequired => "second_factor_required",
            Self::Voting(e) => e.code(),
            Self::Assessment(e) => e.code(),
            Self::SubmissionInProgress => "submission_in_progress",
            Self::SubmissionOutcomeUnknown => "submission_outcome_unknown",
            Self::ImportRejected { .. } => "import_rejected",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::CsrfRejected => "csrf_rejected",
            Self::HttpsRequired => "https_required",
            Self::RateLimited { .. } => "rate_limited",
            Self::SchemaTooNew { .. } => "schema_too_new",
            Self::NotInitialized => "not_initialized",
            Self::Keys(_) => "key_provider_failed",
            Self::Crypto(_) => "crypto_check_failed",
            Self::Integrity(_) => "integrity_failed",
            Self::Overloaded => "overloaded",
            Self::StoreUnavailable(_) => "storage_unavailable",
            Self::KeyProviderUnavailable(_) => "key_provider_unavailable",
            Self::Store(_) => "storage_failed",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NotFound { .. } => ErrorClass::NotFound,
            Self::Forbidden { .. } | Self::CsrfRejected | Self::SecondFactorRequired => {
                ErrorClass::Forbidden
            }
            Self::Unauthenticated | Self::SignInFailed | Self::BearerTokenInvalid => {
                ErrorClass::Unauthenticated
            }
            Self::InvalidInput { .. }
            | Self::BadRequest { .. }
            | Self::TokenInvalid
            | Self::CodeInvalid
            | Self::WeakPassword { .. }
            | Self::MethodNotAllowed
            | Self::HttpsRequired
            | Self::ImportRejected { .. } => ErrorClass::BadRequest,
            Self::Conflict(_)
            | Self::PersonErased
            | Self::SubmissionInProgress
            | Self::SubmissionOutcomeUnknown => ErrorClass::Conflict,
            Self::Voting(e) => e.class(),
            Self::Assessment(e) => e.class(),
            Self::PayloadTooLarge { .. } => ErrorClass::TooLarge,
            Self::UnsupportedMediaType(_) => ErrorClass::UnsupportedMediaType,
            Self::RequestTimeout => ErrorClass::Timeout,
            Self::RateLimited { .. } => ErrorClass::RateLimited,
            Self::Overloaded | Self::StoreUnavailable(_) | Self::KeyProviderUnavailable(_) => {
                ErrorClass::Unavailable
            }
            Self::SchemaTooNew { .. }
            | Self::NotInitialized
            | Self::Keys(_)
            | Self::Crypto(_)
            | Self::Integrity(_)
            | Self::Store(_)
            | Self::Internal(_) => ErrorClass::Internal,
        }
    }

    /// What a client may be told. Internal failures say only that something failed; the
    /// detail is in the log under the same request id.
    pub fn public_message(&self) -> String {
        match self.class() {
            ErrorClass::Internal => {
                "Something went wrong on our side. It has been logged; quote the request id if \
                 you report it."
                    .to_owned()
            }
            ErrorClass::Unavailable if matches!(self, Self::Overloaded) => self.to_string(),
            ErrorClass::Unavailable => {
                "The service is temporarily unavailable. Please try again in a moment.".to_owned()
            }
            _ => self.to_string(),
        }
    }

    /// The full cause chain, for logs only.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}

impl From<KeyProviderError> for Error {
    fn from(e: KeyProviderError) -> Self {
        match e {
            KeyProviderError::Unavailable { .. } => Self::KeyProviderUnavailable(Box::new(e)),
            e => Self::Keys(e),
        }
    }
}

impl From<cista_types::ParseError> for Error {
    fn from(e: cista_types::ParseError) -> Self {
        Error::InvalidInput {
            field: e.what.to_owned(),
            reason: e.message,
        }
    }
}

/// Every code of the platform, for documentation and the uniqueness test. Each product lists
/// its own (`VotingError::ALL_CODES`); `all_codes` joins them.
pub const ALL_CODES: &[&str] = &[
    "unsupported_media_type",
    "not_found",
    "forbidden",
    "unauthenticated",
    "invalid_input",
    "bad_request",
    "conflict",
    "token_invalid",
    "sign_in_failed",
    "code_invalid",
    "weak_password",
    "person_erased",
    "second_factor_required",
    "submission_in_progress",
    "submission_outcome_unknown",
    "import_rejected",
    "payload_too_large",
    "request_timeout",
    "method_not_allowed",
    "csrf_rejected",
    "https_required",
    "rate_limited",
    "schema_too_new",
    "not_initialized",
    "key_provider_failed",
    "crypto_check_failed",
    "integrity_failed",
    "storage_unavailable",
    "key_provider_unavailable",
    "storage_failed",
    "internal_error",
];

/// Every code, the platform's and each product's.
pub fn all_codes() -> impl Iterator<Item = &'static str> {
    ALL_CODES
        .iter()
        .chain(VotingError::ALL_CODES)
        .chain(AssessmentError::ALL_CODES)
        .copied()
}

/// A wait said the way people say it: "1 second", "40 seconds", "2 minutes" (rounded up to
/// whole minutes from one minute on, so nobody is told to come back too early).
pub fn wait_phrase(secs: u64) -> String {
    match secs {
        0 | 1 => "1 second".to_owned(),
        2..=59 => format!("{secs} seconds"),
        _ => match secs.div_ceil(60) {
            1 => "1 minute".to_owned(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_listed() {
        let unique: HashSet<_> = all_codes().collect();
        assert_eq!(unique.len(), all_codes().count());
        for e in [
            Error::NotFound { what: "x" },
            Error::Store(Box::new(std::io::Error::other("disk on fire"))),
            Error::CsrfRejected,
            Error::Internal("secret detail".into()),
            VotingError::AlreadyVoted("already".into()).into(),
            VotingError::BallotChanged.into(),
            VotingError::PaperPending("envelopes".into()).into(),
        ] {
            assert!(unique.contains(&e.code()), "{}", e.code());
        }
    }

    #[test]
    fn a_product_error_keeps_its_code_class_and_words_through_the_platform_error() {
        let voting = VotingError::NotEligible("Unit 4B is not on this ballot's roll.".into());
        let e = Error::from(voting.clone());
        assert_eq!(e.code(), "not_eligible");
        assert_eq!(e.class(), ErrorClass::Forbidden);
        assert_eq!(e.public_message(), voting.to_string());
        let e = Error::from(VotingError::AlreadyVoted("x".into()));
        assert_eq!(e.class(), ErrorClass::Conflict);
    }

    #[test]
    fn a_key_provider_that_is_down_is_unavailable_not_an_internal_failure() {
        let down = Error::from(KeyProviderError::Unavailable {
            provider: "the PKCS#11 token \"cista\"".into(),
            problem: "no answer from the module".into(),
        });
        assert_eq!(down.class(), ErrorClass::Unavailable);
        assert_eq!(down.code(), "key_provider_unavailable");
        assert!(down.chain().contains("no answer"));
        let wrong = Error::from(KeyProviderError::WrongKey {
            kek: cista_crypto::KekId::new("kek-1"),
        });
        assert_eq!(wrong.code(), "key_provider_failed");
        assert_eq!(wrong.class(), ErrorClass::Internal);
    }

    #[test]
    fn internal_detail_never_reaches_the_public_message() {
        let e = Error::store(std::io::Error::other("relation \"users\" does not exist"));
        assert!(!e.public_message().contains("relation"));
        assert!(e.chain().contains("relation"));
        let e = Error::Internal("password=hunter2".into());
        assert!(!e.public_message().contains("hunter2"));
    }

    #[test]
    fn a_wait_is_said_in_seconds_then_whole_minutes_rounded_up() {
        assert_eq!(wait_phrase(0), "1 second");
        assert_eq!(wait_phrase(45), "45 seconds");
        assert_eq!(wait_phrase(60), "1 minute");
        assert_eq!(wait_phrase(61), "2 minutes");
        assert_eq!(wait_phrase(15 * 60), "15 minutes");
        let e = Error::RateLimited {
            retry_after_secs: 90,
        };
        assert_eq!(e.to_string(), "too many requests; try again in 2 minutes");
    }
}
