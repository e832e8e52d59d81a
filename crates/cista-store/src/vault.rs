//! The person vault on SeaORM: in the main database by default, or in a database of its own
//! (`SeaVault::connect`). Its tables have their own migration set. Erasure deletes the row
//! (wrapped key, sealed fields, lookups) and writes the tombstone in one transaction; a
//! tombstoned subject can never be stored again.

use crate::backend::{self, ConnectOptions, Target};
use crate::convert::{conflict_or, db_err, to_db_time};
use crate::entity::{vault_person, vault_tombstone};
use crate::migration::vault::{VaultMigrator, known_migrations};
use crate::query::{self, Fetch};
use crate::{SchemaStatus, schema_status_of};
use async_trait::async_trait;
use cista_core::ports::{Vault, VaultPerson};
use cista_core::{Error, Result};
use cista_crypto::WrappedKey;
use cista_types::{SubjectCode, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

#[derive(Clone)]
pub struct SeaVault {
    db: DatabaseConnection,
    location: String,
}

impl std::fmt::Debug for SeaVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeaVault({})", self.location)
    }
}

impl SeaVault {
    /// The vault in the store's own database.
    pub fn on(store: &crate::SeaStore) -> Self {
        Self {
            db: store.connection().clone(),
            location: store.location().to_owned(),
        }
    }

    /// The vault in a database of its own.
    pub async fn connect(target: &Target, options: &ConnectOptions) -> Result<Self> {
        let db = backend::connect(target, options).await?;
        let vault = Self {
            db,
            location: target.describe(),
        };
        vault.schema_status().await?;
        Ok(vault)
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn schema_status(&self) -> Result<SchemaStatus> {
        schema_status_of(&self.db, "seaql_migrations_vault", &known_migrations()).await
    }

    /// Applies the vault's pending migrations.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let pending = self.schema_status().await?.pending;
        if pending.is_empty() {
            return Ok(pending);
        }
        if let Err(e) = VaultMigrator::up(&self.db, None).await {
            if self.schema_status().await?.pending.is_empty() {
                return Ok(Vec::new());
            }
            return Err(db_err(e));
        }
        Ok(pending)
    }
}

#[async_trait]
impl Vault for SeaVault {
    async fn insert_person(&self, p: &VaultPerson) -> Result<()> {
        let txn = self
            .db
            .begin_with_options(backend::write_transaction())
            .await
            .map_err(db_err)?;
        if vault_tombstone::Entity::find_by_id(p.subject.as_i64())
            .first(&txn)
            .await?
            .is_some()
        {
            return Err(Error::PersonErased);
        }
        vault_person::Entity::insert(vault_person::ActiveModel {
            subject: Set(p.subject.as_i64()),
            kek_id: Set(p.kek_id.clone()),
            wrapped_key: Set(p.wrapped_key.clone()),
            fields: Set(p.fields.clone()),
            email_index: Set(p.email_index.map(|i| i.to_vec())),
            phone_index: Set(p.phone_index.map(|i| i.to_vec())),
            created_at: Set(to_db_time(p.created_at)),
            updated_at: Set(to_db_time(p.updated_at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| conflict_or(e, "someone with this email address is already on file"))?;
        query::commit(txn).await
    }

    async fn person(&self, subject: SubjectCode) -> Result<Option<VaultPerson>> {
        vault_person::Entity::find_by_id(subject.as_i64())
            .one_as(&self.db, crate::convert::vault_person)
            .await
    }

    async fn people(&self, subjects: &[SubjectCode]) -> Result<Vec<VaultPerson>> {
        query::read_by_subjects(subjects, |codes| {
            vault_person::Entity::find()
                .filter(vault_person::Column::Subject.is_in(codes))
                .all_as(&self.db, crate::convert::vault_person)
        })
        .await
    }

    async fn subject_by_email(&self, index: &[u8; 32]) -> Result<Option<SubjectCode>> {
        Ok(vault_person::Entity::find()
            .filter(vault_person::Column::EmailIndex.eq(index.to_vec()))
            .first(&self.db)
            .await?
            .map(|m| SubjectCode::from_i64(m.subject)))
    }

    async fn subjects_by_phone(&self, index: &[u8; 32]) -> Result<Vec<SubjectCode>> {
        vault_person::Entity::find()
            .filter(vault_person::Column::PhoneIndex.eq(index.to_vec()))
            .all_map(&self.db, |m| SubjectCode::from_i64(m.subject))
            .await
    }

    async fn discard_person(&self, subject: SubjectCode) -> Result<()> {
        vault_person::Entity::delete_by_id(subject.as_i64())
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn erase_person(&self, subject: SubjectCode, at: Timestamp) -> Result<bool> {
        let txn = self
            .db
            .begin_with_options(backend::write_transaction())
            .await
            .map_err(db_err)?;
        vault_person::Entity::delete_by_id(subject.as_i64())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let inserted = vault_tombstone::Entity::insert(vault_tombstone::ActiveModel {
            subject: Set(subject.as_i64()),
            erased_at: Set(to_db_time(at)),
        })
        .on_conflict_do_nothing_on([vault_tombstone::Column::Subject])
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        query::commit(txn).await?;
        Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
    }

    async fn tombstone(&self, subject: SubjectCode) -> Result<Option<Timestamp>> {
        Ok(vault_tombstone::Entity::find_by_id(subject.as_i64())
            .first(&self.db)
            .await?
            .map(|t| crate::convert::from_db_time(t.erased_at)))
    }

    async fn tombstones(&self) -> Result<Vec<(SubjectCode, Timestamp)>> {
        Ok(vault_tombstone::Entity::find()
            .order_by_asc(vault_tombstone::Column::Subject)
            .rows(&self.db)
            .await?
            .into_iter()
            .map(|t| {
                (
                    SubjectCode::from_i64(t.subject),
                    crate::convert::from_db_time(t.erased_at),
                )
            })
            .collect())
    }

    async fn counts(&self) -> Result<(u64, u64)> {
        let people = vault_person::Entity::find().count_rows(&self.db).await?;
        let tombstones = vault_tombstone::Entity::find().count_rows(&self.db).await?;
        Ok((people, tombstones))
    }

    async fn wrapped_keys(&self) -> Result<Vec<(SubjectCode, String, Vec<u8>)>> {
        Ok(vault_person::Entity::find()
            .order_by_asc(vault_person::Column::Subject)
            .rows(&self.db)
            .await?
            .into_iter()
            .map(|m| (SubjectCode::from_i64(m.subject), m.kek_id, m.wrapped_key))
            .collect())
    }

    async fn rewrap_key(&self, subject: SubjectCode, from: &str, to: &WrappedKey) -> Result<bool> {
        let changed = vault_person::Entity::update_many()
            .col_expr(vault_person::Column::KekId, Expr::value(to.kek.as_str()))
            .col_expr(
                vault_person::Column::WrappedKey,
                Expr::value(to.ciphertext.clone()),
            )
            .filter(vault_person::Column::Subject.eq(subject.as_i64()))
            .filter(vault_person::Column::KekId.eq(from))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(changed.rows_affected == 1)
    }
}
