//! Staff pages for units and owners: the roster, the CSV import (upload, then a preview of
//! what would change, then apply), an example file, and consent to online voting recorded
//! from a paper form (FL-01). The roster names each unit's owners and who votes for it to those
//! who may see people (an audited read); to others it shows how many owners a unit has.
//!
//! The preview carries the file to the apply step as base64 in a hidden field: a browser
//! rewrites line breaks in text fields (to CRLF), which would change the file's hash and so
//! the preview's fingerprint; base64 comes back byte for byte.

use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use crate::web::pages::pager::{Pager, requested_page, requested_search};
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use base64::Engine as _;
use cista_core::error::ImportProblem;
use cista_core::ports::{ConsentStatus, Organization, Unit};
use cista_core::products::voting::VotingAction;
use cista_core::products::voting::directory::{matches_search, page_of};
use cista_core::products::voting::import::ImportPlan;
use cista_core::{Actor, Error, OrgAction};
use cista_types::UnitId;
use cista_types::words::count;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/{org}/units", get(roster))
        .route("/admin/{org}/units/example.csv", get(example))
        .route("/admin/{org}/units/import", post(import_preview))
        .route("/admin/{org}/units/import/apply", post(import_apply))
        .route("/admin/{org}/units/{unit}/consent", post(consent))
}

/// The example file offered for download: two owners of one unit (one designated to vote),
/// an owner who opted out, one reachable by phone only.
pub const EXAMPLE_CSV: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n\
101,1.25,Ana,Ruiz,ana.ruiz@example.org,+13055550101,yes,yes\n\
101,,Luis,Ruiz,luis.ruiz@example.org,,,\n\
102,1,Bo,Li,bo.li@example.org,,,no\n\
103,0.75,Cy,Ng,,+13055550103,,\n";

struct UnitLine {
    id: String,
    label: String,
    weight: String,
    consent: &'static str,
    consented: bool,
    /// When and how consent was recorded; empty when never.
    consent_record: String,
    owners: usize,
    designated: bool,
    /// The owners by name (designated voter first), for those who may see people.
    owner_names: Vec<String>,
    /// Who votes for the unit, by name, `any owner` or `nobody`; for those who may see people.
    voter: String,
    retired: bool,
}

#[derive(Template)]
#[template(path = "admin/units/roster.html")]
struct RosterPage {
    chrome: Chrome,
    name: String,
    slug: String,
    units: Vec<UnitLine>,
    /// `40 units on file` (without a search).
    summary: String,
    /// `2 units match` (with a search).
    found: Option<String>,
    q: String,
    /// Whether owners are shown by name (the viewer may see people).
    with_names: bool,
    /// The links to the list's other pages (`ROWS_PER_PAGE` units a page).
    pages: Pager,
    can_manage: bool,
    notice: Option<String>,
    errors: Vec<FormError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: Option<String>,
    /// The search: part of a unit label or an owner's name.
    q: String,
    /// The page of the list, from 1 (anything else: the first).
    page: Option<String>,
}

