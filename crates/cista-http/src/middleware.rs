//! The middleware every surface shares, outermost first: a fresh request id, a log span,
//! metrics and the security headers with a per-response CSP nonce (`common`); and the guards
//! each surface puts inside its own stack: panic catching, the request timeout (`guarded`),
//! and, for the JSON surfaces, the JSON error renderer (`render_json_errors`). What differs by
//! surface (cookies, CSRF, error pages, body limits) lives in `web`, `api` and `ops`.

use crate::AppState;
use crate::error::{ErrorInfo, error_for_status, error_response, json_body};
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cista_core::Error;
use std::sync::Arc;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument as _;

/// The id of one request: random, generated here, never taken from the client (a client-set
/// id could forge log lines or collide with another request's).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// The nonce of this response's Content-Security-Policy.
#[derive(Debug, Clone)]
pub struct CspNonce(pub Arc<str>);

/// HSTS for two years, subdomains included (RFC 6797; at least one year is required).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The CSP for a response with `nonce`. No inline script or style is allowed: scripts only
/// with the nonce, styles only from our origin, and no framing by anyone (CSP Level 3). The
/// web pages, the API and the operational endpoints all send it; the embed surface's widget
/// page sends `content_security_policy_framed` with its form's sites instead.
pub fn content_security_policy(nonce: &str) -> String {
    content_security_policy_framed(nonce, "'none'")
}

/// The same policy with `frame-ancestors` set to `ancestors` (a CSP source list).
pub fn content_security_policy_framed(nonce: &str, ancestors: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'; manifest-src 'self'"
    )
}

/// Marks a response of Cista Collect (`/collect/`), the installable app: its policy adds
/// `worker-src 'self'` (its service worker), `blob:` images (photos shown before they are
/// sent), and lets the page ask for the phone's location and camera (Permissions Policy).
#[derive(Debug, Clone, Copy)]
pub struct InstallableApp;

/// The policy of a Cista Collect response (see [`InstallableApp`]).
pub fn content_security_policy_app(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
         style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
         worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         manifest-src 'self'"
    )
}

/// Marks a page that shows map tiles from this origin (the records map with a tile server
/// configured): its policy allows images from that one origin besides its own.
#[derive(Debug, Clone)]
pub struct TileImages(pub String);

/// Wraps routes in the web surface's full stack (tests use it to exercise panics and
/// timeouts on routes of their own).
pub fn wrap(routes: Router<AppState>, state: AppState) -> Router {
    crate::web::stack(routes, &state).with_state(state)
}

/// The layers every surface shares, added outside the surface's own: request id (outermost),
/// log span, metrics, security headers, load shedding. Each surface calls this last on its router, so the
/// route templates (`MatchedPath`) the log and the metrics name are the surface's own.
pub fn common(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .layer(from_fn_with_state(
            state.clone(),
            crate::shed::shed_when_overloaded,
        ))
        .layer(from_fn_with_state(state.clone(), security_headers))
        .layer(from_fn(crate::ops::metrics::record_request))
        .layer(from_fn(log_request))
        .layer(from_fn_with_state(state.clone(), assign_request_id))
}

/// Panic catching and the request timeout, which every surface puts just inside its error
/// renderer (so a panic or a timeout is rendered in the surface's own way).
pub fn guarded(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// Gives every error of a JSON surface (the API, the operational endpoints) the coded JSON
/// body: a handler's `AppError`, and anything else that ends in an error status (unknown
/// route, wrong method, a body over the limit, a timeout, a panic).
pub async fn render_json_errors(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.to_string())
        .unwrap_or_default();
    let (mut parts, info) = match error_to_render(next.run(req).await, &state) {
        Ok(found) => found,
        Err(response) => return response,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(json_body(&info, &request_id)))
}

