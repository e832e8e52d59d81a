//! Static assets, compiled into the binary so a deployment is one file. They are the only
//! responses that may be cached.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// One stylesheet, assembled from one file per area.
const STYLESHEET: &str = concat!(
    include_str!("../../../static/app.css"),
    include_str!("../../../static/vote.css"),
    include_str!("../../../static/staff.css"),
    include_str!("../../../static/widget.css"),
);
const FAVICON: &str = include_str!("../../../static/favicon.svg");
/// The one page script (see its header): loaded with the CSP nonce, never inline.
const SCRIPT: &str = include_str!("../../../static/forms.js");
/// The widget page's script (sizing and messages to the firm's page; see its header).
const EMBED_SCRIPT: &str = include_str!("../../../static/embed.js");

/// The records map's script over a configured tile server, and the vendored Leaflet 1.9.4
/// (BSD-2-Clause, `static/vendor/leaflet/LICENSE`) it draws with.
const RECORDS_MAP_SCRIPT: &str = include_str!("../../../static/records_map.js");
const LEAFLET_SCRIPT: &str = include_str!("../../../static/vendor/leaflet/leaflet.js");
const LEAFLET_STYLESHEET: &str = include_str!("../../../static/vendor/leaflet/leaflet.css");

fn cached(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    cached("text/css; charset=utf-8", STYLESHEET)
}

pub async fn favicon() -> impl IntoResponse {
    cached("image/svg+xml", FAVICON)
}

pub async fn script() -> impl IntoResponse {
    cached("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn embed_script() -> impl IntoResponse {
    cached("text/javascript; charset=utf-8", EMBED_SCRIPT)
}

pub async fn records_map_script() -> impl IntoResponse {
    cached("text/javascript; charset=utf-8", RECORDS_MAP_SCRIPT)
}

pub async fn leaflet_script() -> impl IntoResponse {
    cached("text/javascript; charset=utf-8", LEAFLET_SCRIPT)
}

pub async fn leaflet_stylesheet() -> impl IntoResponse {
    cached("text/css; charset=utf-8", LEAFLET_STYLESHEET)
}
