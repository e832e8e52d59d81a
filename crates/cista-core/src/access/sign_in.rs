//! Signing in with email and password. Unknown addresses, wrong passwords and locked accounts
//! all fail the same way and cost the same Argon2 work. Wrong passwords count against the
//! account; past the limit it locks for a while that doubles with each further failure.

use crate::access::SignedIn;
use crate::audit::{AuditKind, NewAuditEntry};
use crate::ports::{Account, AccountStatus, Session, SessionStage};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::token::new_token;
use cista_types::{Email, SubjectCode, Timestamp};
use time::Duration;

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

    /// How long an account stays locked after `failures` wrong passwords in a row.
    fn lock_for(&self, failures: i32) -> Option<Duration> {
        let settings = self.settings();
        let over = failures - settings.lockout_after;
        if over < 0 {
            return None;
        }
        let factor = 1i64 << over.clamp(0, 30);
        let seconds = settings
            .lockout_base
            .whole_seconds()
            .saturating_mul(factor)
            .min(settings.lockout_max.whole_seconds());
        Some(Duration::seconds(seconds))
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SignedIn> {
        let subject = match Email::parse(email) {
            Ok(email) => self.subject_by_email(&email).await?,
            Err(_) => None,
        };
        let account = match subject {
            Some(s) => self.store().account(s).await?,
            None => None,
        };
        let Some(mut account) = account.filter(|a| a.status == AccountStatus::Active) else {
            // Spend the same time as a real check, then fail like a wrong password.
            self.hasher().verify(password, None).await?;
            return Err(Error::SignInFailed);
        };
        let now = self.clock().now();
        let matched = self
            .hasher()
            .verify(password, account.password_hash.as_deref())
            .await?;
        if account.locked_until.is_some_and(|until| until > now) {
            self.store()
                .append_audit(NewAuditEntry::new(
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
            account.failed_attempts = account.failed_attempts.saturating_add(1);
            let lock = self.lock_for(account.failed_attempts);
            account.locked_until = lock.map(|d| now.plus(d));
            let mut tx = self.store().begin().await?;
            tx.update_account(&account).await?;
            tx.commit(NewAuditEntry::new(
                now,
                &Actor::Anonymous,
                None,
                AuditKind::SignInFailed,
                serde_json::json!({
                    "subject": account.subject.to_string(),
                    "failed_attempts": account.failed_attempts,
                    "locked_seconds": lock.map_or(0, |d| d.whole_seconds()),
                }),
            ))
            .await?;
            return Err(Error::SignInFailed);
        }
        // Upgrade a hash made under an older, cheaper policy while we have the password.
        if account
            .password_hash
            .as_deref()
            .is_some_and(cista_crypto::password::needs_rehash)
            && let Ok(p) = cista_types::Password::parse(password)
        {
            account.password_hash = Some(self.hasher().hash(&p).await?);
        }
        account.failed_attempts = 0;
        account.locked_until = None;
        let stage = self.stage_after_password(&account).await?;
        let (session, signed_in) = self.new_session(account.subject, stage, now);
        let mut tx = self.store().begin().await?;
        tx.update_account(&account).await?;
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
