//! The first of the web surface's two CSRF checks: a state-changing request must come from
//! our own origin (the second, the session-bound token, is `csrf`).

use crate::AppState;
use crate::error::error_response;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use cista_core::Error;

/// Methods that never change state.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a browser sent this request from one of our own pages (the rule is
/// `csrf_origin_check`'s; the embed surface's widget page uses it for its own form).
pub(crate) fn from_our_own_page(headers: &axum::http::HeaderMap, public_origin: &str) -> bool {
    // Either field sent twice (never by a browser) is refused, not read by its first line.
    let fields = crate::fields::single_field(headers, header::ORIGIN).and_then(|origin| {
        Ok((
            origin,
            crate::fields::single_field(headers, "sec-fetch-site")?,
        ))
    });
    match fields {
        Ok((Some(o), site)) if o != "null" => {
            o == public_origin && site.is_none_or(|s| s == "same-origin" || s == "none")
        }
        Ok((_, Some("same-origin"))) => true,
        Ok(_) | Err(_) => false,
    }
}

/// Refuses state-changing requests that a browser sent from another site. Browsers mark every
/// request with `Sec-Fetch-Site` (page scripts cannot forge it) and send `Origin` on POSTs, so a
/// request must come from our own origin. Under `Referrer-Policy: no-referrer` the Fetch
/// standard makes browsers send `Origin: null` even for same-origin form posts, so a `null` (or
/// missing) Origin is accepted only with `Sec-Fetch-Site: same-origin`. Sessions add a token
/// bound to the session on top of this (both, not either: see `csrf`).
pub(crate) async fn csrf_origin_check(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    if from_our_own_page(req.headers(), &state.public_origin) {
        next.run(req).await
    } else {
        error_response(&Error::CsrfRejected)
    }
}
