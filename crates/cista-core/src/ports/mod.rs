//! The ports the core needs from the outside world, and the records that cross them. The
//! `Store` is implemented once, for SQLite and PostgreSQL alike, in `cista-store`; every
//! method that changes state takes the audit entry that records it and commits both together.

pub mod access;
pub mod blobs;
pub mod breaches;
pub mod collection;
pub mod intake;
pub mod voting;
pub mod webhooks;

pub use access::{
    AccessAttempt, AccessReads, AccessWrites, Account, AccountStatus, AttemptKind, AttemptScope,
    AttemptTally, Channel, Credential, CredentialPurpose, Membership, OutboxMessage, Session,
    SessionAccess, SessionStage, VaultPerson,
};
pub use blobs::{BlobListing, BlobReader, BlobStore, BlobWriter};
pub use breaches::{BreachReads, BreachWrites};
pub use collection::{CollectionReads, CollectionWrites, StoredMedia};
pub use intake::{
    IntakeReads, IntakeWrites, StoredAttachment, StoredForm, StoredFormSettings, StoredSubmission,
};
pub use voting::{
    BallotStatus, BoxColumns, BoxEntry, BoxReaderApart, CastContext, ConsentStatus, EligibleUnit,
    PaperBatch, PaperPile, Participation, Refusal, ShuffledPart, StoredBallot, TurnoutTotals, Unit,
    UnitForBallot, UnitOwner, VoteChannel, VoteOrigin, VotingReads, VotingWrites,
};
pub use webhooks::{AttemptEnd, WebhookReads, WebhookWrites};

pub use crate::platform::access::app_tokens::{AppPurpose, AppToken, AppTokenId};

use crate::Result;
use crate::platform::audit::NewAuditEntry;
use async_trait::async_trait;
use cista_crypto::{Digest32, KekId, WrappedKey};
use cista_types::{
    KeyId, OrgId, OrgName, OrgSlug, PhoneRegion, SubjectCode, TimeZoneName, Timestamp,
};
use serde::Serialize;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// What the trust page says about the database, read from the running connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseDescription {
    pub backend: Backend,
    /// The engine's own version string, e.g. `3.50.4` or `PostgreSQL 15.19 …`.
    pub version: String,
    /// Where the data lives, with any password removed. Not serialized: the trust report is
    /// public, and server paths help no visitor.
    #[serde(skip_serializing)]
    pub location: String,
    /// Settings that matter for durability and confidentiality, as `(name, value)`.
    pub settings: Vec<(String, String)>,
    /// The newest migration applied (empty in the public trust report).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub schema: String,
}

/// The singleton row describing this installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: i64,
    pub created_at: Timestamp,
    /// The origin line of audit checkpoints, also the name the signing key signs under.
    pub audit_origin: String,
    /// The Ed25519 public key that signs checkpoints.
    pub audit_public_key: Vec<u8>,
    /// Where the wrapped private half is stored.
    pub audit_signing_key: KeyId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: OrgId,
    pub slug: OrgSlug,
    pub name: OrgName,
    /// Ballot windows are set and shown in this zone.
    pub time_zone: TimeZoneName,
    /// Phone numbers typed without a country code are read in this region; None: every
    /// number needs its country code.
    pub phone_region: Option<PhoneRegion>,
    pub created_at: Timestamp,
}

/// Why a key is stored; part of the associated data it is wrapped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyPurpose {
    /// An organization's data key (payloads, attachments).
    OrgData,
    /// The instance's Ed25519 key that signs audit checkpoints.
    AuditSigning,
    /// The HMAC key of the blind indexes (lookups by email or phone).
    BlindIndex,
    /// The AES key that seals instance secrets (TOTP secrets, outbox parameters).
    InstanceSecrets,
    /// The HMAC key for CSRF tokens and SMS code hashes.
    InstanceMac,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::OrgData => "org-data",
            KeyPurpose::AuditSigning => "audit-signing",
            KeyPurpose::BlindIndex => "blind-index",
            KeyPurpose::InstanceSecrets => "instance-secrets",
            KeyPurpose::InstanceMac => "instance-mac",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "org-data" => Some(KeyPurpose::OrgData),
            "audit-signing" => Some(KeyPurpose::AuditSigning),
            "blind-index" => Some(KeyPurpose::BlindIndex),
            "instance-secrets" => Some(KeyPurpose::InstanceSecrets),
            "instance-mac" => Some(KeyPurpose::InstanceMac),
            _ => None,
        }
    }
}

