//! The two-envelope count of a secret ballot's paper channel: piles of checked-in outer
//! envelopes per weight, and numbered batches of opened ones whose inner ballots are entered
//! with no unit. The counts are guarded by CHECK constraints (`opened <= checked_in`,
//! `entered <= envelopes`) and every change is a single conditional statement, so concurrent
//! staff can never enter more inner ballots than envelopes were checked in.

use crate::convert::{db_err, from_db_time, to_db_time};
use crate::entity::{ballot_box, paper_batch, paper_pile};
use crate::query::{Db, Fetch};
use cista_core::ports::{BoxEntry, PaperBatch, PaperPile};
use cista_core::{Error, Result};
use cista_types::{BallotId, SubjectCode, Timestamp, Tracker, UnitId, Weight};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn pile(m: paper_pile::Model) -> PaperPile {
    PaperPile {
        weight: Weight::from_micros(m.weight_micros),
        checked_in: count(m.checked_in),
        opened: count(m.opened),
    }
}

fn batch(m: paper_batch::Model) -> PaperBatch {
    PaperBatch {
        ballot: BallotId::from_i64(m.ballot_id),
        number: u32::try_from(m.number).unwrap_or(u32::MAX),
        weight: Weight::from_micros(m.weight_micros),
        envelopes: count(m.envelopes),
        entered: count(m.entered),
        opened_at: from_db_time(m.opened_at),
        opened_by: m.opened_by.map(SubjectCode::from_i64),
    }
}

pub(crate) async fn box_entry(
    db: &impl Db,
    ballot: BallotId,
    tracker: Tracker,
) -> Result<Option<BoxEntry>> {
    Ok(
        ballot_box::Entity::find_by_id((ballot.as_i64(), tracker.as_i64()))
            .first(db)
            .await?
            .map(crate::convert::box_entry),
    )
}

/// The entry naming `unit` in a recorded ballot's box, through `ix_ballot_box_unit` (unique:
/// at most one).
pub(crate) async fn box_entry_of_unit(
    db: &impl Db,
    ballot: BallotId,
    unit: UnitId,
) -> Result<Option<BoxEntry>> {
    Ok(ballot_box::Entity::find()
        .filter(ballot_box::Column::BallotId.eq(ballot.as_i64()))
        .filter(ballot_box::Column::UnitId.eq(unit.as_i64()))
        .first(db)
        .await?
        .map(crate::convert::box_entry))
}

pub(crate) async fn piles(db: &impl Db, ballot: BallotId) -> Result<Vec<PaperPile>> {
    paper_pile::Entity::find()
        .filter(paper_pile::Column::BallotId.eq(ballot.as_i64()))
        .order_by_asc(paper_pile::Column::WeightMicros)
        .all_map(db, pile)
        .await
}

pub(crate) async fn batches(db: &impl Db, ballot: BallotId) -> Result<Vec<PaperBatch>> {
    paper_batch::Entity::find()
        .filter(paper_batch::Column::BallotId.eq(ballot.as_i64()))
        .order_by_asc(paper_batch::Column::Number)
        .all_map(db, batch)
        .await
}

pub(crate) async fn add_to_pile(db: &impl Db, ballot: BallotId, weight: Weight) -> Result<()> {
    paper_pile::Entity::insert(paper_pile::ActiveModel {
        ballot_id: Set(ballot.as_i64()),
        weight_micros: Set(weight.micros()),
        checked_in: Set(1),
        opened: Set(0),
    })
    .on_conflict(
        OnConflict::columns([
            paper_pile::Column::BallotId,
            paper_pile::Column::WeightMicros,
        ])
        .value(
            paper_pile::Column::CheckedIn,
            Expr::col((paper_pile::Entity, paper_pile::Column::CheckedIn)).add(1),
        )
        .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn open_batch(
    db: &impl Db,
    ballot: BallotId,
    weight: Weight,
    at: Timestamp,
    by: Option<SubjectCode>,
) -> Result<Option<PaperBatch>> {
    // The caller holds the ballot's row lock, so the pile cannot move under this read.
    let Some(current) = paper_pile::Entity::find_by_id((ballot.as_i64(), weight.micros()))
        .first(db)
        .await?
    else {
        return Ok(None);
    };
    let waiting = current.checked_in - current.opened;
    if waiting <= 0 {
        return Ok(None);
    }
    let moved = paper_pile::Entity::update_many()
        .col_expr(
            paper_pile::Column::Opened,
            Expr::col(paper_pile::Column::Opened).add(waiting),
        )
        .filter(paper_pile::Column::BallotId.eq(ballot.as_i64()))
        .filter(paper_pile::Column::WeightMicros.eq(weight.micros()))
        .filter(paper_pile::Column::Opened.eq(current.opened))
        .exec(db)
        .await
        .map_err(db_err)?;
    if moved.rows_affected != 1 {
        return Err(Error::Conflict(
            "another batch was opened at the same moment; try again".to_owned(),
        ));
    }
    let last: Option<i64> = paper_batch::Entity::find()
        .select_only()
        .column_as(paper_batch::Column::Number.max(), "last")
        .filter(paper_batch::Column::BallotId.eq(ballot.as_i64()))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .map_err(db_err)?
        .flatten();
    let model = paper_batch::Model {
        ballot_id: ballot.as_i64(),
        number: last.unwrap_or(0) + 1,
        weight_micros: weight.micros(),
        envelopes: waiting,
        entered: 0,
        opened_at: to_db_time(at),
        opened_by: by.map(|s| s.as_i64()),
    };
    paper_batch::Entity::insert(paper_batch::ActiveModel {
        ballot_id: Set(model.ballot_id),
        number: Set(model.number),
        weight_micros: Set(model.weight_micros),
        envelopes: Set(model.envelopes),
        entered: Set(0),
        opened_at: Set(model.opened_at),
        opened_by: Set(model.opened_by),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| crate::convert::conflict_or(e, "another batch took this number; try again"))?;
    Ok(Some(batch(model)))
}

pub(crate) async fn count_into_batch(db: &impl Db, ballot: BallotId, number: u32) -> Result<bool> {
    let changed = paper_batch::Entity::update_many()
        .col_expr(
            paper_batch::Column::Entered,
            Expr::col(paper_batch::Column::Entered).add(1),
        )
        .filter(paper_batch::Column::BallotId.eq(ballot.as_i64()))
        .filter(paper_batch::Column::Number.eq(i64::from(number)))
        .filter(
            Expr::col(paper_batch::Column::Entered).lt(Expr::col(paper_batch::Column::Envelopes)),
        )
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(changed.rows_affected == 1)
}
