//! The widget's per-load token: issued when the embed page `/w/…` is served to a site on the
//! form's allow-list, required to submit. It names the organization, the form version and the
//! site (origin) it was issued for and when it expires, and is signed with the instance's MAC
//! key (HMAC-SHA-256, domain `embed-load`), so a page cannot mint one, move one to another
//! form or site, or stretch its life. It carries a random nonce that becomes the submission's
//! idempotency key: the pipeline's unique key lets a token make one submission only (a retry
//! with the same answers gets the first result; other answers are a `conflict`). No cookie
//! is involved: the widget lives inside someone else's page.
//!
//! Shape: `v1.` + base64url(claims as JSON) + `.` + base64url(MAC over the claims' bytes).

use super::AssessmentError;
use crate::{Cista, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cista_crypto::Digest32;
use cista_types::{FormId, OrgId, Timestamp, WebOrigin};
use serde::{Deserialize, Serialize};

/// How long a loaded widget may wait before its answers are sent: time to read and answer
/// ten questions with a break, short enough that a leaked token soon means nothing.
pub const LOAD_TOKEN_LIFETIME: time::Duration = time::Duration::hours(2);
/// The longest token accepted, in bytes (a real one is about 250).
const MAX_TOKEN_LEN: usize = 1024;
const DOMAIN: &str = "embed-load";

/// What a load token says. Field names are short: the token travels in every submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadClaims {
    pub org: OrgId,
    pub form: FormId,
    pub origin: String,
    /// 128 random bits, base64url: the submission's idempotency key.
    pub nonce: String,
    /// Unix time in microseconds after which the token is refused.
    pub exp: i64,
}

/// A token as issued, with what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadToken {
    pub token: String,
    pub claims: LoadClaims,
}

impl LoadClaims {
    /// The idempotency key of the one submission this token may make.
    pub fn idempotency_key(&self) -> String {
        format!("embed:{}", self.nonce)
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        Timestamp::from_unix_micros(self.exp).ok()
    }
}

impl Cista {
    fn load_token_mac(&self, claims: &[u8]) -> Result<[u8; 32]> {
        Ok(cista_crypto::mac::keyed_hash(
            self.instance_keys().mac.expose(),
            DOMAIN,
            claims,
        )?)
    }

    /// A new token for a widget of form version `form` loaded on `origin` (already checked
    /// against the form's allow-list by the caller).
    pub fn issue_load_token(
        &self,
        org: OrgId,
        form: FormId,
        origin: &WebOrigin,
    ) -> Result<LoadToken> {
        let mut nonce = [0u8; 16];
        self.rng().fill(&mut nonce);
        let claims = LoadClaims {
            org,
            form,
            origin: origin.as_str().to_owned(),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            exp: self.clock().now().plus(LOAD_TOKEN_LIFETIME).unix_micros(),
        };
        let json =
            serde_json::to_vec(&claims).map_err(|e| crate::Error::Internal(e.to_string()))?;
        let mac = self.load_token_mac(&json)?;
        let token = format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(mac)
        );
        Ok(LoadToken { token, claims })
    }

    /// The claims of `presented` if it is one of ours, for this organization, form version and
    /// site, and still within its life: `load_token_invalid` or `load_token_expired` if not.
    /// Checking the signature comes first, so nothing of a forged token is believed.
    pub fn check_load_token(
        &self,
        presented: &str,
        org: OrgId,
        form: FormId,
        origin: &WebOrigin,
    ) -> Result<LoadClaims> {
        let claims = self.verified_claims(presented)?;
        if claims.org != org || claims.form != form || claims.origin != origin.as_str() {
            return Err(AssessmentError::LoadTokenInvalid.into());
        }
        if self.clock().now().unix_micros() > claims.exp {
            return Err(AssessmentError::LoadTokenExpired.into());
        }
        Ok(claims)
    }

    /// What a token whose signature holds says, without checking that it is for a given
    /// form, site or time (a page showing a form again reads its site from it).
    pub fn verified_load_claims(&self, presented: &str) -> Result<LoadClaims> {
        self.verified_claims(presented)
    }

    /// The claims of a token whose signature holds, whatever they say.
    pub(crate) fn verified_claims(&self, presented: &str) -> Result<LoadClaims> {
        let invalid = || crate::Error::from(AssessmentError::LoadTokenInvalid);
        if presented.len() > MAX_TOKEN_LEN {
            return Err(invalid());
        }
        let mut parts = presented.split('.');
        let (Some("v1"), Some(body), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let tag: [u8; 32] = tag.try_into().map_err(|_| invalid())?;
        let expected = self.load_token_mac(&json)?;
        if !Digest32(expected).ct_eq(&Digest32(tag)) {
            return Err(invalid());
        }
        serde_json::from_slice(&json).map_err(|_| invalid())
    }
}
