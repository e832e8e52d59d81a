//! A ballot's participation list and refused attempts a page at a time, and the units of its
//! roll a search names: what the staff's ballot page shows, read in bounded memory however
//! large the ballot (a million-unit ballot's page used to hold every unit that voted; each
//! read still walks the ballot's rows in the database, so its time grows with them); and
//! for paper entry, the units yet to vote up to a bound, and a unit found by its label; and
//! for the record's files, the rows of a part of the roll and the refusals page by page.

use crate::convert::{self, db_err, to_db_time};
use crate::entity::{ballot_box, ballot_roll, participation, unit, vote_refusal};
use crate::query::{Db, Fetch, contains_literal};
use cista_core::Result;
use cista_core::ports::{BoxEntry, EligibleUnit, Participation, Refusal};
use cista_types::{BallotId, OrgId, Timestamp, UnitId};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, prelude::RelationDef,
};
use std::collections::HashMap;

/// Up to `limit` participation rows of `ballot` from `offset`, newest first, with their
/// units' labels on the roll (see `VotingReads::participation_at`). The ballot's rows come
/// from the primary key's `(ballot_id, unit_id)` prefix and are sorted by time there: no
/// index on the time, which every cast would pay for.
pub(crate) async fn participation_at(
    db: &impl Db,
    ballot: BallotId,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, Participation)>> {
    let rows = participation::Entity::find()
        .filter(participation::Column::BallotId.eq(ballot.as_i64()))
        .order_by_desc(participation::Column::At)
        .order_by_desc(participation::Column::UnitId)
        .offset(offset)
        .limit(limit)
        .all_as(db, convert::participation)
        .await?;
    let units: Vec<UnitId> = rows.iter().map(|p| p.unit).collect();
    let labels = roll_labels(db, ballot, &units).await?;
    Ok(rows
        .into_iter()
        .map(|p| (labels.get(&p.unit).cloned().unwrap_or_default(), p))
        .collect())
}

/// How many units took part in `ballot`.
pub(crate) async fn participation_count(db: &impl Db, ballot: BallotId) -> Result<u64> {
    participation::Entity::find()
        .filter(participation::Column::BallotId.eq(ballot.as_i64()))
        .count_rows(db)
        .await
}

/// The rows of `ballot`'s roll for `units` (a page's worth: one `IN` list), in no order.
pub(crate) async fn eligible_units_of(
    db: &impl Db,
    ballot: BallotId,
    units: &[UnitId],
) -> Result<Vec<EligibleUnit>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    ballot_roll::Entity::find()
        .filter(ballot_roll::Column::BallotId.eq(ballot.as_i64()))
        .filter(ballot_roll::Column::UnitId.is_in(units.iter().map(|u| u.as_i64())))
        .all_as(db, convert::eligible)
        .await
}

/// The labels on `ballot`'s roll of `units`.
async fn roll_labels(
    db: &impl Db,
    ballot: BallotId,
    units: &[UnitId],
) -> Result<HashMap<UnitId, String>> {
    Ok(eligible_units_of(db, ballot, units)
        .await?
        .into_iter()
        .map(|e| (e.unit, e.label.to_string()))
        .collect())
}

/// The join from a roll row to its unit.
fn roll_unit() -> RelationDef {
    ballot_roll::Entity::belongs_to(unit::Entity)
        .from(ballot_roll::Column::UnitId)
        .to(unit::Column::Id)
        .into()
}

/// Up to `limit` units on `ballot`'s roll whose unit's `label_key` contains `folded`, in
/// natural roll-label order, each with its participation row (see `VotingReads::roll_matching`).
pub(crate) async fn roll_matching(
    db: &impl Db,
    ballot: BallotId,
    folded: &str,
    limit: u64,
) -> Result<Vec<(EligibleUnit, Option<Participation>)>> {
    let roll = ballot_roll::Entity::find()
        .join(JoinType::InnerJoin, roll_unit())
        .filter(ballot_roll::Column::BallotId.eq(ballot.as_i64()))
        .filter(unit::Column::LabelKey.like(contains_literal(folded)))
        .order_by_asc(match db.backend() {
            // SQLite would walk the sort key's index and look every roll row up in the table
            // and its unit: 2.75 s at a million units for a search that finds one, where the
            // primary key's walk and a sort of what matched took under 1 s (`bench tally`).
            // Unary `+` keeps the value and hides the index from the planner.
            DbBackend::Sqlite => Expr::cust("+\"ballot_roll\".\"sort_key\""),
            _ => Expr::col((ballot_roll::Entity, ballot_roll::SORT_KEY)),
        })
        .order_by_asc(ballot_roll::Column::UnitId)
        .limit(limit)
        .all_as(db, convert::eligible)
        .await?;
    if roll.is_empty() {
        return Ok(Vec::new());
    }
    let mut voted: HashMap<UnitId, Participation> = participation::Entity::find()
        .filter(participation::Column::BallotId.eq(ballot.as_i64()))
        .filter(participation::Column::UnitId.is_in(roll.iter().map(|e| e.unit.as_i64())))
        .all_as(db, convert::participation)
        .await?
        .into_iter()
        .map(|p| (p.unit, p))
        .collect();
    Ok(roll
        .into_iter()
        .map(|e| {
            let p = voted.remove(&e.unit);
            (e, p)
        })
        .collect())
}

