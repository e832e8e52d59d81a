//! The collection capability (collectors' devices, records' reviews): each operation written
//! once on any connection or transaction, exposed as `CollectionReads` on the store and
//! `CollectionWrites` on a transaction.

use crate::SeaStore;
use crate::convert::{conflict_or, db_err, digest, from_db_time, to_db_time};
use crate::entity::{attachment, attachment_media, device, media_pending, record_review};
use crate::query::{Db, Fetch};
use crate::tx::SeaTx;
use async_trait::async_trait;
use cista_core::ports::{CollectionReads, CollectionWrites, StoredAttachment, StoredMedia};
use cista_core::products::collection::devices::{Device, DeviceId};
use cista_core::products::collection::review::{ReviewState, StoredReview};
use cista_core::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{OrgId, SubjectCode, SubmissionId, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait as _, Order, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

fn device_from(m: device::Model) -> Result<Device> {
    Ok(Device {
        id: DeviceId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        subject: SubjectCode::from_i64(m.subject),
        name: m.name,
        secret_hash: digest(&m.secret_sha256, "device hash")?,
        created_by: m.created_by,
        created_at: from_db_time(m.created_at),
        pairing_expires_at: from_db_time(m.pairing_expires_at),
        lifetime_days: u32::try_from(m.lifetime_days)
            .map_err(|_| Error::Integrity("a device's lifetime is negative".into()))?,
        paired_at: m.paired_at.map(from_db_time),
        expires_at: m.expires_at.map(from_db_time),
        revoked_at: m.revoked_at.map(from_db_time),
        last_used_at: m.last_used_at.map(from_db_time),
        use_count: u64::try_from(m.use_count).unwrap_or(0),
    })
}

fn review_from(m: record_review::Model) -> Result<StoredReview> {
    Ok(StoredReview {
        id: m.id,
        org: OrgId::from_i64(m.org_id),
        submission: SubmissionId::from_i64(m.submission_id),
        state: ReviewState::parse(&m.state)
            .ok_or_else(|| Error::Integrity("a stored review state is unknown".into()))?,
        sealed_comment: m.sealed_comment,
        reviewed_by: m.reviewed_by,
        reviewed_at: from_db_time(m.reviewed_at),
    })
}

fn media_from(m: attachment_media::Model) -> Result<StoredMedia> {
    let delivered = match (m.delivered_sha256, m.delivered_type, m.delivered_size) {
        (Some(sha), Some(kind), Some(size)) => Some((
            digest(&sha, "delivered photo hash")?,
            kind,
            u64::try_from(size).unwrap_or(0),
        )),
        _ => None,
    };
    Ok(StoredMedia {
        submission: SubmissionId::from_i64(m.submission_id),
        name: m.name,
        delivered,
        thumbnail: m
            .thumbnail_sha256
            .map(|t| digest(&t, "thumbnail hash"))
            .transpose()?,
        error: m.error,
        processed_at: from_db_time(m.processed_at),
    })
}

/// `SELECT 1 FROM attachment_media` for the attachment row of the enclosing query: whether
/// that photo was processed (a correlated subquery for `EXISTS`).
pub(crate) fn media_row_of_attachment() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(attachment_media::Entity)
        .and_where(
            Expr::col((
                attachment_media::Entity,
                attachment_media::Column::SubmissionId,
            ))
            .equals((attachment::Entity, attachment::Column::SubmissionId)),
        )
        .and_where(
            Expr::col((attachment_media::Entity, attachment_media::Column::Name))
                .equals((attachment::Entity, attachment::Column::Name)),
        )
        .to_owned()
}

async fn by_hash(db: &impl Db, hash: &Digest32) -> Result<Option<Device>> {
    device::Entity::find()
        .filter(device::Column::SecretSha256.eq(hash.as_bytes().to_vec()))
        .one_as(db, device_from)
        .await
}

#[async_trait]
impl CollectionReads for SeaStore {
    async fn device_by_hash(&self, secret_hash: &Digest32) -> Result<Option<Device>> {
        by_hash(&self.db, secret_hash).await
    }

    async fn device(&self, org: OrgId, id: DeviceId) -> Result<Option<Device>> {
        device::Entity::find_by_id(id.as_i64())
            .filter(device::Column::OrgId.eq(org.as_i64()))
            .one_as(&self.db, device_from)
            .await
    }

