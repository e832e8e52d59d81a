//! The per-request context: the signed-in session (if any), the value CSRF tokens are bound to,
//! and the cookies that carry them. A browser without a session gets a random pre-session
//! cookie, so even the sign-in form carries a token bound to that browser.
//!
//! Cookies are `__Host-` prefixed (RFC 6265bis: Secure, Path=/, no Domain), HttpOnly, and
//! SameSite (Lax for the session so emailed links work, Strict for the pre-session).

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use cista_core::Actor;
use cista_core::access::sessions::ResolvedSession;
use cookie::{Cookie, SameSite};

pub const SESSION_COOKIE: &str = "__Host-cista_session";
pub const PRE_SESSION_COOKIE: &str = "__Host-cista_pre";

/// What a request carries, resolved once by `load_context`.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub session: Option<ResolvedSession>,
    /// The session token, when the session is live (the CSRF binding then).
    pub session_token: Option<String>,
    /// A session cookie came with the request but named no live session (expired, revoked).
    pub stale_session: bool,
    /// The value CSRF tokens of this request's pages are bound to.
    pub binding: String,
    /// The CSRF token to put in this page's forms.
    pub csrf: String,
}

impl RequestContext {
    /// The acting identity: the signed-in person, or an anonymous visitor.
    pub fn actor(&self) -> Actor {
        self.session
            .as_ref()
            .and_then(|s| s.actor.clone())
            .unwrap_or(Actor::Anonymous)
    }

    pub fn signed_in(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.actor.is_some())
    }
}

/// Reads a cookie's value from the request headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn host_cookie(name: &'static str, value: String, same_site: SameSite) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(same_site)
        .build()
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age: time::Duration) -> HeaderValue {
    let mut c = host_cookie(SESSION_COOKIE, token.to_owned(), SameSite::Lax);
    c.set_max_age(max_age);
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    let mut c = host_cookie(SESSION_COOKIE, String::new(), SameSite::Lax);
    c.make_removal();
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static(""))
}

fn pre_session_cookie(value: &str) -> HeaderValue {
    let c = host_cookie(PRE_SESSION_COOKIE, value.to_owned(), SameSite::Strict);
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Resolves the session and the CSRF binding for every request (static assets excepted).
pub async fn load_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/static/") {
        return next.run(req).await;
    }
    let cista = &state.cista;
    let token = cookie_value(req.headers(), SESSION_COOKIE);
    let session = match &token {
        Some(t) => cista.resolve_session(t).await.ok().flatten(),
        None => None,
    };
    let pre = cookie_value(req.headers(), PRE_SESSION_COOKIE).filter(|v| {
        v.len() == 43
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let (pre_value, new_pre) = match pre {
        Some(v) => (v, false),
        None => (
            cista_crypto::token::new_token(cista.rng().as_ref()).secret,
            true,
        ),
    };
    let binding = match (&session, &token) {
        (Some(_), Some(t)) => t.clone(),
        _ => pre_value.clone(),
    };
    let csrf = cista.csrf_token(&binding).unwrap_or_default();
    let context = RequestContext {
        stale_session: token.is_some() && session.is_none(),
        session_token: session.as_ref().and(token),
        session,
        binding,
        csrf,
    };
    req.extensions_mut().insert(context);
    let mut response = next.run(req).await;
    if new_pre {
        response
            .headers_mut()
            .append(header::SET_COOKIE, pre_session_cookie(&pre_value));
    }
    response
}

/// Where a vote comes from, for the participation ledger: the TCP peer's address and the
/// browser's user agent (trimmed to 300 characters). Never a forwarded header: those are the
/// client's to forge.
pub fn vote_origin(
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> cista_core::ports::VoteOrigin {
    cista_core::ports::VoteOrigin {
        ip: peer.map(|p| p.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(300).collect()),
        staff: None,
    }
}
