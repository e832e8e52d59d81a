//! The optional plain-HTTP listener. It serves no content and no API: a browser asking for a
//! page is redirected to the same path over HTTPS (on the configured public origin, never the
//! request's Host header); everything else is refused with `https_required`.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub fn app(public_origin: Arc<str>) -> Router {
    Router::new().fallback(handle).with_state(public_origin)
}

fn is_page_path(path: &str) -> bool {
    !(path.starts_with("/api/") || matches!(path, "/metrics" | "/healthz" | "/readyz"))
}

async fn handle(State(origin): State<Arc<str>>, req: Request) -> Response {
    let path = req.uri().path();
    if matches!(*req.method(), Method::GET | Method::HEAD) && is_page_path(path) {
        let target = match req.uri().path_and_query() {
            Some(pq) => format!("{origin}{pq}"),
            None => format!("{origin}/"),
        };
        if let Ok(location) = HeaderValue::from_str(&target) {
            return (
                StatusCode::MOVED_PERMANENTLY,
                [
                    (header::LOCATION, location),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
            )
                .into_response();
        }
    }
    (
        StatusCode::BAD_REQUEST,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"error":{"code":"https_required","message":"this service answers only over HTTPS"}}"#,
    )
        .into_response()
}
