//! Second factor: TOTP (RFC 6238) enrolled by scanning a QR code, required for owners and
//! administrators, with ten single-use recovery codes stored only as hashes. A code is never
//! accepted twice, and wrong codes count toward the account lockout.

use crate::platform::access::SignedIn;
use crate::platform::access::sessions::ResolvedSession;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{Account, AccountStatus, SessionStage};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::Sealed;
use cista_crypto::envelope::aad;
use cista_crypto::token::{new_recovery_code, recovery_code_hash};
use cista_crypto::totp::TotpSecret;
use cista_types::{SubjectCode, Timestamp};

/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;

/// What the enrolment page shows: the URI for the QR code, and the secret for typing in.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub uri: String,
    pub secret_base32: String,
}

fn secret_aad(subject: SubjectCode, column: &str) -> Vec<u8> {
    aad("accounts", column, &subject.to_string())
}

impl Cista {
    fn seal_totp(
        &self,
        subject: SubjectCode,
        column: &str,
        secret: &TotpSecret,
    ) -> Result<Vec<u8>> {
        Ok(self
            .instance_keys()
            .secrets
            .seal(
                self.rng().as_ref(),
                &secret_aad(subject, column),
                secret.as_bytes(),
            )?
            .into_bytes())
    }

    fn open_totp(&self, subject: SubjectCode, column: &str, sealed: &[u8]) -> Result<TotpSecret> {
        let plain = self.instance_keys().secrets.open(
            &secret_aad(subject, column),
            &Sealed::from_bytes(sealed.to_vec()),
        )?;
        Ok(TotpSecret::from_bytes(plain))
    }

    fn unix_now(&self) -> u64 {
        u64::try_from(self.clock().now().as_offset().unix_timestamp()).unwrap_or(0)
    }

