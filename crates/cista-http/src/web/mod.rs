//! The web surface: the pages people use in a browser. Its policy stack, innermost first:
//! the body limit, the session-bound CSRF token (`csrf`), the Origin / `Sec-Fetch-Site` check
//! (`origin`), the request timeout and panic catching, the error page renderer (`errors`),
//! and the request context (`context`: cookie session, pre-session, notice, requester);
//! outside them the shared layers (`crate::middleware::common`). Pages deny framing
//! (`frame-ancestors 'none'`). Every path that no other surface claims is the web's.

pub mod context;
pub mod csrf;
pub(crate) mod errors;
pub mod extract;
pub mod limits;
pub(crate) mod origin;
pub mod pages;
pub mod resubmit;

use crate::AppState;
use axum::Router;
use axum::middleware::from_fn_with_state;
use tower_http::limit::RequestBodyLimitLayer;

/// The web pages in their stack.
pub fn surface(state: &AppState) -> Router<AppState> {
    stack(pages::routes(state), state)
}

/// Wraps `routes` (and their fallback, the 404 page) in the web surface's stack.
pub fn stack(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    let routes = routes
        .layer(RequestBodyLimitLayer::new(state.limits.body_bytes))
        // Reads form bodies itself, within the same limit.
        .layer(from_fn_with_state(state.clone(), csrf::check_csrf_token))
        .layer(from_fn_with_state(state.clone(), origin::csrf_origin_check));
    let routes = crate::middleware::guarded(routes, state)
        .layer(from_fn_with_state(state.clone(), errors::render_errors))
        .layer(from_fn_with_state(state.clone(), context::load_context));
    crate::middleware::common(routes, state)
}
