//! The ballot box: tracker, weight and sealed choices (and, for recorded ballots, unit and time),
//! keyed by `(ballot_id, tracker)` (`m20261212_000001_box_keyed_by_ballot`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ballot_box")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ballot_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tracker: i64,
    pub weight_micros: i64,
    pub choices: Vec<u8>,
    pub unit_id: Option<i64>,
    pub cast_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