/// Up to `limit` refused attempts on `ballot` from `offset`, newest first (from the
/// `(ballot_id, at)` index), with their units' labels.
pub(crate) async fn refusals_at(
    db: &impl Db,
    ballot: BallotId,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, Refusal)>> {
    let rows = vote_refusal::Entity::find()
        .filter(vote_refusal::Column::BallotId.eq(ballot.as_i64()))
        .order_by_desc(vote_refusal::Column::At)
        .order_by_desc(vote_refusal::Column::Id)
        .offset(offset)
        .limit(limit)
        .all_as(db, convert::refusal)
        .await?;
    with_labels(db, ballot, rows).await
}

/// Refused attempts with their units' labels: on the ballot's roll, else (a unit refused as
/// not on it) the unit's own. The staff page and the record file name them alike.
async fn with_labels(
    db: &impl Db,
    ballot: BallotId,
    rows: Vec<Refusal>,
) -> Result<Vec<(String, Refusal)>> {
    let units: Vec<UnitId> = rows.iter().map(|r| r.unit).collect();
    let mut labels = roll_labels(db, ballot, &units).await?;
    let off_roll: Vec<i64> = units
        .iter()
        .filter(|u| !labels.contains_key(u))
        .map(|u| u.as_i64())
        .collect();
    if !off_roll.is_empty() {
        let found = unit::Entity::find()
            .filter(unit::Column::Id.is_in(off_roll))
            .all_as(db, convert::unit)
            .await?;
        labels.extend(found.into_iter().map(|u| (u.id, u.label.to_string())));
    }
    Ok(rows
        .into_iter()
        .map(|r| (labels.get(&r.unit).cloned().unwrap_or_default(), r))
        .collect())
}

/// How many attempts on `ballot` were refused.
pub(crate) async fn refusal_count(db: &impl Db, ballot: BallotId) -> Result<u64> {
    vote_refusal::Entity::find()
        .filter(vote_refusal::Column::BallotId.eq(ballot.as_i64()))
        .count_rows(db)
        .await
}

/// The units on `ballot`'s roll that have not taken part (at most `limit`; all with `None`),
/// in natural roll-label order: the roll read against the participation table's primary key, no
/// unit that voted brought over.
pub(crate) async fn units_yet_to_vote(
    db: &impl Db,
    ballot: BallotId,
    limit: Option<u64>,
) -> Result<Vec<EligibleUnit>> {
    let voted = Query::select()
        .expr(Expr::val(1))
        .from(participation::Entity)
        .and_where(
            Expr::col((participation::Entity, participation::Column::BallotId))
                .equals((ballot_roll::Entity, ballot_roll::Column::BallotId)),
        )
        .and_where(
            Expr::col((participation::Entity, participation::Column::UnitId))
                .equals((ballot_roll::Entity, ballot_roll::Column::UnitId)),
        )
        .to_owned();
    ballot_roll::Entity::find()
        .filter(ballot_roll::Column::BallotId.eq(ballot.as_i64()))
        .filter(Expr::exists(voted).not())
        .order_by_asc(Expr::col(ballot_roll::SORT_KEY))
        .order_by_asc(ballot_roll::Column::UnitId)
        .limit(limit)
        .all_as(db, convert::eligible)
        .await
}

