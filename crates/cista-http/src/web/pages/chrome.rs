//! What every page shares: the header's signed-in state and CSRF token, form error lists, one
//! render helper, and the gates that send a visitor to sign in (or to the second factor).

use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use cista_core::platform::access::sessions::ResolvedSession;
use cista_core::ports::SessionStage;
use cista_core::{Actor, Error};

/// The header of every page.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub signed_in: bool,
    /// The person has a staff role in some organization (and a full session): the header
    /// offers "Manage".
    pub staff: bool,
    pub csrf: String,
    pub demo: bool,
    /// The response's CSP nonce, for the page script's tag.
    pub nonce: String,
    /// A notice left by the form that led here ("Paper ballot entered.").
    pub notice: Option<String>,
}

impl Chrome {
    pub fn new(ctx: &RequestContext, state: &AppState) -> Self {
        Self {
            signed_in: ctx.signed_in(),
            staff: ctx
                .session
                .as_ref()
                .and_then(|s| s.actor.as_ref())
                .and_then(Actor::person)
                .is_some_and(|p| {
                    p.access == cista_core::Access::Full && p.roles.values().any(|r| r.is_staff())
                }),
            csrf: ctx.csrf.clone(),
            demo: state.demo.as_ref().is_some_and(|d| d.outbox_dir.is_some()),
            nonce: ctx.nonce.clone(),
            notice: ctx.notice.clone(),
        }
    }
}

/// One problem with one form field, linked from the error summary.
#[derive(Debug, Clone)]
pub struct FormError {
    pub field: &'static str,
    pub message: String,
}

impl FormError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// A form error for a core error about an input, with a sentence a person can act on.
    pub fn from_error(field: &'static str, error: &Error) -> Self {
        let message = match error {
            Error::InvalidInput { field, reason } => format!("The {field} {reason}."),
            Error::WeakPassword { reason } => {
                format!("This password is too easy to guess: {reason}")
            }
            other => {
                let text = other.public_message();
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                    None => text,
                }
            }
        };
        Self::new(field, message)
    }
}

/// Renders a template with a status.
pub fn render(status: StatusCode, page: impl Template) -> Result<Response, AppError> {
    let mut html = page
        .render()
        .map_err(|e| AppError(Error::Internal(e.to_string())))?;
    // Text a form sends back into its page (a value typed by hand, an address's query) may
    // hold a NUL, which no page may carry (HTML, "Preprocessing the input stream": a parse
    // error); it goes out as the U+FFFD a browser would show in its place.
    if html.contains('\0') {
        html = html.replace('\0', "\u{FFFD}");
    }
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(crate::error::OwnBody);
    Ok(response)
}

/// A redirect after a successful form (303: the browser follows with a GET). Bytes a header
/// cannot carry (controls, non-ASCII: a path segment decoded from the request, say) are
/// percent-encoded (RFC 3986 §2.1), so the answer always has its `Location`.
pub fn see_other(to: &str) -> Response {
    /// What a `Location` value cannot hold as it is: C0 controls and DEL (non-ASCII is always
    /// encoded), and the space.
    const NOT_IN_HEADER: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ');
    let to = percent_encoding::utf8_percent_encode(to, NOT_IN_HEADER).to_string();
    (StatusCode::SEE_OTHER, Redirect::to(&to)).into_response()
}

/// For pages: the fully signed-in (or SMS) person, or where they must go first; the page
/// asked for rides along as `next`, so the visitor lands on it after signing in.
pub fn person_or_redirect(ctx: &RequestContext) -> Result<(Actor, &ResolvedSession), String> {
    let step = match &ctx.session {
        None => "/sign-in",
        Some(s) => match (&s.actor, s.stage) {
            (Some(actor), _) => return Ok((actor.clone(), s)),
            (None, SessionStage::MfaEnrol) => "/mfa/enrol",
            (None, _) => "/mfa",
        },
    };
    Err(with_next(step, &ctx.path))
}

