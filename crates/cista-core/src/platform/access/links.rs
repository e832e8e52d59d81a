//! One-time links: setting a first password from an invitation, choosing a new one from a
//! reset link, asking for a reset, and changing a password while signed in. A link works once,
//! until it expires; setting or changing a password ends every session of the account.

use crate::platform::access::passwords::check_strength;
use crate::platform::access::requesters::Requester;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::notices::Notice;
use crate::ports::{
    AccountStatus, AttemptKind, Credential, CredentialPurpose, Membership, StoreTx,
};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::token::{new_token, token_hash};
use cista_types::{Email, Password, PersonName, Role, SubjectCode, Timestamp};

/// What a valid link's page may show: whom it greets and for which organization.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub purpose: CredentialPurpose,
    /// Whose link it is: a page can warn someone signed in as another person.
    pub subject: SubjectCode,
    pub first_name: PersonName,
    pub organization: Option<String>,
    /// The role an invitation to join gives (`join` links only).
    pub joins: Option<Role>,
    /// Whether the page asks for a password: always, except for an invitation to join sent
    /// to someone who already has one (who only accepts).
    pub chooses_password: bool,
}

/// The `conflict` of a live invitation to join used to choose a password by someone who has
/// one (chosen meanwhile): they accept it instead.
const JOIN_ACCEPTS: &str = "this invitation is accepted: a password is already chosen";

/// The `conflict` of a live invitation to join accepted by someone still to choose a
/// password: they join by choosing it.
const JOIN_CHOOSES_PASSWORD: &str = "choose a password to accept this invitation";

impl Cista {
    /// The credential behind a link, if it is one of ours, of `purpose`, unused and unexpired.
    /// Presenting a used or expired link is recorded in the audit log.
    async fn live_credential(&self, token: &str, purpose: CredentialPurpose) -> Result<Credential> {
        let hash = token_hash(token).ok_or(Error::TokenInvalid)?;
        let credential = self
            .store()
            .credential(&hash)
            .await?
            .filter(|c| c.purpose == purpose)
            .ok_or(Error::TokenInvalid)?;
        let now = self.clock().now();
        let reason = if credential.used_at.is_some() {
            Some("used")
        } else if credential.expires_at <= now {
            Some("expired")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(self.token_rejected(&credential, reason, now).await);
        }
        Ok(credential)
    }

    /// Checks a link without using it, for the page that asks for the new password.
    pub async fn inspect_link(&self, token: &str, purpose: CredentialPurpose) -> Result<LinkView> {
        let credential = self.live_credential(token, purpose).await?;
        let fields = self.own_fields(credential.subject).await?;
        let organization = match credential.org {
            Some(org) => self
                .store()
                .organization(org)
                .await?
                .map(|o| o.name.to_string()),
            None => None,
        };
        let status = self
            .store()
            .account(credential.subject)
            .await?
            .map(|a| a.status);
        // An invitation to join works for someone active (who accepts) or still to choose a
        // password (who chooses one); a disabled or erased account cannot use it.
        if purpose == CredentialPurpose::Join
            && matches!(
                status,
                Some(AccountStatus::Disabled | AccountStatus::Erased)
            )
        {
            return Err(Error::TokenInvalid);
        }
        let chooses_password =
            purpose != CredentialPurpose::Join || status != Some(AccountStatus::Active);
        Ok(LinkView {
            purpose,
            subject: credential.subject,
            first_name: fields.first_name,
            organization,
            joins: credential.role,
            chooses_password,
        })
    }

