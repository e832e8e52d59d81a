//! A client's answers from the widget, end to end in the core: the site and the load token
//! checked, the answers checked and scored here (never in the browser), the client's name and
//! email sealed in the person vault under a new random subject code, the result (answers,
//! scores, band, rules hash, consent) recorded through the form pipeline under that code
//! only, and the part the firm chose to show returned. A retry with the same token and the
//! same answers gets the first result and writes nothing; other answers are a `conflict`.

use super::audit::AssessmentAuditKind;
use super::load_token::LoadClaims;
use super::notices::AssessmentNotice;
use super::{AssessmentError, PublishedAssessment};
use crate::platform::audit::NewAuditEntry;
use crate::platform::intake::{
    FormProduct, MAX_PAYLOAD_BYTES, Recording, SubmissionReceipt, canonical,
};
use crate::platform::notices::Notice;
use crate::platform::people::PersonFields;
use crate::{Actor, Cista, Error, Result};
use cista_crypto::Digest32;
use cista_types::{Email, FormId, OrgId, PersonName, SubjectCode, SubmissionId, WebOrigin};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Who the client is, as typed into the widget (checked here).
#[derive(Clone, Deserialize)]
pub struct ClientDetails {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// The client agreed to the form's stated purpose.
    pub consent: bool,
    /// The client asks to be sent what they are shown by email (honoured when the form
    /// allows it; ignored otherwise).
    #[serde(default)]
    pub email_copy: bool,
}

impl std::fmt::Debug for ClientDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientDetails")
            .field("consent", &self.consent)
            .finish_non_exhaustive()
    }
}

/// Where a widget submission comes from, as the HTTP layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentFrom<'a> {
    /// Straight from a page on a firm's site (a script calling the embed API): the `Origin`
    /// header its browser sent (`None`: it sent none). It must be listed and be the site the
    /// load token was issued for.
    Page(Option<&'a str>),
    /// From Cista's own widget page (the iframe, whose browser says `Origin` is Cista's): the
    /// site is the one the load token was issued for, which must still be listed. The
    /// browser showed that page only inside a listed site (`frame-ancestors`).
    WidgetPage,
}

/// One submission from a widget.
#[derive(Debug)]
pub struct WidgetSubmission<'a> {
    pub org: OrgId,
    pub form: FormId,
    pub sent_from: SentFrom<'a>,
    pub load_token: &'a str,
    pub client: ClientDetails,
    pub answers: &'a Value,
}

/// A score as the client sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownScore {
    pub label: String,
    pub value: f64,
}

/// The band as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShownBand {
    pub label: String,
    pub text: String,
}

/// What the client is shown after submitting: only what the form's `client_sees` allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<ShownBand>,
    pub scores: Vec<ShownScore>,
    #[serde(skip)]
    pub receipt: SubmissionReceipt,
}

/// The result as stored (sealed) in the submission's payload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredResult {
    /// The client's subject code in the person vault: the only link to who it was.
    pub subject: SubjectCode,
    pub answers: serde_json::Map<String, Value>,
    pub scores: serde_json::Map<String, Value>,
    pub band: usize,
    pub band_label: String,
    pub rules_sha256: String,
    pub origin: String,
    pub consented_to: String,
}

/// A widget ready to be shown on a listed site: the newest version and a fresh load token.
#[derive(Debug)]
pub struct LoadedWidget {
    pub published: PublishedAssessment,
    pub origin: WebOrigin,
    pub token: super::LoadToken,
}

impl Cista {
    /// The newest version of `org`'s assessment `key` for a widget on the site `origin` (as the
    /// page says it is; the browser holds it to that with the page's `frame-ancestors`), with
    /// a load token for that version and site. A site not listed is `origin_not_allowed`,
    /// audited; an unknown form is `not_found`.
    pub async fn load_widget(
        &self,
        org: OrgId,
        key: &str,
        origin: Option<&str>,
    ) -> Result<LoadedWidget> {
        let form = self.newest_assessment(org, key).await?.id;
        let loaded = async {
            let (published, origin) = self.embeddable(org, form, origin).await?;
            let token = self.issue_load_token(org, form, &origin)?;
            Ok::<_, Error>(LoadedWidget {
                published,
                origin,
                token,
            })
        }
        .await;
        self.audit_refusal(org, Some(form), origin, loaded).await
    }

