//! Cista's `Store` on SQLite (the embedded default) and PostgreSQL, through one SeaORM code
//! path and one migration set. Backend differences are confined to `backend`; every change is
//! written in one transaction together with its audit entry (`audit_append`).

mod access_reads;
mod app_tokens;
mod attempts;
mod audit_append;
pub mod backend;
mod breaches;
mod collection;
mod convert;
mod entity;
mod intake;
mod joined;
pub mod migration;
mod query;
mod schema;
mod submissions;
mod tx;
pub mod vault;
mod voting;
mod webhooks;

pub use backend::{ConnectOptions, Target};
pub(crate) use schema::schema_status_of;
pub use schema::{RawCommits, SchemaStatus};
pub use vault::SeaVault;

use async_trait::async_trait;
use cista_core::platform::audit::NewAuditEntry;
use cista_core::ports::{
    AuditEntry, AuditHead, Backend, DatabaseDescription, Instance, KeyPurpose, Organization,
    OutboxMessage, Rewrap, StoreTx, StoredCheckpoint, StoredKey, SubmissionClaim,
};
use cista_core::{Error, Result, Store};
use cista_crypto::Digest32;
use cista_crypto::merkle::CompactRange;
use cista_types::{KeyId, OrgId, OrgSlug, PhoneRegion, TimeZoneName, Timestamp};
use convert::{db_err, to_db_time};
use entity::{
    audit_checkpoint, audit_entry, audit_head, instance, organization, outbox, stored_key,
};
use query::Fetch;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use std::sync::Arc;

/// The store. Cheap to clone: it holds a connection pool.
#[derive(Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    backend: Backend,
    location: String,
    /// SQLite has one writer at a time. Writers of this process take turns here, in arrival
    /// order, instead of retrying in SQLite's busy handler, whose growing sleeps (up to 100 ms
    /// each) made the slowest of many concurrent votes wait for over a second. Other processes
    /// still wait in the busy handler. `None` on PostgreSQL, which locks rows.
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    /// How long a writer waits for its turn, as long as SQLite's busy timeout.
    write_wait: std::time::Duration,
    /// The SQLite database file (`None` in memory and on PostgreSQL): whole ballot boxes
    /// are read from it through a reader of their own (`voting::box_reader`).
    sqlite_file: Option<Arc<std::path::Path>>,
    /// Box readers open at once outside a transaction (the bulletin's pages are public), as
    /// many as the pool has connections: each is a connection to the file of its own.
    box_readers: Arc<tokio::sync::Semaphore>,
}

/// This process's turn to write on SQLite; held until the transaction ends.
pub(crate) type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

impl std::fmt::Debug for SeaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeaStore({})", self.location)
    }
}

