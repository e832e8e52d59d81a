//! A batch of opened outer envelopes whose inner ballots are entered with no unit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "paper_batches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ballot_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub number: i64,
    pub weight_micros: i64,
    pub envelopes: i64,
    pub entered: i64,
    pub opened_at: TimeDateTimeWithTimeZone,
    pub opened_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
