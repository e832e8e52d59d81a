//! Records of people and access that cross the store port: accounts, memberships, one-time
//! credentials, sessions, recovery codes and outbox messages. None holds personal data: people
//! are named by subject code, and anything secret is a hash or sealed.

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
    Invite,
    Reset,
    SmsCode,
}

impl CredentialPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
            Self::SmsCode => "sms-code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "invite" => Some(Self::Invite),
            "reset" => Some(Self::Reset),
            "sms-code" => Some(Self::SmsCode),
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
