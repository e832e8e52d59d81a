//! Load shedding: at most `Limits::max_in_flight` requests are handled at once. One more is
//! refused before any work (no session read, no body read) with 503 `overloaded` and
//! `Retry-After: 1` (RFC 9110 §15.6.4, §10.2.3), so an overload costs a few microseconds per
//! refused request instead of a queue that grows until memory or every deadline runs out. The
//! operational endpoints (`/healthz`, `/readyz`, `/metrics`) are never shed: a load balancer
//! and the monitoring must still see a busy server answer. A request holds its place until
//! its response body has been sent (or dropped), so a streamed download counts while it runs.

use crate::AppState;
use crate::error::{ErrorInfo, error_response, json_body};
use crate::middleware::RequestId;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use cista_core::Error;

/// Paths that are answered whatever the load.
const NEVER_SHED: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The page a browser shows when its request was shed (no script, no style: the CSP holds).
const BUSY_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Busy — Cista</title>\
</head><body><h1>The server is busy</h1><p>Too many requests are being handled right now. \
Nothing was done with this one: go back and send it again in a moment.</p></body></html>";

pub(crate) async fn shed_when_overloaded(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if NEVER_SHED.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    match state.in_flight.clone().try_acquire_owned() {
        Ok(permit) => next.run(req).await.map(|body| {
            Body::new(HoldingPermit {
                body,
                _permit: permit,
            })
        }),
        Err(_) => {
            metrics::counter!("cista_http_shed_total").increment(1);
            overloaded(&req)
        }
    }
}

/// A response body that keeps its request's in-flight permit until the body ends or is
/// dropped; everything else is the inner body's (frames, end, size hint for Content-Length).
struct HoldingPermit {
    body: Body,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl http_body::Body for HoldingPermit {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The 503: JSON for the API, the embed surface and clients that ask for JSON, a short page
/// for browsers.
fn overloaded(req: &Request) -> Response {
    let (mut parts, _) = error_response(&Error::Overloaded).into_parts();
    // The API is nested under `/api`, whose prefix its own router no longer sees.
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or(req.uri().path(), |o| o.0.path());
    let wants_json = path.starts_with("/api/")
        || path.starts_with("/embed/")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("application/json"));
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = if wants_json {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.to_string())
            .unwrap_or_default();
        let info = parts.extensions.get::<ErrorInfo>().cloned();
        info.map(|i| json_body(&i, &request_id))
            .unwrap_or_else(|| r#"{"error":{"code":"overloaded"}}"#.to_owned())
    } else {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        BUSY_PAGE.to_owned()
    };
    // Marked as rendered, so no surface's error renderer replaces it.
    parts.extensions.insert(crate::error::OwnBody);
    Response::from_parts(parts, Body::from(body))
}
