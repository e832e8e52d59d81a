//! Appending to the audit log inside a caller's transaction: lock the head, hash the entry at
//! the next position, insert it, and move the head, so the entry commits or rolls back with
//! the change it records.

use crate::convert::{db_err, to_db_time};
use crate::entity::{audit_entry, audit_head};
use crate::query::Fetch;
use cista_core::platform::audit::{self, NewAuditEntry};
use cista_core::ports::AuditEntry;
use cista_core::{Error, Result};
use cista_crypto::merkle::CompactRange;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

pub(crate) async fn append(txn: &DatabaseTransaction, entry: NewAuditEntry) -> Result<AuditEntry> {
    // FOR UPDATE on PostgreSQL serializes appenders on this one row; SQLite's IMMEDIATE
    // transaction already holds the database's write lock.
    let head = audit_head::Entity::find_by_id(1)
        .lock_exclusive()
        .first(txn)
        .await?
        .ok_or_else(|| Error::Integrity("the audit log head is missing".to_owned()))?;
    let size = u64::try_from(head.size)
        .map_err(|_| Error::Integrity("the audit log head has a negative size".to_owned()))?;
    let mut range = CompactRange::from_bytes(size, &head.frontier)
        .ok_or_else(|| Error::Integrity("the audit log head is corrupt".to_owned()))?;
    let leaf = audit::leaf_hash_for(size, &entry);
    range.append(leaf);

    audit_entry::Entity::insert(audit_entry::ActiveModel {
        seq: Set(head.size),
        at: Set(to_db_time(entry.at)),
        actor: Set(entry.actor.clone()),
        org_id: Set(entry.org.map(|o| o.as_i64())),
        kind: Set(entry.kind.clone()),
        details: Set(entry.details.clone()),
        leaf_hash: Set(leaf.as_bytes().to_vec()),
    })
    .exec_without_returning(txn)
    .await
    .map_err(db_err)?;

    let moved = audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Size, Expr::value(head.size + 1))
        .col_expr(audit_head::Column::Frontier, Expr::value(range.to_bytes()))
        .filter(audit_head::Column::Slot.eq(1))
        .filter(audit_head::Column::Size.eq(head.size))
        .exec(txn)
        .await
        .map_err(db_err)?;
    if moved.rows_affected != 1 {
        return Err(Error::Integrity(
            "the audit log head moved during an append".to_owned(),
        ));
    }
    Ok(AuditEntry {
        seq: size,
        at: entry.at,
        actor: entry.actor,
        org: entry.org,
        kind: entry.kind,
        details: entry.details,
        leaf_hash: leaf,
    })
}
