//! The demo's outbox page: the messages the demo "sent" (kept in a local folder instead), so
//! invitations, resets and SMS codes can be followed on one machine. Routed only in demo mode.
//! `?to=` narrows it to one recipient: a published ballot alone sends a notice to every owner.

use super::chrome::{Chrome, render};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cista_core::Error;

struct Message {
    to: String,
    subject: String,
    kind: &'static str,
    body: String,
    links: Vec<String>,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    messages: Vec<Message>,
    to: String,
    shown: usize,
}

/// How many of the newest messages the page shows.
const SHOWN: usize = 100;

#[derive(Debug, serde::Deserialize)]
pub struct OutboxQuery {
    #[serde(default)]
    to: String,
}

/// Links in a message that point at this instance.
fn links(body: &str, origin: &str) -> Vec<String> {
    body.split_whitespace()
        .filter(|word| word.starts_with(origin))
        .map(|word| word.trim_end_matches(['.', ',', ')']).to_owned())
        .collect()
}

pub async fn outbox(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(query): Query<OutboxQuery>,
) -> Result<Response, AppError> {
    let to = query.to.trim().to_owned();
    let Some(dir) = state.demo.as_ref().and_then(|d| d.outbox_dir.clone()) else {
        return Err(AppError(Error::NotFound { what: "this page" }));
    };
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".txt"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort_unstable_by(|a, b| b.cmp(a));
    let mut messages = Vec::new();
    for name in names {
        if messages.len() >= SHOWN {
            break;
        }
        let Ok(text) = std::fs::read_to_string(dir.join(&name)) else {
            continue;
        };
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let field = |key: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let recipient = field("To:");
        if !to.is_empty() && !recipient.to_lowercase().contains(&to.to_lowercase()) {
            continue;
        }
        messages.push(Message {
            to: recipient,
            subject: field("Subject:"),
            kind: if name.contains("-sms-") {
                "SMS"
            } else {
                "email"
            },
            links: links(body, &state.public_origin),
            body: body.to_owned(),
        });
    }
    render(
        StatusCode::OK,
        OutboxPage {
            chrome: Chrome::new(&ctx, &state),
            messages,
            to,
            shown: SHOWN,
        },
    )
}
