//! `AppClient`: the extractor that authenticates an API call by its app token. It reads only
//! the `Authorization: Bearer …` header (RFC 6750 §2.1), never a cookie; a missing,
//! malformed, unknown, expired or revoked token is `401 token_invalid` with
//! `WWW-Authenticate: Bearer` (RFC 6750 §3), and the handler never runs.

use crate::AppState;
use crate::error::error_response;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cista_core::ports::AppToken;
use cista_core::{Actor, AppActor, Error};

/// The caller of an API route: the holder of a live app token.
#[derive(Debug, Clone)]
pub struct AppClient {
    /// `Actor::App`: what the core authorizes against.
    pub actor: Actor,
    pub app: AppActor,
    /// The token as stored.
    pub token: AppToken,
}

/// The refusal of a call without a valid token.
#[derive(Debug)]
pub struct Unauthorized(Error);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = error_response(&self.0);
        if response.status() == axum::http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="cista", error="invalid_token""#),
            );
        }
        response
    }
}

/// The token in `Authorization: Bearer <token>` (the scheme is case-insensitive), if any.
/// Two `Authorization` field lines are no credential: which one would be meant is unknown.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = crate::fields::single_field(&parts.headers, header::AUTHORIZATION).ok()??;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for AppClient {
    type Rejection = Unauthorized;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(Unauthorized(Error::BearerTokenInvalid))?;
        let caller = state
            .cista
            .authenticate_app_token(token)
            .await
            .map_err(Unauthorized)?;
        match &caller.actor {
            Actor::App(app) => Ok(Self {
                app: app.clone(),
                actor: caller.actor.clone(),
                token: caller.token,
            }),
            _ => Err(Unauthorized(Error::BearerTokenInvalid)),
        }
    }
}

/// The caller of a route that takes either credential: an app token (another system) or a
/// collector's device token (Cista Collect on a phone). Each acts only in its own
/// organization, as far as its purpose (app) or its collector's role (device) allows.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// `Actor::App`, or the collector as `Actor::Person` with `Access::Device`.
    pub actor: Actor,
    /// The credential's organization.
    pub org: cista_types::OrgId,
    /// The device, when the credential is a device token.
    pub device: Option<cista_core::products::collection::Device>,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Unauthorized;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use cista_core::products::collection::devices::DEVICE_TOKEN_PREFIX;
        let token = bearer(parts).ok_or(Unauthorized(Error::BearerTokenInvalid))?;
        if token.starts_with(DEVICE_TOKEN_PREFIX) {
            let caller = state
                .cista
                .authenticate_device(token)
                .await
                .map_err(Unauthorized)?;
            return Ok(Self {
                actor: caller.actor,
                org: caller.device.org,
                device: Some(caller.device),
            });
        }
        let app = AppClient::from_request_parts(parts, state).await?;
        Ok(Self {
            org: app.app.org,
            actor: app.actor,
            device: None,
        })
    }
}
