//! Collectors' devices, stored by the hash of their current secret (pairing code or token).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub org_id: i64,
    pub subject: i64,
    pub name: String,
    #[sea_orm(unique)]
    pub secret_sha256: Vec<u8>,
    pub created_by: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub pairing_expires_at: TimeDateTimeWithTimeZone,
    pub lifetime_days: i32,
    pub paired_at: Option<TimeDateTimeWithTimeZone>,
    pub expires_at: Option<TimeDateTimeWithTimeZone>,
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    pub last_used_at: Option<TimeDateTimeWithTimeZone>,
    pub use_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