    async fn devices_of(&self, org: OrgId, subject: Option<SubjectCode>) -> Result<Vec<Device>> {
        let mut query = device::Entity::find().filter(device::Column::OrgId.eq(org.as_i64()));
        if let Some(subject) = subject {
            query = query.filter(device::Column::Subject.eq(subject.as_i64()));
        }
        query
            .order_by_desc(device::Column::CreatedAt)
            .order_by_asc(device::Column::Id)
            .all_as(&self.db, device_from)
            .await
    }

    async fn photos_to_process(&self, limit: u64) -> Result<Vec<StoredAttachment>> {
        // The oldest rows of the queue, from its index; then those attachments by their key.
        let due = Query::select()
            .columns([
                media_pending::Column::SubmissionId,
                media_pending::Column::Name,
            ])
            .from(media_pending::Entity)
            .order_by(media_pending::Column::StoredAt, Order::Asc)
            .order_by(media_pending::Column::SubmissionId, Order::Asc)
            .limit(crate::intake::row_limit(limit))
            .to_owned();
        attachment::Entity::find()
            .filter(
                Expr::tuple([
                    Expr::col(attachment::Column::SubmissionId),
                    Expr::col(attachment::Column::Name),
                ])
                .in_subquery(due),
            )
            .order_by_asc(attachment::Column::StoredAt)
            .order_by_asc(attachment::Column::SubmissionId)
            .all_as(&self.db, crate::intake::attachment_from)
            .await
    }

    async fn media_of(&self, submission: SubmissionId) -> Result<Vec<StoredMedia>> {
        attachment_media::Entity::find()
            .filter(attachment_media::Column::SubmissionId.eq(submission.as_i64()))
            .order_by_asc(attachment_media::Column::Name)
            .all_as(&self.db, media_from)
            .await
    }

    async fn reviews_of(&self, submission: SubmissionId) -> Result<Vec<StoredReview>> {
        record_review::Entity::find()
            .filter(record_review::Column::SubmissionId.eq(submission.as_i64()))
            .order_by_asc(record_review::Column::ReviewedAt)
            .order_by_asc(record_review::Column::Id)
            .all_as(&self.db, review_from)
            .await
    }

    async fn review_states(
        &self,
        submissions: &[SubmissionId],
    ) -> Result<Vec<(SubmissionId, ReviewState)>> {
        if submissions.is_empty() {
            return Ok(Vec::new());
        }
        // In `reviews_of`'s order within each record, so the last row of a record is its
        // last review, as there.
        let rows = record_review::Entity::find()
            .select_only()
            .column(record_review::Column::SubmissionId)
            .column(record_review::Column::State)
            .filter(
                record_review::Column::SubmissionId.is_in(submissions.iter().map(|s| s.as_i64())),
            )
            .order_by_asc(record_review::Column::SubmissionId)
            .order_by_asc(record_review::Column::ReviewedAt)
            .order_by_asc(record_review::Column::Id)
            .into_tuple::<(i64, String)>();
        let rows = crate::query::all_items(rows, &self.db).await?;
        let mut last: Vec<(SubmissionId, ReviewState)> = Vec::new();
        for (submission, state) in rows {
            let state = ReviewState::parse(&state)
                .ok_or_else(|| Error::Integrity("a stored review state is unknown".into()))?;
            let submission = SubmissionId::from_i64(submission);
            match last.last_mut() {
                Some((s, latest)) if *s == submission => *latest = state,
                _ => last.push((submission, state)),
            }
        }
        Ok(last)
    }
}

