//! The collection capability (collectors' devices, records' reviews): each operation written
//! once on any connection or transaction, exposed as `CollectionReads` on the store and
//! `CollectionWrites` on a transaction.

use crate::SeaStore;
use crate::convert::{conflict_or, db_err, digest, from_db_time, to_db_time};
use crate::entity::{device, record_review};
use crate::query::Fetch;
use crate::tx::SeaTx;
use async_trait::async_trait;
use cista_core::ports::{CollectionReads, CollectionWrites};
use cista_core::products::collection::devices::{Device, DeviceId};
use cista_core::products::collection::review::{ReviewState, StoredReview};
use cista_core::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{OrgId, SubjectCode, SubmissionId, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
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

async fn by_hash(db: &impl ConnectionTrait, hash: &Digest32) -> Result<Option<Device>> {
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

    async fn reviews_of(&self, submission: SubmissionId) -> Result<Vec<StoredReview>> {
        record_review::Entity::find()
            .filter(record_review::Column::SubmissionId.eq(submission.as_i64()))
            .order_by_asc(record_review::Column::ReviewedAt)
            .order_by_asc(record_review::Column::Id)
            .all_as(&self.db, review_from)
            .await
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
