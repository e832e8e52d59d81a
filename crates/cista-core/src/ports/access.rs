//! Records of people and access that cross the store port: accounts, memberships, one-time
//! credentials, sessions, recovery codes and outbox messages. None holds personal data: people
//! are named by subject code, and anything secret is a hash or sealed.

use crate::Result;
use crate::platform::access::app_tokens::{AppToken, AppTokenId};
use async_trait::async_trait;
use cista_crypto::Digest32;
use cista_types::{OrgId, Role, SubjectCode, Timestamp};
use serde::Serialize;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AccountStatus {
    /// Invited; no password yet.
    Invited,
    Active,
    Disabled,
    /// The person was erased; the row stays so the subject is never reused.
    Erased,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Erased => "erased",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            "erased" => Some(Self::Erased),
            _ => None,
        }
    }
}

/// Credentials of a person (never personal data itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub subject: SubjectCode,
    pub status: AccountStatus,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    pub password_changed_at: Option<Timestamp>,
    /// Sealed TOTP secret once enrolled, and a pending one during enrolment.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_pending: Option<Vec<u8>>,
    /// The last TOTP step accepted: a code is never accepted twice.
    pub totp_last_step: i64,
    pub failed_attempts: i32,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Account {
    pub fn new_invited(subject: SubjectCode, now: Timestamp) -> Self {
        Self {
            subject,
            status: AccountStatus::Invited,
            password_hash: None,
            password_changed_at: None,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: 0,
            failed_attempts: 0,
            locked_until: None,
            created_at: now,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub org: OrgId,
    pub subject: SubjectCode,
    pub role: Role,
    pub created_at: Timestamp,
}

/// What a one-time credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CredentialPurpose {
    /// A link to choose a first password, sent with a membership made at the same time.
    Invite,
    /// A link to choose a new password.
    Reset,
    SmsCode,
    /// An invitation to join an organization, sent to someone Cista already knows: no
    /// membership exists until the person accepts (and no staff of the organization sees
    /// what other organizations recorded of them until then). Carries the role in
    /// `Credential::role`.
    Join,
}

impl CredentialPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
            Self::SmsCode => "sms-code",
            Self::Join => "join",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "invite" => Some(Self::Invite),
            "reset" => Some(Self::Reset),
            "sms-code" => Some(Self::SmsCode),
            "join" => Some(Self::Join),
            _ => None,
        }
    }
}

/// A single-use secret: a link token (stored as its hash) or an SMS challenge (the challenge
/// id stored as its hash, the code as a keyed hash in `code_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub token_hash: Digest32,
    pub purpose: CredentialPurpose,
    pub subject: SubjectCode,
    pub org: Option<OrgId>,
    pub code_hash: Option<Digest32>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub attempts: i32,
    /// The role a `Join` credential gives in `org` when accepted; `None` for the others.
    pub role: Option<Role>,
}

/// How far a signed-in session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SessionStage {
    /// Password accepted; a second factor must be enrolled before anything else.
    MfaEnrol,
    /// Password accepted; the second factor must be given before anything else.
    MfaPending,
    /// Fully signed in.
    Full,
    /// Signed in by an SMS code: may vote and nothing else.
    Sms,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MfaEnrol => "mfa-enrol",
            Self::MfaPending => "mfa-pending",
            Self::Full => "full",
            Self::Sms => "sms",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "mfa-enrol" => Some(Self::MfaEnrol),
            "mfa-pending" => Some(Self::MfaPending),
            "full" => Some(Self::Full),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// A server-side session; the browser holds only the token whose hash is `id_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: Digest32,
    pub subject: SubjectCode,
    pub stage: SessionStage,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A session with what resolving it needs, read in one statement
/// (`AccessReads::session_with_access`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAccess {
    pub session: Session,
    /// The status of the session's account; `None` when the account is gone.
    pub account_status: Option<AccountStatus>,
    /// The account's role in each organization it belongs to, by organization id.
    pub roles: Vec<(OrgId, Role)>,
}

