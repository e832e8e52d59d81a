//! One attempt against a person (a send or a wrong password), counted per requester.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject: i64,
    pub kind: String,
    /// Keyed hash of the device or network address the attempt came from.
    pub requester: Vec<u8>,
    pub trusted: bool,
    pub at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
