//! Rewrites SQLite's stored times into the fixed-width text `convert::to_db_time` writes since
//! this migration, so that text order is time order for old rows too.
//!
//! sqlx wrote `2026-12-01T13:17:39.12Z` (trailing zeros dropped, none at all on a whole second);
//! the rule is now nine fraction digits, the last a 1 that only SQLite keeps
//! (`2026-12-01T13:17:39.120000001Z`). Every column SQLite declares `timestamp_with_timezone_text`
//! (what sea-query writes for `timestamp_with_time_zone`) in every table of the database is
//! rewritten; a text already 30 characters long is left alone, so running it twice (the vault
//! in the main database) changes nothing. PostgreSQL compares instants and is not touched.

use super::quoted;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// The SQLite type name sea-query gives `ColumnType::TimestampWithTimeZone`.
const SQLITE_TIME_TYPE: &str = "timestamp_with_timezone_text";

/// The stored text for a time as `to_db_time` now writes it: the date and time of day, then
/// the (at most six) microsecond digits padded with zeros, then `001Z`. Cista's times are UTC
/// and whole microseconds, so the old text is `YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z`.
fn normalized(column: &str) -> String {
    format!(
        "substr({c}, 1, 19) || '.' || substr(CASE WHEN substr({c}, 20, 1) = '.' \
         THEN substr({c}, 21, length({c}) - 21) ELSE '' END || '000000', 1, 6) || '001Z'",
        c = column
    )
}

/// Rewrites every stored time of the connected SQLite database; nothing on PostgreSQL.
pub(crate) async fn rewrite_sqlite_times(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let columns = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT m.name AS t, c.name AS c FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND lower(c.type) = ? ORDER BY m.name, c.cid",
            [SQLITE_TIME_TYPE.into()],
        ))
        .await?;
    for row in columns {
        let table: String = row.try_get("", "t")?;
        let column = quoted(&row.try_get::<String>("", "c")?);
        db.execute_unprepared(&format!(
            "UPDATE {table} SET {column} = {value} WHERE {column} IS NOT NULL \
             AND length({column}) <> 30",
            table = quoted(&table),
            value = normalized(&column),
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
        rewrite_sqlite_times(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