/// Which way a message leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// A message in the transactional outbox. The recipient is a subject code (the address is read
/// from the vault at delivery); the parameters (links, codes) are sealed and wiped on delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: Channel,
    pub recipient: SubjectCode,
    pub template: String,
    pub params: Vec<u8>,
    pub created_at: Timestamp,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// A person's record in the vault: every personal field sealed under the person's own data key,
/// which is stored wrapped by the key provider; lookups go through keyed hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultPerson {
    pub subject: SubjectCode,
    pub kek_id: String,
    pub wrapped_key: Vec<u8>,
    pub fields: Vec<u8>,
    pub email_index: Option<[u8; 32]>,
    pub phone_index: Option<[u8; 32]>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a stranger can set off against a known person, counted per requester so that one
/// requester cannot use up another's budget (OWASP Authentication Cheat Sheet, "Account
/// lockout"; OWASP "Slow brute force and lockout: device cookies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AttemptKind {
    /// An SMS sign-in code sent.
    SmsCode,
    /// A password-reset link sent.
    Reset,
    /// An invitation link re-sent through the public form.
    Invitation,
    /// A wrong password.
    Password,
}

impl AttemptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SmsCode => "sms-code",
            Self::Reset => "reset",
            Self::Invitation => "invitation",
            Self::Password => "password",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sms-code" => Some(Self::SmsCode),
            "reset" => Some(Self::Reset),
            "invitation" => Some(Self::Invitation),
            "password" => Some(Self::Password),
            _ => None,
        }
    }
}

/// One counted attempt: who it was about, what, from which requester (a keyed hash of the
/// device or network address, never the address itself) and whether that requester was a
/// device the person had signed in from before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessAttempt {
    pub subject: SubjectCode,
    pub kind: AttemptKind,
    pub requester: Digest32,
    pub trusted: bool,
    pub at: Timestamp,
}

/// Which attempts to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptScope<'a> {
    /// Those of one requester.
    Requester(&'a Digest32),
    /// Those of every requester that was not a trusted device of the person.
    Untrusted,
}

/// How many attempts a scope made since a time, and when the latest was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptTally {
    pub count: u64,
    pub latest: Option<Timestamp>,
}

/// The access capability of the store, read side: accounts, memberships, one-time credentials,
/// sessions and app tokens. A supertrait of `Store`, so `store.account(…)` reads as before
/// while the declarations and the store's implementation of them live apart from the rest.
#[async_trait]
pub trait AccessReads: Send + Sync {
    async fn account(&self, subject: SubjectCode) -> Result<Option<Account>>;

    /// The accounts of those among `subjects` who have one, in no particular order: one read
    /// per thousand subjects, for a page or a mailing that concerns many people at once.
    async fn accounts(&self, subjects: &[SubjectCode]) -> Result<Vec<Account>>;

    async fn membership(&self, org: OrgId, subject: SubjectCode) -> Result<Option<Membership>>;

    /// Every organization a person belongs to.
    async fn memberships_of(&self, subject: SubjectCode) -> Result<Vec<Membership>>;

    /// Every member of an organization.
    async fn members(&self, org: OrgId) -> Result<Vec<Membership>>;

    async fn credential(&self, token_hash: &Digest32) -> Result<Option<Credential>>;

    /// The organization's invitations to join still waiting for an answer (unused, expiring
    /// after `now`), oldest first.
    async fn pending_join_invitations(&self, org: OrgId, now: Timestamp)
    -> Result<Vec<Credential>>;

    /// How many credentials of `purpose` were issued to `subject` since `since` (rate limits).
    async fn credentials_issued_since(
        &self,
        subject: SubjectCode,
        purpose: CredentialPurpose,
        since: Timestamp,
    ) -> Result<u64>;

