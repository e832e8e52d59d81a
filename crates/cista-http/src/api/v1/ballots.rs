//! `GET /api/v1/ballots` and `GET /api/v1/ballots/{id}/results`: the token's organization's
//! ballots, and the certified results of a closed one (purpose `voting.results`). The core
//! decides what the token may see; another organization's ballot is `404`, an open one's
//! results `403 results_sealed`.

use crate::AppState;
use crate::api::client::AppClient;
use crate::error::AppError;
use axum::Json;
use axum::extract::{Path, State};
use cista_core::products::voting::bundle::BallotResults;
use cista_types::BallotId;
use serde::Serialize;
use utoipa::ToSchema;

/// One ballot, as the list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BallotSummary {
    /// The ballot's id, a decimal string: ids are 63-bit, beyond what a JSON number keeps
    /// exactly in JavaScript.
    #[schema(example = "7256060797745063311")]
    pub id: String,
    pub title: String,
    /// `draft`, `published`, `closed` or `cancelled`.
    pub status: String,
    /// RFC 3339, UTC.
    pub opens_at: String,
    /// RFC 3339, UTC.
    pub closes_at: String,
    /// Where the certified results are, once the ballot is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
}

/// The organization's ballots, newest first.
#[utoipa::path(
    get,
    path = "/ballots",
    tag = "voting",
    security(("app_token" = [])),
    responses(
        (status = 200, description = "The ballots", body = Vec<BallotSummary>),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 403, description = "`forbidden`: the token's purpose does not allow it",
         body = crate::error::JsonError),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    client: AppClient,
) -> Result<Json<Vec<BallotSummary>>, AppError> {
    let ballots = state.cista.ballots(&client.actor, client.app.org).await?;
    Ok(Json(
        ballots
            .into_iter()
            .map(|b| {
                let id = b.id().as_i64();
                BallotSummary {
                    id: id.to_string(),
                    title: b.definition.title.clone(),
                    status: b.status().as_str().to_owned(),
                    opens_at: b.definition.opens_at.to_string(),
                    closes_at: b.definition.closes_at.to_string(),
                    results: (b.status() == cista_core::ports::BallotStatus::Closed)
                        .then(|| format!("/api/v1/ballots/{id}/results")),
                }
            })
            .collect(),
    ))
}

/// The sealed results of a closed ballot, in the election bundle's `results` format (the
/// one `cista verify-election` recounts).
#[utoipa::path(
    get,
    path = "/ballots/{id}/results",
    tag = "voting",
    security(("app_token" = [])),
    params(("id" = String, Path, description = "The ballot's id (decimal)")),
    responses(
        (status = 200, description = "The certified results",
         content_type = "application/json", body = Object),
        (status = 400, description = "`bad_request`: the id is not a number",
         body = crate::error::JsonError),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 403, description = "`results_sealed`: the ballot is not closed",
         body = crate::error::JsonError),
        (status = 404, description = "`not_found`: no such ballot in this organization",
         body = crate::error::JsonError),
    )
)]
pub async fn results(
    State(state): State<AppState>,
    client: AppClient,
    Path(id): Path<i64>,
) -> Result<Json<BallotResults>, AppError> {
    let (_, results) = state
        .cista
        .results(&client.actor, BallotId::from_i64(id))
        .await?;
    Ok(Json(results))
}
