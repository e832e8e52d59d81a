//! Voting rows: reads shared by the store and its transactions (so a close can read the box
//! inside the transaction that seals it), and the writes of `StoreTx`. The one-vote rule is
//! the participation table's primary key; an insert that meets it does nothing and says so.

mod box_reader;
mod box_stream;
mod casts;
pub(crate) mod ledger;
pub(crate) use box_reader::TxBoxReading;
pub(crate) use casts::{cast_context, insert_box_entries_if_free, insert_participations_if_free};
mod lists;
mod paper;
mod port;
mod shuffle;
pub(crate) use shuffle::{lock_box, record_shuffled, shuffle_box, shuffle_box_part};

use crate::convert::{self, conflict_or, db_err, to_db_time};
use crate::entity::{
    ballot, ballot_box, ballot_reminder, ballot_roll, participation, unit, unit_owner, vote_refusal,
};
use crate::query::{Db, Fetch};
use cista_core::ports::{
    BallotStatus, BoxEntry, EligibleUnit, Participation, Refusal, StoredBallot, Unit, UnitOwner,
};
use cista_core::products::voting::units::natural_key;
use cista_core::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{BallotId, OrgId, SubjectCode, Timestamp, UnitId};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};

// --- reads ---------------------------------------------------------------------------------

pub(crate) async fn units(db: &impl Db, org: OrgId) -> Result<Vec<Unit>> {
    unit::Entity::find()
        .filter(unit::Column::OrgId.eq(org.as_i64()))
        .order_by_asc(unit::Column::LabelKey)
        .all_as(db, convert::unit)
        .await
}

pub(crate) async fn unit(db: &impl Db, id: UnitId) -> Result<Option<Unit>> {
    unit::Entity::find_by_id(id.as_i64())
        .one_as(db, convert::unit)
        .await
}

pub(crate) async fn unit_owners(db: &impl Db, org: OrgId) -> Result<Vec<UnitOwner>> {
    unit_owner::Entity::find()
        .filter(
            unit_owner::Column::UnitId.in_subquery(
                Query::select()
                    .column(unit::Column::Id)
                    .from(unit::Entity)
                    .and_where(unit::Column::OrgId.eq(org.as_i64()))
                    .to_owned(),
            ),
        )
        .all_map(db, convert::unit_owner)
        .await
}

pub(crate) async fn owned_units(db: &impl Db, subject: SubjectCode) -> Result<Vec<UnitOwner>> {
    unit_owner::Entity::find()
        .filter(unit_owner::Column::Subject.eq(subject.as_i64()))
        .all_map(db, convert::unit_owner)
        .await
}

pub(crate) async fn owners_of(db: &impl Db, unit: UnitId) -> Result<Vec<UnitOwner>> {
    unit_owner::Entity::find()
        .filter(unit_owner::Column::UnitId.eq(unit.as_i64()))
        .all_map(db, convert::unit_owner)
        .await
}

pub(crate) async fn ballots(db: &impl Db, org: OrgId) -> Result<Vec<StoredBallot>> {
    ballot::Entity::find()
        .filter(ballot::Column::OrgId.eq(org.as_i64()))
        .order_by_desc(ballot::Column::CreatedAt)
        .all_as(db, convert::ballot)
        .await
}

pub(crate) async fn ballot(db: &impl Db, id: BallotId) -> Result<Option<StoredBallot>> {
    ballot::Entity::find_by_id(id.as_i64())
        .one_as(db, convert::ballot)
        .await
}

pub(crate) async fn ballots_with_status(
    db: &impl Db,
    status: BallotStatus,
) -> Result<Vec<StoredBallot>> {
    ballot::Entity::find()
        .filter(ballot::Column::Status.eq(status.as_str()))
        .order_by_asc(ballot::Column::ClosesAt)
        .all_as(db, convert::ballot)
        .await
}

