//! The one migration set, written in Rust with sea-query so the same definitions produce the
//! SQLite and PostgreSQL schemas. Migrations are forward-only and embedded in the binary; a
//! database that has applied a migration this binary does not know is refused.

use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_000001_foundation;
mod m20261123_000001_people_and_access;
mod m20261124_000001_voting;
mod m20261130_000001_repeats_and_envelopes;
mod m20261130_000003_phone_region;
mod m20261130_000004_access_attempts;
mod m20261201_000001_app_tokens;
mod m20261201_000002_intake;
mod m20261202_000001_sortable_times;
mod m20261202_000002_byte_order_text;
mod m20261203_000001_form_settings;
mod m20261203_000002_outbox_any_person;
mod m20261204_000001_collection;
mod m20261204_000002_record_media;
mod m20261206_000001_webhooks;
mod m20261207_000001_breaches;
mod m20261208_000001_turnout_indexes;
mod m20261209_000001_box_unit_index;
mod m20261210_000001_participation_weight;
mod m20261211_000001_box_guard_per_statement;
mod m20261212_000001_box_keyed_by_ballot;
mod m20261213_000001_roll_sort_key;
mod m20261214_000001_submissions_by_time;
mod m20261215_000001_due_and_org_pages;
mod m20261216_000001_media_pending;
mod m20261217_000001_reads_by_owner;
mod m20261218_000001_votes_sealed;
mod m20261219_000001_join_invitations;
mod m20261220_000001_submission_keys_per_sender;
pub mod vault;

#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261123_000001_people_and_access::Migration),
            Box::new(m20261124_000001_voting::Migration),
            Box::new(m20261130_000001_repeats_and_envelopes::Migration),
            Box::new(m20261130_000003_phone_region::Migration),
            Box::new(m20261130_000004_access_attempts::Migration),
            Box::new(m20261201_000001_app_tokens::Migration),
            Box::new(m20261201_000002_intake::Migration),
            Box::new(m20261202_000001_sortable_times::Migration),
            Box::new(m20261202_000002_byte_order_text::Migration),
            Box::new(m20261203_000001_form_settings::Migration),
            Box::new(m20261203_000002_outbox_any_person::Migration),
            Box::new(m20261204_000001_collection::Migration),
            Box::new(m20261204_000002_record_media::Migration),
            Box::new(m20261206_000001_webhooks::Migration),
            Box::new(m20261207_000001_breaches::Migration),
            Box::new(m20261208_000001_turnout_indexes::Migration),
            Box::new(m20261209_000001_box_unit_index::Migration),
            Box::new(m20261210_000001_participation_weight::Migration),
            Box::new(m20261211_000001_box_guard_per_statement::Migration),
            Box::new(m20261212_000001_box_keyed_by_ballot::Migration),
            Box::new(m20261213_000001_roll_sort_key::Migration),
            Box::new(m20261214_000001_submissions_by_time::Migration),
            Box::new(m20261215_000001_due_and_org_pages::Migration),
            Box::new(m20261216_000001_media_pending::Migration),
            Box::new(m20261217_000001_reads_by_owner::Migration),
            Box::new(m20261218_000001_votes_sealed::Migration),
            Box::new(m20261219_000001_join_invitations::Migration),
            Box::new(m20261220_000001_submission_keys_per_sender::Migration),
        ]
    }
}

/// What every migration's `down` answers: Cista's migrations are forward-only.
pub(crate) fn forward_only() -> Result<(), DbErr> {
    Err(DbErr::Migration(
        "Cista's migrations are forward-only; restore a backup to go back".to_owned(),
    ))
}

/// The statements that lift a voting table's guard against updates for a migration's
/// backfill, and that put it back (`backend::voting_guards`): on SQLite the trigger
/// `sqlite_trigger` is dropped and created again as the guards define it; on PostgreSQL the
/// trigger `postgres_trigger` on `table` is disabled and enabled. Run both in the migration's
/// transaction, so the guard is never left lifted.
///
/// # Errors
/// `DbErr::Migration` when the guards define no SQLite trigger of that name.
pub(crate) fn update_guard_lifted(
    backend: sea_orm::DbBackend,
    table: &str,
    sqlite_trigger: &str,
    postgres_trigger: &str,
) -> Result<(String, String), DbErr> {
    if backend == sea_orm::DbBackend::Sqlite {
        let create = crate::backend::voting_guards(backend)
            .into_iter()
            .find(|s| s.starts_with(&format!("CREATE TRIGGER {sqlite_trigger} ")))
            .ok_or_else(|| DbErr::Migration(format!("no guard named {sqlite_trigger}")))?;
        Ok((format!("DROP TRIGGER {sqlite_trigger}"), create.to_owned()))
    } else {
        Ok((
            format!("ALTER TABLE {table} DISABLE TRIGGER {postgres_trigger}"),
            format!("ALTER TABLE {table} ENABLE TRIGGER {postgres_trigger}"),
        ))
    }
}

/// An identifier quoted for SQL (`"name"`, inner quotes doubled), for the migrations that
/// name tables and columns read from the catalog.
pub(crate) fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The names of the migrations this binary knows, oldest first.
pub fn known_migrations() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}