    /// Uses an invitation or reset link to set a password. The link is consumed atomically
    /// with the password change; a second use, even at the same moment, fails.
    ///
    /// Errors: `token_invalid` (not a live link of `purpose`, a second use, an invitation
    /// whose person has a password already, a disabled or erased account), `conflict` (an
    /// invitation to join whose person chose a password meanwhile: it is accepted instead),
    /// `weak_password`, `person_erased`.
    pub async fn set_password_with_link(
        &self,
        token: &str,
        purpose: CredentialPurpose,
        password: &Password,
    ) -> Result<SubjectCode> {
        let credential = self.live_credential(token, purpose).await?;
        let subject = credential.subject;
        let fields = self.own_fields(subject).await?;
        let mut context = fields.guessable_words();
        if let Some(org) = credential.org
            && let Some(o) = self.store().organization(org).await?
        {
            context.push(o.name.to_string().to_lowercase());
        }
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        check_strength(password, &context)?;
        let hash = self.hasher().hash(password).await?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        if tx
            .consume_credential(&credential.token_hash, purpose, now)
            .await?
            .is_none()
        {
            // Another request used the link first: this one is a second use.
            drop(tx);
            return Err(self.token_rejected(&credential, "used", now).await);
        }
        // The person's other links to choose a password have done their job; their
        // invitations to join other organizations stay, to be accepted or not.
        let setting = match purpose {
            CredentialPurpose::Join => CredentialPurpose::Invite,
            other => other,
        };
        tx.revoke_credentials(subject, setting, now).await?;
        // Whatever link sets a password, a reset link sent before it would undo it.
        if setting != CredentialPurpose::Reset {
            tx.revoke_credentials(subject, CredentialPurpose::Reset, now)
                .await?;
        }
        // Checked again under the account's lock (taken after the links' rows, the order a
        // staff re-send takes them in): a password chosen meanwhile through another link
        // (an invitation to join and one to choose a password, open in two tabs) is kept,
        // and this link stays unused (the transaction is dropped).
        let mut account = tx.lock_account(subject).await?.ok_or(Error::TokenInvalid)?;
        if !may_set_password(purpose, account.status) {
            // An invitation to join whose person chose a password meanwhile is still good:
            // it is accepted, not used to choose a password (`conflict`, nothing recorded).
            return Err(
                if purpose == CredentialPurpose::Join && account.status == AccountStatus::Active {
                    Error::Conflict(JOIN_ACCEPTS.to_owned())
                } else {
                    Error::TokenInvalid
                },
            );
        }
        account.password_hash = Some(hash);
        account.password_changed_at = Some(now);
        account.status = AccountStatus::Active;
        account.failed_attempts = 0;
        account.locked_until = None;
        tx.update_account(&account).await?;
        let ended = tx.delete_sessions_of(subject).await?;
        let joined = match purpose {
            CredentialPurpose::Join => Some(join_with(tx.as_mut(), &credential, ended, now).await?),
            _ => None,
        };
        let set = NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            credential.org,
            match purpose {
                CredentialPurpose::Reset => AuditKind::PasswordReset,
                _ => AuditKind::PasswordSet,
            },
            serde_json::json!({ "subject": subject.to_string(), "sessions_ended": ended }),
        );
        tx.commit_all([set].into_iter().chain(joined).collect())
            .await?;
        Ok(subject)
    }

    /// Accepts an invitation to join (a `join` link) for someone who already has a
    /// password: their membership with the link's role, the link used, and a `member.joined`
    /// entry commit together. Returns the organization's name. Someone still to choose a
    /// password joins by choosing it (`set_password_with_link`).
    ///
    /// Errors: `token_invalid` (not a live `join` link, a second use, or a disabled or erased
    /// account), `conflict` (the link is good, but its person is still to choose a password:
    /// they join by choosing it), `person_erased` (an erasure has begun).
    pub async fn accept_join_invitation(&self, token: &str) -> Result<String> {
        let credential = self.live_credential(token, CredentialPurpose::Join).await?;
        let org = credential.org.ok_or(Error::TokenInvalid)?;
        let organization = self.existing_organization(org).await?.name.to_string();
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        if tx
            .consume_credential(&credential.token_hash, CredentialPurpose::Join, now)
            .await?
            .is_none()
        {
            drop(tx);
            return Err(self.token_rejected(&credential, "used", now).await);
        }
        // Under the account's lock (taken after the credential's, as a sign-in by link does):
        // a disabled or erased account, or one still to choose a password, does not join
        // (the link stays unused: the transaction is dropped). The link of someone still to
        // choose a password is still good, for choosing one (`conflict`, nothing recorded).
        let account = tx
            .lock_account(credential.subject)
            .await?
            .ok_or(Error::TokenInvalid)?;
        match account.status {
            AccountStatus::Active => {}
            AccountStatus::Invited => {
                return Err(Error::Conflict(JOIN_CHOOSES_PASSWORD.to_owned()));
            }
            _ => return Err(Error::TokenInvalid),
        }
        // A role that needs a second factor, for someone without one: their sessions end (as
        // a role change ends them), so that the next sign-in enrols one before any page of
        // the role opens. Roles are read afresh with each request.
        let ended =
            if credential.role.is_some_and(Role::requires_mfa) && account.totp_secret.is_none() {
                tx.delete_sessions_of(credential.subject).await?
            } else {
                0
            };
        let joined = join_with(tx.as_mut(), &credential, ended, now).await?;
        tx.commit(joined).await?;
        Ok(organization)
    }

    /// Records a link refused for `reason` (`used`, `expired`): the error to answer.
    async fn token_rejected(&self, credential: &Credential, reason: &str, now: Timestamp) -> Error {
        let recorded = self
            .store()
            .append_audit(NewAuditEntry::new(
                now,
                &Actor::Anonymous,
                credential.org,
                AuditKind::TokenRejected,
                serde_json::json!({
                    "subject": credential.subject.to_string(),
                    "purpose": credential.purpose.as_str(),
                    "reason": reason,
                }),
            ))
            .await;
        match recorded {
            Ok(_) => Error::TokenInvalid,
            Err(e) => e,
        }
    }

    /// `request_password_reset_from` for a requester that cannot say where it comes from.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        self.request_password_reset_from(email, &Requester::unknown())
            .await
    }

    /// The "forgot my password" form: answers the same whatever the address; sends a reset
    /// link (1 h) only to an active account, within the requester's hourly budget. Earlier
    /// links stay valid until their own expiry or use (a stranger's request must not cancel the
    /// person's); using one ends the others.
    pub async fn request_password_reset_from(
        &self,
        email: &str,
        requester: &Requester,
    ) -> Result<()> {
        let Ok(email) = Email::parse_lookup(email) else {
            return Ok(());
        };
        let Some(subject) = self.subject_by_email(&email).await? else {
            return Ok(());
        };
        let active = self
            .store()
            .account(subject)
            .await?
            .is_some_and(|a| a.status == AccountStatus::Active);
        if !active {
            return Ok(());
        }
        let mut tx = self.store().begin().await?;
        if !self
            .within_send_budget(tx.as_mut(), subject, AttemptKind::Reset, requester)
            .await?
        {
            return Ok(());
        }
        let now = self.clock().now();
        let token = new_token(self.rng().as_ref());
        let credential = Credential {
            token_hash: token.hash,
            purpose: CredentialPurpose::Reset,
            subject,
            org: None,
            code_hash: None,
            created_at: now,
            expires_at: now.plus(self.settings().reset_ttl),
            used_at: None,
            attempts: 0,
            role: None,
        };
        let notice = Notice::PasswordReset {
            link: self.link("r", &token),
            expires_at: credential.expires_at,
        };
        tx.insert_credential(&credential).await?;
        tx.record_access_attempt(&self.attempt(subject, AttemptKind::Reset, requester, now))
            .await?;
        tx.enqueue(&self.message(subject, &notice)?).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            AuditKind::PasswordResetRequested,
            serde_json::json!({ "subject": subject.to_string() }),
        ))
        .await?;
        Ok(())
    }

    /// The hash of `new` as `subject`'s next password, after the strength check against what
    /// is known about the person (`weak_password` if it is too easy to guess).
    async fn new_password_hash(&self, subject: SubjectCode, new: &Password) -> Result<String> {
        let fields = self.own_fields(subject).await?;
        let context = fields.guessable_words();
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        check_strength(new, &context)?;
        self.hasher().hash(new).await
    }

    /// `change_password_from` for a requester that cannot say where it comes from.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &Password,
    ) -> Result<()> {
        self.change_password_from(actor, current, new, &Requester::unknown())
            .await
    }

    /// Changes the signed-in person's password after checking the current one; every session
    /// of the account ends, this one included. A wrong current password counts toward the
    /// same lockout as a wrong password at sign-in (per requester, see `requesters`): a stolen
    /// session must not be a way to guess the password without limit (OWASP ASVS 2.2.1).
    /// While locked the answer is `rate_limited`, whatever was typed.
    pub async fn change_password_from(
        &self,
        actor: &Actor,
        current: &str,
        new: &Password,
        requester: &Requester,
    ) -> Result<()> {
        let person = actor
            .person()
            .filter(|p| p.access == crate::Access::Full)
            .ok_or(Error::Forbidden {
                action: "change this password",
            })?;
        let subject = person.subject;
        let account = self
            .store()
            .account(subject)
            .await?
            .ok_or(Error::Unauthenticated)?;
        // The slow work (checking the current password, hashing the new one) before the
        // transaction, as at sign-in: it must not hold the person's lock.
        let matched = self
            .hasher()
            .verify(current, account.password_hash.as_deref())
            .await?;
        // The new password is judged and hashed now, but a refusal of it is said only after
        // the lock check: a locked requester must not learn from "too easy to guess" that its
        // guess of the current password was right.
        let hash = if matched {
            Some(self.new_password_hash(subject, new).await)
        } else {
            None
        };
        let now = self.clock().now();
        // Under the person's lock: a burst of guesses is counted one after the other, and a
        // password changed meanwhile makes this check stale (it counts as wrong).
        let mut tx = self.store().begin().await?;
        if matched {
            // A reset link sent before the change would undo it: the person's unused ones go
            // with the old password. Taken before the account's lock, the order a link's use
            // takes the two in; rolled back if the new password is refused.
            tx.revoke_credentials(subject, CredentialPurpose::Reset, now)
                .await?;
        }
        let Some(mut account) = tx
            .lock_account(subject)
            .await?
            .filter(|now_stored| now_stored.password_hash == account.password_hash)
        else {
            return Err(Error::invalid("current password", "is not right"));
        };
        let locked = match account.locked_until.filter(|until| *until > now) {
            Some(until) => Some(until),
            None => {
                self.password_locked_until(tx.as_mut(), subject, requester, now)
                    .await?
            }
        };
        if let Some(until) = locked {
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                None,
                AuditKind::SignInLocked,
                serde_json::json!({ "subject": subject.to_string(), "during": "password change" }),
            ))
            .await?;
            // Rounded up: told to come back at the second the lock ends, not before it.
            let micros = u64::try_from(until.unix_micros() - now.unix_micros()).unwrap_or(0);
            return Err(Error::RateLimited {
                retry_after_secs: micros.div_ceil(1_000_000).max(1),
            });
        }
        let Some(hash) = hash else {
            tx.record_access_attempt(&self.attempt(subject, AttemptKind::Password, requester, now))
                .await?;
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                None,
                AuditKind::PasswordChangeFailed,
                serde_json::json!({
                    "subject": subject.to_string(),
                    "trusted_device": requester.trusted_for(subject),
                }),
            ))
            .await?;
            return Err(Error::invalid("current password", "is not right"));
        };
        // A weak new password: refused, nothing written (the transaction rolls back).
        account.password_hash = Some(hash?);
        account.password_changed_at = Some(now);
        tx.update_account(&account).await?;
        tx.clear_access_attempts(subject, AttemptKind::Password, requester.key())
            .await?;
        let ended = tx.delete_sessions_of(subject).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            None,
            AuditKind::PasswordChanged,
            serde_json::json!({ "subject": subject.to_string(), "sessions_ended": ended }),
        ))
        .await?;
        Ok(())
    }
}

