//! The people told of a breach, one row each; see the `breaches` migration.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "breach_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub breach_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: i64,
    pub notified_at: TimeDateTimeWithTimeZone,
    pub message_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
