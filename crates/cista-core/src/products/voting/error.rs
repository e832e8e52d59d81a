//! Association voting's own errors: why a vote, a ballot change or a paper entry was refused.
//! They fold into the platform's `Error` through one `From`, so `?` works across the core and
//! `cista-http` maps them like any other error. Codes are part of the public interface and are
//! also stored in refusal records (`vote_refusals.reason`): never renamed.

use crate::ErrorClass;

/// A refusal specific to association voting. The message is the whole sentence a person sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VotingError {
    /// The unit took part already; the message says when and how.
    #[error("{0}")]
    AlreadyVoted(String),
    /// The ballot is not open for voting (not yet, or no longer).
    #[error("{0}")]
    BallotNotOpen(String),
    /// The voter may not vote for this unit (not an owner, not its designated voter, not on
    /// the ballot's roll).
    #[error("{0}")]
    NotEligible(String),
    /// The unit has not consented to online voting, or opted out (FL-01).
    #[error("{0}")]
    ConsentRequired(String),
    #[error("this ballot was changed or replaced after the form was opened; open the ballot again")]
    BallotChanged,
    /// The results of a secret ballot stay sealed until it closes.
    #[error("{0}")]
    ResultsSealed(String),
    /// Outer envelopes of a secret ballot were checked in whose inner ballots are not yet in
    /// the box: the ballot cannot be closed and counted until they are.
    #[error("{0}")]
    PaperPending(String),
}

impl VotingError {
    /// Every code of this product, for documentation and the uniqueness test.
    pub const ALL_CODES: &'static [&'static str] = &[
        "already_voted",
        "ballot_not_open",
        "not_eligible",
        "consent_required",
        "ballot_changed",
        "results_sealed",
        "paper_ballots_pending",
    ];

    /// The stable code: part of the public interface and of stored refusal records.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyVoted(_) => "already_voted",
            Self::BallotNotOpen(_) => "ballot_not_open",
            Self::NotEligible(_) => "not_eligible",
            Self::ConsentRequired(_) => "consent_required",
            Self::BallotChanged => "ballot_changed",
            Self::ResultsSealed(_) => "results_sealed",
            Self::PaperPending(_) => "paper_ballots_pending",
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NotEligible(_) | Self::ConsentRequired(_) | Self::ResultsSealed(_) => {
                ErrorClass::Forbidden
            }
            Self::AlreadyVoted(_)
            | Self::BallotNotOpen(_)
            | Self::BallotChanged
            | Self::PaperPending(_) => ErrorClass::Conflict,
        }
    }
}