pub(crate) async fn eligible_units(db: &impl Db, ballot: BallotId) -> Result<Vec<EligibleUnit>> {
    ballot_roll::Entity::find()
        .filter(ballot_roll::Column::BallotId.eq(ballot.as_i64()))
        .all_as(db, convert::eligible)
        .await
}

pub(crate) async fn eligible_unit(
    db: &impl Db,
    ballot: BallotId,
    unit: UnitId,
) -> Result<Option<EligibleUnit>> {
    ballot_roll::Entity::find_by_id((ballot.as_i64(), unit.as_i64()))
        .one_as(db, convert::eligible)
        .await
}

pub(crate) async fn participation(db: &impl Db, ballot: BallotId) -> Result<Vec<Participation>> {
    participation::Entity::find()
        .filter(participation::Column::BallotId.eq(ballot.as_i64()))
        .order_by_asc(participation::Column::At)
        .all_as(db, convert::participation)
        .await
}

pub(crate) async fn participation_of(
    db: &impl Db,
    ballot: BallotId,
    unit: UnitId,
) -> Result<Option<Participation>> {
    participation::Entity::find_by_id((ballot.as_i64(), unit.as_i64()))
        .one_as(db, convert::participation)
        .await
}

pub(crate) async fn box_count(db: &impl Db, ballot: BallotId) -> Result<u64> {
    ballot_box::Entity::find()
        .filter(ballot_box::Column::BallotId.eq(ballot.as_i64()))
        .count_rows(db)
        .await
}

pub(crate) async fn refusals(db: &impl Db, ballot: BallotId) -> Result<Vec<Refusal>> {
    vote_refusal::Entity::find()
        .filter(vote_refusal::Column::BallotId.eq(ballot.as_i64()))
        .order_by_asc(vote_refusal::Column::At)
        .all_as(db, convert::refusal)
        .await
}

pub(crate) async fn counts(db: &impl Db) -> Result<(u64, u64, u64)> {
    let with_status = |status: BallotStatus| {
        ballot::Entity::find().filter(ballot::Column::Status.eq(status.as_str()))
    };
    let published = with_status(BallotStatus::Published).count_rows(db).await?;
    let closed = with_status(BallotStatus::Closed).count_rows(db).await?;
    let votes = participation::Entity::find().count_rows(db).await?;
    Ok((published, closed, votes))
}

// --- writes (inside a transaction) ---------------------------------------------------------

fn unit_model(u: &Unit) -> unit::ActiveModel {
    unit::ActiveModel {
        id: Set(u.id.as_i64()),
        org_id: Set(u.org.as_i64()),
        label: Set(u.label.as_str().to_owned()),
        label_key: Set(u.label.key()),
        weight_micros: Set(u.weight.micros()),
        consent: Set(u.consent.as_str().to_owned()),
        consent_at: Set(u.consent_at.map(to_db_time)),
        consent_method: Set(u.consent_method.clone()),
        created_at: Set(to_db_time(u.created_at)),
        retired_at: Set(u.retired_at.map(to_db_time)),
    }
}

/// Rows one multi-row insert writes: under both engines' limits on bound parameters (SQLite
/// 32,766, PostgreSQL 65,535) for the widest voting table (units, ten columns).
const INSERT_CHUNK: usize = 500;

/// Adds many units, in multi-row inserts of `INSERT_CHUNK`; a label already used in the
/// organization is a `conflict` (and the caller's transaction is then to be rolled back).
pub(crate) async fn insert_units(db: &impl Db, units: &[Unit]) -> Result<()> {
    for chunk in units.chunks(INSERT_CHUNK) {
        unit::Entity::insert_many(chunk.iter().map(unit_model))
            .exec_without_returning(db)
            .await
            .map_err(|e| conflict_or(e, "a unit label is used twice"))?;
    }
    Ok(())
}

