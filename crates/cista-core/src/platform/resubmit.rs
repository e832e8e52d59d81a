//! Forms that are safe to repeat (DESIGN §8). A browser repeats a state-changing form more
//! often than people think: a double-click, a reload of a page a form produced, the back button,
//! a phone restoring a discarded tab. Each submission is keyed by a keyed hash of the browser it
//! came from, its route and its exact body (which carries a submission id drawn afresh for every
//! page), claimed before it runs, and completed with where it sent the browser. A repeat of a
//! completed submission is sent to the same place instead of running again; a repeat that
//! arrives while the first still runs waits for it. Nothing else of the request is kept.
//!
//! Also here: state sealed for one browser (a short-lived cookie the server can read back but
//! the browser cannot read or forge), for outcomes that must survive the redirect after a form
//! without being stored on the server (a voter's receipt, freshly issued recovery codes).

use crate::ports::SubmissionClaim;
use crate::{Cista, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cista_crypto::Digest32;
use cista_crypto::envelope::{Sealed, aad};
use cista_types::Timestamp;
use std::time::Duration;

/// How long a submission's first outcome is kept for repeats.
pub const SUBMISSION_TTL: time::Duration = time::Duration::hours(24);

/// How long a repeat waits for the first run of the same submission to finish.
pub const REPEAT_WAIT: Duration = Duration::from_secs(10);

/// A repeat of a submission whose first run has not finished within `REPEAT_WAIT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    /// Run it: this is its first arrival.
    Run,
    /// Send the browser where the first run sent it.
    Replay(String),
    /// The first run is still going after the wait.
    StillRunning,
    /// The first run started longer ago than any request can last and never recorded where
    /// it went: it died, before or after its change committed, and nothing tells which. It is
    /// not run again (that could make the change twice); the person checks, then sends the
    /// form again from a freshly opened page.
    OutcomeUnknown,
}

impl Cista {
    /// The key of one submitted form: a keyed hash (so the table reveals nothing about what
    /// was sent) of the browser (its pre-session cookie), the method and path, and the body.
    pub fn submission_key(
        &self,
        browser: &str,
        method_and_path: &str,
        body: &[u8],
    ) -> Result<Digest32> {
        let mut message =
            Vec::with_capacity(browser.len() + method_and_path.len() + body.len() + 2);
        message.extend_from_slice(browser.as_bytes());
        message.push(0);
        message.extend_from_slice(method_and_path.as_bytes());
        message.push(0);
        message.extend_from_slice(body);
        Ok(Digest32(cista_crypto::mac::keyed_hash(
            self.instance_keys().mac.expose(),
            "form-submission",
            &message,
        )?))
    }

    /// Claims a submission before it runs, waiting (up to `REPEAT_WAIT`) while another request
    /// runs the same one. A claim older than `stale_after` that never finished belonged to a
    /// request that died, maybe after its change committed (its outcome is recorded apart,
    /// after the handler's transaction): `OutcomeUnknown`, never a second run.
    pub async fn claim_submission(&self, key: &Digest32, stale_after: Duration) -> Result<Repeat> {
        let stale = time::Duration::try_from(stale_after).unwrap_or(time::Duration::MINUTE);
        let started = std::time::Instant::now();
        loop {
            let now = self.clock().now();
            // No claim is ever taken over (the store's cut-off is the first instant there is).
            match self
                .store()
                .claim_submission(key, now, Timestamp::EARLIEST)
                .await?
            {
                SubmissionClaim::Claimed => return Ok(Repeat::Run),
                SubmissionClaim::Done { outcome } => return Ok(Repeat::Replay(outcome)),
                SubmissionClaim::Running { since } if since < now.plus(-stale) => {
                    return Ok(Repeat::OutcomeUnknown);
                }
                SubmissionClaim::Running { .. } if started.elapsed() < REPEAT_WAIT => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                SubmissionClaim::Running { .. } => return Ok(Repeat::StillRunning),
            }
        }
    }

    /// Records where a submission sent the browser (a same-origin path).
    pub async fn complete_submission(&self, key: &Digest32, outcome: &str) -> Result<()> {
        self.store().complete_submission(key, outcome).await
    }

    /// Forgets a submission that changed nothing, so the same form can be sent again.
    pub async fn release_submission(&self, key: &Digest32) -> Result<()> {
        self.store().release_submission(key).await
    }

    /// Deletes submissions older than `SUBMISSION_TTL`; returns how many.
    pub async fn purge_submissions(&self) -> Result<u64> {
        let before = self.clock().now().plus(-SUBMISSION_TTL);
        self.store().purge_submissions(before).await
    }

    /// Seals `payload` for one browser: only this instance can open it, only for the same
    /// `purpose` and `binding` (the browser's session), and only until `ttl` has passed.
    /// Returns URL-safe base64, fit for a cookie value.
    pub fn seal_for_browser(
        &self,
        purpose: &str,
        binding: &str,
        ttl: time::Duration,
        payload: &[u8],
    ) -> Result<String> {
        let expires = self.clock().now().plus(ttl).unix_micros();
        let mut plain = Vec::with_capacity(payload.len() + 8);
        plain.extend_from_slice(&expires.to_be_bytes());
        plain.extend_from_slice(payload);
        let sealed = self.instance_keys().secrets.seal(
            self.rng().as_ref(),
            &browser_aad(purpose, binding),
            &plain,
        )?;
        Ok(URL_SAFE_NO_PAD.encode(sealed.as_bytes()))
    }

    /// Opens what `seal_for_browser` sealed; `None` if it was altered, is for another purpose
    /// or browser, or has expired.
    pub fn open_from_browser(&self, purpose: &str, binding: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        let plain = self
            .instance_keys()
            .secrets
            .open(&browser_aad(purpose, binding), &Sealed::from_bytes(bytes))
            .ok()?;
        let (expires, payload) = plain.split_first_chunk::<8>()?;
        if self.clock().now().unix_micros() >= i64::from_be_bytes(*expires) {
            return None;
        }
        Some(payload.to_vec())
    }
}

fn browser_aad(purpose: &str, binding: &str) -> Vec<u8> {
    let binding = Digest32::sha256(&[binding.as_bytes()]).to_hex();
    aad("browser", purpose, &binding)
}
