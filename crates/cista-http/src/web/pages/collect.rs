//! Cista Collect, the collectors' installable web app (issue 13, item 4), served at `/collect/`:
//! the page (rendered with the response's CSP nonce for its one script), its script (the shared
//! `sync.js` and `app.js`), its service worker (`sync.js` and `sw.js`, the same shared code, so
//! the worker needs no `importScripts`), stylesheet, manifest and icon. Everything is compiled
//! into the binary; nothing comes from a CDN. Each response is marked `InstallableApp`, so its
//! policy allows the service worker, `blob:` photo previews, location and camera. The assets
//! are revalidated on every load (`no-cache`): the service worker keeps its own copy for
//! offline use, named by the assets' version, and a new release replaces it.

use crate::AppState;
use crate::middleware::InstallableApp;
use crate::web::context::RequestContext;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use std::sync::OnceLock;

const SYNC: &str = include_str!("../../../static/collect/sync.js");
const APP: &str = include_str!("../../../static/collect/app.js");
const WORKER: &str = include_str!("../../../static/collect/sw.js");
const STYLE: &str = include_str!("../../../static/collect/app.css");
const MANIFEST: &str = include_str!("../../../static/collect/manifest.webmanifest");
const ICON: &str = include_str!("../../../static/collect/icon.svg");
/// The same icon drawn at 192 and 512 pixels (rendered from `icon.svg` by Chromium), for
/// browsers and launchers that want bitmap icons to offer installing the app.
const ICON_192: &[u8] = include_bytes!("../../../static/collect/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../../../static/collect/icon-512.png");

#[derive(Template)]
#[template(path = "collect/app.html")]
struct AppPage {
    nonce: String,
}

/// The app's routes, under `/collect/`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/collect", get(bare))
        .route("/collect/", get(page))
        .route("/collect/app.js", get(script))
        .route("/collect/sw.js", get(worker))
        .route("/collect/app.css", get(stylesheet))
        .route("/collect/manifest.webmanifest", get(manifest))
        .route("/collect/icon.svg", get(icon))
        .route("/collect/icon-192.png", get(icon_192))
        .route("/collect/icon-512.png", get(icon_512))
}

/// The first 16 hex digits of the SHA-256 of every asset: the service worker's cache name.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let digest = cista_crypto::Digest32::sha256(&[
            SYNC.as_bytes(),
            APP.as_bytes(),
            WORKER.as_bytes(),
            STYLE.as_bytes(),
            MANIFEST.as_bytes(),
            ICON.as_bytes(),
        ]);
        digest.to_hex().chars().take(16).collect()
    })
}

fn asset(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response();
    response.extensions_mut().insert(InstallableApp);
    response
}

/// `GET /collect`: the app lives at `/collect/` (its service worker's scope).
pub async fn bare() -> Redirect {
    Redirect::permanent("/collect/")
}

/// `GET /collect/`: the app's page. A pairing code arrives in the fragment (`#pair=…`), which
/// browsers never send to the server, so it stays out of every log.
pub async fn page(Extension(ctx): Extension<RequestContext>) -> Response {
    let page = AppPage {
        nonce: ctx.nonce.clone(),
    };
    match page.render() {
        Ok(html) => {
            let mut response = (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                html,
            )
                .into_response();
            response.extensions_mut().insert(InstallableApp);
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", format!("{SYNC}\n{APP}"))
}

pub async fn worker() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        format!("{SYNC}\n{WORKER}").replace("__CISTA_COLLECT_VERSION__", version()),
    )
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLE.to_owned())
}

pub async fn manifest() -> Response {
    asset("application/manifest+json", MANIFEST.to_owned())
}

pub async fn icon() -> Response {
    asset("image/svg+xml", ICON.to_owned())
}

pub async fn icon_192() -> Response {
    asset("image/png", ICON_192)
}

pub async fn icon_512() -> Response {
    asset("image/png", ICON_512)
}
