//! The vault's people: sealed personal fields and keyed-hash lookups.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vault_people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: i64,
    pub kek_id: String,
    pub wrapped_key: Vec<u8>,
    pub fields: Vec<u8>,
    pub email_index: Option<Vec<u8>>,
    pub phone_index: Option<Vec<u8>>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
