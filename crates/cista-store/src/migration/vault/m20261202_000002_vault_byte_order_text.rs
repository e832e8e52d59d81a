//! The vault's text columns given the `"C"` collation on PostgreSQL, as the main database's
//! `m20261202_000002_byte_order_text` does (the vault may live in a database of its own,
//! which that migration does not reach).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::super::m20261202_000002_byte_order_text::byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::super::forward_only()
    }
}
