//! The webhook capability: endpoints, the message queue and the attempt log, exposed as
//! `WebhookReads` on the store (with the delivery worker's claims, each a short transaction of
//! its own) and `WebhookWrites` on a transaction.

use crate::SeaStore;
use crate::convert::{conflict_or, db_err, from_db_time, to_db_time};
use crate::entity::{webhook, webhook_attempt, webhook_delivery};
use crate::query::{self, Db, Fetch};
use crate::tx::SeaTx;
use async_trait::async_trait;
use cista_core::ports::{AttemptEnd, WebhookReads, WebhookWrites};
use cista_core::products::collection::webhooks::{
    Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookId,
};
use cista_core::{Error, Result};
use cista_types::{OrgId, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

fn webhook_from(m: webhook::Model) -> Result<Webhook> {
    let events = m
        .events
        .split(',')
        .filter(|e| !e.is_empty())
        .map(|e| {
            WebhookEvent::parse(e)
                .ok_or_else(|| Error::Integrity("a webhook's stored event is unknown".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Webhook {
        id: WebhookId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        url: m.url,
        events,
        sealed_secret: m.sealed_secret,
        created_by: m.created_by,
        created_at: from_db_time(m.created_at),
        removed_at: m.removed_at.map(from_db_time),
    })
}

fn delivery_from(m: webhook_delivery::Model) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: m.id,
        webhook: WebhookId::from_i64(m.webhook_id),
        org: OrgId::from_i64(m.org_id),
        message_id: m.message_id,
        event: WebhookEvent::parse(&m.event)
            .ok_or_else(|| Error::Integrity("a webhook message's event is unknown".into()))?,
        payload: m.payload,
        created_at: from_db_time(m.created_at),
        next_attempt_at: from_db_time(m.next_attempt_at),
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        delivered_at: m.delivered_at.map(from_db_time),
        failed_at: m.failed_at.map(from_db_time),
        last_status: m.last_status.and_then(|s| u16::try_from(s).ok()),
    })
}

fn attempt_from(m: webhook_attempt::Model) -> WebhookAttempt {
    WebhookAttempt {
        id: m.id,
        delivery: m.delivery_id,
        attempted_at: from_db_time(m.attempted_at),
        status: m.status.and_then(|s| u16::try_from(s).ok()),
        error: m.error,
        duration_ms: u64::try_from(m.duration_ms).unwrap_or(0),
    }
}

/// `SELECT id FROM webhooks WHERE removed_at IS NULL`: the live endpoints.
fn live_ids() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(webhook::Column::Id)
        .from(webhook::Entity)
        .and_where(webhook::Column::RemovedAt.is_null())
        .to_owned()
}

async fn live_of(db: &impl Db, org: OrgId) -> Result<Vec<Webhook>> {
    webhook::Entity::find()
        .filter(webhook::Column::OrgId.eq(org.as_i64()))
        .filter(webhook::Column::RemovedAt.is_null())
        .order_by_asc(webhook::Column::CreatedAt)
        .order_by_asc(webhook::Column::Id)
        .all_as(db, webhook_from)
        .await
}

#[async_trait]
impl WebhookReads for SeaStore {
    async fn webhooks_of(&self, org: OrgId) -> Result<Vec<Webhook>> {
        webhook::Entity::find()
            .filter(webhook::Column::OrgId.eq(org.as_i64()))
            .order_by_desc(webhook::Column::CreatedAt)
            .order_by_asc(webhook::Column::Id)
            .all_as(&self.db, webhook_from)
            .await
    }

    async fn live_webhook_receivers(&self) -> Result<Vec<Webhook>> {
        webhook::Entity::find()
            .filter(webhook::Column::RemovedAt.is_null())
            .order_by_asc(webhook::Column::CreatedAt)
            .order_by_asc(webhook::Column::Id)
            .all_as(&self.db, webhook_from)
            .await
    }

    async fn webhook(&self, org: OrgId, id: WebhookId) -> Result<Option<Webhook>> {
        webhook::Entity::find()
            .filter(webhook::Column::OrgId.eq(org.as_i64()))
            .filter(webhook::Column::Id.eq(id.as_i64()))
            .one_as(&self.db, webhook_from)
            .await
    }

    async fn webhook_deliveries(
        &self,
        org: OrgId,
        webhook: Option<WebhookId>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>> {
        let mut query = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::OrgId.eq(org.as_i64()));
        if let Some(webhook) = webhook {
            query = query.filter(webhook_delivery::Column::WebhookId.eq(webhook.as_i64()));
        }
        query
            .order_by_desc(webhook_delivery::Column::CreatedAt)
            .order_by_asc(webhook_delivery::Column::Id)
            .limit(limit)
            .all_as(&self.db, delivery_from)
            .await
    }

