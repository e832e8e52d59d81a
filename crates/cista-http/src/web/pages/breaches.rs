//! The organization's breaches (GDPR Art. 33/34; issue 14, item 2), for owners and
//! administrators: `/admin/{org}/breaches` lists them with their 72-hour deadline and records a
//! new one; `/admin/{org}/breaches/{id}` shows one: the deadline, who the incident could have
//! touched (by subject code, with the kinds of data, erased and told marked), the notice's
//! words to edit and preview, **Send the notices** and **The supervisory authority was told**.
//! Every form is Post/Redirect/Get; the core audits each change.

use super::chrome::{Chrome, FormError, render, see_other};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::{RequestContext, with_notice};
use crate::web::extract::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use cista_core::platform::breach::notify::PersonStanding;
use cista_core::platform::breach::template::NAMES;
use cista_core::platform::breach::{
    Breach, BreachId, BreachScope, DeadlineState, NewBreach, NoticeDelivery, NoticeTemplate,
    minutes_in_words,
};
use cista_core::ports::Organization;
use cista_core::{Actor, Error, OrgAction};
use cista_types::{Timestamp, words};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/{org}/breaches", get(list).post(record))
        .route("/admin/{org}/breaches/{id}", get(show))
        .route("/admin/{org}/breaches/{id}/notice", post(save_notice))
        .route("/admin/{org}/breaches/{id}/notify", post(notify))
        .route("/admin/{org}/breaches/{id}/reported", post(reported))
}

async fn staff_org(state: &AppState, actor: &Actor, slug: &str) -> Result<Organization, AppError> {
    let org = state.cista.organization_for(actor, slug).await?;
    actor.authorize_in(org.id, OrgAction::ManageBreaches)?;
    Ok(org)
}

fn breach_id(text: &str) -> Result<BreachId, AppError> {
    text.parse().map_err(|_| {
        Error::NotFound {
            what: "that breach",
        }
        .into()
    })
}

/// The deadline in words and whether it needs attention now.
struct Deadline {
    words: String,
    urgent: bool,
}

fn deadline(org: &Organization, breach: &Breach, now: Timestamp) -> Deadline {
    let when = org.time_zone.format(breach.deadline());
    match breach.deadline_state(now) {
        DeadlineState::Reported { at, late } => Deadline {
            words: format!(
                "The supervisory authority was told {}{}.",
                org.time_zone.format(at),
                if late { ", after the deadline" } else { "" }
            ),
            urgent: false,
        },
        DeadlineState::Open { minutes_left } => Deadline {
            words: format!(
                "Tell the supervisory authority by {when}: {} left.",
                minutes_in_words(minutes_left)
            ),
            urgent: true,
        },
        DeadlineState::Overdue { minutes_over } => Deadline {
            words: format!(
                "Overdue: the supervisory authority was to be told by {when}, {} ago. Tell it \
                 now, with the reasons for the delay (GDPR Art. 33(1)).",
                minutes_in_words(minutes_over)
            ),
            urgent: true,
        },
    }
}

struct Row {
    id: String,
    recorded: String,
    window: String,
    scope: &'static str,
    told: usize,
    deadline: Deadline,
}

struct NewFields {
    from: String,
    to: String,
    scope: String,
    description: String,
}

#[derive(Template)]
#[template(path = "admin/breaches.html")]
struct ListPage {
    chrome: Chrome,
    name: String,
    slug: String,
    time_zone: String,
    breaches: Vec<Row>,
    form: NewFields,
    errors: Vec<FormError>,
}

#[derive(Debug, Deserialize)]
pub struct NewBreachForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    description: String,
}

