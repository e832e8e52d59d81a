//! `/admin/{org}/assessments/{form}`: every result of the form, de-identified (the client's
//! subject code, the band, the scores), filtered by band and by the day received (in the
//! organization's time zone), each linking to its page; `results.csv` downloads the same
//! filtered results de-identified (formula-safe cells, audited).

use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, FormError, render};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::products::assessment::{AssessmentAction, MAX_RESULTS, ResultFilter};
use cista_types::TimeZoneName;
use serde::Deserialize;

struct Row {
    id: String,
    received: String,
    version: u32,
    band: String,
    scores: Vec<String>,
    subject: String,
    erased: bool,
}

#[derive(Template)]
#[template(path = "admin/assessment_results.html")]
struct ResultsPage {
    chrome: Chrome,
    name: String,
    slug: String,
    key: String,
    title: String,
    version: u32,
    score_labels: Vec<String>,
    bands: Vec<String>,
    rows: Vec<Row>,
    /// The filter as typed, to show it again.
    query: ResultsQuery,
    /// The query string of the filter, for the CSV link (`?band=…`, or empty).
    csv_query: String,
    filtered: bool,
    /// The list holds `MAX_RESULTS` results, the newest that match: there may be more.
    capped: bool,
    /// How many staff are told of new results, and how.
    told: String,
    /// The two lines a firm's page carries, and the sites the newest version lists.
    snippet: String,
    sites: Vec<String>,
    can_manage: bool,
    errors: Vec<FormError>,
}

/// The filter in the page's address: a band's label and days as `YYYY-MM-DD`, each optional.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ResultsQuery {
    band: String,
    from: String,
    to: String,
}

impl ResultsQuery {
    /// The core's filter: `from` from the start of that day, `to` through the end of that
    /// day, both in `zone`. A day that does not read as one is reported on its field.
    fn filter(&self, zone: &TimeZoneName) -> (ResultFilter, Vec<FormError>) {
        let mut errors = Vec::new();
        let mut day = |raw: &str, field: &'static str, next: bool| -> Option<_> {
            let raw = raw.trim();
            if raw.is_empty() {
                return None;
            }
            let parsed = if next {
                zone.start_of_next_day(raw, field)
            } else {
                zone.start_of_day(raw, field)
            };
            parsed
                .map_err(|e| errors.push(FormError::new(field, format!("The day {e}."))))
                .ok()
        };
        let filter = ResultFilter {
            band: Some(self.band.trim())
                .filter(|b| !b.is_empty())
                .map(str::to_owned),
            received_from: day(&self.from, "from", false),
            received_before: day(&self.to, "to", true),
        };
        (filter, errors)
    }
}

/// `GET /admin/{org}/assessments/{form}`.
pub async fn results(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
    Query(query): Query<ResultsQuery>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let zone: &TimeZoneName = &org.time_zone;
    let (filter, errors) = query.filter(zone);
    let (newest, results) = state
        .cista
        .assessment_results_where(&actor, org.id, &key, &filter)
        .await?;
    let settings = state
        .cista
        .assessment_settings(&actor, org.id, &key)
        .await?;
    let definition = &newest.assessment.definition;
    let score_labels = definition.score_labels();
    let capped = results.len() >= MAX_RESULTS;
    let rows = results
        .into_iter()
        .map(|r| Row {
            id: r.submission.to_string(),
            received: zone.format(r.received_at),
            version: r.form_version,
            scores: r.score_cells(&score_labels),
            band: r.band,
            subject: r.subject.to_string(),
            erased: r.client_erased,
        })
        .collect();
    let told = told(settings.notify.len(), settings.attach_report);
    let csv_query = serde_urlencoded::to_string(&query)
        .ok()
        .filter(|_| !filter.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(
        status,
        ResultsPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            key: key.clone(),
            title: definition.title.clone(),
            version: newest.form.version,
            score_labels,
            bands: definition
                .result
                .bands
                .iter()
                .map(|b| b.label.clone())
                .collect(),
            rows,
            filtered: !filter.is_empty(),
            capped,
            query,
            csv_query,
            told,
            snippet: format!(
                "<div data-cista-form=\"{}/{key}\"></div>\n<script src=\"{}/widget.js\" async></script>",
                org.slug,
                state.public_origin.trim_end_matches('/')
            ),
            sites: definition
                .embed
                .allowed_origins
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect(),
            can_manage: actor.may_in(org.id, AssessmentAction::Manage),
            errors,
        },
    )
}

/// Who is told of a new result, in a sentence.
fn told(people: usize, attach_report: bool) -> String {
    let how = if attach_report {
        "with the report attached as a PDF"
    } else {
        "with a link to the report here (sign-in required)"
    };
    match people {
        0 => "Nobody is told of new results by email yet.".to_owned(),
        1 => format!("New results are emailed to 1 person, {how}."),
        n => format!("New results are emailed to {n} people, {how}."),
    }
}

/// `GET /admin/{org}/assessments/{form}/results.csv`, with the list's filter.
pub async fn results_csv(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
    Query(query): Query<ResultsQuery>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let (filter, errors) = query.filter(&org.time_zone);
    if let Some(error) = errors.first() {
        return Err(AppError(cista_core::Error::invalid(
            error.field,
            error.message.clone(),
        )));
    }
    let csv = state
        .cista
        .assessment_results_csv(&actor, org.id, &key, &filter)
        .await?;
    let disposition = format!("attachment; filename=\"{}-{key}-results.csv\"", org.slug);
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
