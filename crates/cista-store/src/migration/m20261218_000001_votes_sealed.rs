//! A closed ballot takes no more votes, enforced by the database as the updates and deletes of
//! its records already are (`backend::voting_guards`): the guards `ballot_box_sealed` and
//! `participation_sealed` refuse a ballot box entry or a participation row for a ballot that
//! is not open (a draft, closed or cancelled ballot, or none). Every writer checks under the
//! ballot's lock that it is open (a cast, a paper ballot, the worker's shuffle); the bench's
//! bulk writer once did not (`fill_ballot_box`, fixed with these guards), and a writer that
//! forgets would add a vote to a list whose count, hash and Merkle root are already signed.
//!
//! On PostgreSQL each check runs once a statement, over the rows it inserted (a transition
//! table), as the delete guard does since `m20261211_000001_box_guard_per_statement`: a
//! shuffle writes a whole box back in one statement. On SQLite it is a row trigger's `WHEN`,
//! one lookup of the ballot by its key per row, inside the process. Installed after the
//! migrations that rebuild the box (`m20261212_000001_box_keyed_by_ballot`).

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The guards' tables, each guard named `<table>_sealed` on both engines (the trust page
/// lists them).
const SEALED: [&str; 2] = ["ballot_box", "participation"];

/// The statements that put the guards in place on `backend`.
fn sealed_guards(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Sqlite => SEALED
            .iter()
            .map(|table| {
                format!(
                    "CREATE TRIGGER {table}_sealed BEFORE INSERT ON {table} \
                     WHEN (SELECT status FROM ballots WHERE id = NEW.ballot_id) \
                       IS NOT 'published' \
                     BEGIN SELECT RAISE(ABORT, 'cista: only an open ballot takes votes'); END"
                )
            })
            .collect(),
        _ => std::iter::once(
            // Both tables name the ballot `ballot_id`, so one function serves both triggers.
            "CREATE OR REPLACE FUNCTION cista_ballot_records_insert() RETURNS trigger \
             LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF EXISTS (SELECT 1 FROM (SELECT DISTINCT ballot_id FROM added) a \
                          LEFT JOIN ballots b ON b.id = a.ballot_id \
                          WHERE b.status IS DISTINCT FROM 'published') THEN \
                 RAISE EXCEPTION 'cista: only an open ballot takes votes'; \
               END IF; \
               RETURN NULL; \
             END $$"
                .to_owned(),
        )
        .chain(SEALED.iter().map(|table| {
            format!(
                "CREATE TRIGGER {table}_sealed AFTER INSERT ON {table} \
                 REFERENCING NEW TABLE AS added \
                 FOR EACH STATEMENT EXECUTE FUNCTION cista_ballot_records_insert()"
            )
        }))
        .collect(),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both engines: the function and its triggers arrive together.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        // As if never made, so that running again (a test replaying its history) replaces them.
        for table in SEALED {
            db.execute_unprepared(&match backend {
                DbBackend::Sqlite => format!("DROP TRIGGER IF EXISTS {table}_sealed"),
                _ => format!("DROP TRIGGER IF EXISTS {table}_sealed ON {table}"),
            })
            .await?;
        }
        for statement in sealed_guards(backend) {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