pub(crate) async fn insert_unit(db: &impl Db, u: &Unit) -> Result<()> {
    unit::Entity::insert(unit_model(u))
        .exec_without_returning(db)
        .await
        .map_err(|e| conflict_or(e, &format!("a unit labelled {} exists already", u.label)))?;
    Ok(())
}

pub(crate) async fn update_unit(db: &impl Db, u: &Unit) -> Result<()> {
    let changed = unit::Entity::update_many()
        .col_expr(unit::Column::Label, Expr::value(u.label.as_str()))
        .col_expr(unit::Column::LabelKey, Expr::value(u.label.key()))
        .col_expr(unit::Column::WeightMicros, Expr::value(u.weight.micros()))
        .col_expr(unit::Column::Consent, Expr::value(u.consent.as_str()))
        .col_expr(
            unit::Column::ConsentAt,
            Expr::value(u.consent_at.map(to_db_time)),
        )
        .col_expr(
            unit::Column::ConsentMethod,
            Expr::value(u.consent_method.clone()),
        )
        .col_expr(
            unit::Column::RetiredAt,
            Expr::value(u.retired_at.map(to_db_time)),
        )
        .filter(unit::Column::Id.eq(u.id.as_i64()))
        .filter(unit::Column::OrgId.eq(u.org.as_i64()))
        .exec(db)
        .await
        .map_err(|e| conflict_or(e, &format!("a unit labelled {} exists already", u.label)))?;
    if changed.rows_affected != 1 {
        return Err(Error::NotFound { what: "this unit" });
    }
    Ok(())
}

