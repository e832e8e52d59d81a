//! The widget page, `/w/{org}/{form}?origin=SITE`: what the firm's iframe shows. `GET` checks
//! that the form lists SITE and serves the questions as a plain HTML form (it works without
//! script; `static/embed.js` only sizes the frame and tells the page it was sent) carrying a
//! fresh load token; the response may be framed only by the form's sites. `POST` (the form,
//! from this page only: same rule as the web surface's Origin check) checks, scores and
//! records the answers, and shows the client's part of the result, or the form again with
//! each problem beside its field. Every refusal is a short page of its own; a site that is
//! not listed gets one that no one may frame, so a browser there shows nothing at all.

use super::FrameAncestors;
use crate::AppState;
use crate::error::{ErrorInfo, OwnBody, status_for};
use crate::middleware::CspNonce;
use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use cista_core::Error;
use cista_core::ports::Organization;
use cista_core::products::assessment::{
    AssessmentError, ClientDetails, ClientForm, ClientQuestion, ClientResult, LoadToken,
    LoadedWidget, SentFrom, WidgetSubmission,
};
use cista_types::{FormId, OrgSlug};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The organization named by a path's slug; `not_found` for any slug that is not one.
pub(crate) async fn organization(state: &AppState, slug: &str) -> cista_core::Result<Organization> {
    let slug = OrgSlug::parse(slug).map_err(|_| Error::NotFound {
        what: "that organization",
    })?;
    state
        .cista
        .store()
        .organization_by_slug(&slug)
        .await?
        .ok_or(Error::NotFound {
            what: "that organization",
        })
}

#[derive(Debug, Deserialize)]
pub struct Site {
    /// The firm's page's origin, as the loader read it from `location.origin`.
    origin: Option<String>,
}

/// One option of a choice question, as drawn.
#[derive(Debug)]
struct OptionView {
    id: String,
    label: String,
    input_id: String,
    checked: bool,
}

/// One question, as drawn: its input's name and id, what was typed, its problem.
#[derive(Debug)]
struct QuestionView {
    q: ClientQuestion,
    name: String,
    input_id: String,
    value: String,
    options: Vec<OptionView>,
    error: Option<String>,
}

#[derive(Debug)]
struct SectionView {
    title: String,
    questions: Vec<QuestionView>,
}

#[derive(Debug, Template)]
#[template(path = "embed/widget.html")]
struct WidgetPage {
    nonce: String,
    /// The site the page is shown on (empty on a page no site may frame).
    parent_origin: String,
    title: String,
    /// A refusal or notice instead of the form: heading and text.
    message: Option<(String, String)>,
    form: Option<FormView>,
    result: Option<ClientResult>,
}

#[derive(Debug)]
struct FormView {
    action: String,
    token: String,
    form_id: String,
    purpose: String,
    sections: Vec<SectionView>,
    first_name: String,
    last_name: String,
    email: String,
    consent: bool,
    /// The form offers a copy of the result by email; whether the client asked for one.
    offers_copy: bool,
    email_copy: bool,
    /// Problems not tied to one question (and a summary of those that are).
    errors: Vec<String>,
    field_errors: BTreeMap<String, String>,
}

impl FormView {
    fn field_error(&self, field: &str) -> Option<&String> {
        self.field_errors.get(field)
    }
}

fn render(
    page: &WidgetPage,
    status: StatusCode,
    ancestors: Vec<cista_types::WebOrigin>,
) -> Response {
    let body = match page.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "the widget page did not render");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = (status, Html(body)).into_response();
    response.extensions_mut().insert(FrameAncestors(ancestors));
    response.extensions_mut().insert(OwnBody);
    response
}

/// A page with only a heading and a sentence, which no site may frame.
fn message_page(nonce: &str, status: StatusCode, heading: &str, text: &str) -> Response {
    let page = WidgetPage {
        nonce: nonce.to_owned(),
        parent_origin: String::new(),
        title: heading.to_owned(),
        message: Some((heading.to_owned(), text.to_owned())),
        form: None,
        result: None,
    };
    render(&page, status, Vec::new())
}

/// What a refusal says on the widget page.
fn refusal_page(nonce: &str, e: &Error) -> Response {
    let status = status_for(e.class());
    let heading = match e.code() {
        "origin_not_allowed" => "This form is not available here",
        "load_token_expired" => "This form was open too long",
        "not_found" => "There is no such form",
        "rate_limited" => "Too many requests",
        _ if status.is_server_error() => "Something went wrong",
        _ => "This form cannot be sent",
    };
    let text = if status.is_server_error() {
        "Please try again in a few minutes.".to_owned()
    } else {
        e.to_string()
    };
    message_page(nonce, status, heading, &text)
}

