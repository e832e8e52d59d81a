//! The intake capability (forms, submissions, attachments): each operation written once on any
//! connection or transaction, then exposed as `IntakeReads` on the store and `IntakeWrites`
//! on a transaction.

use crate::SeaStore;
use crate::convert::{conflict_or, db_err, digest, from_db_time, to_db_time};
use crate::entity::{
    attachment, attachment_media, form, form_setting, media_pending, record_review, submission,
};
use crate::query::{Db, Fetch};
use crate::tx::SeaTx;
use async_trait::async_trait;
use cista_core::Result;
use cista_core::platform::intake::FormProduct;
use cista_core::ports::{
    IntakeReads, IntakeWrites, StoredAttachment, StoredForm, StoredFormSettings, StoredSubmission,
};
use cista_crypto::Digest32;
use cista_types::{FormId, OrgId, SubjectCode, SubmissionId, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};

fn form_from(m: form::Model) -> Result<StoredForm> {
    Ok(StoredForm {
        id: FormId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        product: m.product,
        key: m.form_key,
        version: u32::try_from(m.version).unwrap_or(0),
        definition: m.definition,
        definition_sha256: digest(&m.definition_sha256, "form definition hash")?,
        published_at: from_db_time(m.published_at),
        published_by: m.published_by,
    })
}

fn submission_from(m: submission::Model) -> Result<StoredSubmission> {
    Ok(StoredSubmission {
        id: SubmissionId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        form: FormId::from_i64(m.form_id),
        idempotency_key: m.idempotency_key,
        content_sha256: digest(&m.content_sha256, "submission hash")?,
        sealed_payload: m.sealed_payload,
        submitted_by: m.submitted_by,
        received_at: from_db_time(m.received_at),
    })
}

/// A row count for `LIMIT`: the drivers bind it as a signed 64-bit integer (sea-query-sqlx
/// panics on a larger `u64`), so "no limit" (`u64::MAX`) is clamped to the largest one.
pub(crate) fn row_limit(limit: u64) -> u64 {
    Ord::min(limit, i64::MAX.unsigned_abs())
}

fn settings_from(m: form_setting::Model) -> Result<StoredFormSettings> {
    let codes: Vec<String> = serde_json::from_str(&m.notify).map_err(|_| {
        cista_core::Error::Integrity("a form's notify list is not a list of subject codes".into())
    })?;
    let notify = codes
        .iter()
        .map(|c| {
            SubjectCode::parse(c).map_err(|_| {
                cista_core::Error::Integrity("a form's notify list holds a bad subject code".into())
            })
        })
        .collect::<Result<_>>()?;
    Ok(StoredFormSettings {
        org: OrgId::from_i64(m.org_id),
        key: m.form_key,
        notify,
        attach_report: m.attach_report,
        retention_days: m.retention_days.and_then(|d| u32::try_from(d).ok()),
        updated_at: from_db_time(m.updated_at),
    })
}

pub(crate) fn attachment_from(m: attachment::Model) -> Result<StoredAttachment> {
    Ok(StoredAttachment {
        submission: SubmissionId::from_i64(m.submission_id),
        name: m.name,
        sha256: digest(&m.sha256, "attachment hash")?,
        size: u64::try_from(m.size).unwrap_or(0),
        content_type: m.content_type,
        stored_at: from_db_time(m.stored_at),
    })
}

async fn form_by_id(db: &impl Db, id: FormId) -> Result<Option<StoredForm>> {
    form::Entity::find_by_id(id.as_i64())
        .one_as(db, form_from)
        .await
}

async fn versions(db: &impl Db, org: OrgId, key: &str) -> Result<Vec<StoredForm>> {
    form::Entity::find()
        .filter(form::Column::OrgId.eq(org.as_i64()))
        .filter(form::Column::FormKey.eq(key))
        .order_by_asc(form::Column::Version)
        .all_as(db, form_from)
        .await
}

/// The newest version of `org`'s form `key`: the last entry of `ux_forms_org_key_version`'s
/// range for the key, one row.
async fn newest_version(db: &impl Db, org: OrgId, key: &str) -> Result<Option<StoredForm>> {
    form::Entity::find()
        .filter(form::Column::OrgId.eq(org.as_i64()))
        .filter(form::Column::FormKey.eq(key))
        .order_by_desc(form::Column::Version)
        .limit(1)
        .one_as(db, form_from)
        .await
}

