//! Staff pages of one organization: its home, its people (an audited read of personal data),
//! inviting someone, changing a role, resending an invitation, erasing a person. Every handler
//! asks the core, which checks the actor's role in this organization.

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use crate::web::pages::pager::{Pager, requested_page, requested_search};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::platform::people::last_administrator;
use cista_core::ports::{AccountStatus, BallotStatus, Organization};
use cista_core::products::assessment::AssessmentAction;
use cista_core::products::collection::CollectionAction;
use cista_core::products::voting::VotingAction;
use cista_core::products::voting::Window;
use cista_core::products::voting::directory::PersonWithUnits;
use cista_core::{Actor, Error, OrgAction};
use cista_types::words::{count, noun};
use cista_types::{Email, PhoneRegion, Role, SubjectCode, TimeZoneName};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "admin/org.html")]
struct OrgPage {
    chrome: Chrome,
    name: String,
    slug: String,
    role: String,
    can_view_people: bool,
    can_invite: bool,
    can_view_units: bool,
    can_view_ballots: bool,
    can_manage_settings: bool,
    can_manage_app_tokens: bool,
    can_manage_breaches: bool,
    can_manage_assessments: bool,
    /// The viewer reads collected records (owners, administrators, reviewers).
    can_view_records: bool,
    can_manage_webhooks: bool,
    can_manage_forms: bool,
    /// The viewer fills records here: a link to their phones (Cista Collect's sign-in).
    own_phones: Option<String>,
    /// The organization's assessments (key, title), for staff who may see their results.
    assessments: Vec<(String, String)>,
    /// The ballots open now, the one that closes first first.
    open_ballots: Vec<OpenBallot>,
    /// The organization's time zone, or what was typed when it was sent back.
    time_zone: String,
    zones: &'static [&'static str],
    /// The country for phone numbers (two letters), or what was typed; empty: none.
    phone_region: String,
    notice: Option<String>,
    errors: Vec<FormError>,
}

/// A ballot open for voting, on the organization's home.
struct OpenBallot {
    id: String,
    title: String,
    /// `12 of 40 units have voted (30 %)`.
    turnout: String,
    quorum_reached: bool,
    /// `3 December 2026, 17:00 EST`.
    closes: String,
}

#[derive(Template)]
#[template(path = "admin/portal.html")]
struct PortalPage {
    chrome: Chrome,
    /// (slug, name, role)
    organizations: Vec<(String, String, &'static str)>,
}

/// `/admin`: the organizations where the person is staff. With one, straight to it.
pub async fn portal(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
) -> Result<Response, AppError> {
    let orgs = state.cista.staff_organizations(&actor).await?;
    if let [(only, _)] = orgs.as_slice() {
        return Ok(see_other(&format!("/admin/{}", only.slug)));
    }
    if orgs.is_empty() {
        return Err(AppError(Error::Forbidden {
            action: OrgAction::ViewOrganization.describe(),
        }));
    }
    render(
        StatusCode::OK,
        PortalPage {
            chrome: Chrome::new(&ctx, &state),
            organizations: orgs
                .into_iter()
                .map(|(o, role)| (o.slug.to_string(), o.name.to_string(), role.label()))
                .collect(),
        },
    )
}

/// The organization's ballots open now, with turnout, the one that closes first first.
async fn open_ballots(
    state: &AppState,
    actor: &Actor,
    org: &Organization,
) -> Result<Vec<OpenBallot>, AppError> {
    if !actor.may_in(org.id, VotingAction::ViewBallots) {
        return Ok(Vec::new());
    }
    let mut open: Vec<_> = state
        .cista
        .ballots(actor, org.id)
        .await?
        .into_iter()
        .filter(|b| {
            b.status() == BallotStatus::Published && state.cista.window_of(b) == Window::Open
        })
        .collect();
    open.sort_by_key(|b| b.definition.closes_at);
    let mut out = Vec::with_capacity(open.len());
    for b in open {
        let live = state.cista.live_turnout(actor, &b).await?;
        let t = &live.turnout;
        let share = (t.voted_units * 100)
            .checked_div(t.eligible_units)
            .unwrap_or(0);
        out.push(OpenBallot {
            id: b.id().to_string(),
            title: b.definition.title.clone(),
            turnout: format!(
                "{} of {} {} voted ({share} %)",
                t.voted_units,
                count(t.eligible_units, "unit", "units"),
                noun(t.voted_units == 1, "has", "have"),
            ),
            quorum_reached: live.quorum_reached,
            closes: b.local(b.definition.closes_at),
        });
    }
    Ok(out)
}

/// Zones offered in the time zone field (any IANA name is accepted).
const COMMON_ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "UTC",
    "Europe/London",
    "Europe/Madrid",
];