/// Draws the form for `loaded`, with what was typed and its problems.
fn form_view(
    org_slug: &str,
    key: &str,
    loaded: &LoadedWidget,
    typed: &Typed,
    problem: Option<&Error>,
) -> FormView {
    let client: ClientForm = loaded.published.assessment.definition.client_form();
    let mut field_errors = BTreeMap::new();
    let mut errors = Vec::new();
    if let Some(e) = problem {
        let field = match e {
            Error::Assessment(AssessmentError::AnswerInvalid { question, reason }) => {
                Some((question.clone(), reason.clone()))
            }
            Error::InvalidInput { field, reason } => Some((field.clone(), reason.clone())),
            _ => None,
        };
        match field {
            Some((field, reason)) => {
                errors.push(format!("Please check your answers: {reason}."));
                field_errors.insert(field, reason);
            }
            None => errors.push(e.to_string()),
        }
    }
    let sections = client
        .sections
        .into_iter()
        .map(|s| SectionView {
            title: s.title,
            questions: s
                .questions
                .into_iter()
                .map(|q| question_view(q, typed, &field_errors))
                .collect(),
        })
        .collect();
    FormView {
        action: format!("/w/{org_slug}/{key}"),
        token: loaded.token.token.clone(),
        form_id: loaded.published.form.id.to_string(),
        purpose: client.purpose,
        sections,
        first_name: typed.one("first_name"),
        last_name: typed.one("last_name"),
        email: typed.one("email"),
        consent: typed.one("consent") == "yes",
        offers_copy: client.email_copy,
        email_copy: typed.one("email_copy") == "yes",
        errors,
        field_errors,
    }
}

fn question_view(
    q: ClientQuestion,
    typed: &Typed,
    errors: &BTreeMap<String, String>,
) -> QuestionView {
    let name = format!("q.{}", q.id);
    let chosen = typed.all(&name);
    let options = q
        .options
        .iter()
        .map(|o| OptionView {
            id: o.id.clone(),
            label: o.label.clone(),
            input_id: format!("q-{}-{}", q.id, o.id),
            checked: chosen.iter().any(|c| *c == o.id),
        })
        .collect();
    QuestionView {
        input_id: format!("q-{}", q.id),
        value: typed.one(&name),
        error: errors.get(&q.id).cloned(),
        name,
        options,
        q,
    }
}

/// The fields of a posted form, in order (a multiple-choice question repeats its name).
#[derive(Debug, Default)]
struct Typed(Vec<(String, String)>);

impl Typed {
    fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The answers as the core reads them: a choice's option id, a list of them, a number
    /// (text that is not one is passed on as text, and refused there by its question), text.
    fn answers(&self, form: &ClientForm) -> Value {
        let mut out = Map::new();
        for q in form.sections.iter().flat_map(|s| s.questions.iter()) {
            let name = format!("q.{}", q.id);
            let value = if q.is_multiple() {
                let chosen = self.all(&name);
                if chosen.is_empty() {
                    continue;
                }
                Value::from(chosen)
            } else {
                let raw = self.one(&name);
                let raw = raw.trim();
                if raw.is_empty() {
                    continue;
                }
                if q.is_single() || q.is_text() {
                    Value::from(raw)
                } else {
                    // A whole number stays whole (a scale takes nothing else).
                    raw.parse::<i64>().map(Value::from).unwrap_or_else(|_| {
                        raw.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map_or_else(|| Value::from(raw), Value::Number)
                    })
                }
            };
            out.insert(q.id.clone(), value);
        }
        Value::Object(out)
    }
}

/// `GET /w/{org}/{form}?origin=SITE`.
pub async fn show(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Path((org_slug, key)): Path<(String, String)>,
    Query(site): Query<Site>,
) -> Response {
    let loaded = async {
        let org = organization(&state, &org_slug).await?;
        state
            .cista
            .load_widget(org.id, &key, site.origin.as_deref())
            .await
    }
    .await;
    match loaded {
        Ok(loaded) => {
            let form = form_view(&org_slug, &key, &loaded, &Typed::default(), None);
            page_with_form(&nonce.0, &loaded, form, StatusCode::OK)
        }
        Err(e) => {
            count_refusal(&e);
            refusal_page(&nonce.0, &e)
        }
    }
}

fn page_with_form(
    nonce: &str,
    loaded: &LoadedWidget,
    form: FormView,
    status: StatusCode,
) -> Response {
    let definition = &loaded.published.assessment.definition;
    let page = WidgetPage {
        nonce: nonce.to_owned(),
        parent_origin: loaded.origin.to_string(),
        title: definition.title.clone(),
        message: None,
        form: Some(form),
        result: None,
    };
    render(&page, status, definition.embed.allowed_origins.clone())
}

/// Counts a refused widget request by its reason (the audit log has each one).
pub(crate) fn count_refusal(e: &Error) {
    if matches!(
        e.code(),
        "origin_not_allowed" | "load_token_invalid" | "load_token_expired"
    ) {
        metrics::counter!("cista_embed_refused_total", "reason" => e.code()).increment(1);
    }
}

