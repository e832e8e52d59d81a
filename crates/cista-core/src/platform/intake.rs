//! The intake pipeline that the input-collecting products share (the embedded assessment,
//! field data collection); voting keeps its own path. A **form** is published as numbered,
//! immutable versions. A **submission** answers one version: immutable, its payload sealed
//! under the organization's data key, carrying the client's idempotency key (a retry with the
//! same key and content gets the first receipt and writes nothing; the same key with other
//! content is a `conflict`), recorded with its audit entry in one transaction. An
//! **attachment** is a file of a submission, streamed into the blob store (`crate::platform::blobs`)
//! and recorded by name, with the same retry rule.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::blobs::{BlobRules, BlobSource};
use crate::platform::notices::Notice;
use crate::ports::{BlobStore, StoredAttachment, StoredForm, StoredSubmission};
use crate::products::assessment::{Assessment, AssessmentAction};
use crate::products::collection::webhooks::{RecordEvent, WebhookEvent};
use crate::products::collection::{RecordForm, ReviewState};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_crypto::Digest32;
use cista_types::{FormId, OrgId, SubjectCode, SubmissionId, Timestamp};
use serde::Serialize;

/// The largest form definition, in bytes of compact JSON.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
/// The largest submission payload, in bytes of compact JSON.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// The largest file one upload may carry, in bytes (20 MiB).
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// The longest idempotency key (a UUID is 36).
pub const MAX_IDEMPOTENCY_KEY: usize = 64;

/// The products whose forms go through the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormProduct {
    Assessment,
    Collection,
}

impl FormProduct {
    pub fn as_str(self) -> &'static str {
        match self {
            FormProduct::Assessment => "assessment",
            FormProduct::Collection => "collection",
        }
    }

    /// `definition` as this product stores it, checked whole and in its normal form (every
    /// default spelled out): an assessment (questions, rules, bands: `rules_invalid` naming
    /// the rule) or a record form (fields and constraints: `invalid_input` naming the field).
    fn normal_definition(self, definition: &serde_json::Value) -> Result<serde_json::Value> {
        match self {
            FormProduct::Assessment => {
                let assessment = Assessment::parse(definition)?;
                serde_json::to_value(&assessment.definition)
                    .map_err(|e| Error::Internal(e.to_string()))
            }
            FormProduct::Collection => {
                crate::products::collection::RecordForm::parse(definition)?.normal_form()
            }
        }
    }

    /// What publishing this product's forms takes: the product's own action where it has one.
    pub fn publish_action(self) -> OrgAction {
        match self {
            FormProduct::Assessment => AssessmentAction::Manage.into(),
            FormProduct::Collection => OrgAction::ManageForms,
        }
    }
}

/// What a submission got back: the same on every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmissionReceipt {
    pub submission: SubmissionId,
    pub form: FormId,
    pub form_version: u32,
    /// SHA-256 of the content as received (compact JSON, keys sorted).
    pub content_sha256: Digest32,
    pub received_at: Timestamp,
    /// This answer is a retry's: the first submission's receipt, nothing written.
    pub replayed: bool,
}

/// An attachment as recorded, and whether this call stored it or found it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentReceipt {
    pub attachment: StoredAttachment,
    pub replayed: bool,
}

/// A form key or a field name: 1 to 64 of `a-z`, `0-9`, `-`, `_`, starting with a letter.
/// Whether `id` is an id of a form's file format (a question, field, option or score): 1 to 64
/// of `a-z`, `0-9`, `_`, starting with a letter, so it can stand in a rule's variable path and
/// an export's column name.
pub(crate) fn is_form_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What is wrong with a text staff wrote in a form (a title, label, hint, choice), if
/// anything: empty when `required`, over `max` characters, a control character other than a
/// line break or tab, or a character the printed documents' fonts cannot draw (refused here,
/// named, rather than printed as a box later). Each product words the refusal its own way.
pub(crate) fn form_text_problem(value: &str, required: bool, max: usize) -> Option<String> {
    if required && value.trim().is_empty() {
        return Some("write something here".to_owned());
    }
    if value.chars().count() > max {
        return Some(format!("at most {max} characters"));
    }
    if cista_types::controls::has_stray_control(value) {
        return Some("remove the control characters".to_owned());
    }
    cista_types::glyphs::check_printable(value)
        .err()
        .map(|e| e.to_string())
}

pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "use 1 to 64 lower-case letters, digits, - or _, starting with a letter",
        ))
    }
}

fn check_idempotency_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "idempotency_key",
            "use 1 to 64 letters, digits, -, _, . or : (a UUID fits)",
        ))
    }
}

/// `value` with every object's keys in sorted order. serde_json keeps insertion order when any
/// crate of the build turns on its `preserve_order` feature (one does), so sorting is ours.
pub(crate) fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for key in keys {
                if let Some(v) = map.get(key) {
                    out.insert(key.clone(), sorted(v));
                }
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

/// Compact JSON with every object's keys sorted, so the same content always has the same
/// bytes and hash.
pub(crate) fn canonical(value: &serde_json::Value, field: &str, max: usize) -> Result<String> {
    if !value.is_object() {
        return Err(Error::invalid(field, "must be a JSON object"));
    }
    let text = serde_json::to_string(&sorted(value)).map_err(|e| Error::Internal(e.to_string()))?;
    if text.len() > max {
        return Err(Error::PayloadTooLarge { limit_bytes: max });
    }
    Ok(text)
}

/// The product a stored form belongs to.
fn product_of(form: &StoredForm) -> Result<FormProduct> {
    match form.product.as_str() {
        "assessment" => Ok(FormProduct::Assessment),
        "collection" => Ok(FormProduct::Collection),
        _ => Err(Error::Integrity(format!(
            "form {} has an unknown product",
            form.id.as_i64()
        ))),
    }
}

/// A stored record form's definition, read back.
pub(crate) fn record_form(form: &StoredForm) -> Result<RecordForm> {
    let json: serde_json::Value =
        serde_json::from_str(&form.definition).map_err(|e| Error::Integrity(e.to_string()))?;
    RecordForm::parse(&json).map_err(|e| Error::Integrity(format!("a stored record form: {e}")))
}

/// The rules an upload for file `name` of `parent` must meet, within the route's `rules`: a
/// record's file must be a photo its answers announce (`not_found` otherwise), an image, no
/// larger than its field allows.
async fn upload_rules(
    cista: &Cista,
    parent: &StoredSubmission,
    name: &str,
    rules: &BlobRules,
) -> Result<BlobRules> {
    let form = cista
        .store()
        .intake()
        .form(parent.form)
        .await?
        .ok_or_else(|| Error::Integrity("a submission's form is missing".to_owned()))?;
    match product_of(&form)? {
        FormProduct::Assessment => Ok(rules.clone()),
        FormProduct::Collection => {
            let answers = cista.open_payload(parent).await?;
            let slot = record_form(&form)?
                .photo_slot(&answers, name)
                .ok_or(Error::NotFound {
                    what: "that photo (the record's answers do not name it)",
                })?;
            Ok(BlobRules {
                max_bytes: rules.max_bytes.min(slot.max_bytes),
                allowed_types: rules
                    .allowed_types
                    .iter()
                    .filter(|t| t.starts_with("image/"))
                    .cloned()
                    .collect(),
            })
        }
    }
}

pub(crate) fn payload_aad(org: OrgId, id: SubmissionId) -> Vec<u8> {
    format!("cista/v1|submission|{org}|{id}").into_bytes()
}

impl Cista {
    /// Publishes a new version of `org`'s form `key` (version 1, 2, …). Publishing the same
    /// definition as the newest version changes nothing and returns that version.
    pub async fn publish_form(
        &self,
        actor: &Actor,
        org: OrgId,
        product: FormProduct,
        key: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredForm> {
        actor.authorize_in(org, product.publish_action())?;
        check_name("key", key)?;
        let definition = product.normal_definition(definition)?;
        let text = canonical(&definition, "definition", MAX_DEFINITION_BYTES)?;
        let hash = Digest32::sha256(&[text.as_bytes()]);
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let latest = tx.intake().latest_form(org, key).await?;
        if let Some(latest) = &latest {
            if latest.product != product.as_str() {
                return Err(Error::Conflict(format!(
                    "the form {key} is a {} form",
                    latest.product
                )));
            }
            if latest.definition_sha256 == hash {
                return Ok(latest.clone());
            }
        }
        let form = StoredForm {
            id: FormId::new(self.rng().as_ref()),
            org,
            product: product.as_str().to_owned(),
            key: key.to_owned(),
            version: latest.map_or(1, |l| l.version + 1),
            definition: text,
            definition_sha256: hash,
            published_at: now,
            published_by: actor.audit_name(),
        };
        tx.intake().insert_form(&form).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::FormPublished,
            serde_json::json!({
                "form": form.id,
                "key": form.key,
                "version": form.version,
                "definition_sha256": form.definition_sha256.to_hex(),
            }),
        ))
        .await?;
        Ok(form)
    }

    /// A published form version of `org`.
    pub async fn published_form(&self, org: OrgId, id: FormId) -> Result<StoredForm> {
        self.store()
            .intake()
            .form(id)
            .await?
            .filter(|f| f.org == org)
            .ok_or(Error::NotFound { what: "that form" })
    }

    /// Records a submission of form version `form`, or returns the first receipt of a retry
    /// (same idempotency key from the same sender, same content). The same key with other
    /// content is a `conflict` (409); nothing is written then. Keys are each sender's own:
    /// another sender's use of the same key neither replays nor conflicts.
    pub async fn submit(
        &self,
        actor: &Actor,
        org: OrgId,
        form: FormId,
        idempotency_key: &str,
        payload: &serde_json::Value,
    ) -> Result<SubmissionReceipt> {
        actor.authorize_in(org, OrgAction::SubmitForms)?;
        check_idempotency_key(idempotency_key)?;
        let text = canonical(payload, "payload", MAX_PAYLOAD_BYTES)?;
        let content_sha256 = Digest32::sha256(&[text.as_bytes()]);
        let form = self.published_form(org, form).await?;
        match product_of(&form)? {
            FormProduct::Collection => record_form(&form)?.check_record(payload)?,
            // An assessment is answered through its widget, which scores it.
            FormProduct::Assessment => {
                return Err(Error::NotFound {
                    what: "that form (an assessment is answered through its widget)",
                });
            }
        }
        let mut audit = serde_json::Map::new();
        if let Some(crate::Access::Device(device)) = actor.person().map(|p| p.access) {
            audit.insert("device".to_owned(), serde_json::json!(device));
        }
        let recording = Recording {
            form: &form,
            idempotency_key,
            content_sha256,
            payload: text,
            audit,
            notices: &|_| Vec::new(),
        };
        self.record_submission(actor, recording).await
    }

    /// The first receipt of the submission `actor` made with `idempotency_key` in `org`, if
    /// there is one and it has this content; a `conflict` if it has other content.
    pub(crate) async fn earlier_submission(
        &self,
        actor: &Actor,
        org: OrgId,
        form: FormId,
        idempotency_key: &str,
        content_sha256: &Digest32,
    ) -> Result<Option<SubmissionReceipt>> {
        match self
            .store()
            .intake()
            .submission_by_key(org, &actor.audit_name(), idempotency_key)
            .await?
        {
            Some(first) => Ok(Some(self.replayed(first, form, content_sha256).await?)),
            None => Ok(None),
        }
    }

    /// Seals and records a submission in one transaction with its audit entry, or answers a
    /// retry with the first receipt (see `submit`). Products with their own checks (the
    /// assessment) call this after them.
    pub(crate) async fn record_submission(
        &self,
        actor: &Actor,
        recording: Recording<'_>,
    ) -> Result<SubmissionReceipt> {
        let Recording {
            form,
            idempotency_key,
            content_sha256,
            payload,
            audit,
            notices,
        } = recording;
        let org = form.org;
        let id = SubmissionId::new(self.rng().as_ref());
        let sealed = self
            .seal_for_org(org, &payload_aad(org, id), payload.as_bytes())
            .await?;
        let now = self.clock().now();
        let submission = StoredSubmission {
            id,
            org,
            form: form.id,
            idempotency_key: idempotency_key.to_owned(),
            content_sha256,
            sealed_payload: sealed.into_bytes(),
            submitted_by: actor.audit_name(),
            received_at: now,
        };
        let mut tx = self.store().begin().await?;
        if !tx.intake().insert_submission(&submission).await? {
            let first = tx
                .intake()
                .submission_by_key(org, &submission.submitted_by, idempotency_key)
                .await?
                .ok_or(Error::SubmissionInProgress)?;
            tx.commit_housekeeping().await?;
            return self.replayed(first, form.id, &content_sha256).await;
        }
        let mut details = serde_json::json!({
            "submission": id,
            "form": form.id,
            "version": form.version,
            "content_sha256": content_sha256.to_hex(),
        });
        if let Some(map) = details.as_object_mut() {
            map.extend(audit);
        }
        for (recipient, notice) in notices(id) {
            tx.enqueue(&self.message(recipient, &notice)?).await?;
        }
        if product_of(form)? == FormProduct::Collection {
            let event = RecordEvent {
                event: WebhookEvent::RecordCreated,
                org,
                form_key: &form.key,
                form_version: form.version,
                record: id,
                state: ReviewState::Received.as_str(),
                at: now,
            };
            self.queue_record_event(&mut tx, &event).await?;
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::SubmissionReceived,
            details,
        ))
        .await?;
        Ok(SubmissionReceipt {
            submission: id,
            form: form.id,
            form_version: form.version,
            content_sha256,
            received_at: now,
            replayed: false,
        })
    }

    /// The first receipt of a retried submission, if it is the same submission: the same
    /// form version and the same content.
    async fn replayed(
        &self,
        first: StoredSubmission,
        form: FormId,
        content_sha256: &Digest32,
    ) -> Result<SubmissionReceipt> {
        if first.form != form {
            return Err(Error::Conflict(
                "that idempotency key was already used for a submission of another form".to_owned(),
            ));
        }
        if first.content_sha256 != *content_sha256 {
            return Err(Error::Conflict(
                "that idempotency key was already used for a submission with other content"
                    .to_owned(),
            ));
        }
        let form = self.published_form(first.org, first.form).await?;
        Ok(SubmissionReceipt {
            submission: first.id,
            form: first.form,
            form_version: form.version,
            content_sha256: first.content_sha256,
            received_at: first.received_at,
            replayed: true,
        })
    }

    /// A submission of `org` and its payload, opened.
    pub async fn submission(
        &self,
        actor: &Actor,
        org: OrgId,
        id: SubmissionId,
    ) -> Result<(StoredSubmission, serde_json::Value)> {
        actor.authorize_in(org, OrgAction::ViewSubmissions)?;
        let stored = self.org_submission(org, id, "that submission").await?;
        let payload = self.open_payload(&stored).await?;
        Ok((stored, payload))
    }

    /// `org`'s submission `id`; `not_found` (naming `what`) for any other, so no caller can
    /// reach another organization's by its id.
    pub(crate) async fn org_submission(
        &self,
        org: OrgId,
        id: SubmissionId,
        what: &'static str,
    ) -> Result<StoredSubmission> {
        self.store()
            .intake()
            .submission(id)
            .await?
            .filter(|s| s.org == org)
            .ok_or(Error::NotFound { what })
    }

    /// A stored submission's payload, opened (no check of who asks: callers do that).
    pub(crate) async fn open_payload(
        &self,
        stored: &StoredSubmission,
    ) -> Result<serde_json::Value> {
        let key = self.org_data_key(stored.org).await?;
        super::org::open_payload_with(&key, stored)
    }

    /// Streams a file for field `name` of a submission into the blob store and records it. A
    /// retry with the same bytes gets the first record; other bytes for the same name are a
    /// `conflict`. Size and type refusals (413, 415) record nothing. Only the submission's
    /// sender may add its files: anyone else gets `not_found`.
    #[allow(clippy::too_many_arguments)]
    pub async fn attach(
        &self,
        blobs: &dyn BlobStore,
        actor: &Actor,
        org: OrgId,
        submission: SubmissionId,
        name: &str,
        declared_type: &str,
        rules: &BlobRules,
        source: &mut dyn BlobSource,
    ) -> Result<AttachmentReceipt> {
        actor.authorize_in(org, OrgAction::SubmitForms)?;
        check_name("name", name)?;
        let parent = self
            .org_submission(org, submission, "that submission")
            .await?;
        // Only whoever sent the submission adds its files: the collector (through any of their
        // device tokens) or the app token that sent it. Another collector or partner of the same
        // organization gets the answer a submission that does not exist gets, as for its status
        // (OWASP API Security Top 10, API1: broken object level authorization).
        if !parent.sent_by(actor) {
            return Err(Error::NotFound {
                what: "that submission",
            });
        }
        let rules = upload_rules(self, &parent, name, rules).await?;
        let staged = self
            .stage_blob(blobs, org, declared_type, &rules, source)
            .await?;
        // A retry of a name already recorded is answered from the first record, and its bytes
        // are never published: a clashing retry leaves no blob behind. (One that races another
        // upload of the same name past this check is caught by the insert below; its blob is
        // then the sweeper's, `sweep_blobs`.)
        let recorded = self.store().intake().attachments(parent.id).await?;
        if let Some(first) = recorded.into_iter().find(|a| a.name == name) {
            let sha256 = staged.sha256;
            staged.discard(blobs).await?;
            return answer_repeat(first, &sha256, name);
        }
        let blob = staged.publish(blobs).await?;
        let now = self.clock().now();
        let attachment = StoredAttachment {
            submission: parent.id,
            name: name.to_owned(),
            sha256: blob.sha256,
            size: blob.size,
            content_type: blob.content_type,
            stored_at: now,
        };
        let mut tx = self.store().begin().await?;
        if !tx.intake().insert_attachment(&attachment).await? {
            let first = tx
                .intake()
                .attachment(parent.id, name)
                .await?
                .ok_or(Error::SubmissionInProgress)?;
            tx.commit_housekeeping().await?;
            return answer_repeat(first, &attachment.sha256, name);
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::AttachmentStored,
            serde_json::json!({
                "submission": parent.id,
                "name": name,
                "sha256": attachment.sha256.to_hex(),
                "size": attachment.size,
            }),
        ))
        .await?;
        Ok(AttachmentReceipt {
            attachment,
            replayed: false,
        })
    }
}