async fn roster_page(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    (q, page): (&str, usize),
    notice: Option<String>,
    errors: Vec<FormError>,
) -> Result<RosterPage, AppError> {
    let zone = &org.time_zone;
    let line = |u: Unit, owners: usize, designated: bool| {
        let consent_record = match (u.consent_at, &u.consent_method) {
            (Some(at), Some(how)) => format!("{}, {how}", zone.format(at)),
            (Some(at), None) => zone.format(at),
            _ => String::new(),
        };
        UnitLine {
            id: u.id.to_string(),
            label: u.label.to_string(),
            weight: u.weight.to_string(),
            consent: u.consent.label(),
            consented: u.consent == ConsentStatus::Consented,
            consent_record,
            owners,
            designated,
            owner_names: Vec::new(),
            voter: String::new(),
            retired: u.retired_at.is_some(),
        }
    };
    let with_names = actor.may_in(org.id, OrgAction::ViewPeople);
    let (listed, active) = if with_names {
        let mut page = state
            .cista
            .units_with_owners(actor, org.id, q, page)
            .await?;
        let lines = std::mem::take(&mut page.listed.items)
            .into_iter()
            .map(|u| {
                let voter = match u.voter() {
                    Some(o) => o.name.clone().unwrap_or_else(|| "(erased)".to_owned()),
                    None if u.owners.is_empty() => "nobody".to_owned(),
                    None => "any owner".to_owned(),
                };
                let names = u
                    .owners
                    .iter()
                    .map(|o| o.name.clone().unwrap_or_else(|| "(erased)".to_owned()))
                    .collect();
                let designated = u.owners.iter().any(|o| o.designated);
                let mut l = line(u.unit, u.owners.len(), designated);
                l.owner_names = names;
                l.voter = voter;
                l
            })
            .collect();
        (page.listed.with_items(lines), page.active)
    } else {
        let roster = state.cista.roster(actor, org.id).await?;
        let active = roster
            .iter()
            .filter(|r| r.unit.retired_at.is_none())
            .count();
        let found: Vec<_> = roster
            .into_iter()
            .filter(|r| matches_search(q, &[r.unit.label.as_str()], &[]))
            .collect();
        let mut paged = page_of(found, page);
        let lines = std::mem::take(&mut paged.items)
            .into_iter()
            .map(|r| line(r.unit, r.owners, r.has_designated_voter))
            .collect();
        (paged.with_items(lines), active)
    };
    let (summary, found) = if q.is_empty() {
        (count(active, "unit on file", "units on file"), None)
    } else {
        let what = if with_names {
            ("unit matches", "units match")
        } else {
            ("unit label matches", "unit labels match")
        };
        (String::new(), Some(count(listed.total, what.0, what.1)))
    };
    let pages = Pager::new(
        "Pages of the units list",
        (&format!("/admin/{}/units", org.slug), "roster"),
        q,
        &listed,
    );
    Ok(RosterPage {
        chrome: Chrome::new(ctx, state),
        name: org.name.to_string(),
        slug: org.slug.to_string(),
        summary,
        found,
        q: q.to_owned(),
        with_names,
        pages,
        units: listed.items,
        can_manage: actor.may_in(org.id, VotingAction::ManageUnits),
        notice,
        errors,
    })
}

pub async fn roster(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let notice = match done.done.as_deref() {
        Some("imported") => Some(
            "The import is applied. New owners get their invitation when a ballot is published."
                .to_owned(),
        ),
        Some("consent") => Some("The unit's consent is recorded.".to_owned()),
        _ => None,
    };
    let q = requested_search(&done.q);
    let number = requested_page(done.page.as_deref());
    let page = roster_page(&state, &ctx, &actor, &org, (&q, number), notice, Vec::new()).await?;
    render(StatusCode::OK, page)
}

pub async fn example(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, VotingAction::ViewUnits)?;
    let mut response = (StatusCode::OK, EXAMPLE_CSV).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"cista-units-example.csv\""),
    );
    Ok(response)
}

struct ProblemLine {
    place: String,
    message: String,
}

#[derive(Template)]
#[template(path = "admin/units/problems.html")]
struct ProblemsPage {
    chrome: Chrome,
    name: String,
    slug: String,
    file_name: String,
    /// How many problems the file has; the first of them (at most 500) are `problems`.
    total: usize,
    problems: Vec<ProblemLine>,
}

#[derive(Template)]
#[template(path = "admin/units/preview.html")]
struct PreviewPage {
    chrome: Chrome,
    name: String,
    slug: String,
    file_name: String,
    empty: bool,
    units_added: Vec<String>,
    units_changed: Vec<(String, String)>,
    units_retired: Vec<String>,
    units_unchanged: usize,
    owners_added: Vec<(String, String)>,
    owners_removed: Vec<(String, String)>,
    people_new: usize,
    /// The sum of the file's unit weights.
    weight_total: String,
    /// How the file was read, e.g. "UTF-8, fields separated by semicolons, decimal commas".
    file_format: String,
    warnings: Vec<String>,
    fingerprint: String,
    file_base64: String,
}

