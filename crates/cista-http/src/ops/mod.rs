//! The operational surface, for load balancers, orchestrators and monitoring: `/healthz`
//! says the process answers, `/readyz` that the database and the key provider do too (503
//! with a code if not), `/metrics` serves Prometheus metrics to the holder of the metrics
//! token. No cookies are read, nothing changes state, errors are JSON.

pub mod metrics;

use crate::AppState;
use crate::error::AppError;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The operational endpoints in their stack.
pub fn surface(state: &AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::serve_metrics));
    let routes = crate::middleware::guarded(routes, state).layer(from_fn_with_state(
        state.clone(),
        crate::middleware::render_json_errors,
    ));
    crate::middleware::common(routes, state)
}
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.cista.store().ping().await?;
    state
        .cista
        .key_provider()
        .info()
        .await
        .map_err(|e| cista_core::Error::KeyProviderUnavailable(Box::new(e)))?;
    Ok(Json(json!({ "status": "ready" })))
}
