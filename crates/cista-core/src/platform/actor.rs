//! Who is acting, and what they may do. Every core call takes an `Actor` and checks it first,
//! so a route or a command cannot forget the check. Instance-wide actions are `Action`s;
//! actions inside an organization are `OrgAction`s, decided by `role_may`, the one table of
//! who may do what.

use crate::products::assessment::actions::AssessmentAction;
use crate::products::collection::actions::CollectionAction;
use crate::products::voting::actions::VotingAction;
use crate::{Error, Result};
use cista_types::{OrgId, Role, SubjectCode};
use std::collections::BTreeMap;
use std::fmt;

/// The acting identity of a core call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Someone at the command line of the machine that runs Cista. They hold the data
    /// directory and the key file, so they have every right the CLI offers.
    Operator { user: String },
    /// Cista itself: background work such as signing checkpoints and delivering mail.
    System,
    /// A visitor without a session.
    Anonymous,
    /// A signed-in person.
    Person(PersonActor),
    /// Another system calling the JSON API with an app token: it acts only in the token's
    /// organization and only as far as the token's purpose allows.
    App(AppActor),
}

/// The holder of a live app token (see `access::app_tokens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppActor {
    pub token: crate::platform::access::app_tokens::AppTokenId,
    pub org: OrgId,
    pub purpose: crate::platform::access::app_tokens::AppPurpose,
}

/// How a person signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Password (and a second factor where the role requires it).
    Full,
    /// A one-time SMS code: enough to vote, nothing else.
    SmsRestricted,
    /// A collector's phone, by its device token (field data collection): enough to fill
    /// records of the token's organization and read one's own, nothing else.
    Device(crate::products::collection::devices::DeviceId),
}

/// A signed-in person and the roles they hold, loaded with the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonActor {
    pub subject: SubjectCode,
    pub access: Access,
    pub roles: BTreeMap<OrgId, Role>,
}

/// Instance-wide actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    InitializeInstance,
    CreateOrganization,
    ListOrganizations,
    ViewTrustReport,
    /// See the trust report's operational details: exact software versions, paths, key ids,
    /// backup errors verbatim. Staff with a full session, and the machine's operator.
    ViewTrustDetails,
    SignCheckpoint,
    VerifyAudit,
    ViewKeyStatus,
    RotateKeys,
    DeliverMessages,
    ErasePersonAnywhere,
    /// Look a person up by email address (the command line's `demo` and support work).
    FindPeople,
    /// Turn uploaded photos into their delivered copies and thumbnails (background work).
    ProcessMedia,
    /// Write benchmark data straight to the store (`cista bench tally`: units and a filled
    /// ballot box without the cast path or a per-vote audit entry). The machine's operator
    /// only: no session, no app token and no background job can.
    LoadBenchmarkData,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::InitializeInstance,
        Action::CreateOrganization,
        Action::ListOrganizations,
        Action::ViewTrustReport,
        Action::ViewTrustDetails,
        Action::SignCheckpoint,
        Action::VerifyAudit,
        Action::ViewKeyStatus,
        Action::RotateKeys,
        Action::DeliverMessages,
        Action::ErasePersonAnywhere,
        Action::FindPeople,
        Action::ProcessMedia,
        Action::LoadBenchmarkData,
    ];

    /// Words for "you are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            Action::InitializeInstance => "initialize this instance",
            Action::CreateOrganization => "create organizations",
            Action::ListOrganizations => "list organizations",
            Action::ViewTrustReport => "view the trust report",
            Action::ViewTrustDetails => "view the trust report's operational details",
            Action::SignCheckpoint => "sign audit checkpoints",
            Action::VerifyAudit => "verify the audit log",
            Action::ViewKeyStatus => "view key status",
            Action::RotateKeys => "rotate keys",
            Action::DeliverMessages => "deliver messages",
            Action::ErasePersonAnywhere => "erase people",
            Action::FindPeople => "look people up by email address",
            Action::ProcessMedia => "process uploaded photos",
            Action::LoadBenchmarkData => "load benchmark data",
        }
    }
}