impl PreviewPage {
    fn of(
        chrome: Chrome,
        org: &Organization,
        file_name: String,
        plan: ImportPlan,
        bytes: &[u8],
    ) -> Self {
        Self {
            chrome,
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            file_name,
            empty: plan.is_empty(),
            units_changed: plan
                .units_changed
                .iter()
                .map(|c| (c.label.clone(), c.changes.join("; ")))
                .collect(),
            units_added: plan.units_added,
            units_retired: plan.units_retired,
            units_unchanged: plan.units_unchanged,
            owners_added: plan.owners_added,
            owners_removed: plan.owners_removed,
            people_new: plan.people_new,
            weight_total: plan.weight_total,
            file_format: plan.file_format,
            warnings: plan.warnings,
            fingerprint: plan.fingerprint,
            file_base64: carried(bytes),
        }
    }
}

/// The previewed file as the page carries it back to `import_apply`: gzip, then base64. The
/// apply form is url-encoded under the same body limit as the upload, and base64 alone made
/// a file over about 740 KB a third larger again (and each `+` and `/` three characters), so
/// a file that previewed cleanly was refused with 413 when applied. A roster compresses
/// several times over; `fits_the_apply_form` checks the rest before the preview is shown.
fn carried(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a vector does not fail.
    let _ = gz.write_all(bytes);
    let packed = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(packed)
}

/// The file `carried` made, read back: at most `limit` bytes once unpacked (the upload's own
/// limit), so a crafted body cannot unpack into more than an upload could hold.
fn uncarried(text: &str, limit: usize) -> Result<Vec<u8>, AppError> {
    use std::io::Read as _;
    let broken = || {
        AppError(Error::BadRequest {
            reason: "the previewed file did not come back intact; upload it again".to_owned(),
        })
    };
    let packed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| broken())?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(packed.as_slice())
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| broken())?;
    if bytes.len() > limit {
        return Err(broken());
    }
    Ok(bytes)
}

/// Whether the apply form for `carried_text` (url-encoded: `+` and `/` take three characters
/// each, and the token and fingerprint about 300 more) fits under `limit` bytes.
fn fits_the_apply_form(carried_text: &str, limit: usize) -> bool {
    let escaped = carried_text
        .bytes()
        .filter(|b| matches!(b, b'+' | b'/' | b'='))
        .count();
    carried_text.len() + 2 * escaped + 1024 <= limit
}

fn problems_page(
    chrome: Chrome,
    org: &Organization,
    file_name: String,
    problems: &[ImportProblem],
    total: usize,
) -> ProblemsPage {
    ProblemsPage {
        chrome,
        name: org.name.to_string(),
        slug: org.slug.to_string(),
        file_name,
        total,
        problems: problems
            .iter()
            .map(|p| ProblemLine {
                place: match &p.column {
                    Some(c) => format!("line {}, column {c}", p.line),
                    None => format!("line {}", p.line),
                },
                message: p.message.clone(),
            })
            .collect(),
    }
}

/// Reads the uploaded file (the `file` field) from the multipart form.
async fn uploaded_file(multipart: &mut Multipart) -> Result<Option<(String, Vec<u8>)>, AppError> {
    let unreadable = |_| {
        AppError(Error::BadRequest {
            reason: "the uploaded form could not be read".to_owned(),
        })
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_owned();
        let bytes = field.bytes().await.map_err(unreadable)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        return Ok(Some((name, bytes.to_vec())));
    }
    Ok(None)
}

