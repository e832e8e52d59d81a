//! The intake pipeline shared by the products that collect input (issue 11, item 4):
//!
//! - `forms`: each published version of a form, immutable: organization, product, key,
//!   version (unique per organization and key), the definition and its SHA-256.
//! - `submissions`: immutable; the payload sealed under the organization's data key (the row
//!   holds no plaintext), the client's idempotency key (unique per organization: a retry
//!   cannot make a second row) and the SHA-256 of the content it came with.
//! - `attachments`: files of a submission, by field name (unique per submission), pointing at
//!   the blob store by the SHA-256 of their plaintext.

use super::columns::{big, blob, fk, random_id, text, timestamp};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("forms")
                    .col(random_id())
                    .col(big("org_id"))
                    .col(text("product"))
                    .col(text("form_key"))
                    .col(ColumnDef::new("version").integer().not_null())
                    .col(text("definition"))
                    .col(blob("definition_sha256"))
                    .col(timestamp("published_at"))
                    .col(text("published_by"))
                    .check(Expr::cust("version >= 1"))
                    .foreign_key(&mut fk(
                        "fk_forms_org",
                        ("forms", "org_id"),
                        ("organizations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_forms_org_key_version")
                    .table("forms")
                    .col("org_id")
                    .col("form_key")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("submissions")
                    .col(random_id())
                    .col(big("org_id"))
                    .col(big("form_id"))
                    .col(text("idempotency_key"))
                    .col(blob("content_sha256"))
                    .col(blob("sealed_payload"))
                    .col(text("submitted_by"))
                    .col(timestamp("received_at"))
                    .foreign_key(&mut fk(
                        "fk_submissions_form",
                        ("submissions", "form_id"),
                        ("forms", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_submissions_org_key")
                    .table("submissions")
                    .col("org_id")
                    .col("idempotency_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("attachments")
                    .col(big("submission_id"))
                    .col(text("name"))
                    .col(blob("sha256"))
                    .col(big("size"))
                    .col(text("content_type"))
                    .col(timestamp("stored_at"))
                    .primary_key(Index::create().col("submission_id").col("name"))
                    .check(Expr::cust("size >= 0"))
                    .foreign_key(&mut fk(
                        "fk_attachments_submission",
                        ("attachments", "submission_id"),
                        ("submissions", "id"),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        super::forward_only()
    }
}
