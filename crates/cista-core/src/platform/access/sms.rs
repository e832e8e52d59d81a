//! Signing in by SMS, for a member who cannot receive email: a 6-digit code (10 minutes, one
//! use, five tries) goes only to the phone on file. The session it opens may vote and nothing
//! else. Asking for a code answers the same whether or not anyone matched.

use crate::platform::access::SignedIn;
use crate::platform::access::requesters::Requester;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::notices::Notice;
use crate::ports::{AccountStatus, AttemptKind, Credential, CredentialPurpose, SessionStage};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::token::{code_hash, new_numeric_code, new_token, token_hash};
use cista_types::{Email, Phone, SubjectCode};

impl Cista {
    /// Finds the one person an email address or phone number names.
    async fn subject_for_identifier(&self, identifier: &str) -> Result<Option<SubjectCode>> {
        if identifier.contains('@') {
            return match Email::parse_lookup(identifier) {
                Ok(email) => self.subject_by_email(&email).await,
                Err(_) => Ok(None),
            };
        }
        let Ok(phone) = Phone::parse(identifier, self.instance_phone_region().await?) else {
            return Ok(None);
        };
        let matches = self
            .vault()
            .subjects_by_phone(&self.phone_index(&phone)?)
            .await?;
        // A number shared by several people cannot say who is signing in: they use email.
        Ok(match matches.as_slice() {
            [only] => Some(*only),
            _ => None,
        })
    }

    /// `request_sms_code_from` for a requester that cannot say where it comes from.
    pub async fn request_sms_code(&self, identifier: &str) -> Result<String> {
        self.request_sms_code_from(identifier, &Requester::unknown())
            .await
    }

    /// Asks for a sign-in code by SMS. Returns a challenge for the next form whether or not a
    /// code was sent, so the answer reveals nothing. Each code lives until its own expiry, its
    /// own use or its own failed tries: a new request never revokes an earlier code (a
    /// stranger's request must not cancel the person's), and the sends count against the
    /// requester's own budget (see `access::requesters`).
    pub async fn request_sms_code_from(
        &self,
        identifier: &str,
        requester: &Requester,
    ) -> Result<String> {
        let challenge = new_token(self.rng().as_ref());
        let Some(subject) = self.subject_for_identifier(identifier).await? else {
            return Ok(challenge.secret);
        };
        let eligible =
            self.store().account(subject).await?.is_some_and(|a| {
                matches!(a.status, AccountStatus::Active | AccountStatus::Invited)
            });
        let has_phone = self.own_fields(subject).await?.phone.is_some();
        if !eligible || !has_phone {
            return Ok(challenge.secret);
        }
        let mut tx = self.store().begin().await?;
        if !self
            .within_send_budget(tx.as_mut(), subject, AttemptKind::SmsCode, requester)
            .await?
        {
            return Ok(challenge.secret);
        }
        let now = self.clock().now();
        let code = new_numeric_code(self.rng().as_ref(), self.settings().sms_code_digits);
        let credential = Credential {
            token_hash: challenge.hash,
            purpose: CredentialPurpose::SmsCode,
            subject,
            org: None,
            code_hash: Some(code_hash(
                self.instance_keys().mac.expose(),
                &challenge.hash.to_hex(),
                &code,
            )?),
            created_at: now,
            expires_at: now.plus(self.settings().sms_code_ttl),
            used_at: None,
            attempts: 0,
            role: None,
        };
        let notice = Notice::SmsCode {
            code,
            minutes: self.settings().sms_code_ttl.whole_minutes(),
        };
        tx.insert_credential(&credential).await?;
        tx.record_access_attempt(&self.attempt(subject, AttemptKind::SmsCode, requester, now))
            .await?;
        tx.enqueue(&self.message(subject, &notice)?).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            AuditKind::SmsCodeSent,
            serde_json::json!({ "subject": subject.to_string() }),
        ))
        .await?;
        Ok(challenge.secret)
    }

    /// Signs in with the code sent by SMS; the session may vote and nothing else.
    pub async fn sign_in_with_sms_code(&self, challenge: &str, code: &str) -> Result<SignedIn> {
        let hash = token_hash(challenge).ok_or(Error::CodeInvalid)?;
        let credential = self
            .store()
            .credential(&hash)
            .await?
            .filter(|c| c.purpose == CredentialPurpose::SmsCode)
            .ok_or(Error::CodeInvalid)?;
        let now = self.clock().now();
        if credential.used_at.is_some()
            || credential.expires_at <= now
            || credential.attempts >= self.settings().sms_code_attempts
        {
            return Err(Error::CodeInvalid);
        }
        let presented = code_hash(self.instance_keys().mac.expose(), &hash.to_hex(), code)?;
        let right = credential
            .code_hash
            .as_ref()
            .is_some_and(|stored| stored.ct_eq(&presented));
        // Every try is counted first, under the code's row lock, and only the first
        // `sms_code_attempts` tries can sign in: codes guessed in parallel (each past the
        // check above) are counted one after the other, so no burst gets more guesses.
        let mut tx = self.store().begin().await?;
        let attempts = tx.count_credential_attempt(&hash).await?;
        if !right || attempts > self.settings().sms_code_attempts {
            tx.commit(NewAuditEntry::new(
                now,
                &Actor::Anonymous,
                None,
                AuditKind::SmsCodeFailed,
                serde_json::json!({
                    "subject": credential.subject.to_string(),
                    "attempts": attempts,
                }),
            ))
            .await?;
            return Err(Error::CodeInvalid);
        }
        if tx
            .consume_credential(&hash, CredentialPurpose::SmsCode, now)
            .await?
            .is_none()
        {
            return Err(Error::CodeInvalid);
        }
        // Signed in: the person's other pending codes have done their job.
        tx.revoke_credentials(credential.subject, CredentialPurpose::SmsCode, now)
            .await?;
        let (session, signed_in) = self.new_session(credential.subject, SessionStage::Sms, now);
        tx.insert_session(&session).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            AuditKind::SmsSignIn,
            serde_json::json!({ "subject": credential.subject.to_string() }),
        ))
        .await?;
        Ok(signed_in)
    }
}