/// A key as stored: wrapped, never in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub id: KeyId,
    pub purpose: KeyPurpose,
    pub org: Option<OrgId>,
    pub wrapped: WrappedKey,
    pub created_at: Timestamp,
}

impl StoredKey {
    /// The associated data a stored key is wrapped with: it ties the wrapped bytes to this
    /// row, so a wrapped key copied onto another row or purpose does not unwrap.
    pub fn wrap_aad(id: KeyId, purpose: KeyPurpose, org: Option<OrgId>) -> Vec<u8> {
        let org = org.map_or_else(|| "-".to_owned(), |o| o.to_string());
        format!("cista/v1|keys|{}|{}|{org}", id, purpose.as_str()).into_bytes()
    }
}

/// One key moved from an old KEK to a new one; applied only if the row still has `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrap {
    pub id: KeyId,
    pub from: KekId,
    pub to: WrappedKey,
}

/// A stored audit entry, exactly as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub org: Option<OrgId>,
    pub kind: String,
    pub details: String,
    pub leaf_hash: Digest32,
}

/// The log's current size and root, kept beside the entries and updated with each append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    pub size: u64,
    pub root: Digest32,
}

/// A signed checkpoint (a C2SP signed note) of the log at some size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Digest32,
    pub note: String,
    pub signed_at: Timestamp,
}

