//! CORS for the embed surface's JSON calls (Fetch standard, "CORS protocol"): the calling
//! page's origin is reflected in `Access-Control-Allow-Origin` only when the form lists it,
//! never `*`, never with credentials (no cookie is involved); `Vary: Origin` always, so a
//! cache never hands one site's answer to another. A preflight from an unlisted or missing
//! origin is `403 origin_not_allowed` with no CORS header, so the browser refuses the call.

use crate::AppState;
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_types::WebOrigin;

/// The `Origin` header as sent: `None` when absent, sent twice or not text.
pub fn request_origin(headers: &HeaderMap) -> Option<&str> {
    crate::fields::single_field(headers, header::ORIGIN)
        .ok()
        .flatten()
}

/// Adds the CORS answer for `origin` (already checked against the form's list).
pub fn allow(response: &mut Response, origin: &WebOrigin) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin.as_str()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// `OPTIONS` on either call: allowed methods and headers for a listed site, for ten minutes.
pub async fn preflight(
    State(state): State<AppState>,
    Path((org, form)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let org = super::page::organization(&state, &org).await?;
    let origin = state
        .cista
        .allowed_site(org.id, &form, request_origin(&headers))
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    allow(&mut response, &origin);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Ok(response)
}