    async fn webhook_delivery(&self, org: OrgId, id: i64) -> Result<Option<WebhookDelivery>> {
        webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::OrgId.eq(org.as_i64()))
            .filter(webhook_delivery::Column::Id.eq(id))
            .one_as(&self.db, delivery_from)
            .await
    }

    async fn webhook_attempts(&self, delivery: i64) -> Result<Vec<WebhookAttempt>> {
        webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.eq(delivery))
            .order_by_asc(webhook_attempt::Column::AttemptedAt)
            .order_by_asc(webhook_attempt::Column::Id)
            .all_map(&self.db, attempt_from)
            .await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>> {
        // SQLite: the write turn and an IMMEDIATE transaction make the select-then-update one
        // step. PostgreSQL: rows another process holds are skipped rather than waited for.
        let (_turn, txn) = self.begin_write().await?;
        let rows = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::DeliveredAt.is_null())
            .filter(webhook_delivery::Column::FailedAt.is_null())
            .filter(webhook_delivery::Column::NextAttemptAt.lte(to_db_time(now)))
            .filter(webhook_delivery::Column::WebhookId.in_subquery(live_ids()))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .order_by_asc(webhook_delivery::Column::Id)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all_as(&txn, delivery_from)
            .await?;
        if rows.is_empty() {
            query::commit(txn).await?;
            return Ok(rows);
        }
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(to_db_time(lease_until)),
            )
            .filter(webhook_delivery::Column::Id.is_in(rows.iter().map(|d| d.id)))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        query::commit(txn).await?;
        Ok(rows)
    }

    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        end: AttemptEnd,
    ) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        webhook_attempt::Entity::insert(webhook_attempt::ActiveModel {
            id: Set(attempt.id),
            delivery_id: Set(attempt.delivery),
            attempted_at: Set(to_db_time(attempt.attempted_at)),
            status: Set(attempt.status.map(i32::from)),
            error: Set(attempt.error.clone()),
            duration_ms: Set(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| conflict_or(e, "that webhook attempt is recorded already"))?;
        let at = Expr::value(to_db_time(attempt.attempted_at));
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            )
            .filter(webhook_delivery::Column::Id.eq(attempt.delivery));
        if let Some(status) = attempt.status {
            update = update.col_expr(
                webhook_delivery::Column::LastStatus,
                Expr::value(i32::from(status)),
            );
        }
        update = match end {
            AttemptEnd::Delivered => update.col_expr(webhook_delivery::Column::DeliveredAt, at),
            AttemptEnd::GaveUp => update.col_expr(webhook_delivery::Column::FailedAt, at),
            AttemptEnd::RetryAt(next) => update.col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(to_db_time(next)),
            ),
        };
        let changed = update.exec(&txn).await.map_err(db_err)?;
        if changed.rows_affected != 1 {
            return Err(Error::NotFound {
                what: "that webhook message",
            });
        }
        query::commit(txn).await
    }
}

#[async_trait]
impl WebhookWrites for SeaTx {
    async fn insert_webhook(&mut self, w: &Webhook) -> Result<()> {
        let events: Vec<&str> = w.events.iter().map(|e| e.as_str()).collect();
        webhook::Entity::insert(webhook::ActiveModel {
            id: Set(w.id.as_i64()),
            org_id: Set(w.org.as_i64()),
            url: Set(w.url.clone()),
            events: Set(events.join(",")),
            sealed_secret: Set(w.sealed_secret.clone()),
            created_by: Set(w.created_by.clone()),
            created_at: Set(to_db_time(w.created_at)),
            removed_at: Set(w.removed_at.map(to_db_time)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "a webhook with that id exists already"))?;
        Ok(())
    }

    async fn remove_webhook(
        &mut self,
        org: OrgId,
        id: WebhookId,
        at: Timestamp,
    ) -> Result<Option<bool>> {
        let Some(existing) = webhook::Entity::find()
            .filter(webhook::Column::OrgId.eq(org.as_i64()))
            .filter(webhook::Column::Id.eq(id.as_i64()))
            .first(&self.txn)
            .await?
        else {
            return Ok(None);
        };
        if existing.removed_at.is_some() {
            return Ok(Some(false));
        }
        webhook::Entity::update_many()
            .col_expr(webhook::Column::RemovedAt, Expr::value(to_db_time(at)))
            .filter(webhook::Column::Id.eq(id.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::FailedAt,
                Expr::value(to_db_time(at)),
            )
            .filter(webhook_delivery::Column::WebhookId.eq(id.as_i64()))
            .filter(webhook_delivery::Column::DeliveredAt.is_null())
            .filter(webhook_delivery::Column::FailedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(Some(true))
    }

    async fn live_webhooks(&mut self, org: OrgId) -> Result<Vec<Webhook>> {
        live_of(&self.txn, org).await
    }

    async fn insert_webhook_delivery(&mut self, d: &WebhookDelivery) -> Result<()> {
        webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
            id: Set(d.id),
            webhook_id: Set(d.webhook.as_i64()),
            org_id: Set(d.org.as_i64()),
            message_id: Set(d.message_id.clone()),
            event: Set(d.event.as_str().to_owned()),
            payload: Set(d.payload.clone()),
            created_at: Set(to_db_time(d.created_at)),
            next_attempt_at: Set(to_db_time(d.next_attempt_at)),
            attempts: Set(i32::try_from(d.attempts).unwrap_or(i32::MAX)),
            delivered_at: Set(d.delivered_at.map(to_db_time)),
            failed_at: Set(d.failed_at.map(to_db_time)),
            last_status: Set(d.last_status.map(i32::from)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| conflict_or(e, "a webhook message with that id exists already"))?;
        Ok(())
    }

    async fn redeliver_webhook(&mut self, org: OrgId, id: i64, at: Timestamp) -> Result<bool> {
        let changed = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(0))
            .col_expr(
                webhook_delivery::Column::DeliveredAt,
                Expr::value(Option::<time::OffsetDateTime>::None),
            )
            .col_expr(
                webhook_delivery::Column::FailedAt,
                Expr::value(Option::<time::OffsetDateTime>::None),
            )
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(to_db_time(at)),
            )
            .filter(webhook_delivery::Column::OrgId.eq(org.as_i64()))
            .filter(webhook_delivery::Column::Id.eq(id))
            .filter(webhook_delivery::Column::WebhookId.in_subquery(live_ids()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(changed.rows_affected == 1)
    }
}
