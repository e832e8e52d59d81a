//! The JSON API surface, under `/api/`. Its policy stack, innermost first: the default body
//! limit (a route may set its own with `DefaultBodyLimit`; uploads stream), the request
//! timeout and panic catching, the JSON error renderer; outside them the shared layers
//! (`crate::middleware::common`). No cookie is read or set: the only credential is an app
//! token in `Authorization: Bearer …` (`client::AppClient`), so a request that carries only
//! a session cookie is `401 token_invalid`, and there is no ambient credential for another
//! site to ride on (no CSRF token; see `web` for the pages'). Every error is the coded JSON
//! body, including unknown paths under `/api/`.

pub mod client;
pub mod v1;

use crate::AppState;
use crate::error::AppError;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use cista_core::Error;

/// The API in its stack, to be nested under `/api`.
pub fn surface(state: &AppState) -> Router<AppState> {
    let routes = Router::new()
        .nest("/v1", v1::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limits.body_bytes));
    let routes = crate::middleware::guarded(routes, state).layer(from_fn_with_state(
        state.clone(),
        crate::middleware::render_json_errors,
    ));
    crate::middleware::common(routes, state)
}

/// Any path under `/api/` that no route takes.
async fn not_found() -> AppError {
    AppError(Error::NotFound {
        what: "this API route",
    })
}