/// Step one: the uploaded file, checked and compared with the roster on file.
pub async fn import_preview(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, VotingAction::ManageUnits)?;
    let Some((file_name, bytes)) = uploaded_file(&mut multipart).await? else {
        let errors = vec![FormError::new(
            "file",
            "Choose the CSV file of units and owners to import.",
        )];
        let page = roster_page(&state, &ctx, &actor, &org, ("", 1), None, errors).await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, page);
    };
    let chrome = Chrome::new(&ctx, &state);
    match state.cista.plan_import(&actor, org.id, &bytes).await {
        Ok(plan) => {
            let page = PreviewPage::of(chrome, &org, file_name, plan, &bytes);
            if !fits_the_apply_form(&page.file_base64, state.limits.body_bytes) {
                // Only a file that hardly compresses: said before any preview, not after.
                let errors = vec![FormError::new(
                    "file",
                    "This file is too large to import through this page once it is \
                     checked. Import it at the command line: cista members import FILE \
                     --org SLUG.",
                )];
                let page = roster_page(&state, &ctx, &actor, &org, ("", 1), None, errors).await?;
                return render(StatusCode::PAYLOAD_TOO_LARGE, page);
            }
            render(StatusCode::OK, page)
        }
        Err(Error::ImportRejected { problems, total }) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems_page(chrome, &org, file_name, &problems, total),
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApplyForm {
    file_base64: String,
    fingerprint: String,
}

/// Step two: apply the previewed file, if neither it nor the roster changed since.
pub async fn import_apply(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<ApplyForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, VotingAction::ManageUnits)?;
    let bytes = uncarried(&form.file_base64, state.limits.body_bytes)?;
    match state
        .cista
        .apply_import(&actor, org.id, &bytes, &form.fingerprint, &|_, _| {})
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/{}/units?done=imported",
            org.slug
        ))),
        Err(Error::ImportRejected { problems, total }) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems_page(
                Chrome::new(&ctx, &state),
                &org,
                String::new(),
                &problems,
                total,
            ),
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsentForm {
    consent: String,
}

/// Consent (or an opt-out) received on a paper form, recorded by staff.
pub async fn consent(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, unit)): Path<(String, String)>,
    Form(form): Form<ConsentForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, VotingAction::ManageUnits)?;
    let not_found = || AppError(Error::NotFound { what: "this unit" });
    let unit = unit
        .parse::<i64>()
        .map(UnitId::from_i64)
        .map_err(|_| not_found())?;
    // The unit must be this organization's: the URL names both.
    match state.cista.store().voting().unit(unit).await? {
        Some(u) if u.org == org.id => {}
        _ => return Err(not_found()),
    }
    let status = match form.consent.as_str() {
        "yes" => ConsentStatus::Consented,
        "no" => ConsentStatus::OptedOut,
        _ => {
            return Err(AppError(Error::invalid(
                "consent",
                "choose consented or opted out",
            )));
        }
    };
    state.cista.record_consent(&actor, unit, status).await?;
    Ok(see_other(&format!(
        "/admin/{}/units?done=consent",
        org.slug
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_previewed_file_comes_back_whole_and_never_larger_than_an_upload() {
        let roster = EXAMPLE_CSV.repeat(2000);
        let text = carried(roster.as_bytes());
        assert!(text.len() < roster.len() / 4, "{} bytes", text.len());
        assert_eq!(uncarried(&text, roster.len()).unwrap(), roster.as_bytes());
        // A body crafted to unpack into more than an upload could hold is refused.
        assert!(uncarried(&text, roster.len() - 1).is_err());
        let bomb = carried(&vec![b'a'; 50 * 1024 * 1024]);
        assert!(bomb.len() < 200_000);
        assert!(uncarried(&bomb, 1024 * 1024).is_err());
        assert!(uncarried("no base64 here", 1024).is_err());
        assert!(
            uncarried(
                &base64::engine::general_purpose::STANDARD.encode("plain"),
                1024
            )
            .is_err()
        );
        // The apply form's size counts the characters url-encoding triples.
        assert!(fits_the_apply_form(&"a".repeat(1000), 2024));
        assert!(!fits_the_apply_form(&"+".repeat(1000), 2024));
    }
}