/// `step` with `next` appended as a query parameter when `next` is a page worth returning to
/// (see `local_next`).
pub fn with_next(step: &str, next: &str) -> String {
    match local_next(next) {
        Some(next) if next != "/me" => {
            let joiner = if step.contains('?') { '&' } else { '?' };
            let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
            format!("{step}{joiner}{query}")
        }
        _ => step.to_owned(),
    }
}

/// A `next` target that is safe to send a browser to: a same-origin, relative path (never a
/// scheme, host or `//`), made only of the characters our own paths use, not a form-only or
/// sign-in route (which would loop). Anything else is `None` and the caller uses its default.
pub fn local_next(next: &str) -> Option<&str> {
    let path = next.split(['?', '#']).next().unwrap_or("");
    let safe_chars = next
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~?=&%".contains(&b));
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && safe_chars
        && !path.contains("/../")
        && !path.ends_with("/..")
        && ![
            "/sign-in",
            "/sign-out",
            "/mfa",
            "/sms",
            "/reset",
            "/invitation",
            "/i/",
            "/j/",
            "/joined",
            "/r/",
            "/static/",
        ]
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(p));
    ok.then_some(next)
}

/// For form posts: the person, or a coded refusal.
pub fn person_or_refuse(ctx: &RequestContext) -> Result<(Actor, &ResolvedSession), AppError> {
    match &ctx.session {
        None => Err(AppError(Error::Unauthenticated)),
        Some(s) => match &s.actor {
            Some(actor) => Ok((actor.clone(), s)),
            None => Err(AppError(Error::SecondFactorRequired)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_always_carries_its_location() {
        for (to, location) in [
            ("/admin/palm-court/ballots/7", "/admin/palm-court/ballots/7"),
            ("/admin/x?q=a%20b#notice", "/admin/x?q=a%20b#notice"),
            ("/admin/risk\n/results/1", "/admin/risk%0A/results/1"),
            ("/a\r\nSet-Cookie: x", "/a%0D%0ASet-Cookie:%20x"),
            ("/caf\u{e9} d\u{7f}", "/caf%C3%A9%20d%7F"),
        ] {
            let response = see_other(to);
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{to:?}");
            assert_eq!(response.headers()[axum::http::header::LOCATION], location);
        }
    }

    #[test]
    fn next_is_only_ever_a_local_page() {
        for good in [
            "/vote/42",
            "/vote/42/unit/7",
            "/admin/palm-court?q=101",
            "/me",
        ] {
            assert_eq!(local_next(good), Some(good), "{good}");
        }
        for bad in [
            "https://evil.example/vote",
            "//evil.example/vote",
            "/\\evil.example",
            "vote/42",
            "",
            "/vote/../admin",
            "/sign-in",
            "/sign-out",
            "/mfa/enrol",
            "/i/abc",
            "/j/abc",
            "/j/abc/accept",
            "/joined",
            "/r/abc",
            "/vote/\r\nSet-Cookie:x",
            "/vote/<script>",
            "javascript:alert(1)",
        ] {
            assert_eq!(local_next(bad), None, "{bad:?}");
        }
        assert_eq!(local_next(&format!("/{}", "a".repeat(600))), None);
    }

    #[test]
    fn the_page_asked_for_rides_along_to_sign_in() {
        assert_eq!(
            with_next("/sign-in", "/vote/42"),
            "/sign-in?next=%2Fvote%2F42"
        );
        assert_eq!(with_next("/sign-in", "/me"), "/sign-in");
        assert_eq!(with_next("/sign-in", "//evil"), "/sign-in");
        assert_eq!(
            with_next("/sign-in?expired=1", "/admin/x?q=a b"),
            "/sign-in?expired=1"
        );
        assert_eq!(
            with_next("/sign-in?expired=1", "/admin/x?q=a%20b"),
            "/sign-in?expired=1&next=%2Fadmin%2Fx%3Fq%3Da%2520b"
        );
    }
}
