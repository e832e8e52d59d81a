//! Repeated form submissions: the first outcome of each, keyed by a keyed hash the web surface
//! computes. The primary key decides between concurrent arrivals of the same submission.

use crate::convert::{db_err, from_db_time, to_db_time};
use crate::entity::form_submission;
use crate::query::{Db, Fetch};
use cista_core::Result;
use cista_core::ports::SubmissionClaim;
use cista_crypto::Digest32;
use cista_types::Timestamp;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TryInsertResult};

pub(crate) async fn claim(
    db: &impl Db,
    key: &Digest32,
    now: Timestamp,
    stale_before: Timestamp,
) -> Result<SubmissionClaim> {
    let key = key.as_bytes().to_vec();
    let inserted = form_submission::Entity::insert(form_submission::ActiveModel {
        key: Set(key.clone()),
        outcome: Set(None),
        claimed_at: Set(to_db_time(now)),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(db)
    .await
    .map_err(db_err)?;
    if matches!(inserted, TryInsertResult::Inserted(1)) {
        return Ok(SubmissionClaim::Claimed);
    }
    let Some(row) = form_submission::Entity::find_by_id(key.clone())
        .first(db)
        .await?
    else {
        // Released between our insert and our read: the next attempt claims it.
        return Ok(SubmissionClaim::Running { since: now });
    };
    if let Some(outcome) = row.outcome {
        return Ok(SubmissionClaim::Done { outcome });
    }
    let since = from_db_time(row.claimed_at);
    if since < stale_before {
        // The request that claimed it died without finishing: take it over, unless another
        // request did so first (the claimed time is the compare-and-swap).
        let taken = form_submission::Entity::update_many()
            .col_expr(
                form_submission::Column::ClaimedAt,
                Expr::value(to_db_time(now)),
            )
            .filter(form_submission::Column::Key.eq(key))
            .filter(form_submission::Column::ClaimedAt.eq(row.claimed_at))
            .filter(form_submission::Column::Outcome.is_null())
            .exec(db)
            .await
            .map_err(db_err)?;
        if taken.rows_affected == 1 {
            return Ok(SubmissionClaim::Claimed);
        }
    }
    Ok(SubmissionClaim::Running { since })
}

pub(crate) async fn complete(db: &impl Db, key: &Digest32, outcome: &str) -> Result<()> {
    form_submission::Entity::update_many()
        .col_expr(form_submission::Column::Outcome, Expr::value(outcome))
        .filter(form_submission::Column::Key.eq(key.as_bytes().to_vec()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn release(db: &impl Db, key: &Digest32) -> Result<()> {
    form_submission::Entity::delete_many()
        .filter(form_submission::Column::Key.eq(key.as_bytes().to_vec()))
        .filter(form_submission::Column::Outcome.is_null())
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn purge(db: &impl Db, before: Timestamp) -> Result<u64> {
    Ok(form_submission::Entity::delete_many()
        .filter(form_submission::Column::ClaimedAt.lt(to_db_time(before)))
        .exec(db)
        .await
        .map_err(db_err)?
        .rows_affected)
}