/// Actions inside one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// See the organization's home page.
    ViewOrganization,
    /// See the list of staff and members, with their names and contact details (each view
    /// is an audited read of personal data).
    ViewPeople,
    /// Invite someone with this role.
    Invite(Role),
    /// Give a member this role (the member's current role also counts: see `role_may`).
    ChangeRole(Role),
    /// Send someone's invitation again.
    ResendInvitation,
    /// Erase someone's personal data.
    ErasePerson,
    /// Change the organization's settings (its time zone).
    ManageSettings,
    /// Create, list and revoke the organization's app tokens (API credentials).
    ManageAppTokens,
    /// Record breaches, see who they could have touched, tell them and record that the
    /// supervisory authority was told (GDPR Art. 33/34).
    ManageBreaches,
    /// Publish record forms (field data collection). Assessments have their own action
    /// (`AssessmentAction::Manage`).
    ManageForms,
    /// Submit a form and attach its files (a collector's records; one's own records and
    /// their reviews can be read back).
    SubmitForms,
    /// Read every submission and its files (reviewers of records).
    ViewSubmissions,
    /// An action of association voting.
    Voting(VotingAction),
    /// An action of the embedded assessment.
    Assessment(AssessmentAction),
    /// An action of field data collection.
    Collection(CollectionAction),
}

impl From<CollectionAction> for OrgAction {
    fn from(action: CollectionAction) -> Self {
        Self::Collection(action)
    }
}

impl From<VotingAction> for OrgAction {
    fn from(action: VotingAction) -> Self {
        Self::Voting(action)
    }
}

impl From<AssessmentAction> for OrgAction {
    fn from(action: AssessmentAction) -> Self {
        Self::Assessment(action)
    }
}

impl OrgAction {
    pub fn describe(self) -> &'static str {
        match self {
            OrgAction::ViewOrganization => "view this organization",
            OrgAction::ViewPeople => "view this organization's people",
            OrgAction::Invite(_) => "invite people with this role",
            OrgAction::ChangeRole(_) => "give this role",
            OrgAction::ResendInvitation => "resend invitations",
            OrgAction::ErasePerson => "erase people",
            OrgAction::ManageSettings => "change this organization's settings",
            OrgAction::ManageAppTokens => "manage this organization's app tokens",
            OrgAction::ManageBreaches => "manage this organization's breaches",
            OrgAction::ManageForms => "publish this organization's forms",
            OrgAction::SubmitForms => "submit this organization's forms",
            OrgAction::ViewSubmissions => "read this organization's submissions",
            OrgAction::Voting(action) => action.describe(),
            OrgAction::Assessment(action) => action.describe(),
            OrgAction::Collection(action) => action.describe(),
        }
    }

    /// Every action, for the generated authorization matrix.
    pub fn all() -> Vec<OrgAction> {
        let mut all = vec![
            OrgAction::ViewOrganization,
            OrgAction::ViewPeople,
            OrgAction::ResendInvitation,
            OrgAction::ErasePerson,
            OrgAction::ManageSettings,
            OrgAction::ManageAppTokens,
            OrgAction::ManageBreaches,
            OrgAction::ManageForms,
            OrgAction::SubmitForms,
            OrgAction::ViewSubmissions,
        ];
        all.extend(VotingAction::ALL.map(OrgAction::Voting));
        all.extend(AssessmentAction::ALL.map(OrgAction::Assessment));
        all.extend(CollectionAction::ALL.map(OrgAction::Collection));
        for role in Role::ALL {
            all.push(OrgAction::Invite(role));
            all.push(OrgAction::ChangeRole(role));
        }
        all
    }
}