struct PersonLine {
    subject: String,
    name: String,
    email: String,
    phone: Option<String>,
    role: &'static str,
    role_choices: Vec<(&'static str, &'static str, bool)>,
    status: &'static str,
    second_factor: bool,
    can_resend: bool,
    can_erase: bool,
    /// The viewer's own row: no erase button, no role change.
    own_row: bool,
    /// The organization's last administrator: not erased (see `last_administrator`).
    last_admin: bool,
    /// The units the person owns, e.g. `101, 305`.
    units: String,
    /// A collector whose phones the viewer manages: a link to them.
    phones: bool,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
struct PeoplePage {
    chrome: Chrome,
    name: String,
    slug: String,
    people: Vec<PersonLine>,
    notice: Option<String>,
    /// The search as typed (empty: everyone).
    q: String,
    /// `4300 people` (without a search).
    summary: String,
    /// `2 people match`, when searching.
    found: Option<String>,
    /// The links to the list's other pages (`ROWS_PER_PAGE` people a page).
    pages: Pager,
    /// The viewer may download what is held about a member (subject access requests).
    can_export_people: bool,
    /// Invitations to join waiting for an answer (people Cista already knew; nothing of them
    /// is shown until they accept).
    pending: Vec<super::invitations::PendingLine>,
}

/// The organization in the URL, for a fully signed-in person with a role in it.
pub(super) async fn organization(
    state: &AppState,
    actor: &Actor,
    slug: &str,
) -> Result<Organization, AppError> {
    Ok(state.cista.organization_for(actor, slug).await?)
}

#[allow(clippy::too_many_arguments)]
async fn org_page(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    time_zone: String,
    phone_region: String,
    notice: Option<String>,
    errors: Vec<FormError>,
) -> Result<OrgPage, AppError> {
    let role = actor
        .person()
        .and_then(|p| p.roles.get(&org.id))
        .map_or("operator", |r| r.label());
    let assessments = if actor.may_in(org.id, AssessmentAction::ViewResults) {
        state.cista.assessments_of(actor, org.id).await?
    } else {
        Vec::new()
    };
    Ok(OrgPage {
        assessments: assessments
            .into_iter()
            .map(|(key, title, _)| (key, title))
            .collect(),
        open_ballots: open_ballots(state, actor, org).await?,
        chrome: Chrome::new(ctx, state),
        name: org.name.to_string(),
        slug: org.slug.to_string(),
        role: role.to_owned(),
        can_view_people: actor.may_in(org.id, OrgAction::ViewPeople),
        can_invite: Role::ALL
            .iter()
            .any(|r| actor.may_in(org.id, OrgAction::Invite(*r))),
        can_view_units: actor.may_in(org.id, VotingAction::ViewUnits),
        can_view_ballots: actor.may_in(org.id, VotingAction::ViewBallots),
        can_manage_settings: actor.may_in(org.id, OrgAction::ManageSettings),
        can_manage_app_tokens: actor.may_in(org.id, OrgAction::ManageAppTokens),
        can_manage_breaches: actor.may_in(org.id, OrgAction::ManageBreaches),
        can_manage_assessments: actor.may_in(org.id, AssessmentAction::Manage),
        can_view_records: actor.may_in(org.id, OrgAction::ViewSubmissions),
        can_manage_webhooks: actor.may_in(org.id, CollectionAction::ManageWebhooks),
        can_manage_forms: actor.may_in(org.id, OrgAction::ManageForms),
        own_phones: actor
            .person()
            .filter(|p| p.roles.get(&org.id) == Some(&Role::Collector))
            .map(|p| format!("/admin/{}/people/{}/devices", org.slug, p.subject)),
        time_zone,
        zones: COMMON_ZONES,
        phone_region,
        notice,
        errors,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrgQuery {
    done: Option<String>,
}

pub async fn org_home(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<OrgQuery>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    let notice = (query.done.as_deref() == Some("settings")).then(|| {
        let phones = match org.phone_region {
            Some(r) => format!("Phone numbers without a country code are read as {r} numbers."),
            None => "Phone numbers must be written with their country code.".to_owned(),
        };
        format!(
            "The time zone is now {}. Ballots made from now on use it; existing ballots keep theirs. {phones}",
            org.time_zone
        )
    });
    let zone = org.time_zone.to_string();
    let region = org.phone_region.map(String::from).unwrap_or_default();
    render(
        StatusCode::OK,
        org_page(&state, &ctx, &actor, &org, zone, region, notice, Vec::new()).await?,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    time_zone: String,
    /// Absent: unchanged; empty: none.
    phone_region: Option<String>,
}

/// Changes the organization's time zone (the zone ballot windows are set and shown in).
pub async fn settings_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    actor.authorize_in(org.id, OrgAction::ManageSettings)?;
    let mut errors = Vec::new();
    let zone = TimeZoneName::parse(&form.time_zone)
        .map_err(|e| errors.push(FormError::from_error("time_zone", &Error::from(e))));
    let region = match form.phone_region.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(raw) => PhoneRegion::parse(raw)
            .map(|r| Some(Some(r)))
            .map_err(|e| errors.push(FormError::from_error("phone_region", &Error::from(e)))),
    };
    if let (Ok(zone), Ok(region)) = (zone, region) {
        state.cista.set_time_zone(&actor, org.id, zone).await?;
        if let Some(region) = region.filter(|r| *r != org.phone_region) {
            state.cista.set_phone_region(&actor, org.id, region).await?;
        }
        return Ok(see_other(&format!("/admin/{slug}?done=settings")));
    }
    let typed_region = form
        .phone_region
        .unwrap_or_else(|| org.phone_region.map(String::from).unwrap_or_default());
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        org_page(
            &state,
            &ctx,
            &actor,
            &org,
            form.time_zone,
            typed_region,
            None,
            errors,
        )
        .await?,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PeopleQuery {
    done: Option<String>,
    /// The search: part of a name or a unit label.
    q: String,
    /// The page of the list, from 1 (anything else: the first).
    page: Option<String>,
}

fn status_label(status: Option<AccountStatus>) -> &'static str {
    match status {
        Some(AccountStatus::Invited) => "invited",
        Some(AccountStatus::Active) => "active",
        Some(AccountStatus::Disabled) => "disabled",
        Some(AccountStatus::Erased) | None => "erased",
    }
}

pub async fn people(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<PeopleQuery>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    let q = requested_search(&query.q);
    let mut listed = state
        .cista
        .people_with_units(&actor, org.id, &q, requested_page(query.page.as_deref()))
        .await?;
    let roles = state
        .cista
        .store()
        .members(org.id)
        .await?
        .into_iter()
        .map(|m| (m.subject, m.role))
        .collect::<Vec<_>>();
    let pending = super::invitations::pending_lines(&state, &actor, &org).await?;
    let me = actor.person().map(|p| p.subject);
    let people: Vec<PersonLine> = std::mem::take(&mut listed.items)
        .into_iter()
        .map(|line| person_line(&actor, &org, &roles, me, line))
        .collect();
    let notice = match query.done.as_deref() {
        // The same words whether the address was new to Cista or not: someone already
        // known appears here only once they accept.
        Some("invited") => Some(
            "The invitation is on its way. Someone who already uses Cista with that address \
             joins (and appears here) once they accept it."
                .to_owned(),
        ),
        Some("role") => Some("The role is changed; their sessions ended.".to_owned()),
        Some("resent") => Some("A new invitation link is on its way.".to_owned()),
        Some("withdrawn") => {
            Some("The invitation is withdrawn: its link no longer works.".to_owned())
        }
        Some("erased") => Some("The person's personal data is erased.".to_owned()),
        _ => None,
    };
    let (summary, found) = if q.is_empty() {
        (count(listed.total, "person", "people"), None)
    } else {
        let found = count(listed.total, "person matches", "people match");
        (String::new(), Some(found))
    };
    let pages = Pager::new(
        "Pages of the people list",
        (&format!("/admin/{}/people", org.slug), "people"),
        &q,
        &listed,
    );
    render(
        StatusCode::OK,
        PeoplePage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            can_export_people: actor.may_in(org.id, OrgAction::ViewPeople),
            pending,
            people,
            notice,
            q,
            summary,
            found,
            pages,
        },
    )
}

/// One row of the people page; `roles` are every member's, `me` the viewer.
fn person_line(
    actor: &Actor,
    org: &Organization,
    roles: &[(SubjectCode, Role)],
    me: Option<SubjectCode>,
    line: PersonWithUnits,
) -> PersonLine {
    let row = line.person;
    let (name, email, phone) = match &row.fields {
        Some(f) => (
            format!("{} {}", f.first_name, f.last_name),
            f.email.as_ref().map(Email::masked).unwrap_or_default(),
            f.phone.as_ref().map(|p| masked_phone(p.as_str())),
        ),
        None => ("(erased)".to_owned(), String::new(), None),
    };
    let own_row = me == Some(row.subject);
    let last_admin = last_administrator(roles.iter().copied(), row.subject);
    let may_touch = actor.may_in(org.id, OrgAction::ChangeRole(row.role)) && !own_row;
    let role_choices = if may_touch && row.fields.is_some() {
        Role::ALL
            .iter()
            .filter(|r| actor.may_in(org.id, OrgAction::ChangeRole(**r)))
            .map(|r| (r.as_str(), r.short_label(), *r == row.role))
            .collect()
    } else {
        Vec::new()
    };
    PersonLine {
        subject: row.subject.to_string(),
        role: row.role.label(),
        role_choices,
        status: status_label(row.status),
        second_factor: row.second_factor,
        can_resend: row.status == Some(AccountStatus::Invited)
            && actor.may_in(org.id, OrgAction::ResendInvitation),
        can_erase: row.fields.is_some()
            && !own_row
            && !last_admin
            && actor.may_in(org.id, OrgAction::ErasePerson)
            // As the core rules (`erase_person`): administrators never erase owners. Someone
            // who belongs to another organization too is refused there, with the reason.
            && actor.may_in(org.id, OrgAction::ChangeRole(row.role)),
        own_row,
        last_admin,
        units: line.units.join(", "),
        phones: row.role == Role::Collector
            && row.fields.is_some()
            && actor.may_in(org.id, CollectionAction::ManageDevices),
        name,
        email,
        phone,
    }
}

/// A phone number with all but its last four digits hidden: `\u{2022}\u{2022}\u{2022} 0142`.
fn masked_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(4)).collect();
    format!("\u{2022}\u{2022}\u{2022} {tail}")
}

