//! Every state-changing form is safe to repeat (DESIGN §8). Pages follow Post/Redirect/Get: a
//! form that changes something answers with a 303 to a page, so reloading that page never sends
//! the form again. What remains — a double-click, the back button to a page a browser kept, a
//! phone re-sending a restored tab — is caught here: each submission (keyed by browser, route
//! and exact body, which includes the page's submission id) is claimed before it runs and
//! completed with the place its 303 sent the browser. A repeat of a completed submission is sent
//! to the same place without running again; a repeat that arrives while the first is running
//! waits for it (up to `REPEAT_WAIT`) and then follows it; a repeat of one whose first run died
//! without recording where it went is refused (`submission_outcome_unknown`), never run again,
//! since its change may have committed. A submission whose answer is not a
//! redirect (a form shown again with its errors) changed nothing and is released, so the same
//! form can be corrected and sent again.
//!
//! Only the redirect is replayed, never the first answer's cookies: those reached the browser
//! with the first answer (and the pages' script stops a second click from sending the form
//! twice). A route whose handler makes its own repeats safe, inside the transaction of the
//! change, is listed in `SELF_IDEMPOTENT` and passes through.

use crate::AppState;
use crate::error::error_response;
use crate::web::pages::chrome::see_other;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use cista_core::Error;
use cista_core::platform::resubmit::Repeat;
use cista_crypto::Digest32;

/// Routes whose handlers recognise a repeat themselves, in the same transaction as the change:
/// casting a vote (the participation row keeps the submission's hash, and the receipt is
/// re-derived from the voter's form; see `cista_core::products::voting::cast`).
const SELF_IDEMPOTENT: &[&str] = &["/vote/{ballot}/unit/{unit}"];

/// The header a replayed answer carries, so a client (and a test) can tell it from a first run.
pub const REPLAYED: &str = "cista-repeat";

pub fn handles_own_repeats(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<MatchedPath>()
        .is_some_and(|m| SELF_IDEMPOTENT.contains(&m.as_str()))
}

/// Where a 303 sends the browser, when it is a path on this site.
fn local_redirect(response: &Response) -> Option<String> {
    if response.status() != StatusCode::SEE_OTHER {
        return None;
    }
    let to = response.headers().get(header::LOCATION)?.to_str().ok()?;
    (to.starts_with('/') && !to.starts_with("//") && !to.starts_with("/\\")).then(|| to.to_owned())
}

fn replay(to: &str) -> Response {
    let mut response = see_other(to);
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("first-outcome"));
    response
}

/// Runs a submission once: claims it, runs the handler, records where it went.
pub async fn run_once(state: &AppState, key: Digest32, req: Request, next: Next) -> Response {
    // A claim older than the request timeout belongs to a request that can no longer finish.
    let stale_after = state.limits.request_timeout + std::time::Duration::from_secs(5);
    match state.cista.claim_submission(&key, stale_after).await {
        Err(e) => error_response(&e),
        Ok(Repeat::Replay(to)) => replay(&to),
        Ok(Repeat::StillRunning) => error_response(&Error::SubmissionInProgress),
        Ok(Repeat::OutcomeUnknown) => error_response(&Error::SubmissionOutcomeUnknown),
        Ok(Repeat::Run) => {
            let response = next.run(req).await;
            let recorded = match local_redirect(&response) {
                Some(to) => state.cista.complete_submission(&key, &to).await,
                None => state.cista.release_submission(&key).await,
            };
            if let Err(e) = recorded {
                // The change itself is done; a later repeat is told its outcome is unknown.
                tracing::warn!(code = e.code(), cause = %e.chain(), "could not record a form submission's outcome");
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse as _;

    #[test]
    fn only_local_redirects_are_outcomes() {
        assert_eq!(
            local_redirect(&see_other("/vote/1")).as_deref(),
            Some("/vote/1")
        );
        for away in ["https://evil.example/", "//evil.example", "/\\evil"] {
            assert_eq!(local_redirect(&see_other(away)), None, "{away}");
        }
        assert_eq!(local_redirect(&StatusCode::OK.into_response()), None);
    }
}