/// The table: which role may do what inside its organization. Owners may do everything;
/// administrators everything except making or touching owners; inspectors read every voting
/// record and change nothing; other roles only look at the organization's home.
pub fn role_may(role: Role, action: impl Into<OrgAction>) -> bool {
    match action.into() {
        OrgAction::ViewOrganization => true,
        OrgAction::ViewPeople
        | OrgAction::ResendInvitation
        | OrgAction::ErasePerson
        | OrgAction::ManageSettings
        | OrgAction::ManageAppTokens
        | OrgAction::ManageBreaches
        | OrgAction::ManageForms => matches!(role, Role::Owner | Role::Admin),
        // Records of field data collection: collectors fill them, reviewers read them.
        OrgAction::SubmitForms => matches!(role, Role::Owner | Role::Admin | Role::Collector),
        OrgAction::ViewSubmissions => matches!(role, Role::Owner | Role::Admin | Role::Reviewer),
        OrgAction::Voting(action) => action.role_may(role),
        OrgAction::Collection(action) => action.role_may(role),
        OrgAction::Assessment(action) => action.role_may(role),
        OrgAction::Invite(target) | OrgAction::ChangeRole(target) => match role {
            Role::Owner => true,
            Role::Admin => target != Role::Owner,
            _ => false,
        },
    }
}

impl Actor {
    pub fn operator(user: impl Into<String>) -> Self {
        Self::Operator { user: user.into() }
    }

