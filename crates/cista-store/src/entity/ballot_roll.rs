//! The units eligible on a ballot, frozen at publication.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ballot_roll")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ballot_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_id: i64,
    pub label: String,
    pub weight_micros: i64,
}

/// `ballot_roll.sort_key`: the roll label's `natural_key` (bytes whose byte order is the
/// labels' natural order), written at publication and read only to order the roll in SQL
/// (`ix_ballot_roll_sort`). Not in `Model`, so the roll's other reads do not carry it.
pub const SORT_KEY: &str = "sort_key";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
