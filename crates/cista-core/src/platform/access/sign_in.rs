//! Signing in with email and password. Unknown addresses, wrong passwords and locked accounts
//! all fail the same way and cost the same Argon2 work. Wrong passwords count against the
//! requester that typed them (see `access::requesters`): past the limit that requester is
//! locked out for a while that doubles with each further failure, while the person's own
//! devices are not — a stranger cannot lock a known person out.

use crate::platform::access::SignedIn;
use crate::platform::access::requesters::Requester;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{Account, AccountStatus, AttemptKind, Session, SessionStage};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::token::new_token;
use cista_types::{Email, SubjectCode, Timestamp};

impl Cista {
    /// Whether this person must use a second factor: an owner or administrator anywhere.
    pub(crate) async fn requires_second_factor(&self, subject: SubjectCode) -> Result<bool> {
        Ok(self
            .store()
            .memberships_of(subject)
            .await?
            .iter()
            .any(|m| m.role.requires_mfa()))
    }

    /// The stage a fresh password sign-in starts at.
    pub(crate) async fn stage_after_password(&self, account: &Account) -> Result<SessionStage> {
        if account.totp_secret.is_some() {
            return Ok(SessionStage::MfaPending);
        }
        if self.requires_second_factor(account.subject).await? {
            return Ok(SessionStage::MfaEnrol);
        }
        Ok(SessionStage::Full)
    }

    /// A new session row and its token.
    pub(crate) fn new_session(
        &self,
        subject: SubjectCode,
        stage: SessionStage,
        now: Timestamp,
    ) -> (Session, SignedIn) {
        let token = new_token(self.rng().as_ref());
        (
            Session {
                id_hash: token.hash,
                subject,
                stage,
                created_at: now,
                last_seen_at: now,
                expires_at: now.plus(self.settings().session_absolute),
            },
            SignedIn {
                token: token.secret,
                stage,
                subject,
            },
        )
    }

    /// `sign_in_from` for a requester that cannot say where it comes from.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SignedIn> {
        self.sign_in_from(email, password, &Requester::unknown())
            .await
    }

    /// Signs in with email and password from `requester`.
    pub async fn sign_in_from(
        &self,
        email: &str,
        password: &str,
        requester: &Requester,
    ) -> Result<SignedIn> {
        let subject = match Email::parse_lookup(email) {
            Ok(email) => self.subject_by_email(&email).await?,
            Err(_) => None,
        };
        let account = match subject {
            Some(s) => self.store().account(s).await?,
            None => None,
        };
        let Some(account) = account.filter(|a| a.status == AccountStatus::Active) else {
            // Spend the same time as a real check, then fail like a wrong password.
            self.hasher().verify(password, None).await?;
            return Err(Error::SignInFailed);
        };
        let now = self.clock().now();
        let matched = self
            .hasher()
            .verify(password, account.password_hash.as_deref())
            .await?;
        // Upgrade a hash made under an older, cheaper policy while we have the password (before
        // the transaction: hashing is slow and must not hold the person's lock).
        let upgraded = match account.password_hash.as_deref() {
            Some(hash) if matched && cista_crypto::password::needs_rehash(hash) => {
                match cista_types::Password::parse(password) {
                    Ok(p) => Some(self.hasher().hash(&p).await?),
                    Err(_) => None,
                }
            }
            _ => None,
        };
        let stage = self.stage_after_password(&account).await?;
        // The lockout is read and the attempt recorded in one transaction under the person's
        // lock, so a burst of guesses sent at once is counted one after the other; the account
        // is read again under that lock, so what is written back cannot undo a password or a
        // lock set by another request meanwhile. A password changed since it was checked
        // makes this check stale: it fails like a wrong password, and counts for nothing.
        let mut tx = self.store().begin().await?;
        let Some(mut account) = tx.lock_account(account.subject).await?.filter(|current| {
            current.status == AccountStatus::Active
                && current.password_hash == account.password_hash
        }) else {
            return Err(Error::SignInFailed);
        };
        // A lock set by wrong second factors (someone who knew the password), or by wrong
        // passwords from this requester or from strangers together.
        let locked = match account.locked_until.filter(|until| *until > now) {
            Some(until) => Some(until),
            None => {
                self.password_locked_until(tx.as_mut(), account.subject, requester, now)
                    .await?
            }
        };
        if locked.is_some() {
            tx.commit(NewAuditEntry::new(
                now,
                &Actor::Anonymous,
                None,
                AuditKind::SignInLocked,
                serde_json::json!({ "subject": account.subject.to_string() }),
            ))
            .await?;
            return Err(Error::SignInFailed);
        }
        if !matched {
            tx.record_access_attempt(&self.attempt(
                account.subject,
                AttemptKind::Password,
                requester,
                now,
            ))
            .await?;
            tx.commit(NewAuditEntry::new(
                now,
                &Actor::Anonymous,
                None,
                AuditKind::SignInFailed,
                serde_json::json!({
                    "subject": account.subject.to_string(),
                    "trusted_device": requester.trusted_for(account.subject),
                }),
            ))
            .await?;
            return Err(Error::SignInFailed);
        }
        if let Some(hash) = upgraded {
            account.password_hash = Some(hash);
        }
        account.failed_attempts = 0;
        account.locked_until = None;
        let (session, signed_in) = self.new_session(account.subject, stage, now);
        tx.update_account(&account).await?;
        tx.clear_access_attempts(account.subject, AttemptKind::Password, requester.key())
            .await?;
        tx.insert_session(&session).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            AuditKind::SignInSucceeded,
            serde_json::json!({
                "subject": account.subject.to_string(),
                "stage": stage.as_str(),
            }),
        ))
        .await?;
        Ok(signed_in)
    }
}