    /// The site `origin` if the newest version of `org`'s assessment `key` lists it (a CORS
    /// preflight asks this); `origin_not_allowed`, audited, if not.
    pub async fn allowed_site(
        &self,
        org: OrgId,
        key: &str,
        origin: Option<&str>,
    ) -> Result<WebOrigin> {
        let form = self.newest_assessment(org, key).await?.id;
        let checked = self
            .embeddable(org, form, origin)
            .await
            .map(|(_, site)| site);
        self.audit_refusal(org, Some(form), origin, checked).await
    }

    /// Records a refused widget (a site not listed, a bad or expired token) in the audit log
    /// and the metrics, and passes the result on. Recording is best effort: a failure to
    /// record is logged, never turned into another answer.
    async fn audit_refusal<T>(
        &self,
        org: OrgId,
        form: Option<FormId>,
        origin: Option<&str>,
        result: Result<T>,
    ) -> Result<T> {
        let Err(Error::Assessment(refusal)) = &result else {
            return result;
        };
        if !matches!(
            refusal,
            AssessmentError::OriginNotAllowed { .. }
                | AssessmentError::LoadTokenInvalid
                | AssessmentError::LoadTokenExpired
        ) {
            return result;
        }
        // A site's origin is no one's personal data; anything that is not one is not stored.
        let site = match origin {
            None => "none".to_owned(),
            Some(o) => WebOrigin::parse(o)
                .map_or_else(|_| "not an https origin".to_owned(), |o| o.to_string()),
        };
        let code = refusal.code();
        let entry = NewAuditEntry::new(
            self.clock().now(),
            &Actor::Anonymous,
            Some(org),
            AssessmentAuditKind::WidgetRefused,
            json!({ "form": form, "origin": site, "reason": code }),
        );
        if let Err(e) = self.store().append_audit(entry).await {
            tracing::error!(code = e.code(), cause = %e.chain(), "could not record a refused widget");
        }
        result
    }

    /// The published version `form` of `org`, for a widget on the page whose `Origin` is
    /// `origin`: refused with `origin_not_allowed` unless the version lists that site.
    pub async fn embeddable(
        &self,
        org: OrgId,
        form: FormId,
        origin: Option<&str>,
    ) -> Result<(PublishedAssessment, WebOrigin)> {
        // Another product's form (a record form) is no assessment to a widget: not found,
        // before its definition is read as one.
        let stored = Some(self.published_form(org, form).await?)
            .filter(|f| f.product == FormProduct::Assessment.as_str())
            .ok_or(Error::NotFound { what: "that form" })?;
        let published = PublishedAssessment::read(stored)?;
        let refused = || AssessmentError::OriginNotAllowed {
            origin: origin
                .unwrap_or("a page that did not say where it is")
                .to_owned(),
        };
        let origin = origin
            .and_then(|o| WebOrigin::parse(o).ok())
            .ok_or_else(refused)?;
        if !published
            .assessment
            .definition
            .embed
            .allowed_origins
            .contains(&origin)
        {
            return Err(refused().into());
        }
        Ok((published, origin))
    }

