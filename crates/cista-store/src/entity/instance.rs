//! The singleton row describing this installation (`slot` is always 1).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instance")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    pub id: i64,
    pub created_at: TimeDateTimeWithTimeZone,
    pub audit_origin: String,
    pub audit_public_key: Vec<u8>,
    pub audit_signing_key: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
