//! The ports the core needs from the outside world, and the records that cross them. The
//! `Store` is implemented once, for SQLite and PostgreSQL alike, in `cista-store`; every
//! method that changes state takes the audit entry that records it and commits both together.

use crate::Result;
use crate::audit::NewAuditEntry;
use async_trait::async_trait;
use cista_crypto::{Digest32, KekId, WrappedKey};
use cista_types::{KeyId, OrgId, OrgName, OrgSlug, Timestamp};
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
    /// The newest migration applied.
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
    pub created_at: Timestamp,
}

/// Why a key is stored; part of the associated data it is wrapped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyPurpose {
    /// An organization's data key (payloads, attachments).
    OrgData,
    /// The instance's Ed25519 key that signs audit checkpoints.
    AuditSigning,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::OrgData => "org-data",
            KeyPurpose::AuditSigning => "audit-signing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "org-data" => Some(KeyPurpose::OrgData),
            "audit-signing" => Some(KeyPurpose::AuditSigning),
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
pub trait Store: Send + Sync + std::fmt::Debug {
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

    /// Stores a checkpoint; returns false if one of that size exists already.
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool>;

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;

    /// All checkpoints, smallest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
}
