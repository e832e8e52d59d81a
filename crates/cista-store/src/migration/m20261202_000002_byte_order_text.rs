//! Gives every text column of the PostgreSQL schema the `"C"` collation, so that text compares
//! and sorts by its bytes (UTF-8, so by code point) as SQLite's default `BINARY` collation
//! does. Without it, `ORDER BY` on a name or a unit label followed the database's locale
//! (`en_US.UTF-8` puts `alpha` before `Zeta` and ignores punctuation at first), so lists came
//! out in another order in production than on SQLite and in tests. Equality and uniqueness do
//! not change: PostgreSQL's default collations are deterministic. Columns that are `"C"`
//! already are left alone, so running it again (the vault in the main database) is a no-op.
//! Later migrations create their text columns with `COLLATE "C"` themselves or run
//! [`byte_order_text`] again; a conformance test checks every text column.

use super::quoted;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Sets `COLLATE "C"` on every collatable column of the tables in the connection's current
/// schema that has another collation; nothing on SQLite. The migrators' own bookkeeping tables
/// (`seaql_migrations…`) are left alone: the migrator holds prepared statements on them, which
/// PostgreSQL refuses to run once a column's type changed under them ("cached plan must not
/// change result type"), and nothing sorts their rows.
pub(crate) async fn byte_order_text(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let columns = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS ty \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_collation co ON co.oid = a.attcollation \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
               AND NOT a.attisdropped AND co.collname <> 'C' \
               AND c.relname NOT LIKE 'seaql\\_migrations%' \
             ORDER BY c.relname, a.attnum",
        ))
        .await?;
    for row in columns {
        let table: String = row.try_get("", "t")?;
        let column: String = row.try_get("", "c")?;
        let data_type: String = row.try_get("", "ty")?;
        db.execute_unprepared(&format!(
            "ALTER TABLE {} ALTER COLUMN {} TYPE {data_type} COLLATE \"C\"",
            quoted(&table),
            quoted(&column),
        ))
        .await?;
    }
    Ok(())
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        byte_order_text(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