/// Up to `limit` units of `ballot`'s roll in natural label order, each with its stored sort
/// key, after `after` (a stored sort key and unit id), from the `(ballot_id, sort_key,
/// unit_id)` index (see `VotingReads::roll_in_order`).
pub(crate) async fn roll_in_order(
    db: &impl Db,
    ballot: BallotId,
    after: Option<(&[u8], UnitId)>,
    limit: u64,
) -> Result<Vec<(Vec<u8>, EligibleUnit)>> {
    let sort_key = || Expr::col(ballot_roll::SORT_KEY);
    let mut find = ballot_roll::Entity::find()
        .column_as(sort_key(), ballot_roll::SORT_KEY)
        .filter(ballot_roll::Column::BallotId.eq(ballot.as_i64()));
    if let Some((key, unit)) = after {
        find = find.filter(
            Expr::tuple([sort_key(), Expr::col(ballot_roll::Column::UnitId)]).gt(Expr::tuple([
                Expr::val(key.to_vec()),
                Expr::val(unit.as_i64()),
            ])),
        );
    }
    let query = find
        .order_by_asc(sort_key())
        .order_by_asc(ballot_roll::Column::UnitId)
        .limit(limit)
        .into_query();
    let mut part = Vec::new();
    for row in crate::query::select_rows(db, &query).await? {
        let key: Vec<u8> = row.try_get("", ballot_roll::SORT_KEY).map_err(db_err)?;
        let model = ballot_roll::Model::from_query_result(&row, "").map_err(db_err)?;
        part.push((key, convert::eligible(model)?));
    }
    Ok(part)
}

/// The unit of `org` on `ballot`'s roll whose label is `key` (as `UnitLabel::key`): one read of
/// the organization's unique `(org_id, label_key)` index, then the roll's primary key (without
/// the organization, the roll would be walked unit by unit: 62 ms at 200,000 on SQLite).
pub(crate) async fn roll_unit_labelled(
    db: &impl Db,
    (org, ballot): (OrgId, BallotId),
    key: &str,
) -> Result<Option<EligibleUnit>> {
    ballot_roll::Entity::find()
        .join(JoinType::InnerJoin, roll_unit())
        .filter(ballot_roll::Column::BallotId.eq(ballot.as_i64()))
        .filter(unit::Column::OrgId.eq(org.as_i64()))
        .filter(unit::Column::LabelKey.eq(key))
        .one_as(db, convert::eligible)
        .await
}

/// The participation rows of `units` in `ballot` (a part of a record file: one `IN` list on
/// the primary key), in no order.
pub(crate) async fn participation_of_units(
    db: &impl Db,
    ballot: BallotId,
    units: &[UnitId],
) -> Result<Vec<Participation>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    participation::Entity::find()
        .filter(participation::Column::BallotId.eq(ballot.as_i64()))
        .filter(participation::Column::UnitId.is_in(units.iter().map(|u| u.as_i64())))
        .all_as(db, convert::participation)
        .await
}

/// The box entries of `ballot` that name one of `units` (a recorded ballot's; a secret box
/// names none), every column, in no order: from the partial unique index on the unit.
pub(crate) async fn box_entries_of_units(
    db: &impl Db,
    ballot: BallotId,
    units: &[UnitId],
) -> Result<Vec<BoxEntry>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    ballot_box::Entity::find()
        .filter(ballot_box::Column::BallotId.eq(ballot.as_i64()))
        .filter(ballot_box::Column::UnitId.is_in(units.iter().map(|u| u.as_i64())))
        .all_map(db, convert::box_entry)
        .await
}

/// Up to `limit` refused attempts on `ballot` after `after` (its time and id), oldest first:
/// keyset paging on the `(ballot_id, at)` index, so a record file reads them a page at a
/// time and none is repeated (one refused meanwhile, stamped before the page already read,
/// is left out, as a file read at once would have left it).
pub(crate) async fn refusals_after(
    db: &impl Db,
    ballot: BallotId,
    after: Option<(Timestamp, i64)>,
    limit: u64,
) -> Result<Vec<(String, Refusal)>> {
    use sea_orm::sea_query::Condition;
    let mut query =
        vote_refusal::Entity::find().filter(vote_refusal::Column::BallotId.eq(ballot.as_i64()));
    if let Some((at, id)) = after {
        let at = to_db_time(at);
        query = query.filter(
            Condition::any().add(vote_refusal::Column::At.gt(at)).add(
                Condition::all()
                    .add(vote_refusal::Column::At.eq(at))
                    .add(vote_refusal::Column::Id.gt(id)),
            ),
        );
    }
    let rows = query
        .order_by_asc(vote_refusal::Column::At)
        .order_by_asc(vote_refusal::Column::Id)
        .limit(limit)
        .all_as(db, convert::refusal)
        .await?;
    with_labels(db, ballot, rows).await
}
