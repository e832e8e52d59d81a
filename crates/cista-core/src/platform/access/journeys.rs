//! Steps that carry a person on to what they came for, in as few steps as security allows:
//! choosing a password from an invitation or reset link signs the browser in (the link proved
//! the address; a second factor, where required, still follows), and signing out ends this
//! device's session only, unless the person asks to sign out everywhere.

use super::SignedIn;
use super::sessions::ResolvedSession;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{AccountStatus, CredentialPurpose};
use crate::{Actor, Cista, Error, Result};
use cista_types::Password;

impl Cista {
    /// Sets the password with a one-time link (see `set_password_with_link`), then opens a
    /// session for this browser at the stage the account requires (a second factor to give or
    /// enrol first, for staff). The password is set even if the session cannot be opened; the
    /// person then signs in by hand.
    pub async fn set_password_and_sign_in(
        &self,
        token: &str,
        purpose: CredentialPurpose,
        password: &Password,
    ) -> Result<SignedIn> {
        let subject = self
            .set_password_with_link(token, purpose, password)
            .await?;
        let account = self
            .store()
            .account(subject)
            .await?
            .filter(|a| a.status == AccountStatus::Active)
            .ok_or(Error::TokenInvalid)?;
        let stage = self.stage_after_password(&account).await?;
        let now = self.clock().now();
        let (session, signed_in) = self.new_session(subject, stage, now);
        let mut tx = self.store().begin().await?;
        tx.insert_session(&session).await?;
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::Anonymous,
            None,
            AuditKind::SignInSucceeded,
            serde_json::json!({
                "subject": subject.to_string(),
                "stage": stage.as_str(),
                "by": purpose.as_str(),
            }),
        ))
        .await?;
        Ok(signed_in)
    }

    /// Signs out this device: its session ends, the account's other sessions go on.
    pub async fn sign_out_device(&self, session: &ResolvedSession) -> Result<()> {
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let ended = tx.delete_session(&session.id_hash).await?;
        let actor = session.actor.clone().unwrap_or(Actor::Anonymous);
        tx.commit(NewAuditEntry::new(
            now,
            &actor,
            None,
            AuditKind::SignedOut,
            serde_json::json!({
                "subject": session.subject.to_string(),
                "sessions_ended": ended,
                "scope": "this-device",
            }),
        ))
        .await?;
        Ok(())
    }
}