pub(crate) async fn insert_unit_owner(db: &impl Db, o: &UnitOwner) -> Result<()> {
    unit_owner::Entity::insert(unit_owner::ActiveModel {
        unit_id: Set(o.unit.as_i64()),
        subject: Set(o.subject.as_i64()),
        designated: Set(o.designated),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| conflict_or(e, "this person already owns this unit"))?;
    Ok(())
}

pub(crate) async fn update_unit_owner(db: &impl Db, o: &UnitOwner) -> Result<()> {
    unit_owner::Entity::update_many()
        .col_expr(unit_owner::Column::Designated, Expr::value(o.designated))
        .filter(unit_owner::Column::UnitId.eq(o.unit.as_i64()))
        .filter(unit_owner::Column::Subject.eq(o.subject.as_i64()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn delete_unit_owner(
    db: &impl Db,
    unit: UnitId,
    subject: SubjectCode,
) -> Result<()> {
    unit_owner::Entity::delete_many()
        .filter(unit_owner::Column::UnitId.eq(unit.as_i64()))
        .filter(unit_owner::Column::Subject.eq(subject.as_i64()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn insert_ballot(db: &impl Db, b: &StoredBallot) -> Result<()> {
    ballot::Entity::insert(ballot::ActiveModel {
        id: Set(b.id.as_i64()),
        org_id: Set(b.org.as_i64()),
        status: Set(b.status.as_str().to_owned()),
        definition: Set(b.definition.clone()),
        definition_hash: Set(b.definition_hash.as_bytes().to_vec()),
        created_at: Set(to_db_time(b.created_at)),
        published_at: Set(b.published_at.map(to_db_time)),
        closed_at: Set(b.closed_at.map(to_db_time)),
        cancelled_at: Set(b.cancelled_at.map(to_db_time)),
        replaces: Set(b.replaces.map(|r| r.as_i64())),
        closes_at: Set(to_db_time(b.closes_at)),
        shuffled_count: Set(b.shuffled_count),
        results: Set(b.results.clone()),
        checkpoint: Set(b.checkpoint.clone()),
    })
    .exec_without_returning(db)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn lock_ballot(
    db: &impl Db,
    id: BallotId,
    exclusive: bool,
) -> Result<Option<StoredBallot>> {
    let find = ballot::Entity::find_by_id(id.as_i64());
    let find = if exclusive {
        find.lock_exclusive()
    } else {
        find.lock_shared()
    };
    find.one_as(db, convert::ballot).await
}

pub(crate) async fn update_draft(
    db: &impl Db,
    id: BallotId,
    definition: &str,
    hash: &Digest32,
    closes_at: Timestamp,
) -> Result<()> {
    let changed = ballot::Entity::update_many()
        .col_expr(ballot::Column::Definition, Expr::value(definition))
        .col_expr(
            ballot::Column::DefinitionHash,
            Expr::value(hash.as_bytes().to_vec()),
        )
        .col_expr(ballot::Column::ClosesAt, Expr::value(to_db_time(closes_at)))
        .filter(ballot::Column::Id.eq(id.as_i64()))
        .filter(ballot::Column::Status.eq(BallotStatus::Draft.as_str()))
        .exec(db)
        .await
        .map_err(db_err)?;
    if changed.rows_affected != 1 {
        return Err(Error::Conflict(
            "a published ballot cannot change; cancel it and reissue a corrected copy".to_owned(),
        ));
    }
    Ok(())
}

async fn set_status(
    db: &impl Db,
    id: BallotId,
    from: &[BallotStatus],
    to: BallotStatus,
    at_column: ballot::Column,
    at: Timestamp,
) -> Result<bool> {
    let changed = ballot::Entity::update_many()
        .col_expr(ballot::Column::Status, Expr::value(to.as_str()))
        .col_expr(at_column, Expr::value(to_db_time(at)))
        .filter(ballot::Column::Id.eq(id.as_i64()))
        .filter(ballot::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(changed.rows_affected == 1)
}

pub(crate) async fn publish_ballot(
    db: &impl Db,
    id: BallotId,
    at: Timestamp,
    roll: &[EligibleUnit],
) -> Result<bool> {
    if !set_status(
        db,
        id,
        &[BallotStatus::Draft],
        BallotStatus::Published,
        ballot::Column::PublishedAt,
        at,
    )
    .await?
    {
        return Ok(false);
    }
    // In chunks, to stay under the engines' limits on bound parameters. Each row carries its
    // label's natural sort key, which the entity leaves out of `Model`.
    for chunk in roll.chunks(500) {
        let mut insert = Query::insert();
        insert.into_table(ballot_roll::Entity).columns([
            "ballot_id",
            "unit_id",
            "label",
            "weight_micros",
            ballot_roll::SORT_KEY,
        ]);
        for e in chunk {
            insert
                .values([
                    e.ballot.as_i64().into(),
                    e.unit.as_i64().into(),
                    e.label.as_str().into(),
                    e.weight.micros().into(),
                    natural_key(e.label.as_str()).into_bytes().into(),
                ])
                .map_err(|e| Error::Internal(e.to_string()))?;
        }
        db.execute(&insert).await.map_err(db_err)?;
    }
    Ok(true)
}

pub(crate) async fn cancel_ballot(db: &impl Db, id: BallotId, at: Timestamp) -> Result<bool> {
    set_status(
        db,
        id,
        &[BallotStatus::Draft, BallotStatus::Published],
        BallotStatus::Cancelled,
        ballot::Column::CancelledAt,
        at,
    )
    .await
}

pub(crate) async fn close_ballot(
    db: &impl Db,
    id: BallotId,
    at: Timestamp,
    results: &str,
    checkpoint: &str,
) -> Result<bool> {
    let changed = ballot::Entity::update_many()
        .col_expr(
            ballot::Column::Status,
            Expr::value(BallotStatus::Closed.as_str()),
        )
        .col_expr(ballot::Column::ClosedAt, Expr::value(to_db_time(at)))
        .col_expr(ballot::Column::Results, Expr::value(results))
        .col_expr(ballot::Column::Checkpoint, Expr::value(checkpoint))
        .filter(ballot::Column::Id.eq(id.as_i64()))
        .filter(ballot::Column::Status.eq(BallotStatus::Published.as_str()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(changed.rows_affected == 1)
}

fn participation_model(p: &Participation) -> participation::ActiveModel {
    participation::ActiveModel {
        ballot_id: Set(p.ballot.as_i64()),
        unit_id: Set(p.unit.as_i64()),
        channel: Set(p.channel.as_str().to_owned()),
        voter_subject: Set(p.voter.map(|s| s.as_i64())),
        staff_subject: Set(p.origin.staff.map(|s| s.as_i64())),
        ip: Set(p.origin.ip.clone()),
        user_agent: Set(p.origin.user_agent.clone()),
        at: Set(to_db_time(p.at)),
        roll_weight_micros: Set(p.roll_weight.micros()),
        submission_sha256: Set(p.submission.map(|d| d.as_bytes().to_vec())),
    }
}

pub(crate) async fn insert_participation(db: &impl Db, p: &Participation) -> Result<bool> {
    let inserted = participation::Entity::insert(participation_model(p))
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await
        .map_err(db_err)?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}

/// Adds many participation rows in multi-row inserts; a unit that took part already is a
/// `conflict` (the primary key decides, as for one row).
pub(crate) async fn insert_participations(db: &impl Db, rows: &[Participation]) -> Result<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        participation::Entity::insert_many(chunk.iter().map(participation_model))
            .exec_without_returning(db)
            .await
            .map_err(|e| conflict_or(e, "a unit took part in this ballot already"))?;
    }
    Ok(())
}

fn box_model(e: &BoxEntry) -> ballot_box::ActiveModel {
    ballot_box::ActiveModel {
        tracker: Set(e.tracker.as_i64()),
        ballot_id: Set(e.ballot.as_i64()),
        weight_micros: Set(e.weight.micros()),
        choices: Set(e.sealed_choices.clone()),
        unit_id: Set(e.unit.map(|u| u.as_i64())),
        cast_at: Set(e.cast_at.map(to_db_time)),
    }
}

/// Adds many ballots to a box in multi-row inserts, in the order given (each statement's rows
/// are written in that order); a tracker already in use is a `conflict`.
pub(crate) async fn insert_box_entries(db: &impl Db, entries: &[BoxEntry]) -> Result<()> {
    for chunk in entries.chunks(INSERT_CHUNK) {
        ballot_box::Entity::insert_many(chunk.iter().map(box_model))
            .exec_without_returning(db)
            .await
            .map_err(|err| conflict_or(err, "this tracker is taken"))?;
    }
    Ok(())
}

pub(crate) async fn insert_box_entry(db: &impl Db, e: &BoxEntry) -> Result<()> {
    ballot_box::Entity::insert(box_model(e))
        .exec_without_returning(db)
        .await
        .map_err(|err| conflict_or(err, "this tracker is taken"))?;
    Ok(())
}

pub(crate) async fn insert_refusal(db: &impl Db, r: &Refusal) -> Result<()> {
    vote_refusal::Entity::insert(vote_refusal::ActiveModel {
        id: Set(r.id),
        ballot_id: Set(r.ballot.as_i64()),
        unit_id: Set(r.unit.as_i64()),
        channel: Set(r.channel.as_str().to_owned()),
        voter_subject: Set(r.voter.map(|s| s.as_i64())),
        staff_subject: Set(r.origin.staff.map(|s| s.as_i64())),
        ip: Set(r.origin.ip.clone()),
        user_agent: Set(r.origin.user_agent.clone()),
        at: Set(to_db_time(r.at)),
        reason: Set(r.reason.clone()),
    })
    .exec_without_returning(db)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn claim_reminder(
    db: &impl Db,
    ballot: BallotId,
    slot: &str,
    at: Timestamp,
) -> Result<bool> {
    let inserted = ballot_reminder::Entity::insert(ballot_reminder::ActiveModel {
        ballot_id: Set(ballot.as_i64()),
        slot: Set(slot.to_owned()),
        at: Set(to_db_time(at)),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(db)
    .await
    .map_err(db_err)?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}