/// `POST /w/{org}/{form}`: the widget page's own form.
pub async fn submit(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Path((org_slug, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let nonce = nonce.0.to_string();
    if !crate::web::origin::from_our_own_page(&headers, &state.public_origin) {
        let e = Error::from(AssessmentError::OriginNotAllowed {
            origin: super::cors::request_origin(&headers)
                .unwrap_or("another site")
                .to_owned(),
        });
        count_refusal(&e);
        return refusal_page(&nonce, &e);
    }
    let is_form = crate::fields::single_field(&headers, header::CONTENT_TYPE)
        .ok()
        .flatten()
        .is_some_and(|v| {
            cista_core::platform::blobs::media_type(v) == "application/x-www-form-urlencoded"
        });
    let typed = match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(_) if is_form && !crate::web::csrf::form_is_utf8(&body) => {
            let e = Error::BadRequest {
                reason: "the form is not UTF-8 text".to_owned(),
            };
            return refusal_page(&nonce, &e);
        }
        Ok(fields) if is_form => Typed(fields),
        _ => {
            let e = Error::UnsupportedMediaType("send the widget's own form".to_owned());
            return refusal_page(&nonce, &e);
        }
    };
    match answer(&state, &org_slug, &typed).await {
        Ok((loaded, result)) => {
            let definition = &loaded.published.assessment.definition;
            let page = WidgetPage {
                nonce,
                parent_origin: loaded.origin.to_string(),
                title: definition.title.clone(),
                message: None,
                form: None,
                result: Some(result),
            };
            render(
                &page,
                StatusCode::OK,
                definition.embed.allowed_origins.clone(),
            )
        }
        Err(Refused::Form(loaded, e)) => {
            let form = form_view(&org_slug, &key, &loaded, &typed, Some(&e));
            page_with_form(&nonce, &loaded, form, status_for(e.class()))
        }
        Err(Refused::Page(e)) => {
            count_refusal(&e);
            refusal_page(&nonce, &e)
        }
    }
}

/// A refused submission: shown again as the form (answers to fix), or as a page of its own.
enum Refused {
    Form(Box<LoadedWidget>, Error),
    Page(Error),
}

/// Sends the typed answers for the form version the token names, and returns what the page
/// needs to show the result or the form again.
async fn answer(
    state: &AppState,
    org_slug: &str,
    typed: &Typed,
) -> Result<(LoadedWidget, ClientResult), Refused> {
    let org = organization(state, org_slug).await.map_err(Refused::Page)?;
    let token = typed.one("token");
    let invalid = || Refused::Page(AssessmentError::LoadTokenInvalid.into());
    let form = typed
        .one("form")
        .parse::<i64>()
        .map(FormId::from_i64)
        .map_err(|_| invalid())?;
    // The questions are read from the version the form names, to read the answers by; the
    // core checks that the token names the same version, site and organization.
    let published = state
        .cista
        .published_form(org.id, form)
        .await
        .and_then(cista_core::products::assessment::PublishedAssessment::read)
        .map_err(|_| invalid())?;
    let answers = typed.answers(&published.assessment.definition.client_form());
    let client = ClientDetails {
        first_name: typed.one("first_name"),
        last_name: typed.one("last_name"),
        email: typed.one("email"),
        consent: typed.one("consent") == "yes",
        email_copy: typed.one("email_copy") == "yes",
    };
    let submitted = state
        .cista
        .submit_assessment(WidgetSubmission {
            org: org.id,
            form,
            sent_from: SentFrom::WidgetPage,
            load_token: &token,
            client,
            answers: &answers,
        })
        .await;
    let submitted = match submitted {
        Err(e) if !answers_to_fix(&e) => return Err(Refused::Page(e)),
        other => other,
    };
    // Here the token and the site held (answers are checked after them): the same token
    // serves the form shown again, still unused.
    let claims = state
        .cista
        .verified_load_claims(&token)
        .map_err(Refused::Page)?;
    let origin = cista_types::WebOrigin::parse(&claims.origin).map_err(|_| invalid())?;
    let loaded = LoadedWidget {
        published,
        origin,
        token: LoadToken { token, claims },
    };
    match submitted {
        Ok(result) => Ok((loaded, result)),
        Err(e) => Err(Refused::Form(Box::new(loaded), e)),
    }
}

/// Whether the client can fix this on the form itself (an answer, the name, the email, the
/// consent), rather than by reloading.
fn answers_to_fix(e: &Error) -> bool {
    matches!(
        e,
        Error::Assessment(AssessmentError::AnswerInvalid { .. }) | Error::InvalidInput { .. }
    )
}

/// Gives an error status that left a widget route without a page of its own (a body over
/// 64 KiB, a timeout, a rate limit, a panic) the widget's message page.
pub async fn render_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let nonce = req
        .extensions()
        .get::<CspNonce>()
        .map(|n| n.0.to_string())
        .unwrap_or_default();
    match crate::middleware::error_to_render(next.run(req).await, &state) {
        Ok((parts, info)) => {
            let ErrorInfo { message, .. } = info;
            let mut response =
                message_page(&nonce, parts.status, "This form cannot be sent", &message);
            for name in [header::RETRY_AFTER] {
                if let Some(v) = parts.headers.get(&name) {
                    response.headers_mut().insert(name, v.clone());
                }
            }
            response
        }
        Err(response) => response,
    }
}
