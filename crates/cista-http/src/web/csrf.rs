//! The session-bound CSRF token, checked on every state-changing request: the form's `csrf`
//! field must be the keyed hash of this browser's session (or pre-session) token. Together
//! with the Origin check in `middleware`, a request forged from another site is refused with
//! 403 `csrf_rejected`. The token is read from URL-encoded forms and from multipart forms
//! (file uploads); a body of any other type carries no token and is refused.
//!
//! The field also carries the page's submission id (`token.id`, see `FormToken`), drawn afresh
//! for every page. Once the token is accepted, the submission is handed to `resubmit`, which
//! makes a repeat of the same form (a double-click, a reload, the back button, a restored tab)
//! get the first outcome instead of running again.

use crate::AppState;
use crate::error::error_response;
use crate::web::context::RequestContext;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cista_core::Error;

/// The form field that carries the token.
pub const FIELD: &str = "csrf";

/// The submission id of the form a request was sent from, for handlers that make their own
/// repeats safe (the vote cast: see `cista_core::products::voting::cast`).
#[derive(Debug, Clone)]
pub struct FormSubmission(pub String);

/// What a form's `csrf` field holds: the session-bound token and the page's submission id,
/// joined by a dot (neither contains one: both are URL-safe base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormToken<'a> {
    pub token: &'a str,
    pub submission: Option<&'a str>,
}

impl<'a> FormToken<'a> {
    pub fn parse(value: &'a str) -> Self {
        match value.split_once('.') {
            Some((token, id))
                if !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Self {
                    token,
                    submission: Some(id),
                }
            }
            _ => Self {
                token: value,
                submission: None,
            },
        }
    }
}

/// The `csrf` value for a page's forms: the token bound to `binding` and a fresh submission id.
pub fn form_token(cista: &cista_core::Cista, binding: &str) -> cista_core::Result<String> {
    let token = cista.csrf_token(binding)?;
    let mut id = [0u8; 16];
    cista.rng().fill(&mut id);
    Ok(format!(
        "{token}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, id)
    ))
}

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
    let bytes = match crate::body::read_within(&parts.headers, body, state.limits.body_bytes).await
    {
        Ok(bytes) => bytes,
        Err(e) => return error_response(&e),
    };
    // Two `Content-Type` lines name no body type: no token is read, the request is refused.
    let content_type = crate::fields::single_field(&parts.headers, header::CONTENT_TYPE)
        .ok()
        .flatten()
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
    let presented = presented.unwrap_or_default();
    let form = FormToken::parse(&presented);
    if !state.cista.csrf_valid(&context.binding, form.token) {
        if context.stale_session {
            // The form was made for a session that has since ended: sign in again.
            return (StatusCode::SEE_OTHER, Redirect::to("/sign-in?expired=1")).into_response();
        }
        return error_response(&Error::CsrfRejected);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") && !form_is_utf8(&bytes) {
        return error_response(&Error::BadRequest {
            reason: "the form is not UTF-8 text".to_owned(),
        });
    }
    let guarded = form.submission.is_some() && !crate::web::resubmit::handles_own_repeats(&parts);
    let key = if guarded {
        let route = format!("{} {}", parts.method, decoded_path(parts.uri.path()));
        match state.cista.submission_key(&context.browser, &route, &bytes) {
            Ok(key) => Some(key),
            Err(e) => return error_response(&e),
        }
    } else {
        None
    };
    let mut req = Request::from_parts(parts, Body::from(bytes));
    if let Some(id) = form.submission {
        req.extensions_mut().insert(FormSubmission(id.to_owned()));
    }
    match key {
        Some(key) => crate::web::resubmit::run_once(&state, key, req, next).await,
        None => next.run(req).await,
    }
}

/// Whether every name and value of an `application/x-www-form-urlencoded` body decodes to
/// UTF-8. The parser (WHATWG URL, "application/x-www-form-urlencoded parsing", as
/// `serde_urlencoded` does it) puts U+FFFD in place of what does not, so a form of other bytes
/// would be stored quietly changed; it is refused instead (`bad_request`).
pub(crate) fn form_is_utf8(body: &[u8]) -> bool {
    body.split(|b| *b == b'&')
        .all(|pair| percent_encoding::percent_decode(pair).decode_utf8().is_ok())
}

/// `path` with each segment percent-decoded, as the handlers read their parameters, so one
/// form sent again to another spelling of the same address (`palm%2Dcourt`, `%31`) is still
/// a repeat. A `/` decoded inside a segment stays encoded: `a%2Fb` is one segment, never two.
fn decoded_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .replace('/', "%2F")
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_of_other_bytes_than_utf8_is_told_apart() {
        for fine in [
            &b""[..],
            b"a=1&b=",
            b"comment=caf%C3%A9+%E2%9C%93",
            b"x=%F0%9F%98%80",
        ] {
            assert!(form_is_utf8(fine), "{fine:?}");
        }
        for bad in [
            &b"comment=a%ffb"[..],
            b"a=1&%C3=2",
            b"x=%ED%A0%80",
            b"x=\xff",
        ] {
            assert!(!form_is_utf8(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_path_is_keyed_as_its_segments_read() {
        assert_eq!(
            decoded_path("/admin/palm%2Dcourt/ballots/%31"),
            "/admin/palm-court/ballots/1"
        );
        assert_eq!(
            decoded_path("/admin/palm-court/invite"),
            "/admin/palm-court/invite"
        );
        assert_eq!(
            decoded_path("/admin/palm-court%2Finvite"),
            "/admin/palm-court%2Finvite",
            "an encoded slash stays inside its segment"
        );
    }

    #[test]
    fn a_form_token_splits_into_token_and_submission_id() {
        let t = FormToken::parse("abc_-1.XyZ-_9");
        assert_eq!(t.token, "abc_-1");
        assert_eq!(t.submission, Some("XyZ-_9"));
        for plain in ["abc", "abc.", "abc.d e", "abc.<x>", ""] {
            let t = FormToken::parse(plain);
            assert_eq!(t.submission, None, "{plain:?}");
        }
        // An over-long id is not a submission id: the whole value is the token (and fails).
        let long = format!("abc.{}", "x".repeat(65));
        assert_eq!(FormToken::parse(&long).submission, None);
    }
}
