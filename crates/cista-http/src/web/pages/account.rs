//! The signed-in person's own pages: their organizations and roles, and changing their
//! password.

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, clear_session_cookie};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::{Access, Error, OrgAction};
use cista_types::Password;
use serde::Deserialize;

struct OrgLine {
    name: String,
    slug: String,
    role: &'static str,
    staff_link: bool,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    chrome: Chrome,
    first_name: String,
    sms_session: bool,
    second_factor: bool,
    organizations: Vec<OrgLine>,
    notice: Option<String>,
}

pub async fn me(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, session }: SignedIn,
) -> Result<Response, AppError> {
    let cista = &state.cista;
    let sms_session = actor
        .person()
        .is_some_and(|p| p.access == Access::SmsRestricted);
    let organizations = cista
        .my_organizations(&actor)
        .await?
        .into_iter()
        .map(|(org, role)| OrgLine {
            staff_link: actor.may_in(org.id, OrgAction::ViewPeople)
                || actor.may_in(org.id, OrgAction::Invite(cista_types::Role::Member)),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            role: role.label(),
        })
        .collect();
    let second_factor = cista
        .store()
        .account(session.subject)
        .await?
        .is_some_and(|a| a.totp_secret.is_some());
    render(
        StatusCode::OK,
        MePage {
            chrome: Chrome::new(&ctx, &state),
            first_name: cista.my_first_name(session.subject).await?.to_string(),
            sms_session,
            second_factor,
            organizations,
            notice: None,
        },
    )
}

#[derive(Template)]
#[template(path = "me_password.html")]
struct PasswordPage {
    chrome: Chrome,
    errors: Vec<FormError>,
}

pub async fn password_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { .. }: SignedIn,
) -> Result<Response, AppError> {
    render(
        StatusCode::OK,
        PasswordPage {
            chrome: Chrome::new(&ctx, &state),
            errors: Vec::new(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeForm {
    current: String,
    password: String,
    confirm: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Form(form): Form<ChangeForm>,
) -> Result<Response, AppError> {
    let again = |errors: Vec<FormError>| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            PasswordPage {
                chrome: Chrome::new(&ctx, &state),
                errors,
            },
        )
    };
    let new = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(e) => return again(vec![FormError::from_error("password", &Error::from(e))]),
    };
    if form.password != form.confirm {
        return again(vec![FormError::new(
            "confirm",
            "The two new passwords are not the same.",
        )]);
    }
    match state
        .cista
        .change_password_from(&actor, &form.current, &new, &ctx.requester)
        .await
    {
        Ok(()) => {
            let mut response = see_other("/sign-in?done=changed");
            response
                .headers_mut()
                .append(header::SET_COOKIE, clear_session_cookie());
            Ok(response)
        }
        Err(e @ Error::InvalidInput { .. }) => again(vec![FormError::from_error("current", &e)]),
        Err(e @ Error::WeakPassword { .. }) => again(vec![FormError::from_error("password", &e)]),
        // Locked after too many wrong current passwords: the form again, saying so (429).
        Err(Error::RateLimited { retry_after_secs }) => {
            let wait = cista_core::error::wait_phrase(retry_after_secs);
            let mut response = again(vec![FormError::new(
                "current",
                format!("Too many wrong passwords. Try again in {wait}."),
            )])?;
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}
