//! Setting a password from an invitation or reset link, accepting an invitation to join
//! another organization, and asking for a reset or a new invitation (answered identically for
//! known and unknown addresses).

use super::{NextQuery, NoticePage, SingleFieldPage, next_for, signed_in_redirect};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::limits::at_response_floor;
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::Error;
use cista_core::ports::CredentialPurpose;
use cista_types::Password;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "auth/set_password.html")]
struct SetPasswordPage {
    chrome: Chrome,
    heading: &'static str,
    first_name: String,
    organization: Option<String>,
    /// The role an invitation to join gives, said before the password is chosen.
    joins: Option<&'static str>,
    action: String,
    errors: Vec<FormError>,
    /// This browser is signed in as someone other than the link's person.
    someone_else: bool,
}

/// An invitation to join, for someone who already has a password: one button accepts.
#[derive(Template)]
#[template(path = "auth/join.html")]
struct JoinPage {
    chrome: Chrome,
    first_name: String,
    organization: String,
    role: &'static str,
    action: String,
    /// This browser is signed in as someone other than the link's person.
    someone_else: bool,
}

// --- links: invitation and reset ---------------------------------------------------------------

fn invalid_link(
    state: &AppState,
    ctx: &RequestContext,
    purpose: CredentialPurpose,
) -> Result<Response, AppError> {
    let (again, message) = match purpose {
        CredentialPurpose::Reset => (Some(("/reset", "Ask for a new reset link")), ""),
        // Only the organization can invite again.
        CredentialPurpose::Join => (None, " To join, ask the organization to invite you again."),
        _ => (Some(("/invitation", "Ask for a new invitation link")), ""),
    };
    render(
        StatusCode::BAD_REQUEST,
        NoticePage {
            chrome: Chrome::new(ctx, state),
            heading: "This link does not work",
            message: format!(
                "It has expired, was already used, or was not copied completely. Links work \
                 once, for a limited time.{message}"
            ),
            links: again.into_iter().chain([("/sign-in", "Sign in")]).collect(),
        },
    )
}

async fn link_page(
    state: &AppState,
    ctx: &RequestContext,
    token: &str,
    purpose: CredentialPurpose,
    next: &NextQuery,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let view = match state.cista.inspect_link(token, purpose).await {
        Ok(view) => view,
        Err(Error::TokenInvalid | Error::PersonErased) => return invalid_link(state, ctx, purpose),
        Err(e) => return Err(e.into()),
    };
    let (heading, prefix) = match purpose {
        CredentialPurpose::Reset => ("Choose a new password", "r"),
        CredentialPurpose::Join => ("Choose your password", "j"),
        _ => ("Choose your password", "i"),
    };
    // A link forwarded, or opened on a shared computer: whoever holds it may use it, but
    // whoever is signed in here should know it is not theirs before they do.
    let someone_else = ctx
        .session
        .as_ref()
        .is_some_and(|s| s.subject != view.subject);
    if !view.chooses_password {
        return render(
            status,
            JoinPage {
                chrome: Chrome::new(ctx, state),
                first_name: view.first_name.to_string(),
                organization: view.organization.unwrap_or_default(),
                role: view.joins.map_or("Member", |r| r.label()),
                action: format!("/j/{token}/accept"),
                someone_else,
            },
        );
    }
    render(
        status,
        SetPasswordPage {
            chrome: Chrome::new(ctx, state),
            heading,
            first_name: view.first_name.to_string(),
            organization: view.organization,
            joins: view.joins.map(|r| r.label()),
            action: next.carry(&format!("/{prefix}/{token}")),
            errors,
            someone_else,
        },
    )
}

/// A link's page as opened from the message: no errors yet.
async fn first_look(
    state: &AppState,
    ctx: &RequestContext,
    token: &str,
    purpose: CredentialPurpose,
    next: &NextQuery,
) -> Result<Response, AppError> {
    link_page(state, ctx, token, purpose, next, Vec::new(), StatusCode::OK).await
}

pub async fn invitation_link(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    first_look(&state, &ctx, &token, CredentialPurpose::Invite, &next).await
}

pub async fn join_link(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    first_look(&state, &ctx, &token, CredentialPurpose::Join, &next).await
}

pub async fn reset_link(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    first_look(&state, &ctx, &token, CredentialPurpose::Reset, &next).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
    confirm: String,
}

