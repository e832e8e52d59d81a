//! `GET /api/v1/token`: what the presented app token is (its organization, purpose and
//! expiry), so an integration can check its credential without side effects.

use crate::AppState;
use crate::api::client::AppClient;
use crate::error::AppError;
use axum::Json;
use axum::extract::State;
use cista_core::Error;
use serde::Serialize;
use utoipa::ToSchema;

/// The token a call was made with.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    /// The token's public id, `at-` and 16 hexadecimal digits.
    #[schema(example = "at-3f2a9c0d41b7e655")]
    pub id: String,
    /// The organization's slug.
    #[schema(example = "palm-court")]
    pub organization: String,
    /// What the token may do, e.g. `voting.results`.
    pub purpose: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

#[utoipa::path(
    get,
    path = "/token",
    tag = "tokens",
    security(("app_token" = [])),
    responses(
        (status = 200, description = "The token is live", body = TokenInfo),
        (status = 401, description = "`token_invalid`: missing, expired or revoked",
         body = crate::error::JsonError),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    client: AppClient,
) -> Result<Json<TokenInfo>, AppError> {
    let org = state
        .cista
        .store()
        .organization(client.app.org)
        .await?
        .ok_or(Error::NotFound {
            what: "this organization",
        })?;
    let token = client.token;
    Ok(Json(TokenInfo {
        id: token.id.to_string(),
        organization: org.slug.to_string(),
        purpose: token.purpose.as_str().to_owned(),
        expires_at: token.expires_at.to_string(),
    }))
}