#[async_trait]
impl CollectionWrites for SeaTx {
    async fn insert_device(&mut self, d: &Device) -> Result<()> {
        device::Entity::insert(device::ActiveModel {
            id: Set(d.id.as_i64()),
            org_id: Set(d.org.as_i64()),
            subject: Set(d.subject.as_i64()),
            name: Set(d.name.clone()),
            secret_sha256: Set(d.secret_hash.as_bytes().to_vec()),
            created_by: Set(d.created_by.clone()),
            created_at: Set(to_db_time(d.created_at)),
            pairing_expires_at: Set(to_db_time(d.pairing_expires_at)),
            lifetime_days: Set(i32::try_from(d.lifetime_days).unwrap_or(i32::MAX)),
            paired_at: Set(d.paired_at.map(to_db_time)),
            expires_at: Set(d.expires_at.map(to_db_time)),
            revoked_at: Set(d.revoked_at.map(to_db_time)),
            last_used_at: Set(d.last_used_at.map(to_db_time)),
            use_count: Set(i64::try_from(d.use_count).unwrap_or(i64::MAX)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "a device with that id or secret exists already"))?;
        Ok(())
    }

    async fn pair_device(
        &mut self,
        pairing_hash: &Digest32,
        token_hash: &Digest32,
        name: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Option<Device>> {
        let changed = device::Entity::update_many()
            .col_expr(
                device::Column::SecretSha256,
                Expr::value(token_hash.as_bytes().to_vec()),
            )
            .col_expr(device::Column::Name, Expr::value(name.to_owned()))
            .col_expr(device::Column::PairedAt, Expr::value(to_db_time(now)))
            .col_expr(
                device::Column::ExpiresAt,
                Expr::value(to_db_time(expires_at)),
            )
            .filter(device::Column::SecretSha256.eq(pairing_hash.as_bytes().to_vec()))
            .filter(device::Column::PairedAt.is_null())
            .filter(device::Column::RevokedAt.is_null())
            .filter(device::Column::PairingExpiresAt.gt(to_db_time(now)))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        if changed.rows_affected != 1 {
            return Ok(None);
        }
        by_hash(&self.txn, token_hash).await
    }

    async fn revoke_device(
        &mut self,
        org: OrgId,
        id: DeviceId,
        at: Timestamp,
    ) -> Result<Option<bool>> {
        let changed = device::Entity::update_many()
            .col_expr(device::Column::RevokedAt, Expr::value(to_db_time(at)))
            .filter(device::Column::Id.eq(id.as_i64()))
            .filter(device::Column::OrgId.eq(org.as_i64()))
            .filter(device::Column::RevokedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        if changed.rows_affected == 1 {
            return Ok(Some(true));
        }
        let exists = device::Entity::find_by_id(id.as_i64())
            .filter(device::Column::OrgId.eq(org.as_i64()))
            .first(&self.txn)
            .await?
            .is_some();
        Ok(exists.then_some(false))
    }

    async fn revoke_devices_of(
        &mut self,
        org: OrgId,
        subject: SubjectCode,
        at: Timestamp,
    ) -> Result<u64> {
        let changed = device::Entity::update_many()
            .col_expr(device::Column::RevokedAt, Expr::value(to_db_time(at)))
            .filter(device::Column::OrgId.eq(org.as_i64()))
            .filter(device::Column::Subject.eq(subject.as_i64()))
            .filter(device::Column::RevokedAt.is_null())
            // Live ones only: paired and unexpired, or waiting with a usable pairing code.
            .filter(
                Condition::any()
                    .add(device::Column::ExpiresAt.gt(to_db_time(at)))
                    .add(
                        Condition::all()
                            .add(device::Column::ExpiresAt.is_null())
                            .add(device::Column::PairingExpiresAt.gt(to_db_time(at))),
                    ),
            )
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(changed.rows_affected)
    }

    async fn count_device_use(&mut self, id: DeviceId, at: Timestamp) -> Result<()> {
        device::Entity::update_many()
            .col_expr(
                device::Column::UseCount,
                Expr::col(device::Column::UseCount).add(1),
            )
            .col_expr(device::Column::LastUsedAt, Expr::value(to_db_time(at)))
            .filter(device::Column::Id.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_media(&mut self, m: &StoredMedia) -> Result<()> {
        attachment_media::Entity::insert(attachment_media::ActiveModel {
            submission_id: Set(m.submission.as_i64()),
            name: Set(m.name.clone()),
            delivered_sha256: Set(m.delivered.as_ref().map(|d| d.0.as_bytes().to_vec())),
            delivered_type: Set(m.delivered.as_ref().map(|d| d.1.clone())),
            delivered_size: Set(m
                .delivered
                .as_ref()
                .map(|d| i64::try_from(d.2).unwrap_or(i64::MAX))),
            thumbnail_sha256: Set(m.thumbnail.map(|t| t.as_bytes().to_vec())),
            error: Set(m.error.clone()),
            processed_at: Set(to_db_time(m.processed_at)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "that photo was processed already"))?;
        media_pending::Entity::delete_by_id((m.submission.as_i64(), m.name.clone()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_review(&mut self, r: &StoredReview) -> Result<()> {
        record_review::Entity::insert(record_review::ActiveModel {
            id: Set(r.id),
            org_id: Set(r.org.as_i64()),
            submission_id: Set(r.submission.as_i64()),
            state: Set(r.state.as_str().to_owned()),
            sealed_comment: Set(r.sealed_comment.clone()),
            reviewed_by: Set(r.reviewed_by.clone()),
            reviewed_at: Set(to_db_time(r.reviewed_at)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "a review with that id exists already"))?;
        Ok(())
    }
}
