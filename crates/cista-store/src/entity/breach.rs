//! Recorded breaches; see the `breaches` migration.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "breaches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub org_id: i64,
    pub recorded_at: TimeDateTimeWithTimeZone,
    pub recorded_by: String,
    pub window_from: TimeDateTimeWithTimeZone,
    pub window_to: TimeDateTimeWithTimeZone,
    pub scope: String,
    pub description: String,
    pub notice_subject: String,
    pub notice_body: String,
    pub reported_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