/// Saves the password chosen with a link and signs this browser in, then carries on to where
/// the link was meant to lead (its `next`), through the second factor where one is required.
async fn set_password(
    state: &AppState,
    ctx: &RequestContext,
    token: &str,
    purpose: CredentialPurpose,
    next: &NextQuery,
    form: &PasswordForm,
) -> Result<Response, AppError> {
    let password = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(e) => {
            let errors = vec![FormError::from_error("password", &Error::from(e))];
            return link_page(
                state,
                ctx,
                token,
                purpose,
                next,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if form.password != form.confirm {
        let errors = vec![FormError::new(
            "confirm",
            "The two passwords are not the same.",
        )];
        return link_page(
            state,
            ctx,
            token,
            purpose,
            next,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state
        .cista
        .set_password_and_sign_in(token, purpose, &password)
        .await
    {
        Ok(signed_in) => Ok(signed_in_redirect(
            state,
            ctx,
            &signed_in,
            &next_for(signed_in.stage, next),
        )),
        // An invitation to join whose person chose a password meanwhile (in another tab, or
        // through another link) is still good: its page now offers to accept it.
        Err(Error::Conflict(_)) if purpose == CredentialPurpose::Join => {
            link_page(state, ctx, token, purpose, next, Vec::new(), StatusCode::OK).await
        }
        Err(Error::TokenInvalid | Error::PersonErased) => invalid_link(state, ctx, purpose),
        Err(e @ (Error::WeakPassword { .. } | Error::InvalidInput { .. })) => {
            let errors = vec![FormError::from_error("password", &e)];
            link_page(
                state,
                ctx,
                token,
                purpose,
                next,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn invitation_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    set_password(
        &state,
        &ctx,
        &token,
        CredentialPurpose::Invite,
        &next,
        &form,
    )
    .await
}

/// Someone still to choose a password joins by choosing it.
pub async fn join_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    set_password(&state, &ctx, &token, CredentialPurpose::Join, &next, &form).await
}

/// Someone with a password accepts an invitation to join; the page after says so.
pub async fn join_accept(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match state.cista.accept_join_invitation(&token).await {
        Ok(_) => Ok(see_other("/joined")),
        // Still to choose a password (a form kept from before, or made by hand): the link's
        // page asks for one, and choosing it joins.
        Err(Error::Conflict(_)) => Ok(see_other(&format!("/j/{token}"))),
        Err(Error::TokenInvalid | Error::PersonErased) => {
            invalid_link(&state, &ctx, CredentialPurpose::Join)
        }
        Err(e) => Err(e.into()),
    }
}

/// The page after accepting an invitation to join.
pub async fn joined(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    render(
        StatusCode::OK,
        NoticePage {
            chrome: Chrome::new(&ctx, &state),
            heading: "You have joined",
            message: "You are now a member of the organization that invited you. Sign in with \
                      your usual password to see it."
                .to_owned(),
            links: vec![("/sign-in", "Sign in")],
        },
    )
}

pub async fn reset_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    set_password(&state, &ctx, &token, CredentialPurpose::Reset, &next, &form).await
}

// --- asking for a reset or a new invitation ----------------------------------------------------

fn reset_form(chrome: Chrome) -> SingleFieldPage {
    SingleFieldPage {
        chrome,
        heading: "Forgot your password?",
        intro: "Enter your email address. If an account uses it, we send a link to choose a new \
                password. The link works once, for an hour.",
        action: "/reset".to_owned(),
        field: "email",
        label: "Email address",
        input_type: "email",
        autocomplete: "username",
        button: "Send the link",
        notice: None,
        errors: Vec::new(),
    }
}

fn resend_form(chrome: Chrome) -> SingleFieldPage {
    SingleFieldPage {
        chrome,
        heading: "Get a new invitation link",
        intro: "Enter the email address your invitation was sent to. If an invitation is waiting \
                for it, we send a new link. Links sent before keep working until one of them is \
                used or they expire.",
        action: "/invitation".to_owned(),
        field: "email",
        label: "Email address",
        input_type: "email",
        autocomplete: "username",
        button: "Send a new link",
        notice: None,
        errors: Vec::new(),
    }
}

pub async fn reset_request_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    render(StatusCode::OK, reset_form(Chrome::new(&ctx, &state)))
}

pub async fn resend_request_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    render(StatusCode::OK, resend_form(Chrome::new(&ctx, &state)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmailForm {
    email: String,
}

pub async fn reset_request_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    let result = at_response_floor(
        state.auth_limiter.settings.response_floor,
        state
            .cista
            .request_password_reset_from(&form.email, &ctx.requester),
    )
    .await;
    result?;
    Ok(see_other("/reset/sent"))
}

/// The page after asking for a reset link (the same whatever the address).
pub async fn reset_sent(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    render(
        StatusCode::OK,
        NoticePage {
            chrome: Chrome::new(&ctx, &state),
            heading: "Check your email",
            message: "If an account uses that address, we sent it a link to choose a new \
                      password. The link works once, for an hour."
                .to_owned(),
            links: vec![("/sign-in", "Back to sign in")],
        },
    )
}

pub async fn resend_request_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    let result = at_response_floor(
        state.auth_limiter.settings.response_floor,
        state
            .cista
            .resend_invitation_by_email_from(&form.email, &ctx.requester),
    )
    .await;
    result?;
    Ok(see_other("/invitation/sent"))
}

/// The page after asking for a new invitation link (the same whatever the address).
pub async fn resend_sent(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Result<Response, AppError> {
    render(
        StatusCode::OK,
        NoticePage {
            chrome: Chrome::new(&ctx, &state),
            heading: "Check your email",
            message: "If an invitation is waiting for that address, we sent it a new link. The \
                      link works once, for 72 hours."
                .to_owned(),
            links: vec![("/sign-in", "Back to sign in")],
        },
    )
}