    /// Checks, scores and records one widget submission (see the module's documentation).
    /// Refusals: `origin_not_allowed`, `load_token_invalid`, `load_token_expired` (403),
    /// `answer_invalid` or `invalid_input` naming the field (400), `conflict` for a token
    /// already used with other answers (409); nothing is stored for any of them.
    pub async fn submit_assessment(&self, s: WidgetSubmission<'_>) -> Result<ClientResult> {
        let site = match s.sent_from {
            SentFrom::Page(origin) => origin.map(str::to_owned),
            SentFrom::WidgetPage => self.verified_claims(s.load_token).ok().map(|c| c.origin),
        };
        let (org, form) = (s.org, s.form);
        let checked = async {
            if matches!(s.sent_from, SentFrom::WidgetPage) && site.is_none() {
                return Err(AssessmentError::LoadTokenInvalid.into());
            }
            let (published, origin) = self.embeddable(org, form, site.as_deref()).await?;
            let claims = self.check_load_token(s.load_token, org, form, &origin)?;
            Ok((published, origin, claims))
        }
        .await;
        let (published, origin, claims) = self
            .audit_refusal(org, Some(form), site.as_deref(), checked)
            .await?;
        let fields = client_fields(&s.client)?;
        let assessment = &published.assessment;
        let (answers, scored) = assessment.evaluate(s.answers)?;
        let given = Value::Object(answers.given.clone());
        let content = canonical(&json!({ "answers": given }), "answers", MAX_PAYLOAD_BYTES)?;
        let content_sha256 = Digest32::sha256(&[content.as_bytes()]);
        let key = claims.idempotency_key();
        if let Some(first) = self
            .earlier_submission(&Actor::Anonymous, s.org, s.form, &key, &content_sha256)
            .await?
        {
            return self.first_result(&published, first).await;
        }
        let subject = SubjectCode::new(self.rng().as_ref());
        let mut person = self.seal_person(subject, &fields).await?;
        // A client is not an account: never found by email at sign-in, nor colliding with one.
        person.email_index = None;
        self.vault().insert_person(&person).await?;
        let definition = &assessment.definition;
        let stored = StoredResult {
            subject,
            answers: answers.given,
            scores: scored
                .scores
                .iter()
                .map(|(id, v)| (id.clone(), json!(v)))
                .collect(),
            band: scored.band,
            band_label: band_label(&published, scored.band),
            rules_sha256: assessment.rules_sha256().to_hex(),
            origin: origin.as_str().to_owned(),
            consented_to: definition.purpose.clone(),
        };
        let recorded = self
            .record_result(
                &published,
                &claims,
                (&key, content_sha256),
                &stored,
                s.client.email_copy,
            )
            .await;
        match recorded {
            Ok(receipt) if receipt.replayed => {
                // Another request with this token won the race: its result stands, this
                // client's vault entry was never referenced.
                self.vault().discard_person(subject).await?;
                self.first_result(&published, receipt).await
            }
            Ok(receipt) => Ok(client_view(&published, &stored, receipt)),
            Err(e) => {
                self.vault().discard_person(subject).await?;
                Err(e)
            }
        }
    }

    async fn record_result(
        &self,
        published: &PublishedAssessment,
        claims: &LoadClaims,
        (key, content_sha256): (&str, Digest32),
        stored: &StoredResult,
        copy_asked: bool,
    ) -> Result<SubmissionReceipt> {
        let payload = serde_json::to_value(stored).map_err(|e| Error::Internal(e.to_string()))?;
        let payload = canonical(&payload, "payload", MAX_PAYLOAD_BYTES)?;
        let mut audit = serde_json::Map::new();
        audit.insert("subject".to_owned(), json!(stored.subject.to_string()));
        audit.insert("origin".to_owned(), json!(claims.origin));
        audit.insert("rules_sha256".to_owned(), json!(stored.rules_sha256));
        let mut told = self.result_notices(published, stored).await?;
        if copy_asked && published.assessment.definition.client_sees.email_copy {
            let (band, scores) = shown_part(published, stored);
            let copy = AssessmentNotice::ResultCopy {
                organization: told.organization.clone(),
                title: published.assessment.definition.title.clone(),
                band: band.map(|b| (b.label, b.text)),
                scores: scores
                    .into_iter()
                    .map(|s| (s.label, s.value.to_string()))
                    .collect(),
            };
            told.extra.push((stored.subject, copy.into()));
        }
        let recording = Recording {
            form: &published.form,
            idempotency_key: key,
            content_sha256,
            payload,
            audit,
            notices: &|submission| told.for_result(submission),
        };
        self.record_submission(&Actor::Anonymous, recording).await
    }

    /// The messages that tell the form's chosen staff of a new result: a link to the result
    /// in the portal, or the report attached if the form's settings say so.
    async fn result_notices(
        &self,
        published: &PublishedAssessment,
        stored: &StoredResult,
    ) -> Result<ResultNotices> {
        let form = &published.form;
        let settings = self.settings_of(form.org, &form.key).await?;
        let org = self
            .store()
            .organization(form.org)
            .await?
            .ok_or(Error::NotFound {
                what: "that organization",
            })?;
        Ok(ResultNotices {
            portal: format!(
                "{}/admin/{}/assessments/{}/results",
                self.settings().public_origin.trim_end_matches('/'),
                org.slug,
                form.key
            ),
            organization: org.name.as_str().to_owned(),
            org: org.id,
            title: published.assessment.definition.title.clone(),
            subject: stored.subject.to_string(),
            band: stored.band_label.clone(),
            notify: settings.notify,
            attach_report: settings.attach_report,
            extra: Vec::new(),
        })
    }

