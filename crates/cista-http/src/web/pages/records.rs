//! The review portal of field data collection (issue 13, item 6), for owners, administrators
//! and reviewers: `/admin/{org}/records` lists the records newest first, filtered by form,
//! review state, collector, days received and area (a box of south, west, north and east
//! edges in degrees); `/admin/{org}/records/{id}` shows one record with
//! its answers in the words of its form, its point, its photos (thumbnails opening the photo;
//! signed URLs, their issue audited) and its reviews, and takes a new review: a state and a
//! comment the collector sees on the phone. `/media/…` serves a photo a signed URL names.

use super::chrome::{Chrome, FormError, render, see_other};
use super::names::Names;
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use cista_core::Error;
use cista_core::products::collection::area::Area;
use cista_core::products::collection::delivery::{MediaRequest, MediaVariant, PhotoLinks};
use cista_core::products::collection::records::{MAX_LISTED, RecordFilter, RecordRow};
use cista_core::products::collection::{CollectionAction, ReviewState};
use cista_types::{OrgId, SubmissionId, TimeZoneName};
use serde::Deserialize;

/// The portal's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/{org}/records", get(list))
        .route("/admin/{org}/records/map", get(super::records_map::map))
        .route("/admin/{org}/records.csv", get(super::records_export::csv))
        .route(
            "/admin/{org}/records.geojson",
            get(super::records_export::geojson),
        )
        .route("/admin/{org}/records.zip", get(super::records_export::zip))
        .route("/admin/{org}/records/{id}", get(record))
        .route("/admin/{org}/records/{id}/review", post(review))
        .route("/media/{org}/{record}/{name}/{variant}", get(media))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    form: String,
    state: String,
    collector: String,
    days: String,
    south: String,
    west: String,
    north: String,
    east: String,
}

