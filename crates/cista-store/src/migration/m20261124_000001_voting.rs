//! Association voting: units and their owners, ballots, the roll frozen at publication, the
//! participation ledger (one row per ballot and unit: the primary key is the one-vote rule),
//! the ballot box (keyed by a random tracker, so storage order is tracker order, never
//! casting order), refused attempts and sent reminders. Triggers (in `backend`) make
//! published definitions immutable and voting records undeletable.

use super::columns::{fk, timestamp, timestamp_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn id_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &'static str,
    cols: &[&'static str],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for c in cols {
        index.col(*c);
    }
    manager.create_index(index.to_owned()).await
}

/// Adds the `time_zone` column to `organizations`.
async fn add_organization_time_zone(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table("organizations")
                .add_column(ColumnDef::new("time_zone").text().not_null().default("UTC"))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `units` table and its unique label index.
async fn create_units(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("units")
                .col(id("id").primary_key())
                .col(id("org_id"))
                .col(text("label"))
                .col(text("label_key"))
                .col(id("weight_micros"))
                .col(text("consent"))
                .col(timestamp_null("consent_at"))
                .col(text_null("consent_method"))
                .col(timestamp("created_at"))
                .col(timestamp_null("retired_at"))
                .foreign_key(&mut fk(
                    "fk_units_org",
                    ("units", "org_id"),
                    ("organizations", "id"),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ux_units_org_label")
                .table("units")
                .col("org_id")
                .col("label_key")
                .unique()
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `unit_owners` table and its subject index.
async fn create_unit_owners(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("unit_owners")
                .col(id("unit_id"))
                .col(id("subject"))
                .col(
                    ColumnDef::new("designated")
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .primary_key(Index::create().col("unit_id").col("subject"))
                .foreign_key(&mut fk(
                    "fk_unit_owners_unit",
                    ("unit_owners", "unit_id"),
                    ("units", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_unit_owners_account",
                    ("unit_owners", "subject"),
                    ("accounts", "subject"),
                ))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "ix_unit_owners_subject",
        "unit_owners",
        &["subject"],
    )
    .await?;
    Ok(())
}

/// Creates the `ballots` table and its indexes.
async fn create_ballots(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("ballots")
                .col(id("id").primary_key())
                .col(id("org_id"))
                .col(text("status"))
                .col(text("definition"))
                .col(ColumnDef::new("definition_hash").blob().not_null())
                .col(timestamp("created_at"))
                .col(timestamp_null("published_at"))
                .col(timestamp_null("closed_at"))
                .col(timestamp_null("cancelled_at"))
                .col(id_null("replaces"))
                .col(timestamp("closes_at"))
                .col(
                    ColumnDef::new("shuffled_count")
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(text_null("results"))
                .col(text_null("checkpoint"))
                .foreign_key(&mut fk(
                    "fk_ballots_org",
                    ("ballots", "org_id"),
                    ("organizations", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_ballots_replaces",
                    ("ballots", "replaces"),
                    ("ballots", "id"),
                ))
                .to_owned(),
        )
        .await?;
    index(manager, "ix_ballots_org", "ballots", &["org_id"]).await?;
    index(
        manager,
        "ix_ballots_status",
        "ballots",
        &["status", "closes_at"],
    )
    .await?;
    Ok(())
}

/// Creates the `ballot_roll` table, the roll frozen at publication.
async fn create_ballot_roll(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("ballot_roll")
                .col(id("ballot_id"))
                .col(id("unit_id"))
                .col(text("label"))
                .col(id("weight_micros"))
                .primary_key(Index::create().col("ballot_id").col("unit_id"))
                .foreign_key(&mut fk(
                    "fk_ballot_roll_ballot",
                    ("ballot_roll", "ballot_id"),
                    ("ballots", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_ballot_roll_unit",
                    ("ballot_roll", "unit_id"),
                    ("units", "id"),
                ))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `participation` ledger.
async fn create_participation(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // The one-vote rule: (ballot, unit) is the primary key, and must be on the roll.
    manager
        .create_table(
            Table::create()
                .table("participation")
                .col(id("ballot_id"))
                .col(id("unit_id"))
                .col(text("channel"))
                .col(id_null("voter_subject"))
                .col(id_null("staff_subject"))
                .col(text_null("ip"))
                .col(text_null("user_agent"))
                .col(timestamp("at"))
                .primary_key(Index::create().col("ballot_id").col("unit_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_participation_roll")
                        .from("participation", ("ballot_id", "unit_id"))
                        .to("ballot_roll", ("ballot_id", "unit_id"))
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the `ballot_box` table and its index.
async fn create_ballot_box(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // The ballot box: the random tracker is the (SQLite rowid) key, so rows are stored
    // in tracker order (keyed by ballot and tracker since
    // `m20261212_000001_box_keyed_by_ballot`). No unit, person, session, address or time for
    // a secret ballot.
    manager
        .create_table(
            Table::create()
                .table("ballot_box")
                .col(id("tracker").primary_key())
                .col(id("ballot_id"))
                .col(id("weight_micros"))
                .col(ColumnDef::new("choices").blob().not_null())
                .col(id_null("unit_id"))
                .col(timestamp_null("cast_at"))
                .foreign_key(&mut fk(
                    "fk_ballot_box_ballot",
                    ("ballot_box", "ballot_id"),
                    ("ballots", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_ballot_box_unit",
                    ("ballot_box", "unit_id"),
                    ("units", "id"),
                ))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "ix_ballot_box_ballot",
        "ballot_box",
        &["ballot_id", "tracker"],
    )
    .await?;
    Ok(())
}

/// Creates the `vote_refusals` table and its index.
async fn create_vote_refusals(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("vote_refusals")
                .col(id("id").primary_key())
                .col(id("ballot_id"))
                .col(id("unit_id"))
                .col(text("channel"))
                .col(id_null("voter_subject"))
                .col(id_null("staff_subject"))
                .col(text_null("ip"))
                .col(text_null("user_agent"))
                .col(timestamp("at"))
                .col(text("reason"))
                .foreign_key(&mut fk(
                    "fk_vote_refusals_ballot",
                    ("vote_refusals", "ballot_id"),
                    ("ballots", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_vote_refusals_unit",
                    ("vote_refusals", "unit_id"),
                    ("units", "id"),
                ))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "ix_vote_refusals_ballot",
        "vote_refusals",
        &["ballot_id", "at"],
    )
    .await?;
    Ok(())
}

/// Creates the `ballot_reminders` table.
async fn create_ballot_reminders(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("ballot_reminders")
                .col(id("ballot_id"))
                .col(text("slot"))
                .col(timestamp("at"))
                .primary_key(Index::create().col("ballot_id").col("slot"))
                .foreign_key(&mut fk(
                    "fk_ballot_reminders_ballot",
                    ("ballot_reminders", "ballot_id"),
                    ("ballots", "id"),
                ))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Installs the backend triggers that make voting records immutable and undeletable.
async fn install_voting_guards(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in crate::backend::voting_guards(manager.get_database_backend()) {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_organization_time_zone(manager).await?;
        create_units(manager).await?;
        create_unit_owners(manager).await?;
        create_ballots(manager).await?;
        create_ballot_roll(manager).await?;
        create_participation(manager).await?;
        create_ballot_box(manager).await?;
        create_vote_refusals(manager).await?;
        create_ballot_reminders(manager).await?;
        install_voting_guards(manager).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
