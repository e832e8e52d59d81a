//! Signing in and out, setting a password from an invitation or reset link, asking for a reset
//! or a new invitation, signing in by SMS code, and the second factor. The pages reachable
//! without a session answer identically for known and unknown people, after the same delay.

use super::chrome::{Chrome, FormError, local_next, render, see_other, with_next};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, clear_session_cookie, session_cookie};
use crate::web::limits::at_response_floor;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::Error;
use cista_core::platform::access::SignedIn;
use cista_core::ports::SessionStage;
use serde::Deserialize;

/// Where a visitor was going when a sign-in step interrupted: `?next=/vote/42`, carried by
/// every sign-in step's form action and followed at the end (only ever a local page, see
/// `chrome::local_next`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: Option<String>,
}

impl NextQuery {
    fn target(&self) -> Option<&str> {
        self.next.as_deref().and_then(local_next)
    }

    /// `path` with this `next` carried along.
    fn carry(&self, path: &str) -> String {
        with_next(path, self.target().unwrap_or(""))
    }
}

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    action: String,
    sms_link: String,
    email: String,
    notice: Option<String>,
    errors: Vec<FormError>,
}

#[derive(Template)]
#[template(path = "auth/single_field.html")]
struct SingleFieldPage {
    chrome: Chrome,
    heading: &'static str,
    intro: &'static str,
    action: String,
    field: &'static str,
    label: &'static str,
    input_type: &'static str,
    autocomplete: &'static str,
    button: &'static str,
    notice: Option<String>,
    errors: Vec<FormError>,
}

#[derive(Template)]
#[template(path = "auth/code.html")]
struct CodePage {
    chrome: Chrome,
    heading: &'static str,
    intro: &'static str,
    action: String,
    label: &'static str,
    inputmode: &'static str,
    alternative: Option<(&'static str, &'static str)>,
    errors: Vec<FormError>,
}

#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticePage {
    pub chrome: Chrome,
    pub heading: &'static str,
    pub message: String,
    pub links: Vec<(&'static str, &'static str)>,
}

/// Where a new session goes: the second factor still to enrol or give (carrying `next`), or
/// the page the visitor was going to (their account page by default).
fn next_for(stage: SessionStage, next: &NextQuery) -> String {
    match stage {
        SessionStage::MfaEnrol => next.carry("/mfa/enrol"),
        SessionStage::MfaPending => next.carry("/mfa"),
        SessionStage::Full | SessionStage::Sms => next.target().unwrap_or("/me").to_owned(),
    }
}

/// A redirect that also sets the new session's cookie.
/// The redirect after signing in: the session cookie, and the device cookie that makes this
/// browser a trusted device of the person (its own budgets and lockout; see
/// `cista_core::platform::access::requesters`).
fn signed_in_redirect(
    state: &AppState,
    ctx: &RequestContext,
    signed_in: &SignedIn,
    to: &str,
) -> Response {
    let mut response = see_other(to);
    response.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&signed_in.token, state.cista.settings().session_absolute),
    );
    if let Some(device) = crate::web::context::device_cookie(state, ctx, signed_in.subject) {
        response.headers_mut().append(header::SET_COOKIE, device);
    }
    response
}

// --- sign in and out ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInQuery {
    expired: Option<String>,
    done: Option<String>,
    signed_out: Option<String>,
    next: Option<String>,
}

fn sign_in_form(
    chrome: Chrome,
    next: &NextQuery,
    email: String,
    notice: Option<String>,
    errors: Vec<FormError>,
) -> SignInPage {
    SignInPage {
        chrome,
        action: next.carry("/sign-in"),
        sms_link: next.carry("/sms"),
        email,
        notice,
        errors,
    }
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(query): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let next = NextQuery { next: query.next };
    // An SMS session (voting only) may sign in with a password to do more.
    let sms_session = ctx
        .session
        .as_ref()
        .is_some_and(|s| s.stage == SessionStage::Sms);
    if ctx.signed_in() && !sms_session {
        return Ok(see_other(next.target().unwrap_or("/me")));
    }
    let notice = if query.expired.is_some() {
        Some("Your session ended. Sign in again.")
    } else if let Some(scope) = query.signed_out.as_deref() {
        Some(if scope == "everywhere" {
            "You are signed out on every device."
        } else {
            "You are signed out on this device."
        })
    } else {
        match query.done.as_deref() {
            Some("password") => Some("Your password is saved. Sign in with it."),
            Some("changed") => Some("Your password is changed. Sign in with the new one."),
            _ if next.target().is_some() => Some("Sign in to continue."),
            _ => None,
        }
    };
    render(
        StatusCode::OK,
        sign_in_form(
            Chrome::new(&ctx, &state),
            &next,
            String::new(),
            notice.map(str::to_owned),
            Vec::new(),
        ),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    password: String,
}

pub async fn sign_in_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let result = at_response_floor(
        state.auth_limiter.settings.response_floor,
        state
            .cista
            .sign_in_from(&form.email, &form.password, &ctx.requester),
    )
    .await;
    match result {
        Ok(signed_in) => Ok(signed_in_redirect(
            &state,
            &ctx,
            &signed_in,
            &next_for(signed_in.stage, &next),
        )),
        Err(Error::SignInFailed) => render(
            StatusCode::UNAUTHORIZED,
            sign_in_form(
                Chrome::new(&ctx, &state),
                &next,
                form.email.chars().take(254).collect(),
                None,
                vec![FormError::new(
                    "email",
                    "The email address or the password is not right.",
                )],
            ),
        ),
        Err(e) => Err(e.into()),
    }
}

/// "Sign out" in the header: ends this device's session only.
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    if let Some(session) = &ctx.session {
        state.cista.sign_out_device(session).await?;
    }
    let mut response = see_other("/sign-in?signed_out=device");
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

/// "Sign out everywhere" on the account page: ends every session of the account.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    if let Some(session) = &ctx.session {
        state.cista.sign_out(session).await?;
    }
    let mut response = see_other("/sign-in?signed_out=everywhere");
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

/// A code typed into a form: from an SMS, an authenticator or a recovery code.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

mod links;
pub(crate) mod mfa;
mod sms;

pub use links::{
    invitation_link, invitation_submit, join_accept, join_link, join_submit, joined,
    resend_request_page, resend_request_submit, resend_sent, reset_link, reset_request_page,
    reset_request_submit, reset_sent, reset_submit,
};
pub use mfa::{mfa_enrol_page, mfa_enrol_submit, mfa_page, mfa_submit, recovery_codes_page};
pub use sms::{sms_request_page, sms_request_submit, sms_verify_page, sms_verify_submit};
