//! What every page shares: the header's signed-in state and CSRF token, form error lists, one
//! render helper, and the gates that send a visitor to sign in (or to the second factor).

use crate::AppState;
use crate::context::RequestContext;
use crate::error::AppError;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use cista_core::access::sessions::ResolvedSession;
use cista_core::ports::SessionStage;
use cista_core::{Actor, Error};

/// The header of every page.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub signed_in: bool,
    pub csrf: String,
    pub demo: bool,
}

impl Chrome {
    pub fn new(ctx: &RequestContext, state: &AppState) -> Self {
        Self {
            signed_in: ctx.signed_in(),
            csrf: ctx.csrf.clone(),
            demo: state.demo.as_ref().is_some_and(|d| d.outbox_dir.is_some()),
        }
    }
}

/// One problem with one form field, linked from the error summary.
#[derive(Debug, Clone)]
pub struct FormError {
    pub field: &'static str,
    pub message: String,
}

impl FormError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// A form error for a core error about an input, with a sentence a person can act on.
    pub fn from_error(field: &'static str, error: &Error) -> Self {
        let message = match error {
            Error::InvalidInput { field, reason } => format!("The {field} {reason}."),
            Error::WeakPassword { reason } => {
                format!("This password is too easy to guess: {reason}")
            }
            other => {
                let text = other.public_message();
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                    None => text,
                }
            }
        };
        Self::new(field, message)
    }
}

/// Renders a template with a status.
pub fn render(status: StatusCode, page: impl Template) -> Result<Response, AppError> {
    let html = page
        .render()
        .map_err(|e| AppError(Error::Internal(e.to_string())))?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(crate::error::OwnBody);
    Ok(response)
}

/// A redirect after a successful form (303: the browser follows with a GET).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, Redirect::to(to)).into_response()
}

/// For pages: the fully signed-in (or SMS) person, or where they must go first.
pub fn person_or_redirect(ctx: &RequestContext) -> Result<(Actor, &ResolvedSession), &'static str> {
    match &ctx.session {
        None => Err("/sign-in"),
        Some(s) => match (&s.actor, s.stage) {
            (Some(actor), _) => Ok((actor.clone(), s)),
            (None, SessionStage::MfaEnrol) => Err("/mfa/enrol"),
            (None, _) => Err("/mfa"),
        },
    }
}

/// For form posts: the person, or a coded refusal.
pub fn person_or_refuse(ctx: &RequestContext) -> Result<(Actor, &ResolvedSession), AppError> {
    match &ctx.session {
        None => Err(AppError(Error::Unauthenticated)),
        Some(s) => match &s.actor {
            Some(actor) => Ok((actor.clone(), s)),
            None => Err(AppError(Error::SecondFactorRequired)),
        },
    }
}
