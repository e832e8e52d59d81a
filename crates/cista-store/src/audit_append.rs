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
use sea_orm::sea_query::{CommonTableExpression, Expr, UpdateStatement, WithClause, WithQuery};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, QueryTrait,
};

pub(crate) async fn append(txn: &DatabaseTransaction, entry: NewAuditEntry) -> Result<AuditEntry> {
    append_all(txn, vec![entry])
        .await?
        .pop()
        .ok_or_else(|| Error::Internal("an audit append returned no entry".to_owned()))
}

/// Appends `entries` in order at the next positions, under one lock of the head and one move
/// of it (a group commit's entries). Returns them as stored; nothing for an empty list.
pub(crate) async fn append_all(
    txn: &DatabaseTransaction,
    entries: Vec<NewAuditEntry>,
) -> Result<Vec<AuditEntry>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // FOR UPDATE on PostgreSQL serializes appenders on this one row; SQLite's IMMEDIATE
    // transaction already holds the database's write lock.
    let head = audit_head::Entity::find_by_id(1)
        .lock_exclusive()
        .first(txn)
        .await?
        .ok_or_else(|| Error::Integrity("the audit log head is missing".to_owned()))?;
    let first = u64::try_from(head.size)
        .map_err(|_| Error::Integrity("the audit log head has a negative size".to_owned()))?;
    let mut range = CompactRange::from_bytes(first, &head.frontier)
        .ok_or_else(|| Error::Integrity("the audit log head is corrupt".to_owned()))?;
    let mut rows = Vec::with_capacity(entries.len());
    let mut appended = Vec::with_capacity(entries.len());
    for (seq, entry) in (first..).zip(entries) {
        let leaf = audit::leaf_hash_for(seq, &entry);
        range.append(leaf);
        rows.push(audit_entry::ActiveModel {
            seq: Set(i64::try_from(seq)
                .map_err(|_| Error::Integrity("the audit log is full".to_owned()))?),
            at: Set(to_db_time(entry.at)),
            actor: Set(entry.actor.clone()),
            org_id: Set(entry.org.map(|o| o.as_i64())),
            kind: Set(entry.kind.clone()),
            details: Set(entry.details.clone()),
            leaf_hash: Set(leaf.as_bytes().to_vec()),
        });
        appended.push(AuditEntry {
            seq,
            at: entry.at,
            actor: entry.actor,
            org: entry.org,
            kind: entry.kind,
            details: entry.details,
            leaf_hash: leaf,
        });
    }
    let size = head.size + i64::try_from(appended.len()).unwrap_or(i64::MAX);
    let move_head = audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Size, Expr::value(size))
        .col_expr(audit_head::Column::Frontier, Expr::value(range.to_bytes()))
        .filter(audit_head::Column::Slot.eq(1))
        .filter(audit_head::Column::Size.eq(head.size))
        .into_query();
    // One statement for the rows, in chunks that stay under SQLite's 32,766 bound variables.
    let mut chunks = chunked(rows, 512);
    let last = chunks.pop().unwrap_or_default();
    for chunk in chunks {
        audit_entry::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await
            .map_err(db_err)?;
    }
    let backend = txn.get_database_backend();
    let moved = if backend == DbBackend::Postgres {
        // The last rows and the head's move in one statement (a data-modifying `WITH`, which
        // PostgreSQL runs whole even unreferenced): a round trip fewer on every audited
        // write, a group commit's included. The count is the head's update.
        txn.execute_raw(backend.build(&rows_then_head(last, move_head)))
            .await
    } else {
        if !last.is_empty() {
            audit_entry::Entity::insert_many(last)
                .exec_without_returning(txn)
                .await
                .map_err(db_err)?;
        }
        txn.execute_raw(backend.build(&move_head)).await
    }
    .map_err(db_err)?;
    if moved.rows_affected() != 1 {
        return Err(Error::Integrity(
            "the audit log head moved during an append".to_owned(),
        ));
    }
    Ok(appended)
}

/// `INSERT` of `rows` inside a `WITH`, then `move_head`: one PostgreSQL statement.
fn rows_then_head(rows: Vec<audit_entry::ActiveModel>, move_head: UpdateStatement) -> WithQuery {
    let insert = audit_entry::Entity::insert_many(rows).into_query();
    let appended = CommonTableExpression::new()
        .query(insert)
        .table_name("appended")
        .to_owned();
    WithClause::new().cte(appended).to_owned().query(move_head)
}

fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On PostgreSQL the entries and the head's move are one statement: the insert inside a
    /// `WITH`, the update last (so the statement's count is the head's).
    #[test]
    fn rows_and_the_heads_move_are_one_postgres_statement() {
        let row = audit_entry::ActiveModel {
            seq: Set(7),
            at: Set(to_db_time(
                cista_types::Timestamp::from_unix_micros(0)
                    .unwrap_or_else(|_| unreachable!("zero is a time")),
            )),
            actor: Set("operator:test".to_owned()),
            org_id: Set(None),
            kind: Set("keys.rewrapped".to_owned()),
            details: Set("{}".to_owned()),
            leaf_hash: Set(vec![0; 32]),
        };
        let move_head = audit_head::Entity::update_many()
            .col_expr(audit_head::Column::Size, Expr::value(8_i64))
            .filter(audit_head::Column::Slot.eq(1))
            .filter(audit_head::Column::Size.eq(7_i64))
            .into_query();
        let sql = DbBackend::Postgres
            .build(&rows_then_head(vec![row.clone(), row], move_head))
            .sql;
        assert!(
            sql.starts_with(r#"WITH "appended" AS (INSERT INTO "audit_entries" "#),
            "{sql}"
        );
        assert!(
            sql.contains(r#") UPDATE "audit_head" SET "size" = $"#),
            "{sql}"
        );
        assert_eq!(sql.matches("INSERT").count(), 1, "{sql}");
        assert!(!sql.contains(';'), "one statement: {sql}");
    }
}
