//! The breach capability: recorded breaches and the people told of each, exposed as
//! `BreachReads` on the store and `BreachWrites` on a transaction.

use crate::SeaStore;
use crate::convert::{conflict_or, db_err, from_db_time, to_db_time};
use crate::entity::{breach, breach_notice, outbox};
use crate::query::Fetch;
use crate::tx::SeaTx;
use async_trait::async_trait;
use cista_core::platform::breach::{
    Breach, BreachId, BreachNotice, BreachScope, NoticeDelivery, NoticeTemplate,
};
use cista_core::ports::{BreachReads, BreachWrites};
use cista_core::{Error, Result};
use cista_types::{OrgId, SubjectCode, Timestamp};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TryInsertResult,
};
use std::collections::HashMap;

fn breach_from(m: breach::Model) -> Result<Breach> {
    Ok(Breach {
        id: BreachId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        recorded_at: from_db_time(m.recorded_at),
        recorded_by: m.recorded_by,
        from: from_db_time(m.window_from),
        to: from_db_time(m.window_to),
        scope: BreachScope::parse(&m.scope)
            .map_err(|_| Error::Integrity("a breach's stored scope is unknown".into()))?,
        description: m.description,
        notice: NoticeTemplate {
            subject: m.notice_subject,
            body: m.notice_body,
        },
        reported_at: m.reported_at.map(from_db_time),
    })
}

/// A notice with its message's state: delivered, given up, waiting, or gone (erased).
fn notice_from(m: breach_notice::Model, message: Option<&outbox::Model>) -> BreachNotice {
    let delivery = match message {
        None => NoticeDelivery::Withdrawn,
        Some(o) => match (o.delivered_at, o.failed_at) {
            (Some(at), _) => NoticeDelivery::Delivered {
                at: from_db_time(at),
            },
            (None, Some(at)) => NoticeDelivery::Failed {
                at: from_db_time(at),
            },
            (None, None) => NoticeDelivery::Queued,
        },
    };
    BreachNotice {
        breach: BreachId::from_i64(m.breach_id),
        subject: SubjectCode::from_i64(m.subject),
        notified_at: from_db_time(m.notified_at),
        message: m.message_id,
        delivery,
    }
}

/// `SELECT message_id FROM breach_notices`: every notice's message.
fn notice_messages() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(breach_notice::Column::MessageId)
        .from(breach_notice::Entity)
        .to_owned()
}

#[async_trait]
impl BreachReads for SeaStore {
    async fn breaches_of(&self, org: OrgId) -> Result<Vec<Breach>> {
        breach::Entity::find()
            .filter(breach::Column::OrgId.eq(org.as_i64()))
            .order_by_desc(breach::Column::RecordedAt)
            .order_by_asc(breach::Column::Id)
            .all_as(&self.db, breach_from)
            .await
    }

    async fn breach(&self, org: OrgId, id: BreachId) -> Result<Option<Breach>> {
        breach::Entity::find()
            .filter(breach::Column::OrgId.eq(org.as_i64()))
            .filter(breach::Column::Id.eq(id.as_i64()))
            .one_as(&self.db, breach_from)
            .await
    }

    async fn breach_notices(&self, id: BreachId) -> Result<Vec<BreachNotice>> {
        let notices = breach_notice::Entity::find()
            .filter(breach_notice::Column::BreachId.eq(id.as_i64()))
            .order_by_asc(breach_notice::Column::NotifiedAt)
            .order_by_asc(breach_notice::Column::Subject)
            .rows(&self.db)
            .await?;
        let messages: HashMap<i64, outbox::Model> = outbox::Entity::find()
            .filter(
                outbox::Column::Id.in_subquery(
                    notice_messages()
                        .and_where(breach_notice::Column::BreachId.eq(id.as_i64()))
                        .to_owned(),
                ),
            )
            .rows(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        Ok(notices
            .into_iter()
            .map(|n| {
                let message = messages.get(&n.message_id);
                notice_from(n, message)
            })
            .collect())
    }

    async fn breach_told(&self, id: BreachId) -> Result<Vec<SubjectCode>> {
        breach_notice::Entity::find()
            .filter(breach_notice::Column::BreachId.eq(id.as_i64()))
            .all_map(&self.db, |n| SubjectCode::from_i64(n.subject))
            .await
    }

    async fn breach_counts(&self) -> Result<(u64, u64)> {
        let breaches = breach::Entity::find().count_rows(&self.db).await?;
        let delivered = outbox::Entity::find()
            .filter(outbox::Column::DeliveredAt.is_not_null())
            .filter(outbox::Column::Id.in_subquery(notice_messages()))
            .count_rows(&self.db)
            .await?;
        Ok((breaches, delivered))
    }
}

#[async_trait]
impl BreachWrites for SeaTx {
    async fn insert_breach(&mut self, b: &Breach) -> Result<()> {
        breach::Entity::insert(breach::ActiveModel {
            id: Set(b.id.as_i64()),
            org_id: Set(b.org.as_i64()),
            recorded_at: Set(to_db_time(b.recorded_at)),
            recorded_by: Set(b.recorded_by.clone()),
            window_from: Set(to_db_time(b.from)),
            window_to: Set(to_db_time(b.to)),
            scope: Set(b.scope.as_str().to_owned()),
            description: Set(b.description.clone()),
            notice_subject: Set(b.notice.subject.clone()),
            notice_body: Set(b.notice.body.clone()),
            reported_at: Set(b.reported_at.map(to_db_time)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "a breach with that id exists already"))?;
        Ok(())
    }

    async fn set_breach_notice(
        &mut self,
        org: OrgId,
        id: BreachId,
        notice: &NoticeTemplate,
    ) -> Result<()> {
        let changed = breach::Entity::update_many()
            .col_expr(
                breach::Column::NoticeSubject,
                Expr::value(notice.subject.clone()),
            )
            .col_expr(breach::Column::NoticeBody, Expr::value(notice.body.clone()))
            .filter(breach::Column::OrgId.eq(org.as_i64()))
            .filter(breach::Column::Id.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if changed == 0 {
            return Err(Error::NotFound {
                what: "that breach",
            });
        }
        Ok(())
    }

    async fn set_breach_reported(
        &mut self,
        org: OrgId,
        id: BreachId,
        at: Timestamp,
    ) -> Result<bool> {
        let changed = breach::Entity::update_many()
            .col_expr(breach::Column::ReportedAt, Expr::value(to_db_time(at)))
            .filter(breach::Column::OrgId.eq(org.as_i64()))
            .filter(breach::Column::Id.eq(id.as_i64()))
            .filter(breach::Column::ReportedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        Ok(changed == 1)
    }

    async fn insert_breach_notice(&mut self, n: &BreachNotice) -> Result<bool> {
        let inserted = breach_notice::Entity::insert(breach_notice::ActiveModel {
            breach_id: Set(n.breach.as_i64()),
            subject: Set(n.subject.as_i64()),
            notified_at: Set(to_db_time(n.notified_at)),
            message_id: Set(n.message),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&self.txn)
        .await
        .map_err(db_err)?;
        Ok(matches!(inserted, TryInsertResult::Inserted(1)))
    }
}
