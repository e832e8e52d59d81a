//! What a vote cast reads and writes, one statement each: the unit with its roll row and
//! owners before the cast, and a group commit's participation rows and box entries, many
//! casts at once, with the primary keys still deciding.

use super::{box_model, participation_model};
use crate::convert::{self, db_err};
use crate::entity::{ballot_box, ballot_roll, participation, unit, unit_owner};
use cista_core::Result;
use cista_core::ports::{BoxEntry, Participation, UnitForBallot};
use cista_types::{BallotId, UnitId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, Iterable, QueryTrait};

/// `id` with its row on `ballot`'s roll and its owners, in one statement: a row per owner
/// (one whose owner columns are null when the unit has none), each with the unit's columns
/// and its roll row's (null when it is not on the roll).
pub(crate) async fn unit_for_ballot(
    db: &impl ConnectionTrait,
    ballot: BallotId,
    id: UnitId,
) -> Result<Option<UnitForBallot>> {
    let roll = |c: ballot_roll::Column| Expr::col((ballot_roll::Entity, c));
    let owner = |c: unit_owner::Column| Expr::col((unit_owner::Entity, c));
    let query = Query::select()
        .columns(unit::Column::iter().map(|c| (unit::Entity, c)))
        .expr_as(roll(ballot_roll::Column::Label), Alias::new("roll_label"))
        .expr_as(
            roll(ballot_roll::Column::WeightMicros),
            Alias::new("roll_weight_micros"),
        )
        .expr_as(
            owner(unit_owner::Column::Subject),
            Alias::new("owner_subject"),
        )
        .expr_as(
            owner(unit_owner::Column::Designated),
            Alias::new("owner_designated"),
        )
        .from(unit::Entity)
        .left_join(
            ballot_roll::Entity,
            roll(ballot_roll::Column::BallotId)
                .eq(ballot.as_i64())
                .and(roll(ballot_roll::Column::UnitId).equals((unit::Entity, unit::Column::Id))),
        )
        .left_join(
            unit_owner::Entity,
            owner(unit_owner::Column::UnitId).equals((unit::Entity, unit::Column::Id)),
        )
        .and_where(Expr::col((unit::Entity, unit::Column::Id)).eq(id.as_i64()))
        .order_by(
            (unit_owner::Entity, unit_owner::Column::Subject),
            Order::Asc,
        )
        .to_owned();
    let rows = crate::query::select_rows(db, &query).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let unit = convert::unit(unit::Model::from_query_result(first, "").map_err(db_err)?)?;
    let roll_label: Option<String> = first.try_get("", "roll_label").map_err(db_err)?;
    let roll_weight: Option<i64> = first.try_get("", "roll_weight_micros").map_err(db_err)?;
    let on_roll = match (roll_label, roll_weight) {
        (Some(label), Some(weight_micros)) => Some(convert::eligible(ballot_roll::Model {
            ballot_id: ballot.as_i64(),
            unit_id: unit.id.as_i64(),
            label,
            weight_micros,
        })?),
        _ => None,
    };
    let mut owners = Vec::with_capacity(rows.len());
    for row in &rows {
        let subject: Option<i64> = row.try_get("", "owner_subject").map_err(db_err)?;
        let designated: Option<bool> = row.try_get("", "owner_designated").map_err(db_err)?;
        if let (Some(subject), Some(designated)) = (subject, designated) {
            owners.push(convert::unit_owner(unit_owner::Model {
                unit_id: unit.id.as_i64(),
                subject,
                designated,
            }));
        }
    }
    Ok(Some(UnitForBallot {
        unit,
        on_roll,
        owners,
    }))
}

/// The most rows one of a group commit's inserts writes (a group holds up to 256 casts).
const LARGEST_GROUP_INSERT: usize = 256;

/// Up to this many rows, a group's insert has exactly as many rows as it writes.
const EXACT_GROUP_INSERT: usize = 16;

