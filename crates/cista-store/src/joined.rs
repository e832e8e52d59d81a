//! Reads that join what a hot path would otherwise fetch in several round trips: a session
//! with its account's status and roles (every signed-in request). A vote cast's one read is
//! `voting::cast_context`.

use crate::convert::{self, db_err};
use crate::entity::{account, membership, session};
use cista_core::Result;
use cista_core::ports::{AccountStatus, SessionAccess};
use cista_crypto::Digest32;
use cista_types::{OrgId, Role};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Order, Query};
use sea_orm::{ConnectionTrait, FromQueryResult, Iterable};

/// The session `id_hash` names, its account's status and roles: one statement, a row per
/// membership (one whose membership columns are null when there is none), each with the
/// session's columns and the account's status (null when the account is gone).
pub(crate) async fn session_with_access(
    db: &impl ConnectionTrait,
    id_hash: &Digest32,
) -> Result<Option<SessionAccess>> {
    let query = Query::select()
        .columns(session::Column::iter().map(|c| (session::Entity, c)))
        .expr_as(
            Expr::col((account::Entity, account::Column::Status)),
            Alias::new("account_status"),
        )
        .expr_as(
            Expr::col((membership::Entity, membership::Column::OrgId)),
            Alias::new("member_org_id"),
        )
        .expr_as(
            Expr::col((membership::Entity, membership::Column::Role)),
            Alias::new("member_role"),
        )
        .from(session::Entity)
        .left_join(
            account::Entity,
            Expr::col((account::Entity, account::Column::Subject))
                .equals((session::Entity, session::Column::Subject)),
        )
        .left_join(
            membership::Entity,
            Expr::col((membership::Entity, membership::Column::Subject))
                .equals((session::Entity, session::Column::Subject)),
        )
        .and_where(
            Expr::col((session::Entity, session::Column::IdHash)).eq(id_hash.as_bytes().to_vec()),
        )
        .order_by((membership::Entity, membership::Column::OrgId), Order::Asc)
        .to_owned();
    let rows = crate::query::select_rows(db, &query).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let session = convert::session(session::Model::from_query_result(first, "").map_err(db_err)?)?;
    let account_status = first
        .try_get::<Option<String>>("", "account_status")
        .map_err(db_err)?
        .map(|status| {
            AccountStatus::parse(&status).ok_or_else(|| convert::corrupt("account status"))
        })
        .transpose()?;
    let mut roles = Vec::with_capacity(rows.len());
    for row in &rows {
        let org: Option<i64> = row.try_get("", "member_org_id").map_err(db_err)?;
        let role: Option<String> = row.try_get("", "member_role").map_err(db_err)?;
        if let (Some(org), Some(role)) = (org, role) {
            let role = Role::parse(&role).map_err(|_| convert::corrupt("role"))?;
            roles.push((OrgId::from_i64(org), role));
        }
    }
    Ok(Some(SessionAccess {
        session,
        account_status,
        roles,
    }))
}
