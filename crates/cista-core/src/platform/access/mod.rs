//! People and access: invitations, passwords, sessions, SMS sign-in, second factors, staff
//! roles and resets. Every function checks its actor first and writes its audit entry in the
//! same transaction as its change; flows reachable without a session answer identically for
//! known and unknown people.

pub mod app_tokens;
pub mod invitations;
pub mod journeys;
pub mod links;
pub mod mfa;
pub mod passwords;
pub mod requesters;
pub mod sessions;
pub mod sign_in;
pub mod sms;
pub mod staff;

use crate::Cista;
use cista_crypto::token::OneTimeToken;

/// A signed-in browser's new session: the token goes in the cookie, only its hash is stored.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub stage: crate::ports::SessionStage,
    pub subject: cista_types::SubjectCode,
}

impl Cista {
    /// A link on the public origin with a one-time token in its path.
    pub(crate) fn link(&self, path: &str, token: &OneTimeToken) -> String {
        format!(
            "{}/{path}/{}",
            self.settings().public_origin.trim_end_matches('/'),
            token.secret
        )
    }
}
