//! What staff do with field data collection beyond filling and reading records (the platform's
//! `SubmitForms` and `ViewSubmissions`), and which roles may do it.

use cista_types::Role;

/// An action of field data collection inside one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionAction {
    /// Put records in a review state with a comment the collector sees.
    Review,
    /// Issue device sign-ins for any collector and revoke anyone's devices.
    ManageDevices,
    /// Add and remove webhook endpoints, read their delivery log, send a message again.
    ManageWebhooks,
}

impl CollectionAction {
    pub const ALL: [CollectionAction; 3] = [
        CollectionAction::Review,
        CollectionAction::ManageDevices,
        CollectionAction::ManageWebhooks,
    ];

    /// The action in words, completing "you are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            CollectionAction::Review => "review records",
            CollectionAction::ManageDevices => "manage collectors' devices",
            CollectionAction::ManageWebhooks => "manage webhooks",
        }
    }

    /// Owners and administrators may do all; reviewers review.
    pub fn role_may(self, role: Role) -> bool {
        match self {
            CollectionAction::Review => matches!(role, Role::Owner | Role::Admin | Role::Reviewer),
            CollectionAction::ManageDevices | CollectionAction::ManageWebhooks => {
                matches!(role, Role::Owner | Role::Admin)
            }
        }
    }
}
