//! Routes by area. Handlers stay short: extract, call one core function, render.

pub mod assets;
pub mod landing;
pub mod ops;
pub mod templates;
pub mod trust;

use crate::AppState;
use axum::Router;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(landing::page))
        .route("/security", get(trust::page))
        .route("/api/v1/trust", get(trust::json))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(crate::metrics::serve_metrics))
        .route("/static/app.css", get(assets::stylesheet))
        .route("/static/favicon.svg", get(assets::favicon))
}