    /// Deletes attempts made before `before`; returns how many.
    async fn purge_access_attempts(&self, before: Timestamp) -> Result<u64>;

    async fn session(&self, id_hash: &Digest32) -> Result<Option<Session>>;

    /// The session `id_hash` names with its account's status and roles, in one round trip
    /// (what `session`, `account` and `memberships_of` give apart): every signed-in request
    /// reads it. `None` when there is no such session.
    async fn session_with_access(&self, id_hash: &Digest32) -> Result<Option<SessionAccess>>;

    /// The app token whose secret hashes to `secret_hash`, in any state.
    async fn app_token(&self, secret_hash: &Digest32) -> Result<Option<AppToken>>;

    /// An organization's app tokens, newest first, revoked and expired ones included.
    async fn app_tokens(&self, org: OrgId) -> Result<Vec<AppToken>>;
}

/// The access capability of a write transaction: accounts, memberships, credentials, sign-in
/// attempts and lockouts, sessions, app tokens and recovery codes. A supertrait of `StoreTx`:
/// every change is committed with the transaction's audit entry, as any other.
#[async_trait]
pub trait AccessWrites: Send {
    async fn insert_account(&mut self, account: &Account) -> Result<()>;

    /// Inserts the account unless the person has one already (committed, or inserted by a
    /// transaction this one waited for); true if it did. For a person known to the vault
    /// alone, so that `lock_account` has a row to lock.
    async fn insert_account_if_absent(&mut self, account: &Account) -> Result<bool>;

    /// Writes every field of the account except `totp_last_step`, which only moves forward
    /// through `advance_totp_step` (the row must exist: `not_found`). An erased account is
    /// never written back to another status (`person_erased`).
    async fn update_account(&mut self, account: &Account) -> Result<()>;

    /// Records a TOTP step as used, only if it is newer than the last one; false if not.
    async fn advance_totp_step(&mut self, subject: SubjectCode, step: i64) -> Result<bool>;

    /// Adds a membership; a person already in the organization is a `conflict`, an erased
    /// person (or one whose erasure has begun) `person_erased`. Reads their status under
    /// `FOR KEY SHARE` on their account row on PostgreSQL, so it waits for an erasure holding
    /// the person's lock (`lock_account`) and sees the erasure's mark.
    async fn insert_membership(&mut self, membership: &Membership) -> Result<()>;

    /// The person's memberships as this transaction sees them, by organization. Read after
    /// `lock_account`, no other transaction adds one until this one ends.
    async fn memberships_of(&mut self, subject: SubjectCode) -> Result<Vec<Membership>>;

    /// The organization's members as they are now (oldest first), with the organization's row
    /// locked until this transaction ends (`FOR NO KEY UPDATE` on PostgreSQL, which foreign-key
    /// checks on the organization do not wait for; SQLite's write
    /// transaction holds the database's lock already). A decision on who administers the
    /// organization (its last administrator stays) taken on this list cannot interleave with
    /// another transaction's that locked it too: two administrators demoting each other at
    /// once leave one of them in place.
    async fn lock_members(&mut self, org: OrgId) -> Result<Vec<Membership>>;

    /// Changes a member's role. An erased person (or one whose erasure has begun) is
    /// `person_erased`, read under the same lock as `insert_membership`'s: a promotion either
    /// commits before an erasure reads the memberships it checks its right against, or waits
    /// for the erasure and is refused.
    async fn set_role(&mut self, org: OrgId, subject: SubjectCode, role: Role) -> Result<()>;

    async fn delete_memberships_of(&mut self, subject: SubjectCode) -> Result<u64>;

    async fn insert_credential(&mut self, credential: &Credential) -> Result<()>;

    /// Marks a credential used if it is unused, unexpired and of `purpose`; returns it, or
    /// `None` if another request used it first (single use is enforced here, atomically).
    async fn consume_credential(
        &mut self,
        token_hash: &Digest32,
        purpose: CredentialPurpose,
        now: Timestamp,
    ) -> Result<Option<Credential>>;