/// `rows` cut into chunks of sizes from a small set, largest first: exactly what is left up to
/// `EXACT_GROUP_INSERT` rows (most groups), else the largest power of two that fits, up to
/// `LARGEST_GROUP_INSERT` (300 rows: 256, 32, 12). A multi-row insert's SQL text follows its
/// row count, and the driver keeps a prepared statement per text in a bounded cache (100 a
/// connection); group commits of every size from 1 to 256 would make 256 texts a table and
/// push the cast path's other statements out of it, where these sizes make at most twenty.
fn group_insert_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let mut size = rows.len().min(LARGEST_GROUP_INSERT);
        if size > EXACT_GROUP_INSERT {
            // The largest power of two not above `size` (its highest bit).
            size = 1 << (usize::BITS - 1 - size.leading_zeros());
        }
        let (chunk, rest) = rows.split_at_checked(size)?;
        rows = rest;
        Some(chunk)
    })
}

/// Adds participation rows in multi-row inserts, each unless its unit took part in the ballot
/// already (before, or in an earlier row of `rows`): whether each row was written, in order.
/// The primary key decides, as for one row: `ON CONFLICT DO NOTHING` skips the row, and
/// `RETURNING` names the rows written.
pub(crate) async fn insert_participations_if_free(
    db: &impl ConnectionTrait,
    rows: &[Participation],
) -> Result<Vec<bool>> {
    use participation::Column as C;
    let mut written = Vec::with_capacity(rows.len());
    for chunk in group_insert_chunks(rows) {
        let mut insert = participation::Entity::insert_many(chunk.iter().map(participation_model))
            .on_conflict(
                OnConflict::columns([C::BallotId, C::UnitId])
                    .do_nothing()
                    .to_owned(),
            );
        insert
            .query()
            .returning(Query::returning().columns([C::BallotId, C::UnitId]));
        let returned = db
            .query_all_raw(insert.build(db.get_database_backend()))
            .await
            .map_err(db_err)?;
        let mut fresh = std::collections::BTreeSet::new();
        for row in returned {
            let ballot: i64 = row.try_get_by_index(0).map_err(db_err)?;
            let unit: i64 = row.try_get_by_index(1).map_err(db_err)?;
            fresh.insert((ballot, unit));
        }
        // A unit given twice in `rows` was written by its first row only.
        written.extend(
            chunk
                .iter()
                .map(|p| fresh.remove(&(p.ballot.as_i64(), p.unit.as_i64()))),
        );
    }
    Ok(written)
}

/// Adds ballots to the box in multi-row inserts, in the order given, unless a tracker is taken:
/// returns false then, without an error (which would spoil a PostgreSQL transaction that holds
/// other casts), having written the entries whose trackers were free; the caller abandons
/// its transaction.
pub(crate) async fn insert_box_entries_if_free(
    db: &impl ConnectionTrait,
    entries: &[BoxEntry],
) -> Result<bool> {
    let mut all = true;
    for chunk in group_insert_chunks(entries) {
        let written = ballot_box::Entity::insert_many(chunk.iter().map(box_model))
            .on_conflict(
                OnConflict::columns([ballot_box::Column::Tracker])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
            .map_err(db_err)?;
        all &= usize::try_from(written).is_ok_and(|n| n == chunk.len());
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize) -> Vec<usize> {
        let rows = vec![0u8; n];
        group_insert_chunks(&rows).map(<[u8]>::len).collect()
    }

    /// Every row lands in exactly one chunk, in order: exact sizes up to 16 rows, then powers
    /// of two no larger than 256, twenty sizes in all.
    #[test]
    fn group_inserts_are_cut_into_few_sizes() {
        assert!(sizes(0).is_empty());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(13), [13]);
        assert_eq!(sizes(16), [16]);
        assert_eq!(sizes(17), [16, 1]);
        assert_eq!(sizes(40), [32, 8]);
        assert_eq!(sizes(256), [256]);
        assert_eq!(sizes(300), [256, 32, 12]);
        let rows: Vec<usize> = (0..1000).collect();
        let rejoined: Vec<usize> = group_insert_chunks(&rows).flatten().copied().collect();
        assert_eq!(rejoined, rows);
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..=600 {
            let cut = sizes(n);
            assert_eq!(cut.iter().sum::<usize>(), n);
            assert!(
                cut.iter()
                    .all(|s| *s <= 16 || (s.is_power_of_two() && *s <= 256)),
                "{n}: {cut:?}"
            );
            assert!(cut.windows(2).all(|w| w[0] >= w[1]), "{n}: {cut:?}");
            seen.extend(cut);
        }
        assert_eq!(seen.len(), 20);
    }
}
