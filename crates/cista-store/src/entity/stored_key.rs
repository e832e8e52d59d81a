//! Wrapped keys: organization data keys and the audit signing key, never in the clear.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub purpose: String,
    pub org_id: Option<i64>,
    pub kek_id: String,
    pub wrapped: Vec<u8>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub rewrapped_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
