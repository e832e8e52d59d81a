//! Building record forms in the admin pages (issue 13, item 1): `/admin/{org}/record-forms`
//! lists the organization's record forms (newest version of each); `…/new` and `…/{key}/edit`
//! edit a form as its file (`docs/collection.md`, the format `cista record-form import|export`
//! reads and writes), **Check and preview** checks it whole exactly as publishing does (an error
//! names the field at fault) and shows each field as the collector will meet it, and
//! **Publish** stores it as the next immutable version (the same form again changes nothing).
//! For owners and administrators.

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Form, Router};
use cista_core::platform::intake::FormProduct;
use cista_core::products::collection::RecordForm;
use cista_core::products::collection::definition::STREAM_SURVEY;
use cista_core::{Actor, Error, OrgAction};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/{org}/record-forms", get(list))
        .route("/admin/{org}/record-forms/new", get(new).post(new_submit))
        .route(
            "/admin/{org}/record-forms/{key}/edit",
            get(edit).post(edit_submit),
        )
}

struct FormRow {
    key: String,
    title: String,
    version: u32,
    fields: usize,
}

#[derive(Template)]
#[template(path = "admin/record_forms.html")]
struct ListPage {
    chrome: Chrome,
    name: String,
    slug: String,
    forms: Vec<FormRow>,
}

/// One field as the preview shows it.
struct FieldPreview {
    label: String,
    id: String,
    hint: String,
    required: bool,
    kind: String,
    choices: Vec<String>,
}

struct Preview {
    title: String,
    description: String,
    fields: Vec<FieldPreview>,
}

#[derive(Template)]
#[template(path = "admin/record_form_edit.html")]
struct EditPage {
    chrome: Chrome,
    name: String,
    slug: String,
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

fn preview(form: &RecordForm) -> Preview {
    Preview {
        title: form.title.clone(),
        description: form.description.clone(),
        fields: form
            .fields
            .iter()
            .map(|f| FieldPreview {
                label: f.label.clone(),
                id: f.id.clone(),
                hint: f.hint.clone(),
                required: f.required,
                kind: f.kind.describe(),
                choices: f.kind.choices().iter().map(|c| c.label.clone()).collect(),
            })
            .collect(),
    }
}

/// `GET /admin/{org}/record-forms`.
pub async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, OrgAction::ManageForms)?;
    let forms = state
        .cista
        .record_forms(&actor, org.id)
        .await?
        .into_iter()
        .map(|v| FormRow {
            key: v.form.key,
            title: v.definition.title,
            version: v.form.version,
            fields: v.definition.fields.len(),
        })
        .collect();
    render(
        StatusCode::OK,
        ListPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            forms,
        },
    )
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
    actor.authorize_in(org.id, OrgAction::ManageForms)?;
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

/// `GET /admin/{org}/record-forms/new`: the editor with the Stream survey to start from.
pub async fn new(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let start = (String::new(), true, STREAM_SURVEY.to_owned());
    editor(&state, &ctx, &actor, &slug, start, (None, Vec::new())).await
}

/// `GET /admin/{org}/record-forms/{key}/edit`: the newest version, as its file.
pub async fn edit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, OrgAction::ManageForms)?;
    let newest = state
        .cista
        .record_forms(&actor, org.id)
        .await?
        .into_iter()
        .find(|v| v.form.key == key)
        .ok_or(Error::NotFound {
            what: "that record form",
        })?;
    let text = serde_json::to_string_pretty(&newest.definition.normal_form()?)
        .map_err(|e| AppError(Error::Internal(e.to_string())))?;
    let shown = (Some(preview(&newest.definition)), Vec::new());
    editor(&state, &ctx, &actor, &slug, (key, false, text), shown).await
}

/// `POST /admin/{org}/record-forms/new`.
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

/// `POST /admin/{org}/record-forms/{key}/edit`.
pub async fn edit_submit(
    state: State<AppState>,
    ctx: Extension<RequestContext>,
    signed_in: SignedIn,
    Path((slug, key)): Path<(String, String)>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    submit(state, ctx, signed_in, (slug, key, false), form).await
}

/// Checks the form as publishing does; previews it, or publishes it.
async fn submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    (slug, key, new): (String, String, bool),
    form: EditForm,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    actor.authorize_in(org.id, OrgAction::ManageForms)?;
    let text = form.definition;
    let checked = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| {
            // serde_json's message ends with the line and column already.
            FormError::new("definition", format!("The form is not JSON: {e}."))
        })
        .and_then(|json| {
            RecordForm::parse(&json)
                .map(|parsed| (json, parsed))
                .map_err(|e| FormError::new("definition", format!("Not published: {e}.")))
        });
    let (json, parsed) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let kept = (key, new, text);
            return editor(&state, &ctx, &actor, &slug, kept, (None, vec![error])).await;
        }
    };
    if form.action != "publish" {
        let shown = (Some(preview(&parsed)), Vec::new());
        return editor(&state, &ctx, &actor, &slug, (key, new, text), shown).await;
    }
    let exists = state
        .cista
        .record_forms(&actor, org.id)
        .await?
        .iter()
        .any(|v| v.form.key == key);
    if new && exists {
        let error = FormError::new(
            "key",
            format!("A record form named {key} exists already: edit it, or choose another name."),
        );
        let shown = (Some(preview(&parsed)), vec![error]);
        return editor(&state, &ctx, &actor, &slug, (key, new, text), shown).await;
    }
    match state
        .cista
        .publish_form(&actor, org.id, FormProduct::Collection, &key, &json)
        .await
    {
        Ok(published) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!("/admin/{slug}/record-forms")),
            &format!(
                "Version {} of {} is published: phones get it at their next sync. Records \
                 already received keep the version they answer.",
                published.version, parsed.title
            ),
        )),
        Err(Error::InvalidInput { field, reason }) => {
            let error = FormError::new(
                if field == "key" { "key" } else { "definition" },
                format!("The {field} must {reason}."),
            );
            let shown = (Some(preview(&parsed)), vec![error]);
            editor(&state, &ctx, &actor, &slug, (key, new, text), shown).await
        }
        Err(e) => Err(e.into()),
    }
}
