//! The second factor: enrolling an authenticator, the recovery codes shown once, and the
//! challenge at sign-in.

use super::{CodeForm, CodePage, NextQuery, signed_in_redirect};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, cookie_value, sealed_cookie};
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use base64::Engine as _;
use cista_core::Error;
use cista_core::ports::SessionStage;

/// Freshly issued recovery codes, sealed to the new session for the page after the redirect.
const RECOVERY_COOKIE: &str = "__Host-cista_recovery";
const RECOVERY_TTL: time::Duration = time::Duration::minutes(10);

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

// --- second factor -----------------------------------------------------------------------------

pub(crate) fn qr_data_uri(uri: &str) -> Result<String, AppError> {
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
