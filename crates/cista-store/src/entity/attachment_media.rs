//! What processing made of a record's photo: its delivered copy and thumbnail, by blob.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachment_media")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub submission_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub delivered_sha256: Option<Vec<u8>>,
    pub delivered_type: Option<String>,
    pub delivered_size: Option<i64>,
    pub thumbnail_sha256: Option<Vec<u8>>,
    pub error: Option<String>,
    pub processed_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
