//! The organization's App tokens page (`/admin/{org}/app-tokens`): list, create, revoke.
//! A new token is shown once: the form's redirect carries it sealed to this session in a
//! short-lived cookie, the page after the redirect opens it, shows it and removes the cookie
//! (Post/Redirect/Get, as the recovery codes are shown).

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, ShownOnce, with_notice};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::platform::access::app_tokens::{
    AppPurpose, AppTokenRequest, DEFAULT_LIFETIME_DAYS,
};
use cista_core::ports::{AppTokenId, Organization};
use cista_core::{Actor, Error, OrgAction};
use cista_types::TimeZoneName;
use serde::Deserialize;

/// The new token, sealed to the session for the page after the redirect.
const NEW_TOKEN: ShownOnce = ShownOnce {
    cookie: "__Host-cista_app_token",
    purpose: "app-token",
    ttl: time::Duration::minutes(5),
};

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    days: String,
}

struct Row {
    id: String,
    label: String,
    purpose: &'static str,
    state: &'static str,
    expires: String,
    last_used: String,
    created_by: String,
}

struct Fields {
    label: String,
    purpose: String,
    days: String,
}

#[derive(Template)]
#[template(path = "admin/app_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    name: String,
    slug: String,
    tokens: Vec<Row>,
    new_secret: Option<String>,
    purposes: Vec<(&'static str, String)>,
    form: Fields,
    errors: Vec<FormError>,
}

async fn staff_org(state: &AppState, actor: &Actor, slug: &str) -> Result<Organization, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    actor.authorize_in(org.id, OrgAction::ManageAppTokens)?;
    Ok(org)
}

#[allow(clippy::too_many_arguments)]
async fn page_for(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    new_secret: Option<String>,
    form: Fields,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let now = state.cista.clock().now();
    let me = actor.audit_name();
    let zone = &org.time_zone;
    let when = |at| TimeZoneName::format_precise(zone, at);
    let tokens = state
        .cista
        .app_tokens(actor, org.id)
        .await?
        .into_iter()
        .map(|t| Row {
            id: t.id.to_string(),
            purpose: t.purpose.as_str(),
            state: t.state(now).as_str(),
            expires: when(t.expires_at),
            last_used: t.last_used_at.map_or_else(|| "never".to_owned(), when),
            created_by: if t.created_by == me {
                "you".to_owned()
            } else {
                t.created_by
            },
            label: t.label,
        })
        .collect();
    render(
        status,
        TokensPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            tokens,
            new_secret,
            purposes: AppPurpose::ALL
                .iter()
                .map(|p| (p.as_str(), format!("{}: {}", p.as_str(), p.describe())))
                .collect(),
            form,
            errors,
        },
    )
}

fn empty_form() -> Fields {
    Fields {
        label: String::new(),
        purpose: AppPurpose::VotingResults.as_str().to_owned(),
        days: DEFAULT_LIFETIME_DAYS.to_string(),
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let (new_secret, had_cookie) = NEW_TOKEN.take(&state, &ctx, &headers);
    let mut response = page_for(
        &state,
        &ctx,
        &actor,
        &org,
        new_secret,
        empty_form(),
        Vec::new(),
        StatusCode::OK,
    )
    .await?;
    if had_cookie {
        NEW_TOKEN.forget(&mut response);
    }
    Ok(response)
}

pub async fn create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let fields = Fields {
        label: form.label.clone(),
        purpose: form.purpose.clone(),
        days: form.days.clone(),
    };
    let refuse = async |errors: Vec<FormError>| {
        page_for(
            &state,
            &ctx,
            &actor,
            &org,
            None,
            fields,
            errors,
            StatusCode::BAD_REQUEST,
        )
        .await
    };
    let Some(purpose) = AppPurpose::parse(&form.purpose) else {
        return refuse(vec![FormError::new(
            "purpose",
            "Choose one of the purposes.",
        )])
        .await;
    };
    let Ok(lifetime_days) = form.days.trim().parse::<i64>() else {
        return refuse(vec![FormError::new(
            "days",
            "Give the number of days, 1 to 365.",
        )])
        .await;
    };
    let request = AppTokenRequest {
        purpose,
        label: form.label,
        lifetime_days,
    };
    let made = match state.cista.create_app_token(&actor, org.id, &request).await {
        Ok(made) => made,
        Err(Error::InvalidInput { field, reason }) => {
            let field = if field == "label" { "label" } else { "days" };
            return refuse(vec![FormError::new(field, capitalised(&reason))]).await;
        }
        Err(e) => return Err(e.into()),
    };
    NEW_TOKEN.redirect(
        &state,
        &ctx,
        &format!("/admin/{}/app-tokens", org.slug),
        made.secret.as_bytes(),
    )
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let id: AppTokenId = id
        .parse()
        .map_err(|_| Error::NotFound { what: "that token" })?;
    state.cista.revoke_app_token(&actor, org.id, id).await?;
    let response = see_other(&format!("/admin/{}/app-tokens", org.slug));
    Ok(with_notice(
        &state,
        &ctx,
        response,
        &format!("Token {id} is revoked: its next call is refused."),
    ))
}

fn capitalised(reason: &str) -> String {
    let mut chars = reason.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}
