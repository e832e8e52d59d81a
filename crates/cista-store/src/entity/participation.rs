//! The participation ledger: one row per ballot and unit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ballot_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_id: i64,
    pub channel: String,
    pub voter_subject: Option<i64>,
    pub staff_subject: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: TimeDateTimeWithTimeZone,
    /// SHA-256 of the voting form's submission id (online casts only).
    pub submission_sha256: Option<Vec<u8>>,
    /// The unit's weight on the ballot's roll, in millionths (what turnout sums).
    pub roll_weight_micros: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
