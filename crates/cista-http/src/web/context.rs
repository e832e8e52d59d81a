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
use cista_core::platform::access::requesters::{DEVICE_COOKIE, DEVICE_TRUST, Requester};
use cista_core::platform::access::sessions::ResolvedSession;
use cookie::{Cookie, SameSite};

pub const SESSION_COOKIE: &str = "__Host-cista_session";
pub const PRE_SESSION_COOKIE: &str = "__Host-cista_pre";
/// A one-time notice for the page after a form's redirect ("Paper ballot entered."), sealed to
/// this browser (see `with_notice`).
pub const NOTICE_COOKIE: &str = "__Host-cista_notice";

/// How long a notice waits for the page it is meant for.
const NOTICE_TTL: time::Duration = time::Duration::minutes(5);

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
    /// This browser's pre-session value: stable across signing in and out, it names the
    /// browser a repeated form submission comes from.
    pub browser: String,
    /// The value of this page's forms' `csrf` field: the token bound to `binding`, a dot, and
    /// a submission id drawn for this page (see `csrf::FormToken`).
    pub csrf: String,
    /// The request's path and query, for sending a visitor back after signing in.
    pub path: String,
    /// This response's CSP nonce, for the page's one script tag.
    pub nonce: String,
    /// The notice a form left for this page (shown once, by the page's header).
    pub notice: Option<String>,
    /// Who is asking, for per-requester budgets and lockouts: the device cookie when it is
    /// valid, else the TCP peer's address (never a forwarded header: the client's to forge).
    pub requester: Requester,
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

/// `Set-Cookie` that makes this browser a trusted device of the person who just signed in
/// (see `cista_core::platform::access::requesters`).
pub fn device_cookie(
    state: &AppState,
    ctx: &RequestContext,
    subject: cista_types::SubjectCode,
) -> Option<HeaderValue> {
    let value = state
        .cista
        .device_cookie(subject, &ctx.requester)
        .map_err(|e| tracing::warn!(cause = %e.chain(), "could not make a device cookie"))
        .ok()?;
    let mut c = host_cookie(DEVICE_COOKIE, value, SameSite::Lax);
    c.set_max_age(DEVICE_TRUST);
    HeaderValue::from_str(&c.to_string()).ok()
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
    let csrf = crate::web::csrf::form_token(cista, &binding).unwrap_or_default();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let notice = cookie_value(req.headers(), NOTICE_COOKIE).and_then(|sealed| {
        cista
            .open_from_browser("notice", &pre_value, &sealed)
            .and_then(|text| String::from_utf8(text).ok())
    });
    let had_notice = cookie_value(req.headers(), NOTICE_COOKIE).is_some();
    let nonce = req
        .extensions()
        .get::<crate::middleware::CspNonce>()
        .map(|n| n.0.to_string())
        .unwrap_or_default();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let requester = cista.requester(peer, cookie_value(req.headers(), DEVICE_COOKIE).as_deref());
    let context = RequestContext {
        requester,
        notice,
        nonce,
        stale_session: token.is_some() && session.is_none(),
        session_token: session.as_ref().and(token),
        session,
        binding,
        browser: pre_value.clone(),
        csrf,
        path,
    };
    // Machine-read files (`/.well-known/security.txt`) start no browser state: a scanner or
    // a crawler fetching them gets no cookie.
    let machine_read = req.uri().path().starts_with("/.well-known/");
    req.extensions_mut().insert(context);
    let mut response = next.run(req).await;
    if new_pre && !machine_read {
        response
            .headers_mut()
            .append(header::SET_COOKIE, pre_session_cookie(&pre_value));
    }
    // A notice is spent once a page showed it (not by a redirect on the way there), unless
    // the response left a new one.
    let new_notice = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(NOTICE_COOKIE.as_bytes()));
    if had_notice && response.status() != axum::http::StatusCode::SEE_OTHER && !new_notice {
        let mut gone = host_cookie(NOTICE_COOKIE, String::new(), SameSite::Lax);
        gone.make_removal();
        if let Ok(value) = HeaderValue::from_str(&gone.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Leaves a one-time notice for the page a form's 303 leads to. The text is sealed to this
/// browser, so it cannot be read or forged in the cookie.
pub fn with_notice(
    state: &AppState,
    ctx: &RequestContext,
    mut response: Response,
    text: &str,
) -> Response {
    match state
        .cista
        .seal_for_browser("notice", &ctx.browser, NOTICE_TTL, text.as_bytes())
    {
        Ok(sealed) => {
            let mut c = host_cookie(NOTICE_COOKIE, sealed, SameSite::Lax);
            c.set_max_age(NOTICE_TTL);
            if let Ok(value) = HeaderValue::from_str(&c.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Err(e) => tracing::warn!(cause = %e.chain(), "could not seal a notice"),
    }
    response
}

/// `Set-Cookie` for a cookie sealed to this browser's session, or its removal (empty value).
pub fn sealed_cookie(name: &str, value: &str, max_age: time::Duration) -> Option<HeaderValue> {
    let mut c = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    if value.is_empty() {
        c.make_removal();
    } else {
        c.set_max_age(max_age);
    }
    HeaderValue::from_str(&c.to_string()).ok()
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

/// A secret a page shows once, after the form that made it redirected (Post/Redirect/Get): a
/// new app token, a phone's pairing code. The redirect carries it sealed to the session in a
/// short-lived cookie (`__Host-`, HttpOnly, SameSite=Strict); the page after it opens it,
/// shows it, and clears the cookie, so a reload no longer has it.
#[derive(Debug, Clone, Copy)]
pub struct ShownOnce {
    /// The cookie's name (`__Host-…`).
    pub cookie: &'static str,
    /// What the seal is for: a cookie of one kind never opens as another.
    pub purpose: &'static str,
    pub ttl: time::Duration,
}

impl ShownOnce {
    /// A 303 to `to` carrying `secret` sealed to this session.
    pub fn redirect(
        &self,
        state: &crate::AppState,
        ctx: &RequestContext,
        to: &str,
        secret: &[u8],
    ) -> Result<axum::response::Response, crate::error::AppError> {
        let session = ctx.session_token.as_deref().unwrap_or_default();
        let sealed = state
            .cista
            .seal_for_browser(self.purpose, session, self.ttl, secret)?;
        let mut response = crate::web::pages::chrome::see_other(to);
        if let Some(cookie) = sealed_cookie(self.cookie, &sealed, self.ttl) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }

    /// The secret the request's cookie carries, if it opens for this session (and whether
    /// there was such a cookie at all, to clear it with [`ShownOnce::forget`]).
    pub fn take(
        &self,
        state: &crate::AppState,
        ctx: &RequestContext,
        headers: &HeaderMap,
    ) -> (Option<String>, bool) {
        let sealed = cookie_value(headers, self.cookie);
        let secret = match (&ctx.session_token, &sealed) {
            (Some(token), Some(sealed)) => state
                .cista
                .open_from_browser(self.purpose, token, sealed)
                .and_then(|plain| String::from_utf8(plain).ok()),
            _ => None,
        };
        (secret, sealed.is_some())
    }

    /// Clears the cookie on `response`: shown once, a reload no longer has it.
    pub fn forget(&self, response: &mut axum::response::Response) {
        if let Some(clear) = sealed_cookie(self.cookie, "", self.ttl) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
}
