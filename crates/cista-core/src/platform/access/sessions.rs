//! Server-side sessions: the browser holds a random token, the store its hash. A session ends
//! after 30 idle minutes or 12 hours whatever happens, and signing out ends every session of
//! the account. CSRF tokens are bound to the session (or, before sign-in, to a random browser
//! cookie) by a keyed hash.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{AccountStatus, Organization, SessionAccess, SessionStage};
use crate::{Access, Actor, Cista, Error, PersonActor, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cista_crypto::Digest32;
use cista_crypto::token::token_hash;
use cista_types::{PersonName, Role, SubjectCode};
use std::collections::BTreeMap;
use time::Duration;

/// A live session, resolved from its cookie.
#[derive(Debug, Clone)]
pub struct ResolvedSession {
    pub id_hash: Digest32,
    pub subject: SubjectCode,
    pub stage: SessionStage,
    /// The acting person, once fully signed in (or signed in by SMS); `None` while a second
    /// factor is still to be enrolled or given.
    pub actor: Option<Actor>,
}

/// Last-seen times are written at most this often, not on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

impl Cista {
    /// The session a cookie token names, if it is live. Expired sessions are removed.
    pub async fn resolve_session(&self, token: &str) -> Result<Option<ResolvedSession>> {
        let Some(hash) = token_hash(token) else {
            return Ok(None);
        };
        // The session, its account's status and its roles in one read: every signed-in
        // request makes it.
        let Some(SessionAccess {
            session,
            account_status,
            roles,
        }) = self.store().session_with_access(&hash).await?
        else {
            return Ok(None);
        };
        let now = self.clock().now();
        let idle_expired = session.last_seen_at.plus(self.settings().session_idle) <= now;
        let account_live = matches!(
            account_status,
            Some(AccountStatus::Active | AccountStatus::Invited)
        );
        if session.expires_at <= now || idle_expired || !account_live {
            let mut tx = self.store().begin().await?;
            tx.delete_session(&hash).await?;
            tx.commit_housekeeping().await?;
            return Ok(None);
        }
        if session.last_seen_at.plus(TOUCH_EVERY) <= now {
            let mut tx = self.store().begin().await?;
            tx.touch_session(&hash, now).await?;
            tx.commit_housekeeping().await?;
        }
        let access = match session.stage {
            SessionStage::Full => Some(Access::Full),
            SessionStage::Sms => Some(Access::SmsRestricted),
            SessionStage::MfaEnrol | SessionStage::MfaPending => None,
        };
        let actor = access.map(|access| {
            Actor::Person(PersonActor {
                subject: session.subject,
                access,
                roles: roles.into_iter().collect::<BTreeMap<_, _>>(),
            })
        });
        Ok(Some(ResolvedSession {
            id_hash: hash,
            subject: session.subject,
            stage: session.stage,
            actor,
        }))
    }

    /// Signs out everywhere: every session of the account ends, on every device (the
    /// "sign out everywhere" button; the header's "Sign out" is `sign_out_device`).
    pub async fn sign_out(&self, session: &ResolvedSession) -> Result<()> {
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let ended = tx.delete_sessions_of(session.subject).await?;
        let actor = session.actor.clone().unwrap_or(Actor::Anonymous);
        tx.commit(NewAuditEntry::new(
            now,
            &actor,
            None,
            AuditKind::SignedOut,
            serde_json::json!({ "subject": session.subject.to_string(), "sessions_ended": ended }),
        ))
        .await?;
        Ok(())
    }

    /// The CSRF token for forms of a browser bound to `binding` (its session or pre-session
    /// token).
    pub fn csrf_token(&self, binding: &str) -> Result<String> {
        let tag = cista_crypto::mac::keyed_hash(
            self.instance_keys().mac.expose(),
            "csrf",
            binding.as_bytes(),
        )?;
        Ok(URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether a presented CSRF token belongs to `binding`.
    pub fn csrf_valid(&self, binding: &str, presented: &str) -> bool {
        let Ok(expected) = self.csrf_token(binding) else {
            return false;
        };
        let a = Digest32::sha256(&[expected.as_bytes()]);
        let b = Digest32::sha256(&[presented.as_bytes()]);
        a.ct_eq(&b)
    }

    /// The organizations the signed-in person belongs to, with their role in each.
    pub async fn my_organizations(&self, actor: &Actor) -> Result<Vec<(Organization, Role)>> {
        let person = actor.person().ok_or(Error::Unauthenticated)?;
        let mut out = Vec::new();
        for (org, role) in &person.roles {
            if let Some(o) = self.store().organization(*org).await? {
                out.push((o, *role));
            }
        }
        out.sort_by(|a, b| a.0.name.as_str().cmp(b.0.name.as_str()));
        Ok(out)
    }

    /// The signed-in person's own first name, to greet them.
    pub async fn my_first_name(&self, subject: SubjectCode) -> Result<PersonName> {
        Ok(self.own_fields(subject).await?.first_name)
    }
}
