//! App tokens: the bearer credential of the JSON API (`Authorization: Bearer cista_…`). A
//! token is 256 random bits, shown once when it is created and stored only as a hash; it
//! belongs to one organization, serves one purpose (what its holder may do there), expires,
//! and can be revoked. Creating and revoking are audited with the change; a token's use is
//! recorded as its last-use time (at most once a minute, like a session's last-seen time).
//! Staff manage tokens with `OrgAction::ManageAppTokens` (owners and administrators).

use crate::platform::actor::AppActor;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::products::voting::actions::VotingAction;
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_crypto::Digest32;
use cista_crypto::token::{new_token, token_hash};
use cista_types::{OrgId, Timestamp};
use serde::Serialize;
use std::fmt;
use time::Duration;

/// What every token's text starts with, so a leaked one is recognisable (secret scanners,
/// log filters) and a token of another kind is refused before any lookup.
pub const TOKEN_PREFIX: &str = "cista_";

/// A token's lifetime when none is asked for.
pub const DEFAULT_LIFETIME_DAYS: i64 = 90;

/// The longest lifetime a token may be given: a credential that other systems hold should
/// be renewed at least yearly.
pub const MAX_LIFETIME_DAYS: i64 = 365;

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 80;

/// Last-use times are written at most this often, not on every call.
const TOUCH_EVERY: Duration = Duration::minutes(1);

crate::platform::public_id::public_id!(
    /// A token's public id (not a secret): how staff name it to list or revoke it. Shown as
    /// `at-` and 16 hexadecimal digits.
    AppTokenId,
    "at-",
    "id",
    "an app token id"
);

/// What a token's holder may do in its organization. Each product adds its purposes here;
/// a purpose allows a fixed set of `OrgAction`s and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum AppPurpose {
    /// Read the organization's ballots and the results of closed ones (a board's web site,
    /// a management company's reporting).
    VotingResults,
    /// Submit the organization's published forms and upload their files (a data collection
    /// app, a partner system feeding records in).
    FormsSubmit,
}

impl AppPurpose {
    pub const ALL: [AppPurpose; 2] = [AppPurpose::VotingResults, AppPurpose::FormsSubmit];

    /// The stable name, as stored and as typed: `voting.results`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppPurpose::VotingResults => "voting.results",
            AppPurpose::FormsSubmit => "forms.submit",
        }
    }

    /// What it allows, in words, for the token pages.
    pub fn describe(self) -> &'static str {
        match self {
            AppPurpose::VotingResults => "read ballots and the results of closed ballots",
            AppPurpose::FormsSubmit => "submit published forms and upload their files",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Whether a holder of a token with this purpose may do `action` in the token's
    /// organization.
    pub fn allows(self, action: OrgAction) -> bool {
        match self {
            AppPurpose::VotingResults => matches!(
                action,
                OrgAction::ViewOrganization
                    | OrgAction::Voting(VotingAction::ViewBallots | VotingAction::ViewRecords)
            ),
            AppPurpose::FormsSubmit => {
                matches!(action, OrgAction::ViewOrganization | OrgAction::SubmitForms)
            }
        }
    }
}

impl From<AppPurpose> for &'static str {
    fn from(p: AppPurpose) -> Self {
        p.as_str()
    }
}

/// An app token as stored: the hash of its secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppToken {
    pub id: AppTokenId,
    pub org: OrgId,
    pub purpose: AppPurpose,
    /// Names the system that holds it ("Board web site"); staff's words, not personal data.
    pub label: String,
    #[serde(skip)]
    pub secret_hash: Digest32,
    /// Who created it, as the audit log names actors (`subject:…`, `operator:…`).
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// Where a token stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppTokenState {
    Active,
    Expired,
    Revoked,
}

impl AppTokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppTokenState::Active => "active",
            AppTokenState::Expired => "expired",
            AppTokenState::Revoked => "revoked",
        }
    }
}

impl AppToken {
    pub fn state(&self, now: Timestamp) -> AppTokenState {
        if self.revoked_at.is_some() {
            AppTokenState::Revoked
        } else if self.expires_at <= now {
            AppTokenState::Expired
        } else {
            AppTokenState::Active
        }
    }
}

/// A token just created: its record, and the secret to hand over once (never stored).
#[derive(Clone)]
pub struct NewAppToken {
    pub token: AppToken,
    /// `cista_` and 43 base64url characters.
    pub secret: String,
}

impl fmt::Debug for NewAppToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAppToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The caller of an API route, once its token is checked.
#[derive(Debug, Clone)]
pub struct AppCaller {
    /// `Actor::App`, what the core authorizes against.
    pub actor: Actor,
    /// The token as stored (its last use before this call).
    pub token: AppToken,
}

/// What staff ask for when they create a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTokenRequest {
    pub purpose: AppPurpose,
    pub label: String,
    /// 1 to `MAX_LIFETIME_DAYS`.
    pub lifetime_days: i64,
}

impl AppTokenRequest {
    /// Checks the label and the lifetime; returns the trimmed label.
    fn validated_label(&self) -> Result<String> {
        let label = self.label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
            return Err(Error::invalid(
                "label",
                format!(
                    "give the token a name of 1 to {MAX_LABEL_CHARS} characters, saying which system holds it"
                ),
            ));
        }
        if label.chars().any(char::is_control) {
            return Err(Error::invalid(
                "label",
                "the name may not contain line breaks or control characters",
            ));
        }
        if !(1..=MAX_LIFETIME_DAYS).contains(&self.lifetime_days) {
            return Err(Error::invalid(
                "lifetime",
                format!("a token lives from 1 to {MAX_LIFETIME_DAYS} days"),
            ));
        }
        Ok(label.to_owned())
    }
}

