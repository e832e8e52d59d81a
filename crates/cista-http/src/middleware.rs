//! The middleware every request passes through, outermost first: a fresh request id, a log
//! span, metrics, security headers with a per-response CSP nonce, the error renderer, panic
//! catching, the request timeout, the CSRF origin check and the body limit.

use crate::AppState;
use crate::error::{ErrorInfo, error_for_status, error_response, json_body};
use crate::pages::templates::ErrorPage;
use askama::Template as _;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cista_core::Error;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
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
/// with the nonce, styles only from our origin, and no framing by anyone (CSP Level 3).
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'"
    )
}

/// Wraps any routes in the full middleware stack (the application uses it for its own routes;
/// tests use it to exercise panics and timeouts).
pub fn wrap(routes: Router<AppState>, state: AppState) -> Router {
    let body_limit = state.limits.body_bytes;
    let timeout = state.limits.request_timeout;
    routes
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), assign_request_id))
                .layer(from_fn(log_request))
                .layer(from_fn(crate::metrics::record_request))
                .layer(from_fn_with_state(state.clone(), security_headers))
                .layer(from_fn_with_state(
                    state.clone(),
                    crate::context::load_context,
                ))
                .layer(from_fn_with_state(state.clone(), render_errors))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .layer(from_fn_with_state(state.clone(), csrf_origin_check))
                // Reads form bodies itself, within the same limit.
                .layer(from_fn_with_state(
                    state.clone(),
                    crate::csrf::check_csrf_token,
                ))
                .layer(RequestBodyLimitLayer::new(body_limit)),
        )
        .with_state(state)
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
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(headers, "strict-transport-security", HSTS);
    set(
        headers,
        "content-security-policy",
        &content_security_policy(&nonce),
    );
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-frame-options", "DENY");
    // Turns off the XSS auditor of old browsers (OWASP HTTP headers cheat sheet): its
    // filtering could be abused to blank parts of a page or leak data across origins, and the
    // CSP above already forbids inline script.
    set(headers, "x-xss-protection", "0");
    set(headers, "cross-origin-opener-policy", "same-origin");
    set(headers, "cross-origin-resource-policy", "same-origin");
    set(
        headers,
        "permissions-policy",
        "camera=(), microphone=(), payment=(), usb=(), interest-cohort=()",
    );
    // Nothing is cached unless a handler says so (only static assets do): pages may hold
    // personal data and sit behind a sign-in.
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    response
}

/// Whether the client asked for JSON rather than a page.
fn wants_json(req_path: &str, headers: &HeaderMap) -> bool {
    if req_path.starts_with("/api/") || matches!(req_path, "/healthz" | "/readyz" | "/metrics") {
        return true;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

async fn render_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let json = wants_json(req.uri().path(), req.headers());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.to_string())
        .unwrap_or_default();
    let context = req
        .extensions()
        .get::<crate::context::RequestContext>()
        .cloned();
    let chrome = context
        .as_ref()
        .map(|ctx| crate::pages::chrome::Chrome::new(ctx, &state))
        .unwrap_or_default();
    let (path, signed_in, sms_session) =
        context
            .as_ref()
            .map_or((String::from("/"), false, false), |ctx| {
                let sms = ctx
                    .session
                    .as_ref()
                    .is_some_and(|s| s.stage == cista_core::ports::SessionStage::Sms);
                (
                    if req.method() == Method::GET {
                        ctx.path.clone()
                    } else {
                        String::from("/")
                    },
                    ctx.signed_in(),
                    sms,
                )
            });
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response
            .extensions()
            .get::<crate::error::OwnBody>()
            .is_some()
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let info = match parts.extensions.get::<ErrorInfo>() {
        Some(info) => info.clone(),
        None => {
            // Someone else's error (axum, a tower layer, a panic): give it our shape.
            drop(body);
            let err = error_for_status(status, state.limits.body_bytes);
            let fresh = error_response(&err);
            let info = fresh.extensions().get::<ErrorInfo>().cloned();
            match info {
                Some(info) => info,
                None => return fresh,
            }
        }
    };
    let (content_type, body) = if json {
        ("application/json", json_body(&info, &request_id))
    } else {
        let heading = sentence_case(&info.message);
        let (explanation, next_steps) =
            crate::pages::templates::next_steps(info.code, &path, signed_in, sms_session);
        let page = ErrorPage {
            chrome,
            status: status.as_u16(),
            code: info.code,
            message: &heading,
            explanation,
            next_steps,
            request_id: &request_id,
        };
        match page.render() {
            Ok(html) => ("text/html; charset=utf-8", html),
            Err(_) => ("application/json", json_body(&info, &request_id)),
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        parts.headers.insert(header::CONTENT_TYPE, v);
    }
    Response::from_parts(parts, Body::from(body))
}

/// Messages are written to follow "error:"; a page heading starts with a capital.
fn sentence_case(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Methods that never change state.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing requests that a browser sent from another site. Browsers mark every
/// request with `Sec-Fetch-Site` (page scripts cannot forge it) and send `Origin` on POSTs, so a
/// request must come from our own origin. Under `Referrer-Policy: no-referrer` the Fetch
/// standard makes browsers send `Origin: null` even for same-origin form posts, so a `null` (or
/// missing) Origin is accepted only with `Sec-Fetch-Site: same-origin`. Sessions add a token
/// bound to the session on top of this (both, not either: see `csrf`).
async fn csrf_origin_check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let allowed = match (origin, fetch_site) {
        (Some(o), site) if o != "null" => {
            o == &*state.public_origin && site.is_none_or(|s| s == "same-origin" || s == "none")
        }
        (_, Some("same-origin")) => true,
        _ => false,
    };
    if allowed {
        next.run(req).await
    } else {
        error_response(&Error::CsrfRejected)
    }
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

    #[test]
    fn api_paths_and_json_clients_get_json() {
        let mut h = HeaderMap::new();
        assert!(wants_json("/api/v1/trust", &h));
        assert!(!wants_json("/security", &h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(wants_json("/security", &h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/json"),
        );
        assert!(!wants_json("/security", &h));
    }
}
