//! The ballot box is keyed by `(ballot_id, tracker)` (issue 15, a million-unit close). Before,
//! the tracker alone was the key (on SQLite the rowid, so the table's B-tree held every
//! ballot's entries in one tracker order) and `ix_ballot_box_ballot (ballot_id, tracker)`
//! found a ballot's entries: reading a box walked that index and sought each row in the
//! table. In the `sqlite3` shell, on a copy of a million-entry box, that walk took 0.48–0.57 s
//! against 0.24 s for a scan of the table alone. Now:
//! - on SQLite the table is `WITHOUT ROWID` with the primary key `(ballot_id, tracker)`: a
//!   ballot's entries lie together in tracker order, in the table itself, and a read of the
//!   box is one walk with no seek. Counting a box (the worker's check for new votes, the
//!   shuffle's, which runs holding SQLite's write lock) and a tracker's position in it would
//!   then walk every row with its sealed choices, two to three times the time the old narrow
//!   index took, so `ix_ballot_box_count (ballot_id)` keeps them narrow: in a `WITHOUT ROWID`
//!   table an index also holds the key, so it is `(ballot_id, tracker)` in all but name. The
//!   planner reads the box through the table as long as SQLite has no statistics (Cista never
//!   runs `ANALYZE` there);
//! - on PostgreSQL the primary key `(ballot_id, tracker)` (`ballot_box_pkey`) takes the place
//!   of both the old key and the index.
//!
//! On PostgreSQL a cast writes one B-tree fewer; on SQLite as many as before. A tracker is
//! now unique within its ballot, not across ballots: every lookup, receipt and bulletin names the ballot, and a cast's tracker
//! is drawn from its ballot and submission.
//!
//! SQLite cannot change a table's key in place, so the table is rebuilt as its documentation
//! describes (<https://sqlite.org/lang_altertable.html#otheralter>): a new table, the rows
//! copied, the old one dropped (with its indexes and triggers) and the new one renamed, then
//! the unit index and the box's guards put back (`backend::voting_guards`' own statements),
//! and the narrow index made.
//! No table refers to the box, so foreign keys need not be switched off. It all runs in one
//! transaction: the box is never left without its guards or half copied.

use sea_orm::{DbBackend, Statement};
use sea_orm_migration::prelude::*;

use super::columns::{big, blob, fk, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table the SQLite rebuild copies the box into before it takes the box's name.
const KEYED: &str = "ballot_box_keyed";
/// The index this key replaces.
const OLD_INDEX: &str = "ix_ballot_box_ballot";
/// SQLite's narrow index for counts and positions (see above).
const COUNT_INDEX: &str = "CREATE INDEX ix_ballot_box_count ON ballot_box (ballot_id)";
/// The primary key's name on PostgreSQL (its default for the table).
const POSTGRES_KEY: &str = "ballot_box_pkey";
/// The box's columns, in the order of its first migration.
const COLUMNS: &str = "tracker, ballot_id, weight_micros, choices, unit_id, cast_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite as well (sea-orm's default there is none).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_on_sqlite(manager).await,
            _ => rekey_on_postgres(manager).await,
        }
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}

/// The box as a `WITHOUT ROWID` table keyed by `(ballot_id, tracker)`, its rows, unit index
/// and guards kept, with its narrow index for counts.
async fn rebuild_on_sqlite(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(KEYED)
                .col(big("tracker"))
                .col(big("ballot_id"))
                .col(big("weight_micros"))
                .col(blob("choices"))
                .col(ColumnDef::new("unit_id").big_integer().null())
                .col(timestamp_null("cast_at"))
                .primary_key(Index::create().col("ballot_id").col("tracker"))
                .foreign_key(&mut fk(
                    "fk_ballot_box_ballot",
                    (KEYED, "ballot_id"),
                    ("ballots", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_ballot_box_unit",
                    (KEYED, "unit_id"),
                    ("units", "id"),
                ))
                .extra("WITHOUT ROWID")
                .to_owned(),
        )
        .await?;
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "INSERT INTO {KEYED} ({COLUMNS}) SELECT {COLUMNS} FROM ballot_box \
         ORDER BY ballot_id, tracker"
    ))
    .await?;
    db.execute_unprepared("DROP TABLE ballot_box").await?;
    db.execute_unprepared(&format!("ALTER TABLE {KEYED} RENAME TO ballot_box"))
        .await?;
    db.execute_unprepared(super::m20261209_000001_box_unit_index::CREATE_UNIT_INDEX)
        .await?;
    db.execute_unprepared(COUNT_INDEX).await?;
    let guards: Vec<_> = crate::backend::voting_guards(DbBackend::Sqlite)
        .into_iter()
        .filter(|s| s.contains(" ON ballot_box "))
        .collect();
    if guards.len() != 2 {
        return Err(DbErr::Migration(format!(
            "expected the box's two guards, found {}",
            guards.len()
        )));
    }
    for guard in guards {
        db.execute_unprepared(guard).await?;
    }
    Ok(())
}

/// `(ballot_id, tracker)` as the primary key, in place of the tracker and the old index.
async fn rekey_on_postgres(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // The key's name as the catalog has it (the table is found on the search path, as every
    // other statement finds it).
    let key = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT conname::text AS name FROM pg_constraint \
             WHERE conrelid = 'ballot_box'::regclass AND contype = 'p'",
        ))
        .await?;
    if let Some(key) = key {
        let name: String = key.try_get("", "name")?;
        db.execute_unprepared(&format!(
            "ALTER TABLE ballot_box DROP CONSTRAINT {}",
            super::quoted(&name)
        ))
        .await?;
    }
    db.execute_unprepared(&format!("DROP INDEX IF EXISTS {OLD_INDEX}"))
        .await?;
    db.execute_unprepared(&format!(
        "ALTER TABLE ballot_box ADD CONSTRAINT {POSTGRES_KEY} PRIMARY KEY (ballot_id, tracker)"
    ))
    .await?;
    Ok(())
}
