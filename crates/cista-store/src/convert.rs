//! Conversions between rows and core records, and from database errors to core errors.

use crate::entity::{audit_checkpoint, audit_entry, instance, organization, stored_key};
use cista_core::Error;
use cista_core::ports::{
    AuditEntry, Instance, KeyPurpose, Organization, StoredCheckpoint, StoredKey,
};
use cista_crypto::{Digest32, KekId, WrappedKey};
use cista_types::{KeyId, OrgId, OrgName, OrgSlug, Timestamp};
use sea_orm::{DbErr, SqlErr};
use time::OffsetDateTime;

pub(crate) fn to_db_time(t: Timestamp) -> OffsetDateTime {
    t.as_offset()
}

pub(crate) fn from_db_time(t: OffsetDateTime) -> Timestamp {
    Timestamp::from_offset(t)
}

/// Connection-level failures mean the database is unavailable; the rest are failures.
pub(crate) fn db_err(e: DbErr) -> Error {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Error::store_unavailable(e),
        other => Error::store(other),
    }
}

/// A unique-constraint violation becomes a `conflict` with the given message.
pub(crate) fn conflict_or(e: DbErr, message: &str) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message.to_owned()),
        _ => db_err(e),
    }
}

fn corrupt(what: &str) -> Error {
    Error::Integrity(format!("a stored {what} is malformed"))
}

pub(crate) fn instance(m: instance::Model) -> Result<Instance, Error> {
    Ok(Instance {
        id: m.id,
        created_at: from_db_time(m.created_at),
        audit_origin: m.audit_origin,
        audit_public_key: m.audit_public_key,
        audit_signing_key: KeyId::from_i64(m.audit_signing_key),
    })
}

pub(crate) fn organization(m: organization::Model) -> Result<Organization, Error> {
    Ok(Organization {
        id: OrgId::from_i64(m.id),
        slug: OrgSlug::parse(&m.slug).map_err(|_| corrupt("organization slug"))?,
        name: OrgName::parse(&m.name).map_err(|_| corrupt("organization name"))?,
        created_at: from_db_time(m.created_at),
    })
}

pub(crate) fn stored_key(m: stored_key::Model) -> Result<StoredKey, Error> {
    Ok(StoredKey {
        id: KeyId::from_i64(m.id),
        purpose: KeyPurpose::parse(&m.purpose).ok_or_else(|| corrupt("key purpose"))?,
        org: m.org_id.map(OrgId::from_i64),
        wrapped: WrappedKey {
            kek: KekId::new(m.kek_id),
            ciphertext: m.wrapped,
        },
        created_at: from_db_time(m.created_at),
    })
}

pub(crate) fn audit_entry(m: audit_entry::Model) -> Result<AuditEntry, Error> {
    Ok(AuditEntry {
        seq: u64::try_from(m.seq).map_err(|_| corrupt("audit sequence number"))?,
        at: from_db_time(m.at),
        actor: m.actor,
        org: m.org_id.map(OrgId::from_i64),
        kind: m.kind,
        details: m.details,
        // A hash of the wrong length cannot match anything; verification names the entry.
        leaf_hash: Digest32::from_slice(&m.leaf_hash).unwrap_or(Digest32([0; 32])),
    })
}

pub(crate) fn checkpoint(m: audit_checkpoint::Model) -> Result<StoredCheckpoint, Error> {
    Ok(StoredCheckpoint {
        size: u64::try_from(m.tree_size).map_err(|_| corrupt("checkpoint size"))?,
        root: Digest32::from_slice(&m.root_hash).ok_or_else(|| corrupt("checkpoint root"))?,
        note: m.note,
        signed_at: from_db_time(m.signed_at),
    })
}
