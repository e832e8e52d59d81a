//! Who is acting, and what they may do. Every core call takes an `Actor` and checks it first
//! (`authorize`), so a route or a command cannot forget the check.

use crate::{Error, Result};
use std::fmt;

/// The acting identity of a core call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Someone at the command line of the machine that runs Cista. They hold the data
    /// directory and the key file, so they have every right the CLI offers.
    Operator { user: String },
    /// Cista itself: background work such as signing checkpoints.
    System,
    /// A visitor without a session.
    Anonymous,
}

/// Everything an actor can ask the core to do. New features add their actions here, so the
/// authorization matrix stays in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    InitializeInstance,
    CreateOrganization,
    ListOrganizations,
    ViewTrustReport,
    SignCheckpoint,
    VerifyAudit,
    ViewKeyStatus,
    RotateKeys,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::InitializeInstance,
        Action::CreateOrganization,
        Action::ListOrganizations,
        Action::ViewTrustReport,
        Action::SignCheckpoint,
        Action::VerifyAudit,
        Action::ViewKeyStatus,
        Action::RotateKeys,
    ];

    /// Words for "you are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            Action::InitializeInstance => "initialize this instance",
            Action::CreateOrganization => "create organizations",
            Action::ListOrganizations => "list organizations",
            Action::ViewTrustReport => "view the trust report",
            Action::SignCheckpoint => "sign audit checkpoints",
            Action::VerifyAudit => "verify the audit log",
            Action::ViewKeyStatus => "view key status",
            Action::RotateKeys => "rotate keys",
        }
    }
}

impl Actor {
    pub fn operator(user: impl Into<String>) -> Self {
        Self::Operator { user: user.into() }
    }

    /// Whether this actor may perform `action`.
    pub fn may(&self, action: Action) -> bool {
        match self {
            Actor::Operator { .. } => true,
            Actor::System => matches!(
                action,
                Action::SignCheckpoint
                    | Action::VerifyAudit
                    | Action::ViewTrustReport
                    | Action::ListOrganizations
                    | Action::ViewKeyStatus
            ),
            // The trust page is public; which organizations use this instance is not.
            Actor::Anonymous => matches!(action, Action::ViewTrustReport),
        }
    }

    /// Refuses with `forbidden` unless the actor may perform `action`.
    pub fn authorize(&self, action: Action) -> Result<()> {
        if self.may(action) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                action: action.describe(),
            })
        }
    }

    /// How the actor is named in the audit log. Never personal data: operators are named by
    /// their local account, people (later) by subject code.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Operator { user } => format!("operator:{user}"),
            Actor::System => "system".to_owned(),
            Actor::Anonymous => "anonymous".to_owned(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.audit_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_visitors_may_only_read_public_things() {
        for action in Action::ALL {
            let allowed = Actor::Anonymous.may(action);
            let public = matches!(action, Action::ViewTrustReport);
            assert_eq!(allowed, public, "{action:?}");
        }
        assert!(matches!(
            Actor::Anonymous.authorize(Action::RotateKeys),
            Err(Error::Forbidden { .. })
        ));
    }

    #[test]
    fn the_system_cannot_create_organizations_or_rotate_keys() {
        assert!(!Actor::System.may(Action::CreateOrganization));
        assert!(!Actor::System.may(Action::RotateKeys));
        assert!(Actor::System.may(Action::SignCheckpoint));
        assert!(Actor::operator("root").may(Action::RotateKeys));
    }
}