/// Whether a link of `purpose` may set the password of an account in `status`. An invitation
/// sets a first password: once one is set (a ballot's mailing may have sent a fresh invitation
/// link just as the person chose it), only a reset may change it, and an invitation to join
/// is then only accepted (`accept_join_invitation`). A disabled or erased account sets none.
fn may_set_password(purpose: CredentialPurpose, status: AccountStatus) -> bool {
    let stale_invitation = matches!(purpose, CredentialPurpose::Invite | CredentialPurpose::Join)
        && status == AccountStatus::Active;
    !stale_invitation && !matches!(status, AccountStatus::Erased | AccountStatus::Disabled)
}

/// The membership a used invitation to join begins (none if the person became a member
/// meanwhile), and the `member.joined` entry to commit with it (`sessions_ended`: how many of
/// the person's sessions the same transaction ended). `person_erased` once an erasure has
/// begun. The person's other links to the same organization are left as they are: taking
/// their rows here, after the account's, could close a cycle of locks with a second accept;
/// a link used after this one finds the membership and adds nothing.
async fn join_with(
    tx: &mut dyn StoreTx,
    credential: &Credential,
    sessions_ended: u64,
    now: Timestamp,
) -> Result<NewAuditEntry> {
    let (Some(org), Some(role)) = (credential.org, credential.role) else {
        return Err(Error::Integrity(
            "an invitation to join names no organization or role".to_owned(),
        ));
    };
    let subject = credential.subject;
    let member = tx
        .memberships_of(subject)
        .await?
        .iter()
        .any(|m| m.org == org);
    if !member {
        tx.insert_membership(&Membership {
            org,
            subject,
            role,
            created_at: now,
        })
        .await?;
    }
    Ok(NewAuditEntry::new(
        now,
        &Actor::Anonymous,
        Some(org),
        AuditKind::JoinAccepted,
        serde_json::json!({
            "subject": subject.to_string(),
            "role": role,
            "already_a_member": member,
            "sessions_ended": sessions_ended,
        }),
    ))
}