/// A submission a product has checked, ready to be sealed and recorded.
pub(crate) struct Recording<'a> {
    pub form: &'a StoredForm,
    /// Unique in the organization: a second submission with it is a retry or a conflict.
    pub idempotency_key: &'a str,
    /// What decides whether a retry is the same submission.
    pub content_sha256: Digest32,
    /// The payload's text (compact JSON), sealed under the organization's data key.
    pub payload: String,
    /// Facts the audit entry adds to the submission's id, form, version and hash.
    pub audit: serde_json::Map<String, serde_json::Value>,
    /// Messages that the submission sets off (staff told of it), each with its recipient,
    /// made from the new submission's id and queued in the same transaction: sent if and only
    /// if the submission is recorded.
    pub notices: &'a (dyn Fn(SubmissionId) -> Vec<(SubjectCode, Notice)> + Send + Sync),
}

/// The answer to a second upload (of bytes with this `sha256`) for a name already recorded:
/// the first receipt when the bytes are the same, a `conflict` when they are not.
fn answer_repeat(
    first: StoredAttachment,
    sha256: &Digest32,
    name: &str,
) -> Result<AttachmentReceipt> {
    if first.sha256 != *sha256 {
        return Err(Error::Conflict(format!(
            "{name} of this submission was already sent with other contents"
        )));
    }
    Ok(AttachmentReceipt {
        attachment: first,
        replayed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_payloads_are_checked() {
        for good in ["risk-profile", "a", "photo_1"] {
            assert!(check_name("key", good).is_ok(), "{good}");
        }
        for bad in ["", "Risk", "1st", "a b", "ä", &"a".repeat(65)] {
            assert!(check_name("key", bad).is_err(), "{bad}");
        }
        assert!(check_idempotency_key("3f2a9c0d-41b7-4e65-9a1b-0c3d5e7f9a1b").is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(65)] {
            assert!(check_idempotency_key(bad).is_err(), "{bad}");
        }
        let a = canonical(
            &serde_json::json!({"b": 1, "a": [{"y": 1, "x": 2}]}),
            "p",
            100,
        )
        .unwrap();
        let b = canonical(
            &serde_json::json!({"a": [{"x": 2, "y": 1}], "b": 1}),
            "p",
            100,
        )
        .unwrap();
        assert_eq!(a, b, "keys sorted");
        assert_eq!(a, r#"{"a":[{"x":2,"y":1}],"b":1}"#);
        assert!(canonical(&serde_json::json!([1]), "p", 100).is_err());
        assert!(matches!(
            canonical(&serde_json::json!({"a": "x".repeat(200)}), "p", 100),
            Err(Error::PayloadTooLarge { limit_bytes: 100 })
        ));
    }
}
