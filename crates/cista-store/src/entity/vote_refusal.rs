//! Refused attempts to vote.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vote_refusals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub ballot_id: i64,
    pub unit_id: i64,
    pub channel: String,
    pub voter_subject: Option<i64>,
    pub staff_subject: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: TimeDateTimeWithTimeZone,
    pub reason: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
