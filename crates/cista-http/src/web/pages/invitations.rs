//! Inviting someone to an organization, and the people page's invitations to join waiting
//! for an answer (sent to people Cista already knew through another organization), which staff
//! may withdraw.

use super::admin::{organization, subject};
use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::platform::access::invitations::Invitee;
use cista_core::ports::Organization;
use cista_core::{Actor, Error, OrgAction};
use cista_types::{Email, PersonName, Phone, Role};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    role: String,
}

#[derive(Template)]
#[template(path = "admin/invite.html")]
struct InvitePage {
    chrome: Chrome,
    name: String,
    slug: String,
    roles: Vec<(&'static str, &'static str, bool)>,
    form: InviteForm,
    /// The organization's country for phone numbers, for the hint.
    phone_region: Option<String>,
    errors: Vec<FormError>,
}

/// One invitation to join waiting for an answer, as the people page lists it: its role and
/// dates, nothing of the person.
pub(super) struct PendingLine {
    pub subject: String,
    pub role: &'static str,
    pub sent: String,
    pub expires: String,
    /// The viewer may withdraw it (they could invite with its role).
    pub can_withdraw: bool,
}

/// The organization's invitations to join waiting for an answer, oldest first.
pub(super) async fn pending_lines(
    state: &AppState,
    actor: &Actor,
    org: &Organization,
) -> Result<Vec<PendingLine>, AppError> {
    Ok(state
        .cista
        .pending_join_invitations(actor, org.id)
        .await?
        .into_iter()
        .map(|p| PendingLine {
            subject: p.subject.to_string(),
            role: p.role.short_label(),
            sent: org.time_zone.format(p.sent_at),
            expires: org.time_zone.format(p.expires_at),
            can_withdraw: actor.may_in(org.id, OrgAction::Invite(p.role)),
        })
        .collect())
}

/// `POST /admin/{org}/invitations/{subject}/withdraw`: the link stops working.
pub async fn withdraw(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, who)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    state
        .cista
        .withdraw_join_invitation(&actor, org.id, subject(&who)?)
        .await?;
    Ok(see_other(&format!("/admin/{slug}/people?done=withdrawn")))
}

fn invite_roles(
    actor: &Actor,
    org: &Organization,
    chosen: &str,
) -> Vec<(&'static str, &'static str, bool)> {
    Role::ALL
        .iter()
        .filter(|r| actor.may_in(org.id, OrgAction::Invite(**r)))
        .map(|r| (r.as_str(), r.label(), r.as_str() == chosen))
        .collect()
}

pub async fn invite_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    let roles = invite_roles(&actor, &org, "member");
    if roles.is_empty() {
        return Err(AppError(Error::Forbidden {
            action: OrgAction::Invite(Role::Member).describe(),
        }));
    }
    render(
        StatusCode::OK,
        InvitePage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            roles,
            phone_region: org.phone_region.map(String::from),
            form: InviteForm {
                role: "member".to_owned(),
                ..InviteForm::default()
            },
            errors: Vec::new(),
        },
    )
}

pub async fn invite_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<InviteForm>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    let mut errors = Vec::new();
    let first_name = PersonName::parse(&form.first_name)
        .map_err(|e| errors.push(FormError::from_error("first_name", &Error::from(e))));
    let last_name = PersonName::parse(&form.last_name)
        .map_err(|e| errors.push(FormError::from_error("last_name", &Error::from(e))));
    let email = Email::parse(&form.email)
        .map_err(|e| errors.push(FormError::from_error("email", &Error::from(e))));
    let phone = if form.phone.trim().is_empty() {
        Ok(None)
    } else {
        Phone::parse(&form.phone, org.phone_region)
            .map(Some)
            .map_err(|e| errors.push(FormError::from_error("phone", &Error::from(e))))
    };
    let role = Role::parse(&form.role)
        .map_err(|e| errors.push(FormError::from_error("role", &Error::from(e))));
    if let (Ok(first_name), Ok(last_name), Ok(email), Ok(phone), Ok(role)) =
        (first_name, last_name, email, phone, role)
    {
        let invitee = Invitee {
            first_name,
            last_name,
            email,
            phone,
            role,
        };
        match state.cista.invite(&actor, org.id, invitee).await {
            Ok(_) => return Ok(see_other(&format!("/admin/{slug}/people?done=invited"))),
            // Already a member, or invited too often this hour: said beside the address.
            Err(e @ (Error::Conflict(_) | Error::RateLimited { .. })) => {
                errors.push(FormError::from_error("email", &e))
            }
            Err(e) => return Err(e.into()),
        }
    }
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        InvitePage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            roles: invite_roles(&actor, &org, &form.role),
            slug: org.slug.to_string(),
            phone_region: org.phone_region.map(String::from),
            form,
            errors,
        },
    )
}
