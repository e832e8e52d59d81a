//! What a vote cast reads and writes, one statement each: before the cast, the ballot, its
//! organization and data key, and the unit with its roll row and owners; then a group
//! commit's participation rows and box entries, many casts at once, with the primary keys
//! still deciding.

use super::{box_model, participation_model};
use crate::convert::{self, db_err};
use crate::entity::{
    ballot, ballot_box, ballot_roll, organization, participation, stored_key, unit, unit_owner,
};
use cista_core::Result;
use cista_core::ports::{BoxEntry, CastContext, KeyPurpose, Participation, UnitForBallot};
use cista_types::{BallotId, UnitId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Order, Query, SelectStatement};
use sea_orm::{
    ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic as _, Iterable, QueryTrait,
};

/// Selects every column of `entity` (as `{prefix}{column}`), so a join of several tables reads
/// each back with `from_query_result(row, prefix)`.
fn select_prefixed<E>(query: &mut SelectStatement, entity: E, prefix: &str)
where
    E: EntityTrait,
    E::Column: Iterable,
{
    for column in E::Column::iter() {
        query.expr_as(
            Expr::col((entity, column)),
            Alias::new(format!("{prefix}{}", column.as_str())),
        );
    }
}

/// What a cast checks, in one statement (see `VotingReads::cast_context`): a row per owner of
/// the unit (one whose owner columns are null when it has none), each with the ballot's
/// columns (`b_`), its organization's (`o_`) and data key's (`key_`, null when it has none),
/// the unit's (`u_`, null when the ballot's organization has no such unit) and its roll row's
/// (`roll_`, null when it is not on the roll).
pub(crate) async fn cast_context(
    db: &impl ConnectionTrait,
    ballot_id: BallotId,
    unit_id: UnitId,
) -> Result<Option<CastContext>> {
    let b = |c: ballot::Column| Expr::col((ballot::Entity, c));
    let u = |c: unit::Column| Expr::col((unit::Entity, c));
    let roll = |c: ballot_roll::Column| Expr::col((ballot_roll::Entity, c));
    let key = |c: stored_key::Column| Expr::col((stored_key::Entity, c));
    let mut query = Query::select();
    select_prefixed(&mut query, ballot::Entity, "b_");
    select_prefixed(&mut query, organization::Entity, "o_");
    select_prefixed(&mut query, stored_key::Entity, "key_");
    select_prefixed(&mut query, unit::Entity, "u_");
    select_prefixed(&mut query, ballot_roll::Entity, "roll_");
    select_prefixed(&mut query, unit_owner::Entity, "owner_");
    query
        .from(ballot::Entity)
        .inner_join(
            organization::Entity,
            Expr::col((organization::Entity, organization::Column::Id))
                .equals((ballot::Entity, ballot::Column::OrgId)),
        )
        .left_join(
            stored_key::Entity,
            key(stored_key::Column::OrgId)
                .equals((ballot::Entity, ballot::Column::OrgId))
                .and(key(stored_key::Column::Purpose).eq(KeyPurpose::OrgData.as_str())),
        )
        .left_join(
            unit::Entity,
            u(unit::Column::Id)
                .eq(unit_id.as_i64())
                .and(u(unit::Column::OrgId).equals((ballot::Entity, ballot::Column::OrgId))),
        )
        .left_join(
            ballot_roll::Entity,
            roll(ballot_roll::Column::BallotId)
                .equals((ballot::Entity, ballot::Column::Id))
                .and(roll(ballot_roll::Column::UnitId).equals((unit::Entity, unit::Column::Id))),
        )
        .left_join(
            unit_owner::Entity,
            Expr::col((unit_owner::Entity, unit_owner::Column::UnitId))
                .equals((unit::Entity, unit::Column::Id)),
        )
        .and_where(b(ballot::Column::Id).eq(ballot_id.as_i64()))
        .order_by(
            (unit_owner::Entity, unit_owner::Column::Subject),
            Order::Asc,
        );
    let rows = crate::query::select_rows(db, &query).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let present = |column: &str| {
        first
            .try_get::<Option<i64>>("", column)
            .map(|v| v.is_some())
            .map_err(db_err)
    };
    let ballot = convert::ballot(ballot::Model::from_query_result(first, "b_").map_err(db_err)?)?;
    let organization = convert::organization(
        organization::Model::from_query_result(first, "o_").map_err(db_err)?,
    )?;
    let data_key = if present("key_id")? {
        Some(convert::stored_key(
            stored_key::Model::from_query_result(first, "key_").map_err(db_err)?,
        )?)
    } else {
        None
    };
    let unit = if present("u_id")? {
        let unit = convert::unit(unit::Model::from_query_result(first, "u_").map_err(db_err)?)?;
        let on_roll = if present("roll_unit_id")? {
            Some(convert::eligible(
                ballot_roll::Model::from_query_result(first, "roll_").map_err(db_err)?,
            )?)
        } else {
            None
        };
        let mut owners = Vec::with_capacity(rows.len());
        for row in &rows {
            if row
                .try_get::<Option<i64>>("", "owner_subject")
                .map_err(db_err)?
                .is_some()
            {
                owners.push(convert::unit_owner(
                    unit_owner::Model::from_query_result(row, "owner_").map_err(db_err)?,
                ));
            }
        }
        Some(UnitForBallot {
            unit,
            on_roll,
            owners,
        })
    } else {
        None
    };
    Ok(Some(CastContext {
        ballot,
        organization,
        data_key,
        unit,
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
                OnConflict::columns([ballot_box::Column::BallotId, ballot_box::Column::Tracker])
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
