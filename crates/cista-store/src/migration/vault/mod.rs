//! The person vault's own migration set, tracked in its own table, so the vault can live in
//! the main database (the default) or in a database of its own.

use sea_orm_migration::prelude::*;

mod m20261123_000001_vault;
mod m20261202_000001_vault_sortable_times;
mod m20261202_000002_vault_byte_order_text;

#[derive(Debug)]
pub struct VaultMigrator;

impl MigratorTrait for VaultMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_vault::Migration),
            Box::new(m20261202_000001_vault_sortable_times::Migration),
            Box::new(m20261202_000002_vault_byte_order_text::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_vault".into_iden()
    }
}

pub fn known_migrations() -> Vec<String> {
    VaultMigrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}