impl SeaStore {
    /// The queue this process's SQLite writers take turns in (`None` on PostgreSQL). The
    /// backup shipper joins it before it takes the write lock to checkpoint.
    pub fn write_turn(&self) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.write_turn.clone()
    }

    /// The connection, for tests that must reach around the store (e.g. to tamper with rows).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// A write transaction, after this process's turn to write (SQLite). Bind the result as
    /// `let (_turn, txn)` so the transaction ends before the turn is handed on.
    async fn begin_write(&self) -> Result<(WriteTurn, sea_orm::DatabaseTransaction)> {
        let turn = match &self.write_turn {
            Some(gate) => Some(
                tokio::time::timeout(self.write_wait, gate.clone().lock_owned())
                    .await
                    .map_err(|_| {
                        Error::store_unavailable(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "no turn to write within {} s: the database is busy",
                                self.write_wait.as_secs()
                            ),
                        ))
                    })?,
            ),
            None => None,
        };
        let txn = self
            .db
            .begin_with_options(backend::write_transaction())
            .await
            .map_err(db_err)?;
        Ok((turn, txn))
    }

    async fn insert_key(&self, txn: &sea_orm::DatabaseTransaction, key: &StoredKey) -> Result<()> {
        stored_key::Entity::insert(stored_key::ActiveModel {
            id: Set(key.id.as_i64()),
            purpose: Set(key.purpose.as_str().to_owned()),
            org_id: Set(key.org.map(|o| o.as_i64())),
            kek_id: Set(key.wrapped.kek.as_str().to_owned()),
            wrapped: Set(key.wrapped.ciphertext.clone()),
            created_at: Set(to_db_time(key.created_at)),
            rewrapped_at: Set(None),
        })
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl Store for SeaStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(Error::store_unavailable)
    }

    async fn describe(&self) -> Result<DatabaseDescription> {
        let (version, settings) = backend::engine_settings(&self.db).await?;
        let status = self.schema_status().await?;
        Ok(DatabaseDescription {
            backend: self.backend,
            version,
            location: self.location.clone(),
            settings,
            schema: status
                .applied
                .last()
                .cloned()
                .unwrap_or_else(|| "none".to_owned()),
        })
    }

    async fn instance(&self) -> Result<Option<Instance>> {
        instance::Entity::find_by_id(1)
            .one_as(&self.db, convert::instance)
            .await
    }

    async fn create_instance(
        &self,
        inst: &Instance,
        signing_key: &StoredKey,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        if instance::Entity::find_by_id(1).first(&txn).await?.is_some() {
            return Err(Error::Conflict(
                "this database already has an instance".into(),
            ));
        }
        self.insert_key(&txn, signing_key).await?;
        instance::Entity::insert(instance::ActiveModel {
            slot: Set(1),
            id: Set(inst.id),
            created_at: Set(to_db_time(inst.created_at)),
            audit_origin: Set(inst.audit_origin.clone()),
            audit_public_key: Set(inst.audit_public_key.clone()),
            audit_signing_key: Set(inst.audit_signing_key.as_i64()),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| convert::conflict_or(e, "this database already has an instance"))?;
        audit_append::append(&txn, audit).await?;
        query::commit(txn).await
    }

    async fn create_organization(
        &self,
        org: &Organization,
        data_key: &StoredKey,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        organization::Entity::insert(organization::ActiveModel {
            id: Set(org.id.as_i64()),
            slug: Set(org.slug.as_str().to_owned()),
            name: Set(org.name.as_str().to_owned()),
            time_zone: Set(org.time_zone.as_str().to_owned()),
            phone_region: Set(org.phone_region.map(String::from)),
            created_at: Set(to_db_time(org.created_at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| {
            convert::conflict_or(
                e,
                &format!(
                    "an organization with the slug `{}` exists already",
                    org.slug
                ),
            )
        })?;
        self.insert_key(&txn, data_key).await?;
        audit_append::append(&txn, audit).await?;
        query::commit(txn).await
    }

    async fn organization(&self, id: OrgId) -> Result<Option<Organization>> {
        organization::Entity::find_by_id(id.as_i64())
            .one_as(&self.db, convert::organization)
            .await
    }

    async fn organization_by_slug(&self, slug: &OrgSlug) -> Result<Option<Organization>> {
        organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug.as_str()))
            .one_as(&self.db, convert::organization)
            .await
    }

    async fn organizations(&self) -> Result<Vec<Organization>> {
        organization::Entity::find()
            .order_by_asc(organization::Column::Name)
            .all_as(&self.db, convert::organization)
            .await
    }

    async fn organization_time_zones(
        &self,
        among: Option<&[OrgId]>,
        limit: u64,
    ) -> Result<Vec<String>> {
        let mut zones = organization::Entity::find()
            .select_only()
            .column(organization::Column::TimeZone)
            .distinct();
        if let Some(ids) = among {
            zones = zones.filter(organization::Column::Id.is_in(ids.iter().map(|id| id.as_i64())));
        }
        query::all_items(zones.limit(limit).into_tuple::<String>(), &self.db).await
    }

    async fn organization_phone_regions(&self, limit: u64) -> Result<Vec<Option<String>>> {
        let regions = organization::Entity::find()
            .select_only()
            .column(organization::Column::PhoneRegion)
            .distinct()
            .limit(limit)
            .into_tuple::<Option<String>>();
        query::all_items(regions, &self.db).await
    }

    async fn organization_count(&self) -> Result<u64> {
        organization::Entity::find().count_rows(&self.db).await
    }

    async fn stored_key_count(&self) -> Result<u64> {
        stored_key::Entity::find().count_rows(&self.db).await
    }

    async fn stored_key(&self, id: KeyId) -> Result<Option<StoredKey>> {
        stored_key::Entity::find_by_id(id.as_i64())
            .one_as(&self.db, convert::stored_key)
            .await
    }

    async fn org_data_key(&self, org: OrgId) -> Result<Option<StoredKey>> {
        stored_key::Entity::find()
            .filter(stored_key::Column::OrgId.eq(org.as_i64()))
            .filter(stored_key::Column::Purpose.eq(cista_core::ports::KeyPurpose::OrgData.as_str()))
            .one_as(&self.db, convert::stored_key)
            .await
    }

    async fn stored_keys(&self) -> Result<Vec<StoredKey>> {
        stored_key::Entity::find()
            .order_by_asc(stored_key::Column::Id)
            .all_as(&self.db, convert::stored_key)
            .await
    }

    async fn rewrap_keys(&self, rewraps: &[Rewrap], audit: NewAuditEntry) -> Result<u64> {
        let (_turn, txn) = self.begin_write().await?;
        let now = to_db_time(audit.at);
        let mut changed = 0;
        for rewrap in rewraps {
            // Compare-and-swap: only a row still wrapped under the expected KEK changes.
            let result = stored_key::Entity::update_many()
                .col_expr(
                    stored_key::Column::KekId,
                    Expr::value(rewrap.to.kek.as_str()),
                )
                .col_expr(
                    stored_key::Column::Wrapped,
                    Expr::value(rewrap.to.ciphertext.clone()),
                )
                .col_expr(stored_key::Column::RewrappedAt, Expr::value(now))
                .filter(stored_key::Column::Id.eq(rewrap.id.as_i64()))
                .filter(stored_key::Column::KekId.eq(rewrap.from.as_str()))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            changed += result.rows_affected;
        }
        audit_append::append(&txn, audit).await?;
        query::commit(txn).await?;
        Ok(changed)
    }

    async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
        let (_turn, txn) = self.begin_write().await?;
        let written = audit_append::append(&txn, entry).await?;
        query::commit(txn).await?;
        Ok(written)
    }

    async fn audit_head(&self) -> Result<AuditHead> {
        let head = audit_head::Entity::find_by_id(1)
            .first(&self.db)
            .await?
            .ok_or_else(|| Error::Integrity("the audit log head is missing".to_owned()))?;
        let size = u64::try_from(head.size)
            .map_err(|_| Error::Integrity("the audit log head has a negative size".to_owned()))?;
        let range = CompactRange::from_bytes(size, &head.frontier)
            .ok_or_else(|| Error::Integrity("the audit log head is corrupt".to_owned()))?;
        Ok(AuditHead {
            size,
            root: range.root(),
        })
    }

    async fn audit_entries(&self, from: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        let from = i64::try_from(from).map_err(|_| Error::invalid("from", "too large"))?;
        audit_entry::Entity::find()
            .filter(audit_entry::Column::Seq.gte(from))
            .order_by_asc(audit_entry::Column::Seq)
            .limit(u64::from(limit))
            .all_as(&self.db, convert::audit_entry)
            .await
    }

    async fn audit_entries_naming(
        &self,
        (actor, text): (&str, &str),
        from: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let from = i64::try_from(from).map_err(|_| Error::invalid("from", "too large"))?;
        let contains = query::contains_literal(text);
        audit_entry::Entity::find()
            .filter(audit_entry::Column::Seq.gte(from))
            .filter(
                audit_entry::Column::Actor
                    .eq(actor)
                    .or(audit_entry::Column::Details.like(contains)),
            )
            .order_by_asc(audit_entry::Column::Seq)
            .limit(u64::from(limit))
            .all_as(&self.db, convert::audit_entry)
            .await
    }

    async fn org_audit_entries(
        &self,
        org: OrgId,
        (from, to): (Timestamp, Timestamp),
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let after = i64::try_from(after).map_err(|_| Error::invalid("from", "too large"))?;
        audit_entry::Entity::find()
            .filter(audit_entry::Column::OrgId.eq(org.as_i64()))
            .filter(audit_entry::Column::At.gte(convert::to_db_time(from)))
            .filter(audit_entry::Column::At.lte(convert::to_db_time(to)))
            .filter(audit_entry::Column::Seq.gte(after))
            .order_by_asc(audit_entry::Column::Seq)
            .limit(u64::from(limit))
            .all_as(&self.db, convert::audit_entry)
            .await
    }

    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool> {
        let size =
            i64::try_from(checkpoint.size).map_err(|_| Error::invalid("size", "too large"))?;
        let inserted = audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel {
            tree_size: Set(size),
            root_hash: Set(checkpoint.root.as_bytes().to_vec()),
            note: Set(checkpoint.note.clone()),
            signed_at: Set(to_db_time(checkpoint.signed_at)),
        })
        .on_conflict_do_nothing_on([audit_checkpoint::Column::TreeSize])
        .exec_without_returning(&self.db)
        .await
        .map_err(db_err)?;
        Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        audit_checkpoint::Entity::find()
            .order_by_desc(audit_checkpoint::Column::TreeSize)
            .one_as(&self.db, convert::checkpoint)
            .await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        audit_checkpoint::Entity::find()
            .order_by_asc(audit_checkpoint::Column::TreeSize)
            .all_as(&self.db, convert::checkpoint)
            .await
    }

    async fn instance_key(&self, purpose: KeyPurpose) -> Result<Option<StoredKey>> {
        stored_key::Entity::find()
            .filter(stored_key::Column::Purpose.eq(purpose.as_str()))
            .filter(stored_key::Column::OrgId.is_null())
            .one_as(&self.db, convert::stored_key)
            .await
    }

    async fn add_instance_key(&self, key: &StoredKey, audit: NewAuditEntry) -> Result<bool> {
        let (_turn, txn) = self.begin_write().await?;
        if let Err(e) = self.insert_key(&txn, key).await {
            return match e {
                Error::Store(_) if self.instance_key(key.purpose).await?.is_some() => Ok(false),
                other => Err(other),
            };
        }
        audit_append::append(&txn, audit).await?;
        query::commit(txn).await?;
        Ok(true)
    }

    async fn due_messages(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxMessage>> {
        let candidates = outbox::Entity::find()
            .filter(outbox::Column::DeliveredAt.is_null())
            .filter(outbox::Column::FailedAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(to_db_time(now)))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(u64::from(limit))
            .rows(&self.db)
            .await?;
        // Claim each message for a while, so a second server process does not send it too.
        let lease = to_db_time(now.plus(time::Duration::minutes(2)));
        let mut claimed = Vec::with_capacity(candidates.len());
        for m in candidates {
            let won = outbox::Entity::update_many()
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(lease))
                .filter(outbox::Column::Id.eq(m.id))
                .filter(outbox::Column::NextAttemptAt.eq(m.next_attempt_at))
                .filter(outbox::Column::DeliveredAt.is_null())
                .exec(&self.db)
                .await
                .map_err(db_err)?;
            if won.rows_affected == 1 {
                claimed.push(convert::message(m)?);
            }
        }
        Ok(claimed)
    }

    async fn recent_messages(&self, limit: u32) -> Result<Vec<OutboxMessage>> {
        outbox::Entity::find()
            .order_by_desc(outbox::Column::CreatedAt)
            .limit(u64::from(limit))
            .all_as(&self.db, convert::message)
            .await
    }

    async fn set_time_zone(
        &self,
        org: OrgId,
        time_zone: &TimeZoneName,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        let changed = organization::Entity::update_many()
            .col_expr(
                organization::Column::TimeZone,
                Expr::value(time_zone.as_str()),
            )
            .filter(organization::Column::Id.eq(org.as_i64()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if changed.rows_affected != 1 {
            return Err(Error::NotFound {
                what: "the organization",
            });
        }
        audit_append::append(&txn, audit).await?;
        query::commit(txn).await
    }

    async fn set_phone_region(
        &self,
        org: OrgId,
        region: Option<PhoneRegion>,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        let changed = organization::Entity::update_many()
            .col_expr(
                organization::Column::PhoneRegion,
                Expr::value(region.map(String::from)),
            )
            .filter(organization::Column::Id.eq(org.as_i64()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if changed.rows_affected != 1 {
            return Err(Error::NotFound {
                what: "the organization",
            });
        }
        audit_append::append(&txn, audit).await?;
        query::commit(txn).await
    }

    async fn claim_submission(
        &self,
        key: &Digest32,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<SubmissionClaim> {
        let (_turn, txn) = self.begin_write().await?;
        let claim = submissions::claim(&txn, key, now, stale_before).await?;
        query::commit(txn).await?;
        Ok(claim)
    }

    async fn complete_submission(&self, key: &Digest32, outcome: &str) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        submissions::complete(&txn, key, outcome).await?;
        query::commit(txn).await
    }

    async fn release_submission(&self, key: &Digest32) -> Result<()> {
        let (_turn, txn) = self.begin_write().await?;
        submissions::release(&txn, key).await?;
        query::commit(txn).await
    }

    async fn purge_submissions(&self, before: Timestamp) -> Result<u64> {
        let (_turn, txn) = self.begin_write().await?;
        let purged = submissions::purge(&txn, before).await?;
        query::commit(txn).await?;
        Ok(purged)
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>> {
        let (turn, txn) = self.begin_write().await?;
        Ok(Box::new(tx::SeaTx {
            txn,
            _turn: turn,
            box_reader: voting::TxBoxReading::new(
                self.sqlite_file.clone(),
                (self.backend == Backend::Postgres).then(|| self.db.clone()),
                self.write_wait,
            ),
        }))
    }
    fn voting(&self) -> &dyn cista_core::ports::VotingReads {
        self
    }

    fn intake(&self) -> &dyn cista_core::ports::IntakeReads {
        self
    }

    fn collection(&self) -> &dyn cista_core::ports::CollectionReads {
        self
    }

    fn webhooks(&self) -> &dyn cista_core::ports::WebhookReads {
        self
    }

    fn breaches(&self) -> &dyn cista_core::ports::BreachReads {
        self
    }
}
