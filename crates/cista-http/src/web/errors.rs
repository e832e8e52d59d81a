//! How the web surface answers an error: a page with the code, a plain explanation, next
//! steps and the request id; JSON instead for a client that asks for it (`Accept`).

use crate::AppState;
use crate::error::json_body;
use crate::middleware::{RequestId, error_to_render};
use crate::web::pages::templates::ErrorPage;
use askama::Template as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

/// Whether the client asked for JSON rather than a page.
fn wants_json(req_path: &str, headers: &HeaderMap) -> bool {
    if req_path.starts_with("/api/") || matches!(req_path, "/healthz" | "/readyz" | "/metrics") {
        return true;
    }
    // Every `Accept` line counts (a list field may come in several, RFC 9110 §5.3).
    let accept = || {
        headers
            .get_all(header::ACCEPT)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
    };
    accept().any(|v| v.contains("application/json")) && !accept().any(|v| v.contains("text/html"))
}

pub(crate) async fn render_errors(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let json = wants_json(req.uri().path(), req.headers());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.to_string())
        .unwrap_or_default();
    let context = req
        .extensions()
        .get::<crate::web::context::RequestContext>()
        .cloned();
    let chrome = context
        .as_ref()
        .map(|ctx| crate::web::pages::chrome::Chrome::new(ctx, &state))
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
    let status_and_info = error_to_render(next.run(req).await, &state);
    let (mut parts, info) = match status_and_info {
        Ok(found) => found,
        Err(response) => return response,
    };
    let status = parts.status;
    let (content_type, body) = if json {
        ("application/json", json_body(&info, &request_id))
    } else {
        let heading = sentence_case(&info.message);
        let (explanation, next_steps) =
            crate::web::pages::templates::next_steps(info.code, &path, signed_in, sms_session);
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // The same list over two field lines: the page still wins.
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        h.append(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(!wants_json("/security", &h));
    }
}
