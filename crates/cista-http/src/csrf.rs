//! The session-bound CSRF token, checked on every state-changing request: the form's `csrf`
//! field must be the keyed hash of this browser's session (or pre-session) token. Together
//! with the Origin check in `middleware`, a request forged from another site is refused with
//! 403 `csrf_rejected`. The token is read from URL-encoded forms and from multipart forms
//! (file uploads); a body of any other type carries no token and is refused.

use crate::AppState;
use crate::context::RequestContext;
use crate::error::error_response;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cista_core::Error;

/// The form field that carries the token.
pub const FIELD: &str = "csrf";

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The `csrf` field of a buffered multipart body, if it has exactly one that is text. Other
/// fields (the uploaded file) are skipped unread; the handler parses the body again.
async fn multipart_token(content_type: &str, bytes: &Bytes) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = Body::from(bytes.clone()).into_data_stream();
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut found = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() != Some(FIELD) {
            continue;
        }
        if found.is_some() {
            // Two tokens: ambiguous, refuse.
            return None;
        }
        found = Some(field.text().await.ok()?);
    }
    found
}

pub async fn check_csrf_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    let Some(context) = req.extensions().get::<RequestContext>().cloned() else {
        return error_response(&Error::CsrfRejected);
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.limits.body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(&Error::PayloadTooLarge {
                limit_bytes: state.limits.body_bytes,
            });
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let presented = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|fields| fields.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v))
    } else if content_type.starts_with("multipart/form-data") {
        multipart_token(content_type, &bytes).await
    } else {
        None
    };
    let valid = presented.is_some_and(|token| state.cista.csrf_valid(&context.binding, &token));
    if !valid {
        if context.stale_session {
            // The form was made for a session that has since ended: sign in again.
            return (StatusCode::SEE_OTHER, Redirect::to("/sign-in?expired=1")).into_response();
        }
        return error_response(&Error::CsrfRejected);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
