//! Signing in and out, setting a password from an invitation or reset link, asking for a reset
//! or a new invitation, signing in by SMS code, and the second factor. The pages reachable
//! without a session answer identically for known and unknown people, after the same delay.

use super::chrome::{Chrome, FormError, local_next, render, see_other, with_next};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{
    RequestContext, clear_session_cookie, cookie_value, sealed_cookie, session_cookie,
};
use crate::web::limits::pad_to_floor;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use base64::Engine as _;
use cista_core::Error;
use cista_core::platform::access::SignedIn;
use cista_core::ports::{CredentialPurpose, SessionStage};
use cista_types::Password;
use serde::Deserialize;
use std::time::Instant;

const SMS_COOKIE: &str = "__Host-cista_sms";
/// Freshly issued recovery codes, sealed to the new session for the page after the redirect.
const RECOVERY_COOKIE: &str = "__Host-cista_recovery";
const RECOVERY_TTL: time::Duration = time::Duration::minutes(10);

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
#[template(path = "auth/set_password.html")]
struct SetPasswordPage {
    chrome: Chrome,
    heading: &'static str,
    first_name: String,
    organization: Option<String>,
    action: String,
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
#[template(path = "auth/mfa_enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    action: String,
    required: bool,
    qr_data_uri: String,
    secret: String,
    errors: Vec<FormError>,
}

#[derive(Template)]
#[template(path = "auth/recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
    next: String,
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
    let started = Instant::now();
    let result = state
        .cista
        .sign_in_from(&form.email, &form.password, &ctx.requester)
        .await;
    pad_to_floor(started, state.auth_limiter.settings.response_floor).await;
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

// --- links: invitation and reset ---------------------------------------------------------------

