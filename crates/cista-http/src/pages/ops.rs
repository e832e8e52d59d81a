//! Health endpoints for load balancers and orchestrators: `/healthz` says the process answers,
//! `/readyz` that the database and the key provider do too (503 with a code if not).

use crate::AppState;
use crate::error::AppError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

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
