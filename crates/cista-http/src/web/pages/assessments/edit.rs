//! Building an assessment in the admin pages: `/admin/{org}/assessments` lists the
//! organization's assessments; `…/new` and `…/{form}/edit` edit a definition (the file format
//! of `docs/assessment.md`, which `cista assessment import|export` reads and writes), "Check and
//! preview" checks it whole exactly as publishing does (an error names the rule or question at
//! fault) and shows what a client will see, every score's range, the bands and the sites
//! allowed to embed it, and "Publish" stores it as the next immutable version, after which the
//! results page shows the two-line snippet for the firm's site.

use super::form_path;
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use crate::web::pages::chrome::{Chrome, FormError, render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use cista_core::products::assessment::definition::QuestionKind;
use cista_core::products::assessment::{Assessment, AssessmentAction, RISK_PROFILE};
use cista_core::{Actor, Error};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "admin/assessments.html")]
struct ListPage {
    chrome: Chrome,
    name: String,
    slug: String,
    /// Key, title, newest version.
    assessments: Vec<(String, String, u32)>,
    can_manage: bool,
}

/// `GET /admin/{org}/assessments`.
pub async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let assessments = state.cista.assessments_of(&actor, org.id).await?;
    render(
        StatusCode::OK,
        ListPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            assessments,
            can_manage: actor.may_in(org.id, AssessmentAction::Manage),
        },
    )
}

/// One question as the preview shows it: its words, its kind, and its options with points.
struct QuestionPreview {
    text: String,
    required: bool,
    /// `One choice`, `A number from 18 to 110`, …
    kind: String,
    /// Option labels with their points.
    options: Vec<(String, String)>,
}

struct SectionPreview {
    title: String,
    questions: Vec<QuestionPreview>,
}

