//! Safe repeats and two-envelope paper ballots.
//!
//! - `form_submissions`: the first outcome of each state-changing form a browser submitted,
//!   keyed by a keyed hash of the browser, the route and the exact body, so a repeated
//!   submission (reload, back, double-click, a restored tab) gets the first outcome instead of
//!   running again. Rows expire after a day.
//! - `participation.submission_sha256`: the SHA-256 of the voting form's submission id, so a
//!   repeated cast is recognised as the voter's own first cast (and answered with its receipt)
//!   rather than recorded as a refused attempt. The id itself lives only in the voter's page.
//! - `paper_piles` and `paper_batches`: the two-envelope count of a secret ballot's paper
//!   channel. Checking in an outer envelope writes the participation row and adds one to the
//!   pile of its weight; opening a batch moves envelopes from the pile into a numbered batch;
//!   each inner ballot entered (with no unit) adds one to the batch's `entered`, never beyond
//!   its `envelopes` (a CHECK constraint).

use super::columns::{fk, timestamp};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn big(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("form_submissions")
                    .col(ColumnDef::new("key").blob().not_null().primary_key())
                    .col(ColumnDef::new("outcome").text().null())
                    .col(timestamp("claimed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_form_submissions_claimed")
                    .table("form_submissions")
                    .col("claimed_at")
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table("participation")
                    .add_column(ColumnDef::new("submission_sha256").blob().null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("paper_piles")
                    .col(big("ballot_id"))
                    .col(big("weight_micros"))
                    .col(big("checked_in"))
                    .col(big("opened"))
                    .primary_key(Index::create().col("ballot_id").col("weight_micros"))
                    .check(Expr::cust("opened >= 0 AND opened <= checked_in"))
                    .foreign_key(&mut fk(
                        "fk_paper_piles_ballot",
                        ("paper_piles", "ballot_id"),
                        ("ballots", "id"),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("paper_batches")
                    .col(big("ballot_id"))
                    .col(big("number"))
                    .col(big("weight_micros"))
                    .col(big("envelopes"))
                    .col(big("entered"))
                    .col(timestamp("opened_at"))
                    .col(ColumnDef::new("opened_by").big_integer().null())
                    .primary_key(Index::create().col("ballot_id").col("number"))
                    .check(Expr::cust(
                        "envelopes > 0 AND entered >= 0 AND entered <= envelopes",
                    ))
                    .foreign_key(&mut fk(
                        "fk_paper_batches_ballot",
                        ("paper_batches", "ballot_id"),
                        ("ballots", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
