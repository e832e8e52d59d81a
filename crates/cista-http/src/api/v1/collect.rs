//! Field data collection's API (issue 13, item 3), for Cista Collect on a collector's phone
//! and for partner systems: pair a phone (`POST /devices/pair`, exchanging the one-time
//! pairing code of a QR code for a device token), see what the token is (`GET /device`), list
//! the record forms and fetch one (`GET /forms`, `GET /forms/{form}`), and read a record's
//! review state and comments (`GET /submissions/{id}/status`). Records are created and their
//! photos uploaded through the intake routes (`intake`), with either credential.

use crate::AppState;
use crate::api::client::ApiCaller;
use crate::error::AppError;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::Error;
use cista_core::platform::blobs::media_type;
use cista_core::products::collection::RecordFormVersion;
use cista_types::{FormId, SubmissionId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest pairing request body, in bytes.
const PAIR_BODY_BYTES: usize = 4096;

/// What a phone sends to pair.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// The pairing code from the QR code (`cista_pc_` and 43 base64url characters).
    pub code: String,
    /// What to call the phone on the staff pages, 1 to 80 characters ("Ana's Pixel").
    pub device_name: String,
}

/// A device token and what it is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceInfo {
    /// The token, only in the answer to pairing (`cista_dt_` and 43 base64url characters):
    /// keep it; it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The device's public id, `dv-` and 16 hexadecimal digits.
    pub device: String,
    pub device_name: String,
    /// The organization's slug and name.
    pub organization: String,
    pub organization_name: String,
    /// The collector's subject code (never a name).
    pub collector: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// One record form, as the list shows it (the newest version of each).
#[derive(Debug, Serialize, ToSchema)]
pub struct FormSummary {
    /// The version's id (decimal string): records are posted to it.
    pub form: String,
    pub key: String,
    pub version: u32,
    pub title: String,
    pub description: String,
}

/// One version of a record form, whole.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormVersion {
    pub form: String,
    pub key: String,
    pub version: u32,
    /// Hex SHA-256 of the definition as stored.
    pub definition_sha256: String,
    /// The form's file format (`docs/collection.md`): title, description, fields.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// A review of a record, as its collector reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewInfo {
    /// `received`, `approved`, `rejected` or `needs_changes`.
    pub state: String,
    pub comment: String,
    /// RFC 3339, UTC.
    pub reviewed_at: String,
}

/// A photo the record announced, and whether it has arrived.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoInfo {
    pub name: String,
    pub received: bool,
}

/// Where a record stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordStatusInfo {
    pub submission: String,
    /// `received` until reviewed, then the newest review's state.
    pub state: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// Oldest first.
    pub reviews: Vec<ReviewInfo>,
    pub photos: Vec<PhotoInfo>,
}

fn summary(v: RecordFormVersion) -> FormSummary {
    FormSummary {
        form: v.form.id.as_i64().to_string(),
        key: v.form.key,
        version: v.form.version,
        title: v.definition.title,
        description: v.definition.description,
    }
}

fn parse_id(raw: &str, what: &'static str) -> Result<i64, Error> {
    raw.parse::<i64>().map_err(|_| Error::NotFound { what })
}

async fn device_info(
    state: &AppState,
    device: &cista_core::products::collection::Device,
    token: Option<String>,
) -> Result<DeviceInfo, Error> {
    let org = state
        .cista
        .store()
        .organization(device.org)
        .await?
        .ok_or(Error::NotFound {
            what: "this organization",
        })?;
    Ok(DeviceInfo {
        token,
        device: device.id.to_string(),
        device_name: device.name.clone(),
        organization: org.slug.to_string(),
        organization_name: org.name.to_string(),
        collector: device.subject.to_string(),
        expires_at: device.expires_at.map(|t| t.to_string()).unwrap_or_default(),
    })
}