/// An error response a surface's renderer should give its own body: its head and what to
/// say, the `ErrorInfo` a handler attached or, for an error status someone else produced
/// (axum, a tower layer, a panic), one made from the status. `Err` passes the response on
/// unchanged: not an error, or a body a handler wrote on purpose (`OwnBody`).
#[allow(clippy::result_large_err)] // the `Err` is the response itself, passed straight on
pub(crate) fn error_to_render(
    response: Response,
    state: &AppState,
) -> std::result::Result<(axum::http::response::Parts, ErrorInfo), Response> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response
            .extensions()
            .get::<crate::error::OwnBody>()
            .is_some()
    {
        return Err(response);
    }
    let (mut parts, body) = response.into_parts();
    if let Some(info) = parts.extensions.get::<ErrorInfo>().cloned() {
        return Ok((parts, info));
    }
    drop(body);
    let err = error_for_status(status, state.limits.body_bytes);
    let made = error_response(&err);
    let Some(info) = made.extensions().get::<ErrorInfo>().cloned() else {
        return Err(status.into_response());
    };
    // One code, one status: axum answers a form it could not read (a field sent twice) with
    // 422, and such a refusal is a `bad_request`, answered 400 as every other one. What the
    // error adds (`Retry-After`) is added unless already there.
    if matches!(err, Error::BadRequest { .. }) {
        parts.status = made.status();
    }
    for (name, value) in made.headers() {
        if !parts.headers.contains_key(name) {
            parts.headers.insert(name.clone(), value.clone());
        }
    }
    Ok((parts, info))
}

async fn assign_request_id(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut raw = [0u8; 12];
    state.cista.rng().fill(&mut raw);
    let id: Arc<str> = hex_string(&raw).into();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The route template, not the raw path: paths may later carry one-time tokens, which must
/// never reach a log line.
pub(crate) fn route_label(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned())
}

async fn log_request(req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| Arc::from("-"));
    let method = req.method().clone();
    let route = route_label(&req);
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    response
}

async fn security_headers(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let mut raw = [0u8; 16];
    state.cista.rng().fill(&mut raw);
    let nonce: Arc<str> = base64::engine::general_purpose::STANDARD.encode(raw).into();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(req).await;
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    // The embed surface marks the responses other sites may frame or load (see `embed`).
    let ancestors = response
        .extensions()
        .get::<crate::embed::FrameAncestors>()
        .filter(|a| !a.0.is_empty())
        .map(crate::embed::FrameAncestors::source_list);
    let shared = response
        .extensions()
        .get::<crate::embed::SharedResource>()
        .is_some();
    let app = response.extensions().get::<InstallableApp>().is_some();
    let tiles = response
        .extensions()
        .get::<TileImages>()
        .map(|t| t.0.clone());
    let headers = response.headers_mut();
    set(headers, "strict-transport-security", HSTS);
    let policy = if app {
        content_security_policy_app(&nonce)
    } else {
        content_security_policy_framed(&nonce, ancestors.as_deref().unwrap_or("'none'"))
    };
    // The origin comes from the configuration, checked to be one https origin (`MapTiles`).
    let policy = match tiles {
        Some(origin) => policy.replacen(
            "img-src 'self' data:",
            &format!("img-src 'self' data: {origin}"),
            1,
        ),
        None => policy,
    };
    set(headers, "content-security-policy", &policy);
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    // X-Frame-Options cannot name sites; where the CSP allows framing it must not say DENY
    // (a browser that honours both would refuse the widget everywhere).
    if ancestors.is_none() {
        set(headers, "x-frame-options", "DENY");
    }
    // Turns off the XSS auditor of old browsers (OWASP HTTP headers cheat sheet): its
    // filtering could be abused to blank parts of a page or leak data across origins, and the
    // CSP above already forbids inline script.
    set(headers, "x-xss-protection", "0");
    set(headers, "cross-origin-opener-policy", "same-origin");
    set(
        headers,
        "cross-origin-resource-policy",
        if shared {
            "cross-origin"
        } else {
            "same-origin"
        },
    );
    set(
        headers,
        "permissions-policy",
        if app {
            "camera=(self), geolocation=(self), microphone=(), payment=(), usb=(), interest-cohort=()"
        } else {
            "camera=(), microphone=(), payment=(), usb=(), interest-cohort=()"
        },
    );
    // Nothing is cached unless a handler says so (only static assets do): pages may hold
    // personal data and sit behind a sign-in.
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    response
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_forbids_inline_code_and_framing() {
        let csp = content_security_policy("abc");
        assert!(csp.contains("script-src 'nonce-abc'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("unsafe-eval"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("default-src 'none'"));
    }
}
