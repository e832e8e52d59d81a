//! The embed surface: what a widget on an organization's own web site loads and calls (the
//! embedded assessment, issue 12). Its stack is its own, unlike every other surface's:
//!
//! - no cookies, read or set: a widget runs inside someone else's page, where a cookie would
//!   be third-party and ambient credentials would invite cross-site request forgery; the
//!   signed single-use load token (`cista_core::products::assessment::load_token`) takes the
//!   place of both session and CSRF token;
//! - each form's site allow-list drives the widget page's `frame-ancestors` (`FrameAncestors`;
//!   every other response says `'none'`), the CORS answer of the JSON calls (the calling
//!   origin only when listed, never `*`: `cors`), and the `Origin` check of every call (a
//!   missing or unlisted origin is `403 origin_not_allowed`, audited and counted);
//! - bodies of at most 64 KiB, a rate limit per address and per form (`limits`).
//!
//! Routes: `/widget.js` (the loader a site includes, `loader`), `/w/{org}/{form}` (the page
//! in the iframe: the questions, a plain HTML form that works without script, the result;
//! `page`), and `/embed/v1/{org}/{form}` and `…/submissions` (the same as JSON for a site that
//! draws its own form; `api`).

pub mod api;
pub mod cors;
pub mod limits;
pub mod loader;
pub mod page;

use crate::AppState;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use cista_types::WebOrigin;
use tower_http::limit::RequestBodyLimitLayer;

/// The largest body any widget request may carry (the 64 KB): ten answers, a name and
/// an email address take a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// On a response: the sites that may show it in a frame (its CSP `frame-ancestors`). Only the
/// widget page carries it; without it a response may be framed by no one.
#[derive(Debug, Clone)]
pub struct FrameAncestors(pub Vec<WebOrigin>);

impl FrameAncestors {
    /// The CSP source list: the origins, or `'none'` for an empty list.
    pub fn source_list(&self) -> String {
        if self.0.is_empty() {
            return "'none'".to_owned();
        }
        self.0
            .iter()
            .map(WebOrigin::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// On a response: other sites' pages may load it (`Cross-Origin-Resource-Policy:
/// cross-origin`). Only the loader script carries it.
#[derive(Debug, Clone, Copy)]
pub struct SharedResource;

/// The embed surface in its stack: the pages and the JSON calls each with their own error
/// rendering (an inline message, the coded JSON body), both limited the same way.
pub fn surface(state: &AppState) -> Router<AppState> {
    let limiter = limits::EmbedLimiter::new(state.limits.embed.clone());
    let pages = Router::new()
        .route("/widget.js", get(loader::script))
        .route("/w/{org}/{form}", get(page::show).post(page::submit));
    let pages = limited(pages, state, &limiter)
        .layer(from_fn_with_state(state.clone(), page::render_errors));
    let api = Router::new()
        .route(
            "/embed/v1/{org}/{form}",
            get(api::load).options(cors::preflight),
        )
        .route(
            "/embed/v1/{org}/{form}/submissions",
            post(api::submit).options(cors::preflight),
        );
    let api = limited(api, state, &limiter).layer(from_fn_with_state(
        state.clone(),
        crate::middleware::render_json_errors,
    ));
    crate::middleware::common(pages.merge(api), state)
}

/// `routes` inside the body limit, the rate limits, the timeout and panic catching.
fn limited(
    routes: Router<AppState>,
    state: &AppState,
    limiter: &std::sync::Arc<limits::EmbedLimiter>,
) -> Router<AppState> {
    let routes = routes
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(this_surfaces_limit))
        .layer(from_fn_with_state(limiter.clone(), limits::limit));
    crate::middleware::guarded(routes, state)
}

/// A body refused for its size names this surface's limit (the renderers would otherwise
/// name the server-wide one).
async fn this_surfaces_limit(response: axum::response::Response) -> axum::response::Response {
    let unexplained = response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE
        && response
            .extensions()
            .get::<crate::error::ErrorInfo>()
            .is_none();
    if unexplained {
        crate::error::error_response(&cista_core::Error::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        })
    } else {
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_frame_ancestors_are_the_listed_sites_or_none() {
        assert_eq!(FrameAncestors(Vec::new()).source_list(), "'none'");
        let two = FrameAncestors(vec![
            WebOrigin::parse("https://a.example").unwrap(),
            WebOrigin::parse("https://b.example:8444").unwrap(),
        ]);
        assert_eq!(
            two.source_list(),
            "https://a.example https://b.example:8444"
        );
    }
}