impl Cista {
    /// Creates an app token for `org`; the secret in the result is shown once and never
    /// again. Refused (`forbidden`) unless the actor may manage the organization's tokens;
    /// `invalid_input` for an empty or over-long label or a lifetime outside 1–365 days.
    pub async fn create_app_token(
        &self,
        actor: &Actor,
        org: OrgId,
        request: &AppTokenRequest,
    ) -> Result<NewAppToken> {
        actor.authorize_in(org, OrgAction::ManageAppTokens)?;
        let label = request.validated_label()?;
        let now = self.clock().now();
        let fresh = new_token(self.rng().as_ref());
        let mut id = [0u8; 8];
        self.rng().fill(&mut id);
        let token = AppToken {
            id: AppTokenId(i64::from_be_bytes(id)),
            org,
            purpose: request.purpose,
            label,
            secret_hash: fresh.hash,
            created_by: actor.audit_name(),
            created_at: now,
            expires_at: now.plus(Duration::days(request.lifetime_days)),
            revoked_at: None,
            last_used_at: None,
        };
        let mut tx = self.store().begin().await?;
        tx.insert_app_token(&token).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::AppTokenCreated,
            serde_json::json!({
                "token": token.id,
                "purpose": token.purpose.as_str(),
                "expires_at": token.expires_at.to_string(),
            }),
        ))
        .await?;
        Ok(NewAppToken {
            secret: format!("{TOKEN_PREFIX}{}", fresh.secret),
            token,
        })
    }

    /// The organization's tokens, newest first (revoked and expired ones included).
    pub async fn app_tokens(&self, actor: &Actor, org: OrgId) -> Result<Vec<AppToken>> {
        actor.authorize_in(org, OrgAction::ManageAppTokens)?;
        self.store().app_tokens(org).await
    }

    /// Revokes a token of `org` at once: its next call is refused. Returns false if it was
    /// revoked already (nothing is written then); `not_found` if `org` has no such token.
    pub async fn revoke_app_token(
        &self,
        actor: &Actor,
        org: OrgId,
        id: AppTokenId,
    ) -> Result<bool> {
        actor.authorize_in(org, OrgAction::ManageAppTokens)?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        match tx.revoke_app_token(org, id, now).await? {
            None => Err(Error::NotFound { what: "that token" }),
            Some(false) => Ok(false),
            Some(true) => {
                tx.commit(NewAuditEntry::new(
                    now,
                    actor,
                    Some(org),
                    AuditKind::AppTokenRevoked,
                    serde_json::json!({ "token": id }),
                ))
                .await?;
                Ok(true)
            }
        }
    }

    /// The live token a presented bearer token is, and the actor it stands for:
    /// `token_invalid` (401) when it is malformed, unknown, expired or revoked, without saying
    /// which.
    pub async fn authenticate_app_token(&self, presented: &str) -> Result<AppCaller> {
        let hash = presented
            .strip_prefix(TOKEN_PREFIX)
            .and_then(token_hash)
            .ok_or(Error::BearerTokenInvalid)?;
        let token = self
            .store()
            .app_token(&hash)
            .await?
            .ok_or(Error::BearerTokenInvalid)?;
        let now = self.clock().now();
        if token.state(now) != AppTokenState::Active {
            return Err(Error::BearerTokenInvalid);
        }
        if token
            .last_used_at
            .is_none_or(|last| last.plus(TOUCH_EVERY) <= now)
        {
            let mut tx = self.store().begin().await?;
            tx.touch_app_token(token.id, now).await?;
            tx.commit_housekeeping().await?;
        }
        Ok(AppCaller {
            actor: Actor::App(AppActor {
                token: token.id,
                org: token.org,
                purpose: token.purpose,
            }),
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_back() {
        for raw in [0, 1, -1, i64::MAX, i64::MIN, 0x1234_5678_9abc_def0] {
            let id = AppTokenId(raw);
            let text = id.to_string();
            assert_eq!(text.len(), 19, "{text}");
            assert_eq!(text.parse::<AppTokenId>().unwrap(), id);
        }
        for bad in [
            "",
            "at-",
            "at-123",
            "at-zzzzzzzzzzzzzzzz",
            "xx-0123456789abcdef",
        ] {
            assert!(bad.parse::<AppTokenId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_purpose_allows_only_its_own_actions() {
        for purpose in AppPurpose::ALL {
            assert_eq!(AppPurpose::parse(purpose.as_str()), Some(purpose));
            for action in OrgAction::all() {
                let allowed = match purpose {
                    AppPurpose::VotingResults => matches!(
                        action,
                        OrgAction::ViewOrganization
                            | OrgAction::Voting(
                                VotingAction::ViewBallots | VotingAction::ViewRecords
                            )
                    ),
                    AppPurpose::FormsSubmit => {
                        matches!(action, OrgAction::ViewOrganization | OrgAction::SubmitForms)
                    }
                };
                assert_eq!(purpose.allows(action), allowed, "{purpose:?} {action:?}");
            }
        }
        assert_eq!(AppPurpose::parse("voting.everything"), None);
    }

    #[test]
    fn labels_and_lifetimes_are_checked() {
        let ok = AppTokenRequest {
            purpose: AppPurpose::VotingResults,
            label: "  Board web site ".to_owned(),
            lifetime_days: 90,
        };
        assert_eq!(ok.validated_label().unwrap(), "Board web site");
        for (label, days) in [
            ("", 90),
            ("   ", 90),
            ("a\nb", 90),
            (&"x".repeat(81)[..], 90),
            ("ok", 0),
            ("ok", 366),
        ] {
            let bad = AppTokenRequest {
                label: label.to_owned(),
                lifetime_days: days,
                ..ok.clone()
            };
            assert!(bad.validated_label().is_err(), "{label:?} {days}");
        }
    }
}
