//! Signing in by a code sent by SMS: asking for the code, then giving it.

use super::{CodeForm, CodePage, NextQuery, SingleFieldPage, next_for, signed_in_redirect};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, cookie_value};
use crate::web::limits::at_response_floor;
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::Error;
use serde::Deserialize;

const SMS_COOKIE: &str = "__Host-cista_sms";

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
    let result = at_response_floor(
        state.auth_limiter.settings.response_floor,
        state
            .cista
            .request_sms_code_from(&form.identifier, &ctx.requester),
    )
    .await;
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