    async fn account_for(&self, session: &ResolvedSession) -> Result<Account> {
        if session.stage == SessionStage::Sms {
            return Err(Error::Forbidden {
                action: "set up an authenticator from an SMS session",
            });
        }
        self.store()
            .account(session.subject)
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Starts (or resumes) enrolment: a secret is kept, sealed, until a code confirms it.
    pub async fn begin_mfa_enrolment(&self, session: &ResolvedSession) -> Result<Enrolment> {
        let account = self.account_for(session).await?;
        if account.totp_secret.is_some() {
            return Err(Error::Conflict(
                "an authenticator is already set up for this account".to_owned(),
            ));
        }
        let secret = match &account.totp_pending {
            Some(sealed) => self.open_totp(account.subject, "totp_pending", sealed)?,
            None => {
                // Written under the person's lock to the account as it is now, so the write
                // cannot undo a change made meanwhile; a secret another tab set first is kept.
                let mut tx = self.store().begin().await?;
                let mut current = tx
                    .lock_account(account.subject)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                let secret = match &current.totp_pending {
                    Some(sealed) => self.open_totp(current.subject, "totp_pending", sealed)?,
                    None => {
                        let secret = TotpSecret::generate(self.rng().as_ref());
                        current.totp_pending =
                            Some(self.seal_totp(current.subject, "totp_pending", &secret)?);
                        tx.update_account(&current).await?;
                        secret
                    }
                };
                tx.commit_housekeeping().await?;
                secret
            }
        };
        let label = self
            .own_fields(account.subject)
            .await?
            .email
            .map_or_else(|| account.subject.to_string(), |e| e.to_string());
        Ok(Enrolment {
            uri: secret.uri(&self.settings().issuer, &label)?,
            secret_base32: secret.base32(),
        })
    }

    /// Confirms enrolment with a first code. The session is replaced by a fully signed-in one
    /// and the recovery codes are returned, to be shown once.
    pub async fn confirm_mfa_enrolment(
        &self,
        session: &ResolvedSession,
        code: &str,
    ) -> Result<(SignedIn, Vec<String>)> {
        let subject = self.account_for(session).await?.subject;
        let now = self.clock().now();
        let (mut tx, mut account) = self.locked_for_a_code(subject, now).await?;
        let sealed = account.totp_pending.clone().ok_or(Error::CodeInvalid)?;
        let secret = self.open_totp(account.subject, "totp_pending", &sealed)?;
        let Some(step) = secret.check(code, self.unix_now()) else {
            return Err(self
                .second_factor_failed(tx, account, "enrolment", now)
                .await);
        };
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| new_recovery_code(self.rng().as_ref()))
            .collect();
        let hashes: Vec<_> = codes.iter().map(|c| recovery_code_hash(c)).collect();
        account.totp_secret = Some(self.seal_totp(account.subject, "totp_secret", &secret)?);
        account.totp_pending = None;
        account.failed_attempts = 0;
        account.locked_until = None;
        let (new_session, signed_in) = self.new_session(account.subject, SessionStage::Full, now);
        tx.update_account(&account).await?;
        tx.advance_totp_step(account.subject, i64::try_from(step).unwrap_or(i64::MAX))
            .await?;
        tx.delete_recovery_codes_of(account.subject).await?;
        tx.insert_recovery_codes(account.subject, &hashes).await?;
        tx.delete_session(&session.id_hash).await?;
        tx.insert_session(&new_session).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            AuditKind::MfaEnrolled,
            serde_json::json!({ "subject": account.subject.to_string(), "recovery_codes": RECOVERY_CODES }),
        ))
        .await?;
        Ok((signed_in, codes))
    }

    /// Completes sign-in with a TOTP code or a recovery code.
    pub async fn verify_second_factor(
        &self,
        session: &ResolvedSession,
        code: &str,
    ) -> Result<SignedIn> {
        if session.stage != SessionStage::MfaPending {
            return Err(Error::Forbidden {
                action: "give a second factor now",
            });
        }
        let subject = self.account_for(session).await?.subject;
        let now = self.clock().now();
        let (mut tx, mut account) = self.locked_for_a_code(subject, now).await?;
        let sealed = account.totp_secret.clone().ok_or(Error::CodeInvalid)?;
        let (new_session, signed_in) = self.new_session(account.subject, SessionStage::Full, now);
        let (kind, what) = if code.chars().any(|c| c.is_ascii_alphabetic()) {
            let used = tx
                .consume_recovery_code(account.subject, &recovery_code_hash(code), now)
                .await?;
            (used.then_some(AuditKind::RecoveryCodeUsed), "recovery code")
        } else {
            let secret = self.open_totp(account.subject, "totp_secret", &sealed)?;
            let step = secret
                .check(code, self.unix_now())
                .and_then(|s| i64::try_from(s).ok());
            let fresh = match step {
                Some(step) => tx.advance_totp_step(account.subject, step).await?,
                None => false,
            };
            (
                fresh.then_some(AuditKind::MfaVerified),
                "authenticator code",
            )
        };
        let Some(kind) = kind else {
            return Err(self.second_factor_failed(tx, account, what, now).await);
        };
        account.failed_attempts = 0;
        account.locked_until = None;
        tx.update_account(&account).await?;
        tx.delete_session(&session.id_hash).await?;
        tx.insert_session(&new_session).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            kind,
            serde_json::json!({ "subject": account.subject.to_string() }),
        ))
        .await?;
        Ok(signed_in)
    }

    /// A transaction holding the person's lock, and their account read under it: the lock is
    /// read and a failure counted one request after another, so codes guessed in parallel
    /// are counted one by one and the one after the lockout finds the account locked; what
    /// is written back cannot undo a change made meanwhile. `CodeInvalid` (the one answer to
    /// every wrong code) when the account is not active or is locked until after `now`.
    async fn locked_for_a_code(
        &self,
        subject: SubjectCode,
        now: Timestamp,
    ) -> Result<(Box<dyn crate::ports::StoreTx>, Account)> {
        let mut tx = self.store().begin().await?;
        let account = tx
            .lock_account(subject)
            .await?
            .filter(|current| current.status == AccountStatus::Active)
            .filter(|current| current.locked_until.is_none_or(|until| until <= now))
            .ok_or(Error::CodeInvalid)?;
        Ok((tx, account))
    }

    /// Counts a wrong second factor toward the lockout, in `tx` (which holds the person's
    /// lock) and records it; returns the error to show (always the same). From the
    /// `lockout_after`-th failure on, each locks the account (`lockout_for`, as wrong
    /// passwords do).
    async fn second_factor_failed(
        &self,
        mut tx: Box<dyn crate::ports::StoreTx>,
        mut account: Account,
        what: &str,
        now: Timestamp,
    ) -> Error {
        account.failed_attempts = account.failed_attempts.saturating_add(1);
        let over = account
            .failed_attempts
            .checked_sub(self.settings().lockout_after)
            .and_then(|over| u64::try_from(over).ok());
        if let Some(over) = over {
            account.locked_until = Some(now.plus(self.lockout_for(over)));
        }
        let result = async {
            tx.update_account(&account).await?;
            tx.commit(NewAuditEntry::new(
                now,
                &Actor::Anonymous,
                None,
                AuditKind::MfaFailed,
                serde_json::json!({
                    "subject": account.subject.to_string(),
                    "what": what,
                    "failed_attempts": account.failed_attempts,
                }),
            ))
            .await
        }
        .await;
        match result {
            Ok(_) => Error::CodeInvalid,
            Err(e) => e,
        }
    }
}