    /// Whether this actor may perform the instance-wide `action`.
    pub fn may(&self, action: Action) -> bool {
        match self {
            Actor::Operator { .. } => !matches!(action, Action::DeliverMessages),
            Actor::System => matches!(
                action,
                Action::SignCheckpoint
                    | Action::VerifyAudit
                    | Action::ViewTrustReport
                    | Action::ViewTrustDetails
                    | Action::ListOrganizations
                    | Action::ViewKeyStatus
                    | Action::DeliverMessages
                    | Action::ProcessMedia
            ),
            // Versions, paths and key ids help an attacker more than a visitor: staff only.
            Actor::Person(p) if matches!(action, Action::ViewTrustDetails) => {
                p.access == Access::Full && p.roles.values().any(|role| role.is_staff())
            }
            Actor::Anonymous | Actor::Person(_) | Actor::App(_) => {
                matches!(action, Action::ViewTrustReport)
            }
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

    /// Whether this actor may perform `action` in `org`. The operator may do anything; a
    /// person only with a full session and a role that allows it there.
    pub fn may_in(&self, org: OrgId, action: impl Into<OrgAction>) -> bool {
        let action = action.into();
        match self {
            Actor::Operator { .. } => true,
            Actor::Person(p) => {
                let access_allows = match p.access {
                    Access::Full => true,
                    Access::Device(_) => {
                        matches!(action, OrgAction::ViewOrganization | OrgAction::SubmitForms)
                    }
                    Access::SmsRestricted => false,
                };
                access_allows
                    && p.roles
                        .get(&org)
                        .is_some_and(|role| role_may(*role, action))
            }
            Actor::App(app) => app.org == org && app.purpose.allows(action),
            Actor::System | Actor::Anonymous => false,
        }
    }

    pub fn authorize_in(&self, org: OrgId, action: impl Into<OrgAction>) -> Result<()> {
        let action = action.into();
        if self.may_in(org, action) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                action: action.describe(),
            })
        }
    }

    /// The signed-in person, if any.
    pub fn person(&self) -> Option<&PersonActor> {
        match self {
            Actor::Person(p) => Some(p),
            _ => None,
        }
    }

    /// How the actor is named in the audit log. Never personal data: operators are named by
    /// their local account, people by subject code.
    /// How the audit log (and a submission's `submitted_by`) names a person who acted.
    pub fn audit_name_of(subject: SubjectCode) -> String {
        format!("subject:{subject}")
    }

    pub fn audit_name(&self) -> String {
        match self {
            Actor::Operator { user } => format!("operator:{user}"),
            Actor::System => "system".to_owned(),
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::Person(p) => Self::audit_name_of(p.subject),
            Actor::App(app) => format!("app:{}", app.token),
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

    fn person(org: OrgId, role: Role, access: Access) -> Actor {
        Actor::Person(PersonActor {
            subject: SubjectCode::from_i64(7),
            access,
            roles: BTreeMap::from([(org, role)]),
        })
    }

    #[test]
    fn anonymous_visitors_and_people_may_only_read_the_trust_report() {
        for action in Action::ALL {
            let public = matches!(action, Action::ViewTrustReport);
            assert_eq!(Actor::Anonymous.may(action), public, "{action:?}");
            assert_eq!(
                person(OrgId::from_i64(1), Role::Member, Access::Full).may(action),
                public
            );
            let staff = public || matches!(action, Action::ViewTrustDetails);
            assert_eq!(
                person(OrgId::from_i64(1), Role::Owner, Access::Full).may(action),
                staff
            );
        }
    }

    #[test]
    fn only_staff_with_a_full_session_see_the_trust_reports_details() {
        let org = OrgId::from_i64(1);
        assert!(!Actor::Anonymous.may(Action::ViewTrustDetails));
        assert!(!person(org, Role::Member, Access::Full).may(Action::ViewTrustDetails));
        assert!(!person(org, Role::Admin, Access::SmsRestricted).may(Action::ViewTrustDetails));
        assert!(person(org, Role::Inspector, Access::Full).may(Action::ViewTrustDetails));
        assert!(Actor::operator("root").may(Action::ViewTrustDetails));
    }

    #[test]
    fn only_the_operator_loads_benchmark_data() {
        let org = OrgId::from_i64(1);
        assert!(Actor::operator("root").may(Action::LoadBenchmarkData));
        assert!(!Actor::System.may(Action::LoadBenchmarkData));
        assert!(!person(org, Role::Owner, Access::Full).may(Action::LoadBenchmarkData));
        assert!(!person(org, Role::Admin, Access::Full).may(Action::LoadBenchmarkData));
    }

    #[test]
    fn the_system_cannot_create_organizations_or_rotate_keys() {
        assert!(!Actor::System.may(Action::CreateOrganization));
        assert!(!Actor::System.may(Action::RotateKeys));
        assert!(Actor::System.may(Action::SignCheckpoint));
        assert!(Actor::operator("root").may(Action::RotateKeys));
    }

    #[test]
    fn roles_act_only_in_their_own_organization() {
        let home = OrgId::from_i64(1);
        let other = OrgId::from_i64(2);
        for role in Role::ALL {
            let actor = person(home, role, Access::Full);
            for action in OrgAction::all() {
                assert_eq!(actor.may_in(home, action), role_may(role, action));
                assert!(
                    !actor.may_in(other, action),
                    "{role:?} {action:?} in another org"
                );
            }
        }
    }

    #[test]
    fn an_sms_session_may_do_nothing_in_an_organization() {
        let org = OrgId::from_i64(1);
        let actor = person(org, Role::Owner, Access::SmsRestricted);
        for action in OrgAction::all() {
            assert!(!actor.may_in(org, action), "{action:?}");
        }
    }

    #[test]
    fn administrators_cannot_make_or_unmake_owners() {
        assert!(role_may(Role::Admin, OrgAction::Invite(Role::Admin)));
        assert!(!role_may(Role::Admin, OrgAction::Invite(Role::Owner)));
        assert!(!role_may(Role::Admin, OrgAction::ChangeRole(Role::Owner)));
        assert!(role_may(Role::Owner, OrgAction::ChangeRole(Role::Owner)));
        for role in [Role::Inspector, Role::Advisor, Role::Reviewer, Role::Member] {
            assert!(!role_may(role, OrgAction::ViewPeople), "{role:?}");
            assert!(role_may(role, OrgAction::ViewOrganization), "{role:?}");
        }
    }

    #[test]
    fn inspectors_read_every_voting_record_and_change_nothing() {
        for action in OrgAction::all() {
            let reads = matches!(
                action,
                OrgAction::ViewOrganization
                    | OrgAction::Voting(
                        VotingAction::ViewUnits
                            | VotingAction::ViewBallots
                            | VotingAction::ViewRecords
                    )
            );
            assert_eq!(role_may(Role::Inspector, action), reads, "{action:?}");
        }
        for role in [Role::Advisor, Role::Reviewer, Role::Member] {
            assert!(!role_may(role, VotingAction::ViewRecords), "{role:?}");
            assert!(!role_may(role, VotingAction::EnterPaperBallots), "{role:?}");
        }
    }
}
