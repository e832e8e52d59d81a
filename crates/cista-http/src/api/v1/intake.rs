//! The intake API (app token purpose `forms.submit`): submit a published form with the
//! client's idempotency key, then upload each file of the submission separately, streamed.
//! `POST /api/v1/forms/{form}/submissions` and `PUT /api/v1/submissions/{id}/files/{name}`.
//! A retry gets the first answer (`200`, `replayed: true`) and never a duplicate; the same
//! key (or file name) with other content is `409`.

use crate::AppState;
use crate::api::client::ApiCaller;
use crate::error::AppError;
use async_trait::async_trait;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::platform::blobs::{BlobRules, BlobSource, media_type};
use cista_core::platform::intake::MAX_PAYLOAD_BYTES;
use cista_core::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{FormId, SubmissionId};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use cista_core::platform::intake::MAX_FILE_BYTES;

/// The file types uploads may have (each is checked against the file's own signature).
pub const FILE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "application/pdf"];

/// A submission's JSON body beyond its payload (the idempotency key and the wrapping).
const ENVELOPE_BYTES: usize = 4096;

/// What a client submits.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubmission {
    /// Chosen by the client (a UUID), the same on every retry of this submission.
    pub idempotency_key: String,
    /// The answers, a JSON object (at most 1 MiB).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// A submission's receipt: the same on every retry.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// Decimal string (63-bit ids do not fit a JavaScript number).
    pub submission: String,
    pub form: String,
    pub form_version: u32,
    /// Hex SHA-256 of the content as received (compact JSON, keys sorted).
    pub content_sha256: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// True when this answer is a retry's: nothing new was stored.
    pub replayed: bool,
}

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredFile {
    pub name: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub replayed: bool,
}

fn parse_id(raw: &str, what: &'static str) -> Result<i64> {
    raw.parse::<i64>().map_err(|_| Error::NotFound { what })
}

fn status(replayed: bool) -> StatusCode {
    if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

/// Submits a published form version.
#[utoipa::path(
    post,
    path = "/forms/{form}/submissions",
    tag = "intake",
    security(("app_token" = []), ("device_token" = [])),
    params(("form" = String, Path, description = "The form version's id (decimal)")),
    request_body = NewSubmission,
    responses(
        (status = 201, description = "Stored", body = Receipt),
        (status = 200, description = "A retry: the first receipt, nothing stored", body = Receipt),
        (status = 400, description = "`invalid_input` or `bad_request`", body = crate::error::JsonError),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 404, description = "`not_found`: no such form here", body = crate::error::JsonError),
        (status = 409, description = "`conflict`: the key was used with other content", body = crate::error::JsonError),
        (status = 413, description = "`payload_too_large`", body = crate::error::JsonError),
        (status = 415, description = "`unsupported_media_type`: not application/json", body = crate::error::JsonError),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    client: ApiCaller,
    Path(form): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> std::result::Result<Response, AppError> {
    let form = FormId::from_i64(parse_id(&form, "that form")?);
    // Sent twice, `Content-Type` is no type at all (a singleton field, RFC 9110 §5.3).
    let json = crate::fields::single_field(&headers, header::CONTENT_TYPE)
        .ok()
        .flatten()
        .is_some_and(|v| media_type(v) == "application/json");
    if !json {
        return Err(Error::UnsupportedMediaType(
            "send the submission as application/json".to_owned(),
        )
        .into());
    }
    let limit = MAX_PAYLOAD_BYTES + ENVELOPE_BYTES;
    let bytes = crate::body::read_within(&headers, body, limit).await?;
    let new: NewSubmission =
        crate::error::read_json(&bytes).map_err(|problem| Error::BadRequest {
            reason: format!("the body is not a submission: {problem}"),
        })?;
    let receipt = state
        .cista
        .submit(
            &client.actor,
            client.org,
            form,
            &new.idempotency_key,
            &new.payload,
        )
        .await?;
    let body = Receipt {
        submission: receipt.submission.as_i64().to_string(),
        form: receipt.form.as_i64().to_string(),
        form_version: receipt.form_version,
        content_sha256: receipt.content_sha256.to_hex(),
        received_at: receipt.received_at.to_string(),
        replayed: receipt.replayed,
    };
    Ok((status(receipt.replayed), Json(body)).into_response())
}

/// An upload's body, piece by piece as it arrives, with the SHA-256 its `Content-Digest`
/// header declared.
struct BodySource {
    body: axum::body::BodyDataStream,
    declared: Option<Digest32>,
}

#[async_trait]
impl BlobSource for BodySource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        match self.body.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            Some(Err(_)) => Err(Error::BadRequest {
                reason: "the upload was cut off".to_owned(),
            }),
        }
    }

    fn expected_sha256(&self) -> Option<Digest32> {
        self.declared
    }
}

