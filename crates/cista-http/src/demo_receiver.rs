//! The demo's webhook receiver (issue 13, item 8): a partner system in miniature, inside the
//! demo server. `POST /demo/webhook-receiver` checks each message as a Standard Webhooks
//! receiver must (signature under the endpoint's secret, timestamp within five minutes) and,
//! to show retries, refuses the first attempt at every third message with a 429 (Too Many
//! Requests, as a busy partner would; not a 5xx, which would read as this server failing) on
//! purpose;
//! `/demo/webhooks` lists what arrived. Routed only in demo mode, outside the web surface's
//! cookie and CSRF stack (a webhook carries no session: its signature authenticates it).

use crate::AppState;
use crate::web::context::RequestContext;
use crate::web::pages::chrome::{Chrome, render};
use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cista_crypto::standard_webhooks::{self, Refusal};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many arrivals the receiver keeps.
const KEPT: usize = 200;

/// One message as it reached the receiver.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub message_id: String,
    pub timestamp: String,
    /// `valid`, `bad signature`, `stale`, `no secret yet`, `missing headers`.
    pub check: &'static str,
    /// What the receiver answered.
    pub answered: u16,
    /// The event type and record id from the body, when it parsed.
    pub event: String,
    pub record: String,
    pub body: String,
}

/// The receiver's state: the endpoint's secret (set once the demo has created the webhook)
/// and what arrived, newest first.
#[derive(Debug, Default)]
pub struct DemoReceiver {
    secret: Mutex<Option<String>>,
    arrivals: Mutex<VecDeque<Arrival>>,
    /// Messages refused once on purpose (so their retry is accepted).
    refused: Mutex<HashSet<String>>,
    /// Messages seen, to refuse the first attempt at every third.
    seen: Mutex<u64>,
}

impl DemoReceiver {
    /// Sets the `whsec_…` secret the demo's webhook signs with.
    pub fn set_secret(&self, secret: &str) {
        if let Ok(mut slot) = self.secret.lock() {
            *slot = Some(secret.to_owned());
        }
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn check(
        &self,
        (id, timestamp): (&str, &str),
        body: &[u8],
        signature: &str,
        now: i64,
    ) -> &'static str {
        let Some(secret) = self.secret.lock().ok().and_then(|s| s.clone()) else {
            return "no secret yet";
        };
        let (Ok(key), Ok(at)) = (
            standard_webhooks::secret_key(&secret),
            timestamp.parse::<i64>(),
        ) else {
            return "missing headers";
        };
        match standard_webhooks::verify(&key, id, at, body, signature, now) {
            Ok(()) => "valid",
            Err(Refusal::Stale) => "stale",
            Err(Refusal::BadSignature) => "bad signature",
        }
    }

    /// Whether to refuse this attempt on purpose: the first attempt at every third message.
    fn refuse_on_purpose(&self, id: &str) -> bool {
        let Ok(mut refused) = self.refused.lock() else {
            return false;
        };
        if refused.contains(id) {
            return false;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        *seen += 1;
        if (*seen).is_multiple_of(3) {
            refused.insert(id.to_owned());
            return true;
        }
        false
    }

    fn keep(&self, arrival: Arrival) {
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.push_front(arrival);
            arrivals.truncate(KEPT);
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `POST /demo/webhook-receiver`.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(receiver) = state.demo.as_ref().and_then(|d| d.webhooks.clone()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = header(&headers, "webhook-id").to_owned();
    let timestamp = header(&headers, "webhook-timestamp").to_owned();
    let check = if id.is_empty() || timestamp.is_empty() {
        "missing headers"
    } else {
        let now = state.cista.clock().now().unix_micros() / 1_000_000;
        receiver.check(
            (&id, &timestamp),
            &body,
            header(&headers, "webhook-signature"),
            now,
        )
    };
    let answered = if check != "valid" {
        StatusCode::UNAUTHORIZED
    } else if receiver.refuse_on_purpose(&id) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::NO_CONTENT
    };
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = |path: &str| {
        parsed
            .pointer(path)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    receiver.keep(Arrival {
        message_id: id,
        timestamp,
        check,
        answered: answered.as_u16(),
        event: text("/type"),
        record: text("/data/record"),
        body: String::from_utf8_lossy(&body).chars().take(2000).collect(),
    });
    // The receiver's answers are what a partner system would say, on purpose: not Cista's
    // errors, so the error renderer leaves them.
    let mut response = (answered, check).into_response();
    response.extensions_mut().insert(crate::error::OwnBody);
    if answered == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
    }
    response
}

#[derive(Template)]
#[template(path = "demo_webhooks.html")]
struct ReceiverPage {
    chrome: Chrome,
    arrivals: Vec<Arrival>,
}

/// `GET /demo/webhooks`: what the receiver got, newest first.
pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, crate::error::AppError> {
    let Some(receiver) = state.demo.as_ref().and_then(|d| d.webhooks.clone()) else {
        return Err(crate::error::AppError(cista_core::Error::NotFound {
            what: "this page",
        }));
    };
    render(
        StatusCode::OK,
        ReceiverPage {
            chrome: Chrome::new(&ctx, &state),
            arrivals: receiver.arrivals(),
        },
    )
}