/// What a checked definition will be: for the staff who publish it.
struct Preview {
    title: String,
    purpose: String,
    sections: Vec<SectionPreview>,
    /// Label, range.
    scores: Vec<(String, String)>,
    /// Range, label, client text, advisor text.
    bands: Vec<(String, String, String, String)>,
    band_score: String,
    client_sees: String,
    sites: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/assessment_edit.html")]
struct EditPage {
    chrome: Chrome,
    name: String,
    slug: String,
    /// The form's key; editable only for a new assessment.
    key: String,
    new: bool,
    definition: String,
    preview: Option<Preview>,
    errors: Vec<FormError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditForm {
    key: String,
    definition: String,
    /// `check` or `publish`.
    action: String,
}

/// A number as a person writes it: `2`, `2.5`.
fn number(v: f64) -> String {
    v.to_string()
}

fn preview(assessment: &Assessment) -> Preview {
    let d = &assessment.definition;
    let sections = d
        .sections
        .iter()
        .map(|s| SectionPreview {
            title: s.title.clone(),
            questions: s
                .questions
                .iter()
                .map(|q| QuestionPreview {
                    text: q.text.clone(),
                    required: q.required,
                    kind: match &q.kind {
                        QuestionKind::SingleChoice { .. } => "One choice".to_owned(),
                        QuestionKind::MultipleChoice { max_selected, .. } => match max_selected {
                            Some(n) => format!("Several choices, at most {n}"),
                            None => "Several choices".to_owned(),
                        },
                        QuestionKind::Number { min, max, whole } => format!(
                            "A {}number from {} to {}",
                            if *whole { "whole " } else { "" },
                            number(*min),
                            number(*max)
                        ),
                        QuestionKind::Scale { min, max, .. } => {
                            format!("A scale from {min} to {max}")
                        }
                        QuestionKind::ShortText { max_length } => {
                            format!("Text, at most {max_length} characters, not scored")
                        }
                    },
                    options: q
                        .kind
                        .options()
                        .iter()
                        .map(|o| (o.label.clone(), number(o.points)))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let ranges = assessment.rules.ranges();
    let scores = d
        .scores
        .iter()
        .map(|rule| {
            let range = ranges.get(&rule.id).map_or_else(String::new, |r| {
                format!("from {} to {}", number(r.lo), number(r.hi))
            });
            (rule.label.clone(), range)
        })
        .collect();
    let last = d.result.bands.len().saturating_sub(1);
    let bands = d
        .result
        .bands
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let to = if i == last {
                "to"
            } else {
                "up to (not including)"
            };
            (
                format!("{} {to} {}", number(b.from), number(b.to)),
                b.label.clone(),
                b.client_text.clone(),
                b.advisor_text.clone(),
            )
        })
        .collect();
    let shown: Vec<String> = d
        .scores
        .iter()
        .filter(|r| d.client_sees.scores.contains(&r.id))
        .map(|r| r.label.clone())
        .collect();
    let client_sees = match (d.client_sees.band, shown.is_empty()) {
        (true, true) => "the band's label and its text for the client".to_owned(),
        (true, false) => format!(
            "the band's label and its text for the client, and {}",
            shown.join(", ")
        ),
        (false, true) => "nothing but a thank-you".to_owned(),
        (false, false) => shown.join(", "),
    };
    Preview {
        title: d.title.clone(),
        purpose: d.purpose.clone(),
        sections,
        scores,
        bands,
        band_score: d
            .scores
            .iter()
            .find(|r| r.id == d.result.score)
            .map_or_else(|| d.result.score.clone(), |r| r.label.clone()),
        client_sees,
        sites: d
            .embed
            .allowed_origins
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
    }
}

async fn editor(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    slug: &str,
    (key, new, definition): (String, bool, String),
    (preview, errors): (Option<Preview>, Vec<FormError>),
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    actor.authorize_in(org.id, AssessmentAction::Manage)?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        EditPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            key,
            new,
            definition,
            preview,
            errors,
        },
    )
}

/// `GET /admin/{org}/assessments/new`: the editor with the documented example to start from.
pub async fn new(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let start = (String::new(), true, RISK_PROFILE.to_owned());
    editor(&state, &ctx, &actor, &slug, start, (None, Vec::new())).await
}

/// `GET /admin/{org}/assessments/{form}/edit`: the newest version, as its file.
pub async fn edit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let newest = state.cista.latest_assessment(&actor, org.id, &key).await?;
    let text = serde_json::to_string_pretty(&newest.assessment.definition)
        .map_err(|e| AppError(Error::Internal(e.to_string())))?;
    let preview = Some(preview(&newest.assessment));
    editor(
        &state,
        &ctx,
        &actor,
        &slug,
        (key, false, text),
        (preview, Vec::new()),
    )
    .await
}

/// `POST /admin/{org}/assessments/new`.
pub async fn new_submit(
    state: State<AppState>,
    ctx: Extension<RequestContext>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let key = form.key.trim().to_owned();
    submit(state, ctx, signed_in, (slug, key, true), form).await
}

/// `POST /admin/{org}/assessments/{form}/edit`.
pub async fn edit_submit(
    state: State<AppState>,
    ctx: Extension<RequestContext>,
    signed_in: SignedIn,
    Path((slug, key)): Path<(String, String)>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    submit(state, ctx, signed_in, (slug, key, false), form).await
}

/// Checks the definition as publishing does; previews it, or publishes it.
async fn submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    (slug, key, new): (String, String, bool),
    form: EditForm,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, AssessmentAction::Manage)?;
    let text = form.definition;
    let checked = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| {
            // serde_json's message ends with the line and column already.
            FormError::new("definition", format!("The definition is not JSON: {e}."))
        })
        .and_then(|json| {
            Assessment::parse(&json)
                .map(|a| (json, a))
                .map_err(|e| FormError::new("definition", format!("Not published: {e}.")))
        });
    let (json, assessment) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let kept = (key, new, text);
            return editor(&state, &ctx, &actor, &slug, kept, (None, vec![error])).await;
        }
    };
    if form.action != "publish" {
        let shown = (Some(preview(&assessment)), Vec::new());
        return editor(&state, &ctx, &actor, &slug, (key, new, text), shown).await;
    }
    if new
        && state
            .cista
            .latest_assessment(&actor, org.id, &key)
            .await
            .is_ok()
    {
        let error = FormError::new(
            "key",
            format!("An assessment named {key} exists already: edit it, or choose another name."),
        );
        let shown = (Some(preview(&assessment)), vec![error]);
        return editor(&state, &ctx, &actor, &slug, (key, new, text), shown).await;
    }
    match state
        .cista
        .publish_assessment(&actor, org.id, &key, &json)
        .await
    {
        Ok(published) => {
            let response = see_other(&form_path(&slug, &key));
            Ok(with_notice(
                &state,
                &ctx,
                response,
                &format!(
                    "Version {} of {} is published. Results already received keep the version \
                     they were scored under.",
                    published.form.version, published.assessment.definition.title
                ),
            ))
        }
        Err(Error::InvalidInput { field, reason }) => {
            let error = FormError::new(
                if field == "key" { "key" } else { "definition" },
                format!("The {field} must {reason}."),
            );
            let shown = (Some(preview(&assessment)), vec![error]);
            editor(&state, &ctx, &actor, &slug, (key, new, text), shown).await
        }
        Err(e) => Err(e.into()),
    }
}