/// The SHA-256 an upload's `Content-Digest` field declares (RFC 9530 §2: a Structured
/// Field Dictionary, RFC 9651, such as `sha-256=:BASE64:`), or `None` without the field.
/// A field that is not a dictionary, that has no `sha-256` member, or whose member is not a
/// 32-byte Byte Sequence is refused (`invalid_input`): a client that sends a digest means it
/// to be checked. Other algorithms beside `sha-256` are ignored.
pub fn declared_sha256(headers: &HeaderMap) -> Result<Option<Digest32>> {
    // Several field lines are one list (RFC 9110 §5.3): a digest on the second line counts.
    let Some(field) = crate::fields::list_field(headers, "content-digest") else {
        return Ok(None);
    };
    let refused = || {
        Error::invalid(
            "Content-Digest",
            "must hold the file's SHA-256 as `sha-256=:BASE64:` (RFC 9530)",
        )
    };
    let dictionary: sfv::Dictionary = sfv::Parser::new(&field).parse().map_err(|_| refused())?;
    match dictionary.get("sha-256") {
        Some(sfv::ListEntry::Item(item)) => item
            .bare_item
            .as_byte_sequence()
            .and_then(Digest32::from_slice)
            .map(Some)
            .ok_or_else(refused),
        _ => Err(refused()),
    }
}

/// Uploads one file of a submission, streamed (never held whole). Retrying the same file
/// is safe; a file whose bytes are not of its `Content-Type` is refused and nothing is kept.
/// With a `Content-Digest: sha-256=:…:` field (RFC 9530) the bytes must have that SHA-256,
/// or they are refused (`400 invalid_input`) and nothing is kept. Only whoever sent the
/// submission (the same collector, or the same app token) uploads its files; anyone else in the
/// organization gets `404`, as for a submission that does not exist.
#[utoipa::path(
    put,
    path = "/submissions/{id}/files/{name}",
    tag = "intake",
    security(("app_token" = []), ("device_token" = [])),
    params(
        ("id" = String, Path, description = "The submission's id (decimal)"),
        ("name" = String, Path, description = "The form field the file answers, e.g. photo_1"),
        ("Content-Digest" = Option<String>, Header, description = "Optional, RFC 9530: `sha-256=:BASE64:`; the bytes must have that SHA-256"),
    ),
    request_body(content = Vec<u8>, content_type = "image/jpeg",
        description = "The file's bytes; its Content-Type must be image/jpeg, image/png, image/webp or application/pdf, at most 20 MiB"),
    responses(
        (status = 201, description = "Stored", body = StoredFile),
        (status = 200, description = "A retry: already stored", body = StoredFile),
        (status = 400, description = "`invalid_input`: a Content-Digest that is malformed or that the bytes do not match", body = crate::error::JsonError),
        (status = 401, description = "`token_invalid`", body = crate::error::JsonError),
        (status = 404, description = "`not_found`: no such submission here, or one another collector or app token sent", body = crate::error::JsonError),
        (status = 409, description = "`conflict`: that file was sent with other bytes", body = crate::error::JsonError),
        (status = 413, description = "`payload_too_large`: over 20 MiB", body = crate::error::JsonError),
        (status = 415, description = "`unsupported_media_type`: a type not taken, or bytes that are not of it", body = crate::error::JsonError),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    client: ApiCaller,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> std::result::Result<Response, AppError> {
    let submission = SubmissionId::from_i64(parse_id(&id, "that submission")?);
    let declared = crate::fields::single_field(&headers, header::CONTENT_TYPE)
        .map_err(|_| {
            Error::UnsupportedMediaType("send one Content-Type, the file's own".to_owned())
        })?
        .unwrap_or("application/octet-stream");
    if crate::body::announced_over(&headers, MAX_FILE_BYTES) {
        // Refused before a byte is read.
        return Err(Error::PayloadTooLarge {
            limit_bytes: usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX),
        }
        .into());
    }
    let digest = declared_sha256(&headers)?;
    let rules = BlobRules {
        max_bytes: MAX_FILE_BYTES,
        allowed_types: FILE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
    };
    let stored = state
        .cista
        .attach(
            state.blobs.as_ref(),
            &client.actor,
            client.org,
            submission,
            &name,
            declared,
            &rules,
            &mut BodySource {
                body: body.into_data_stream(),
                declared: digest,
            },
        )
        .await?;
    let file = StoredFile {
        name: stored.attachment.name,
        sha256: stored.attachment.sha256.to_hex(),
        size: stored.attachment.size,
        content_type: stored.attachment.content_type,
        replayed: stored.replayed,
    };
    Ok((status(stored.replayed), Json(file)).into_response())
}