/// Exchanges a pairing code (from the QR code staff or the collector showed) for a device
/// token, once. No credential: the code is one.
#[utoipa::path(
    post,
    path = "/devices/pair",
    tag = "collection",
    request_body = PairRequest,
    responses(
        (status = 201, description = "Paired: the device token, shown this once", body = DeviceInfo),
        (status = 400, description = "`token_invalid`: the code is unknown, used or expired; `invalid_input`: a bad device name; `bad_request`: not a pairing request", body = crate::error::JsonError),
        (status = 413, description = "`payload_too_large`", body = crate::error::JsonError),
        (status = 415, description = "`unsupported_media_type`: not application/json", body = crate::error::JsonError),
    )
)]
pub async fn pair(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let json = crate::fields::single_field(&headers, header::CONTENT_TYPE)
        .ok()
        .flatten()
        .is_some_and(|v| media_type(v) == "application/json");
    if !json {
        return Err(
            Error::UnsupportedMediaType("send the pairing as application/json".to_owned()).into(),
        );
    }
    let bytes = crate::body::read_within(&headers, body, PAIR_BODY_BYTES).await?;
    let request: PairRequest =
        crate::error::read_json(&bytes).map_err(|problem| Error::BadRequest {
            reason: format!("the body is not a pairing request: {problem}"),
        })?;
    let paired = state
        .cista
        .pair_device(&request.code, &request.device_name)
        .await?;
    let info = device_info(
        &state,
        &paired.device,
        Some(paired.token.expose().to_owned()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// The device token a call was made with: its organization, collector and expiry.
#[utoipa::path(
    get,
    path = "/device",
    tag = "collection",
    security(("device_token" = [])),
    responses(
        (status = 200, description = "The token is live", body = DeviceInfo),
        (status = 401, description = "`token_invalid`: missing, expired or revoked, or an app token", body = crate::error::JsonError),
    )
)]
pub async fn device(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<DeviceInfo>, AppError> {
    let device = caller.device.ok_or(Error::BearerTokenInvalid)?;
    Ok(Json(device_info(&state, &device, None).await?))
}

/// The organization's record forms, the newest version of each, by key.
#[utoipa::path(
    get,
    path = "/forms",
    tag = "collection",
    security(("app_token" = []), ("device_token" = [])),
    responses(
        (status = 200, description = "The forms", body = Vec<FormSummary>),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 403, description = "`forbidden`: the credential neither fills nor reads records", body = crate::error::JsonError),
    )
)]
pub async fn forms(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Vec<FormSummary>>, AppError> {
    let forms = state.cista.record_forms(&caller.actor, caller.org).await?;
    Ok(Json(forms.into_iter().map(summary).collect()))
}

/// One version of a record form, with its whole definition.
#[utoipa::path(
    get,
    path = "/forms/{form}",
    tag = "collection",
    security(("app_token" = []), ("device_token" = [])),
    params(("form" = String, Path, description = "The form version's id (decimal)")),
    responses(
        (status = 200, description = "The form", body = FormVersion),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 403, description = "`forbidden`", body = crate::error::JsonError),
        (status = 404, description = "`not_found`: no such record form here", body = crate::error::JsonError),
    )
)]
pub async fn form(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(form): Path<String>,
) -> Result<Json<FormVersion>, AppError> {
    let id = FormId::from_i64(parse_id(&form, "that form")?);
    let version = state
        .cista
        .record_form_version(&caller.actor, caller.org, id)
        .await?;
    let definition = version.definition.normal_form().map_err(AppError::from)?;
    Ok(Json(FormVersion {
        form: version.form.id.as_i64().to_string(),
        key: version.form.key,
        version: version.form.version,
        definition_sha256: version.form.definition_sha256.to_hex(),
        definition,
    }))
}

/// A record's review state, its reviewers' comments, and which of its photos have arrived.
/// A device reads only its collector's records.
#[utoipa::path(
    get,
    path = "/submissions/{id}/status",
    tag = "collection",
    security(("app_token" = []), ("device_token" = [])),
    params(("id" = String, Path, description = "The record's submission id (decimal)")),
    responses(
        (status = 200, description = "The record's state", body = RecordStatusInfo),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 404, description = "`not_found`: no such record, or another collector's", body = crate::error::JsonError),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<RecordStatusInfo>, AppError> {
    let id = SubmissionId::from_i64(parse_id(&id, "that record")?);
    let status = state
        .cista
        .record_status(&caller.actor, caller.org, id)
        .await?;
    Ok(Json(RecordStatusInfo {
        submission: status.submission.as_i64().to_string(),
        state: status.state.as_str().to_owned(),
        received_at: status.received_at.to_string(),
        reviews: status
            .reviews
            .into_iter()
            .map(|r| ReviewInfo {
                state: r.state.as_str().to_owned(),
                comment: r.comment,
                reviewed_at: r.reviewed_at.to_string(),
            })
            .collect(),
        photos: status
            .photos
            .into_iter()
            .map(|(name, received)| PhotoInfo { name, received })
            .collect(),
    }))
}
