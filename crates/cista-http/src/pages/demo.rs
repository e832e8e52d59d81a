//! The demo's outbox page: the messages the demo "sent" (kept in a local folder instead), so
//! invitations, resets and SMS codes can be followed on one machine. Routed only in demo mode.

use super::chrome::{Chrome, render};
use crate::AppState;
use crate::context::RequestContext;
use crate::error::AppError;
use askama::Template;
use axum::Extension;
use axum::extract::State;
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
) -> Result<Response, AppError> {
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
    for name in names.into_iter().take(50) {
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
        messages.push(Message {
            to: field("To:"),
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
        },
    )
}