#[async_trait]
pub trait Store: AccessReads + Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// Checks the database answers.
    async fn ping(&self) -> Result<()>;

    /// Engine, version, location and durability settings, read live.
    async fn describe(&self) -> Result<DatabaseDescription>;

    // --- the instance -------------------------------------------------------------------

    async fn instance(&self) -> Result<Option<Instance>>;

    /// Records the instance and its wrapped signing key. Fails with `conflict` if an instance
    /// exists already (there is exactly one).
    async fn create_instance(
        &self,
        instance: &Instance,
        signing_key: &StoredKey,
        audit: NewAuditEntry,
    ) -> Result<()>;

    // --- organizations ------------------------------------------------------------------

    /// Creates an organization with its wrapped data key. A taken slug is a `conflict`.
    async fn create_organization(
        &self,
        org: &Organization,
        data_key: &StoredKey,
        audit: NewAuditEntry,
    ) -> Result<()>;

    async fn organization(&self, id: OrgId) -> Result<Option<Organization>>;

    async fn organization_by_slug(&self, slug: &OrgSlug) -> Result<Option<Organization>>;

    async fn organizations(&self) -> Result<Vec<Organization>>;

    async fn organization_count(&self) -> Result<u64>;

    /// At most `limit` of the distinct time zones (IANA names) of the organizations `among`
    /// names, or of every organization when `among` is `None`, in no set order: enough to
    /// tell whether they share one without reading every organization.
    async fn organization_time_zones(
        &self,
        among: Option<&[OrgId]>,
        limit: u64,
    ) -> Result<Vec<String>>;

    /// At most `limit` of the distinct phone regions (ISO 3166-1 alpha-2; `None` for an
    /// organization without one) of every organization, in no set order.
    async fn organization_phone_regions(&self, limit: u64) -> Result<Vec<Option<String>>>;

    /// Changes an organization's time zone, with its audit entry.
    async fn set_time_zone(
        &self,
        org: OrgId,
        time_zone: &TimeZoneName,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// Changes (or clears) an organization's country for phone numbers, with its audit entry.
    async fn set_phone_region(
        &self,
        org: OrgId,
        region: Option<PhoneRegion>,
        audit: NewAuditEntry,
    ) -> Result<()>;

    // --- wrapped keys -------------------------------------------------------------------

    async fn stored_key(&self, id: KeyId) -> Result<Option<StoredKey>>;

    async fn org_data_key(&self, org: OrgId) -> Result<Option<StoredKey>>;

    /// Every stored key, for rotation and status.
    async fn stored_keys(&self) -> Result<Vec<StoredKey>>;

    async fn stored_key_count(&self) -> Result<u64>;

    /// Applies the rewraps whose row still carries the expected old KEK, with one audit entry,
    /// in one transaction. Returns how many rows changed.
    async fn rewrap_keys(&self, rewraps: &[Rewrap], audit: NewAuditEntry) -> Result<u64>;

    // --- the audit log ------------------------------------------------------------------

    /// Appends an entry that records no other change (e.g. a refused attempt).
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry>;

    async fn audit_head(&self) -> Result<AuditHead>;

    /// Entries with `seq >= from`, in order, at most `limit`.
    async fn audit_entries(&self, from: u64, limit: u32) -> Result<Vec<AuditEntry>>;

    /// Entries with `seq >= from` made by `actor` or whose details contain `text`, in order,
    /// at most `limit`: a subject access request's candidates, filtered in the database so that
    /// the rest of the log never leaves it (`text` is matched literally, `%` and `_` too).
    async fn audit_entries_naming(
        &self,
        (actor, text): (&str, &str),
        from: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;

    /// `org`'s entries with `at` in `from..=to` and `seq >= after`, in order, at most `limit`
    /// (an incident window's entries, read through the index on organization and time).
    async fn org_audit_entries(
        &self,
        org: OrgId,
        (from, to): (Timestamp, Timestamp),
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;

    /// Stores a checkpoint; returns false if one of that size exists already.
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool>;

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;

    /// All checkpoints, smallest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;

    // --- instance-level keys ------------------------------------------------------------

    /// The instance-level key of `purpose` (not tied to an organization), if created.
    async fn instance_key(&self, purpose: KeyPurpose) -> Result<Option<StoredKey>>;

    /// Stores an instance-level key; returns false if one of that purpose exists already
    /// (another process made it first).
    async fn add_instance_key(&self, key: &StoredKey, audit: NewAuditEntry) -> Result<bool>;

    /// Messages due for delivery at `now`, oldest first.
    async fn due_messages(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxMessage>>;

    /// The newest messages, delivered or not (the demo outbox page).
    async fn recent_messages(&self, limit: u32) -> Result<Vec<OutboxMessage>>;

    // --- repeated form submissions -----------------------------------------------------

    /// Claims a form submission by its key before it runs: `Claimed` when this is its first
    /// arrival (or the earlier run was claimed before `stale_before` and never finished: a
    /// crashed process), `Running` while another request runs it, `Done` with the first
    /// outcome once it finished. The key's uniqueness decides between concurrent arrivals.
    async fn claim_submission(
        &self,
        key: &Digest32,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<SubmissionClaim>;

    /// Records where a claimed submission sent the browser.
    async fn complete_submission(&self, key: &Digest32, outcome: &str) -> Result<()>;

    /// Forgets a claimed submission that changed nothing (a form shown again with its
    /// errors), so the same form can be sent again.
    async fn release_submission(&self, key: &Digest32) -> Result<()>;

    /// Deletes submissions claimed before `before`; returns how many.
    async fn purge_submissions(&self, before: Timestamp) -> Result<u64>;

    /// Starts a write transaction. Changes commit together with exactly one audit entry.
    async fn begin(&self) -> Result<Box<dyn StoreTx>>;

    /// Forms, submissions and attachments (see `intake`).
    fn intake(&self) -> &dyn IntakeReads;

    /// Units, owners, ballots, participation and the ballot box (see `voting`).
    fn voting(&self) -> &dyn VotingReads;

    /// Collectors' devices and records' reviews (see `collection`).
    fn collection(&self) -> &dyn CollectionReads;

    /// Webhook endpoints, their message queue and attempt log (see `webhooks`).
    fn webhooks(&self) -> &dyn WebhookReads;

    /// Recorded breaches and who was told of each (see `breaches`).
    fn breaches(&self) -> &dyn BreachReads;
}

/// Where a submitted form stands (see `Store::claim_submission`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmissionClaim {
    /// This request runs it.
    Claimed,
    /// Another request claimed it at `since` and has not finished.
    Running { since: Timestamp },
    /// It finished: the first outcome (a same-origin path to send the browser to).
    Done { outcome: String },
}

/// A write transaction. Dropping it without committing rolls everything back. `commit` takes
/// the audit entry that records the change, so a change cannot be committed unaudited by
/// accident; `commit_housekeeping` is for bookkeeping that is not a security event (a session's
/// last-seen time, an outbox delivery attempt).
#[async_trait]
pub trait StoreTx: AccessWrites + Send {
    /// Queues a message; its id is assigned by the caller (random).
    async fn enqueue(&mut self, message: &OutboxMessage) -> Result<()>;

    /// Records a delivery and wipes the message's parameters (links, codes).
    async fn mark_delivered(&mut self, id: i64, now: Timestamp) -> Result<()>;

    /// Records a failed attempt and when to try again, or that it was given up.
    async fn mark_attempt_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()>;

    async fn delete_messages_to(&mut self, subject: SubjectCode) -> Result<u64>;

    /// Forms, submissions and attachments, in this transaction (see `intake`).
    fn intake(&mut self) -> &mut dyn IntakeWrites;

    /// Units, owners, ballots, participation and the ballot box, in this transaction (see
    /// `voting`).
    fn voting(&mut self) -> &mut dyn VotingWrites;

    /// Collectors' devices and records' reviews, in this transaction (see `collection`).
    fn collection(&mut self) -> &mut dyn CollectionWrites;

    /// Webhook endpoints and queued messages, in this transaction (see `webhooks`).
    fn webhooks(&mut self) -> &mut dyn WebhookWrites;

    /// Recorded breaches and who was told of each, in this transaction (see `breaches`).
    fn breaches(&mut self) -> &mut dyn BreachWrites;

    async fn commit(self: Box<Self>, audit: NewAuditEntry) -> Result<AuditEntry>;

    /// Commits with several audit entries, appended in the order given under one lock of the
    /// log's head (a group commit: several changes, one transaction, one durable flush).
    /// An empty list commits with no entry, for a group whose every change was refused.
    async fn commit_all(self: Box<Self>, audit: Vec<NewAuditEntry>) -> Result<Vec<AuditEntry>>;

    async fn commit_housekeeping(self: Box<Self>) -> Result<()>;
}

/// The person vault: personal fields, sealed per person, possibly in a database of its own.
#[async_trait]
pub trait Vault: Send + Sync + std::fmt::Debug {
    /// Stores a new person. An email index already in use is a `conflict`; a subject that
    /// was erased is refused (`erased`), so no key is ever re-created for it.
    async fn insert_person(&self, person: &VaultPerson) -> Result<()>;

    async fn person(&self, subject: SubjectCode) -> Result<Option<VaultPerson>>;

    /// The people among `subjects` who are in the vault (erased or unknown ones are left
    /// out), in no particular order: one read per thousand subjects, for a page that shows
    /// many people at once.
    async fn people(&self, subjects: &[SubjectCode]) -> Result<Vec<VaultPerson>>;

    async fn subject_by_email(&self, index: &[u8; 32]) -> Result<Option<SubjectCode>>;

    async fn subjects_by_phone(&self, index: &[u8; 32]) -> Result<Vec<SubjectCode>>;

    /// Removes a person who was never referenced (a failed invitation), without a tombstone.
    async fn discard_person(&self, subject: SubjectCode) -> Result<()>;

    /// Destroys the person's key and fields and records a tombstone, in one transaction.
    /// Returns false if the person was already erased.
    async fn erase_person(&self, subject: SubjectCode, at: Timestamp) -> Result<bool>;

    async fn tombstone(&self, subject: SubjectCode) -> Result<Option<Timestamp>>;

    /// Every tombstone, oldest subject first (for the erasure ledger beside the backups).
    async fn tombstones(&self) -> Result<Vec<(SubjectCode, Timestamp)>>;

    /// Counts people and tombstones (for the trust page).
    async fn counts(&self) -> Result<(u64, u64)>;

    /// Every person's wrapped key, as (subject, KEK id, wrapped bytes), for rotation.
    async fn wrapped_keys(&self) -> Result<Vec<(SubjectCode, String, Vec<u8>)>>;

    /// Re-wraps a person's key if it is still wrapped under `from`; false if it changed.
    async fn rewrap_key(&self, subject: SubjectCode, from: &str, to: &WrappedKey) -> Result<bool>;
}