    /// The client's view of the first submission made with a token, for a retry.
    async fn first_result(
        &self,
        published: &PublishedAssessment,
        receipt: SubmissionReceipt,
    ) -> Result<ClientResult> {
        let first = self
            .org_submission(published.form.org, receipt.submission, "that result")
            .await?;
        let payload = self.open_payload(&first).await?;
        let stored: StoredResult = serde_json::from_value(payload)
            .map_err(|e| Error::Integrity(format!("a stored assessment result: {e}")))?;
        Ok(client_view(published, &stored, receipt))
    }
}

/// The messages a new result sets off, made once its id is known (in its transaction).
struct ResultNotices {
    portal: String,
    organization: String,
    org: OrgId,
    title: String,
    subject: String,
    band: String,
    /// Staff told of it.
    notify: Vec<SubjectCode>,
    attach_report: bool,
    /// Messages that do not name the result (the client's copy).
    extra: Vec<(SubjectCode, Notice)>,
}

impl ResultNotices {
    fn for_result(&self, submission: SubmissionId) -> Vec<(SubjectCode, Notice)> {
        let mut out: Vec<(SubjectCode, Notice)> = self
            .notify
            .iter()
            .map(|advisor| {
                let notice = AssessmentNotice::AssessmentResult {
                    organization: self.organization.clone(),
                    title: self.title.clone(),
                    org: self.org,
                    submission,
                    subject: self.subject.clone(),
                    band: self.band.clone(),
                    link: format!("{}/{submission}", self.portal),
                    attach_report: self.attach_report,
                };
                (*advisor, notice.into())
            })
            .collect();
        out.extend(self.extra.iter().cloned());
        out
    }
}

/// The client's name and email checked, and their consent required.
fn client_fields(client: &ClientDetails) -> Result<PersonFields> {
    if !client.consent {
        return Err(AssessmentError::answer(
            "consent",
            "tick the box to agree to the purpose stated above, or the answers cannot be sent",
        )
        .into());
    }
    // Each refusal names the form's field, so the widget can show it beside that field.
    let named = |field: &'static str, words: &'static str| {
        move |e: cista_types::ParseError| {
            Error::invalid(field, format!("the {words} {}", e.message))
        }
    };
    Ok(PersonFields {
        first_name: PersonName::parse(&client.first_name)
            .map_err(named("first_name", "first name"))?,
        last_name: PersonName::parse(&client.last_name).map_err(named("last_name", "last name"))?,
        email: Some(Email::parse(&client.email).map_err(named("email", "email address"))?),
        phone: None,
    })
}

fn band_label(published: &PublishedAssessment, band: usize) -> String {
    published
        .assessment
        .definition
        .result
        .bands
        .get(band)
        .map(|b| b.label.clone())
        .unwrap_or_default()
}

/// What `client_sees` lets the client see of `stored`.
fn client_view(
    published: &PublishedAssessment,
    stored: &StoredResult,
    receipt: SubmissionReceipt,
) -> ClientResult {
    let (band, scores) = shown_part(published, stored);
    ClientResult {
        band,
        scores,
        receipt,
    }
}

/// The band and scores `client_sees` shows of `stored`.
fn shown_part(
    published: &PublishedAssessment,
    stored: &StoredResult,
) -> (Option<ShownBand>, Vec<ShownScore>) {
    let definition = &published.assessment.definition;
    let band = definition
        .client_sees
        .band
        .then(|| definition.result.bands.get(stored.band))
        .flatten()
        .map(|b| ShownBand {
            label: b.label.clone(),
            text: b.client_text.clone(),
        });
    let scores = definition
        .scores
        .iter()
        .filter(|rule| definition.client_sees.scores.contains(&rule.id))
        .filter_map(|rule| {
            let value = stored.scores.get(&rule.id)?.as_f64()?;
            Some(ShownScore {
                label: rule.label.clone(),
                value,
            })
        })
        .collect();
    (band, scores)
}
