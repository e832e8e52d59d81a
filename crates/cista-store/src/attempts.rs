//! Attempts against a person, counted per requester (issue 10, item 11): the budgets of sends
//! and the lockout of wrong passwords are kept per device or network address, so a stranger's
//! attempts never use up the person's own.

use crate::convert::{db_err, from_db_time, to_db_time};
use crate::entity::{access_attempt, account};
use crate::query::{Db, Fetch};
use cista_core::Result;
use cista_core::ports::{AccessAttempt, Account, AttemptKind, AttemptScope, AttemptTally};
use cista_crypto::Digest32;
use cista_types::{SubjectCode, Timestamp};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

fn scoped(
    subject: SubjectCode,
    kind: AttemptKind,
    scope: AttemptScope<'_>,
    since: Timestamp,
) -> Select<access_attempt::Entity> {
    let query = access_attempt::Entity::find()
        .filter(access_attempt::Column::Subject.eq(subject.as_i64()))
        .filter(access_attempt::Column::Kind.eq(kind.as_str()))
        .filter(access_attempt::Column::At.gte(to_db_time(since)));
    match scope {
        AttemptScope::Requester(requester) => {
            query.filter(access_attempt::Column::Requester.eq(requester.as_bytes().to_vec()))
        }
        AttemptScope::Untrusted => query.filter(access_attempt::Column::Trusted.eq(false)),
    }
}

/// Reads the person's account and locks its row until the transaction ends (`SELECT … FOR
/// UPDATE` on PostgreSQL; on SQLite the write transaction already holds the database's lock and
/// the clause is left out). A person without an account has nothing to lock: `None`.
pub(crate) async fn lock_account(db: &impl Db, subject: SubjectCode) -> Result<Option<Account>> {
    account::Entity::find_by_id(subject.as_i64())
        .lock_exclusive()
        .one_as(db, crate::convert::account)
        .await
}

pub(crate) async fn tally(
    db: &impl Db,
    subject: SubjectCode,
    kind: AttemptKind,
    scope: AttemptScope<'_>,
    since: Timestamp,
) -> Result<AttemptTally> {
    let count = scoped(subject, kind, scope, since).count_rows(db).await?;
    let latest = scoped(subject, kind, scope, since)
        .order_by_desc(access_attempt::Column::At)
        .limit(1)
        .first(db)
        .await?
        .map(|row| from_db_time(row.at));
    Ok(AttemptTally { count, latest })
}

pub(crate) async fn record(db: &impl Db, attempt: &AccessAttempt) -> Result<()> {
    access_attempt::Entity::insert(access_attempt::ActiveModel {
        id: NotSet,
        subject: Set(attempt.subject.as_i64()),
        kind: Set(attempt.kind.as_str().to_owned()),
        requester: Set(attempt.requester.as_bytes().to_vec()),
        trusted: Set(attempt.trusted),
        at: Set(to_db_time(attempt.at)),
    })
    .exec_without_returning(db)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn clear(
    db: &impl Db,
    subject: SubjectCode,
    kind: AttemptKind,
    requester: &Digest32,
) -> Result<u64> {
    let done = access_attempt::Entity::delete_many()
        .filter(access_attempt::Column::Subject.eq(subject.as_i64()))
        .filter(access_attempt::Column::Kind.eq(kind.as_str()))
        .filter(access_attempt::Column::Requester.eq(requester.as_bytes().to_vec()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected)
}

pub(crate) async fn purge(db: &impl Db, before: Timestamp) -> Result<u64> {
    let done = access_attempt::Entity::delete_many()
        .filter(access_attempt::Column::At.lt(to_db_time(before)))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected)
}
