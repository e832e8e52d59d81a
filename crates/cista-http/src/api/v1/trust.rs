//! `GET /api/v1/trust`: the trust page as JSON, always the public view (no token needed; a
//! token does not unlock the staff view either: staff read it signed in, on `/security`).

use crate::AppState;
use crate::error::AppError;
use crate::tls::ConnectionTls;
use crate::trust::TrustView;
use axum::extract::State;
use axum::{Extension, Json};
use cista_core::Actor;
use std::sync::Arc;

/// What this running instance does: TLS, headers, database, keys, audit log, backups,
/// messaging, read live. The same facts as the public `/security` page.
#[utoipa::path(
    get,
    path = "/trust",
    tag = "trust",
    responses(
        (status = 200, description = "The live trust report (public view)",
         content_type = "application/json", body = Object),
        (status = 503, description = "The database or the key provider does not answer",
         body = crate::error::JsonError),
    )
)]
pub async fn trust(
    State(state): State<AppState>,
    connection: Option<Extension<Arc<ConnectionTls>>>,
) -> Result<Json<TrustView>, AppError> {
    Ok(Json(
        TrustView::gather(&state, connection.map(|c| c.0), &Actor::Anonymous).await?,
    ))
}
