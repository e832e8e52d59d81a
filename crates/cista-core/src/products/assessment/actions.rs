//! What staff do with embedded assessments, and which roles may do it. The actions fold into
//! the platform's `OrgAction` through one `From`, so `Actor::authorize_in` takes either.

use cista_types::Role;

/// An action of the embedded assessment inside one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentAction {
    /// Build, import, export and publish assessments.
    Manage,
}

impl AssessmentAction {
    pub const ALL: [AssessmentAction; 1] = [AssessmentAction::Manage];

    /// The action in words, completing "you are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            AssessmentAction::Manage => "build or publish assessments",
        }
    }

    /// Whether `role` may do this: owners, administrators and the firm's advisors.
    pub fn role_may(self, role: Role) -> bool {
        match self {
            AssessmentAction::Manage => matches!(role, Role::Owner | Role::Admin | Role::Advisor),
        }
    }
}
