//! What staff do with embedded assessments, and which roles may do it. The actions fold into
//! the platform's `OrgAction` through one `From`, so `Actor::authorize_in` takes either.

use cista_types::Role;

/// An action of the embedded assessment inside one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentAction {
    /// Build, import, export and publish assessments.
    Manage,
    /// List results, de-identified (subject codes, bands, scores), and export them.
    ViewResults,
    /// See who a result's client is (a vault read, audited each time).
    RevealClient,
    /// Erase a client's name and email for good (the scored answers stay, de-identified).
    PurgeClient,
}

impl AssessmentAction {
    pub const ALL: [AssessmentAction; 4] = [
        AssessmentAction::Manage,
        AssessmentAction::ViewResults,
        AssessmentAction::RevealClient,
        AssessmentAction::PurgeClient,
    ];

    /// The action in words, completing "you are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            AssessmentAction::Manage => "build or publish assessments",
            AssessmentAction::ViewResults => "see assessment results",
            AssessmentAction::RevealClient => "see who a client is",
            AssessmentAction::PurgeClient => "erase a client's personal data",
        }
    }

    /// Whether `role` may do this: owners, administrators and the firm's advisors, each of
    /// them (an advisor answers a client's erasure request as readily as an owner).
    pub fn role_may(self, role: Role) -> bool {
        match self {
            AssessmentAction::Manage
            | AssessmentAction::ViewResults
            | AssessmentAction::RevealClient
            | AssessmentAction::PurgeClient => {
                matches!(role, Role::Owner | Role::Admin | Role::Advisor)
            }
        }
    }
}