async fn list_page(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    form: NewFields,
    errors: Vec<FormError>,
) -> Result<Response, AppError> {
    let now = state.cista.clock().now();
    let zone = &org.time_zone;
    let mut breaches = Vec::new();
    for (b, told) in state.cista.breaches_with_told(actor, org.id).await? {
        breaches.push(Row {
            id: b.id.to_string(),
            recorded: zone.format(b.recorded_at),
            window: format!("{} to {}", zone.format(b.from), zone.format(b.to)),
            scope: match b.scope {
                BreachScope::Activity => "what was handled in the window",
                BreachScope::Members => "the stored data",
            },
            told,
            deadline: deadline(org, &b, now),
        });
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(
        status,
        ListPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            time_zone: zone.to_string(),
            breaches,
            form,
            errors,
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let form = NewFields {
        from: String::new(),
        to: org.time_zone.to_local_input(state.cista.clock().now()),
        scope: BreachScope::Activity.as_str().to_owned(),
        description: String::new(),
    };
    list_page(&state, &ctx, &actor, &org, form, Vec::new()).await
}

pub async fn record(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<NewBreachForm>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let zone = &org.time_zone;
    let mut errors = Vec::new();
    let mut time = |field: &'static str, raw: &str, what: &'static str| {
        zone.parse_local(raw, what)
            .map_err(|e| errors.push(FormError::new(field, format!("The {what} {}.", e.message))))
            .ok()
    };
    let from = time("from", &form.from, "start of the window");
    let to = time("to", &form.to, "end of the window");
    let scope = BreachScope::parse(&form.scope)
        .map_err(|e| errors.push(FormError::from_error("scope", &e)))
        .ok();
    let fields = NewFields {
        from: form.from,
        to: form.to,
        scope: form.scope,
        description: form.description,
    };
    let (Some(from), Some(to), Some(scope)) = (from, to, scope) else {
        return list_page(&state, &ctx, &actor, &org, fields, errors).await;
    };
    let new = NewBreach {
        from,
        to,
        scope,
        description: fields.description.clone(),
    };
    match state.cista.record_breach(&actor, org.id, new).await {
        Ok(breach) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!("/admin/{}/breaches/{}", org.slug, breach.id)),
            "The breach is recorded. Fill in the notice, then send it.",
        )),
        Err(e @ Error::InvalidInput { .. }) => {
            let field = match &e {
                Error::InvalidInput { field, .. } if field == "description" => "description",
                _ => "from",
            };
            let errors = vec![FormError::new(field, sentence(&e))];
            list_page(&state, &ctx, &actor, &org, fields, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A core input error as a sentence for the form (`webhooks::sentence` on its reason).
fn sentence(e: &Error) -> String {
    match e {
        Error::InvalidInput { reason, .. } => super::webhooks::sentence(reason),
        other => super::webhooks::sentence(&other.to_string()),
    }
}

struct PersonRow {
    subject: String,
    kinds: String,
    state: String,
}

#[derive(Template)]
#[template(path = "admin/breach.html")]
struct BreachPage {
    chrome: Chrome,
    name: String,
    slug: String,
    id: String,
    recorded: String,
    recorded_by: String,
    window: String,
    scope: &'static str,
    description: String,
    deadline: Deadline,
    /// Now, as the reported form's default (or the time a refused form sent).
    now: String,
    /// Why the reported form was refused, shown beside it.
    reported_error: Option<String>,
    /// Some notices went out: editing the words changes only the later ones.
    any_told: bool,
    people: Vec<PersonRow>,
    summary: String,
    to_tell: usize,
    notice: NoticeTemplate,
    names: &'static [(&'static str, &'static str)],
    preview: Option<(String, String)>,
    left_to_fill: Option<String>,
    errors: Vec<FormError>,
}

/// Who recorded a breach, for the page: you, the operator's account, or a staff member by
/// subject code.
fn recorded_by(audit_name: &str, viewer: &Actor) -> String {
    if audit_name == viewer.audit_name() {
        "you".to_owned()
    } else if let Some(user) = audit_name.strip_prefix("operator:") {
        format!("the operator ({user}, on the command line)")
    } else if let Some(code) = audit_name.strip_prefix("subject:") {
        format!("a staff member (subject {code})")
    } else {
        audit_name.to_owned()
    }
}

fn person_row(org: &Organization, p: &PersonStanding) -> PersonRow {
    let kinds: Vec<String> = p
        .person
        .kinds
        .iter()
        .map(|(kind, n)| format!("{kind} ({n})"))
        .collect();
    let zone = &org.time_zone;
    let state = if let Some(told) = &p.told {
        match told.delivery {
            NoticeDelivery::Queued => format!("queued {}", zone.format(told.notified_at)),
            NoticeDelivery::Delivered { at } => format!("sent {}", zone.format(at)),
            NoticeDelivery::Failed { .. } => "not delivered: tell them another way".to_owned(),
            NoticeDelivery::Withdrawn => "withdrawn: erased after it was queued".to_owned(),
        }
    } else if p.person.erased {
        "erased: never contacted".to_owned()
    } else if !p.has_email {
        "no email address: tell them another way".to_owned()
    } else {
        "not told yet".to_owned()
    };
    PersonRow {
        subject: p.person.subject.clone(),
        kinds: kinds.join(", "),
        state,
    }
}

/// What a refused form sent, shown again in its place.
enum Again {
    Nothing,
    /// The notice's words, in the editor.
    Notice(NoticeTemplate),
    /// The time the authority was told, in the deadline panel.
    ReportedAt(String),
}

/// The breach's page, with a refused form's input and errors shown where that form is.
async fn breach_page(
    state: &AppState,
    ctx: &RequestContext,
    actor: &Actor,
    org: &Organization,
    id: BreachId,
    again: Again,
    mut errors: Vec<FormError>,
) -> Result<Response, AppError> {
    let (words, reported_value) = match again {
        Again::Nothing => (None, None),
        Again::Notice(words) => (Some(words), None),
        Again::ReportedAt(value) => (None, Some(value)),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let reported_error = errors
        .iter()
        .position(|e| e.field == "reported_at")
        .map(|i| errors.remove(i).message);
    let (breach, people) = state.cista.breach_people(actor, org.id, id).await?;
    let zone = &org.time_zone;
    let to_tell = people
        .iter()
        .filter(|p| !p.person.erased && p.told.is_none() && p.has_email)
        .count();
    let delivered = |wanted: fn(&NoticeDelivery) -> bool| {
        people
            .iter()
            .filter(|p| p.told.as_ref().is_some_and(|t| wanted(&t.delivery)))
            .count()
    };
    let sent = delivered(|d| matches!(d, NoticeDelivery::Delivered { .. }));
    let queued = delivered(|d| matches!(d, NoticeDelivery::Queued));
    let failed = delivered(|d| matches!(d, NoticeDelivery::Failed { .. }));
    let summary = format!(
        "{} could have been touched: {sent} sent, {queued} queued, {failed} not delivered, \
         {to_tell} to tell by email, {} erased (never contacted), {} without an email address.",
        words::count(people.len(), "person", "people"),
        people
            .iter()
            .filter(|p| p.person.erased && p.told.is_none())
            .count(),
        people
            .iter()
            .filter(|p| !p.person.erased && !p.has_email && p.told.is_none())
            .count()
    );
    let any_told = people.iter().any(|p| p.told.is_some());
    let preview = if words.is_none() {
        state
            .cista
            .preview_breach_notice(actor, org.id, id, "Alex")
            .await
            .ok()
    } else {
        None
    };
    let notice = words.unwrap_or_else(|| breach.notice.clone());
    render(
        status,
        BreachPage {
            chrome: Chrome::new(ctx, state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            id: breach.id.to_string(),
            recorded: zone.format(breach.recorded_at),
            recorded_by: recorded_by(&breach.recorded_by, actor),
            window: format!("{} to {}", zone.format(breach.from), zone.format(breach.to)),
            scope: breach.scope.describe(),
            description: breach.description.clone(),
            deadline: deadline(org, &breach, state.cista.clock().now()),
            now: reported_value.unwrap_or_else(|| zone.to_local_input(state.cista.clock().now())),
            reported_error,
            any_told,
            people: people.iter().map(|p| person_row(org, p)).collect(),
            summary,
            to_tell,
            left_to_fill: notice.left_to_fill(),
            notice,
            names: &NAMES,
            preview,
            errors,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let id = breach_id(&id)?;
    breach_page(&state, &ctx, &actor, &org, id, Again::Nothing, Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub struct NoticeForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

pub async fn save_notice(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<NoticeForm>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let id = breach_id(&id)?;
    // Browsers send a textarea's line breaks as CRLF.
    let words = NoticeTemplate {
        subject: form.subject.trim().to_owned(),
        body: form.body.replace("\r\n", "\n"),
    };
    match state
        .cista
        .set_breach_notice(&actor, org.id, id, words.clone())
        .await
    {
        Ok(()) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!("/admin/{}/breaches/{id}#notice", org.slug)),
            "The notice is saved.",
        )),
        Err(e @ Error::InvalidInput { .. }) => {
            let field = match &e {
                Error::InvalidInput { field, .. } if field == "notice_subject" => "subject",
                _ => "body",
            };
            let errors = vec![FormError::new(field, sentence(&e))];
            breach_page(&state, &ctx, &actor, &org, id, Again::Notice(words), errors).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn notify(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let id = breach_id(&id)?;
    match state.cista.notify_breach(&actor, org.id, id).await {
        Ok(done) => Ok(with_notice(
            &state,
            &ctx,
            see_other(&format!("/admin/{}/breaches/{id}", org.slug)),
            &format!(
                "{} queued for sending; {} told before; {} erased, never contacted; {} \
                 without an email address.",
                words::count(done.sent, "notice", "notices"),
                done.already_told,
                done.erased,
                done.without_email
            ),
        )),
        Err(e @ Error::InvalidInput { .. }) => {
            let errors = vec![FormError::new("body", sentence(&e))];
            breach_page(&state, &ctx, &actor, &org, id, Again::Nothing, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ReportedForm {
    #[serde(default)]
    reported_at: String,
}

pub async fn reported(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<ReportedForm>,
) -> Result<Response, AppError> {
    let org = staff_org(&state, &actor, &slug).await?;
    let id = breach_id(&id)?;
    let entered = form.reported_at.clone();
    let refuse = async |message: String| {
        let errors = vec![FormError::new("reported_at", message)];
        let again = Again::ReportedAt(entered);
        breach_page(&state, &ctx, &actor, &org, id, again, errors).await
    };
    let at = match form.reported_at.trim() {
        "" => None,
        raw => match org.time_zone.parse_local(raw, "time it was told") {
            Ok(at) => Some(at),
            Err(e) => return refuse(format!("The time it was told {}.", e.message)).await,
        },
    };
    let first = match state
        .cista
        .record_breach_reported(&actor, org.id, id, at)
        .await
    {
        Ok(first) => first,
        Err(e @ Error::InvalidInput { .. }) => return refuse(sentence(&e)).await,
        Err(e) => return Err(e.into()),
    };
    Ok(with_notice(
        &state,
        &ctx,
        see_other(&format!("/admin/{}/breaches/{id}", org.slug)),
        if first {
            "Recorded: the supervisory authority was told."
        } else {
            "That was recorded already."
        },
    ))
}
