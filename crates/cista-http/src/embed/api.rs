//! The widget's JSON calls, for a firm that draws its own form with its own script:
//! `GET /embed/v1/{org}/{form}` gives the questions (never the scoring) and a load token;
//! `POST /embed/v1/{org}/{form}/submissions` sends the answers and gets the client's part of
//! the result. Both need the page's `Origin` to be on the form's list (`403
//! origin_not_allowed` otherwise, audited and counted) and answer it with CORS (see `cors`).
//! A retry with the same token and answers gets the first result (`200`, `replayed: true`);
//! other answers with a used token are `409 conflict`.

use super::cors::{allow, request_origin};
use super::page::{count_refusal, organization};
use crate::AppState;
use crate::error::AppError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::Error;
use cista_core::platform::blobs::media_type;
use cista_core::products::assessment::{
    ClientDetails, ClientForm, SentFrom, ShownBand, ShownScore, WidgetSubmission,
};
use cista_types::{FormId, WebOrigin};
use serde::{Deserialize, Serialize};

/// A form as a page draws it.
#[derive(Debug, Serialize)]
pub struct LoadedForm {
    /// The version's id (decimal string): send it back with the answers.
    pub form: String,
    pub version: u32,
    #[serde(flatten)]
    pub questions: ClientForm,
    /// Send it back with the answers; good for one submission until `expires_at`.
    pub load_token: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// What a page sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    pub form: String,
    pub load_token: String,
    pub client: ClientDetails,
    /// By question id: an option id, a list of them, a number, or text.
    pub answers: serde_json::Value,
}

/// The client's part of the result.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// Decimal string.
    pub submission: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<ShownBand>,
    pub scores: Vec<ShownScore>,
    /// True when this answer is a retry's: nothing new was stored.
    pub replayed: bool,
}

fn refused(e: Error) -> Response {
    count_refusal(&e);
    AppError(e).into_response()
}

/// `GET /embed/v1/{org}/{form}`.
pub async fn load(
    State(state): State<AppState>,
    Path((org, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let loaded = async {
        let org = organization(&state, &org).await?;
        state
            .cista
            .load_widget(org.id, &key, request_origin(&headers))
            .await
    }
    .await;
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return refused(e),
    };
    let published = &loaded.published;
    let body = LoadedForm {
        form: published.form.id.to_string(),
        version: published.form.version,
        questions: published.assessment.definition.client_form(),
        load_token: loaded.token.token.clone(),
        expires_at: loaded
            .token
            .claims
            .expires_at()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
    };
    let mut response = Json(body).into_response();
    allow(&mut response, &loaded.origin);
    response
}

/// `POST /embed/v1/{org}/{form}/submissions`.
pub async fn submit(
    State(state): State<AppState>,
    Path((org, _key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let origin = request_origin(&headers);
    let org = match organization(&state, &org).await {
        Ok(org) => org,
        Err(e) => return refused(e),
    };
    let sent = match read_answers(&headers, &body) {
        Ok(sent) => sent,
        Err(e) => return refused(e),
    };
    let form = FormId::from_i64(sent.form.parse::<i64>().unwrap_or(0));
    let submitted = state
        .cista
        .submit_assessment(WidgetSubmission {
            org: org.id,
            form,
            sent_from: SentFrom::Page(origin),
            load_token: &sent.load_token,
            client: sent.client,
            answers: &sent.answers,
        })
        .await;
    let mut response = match submitted {
        Ok(result) => {
            let status = if result.receipt.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let body = Shown {
                submission: result.receipt.submission.to_string(),
                replayed: result.receipt.replayed,
                band: result.band,
                scores: result.scores,
            };
            (status, Json(body)).into_response()
        }
        Err(e) => refused(e),
    };
    // The site may read the answer, refusals included, only if the form lists it. A result
    // means the core found it listed; only a refusal needs the list read again.
    let listed = if response.status().is_success() {
        origin.and_then(|o| WebOrigin::parse(o).ok())
    } else {
        state
            .cista
            .embeddable(org.id, form, origin)
            .await
            .ok()
            .map(|(_, site)| site)
    };
    if let Some(site) = listed {
        allow(&mut response, &site);
    }
    response
}

/// The body, if it is a JSON object of the right shape.
fn read_answers(headers: &HeaderMap, body: &[u8]) -> cista_core::Result<Answers> {
    let json = crate::fields::single_field(headers, header::CONTENT_TYPE)
        .ok()
        .flatten()
        .is_some_and(|v| media_type(v) == "application/json");
    if !json {
        return Err(Error::UnsupportedMediaType(
            "send the answers as application/json".to_owned(),
        ));
    }
    crate::error::read_json(body).map_err(|problem| {
        Error::invalid(
            "body",
            format!(
                "send {{\"form\", \"load_token\", \"client\": {{\"first_name\", \"last_name\", \
                 \"email\", \"consent\"}}, \"answers\"}}: {}",
                problem
            ),
        )
    })
}