fn invalid_link(
    state: &AppState,
    ctx: &RequestContext,
    purpose: CredentialPurpose,
) -> Result<Response, AppError> {
    let (again, text) = match purpose {
        CredentialPurpose::Reset => ("/reset", "Ask for a new reset link"),
        _ => ("/invitation", "Ask for a new invitation link"),
    };
    render(
        StatusCode::BAD_REQUEST,
        NoticePage {
            chrome: Chrome::new(ctx, state),
            heading: "This link does not work",
            message: "It has expired, was already used, or was not copied completely. Links work \
                      once, for a limited time."
                .to_owned(),
            links: vec![(again, text), ("/sign-in", "Sign in")],
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
        _ => ("Choose your password", "i"),
    };
    render(
        status,
        SetPasswordPage {
            chrome: Chrome::new(ctx, state),
            heading,
            first_name: view.first_name.to_string(),
            organization: view.organization,
            action: next.carry(&format!("/{prefix}/{token}")),
            errors,
        },
    )
}

pub async fn invitation_link(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    link_page(
        &state,
        &ctx,
        &token,
        CredentialPurpose::Invite,
        &next,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn reset_link(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(token): Path<String>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    link_page(
        &state,
        &ctx,
        &token,
        CredentialPurpose::Reset,
        &next,
        Vec::new(),
        StatusCode::OK,
    )
    .await
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
                for it, we send a new link; older links stop working.",
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
    let started = Instant::now();
    let result = state
        .cista
        .request_password_reset_from(&form.email, &ctx.requester)
        .await;
    pad_to_floor(started, state.auth_limiter.settings.response_floor).await;
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
    let started = Instant::now();
    let result = state
        .cista
        .resend_invitation_by_email_from(&form.email, &ctx.requester)
        .await;
    pad_to_floor(started, state.auth_limiter.settings.response_floor).await;
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

// --- SMS ---------------------------------------------------------------------------------------

pub async fn sms_request_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    render(
        StatusCode::OK,
        SingleFieldPage {
            chrome: Chrome::new(&ctx, &state),
            heading: "Sign in with a code by SMS",
            intro: "Enter your email address, or your mobile number with its country code. If it \
                    matches a member with a mobile on file, we send a 6-digit code to that \
                    number. The session it opens lets you vote and nothing else.",
            action: next.carry("/sms"),
            field: "identifier",
            label: "Email address or mobile number",
            input_type: "text",
            autocomplete: "username",
            button: "Send me a code",
            notice: None,
            errors: Vec::new(),
        },
    )
}

fn code_page(chrome: Chrome, next: &NextQuery, errors: Vec<FormError>) -> CodePage {
    CodePage {
        chrome,
        heading: "Enter your code",
        intro: "If that matches a member with a mobile on file, we sent a 6-digit code to it. It \
                works once, for 10 minutes.",
        action: next.carry("/sms/verify"),
        label: "6-digit code",
        inputmode: "numeric",
        alternative: Some(("/sms", "Ask for a new code")),
        errors,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdentifierForm {
    identifier: String,
}

pub async fn sms_request_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    Form(form): Form<IdentifierForm>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let result = state
        .cista
        .request_sms_code_from(&form.identifier, &ctx.requester)
        .await;
    pad_to_floor(started, state.auth_limiter.settings.response_floor).await;
    let challenge = result?;
    // The challenge rides in a cookie, so the page is the same whether or not a code was sent.
    let mut cookie = cookie::Cookie::build((SMS_COOKIE, challenge))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .build();
    cookie.set_max_age(state.cista.settings().sms_code_ttl);
    let mut response = see_other(&next.carry("/sms/verify"));
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The code form again (after a reload, or coming back from the messages app).
pub async fn sms_verify_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if cookie_value(&headers, SMS_COOKIE).is_none() {
        return Ok(see_other(&next.carry("/sms")));
    }
    render(
        StatusCode::OK,
        code_page(Chrome::new(&ctx, &state), &next, Vec::new()),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn sms_verify_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let challenge = cookie_value(&headers, SMS_COOKIE).unwrap_or_default();
    match state
        .cista
        .sign_in_with_sms_code(&challenge, &form.code)
        .await
    {
        Ok(signed_in) => {
            let mut response =
                signed_in_redirect(&state, &ctx, &signed_in, &next_for(signed_in.stage, &next));
            let mut gone = cookie::Cookie::build((SMS_COOKIE, ""))
                .path("/")
                .secure(true)
                .build();
            gone.make_removal();
            if let Ok(value) = HeaderValue::from_str(&gone.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(Error::CodeInvalid) => render(
            StatusCode::BAD_REQUEST,
            code_page(
                Chrome::new(&ctx, &state),
                &next,
                vec![FormError::new(
                    "code",
                    "That code is not right, or it has expired. Ask for a new one.",
                )],
            ),
        ),
        Err(e) => Err(e.into()),
    }
}

// --- second factor -----------------------------------------------------------------------------

fn qr_data_uri(uri: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError(Error::Internal(format!("QR code: {e}"))))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

async fn enrol_page(
    state: &AppState,
    ctx: &RequestContext,
    next: &NextQuery,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some(session) = &ctx.session else {
        return Ok(see_other(&next.carry("/sign-in")));
    };
    let enrolment = match state.cista.begin_mfa_enrolment(session).await {
        Ok(e) => e,
        Err(Error::Conflict(_)) => return Ok(see_other(next.target().unwrap_or("/me"))),
        Err(e) => return Err(e.into()),
    };
    render(
        status,
        EnrolPage {
            chrome: Chrome::new(ctx, state),
            action: next.carry("/mfa/enrol"),
            required: session.stage == SessionStage::MfaEnrol,
            qr_data_uri: qr_data_uri(&enrolment.uri)?,
            secret: enrolment.secret_base32,
            errors,
        },
    )
}

pub async fn mfa_enrol_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    enrol_page(&state, &ctx, &next, Vec::new(), StatusCode::OK).await
}

/// Turns the authenticator on, then sends the browser (Post/Redirect/Get) to the page that
/// shows the recovery codes once: they travel sealed to the new session in a short-lived
/// cookie, so a reload shows them again and the server keeps only their hashes.
pub async fn mfa_enrol_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(session) = &ctx.session else {
        return Err(AppError(Error::Unauthenticated));
    };
    match state.cista.confirm_mfa_enrolment(session, &form.code).await {
        Ok((signed_in, codes)) => {
            let sealed = state.cista.seal_for_browser(
                "recovery-codes",
                &signed_in.token,
                RECOVERY_TTL,
                codes.join("\n").as_bytes(),
            )?;
            let mut response =
                signed_in_redirect(&state, &ctx, &signed_in, &next.carry("/mfa/recovery-codes"));
            if let Some(cookie) = sealed_cookie(RECOVERY_COOKIE, &sealed, RECOVERY_TTL) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Err(Error::CodeInvalid) => {
            let errors = vec![FormError::new(
                "code",
                "That code is not right. Check the time on your phone and try the newest code.",
            )];
            enrol_page(&state, &ctx, &next, errors, StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The recovery codes issued a moment ago, from the sealed cookie; then on to `next`.
pub async fn recovery_codes_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let onward = next.target().unwrap_or("/me").to_owned();
    let codes = match (&ctx.session_token, cookie_value(&headers, RECOVERY_COOKIE)) {
        (Some(token), Some(sealed)) => state
            .cista
            .open_from_browser("recovery-codes", token, &sealed)
            .and_then(|plain| String::from_utf8(plain).ok()),
        _ => None,
    };
    let Some(codes) = codes else {
        return Ok(see_other(&onward));
    };
    render(
        StatusCode::OK,
        RecoveryCodesPage {
            chrome: Chrome::new(&ctx, &state),
            codes: codes.lines().map(str::to_owned).collect(),
            next: onward,
        },
    )
}

fn challenge_page(chrome: Chrome, next: &NextQuery, errors: Vec<FormError>) -> CodePage {
    CodePage {
        chrome,
        heading: "Enter your authenticator code",
        intro: "Open your authenticator app and type the 6-digit code for Cista. Lost your phone? \
                Type one of your recovery codes instead.",
        action: next.carry("/mfa"),
        label: "Code",
        inputmode: "text",
        alternative: None,
        errors,
    }
}

pub async fn mfa_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
) -> Result<Response, AppError> {
    match ctx.session.as_ref().map(|s| s.stage) {
        Some(SessionStage::MfaPending) => render(
            StatusCode::OK,
            challenge_page(Chrome::new(&ctx, &state), &next, Vec::new()),
        ),
        Some(SessionStage::MfaEnrol) => Ok(see_other(&next.carry("/mfa/enrol"))),
        Some(_) => Ok(see_other(next.target().unwrap_or("/me"))),
        None => Ok(see_other(&next.carry("/sign-in"))),
    }
}

pub async fn mfa_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(next): Query<NextQuery>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(session) = &ctx.session else {
        return Err(AppError(Error::Unauthenticated));
    };
    match state.cista.verify_second_factor(session, &form.code).await {
        Ok(signed_in) => Ok(signed_in_redirect(
            &state,
            &ctx,
            &signed_in,
            next.target().unwrap_or("/me"),
        )),
        Err(Error::CodeInvalid) => render(
            StatusCode::BAD_REQUEST,
            challenge_page(
                Chrome::new(&ctx, &state),
                &next,
                vec![FormError::new(
                    "code",
                    "That code is not right, or it was already used.",
                )],
            ),
        ),
        Err(e) => Err(e.into()),
    }
}