pub(super) fn subject(raw: &str) -> Result<SubjectCode, AppError> {
    SubjectCode::parse(raw).map_err(|_| {
        AppError(Error::NotFound {
            what: "this person",
        })
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, who)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    let role = Role::parse(&form.role).map_err(|e| AppError(Error::from(e)))?;
    state
        .cista
        .change_role(&actor, org.id, subject(&who)?, role)
        .await?;
    Ok(see_other(&format!("/admin/{slug}/people?done=role")))
}

pub async fn resend(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, who)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    state
        .cista
        .resend_invitation(&actor, org.id, subject(&who)?)
        .await?;
    Ok(see_other(&format!("/admin/{slug}/people?done=resent")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EraseForm {
    confirm: String,
}

pub async fn erase(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, who)): Path<(String, String)>,
    Form(form): Form<EraseForm>,
) -> Result<Response, AppError> {
    let org = organization(&state, &actor, &slug).await?;
    actor.authorize_in(org.id, OrgAction::ErasePerson)?;
    if form.confirm != "erase" {
        return Err(AppError(Error::invalid(
            "confirmation",
            "tick the box to confirm the erasure",
        )));
    }
    let who = subject(&who)?;
    if state.cista.store().membership(org.id, who).await?.is_none() {
        return Err(AppError(Error::NotFound {
            what: "this person",
        }));
    }
    state.cista.erase_person(&actor, who).await?;
    Ok(see_other(&format!("/admin/{slug}/people?done=erased")))
}