async fn submission_by_id(db: &impl Db, id: SubmissionId) -> Result<Option<StoredSubmission>> {
    submission::Entity::find_by_id(id.as_i64())
        .one_as(db, submission_from)
        .await
}

async fn submission_with_key(
    db: &impl Db,
    org: OrgId,
    submitted_by: &str,
    idempotency_key: &str,
) -> Result<Option<StoredSubmission>> {
    submission::Entity::find()
        .filter(submission::Column::OrgId.eq(org.as_i64()))
        .filter(submission::Column::SubmittedBy.eq(submitted_by))
        .filter(submission::Column::IdempotencyKey.eq(idempotency_key))
        .one_as(db, submission_from)
        .await
}

/// Queues a record's image attachment for the photo worker (`media_pending`, read by
/// `CollectionReads::photos_to_process`), in the transaction that stores the attachment: one
/// statement, which writes the row only if the submission is a record (of a collection form),
/// as the worker's old question over every attachment did.
async fn photo_to_process(db: &impl Db, a: &StoredAttachment) -> Result<()> {
    let of_a_record = Query::select()
        .expr(Expr::val(1))
        .from(submission::Entity)
        .inner_join(
            form::Entity,
            Expr::col((form::Entity, form::Column::Id))
                .equals((submission::Entity, submission::Column::FormId)),
        )
        .and_where(
            Expr::col((submission::Entity, submission::Column::Id)).eq(a.submission.as_i64()),
        )
        .and_where(
            Expr::col((form::Entity, form::Column::Product)).eq(FormProduct::Collection.as_str()),
        )
        .to_owned();
    let queued = Query::insert()
        .into_table(media_pending::Entity)
        .columns([
            media_pending::Column::SubmissionId,
            media_pending::Column::Name,
            media_pending::Column::StoredAt,
        ])
        .select_from(
            Query::select()
                .exprs([
                    Expr::val(a.submission.as_i64()),
                    Expr::val(a.name.clone()),
                    Expr::val(to_db_time(a.stored_at)),
                ])
                .and_where(Expr::exists(of_a_record))
                .to_owned(),
        )
        .map_err(|e| cista_core::Error::Internal(e.to_string()))?
        .to_owned();
    let backend = db.backend();
    db.execute_raw(backend.build(&queued))
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn attachments_of(db: &impl Db, id: SubmissionId) -> Result<Vec<StoredAttachment>> {
    attachment::Entity::find()
        .filter(attachment::Column::SubmissionId.eq(id.as_i64()))
        .order_by_asc(attachment::Column::Name)
        .all_as(db, attachment_from)
        .await
}

#[async_trait]
impl IntakeReads for SeaStore {
    async fn form(&self, id: FormId) -> Result<Option<StoredForm>> {
        form_by_id(&self.db, id).await
    }

    async fn form_versions(&self, org: OrgId, key: &str) -> Result<Vec<StoredForm>> {
        versions(&self.db, org, key).await
    }

    async fn newest_form_version(&self, org: OrgId, key: &str) -> Result<Option<StoredForm>> {
        newest_version(&self.db, org, key).await
    }

    async fn submission(&self, id: SubmissionId) -> Result<Option<StoredSubmission>> {
        submission_by_id(&self.db, id).await
    }

    async fn submission_by_key(
        &self,
        org: OrgId,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredSubmission>> {
        submission_with_key(&self.db, org, submitted_by, idempotency_key).await
    }

    async fn submissions_of(
        &self,
        org: OrgId,
        forms: &[FormId],
        older_than: Option<(Timestamp, SubmissionId)>,
        limit: u64,
    ) -> Result<Vec<StoredSubmission>> {
        let mut select = submission::Entity::find()
            .filter(submission::Column::OrgId.eq(org.as_i64()))
            .filter(submission::Column::FormId.is_in(forms.iter().map(FormId::as_i64)));
        if let Some((at, id)) = older_than {
            // One row-value comparison, which both engines take as a range of the index
            // `(org_id, received_at, id)`: a page starts where the last one ended instead
            // of walking past every newer submission again.
            select = select.filter(
                Expr::tuple([
                    Expr::col(submission::Column::ReceivedAt),
                    Expr::col(submission::Column::Id),
                ])
                .lt(Expr::tuple([
                    Expr::val(to_db_time(at)),
                    Expr::val(id.as_i64()),
                ])),
            );
        }
        select
            .order_by_desc(submission::Column::ReceivedAt)
            .order_by_desc(submission::Column::Id)
            .limit(row_limit(limit))
            .all_as(&self.db, submission_from)
            .await
    }

    async fn submissions_before(
        &self,
        org: OrgId,
        forms: &[FormId],
        before: Timestamp,
        limit: u64,
    ) -> Result<Vec<StoredSubmission>> {
        submission::Entity::find()
            .filter(submission::Column::OrgId.eq(org.as_i64()))
            .filter(submission::Column::FormId.is_in(forms.iter().map(FormId::as_i64)))
            .filter(submission::Column::ReceivedAt.lt(to_db_time(before)))
            .order_by_asc(submission::Column::ReceivedAt)
            .order_by_asc(submission::Column::Id)
            .limit(row_limit(limit))
            .all_as(&self.db, submission_from)
            .await
    }

    async fn forms_of(&self, org: OrgId) -> Result<Vec<StoredForm>> {
        form::Entity::find()
            .filter(form::Column::OrgId.eq(org.as_i64()))
            .order_by_asc(form::Column::FormKey)
            .order_by_asc(form::Column::Version)
            .all_as(&self.db, form_from)
            .await
    }

    async fn form_settings(&self, org: OrgId, key: &str) -> Result<Option<StoredFormSettings>> {
        form_setting::Entity::find_by_id((org.as_i64(), key.to_owned()))
            .one_as(&self.db, settings_from)
            .await
    }

    async fn retention_settings(&self) -> Result<Vec<StoredFormSettings>> {
        form_setting::Entity::find()
            .filter(form_setting::Column::RetentionDays.is_not_null())
            .order_by_asc(form_setting::Column::OrgId)
            .order_by_asc(form_setting::Column::FormKey)
            .all_as(&self.db, settings_from)
            .await
    }

    async fn forms_attaching_reports(&self) -> Result<u64> {
        form_setting::Entity::find()
            .filter(form_setting::Column::AttachReport.eq(true))
            .count(&self.db)
            .await
            .map_err(db_err)
    }

    async fn attachments(&self, submission: SubmissionId) -> Result<Vec<StoredAttachment>> {
        attachments_of(&self.db, submission).await
    }

    async fn attachment_digests(&self, org: OrgId) -> Result<Vec<Digest32>> {
        let of_org = || {
            Query::select()
                .column(submission::Column::Id)
                .from(submission::Entity)
                .and_where(submission::Column::OrgId.eq(org.as_i64()))
                .to_owned()
        };
        // An original is kept until processing made its delivered copy (then the copy and the
        // thumbnail are what is kept; the original may carry the phone's location).
        let replaced = crate::collection::media_row_of_attachment()
            .and_where(attachment_media::Column::DeliveredSha256.is_not_null())
            .to_owned();
        let originals = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::Sha256)
            .filter(attachment::Column::SubmissionId.in_subquery(of_org()))
            .filter(Expr::exists(replaced).not())
            .into_tuple::<Vec<u8>>();
        // Every attachment of the organization: streamed, as the list reads are.
        let originals = crate::query::all_items(originals, &self.db).await?;
        let media = attachment_media::Entity::find()
            .filter(attachment_media::Column::SubmissionId.in_subquery(of_org()))
            .rows(&self.db)
            .await?;
        let mut kept: Vec<Vec<u8>> = originals;
        for m in media {
            kept.extend(m.delivered_sha256);
            kept.extend(m.thumbnail_sha256);
        }
        kept.sort();
        kept.dedup();
        kept.iter()
            .map(|bytes| digest(bytes, "attachment hash"))
            .collect()
    }
}

#[async_trait]
impl IntakeWrites for SeaTx {
    async fn latest_form(&mut self, org: OrgId, key: &str) -> Result<Option<StoredForm>> {
        newest_version(&self.txn, org, key).await
    }

    async fn insert_form(&mut self, f: &StoredForm) -> Result<()> {
        form::Entity::insert(form::ActiveModel {
            id: Set(f.id.as_i64()),
            org_id: Set(f.org.as_i64()),
            product: Set(f.product.clone()),
            form_key: Set(f.key.clone()),
            version: Set(i32::try_from(f.version).unwrap_or(i32::MAX)),
            definition: Set(f.definition.clone()),
            definition_sha256: Set(f.definition_sha256.as_bytes().to_vec()),
            published_at: Set(to_db_time(f.published_at)),
            published_by: Set(f.published_by.clone()),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "that version of the form was published meanwhile"))?;
        Ok(())
    }

    async fn submission_by_key(
        &mut self,
        org: OrgId,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredSubmission>> {
        submission_with_key(&self.txn, org, submitted_by, idempotency_key).await
    }

    async fn insert_submission(&mut self, s: &StoredSubmission) -> Result<bool> {
        let inserted = submission::Entity::insert(submission::ActiveModel {
            id: Set(s.id.as_i64()),
            org_id: Set(s.org.as_i64()),
            form_id: Set(s.form.as_i64()),
            idempotency_key: Set(s.idempotency_key.clone()),
            content_sha256: Set(s.content_sha256.as_bytes().to_vec()),
            sealed_payload: Set(s.sealed_payload.clone()),
            submitted_by: Set(s.submitted_by.clone()),
            received_at: Set(to_db_time(s.received_at)),
        })
        // The idempotency key's unique index (not the primary key) decides.
        .on_conflict_do_nothing_on([
            submission::Column::OrgId,
            submission::Column::SubmittedBy,
            submission::Column::IdempotencyKey,
        ])
        .exec_without_returning(&self.txn)
        .await
        .map_err(db_err)?;
        Ok(matches!(inserted, TryInsertResult::Inserted(1)))
    }

    async fn attachment(
        &mut self,
        submission: SubmissionId,
        name: &str,
    ) -> Result<Option<StoredAttachment>> {
        attachment::Entity::find_by_id((submission.as_i64(), name.to_owned()))
            .one_as(&self.txn, attachment_from)
            .await
    }

    async fn insert_attachment(&mut self, a: &StoredAttachment) -> Result<bool> {
        let inserted = attachment::Entity::insert(attachment::ActiveModel {
            submission_id: Set(a.submission.as_i64()),
            name: Set(a.name.clone()),
            sha256: Set(a.sha256.as_bytes().to_vec()),
            size: Set(i64::try_from(a.size).unwrap_or(i64::MAX)),
            content_type: Set(a.content_type.clone()),
            stored_at: Set(to_db_time(a.stored_at)),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&self.txn)
        .await
        .map_err(db_err)?;
        let inserted = matches!(inserted, TryInsertResult::Inserted(1));
        if inserted && a.content_type.starts_with("image/") {
            photo_to_process(&self.txn, a).await?;
        }
        Ok(inserted)
    }

    async fn put_form_settings(&mut self, s: &StoredFormSettings) -> Result<()> {
        let codes: Vec<String> = s.notify.iter().map(ToString::to_string).collect();
        let notify = serde_json::to_string(&codes)
            .map_err(|e| cista_core::Error::Internal(e.to_string()))?;
        let row = form_setting::ActiveModel {
            org_id: Set(s.org.as_i64()),
            form_key: Set(s.key.clone()),
            notify: Set(notify),
            attach_report: Set(s.attach_report),
            retention_days: Set(s
                .retention_days
                .map(|d| i32::try_from(d).unwrap_or(i32::MAX))),
            updated_at: Set(to_db_time(s.updated_at)),
        };
        form_setting::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([form_setting::Column::OrgId, form_setting::Column::FormKey])
                    .update_columns([
                        form_setting::Column::Notify,
                        form_setting::Column::AttachReport,
                        form_setting::Column::RetentionDays,
                        form_setting::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_submission(&mut self, id: SubmissionId) -> Result<bool> {
        media_pending::Entity::delete_many()
            .filter(media_pending::Column::SubmissionId.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        attachment_media::Entity::delete_many()
            .filter(attachment_media::Column::SubmissionId.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        record_review::Entity::delete_many()
            .filter(record_review::Column::SubmissionId.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        attachment::Entity::delete_many()
            .filter(attachment::Column::SubmissionId.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        let deleted = submission::Entity::delete_by_id(id.as_i64())
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected == 1)
    }
}
