//! The intake capability of the store: published forms, submissions and their attachments,
//! for the products that collect input (the embedded assessment, field data collection).
//! Unlike the older single `Store` / `StoreTx` traits, a capability is a port of its own:
//! reads through `Store::intake`, writes through `StoreTx::intake`, so its operations are
//! written once in the store (`cista-store/src/intake.rs`) and a new product adds no lines to
//! the big traits.

use crate::Result;
use async_trait::async_trait;
use cista_crypto::Digest32;
use cista_types::{FormId, OrgId, SubjectCode, SubmissionId, Timestamp};

/// One published version of a form: immutable once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForm {
    pub id: FormId,
    pub org: OrgId,
    /// Which product's form (`assessment`, `collection`): the product reads the definition.
    pub product: String,
    /// The form's name in its organization, the same across versions.
    pub key: String,
    /// 1, 2, …
    pub version: u32,
    /// The definition as published (JSON, compact, keys sorted).
    pub definition: String,
    pub definition_sha256: Digest32,
    pub published_at: Timestamp,
    pub published_by: String,
}

/// A submission: immutable; its payload sealed under the organization's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubmission {
    pub id: SubmissionId,
    pub org: OrgId,
    pub form: FormId,
    /// The client's idempotency key: unique per sender (`submitted_by`) in the organization.
    pub idempotency_key: String,
    /// SHA-256 of the payload as received (compact JSON, keys sorted): a retry with the same
    /// key and the same content gets the first receipt, other content is a conflict.
    pub content_sha256: Digest32,
    pub sealed_payload: Vec<u8>,
    /// The sender's audit name (`Actor::audit_name`): a person's (`subject:…`, whichever of
    /// their device tokens sent it) or an app token's (`app:…`).
    pub submitted_by: String,
    pub received_at: Timestamp,
}

impl StoredSubmission {
    /// Whether `actor` sent this submission: the one rule for who reads back its status and
    /// adds its files without an organization-wide right to its submissions.
    pub fn sent_by(&self, actor: &crate::Actor) -> bool {
        self.submitted_by == actor.audit_name()
    }
}

/// A file attached to a submission, stored in the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub submission: SubmissionId,
    /// The form field it answers (`photo_1`): unique in its submission.
    pub name: String,
    pub sha256: Digest32,
    pub size: u64,
    pub content_type: String,
    pub stored_at: Timestamp,
}

/// What an organization decided about one of its forms (every version): who is told of a new
/// submission, how, and how long submissions are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFormSettings {
    pub org: OrgId,
    pub key: String,
    /// Staff told of each new submission, by subject code (their address is read from the
    /// vault when the message is sent).
    pub notify: Vec<SubjectCode>,
    /// The message carries the report itself rather than a link to it.
    pub attach_report: bool,
    /// Submissions older than this many days are deleted; `None`: kept indefinitely.
    pub retention_days: Option<u32>,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait IntakeReads: Send + Sync {
    async fn form(&self, id: FormId) -> Result<Option<StoredForm>>;

    /// Every version of an organization's form `key`, oldest first.
    async fn form_versions(&self, org: OrgId, key: &str) -> Result<Vec<StoredForm>>;

    /// The newest version of an organization's form `key`, if one was published: one row,
    /// read from the end of the key's versions in the index, however many there are (an
    /// embedded widget asks this at every load).
    async fn newest_form_version(&self, org: OrgId, key: &str) -> Result<Option<StoredForm>>;

    async fn submission(&self, id: SubmissionId) -> Result<Option<StoredSubmission>>;

    /// The submission `submitted_by` (an audit name) sent with this idempotency key in the
    /// organization, if any.
    async fn submission_by_key(
        &self,
        org: OrgId,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredSubmission>>;

    /// The organization's submissions of these form versions, newest first (by receipt, then
    /// id), at most `limit`; with `older_than`, only those after that one in this order (the
    /// last one a page ended on), so that a long list is read a page at a time.
    async fn submissions_of(
        &self,
        org: OrgId,
        forms: &[FormId],
        older_than: Option<(Timestamp, SubmissionId)>,
        limit: u64,
    ) -> Result<Vec<StoredSubmission>>;

    /// The organization's submissions of these form versions received before `before`,
    /// oldest first, at most `limit`: what a retention period has run out for.
    async fn submissions_before(
        &self,
        org: OrgId,
        forms: &[FormId],
        before: Timestamp,
        limit: u64,
    ) -> Result<Vec<StoredSubmission>>;

    /// Every version of every form of the organization, by key then version.
    async fn forms_of(&self, org: OrgId) -> Result<Vec<StoredForm>>;

    /// What the organization decided about its form `key`, if it decided anything.
    async fn form_settings(&self, org: OrgId, key: &str) -> Result<Option<StoredFormSettings>>;

    /// Every form's settings, across organizations, that set a retention period.
    async fn retention_settings(&self) -> Result<Vec<StoredFormSettings>>;

    /// How many forms' settings attach the report to the message instead of linking to it.
    async fn forms_attaching_reports(&self) -> Result<u64>;

    /// A submission's attachments, by name.
    async fn attachments(&self, submission: SubmissionId) -> Result<Vec<StoredAttachment>>;

    /// The SHA-256 of every file attached to any of the organization's submissions, each once,
    /// in byte order: the blobs that must be kept (see `Cista::sweep_blobs`).
    async fn attachment_digests(&self, org: OrgId) -> Result<Vec<Digest32>>;
}

#[async_trait]
pub trait IntakeWrites: Send {
    /// The newest version of an organization's form `key`, as this transaction sees it.
    async fn latest_form(&mut self, org: OrgId, key: &str) -> Result<Option<StoredForm>>;

    /// Adds a form version; a version already taken is a `conflict`.
    async fn insert_form(&mut self, form: &StoredForm) -> Result<()>;

    /// The submission `submitted_by` sent with this idempotency key in the organization, if
    /// any.
    async fn submission_by_key(
        &mut self,
        org: OrgId,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredSubmission>>;

    /// Adds a submission unless its sender's idempotency key is taken: false then, and
    /// nothing is written. The uniqueness is the database's.
    async fn insert_submission(&mut self, submission: &StoredSubmission) -> Result<bool>;

    /// The attachment of this name, if any.
    async fn attachment(
        &mut self,
        submission: SubmissionId,
        name: &str,
    ) -> Result<Option<StoredAttachment>>;

    /// Adds an attachment unless the submission has one of that name: false then.
    async fn insert_attachment(&mut self, attachment: &StoredAttachment) -> Result<bool>;

    /// Stores the settings of a form, replacing any earlier ones.
    async fn put_form_settings(&mut self, settings: &StoredFormSettings) -> Result<()>;

    /// Deletes a submission and its attachments' rows (the blobs go at the next sweep);
    /// false if there was none.
    async fn delete_submission(&mut self, id: SubmissionId) -> Result<bool>;
}
