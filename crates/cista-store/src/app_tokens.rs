//! App tokens (the API's bearer credentials): each operation written once, on any connection
//! or transaction; `lib` and `tx` only forward to it.

use crate::convert::{conflict_or, db_err, digest, from_db_time, to_db_time};
use crate::entity::app_token;
use crate::query::{Db, Fetch};
use cista_core::ports::{AppPurpose, AppToken, AppTokenId};
use cista_core::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{OrgId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

fn from_row(m: app_token::Model) -> Result<AppToken> {
    Ok(AppToken {
        id: AppTokenId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        purpose: AppPurpose::parse(&m.purpose)
            .ok_or_else(|| Error::Integrity("a stored app token purpose is malformed".into()))?,
        label: m.label,
        secret_hash: digest(&m.secret_sha256, "app token hash")?,
        created_by: m.created_by,
        created_at: from_db_time(m.created_at),
        expires_at: from_db_time(m.expires_at),
        revoked_at: m.revoked_at.map(from_db_time),
        last_used_at: m.last_used_at.map(from_db_time),
    })
}

pub(crate) async fn by_hash(db: &impl Db, secret_hash: &Digest32) -> Result<Option<AppToken>> {
    app_token::Entity::find()
        .filter(app_token::Column::SecretSha256.eq(secret_hash.as_bytes().to_vec()))
        .one_as(db, from_row)
        .await
}

pub(crate) async fn of_org(db: &impl Db, org: OrgId) -> Result<Vec<AppToken>> {
    app_token::Entity::find()
        .filter(app_token::Column::OrgId.eq(org.as_i64()))
        .order_by_desc(app_token::Column::CreatedAt)
        .order_by_asc(app_token::Column::Id)
        .all_as(db, from_row)
        .await
}

pub(crate) async fn insert(db: &impl Db, t: &AppToken) -> Result<()> {
    app_token::Entity::insert(app_token::ActiveModel {
        id: Set(t.id.as_i64()),
        org_id: Set(t.org.as_i64()),
        purpose: Set(t.purpose.as_str().to_owned()),
        label: Set(t.label.clone()),
        secret_sha256: Set(t.secret_hash.as_bytes().to_vec()),
        created_by: Set(t.created_by.clone()),
        created_at: Set(to_db_time(t.created_at)),
        expires_at: Set(to_db_time(t.expires_at)),
        revoked_at: Set(t.revoked_at.map(to_db_time)),
        last_used_at: Set(t.last_used_at.map(to_db_time)),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| conflict_or(e, "an app token with that id or secret exists already"))?;
    Ok(())
}

pub(crate) async fn revoke(
    db: &impl Db,
    org: OrgId,
    id: AppTokenId,
    at: Timestamp,
) -> Result<Option<bool>> {
    let changed = app_token::Entity::update_many()
        .col_expr(app_token::Column::RevokedAt, Expr::value(to_db_time(at)))
        .filter(app_token::Column::Id.eq(id.as_i64()))
        .filter(app_token::Column::OrgId.eq(org.as_i64()))
        .filter(app_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err)?;
    if changed.rows_affected == 1 {
        return Ok(Some(true));
    }
    let exists = app_token::Entity::find_by_id(id.as_i64())
        .filter(app_token::Column::OrgId.eq(org.as_i64()))
        .first(db)
        .await?
        .is_some();
    Ok(exists.then_some(false))
}

pub(crate) async fn touch(db: &impl Db, id: AppTokenId, at: Timestamp) -> Result<()> {
    app_token::Entity::update_many()
        .col_expr(app_token::Column::LastUsedAt, Expr::value(to_db_time(at)))
        .filter(app_token::Column::Id.eq(id.as_i64()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}
