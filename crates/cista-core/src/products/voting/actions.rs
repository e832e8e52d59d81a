//! What staff do in association voting, and which roles may do it. The actions fold into the
//! platform's `OrgAction` through one `From`, so `Actor::authorize_in` takes either.

use cista_types::Role;

/// An action of association voting inside one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VotingAction {
    /// See units, weights, consent and how many owners each has (not who they are).
    ViewUnits,
    /// Import units and owners, record consent given on paper.
    ManageUnits,
    /// See ballots, live turnout and quorum, refused attempts.
    ViewBallots,
    /// Build, publish, cancel and reissue ballots; send reminders.
    ManageBallots,
    /// Enter paper ballots.
    EnterPaperBallots,
    /// Read results, the official record and the participation list, and export them.
    ViewRecords,
}

impl VotingAction {
    pub const ALL: [VotingAction; 6] = [
        VotingAction::ViewUnits,
        VotingAction::ManageUnits,
        VotingAction::ViewBallots,
        VotingAction::ManageBallots,
        VotingAction::EnterPaperBallots,
        VotingAction::ViewRecords,
    ];

    /// The action in words, completing "you are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            VotingAction::ViewUnits => "view this organization's units",
            VotingAction::ManageUnits => "change this organization's units and owners",
            VotingAction::ViewBallots => "view this organization's ballots",
            VotingAction::ManageBallots => "build, publish or cancel ballots",
            VotingAction::EnterPaperBallots => "enter paper ballots",
            VotingAction::ViewRecords => "read voting records and results",
        }
    }

    /// Whether `role` may do this: owners and administrators everything, inspectors read
    /// every voting record and change nothing (FL-07), other roles nothing.
    pub fn role_may(self, role: Role) -> bool {
        match self {
            VotingAction::ManageUnits
            | VotingAction::ManageBallots
            | VotingAction::EnterPaperBallots => matches!(role, Role::Owner | Role::Admin),
            VotingAction::ViewUnits | VotingAction::ViewBallots | VotingAction::ViewRecords => {
                matches!(role, Role::Owner | Role::Admin | Role::Inspector)
            }
        }
    }
}