impl ListQuery {
    /// The filters as a query string (`?form=…&state=…`), for the map and export links.
    pub(crate) fn as_query_string(&self) -> String {
        let pairs = [
            ("form", &self.form),
            ("state", &self.state),
            ("collector", &self.collector),
            ("days", &self.days),
            ("south", &self.south),
            ("west", &self.west),
            ("north", &self.north),
            ("east", &self.east),
        ];
        let kept: Vec<(&str, &String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        match serde_urlencoded::to_string(kept) {
            Ok(q) if !q.is_empty() => format!("?{q}"),
            _ => String::new(),
        }
    }
}

/// The area the query asks for: none when its four edges are all empty.
fn area_of(query: &ListQuery) -> Result<Option<Area>, FormError> {
    let edges = [&query.south, &query.west, &query.north, &query.east];
    if edges.iter().all(|e| e.trim().is_empty()) {
        return Ok(None);
    }
    Area::parse(&query.south, &query.west, &query.north, &query.east)
        .map(Some)
        .map_err(|e| match e {
            Error::InvalidInput { field, reason } => {
                let field = ["west", "north", "east"]
                    .into_iter()
                    .find(|f| *f == field)
                    .unwrap_or("south");
                FormError::new(field, format!("The area's {field} edge {reason}."))
            }
            other => FormError::from_error("south", &other),
        })
}

impl ListQuery {
    /// The filters other than the area that are set, by name.
    pub(crate) fn other_than_area(&self) -> Vec<(&'static str, String)> {
        [
            ("form", &self.form),
            ("state", &self.state),
            ("collector", &self.collector),
            ("days", &self.days),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }
}

/// The filter the query asks for, and what was wrong with it (a bad number of days or a bad
/// area is left out of the filter and reported).
pub(crate) fn filter_of(state: &AppState, query: &ListQuery) -> (RecordFilter, Vec<FormError>) {
    let mut errors = Vec::new();
    let days = query.days.trim();
    let since = match days.parse::<i64>() {
        _ if days.is_empty() => None,
        Ok(n) if (1..=36_600).contains(&n) => {
            let now = state.cista.clock().now();
            Some(now.plus(time::Duration::days(-n)))
        }
        _ => {
            errors.push(FormError::new("days", "Give a number of days, such as 7."));
            None
        }
    };
    let area = area_of(query).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    // A state that is none of the list's is refused, not read as "any state": an export must
    // never hold more than was asked for.
    let wanted = query.state.trim();
    let state = ReviewState::parse(wanted);
    if state.is_none() && !wanted.is_empty() {
        errors.push(FormError::new(
            "state",
            "Choose a state from the list: received, approved, rejected or needs changes.",
        ));
    }
    let filter = RecordFilter {
        form: Some(query.form.clone()).filter(|f| !f.is_empty()),
        state,
        collector: Some(query.collector.clone()).filter(|c| !c.is_empty()),
        since,
        area,
    };
    (filter, errors)
}

/// The filter the query asks for, all of it, or a coded `invalid_input` (`400`) naming what
/// is wrong: an export holds exactly what was asked, never more.
pub(crate) fn exact_filter_of(
    state: &AppState,
    query: &ListQuery,
) -> Result<RecordFilter, AppError> {
    let (filter, errors) = filter_of(state, query);
    match errors.into_iter().next() {
        None => Ok(filter),
        Some(e) => Err(AppError(Error::invalid(e.field, e.message))),
    }
}

/// The four edges of the area as the form shows them.
pub(crate) fn area_fields(query: &ListQuery) -> [(&'static str, &'static str, String); 4] {
    [
        ("south", "South edge (latitude)", query.south.clone()),
        ("west", "West edge (longitude)", query.west.clone()),
        ("north", "North edge (latitude)", query.north.clone()),
        ("east", "East edge (longitude)", query.east.clone()),
    ]
}

struct Line {
    id: String,
    received: String,
    form: String,
    collector: String,
    state: &'static str,
    state_key: &'static str,
    summary: String,
    point: String,
}

#[derive(Template)]
#[template(path = "admin/records.html")]
struct ListPage {
    chrome: Chrome,
    name: String,
    slug: String,
    lines: Vec<Line>,
    /// Key, title, chosen.
    forms: Vec<(String, String, bool)>,
    /// Value, label, chosen.
    states: Vec<(&'static str, &'static str, bool)>,
    /// Value (`subject:…`), label, chosen.
    collectors: Vec<(String, String, bool)>,
    days: String,
    /// Name, label, value of each edge of the area.
    area: [(&'static str, &'static str, String); 4],
    /// The filters as a query string, for the map and export links.
    query: String,
    /// The filters held (when not, nothing is listed).
    filtered: bool,
    /// The list holds `MAX_LISTED` records, the newest that match: there may be more.
    capped: bool,
    errors: Vec<FormError>,
}

fn line(row: &RecordRow, zone: &TimeZoneName, names: &Names) -> Line {
    Line {
        id: row.submission.as_i64().to_string(),
        received: TimeZoneName::format_precise(zone, row.received_at),
        form: row.form_title.clone(),
        collector: names.of(&row.collector),
        state: row.state.label(),
        state_key: row.state.as_str(),
        summary: row.summary.clone(),
        point: row
            .point
            .map_or_else(String::new, |(lat, lon, _)| format!("{lat:.4}, {lon:.4}")),
    }
}

/// `GET /admin/{org}/records`.
pub async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let (filter, errors) = filter_of(&state, &query);
    // The newest records give the filters' choices; a filter is applied to every record (an
    // older match past the newest `MAX_LISTED` is found), in a read of its own.
    let all = state
        .cista
        .records(&actor, org.id, &RecordFilter::default())
        .await?;
    // A filter that does not hold lists nothing (rather than everything under its error).
    let matching = if !errors.is_empty() {
        Vec::new()
    } else if filter == RecordFilter::default() {
        all.clone()
    } else {
        state.cista.records(&actor, org.id, &filter).await?
    };
    let rows: Vec<&RecordRow> = matching.iter().collect();
    // The collectors of what is shown too: a filter's older matches are not among `all`.
    let names = Names::read(
        &state,
        &actor,
        org.id,
        all.iter().chain(&matching).map(|r| r.collector.as_str()),
        "records list",
    )
    .await;
    let mut forms: Vec<(String, String, bool)> = Vec::new();
    let mut collectors: Vec<(String, String, bool)> = Vec::new();
    for row in &all {
        if !forms.iter().any(|(k, _, _)| *k == row.form_key) {
            let chosen = query.form == row.form_key;
            forms.push((row.form_key.clone(), row.form_title.clone(), chosen));
        }
        if !collectors.iter().any(|(c, _, _)| *c == row.collector) {
            let label = names.of(&row.collector);
            let chosen = query.collector == row.collector;
            collectors.push((row.collector.clone(), label, chosen));
        }
    }
    collectors.sort_by(|a, b| a.1.cmp(&b.1));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        ListPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            lines: rows
                .iter()
                .map(|r| line(r, &org.time_zone, &names))
                .collect(),
            filtered: errors.is_empty(),
            capped: rows.len() >= MAX_LISTED,
            forms,
            states: ReviewState::ALL
                .iter()
                .map(|s| (s.as_str(), s.label(), query.state == s.as_str()))
                .collect(),
            collectors,
            days: query.days.clone(),
            area: area_fields(&query),
            query: query.as_query_string(),
            errors,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/record.html")]
struct RecordPage {
    chrome: Chrome,
    name: String,
    slug: String,
    line: Line,
    answers: Vec<(String, String)>,
    photos: Vec<PhotoLinks>,
    /// State label, comment, when, by whom.
    reviews: Vec<(&'static str, String, String, String)>,
    states: Vec<(&'static str, &'static str)>,
    can_review: bool,
    errors: Vec<FormError>,
}

fn record_id(raw: &str) -> Result<SubmissionId, AppError> {
    raw.parse::<i64>().map(SubmissionId::from_i64).map_err(|_| {
        AppError(Error::NotFound {
            what: "that record",
        })
    })
}

async fn record_page(
    state: &AppState,
    ctx: &RequestContext,
    actor: &cista_core::Actor,
    slug: &str,
    id: SubmissionId,
    errors: Vec<FormError>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    let detail = state.cista.record_detail(actor, org.id, id).await?;
    let zone = &org.time_zone;
    let names = Names::read(
        state,
        actor,
        org.id,
        std::iter::once(detail.row.collector.as_str())
            .chain(detail.status.reviews.iter().map(|r| r.reviewed_by.as_str())),
        "record page",
    )
    .await;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        RecordPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            line: line(&detail.row, zone, &names),
            answers: detail.answers,
            photos: detail.photos,
            reviews: detail
                .status
                .reviews
                .iter()
                .map(|r| {
                    (
                        r.state.label(),
                        r.comment.clone(),
                        TimeZoneName::format_precise(zone, r.reviewed_at),
                        names.of(&r.reviewed_by),
                    )
                })
                .collect(),
            states: ReviewState::ALL
                .iter()
                .filter(|s| **s != ReviewState::Received)
                .map(|s| (s.as_str(), s.label()))
                .collect(),
            can_review: actor.may_in(org.id, CollectionAction::Review),
            errors,
        },
    )
}

/// `GET /admin/{org}/records/{id}`.
pub async fn record(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    record_page(&state, &ctx, &actor, &slug, record_id(&id)?, Vec::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    state: String,
    comment: String,
}

/// `POST /admin/{org}/records/{id}/review`.
pub async fn review(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let id = record_id(&id)?;
    let Some(chosen) = ReviewState::parse(&form.state).filter(|s| *s != ReviewState::Received)
    else {
        let error = FormError::new("state", "Choose approved, rejected or needs changes.");
        return record_page(&state, &ctx, &actor, &slug, id, vec![error]).await;
    };
    match state
        .cista
        .review_record(&actor, org.id, id, chosen, &form.comment)
        .await
    {
        Ok(_) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!("/admin/{}/records/{}", org.slug, id.as_i64())),
            &format!(
                "The record is now {}. Its collector sees it on the phone.",
                chosen.label().to_lowercase()
            ),
        )),
        Err(Error::InvalidInput { reason, .. }) => {
            let error = FormError::new("comment", format!("The comment: {reason}."));
            record_page(&state, &ctx, &actor, &slug, id, vec![error]).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MediaQuery {
    expires: String,
    signature: String,
}

/// `GET /media/{org}/{record}/{name}/{variant}?expires=…&signature=…`: a photo a signed URL
/// names, streamed; cached by the browser only, until the URL expires.
pub async fn media(
    State(state): State<AppState>,
    Path((org, record, name, variant)): Path<(String, String, String, String)>,
    Query(query): Query<MediaQuery>,
) -> Result<Response, AppError> {
    let gone = || AppError(Error::NotFound { what: "that photo" });
    let request = MediaRequest {
        org: OrgId::from_i64(org.parse().map_err(|_| gone())?),
        submission: SubmissionId::from_i64(record.parse().map_err(|_| gone())?),
        name,
        variant: MediaVariant::parse(&variant).ok_or_else(gone)?,
        expires: query.expires.parse().map_err(|_| gone())?,
        signature: query.signature,
    };
    let (kind, mut blob) = state
        .cista
        .open_media(state.blobs.as_ref(), &request)
        .await?;
    let now = state.cista.clock().now().unix_micros() / 1_000_000;
    let left = (request.expires - now).max(0);
    let stream = async_stream(move |tx| async move {
        loop {
            match blob.next().await {
                Ok(Some(piece)) => {
                    if tx.send(Ok(piece)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.code()))).await;
                    return;
                }
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&kind) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={left}, immutable")) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

/// A stream fed by a task through a small channel (backpressure: at most two pieces wait).
fn async_stream<F, Fut>(
    produce: F,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(produce(tx));
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
