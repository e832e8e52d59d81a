//! The vault's stored times rewritten to the fixed-width text on SQLite, as the main
//! database's `m20261202_000001_sortable_times` does (the vault may live in a database of its
//! own, which that migration does not reach).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::super::m20261202_000001_sortable_times::rewrite_sqlite_times(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::super::forward_only()
    }
}
