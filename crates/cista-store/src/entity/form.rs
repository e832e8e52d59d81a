//! Published form versions (immutable).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "forms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub org_id: i64,
    pub product: String,
    pub form_key: String,
    pub version: i32,
    pub definition: String,
    pub definition_sha256: Vec<u8>,
    pub published_at: TimeDateTimeWithTimeZone,
    pub published_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