    /// Counts a wrong attempt against an unused credential; returns the new count.
    async fn count_credential_attempt(&mut self, token_hash: &Digest32) -> Result<i32>;

    /// Retires every unused credential of `purpose` for `subject` (e.g. older invitations).
    async fn revoke_credentials(
        &mut self,
        subject: SubjectCode,
        purpose: CredentialPurpose,
        now: Timestamp,
    ) -> Result<u64>;

    /// Retires `subject`'s unused invitations to join `org` (an earlier one, when staff invite
    /// the person again); their invitations to other organizations stay.
    async fn revoke_join_invitations(
        &mut self,
        subject: SubjectCode,
        org: OrgId,
        now: Timestamp,
    ) -> Result<u64>;

    async fn delete_credentials_of(&mut self, subject: SubjectCode) -> Result<u64>;

    /// How many attempts of `kind` against `subject` the scope made since `since`, and when
    /// the latest was (per-requester budgets and lockouts). First takes the person's lock
    /// (their account row, `FOR UPDATE` on PostgreSQL; SQLite's write transaction holds the
    /// database's lock already) and keeps it until this transaction ends, so a decision taken
    /// on the count and the attempt recorded with it cannot interleave with another request's
    /// for the same person: concurrent requests never exceed a budget or a lockout.
    async fn access_attempts(
        &mut self,
        subject: SubjectCode,
        kind: AttemptKind,
        scope: AttemptScope<'_>,
        since: Timestamp,
    ) -> Result<AttemptTally>;

    /// The person's account as it is now, its row locked until this transaction ends (the
    /// same lock as `access_attempts`): what a change decided on it writes back cannot undo
    /// another request's change (a password set meanwhile, a lock set meanwhile).
    async fn lock_account(&mut self, subject: SubjectCode) -> Result<Option<Account>>;

    /// Counts one attempt against a person (a send or a failure).
    async fn record_access_attempt(&mut self, attempt: &AccessAttempt) -> Result<()>;

    /// Forgets one requester's attempts of `kind` against `subject` (after it succeeded);
    /// returns how many.
    async fn clear_access_attempts(
        &mut self,
        subject: SubjectCode,
        kind: AttemptKind,
        requester: &Digest32,
    ) -> Result<u64>;

    async fn insert_session(&mut self, session: &Session) -> Result<()>;

    async fn touch_session(&mut self, id_hash: &Digest32, now: Timestamp) -> Result<()>;

    async fn delete_session(&mut self, id_hash: &Digest32) -> Result<u64>;

    /// Ends every session of a person (sign-out, password change, role change, erasure).
    async fn delete_sessions_of(&mut self, subject: SubjectCode) -> Result<u64>;

    /// Adds an app token; an id or a secret hash already in use is a `conflict`.
    async fn insert_app_token(&mut self, token: &AppToken) -> Result<()>;

    /// Revokes `org`'s token `id` at `at`: `Some(true)` if it was live and is now revoked,
    /// `Some(false)` if it was revoked already (nothing written), `None` if `org` has no such
    /// token.
    async fn revoke_app_token(
        &mut self,
        org: OrgId,
        id: AppTokenId,
        at: Timestamp,
    ) -> Result<Option<bool>>;

    /// Records a token's use at `at` (its last-use time).
    async fn touch_app_token(&mut self, id: AppTokenId, at: Timestamp) -> Result<()>;

    async fn insert_recovery_codes(
        &mut self,
        subject: SubjectCode,
        hashes: &[Digest32],
    ) -> Result<()>;

    /// Uses a recovery code once; false if it is unknown or was used.
    async fn consume_recovery_code(
        &mut self,
        subject: SubjectCode,
        hash: &Digest32,
        now: Timestamp,
    ) -> Result<bool>;

    async fn delete_recovery_codes_of(&mut self, subject: SubjectCode) -> Result<u64>;
}
