//! `/widget.js`: the loader a firm puts on its own pages (`static/widget.js`). At most 2 KB
//! gzipped (a test holds it to that). Other sites' pages load it, so it alone is marked
//! `Cross-Origin-Resource-Policy: cross-origin`; it may be cached for an hour.

use super::SharedResource;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The loader's source.
pub const LOADER: &str = include_str!("../../static/widget.js");

pub async fn script() -> Response {
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        LOADER,
    )
        .into_response();
    response.extensions_mut().insert(SharedResource);
    response
}
