//! The store's access reads (`cista_core::ports::AccessReads`): accounts, memberships,
//! one-time credentials, sessions and app tokens, each one read on the pool.

use crate::convert::to_db_time;
use crate::entity::{account, credential, membership, session};
use crate::query::Fetch;
use crate::{SeaStore, app_tokens, attempts, convert, joined, query, tx};
use async_trait::async_trait;
use cista_core::Result;
use cista_core::ports::{
    AccessReads, Account, AppToken, Credential, CredentialPurpose, Membership, Session,
    SessionAccess,
};
use cista_crypto::Digest32;
use cista_types::{OrgId, SubjectCode, Timestamp};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// The access capability (see `cista_core::ports::AccessReads`).
#[async_trait]
impl AccessReads for SeaStore {
    async fn account(&self, subject: SubjectCode) -> Result<Option<Account>> {
        account::Entity::find_by_id(subject.as_i64())
            .one_as(&self.db, convert::account)
            .await
    }

    async fn accounts(&self, subjects: &[SubjectCode]) -> Result<Vec<Account>> {
        query::read_by_subjects(subjects, |codes| {
            account::Entity::find()
                .filter(account::Column::Subject.is_in(codes))
                .all_as(&self.db, convert::account)
        })
        .await
    }

    async fn membership(&self, org: OrgId, subject: SubjectCode) -> Result<Option<Membership>> {
        membership::Entity::find_by_id((org.as_i64(), subject.as_i64()))
            .one_as(&self.db, convert::membership)
            .await
    }

    async fn memberships_of(&self, subject: SubjectCode) -> Result<Vec<Membership>> {
        tx::memberships_of(&self.db, subject).await
    }

    async fn members(&self, org: OrgId) -> Result<Vec<Membership>> {
        membership::Entity::find()
            .filter(membership::Column::OrgId.eq(org.as_i64()))
            .order_by_asc(membership::Column::CreatedAt)
            .all_as(&self.db, convert::membership)
            .await
    }

    async fn credential(&self, token_hash: &Digest32) -> Result<Option<Credential>> {
        credential::Entity::find_by_id(token_hash.as_bytes().to_vec())
            .one_as(&self.db, convert::credential)
            .await
    }

    async fn pending_join_invitations(
        &self,
        org: OrgId,
        now: Timestamp,
    ) -> Result<Vec<Credential>> {
        credential::Entity::find()
            .filter(credential::Column::OrgId.eq(org.as_i64()))
            .filter(credential::Column::Purpose.eq(CredentialPurpose::Join.as_str()))
            .filter(credential::Column::UsedAt.is_null())
            .filter(credential::Column::ExpiresAt.gt(to_db_time(now)))
            .order_by_asc(credential::Column::CreatedAt)
            .all_as(&self.db, convert::credential)
            .await
    }

    async fn credentials_issued_since(
        &self,
        subject: SubjectCode,
        purpose: CredentialPurpose,
        since: Timestamp,
    ) -> Result<u64> {
        credential::Entity::find()
            .filter(credential::Column::Subject.eq(subject.as_i64()))
            .filter(credential::Column::Purpose.eq(purpose.as_str()))
            .filter(credential::Column::CreatedAt.gte(to_db_time(since)))
            .count_rows(&self.db)
            .await
    }

    async fn purge_access_attempts(&self, before: Timestamp) -> Result<u64> {
        let (_turn, txn) = self.begin_write().await?;
        let purged = attempts::purge(&txn, before).await?;
        query::commit(txn).await?;
        Ok(purged)
    }

    async fn session(&self, id_hash: &Digest32) -> Result<Option<Session>> {
        session::Entity::find_by_id(id_hash.as_bytes().to_vec())
            .one_as(&self.db, convert::session)
            .await
    }

    async fn session_with_access(&self, id_hash: &Digest32) -> Result<Option<SessionAccess>> {
        joined::session_with_access(&self.db, id_hash).await
    }

    async fn app_token(&self, secret_hash: &Digest32) -> Result<Option<AppToken>> {
        app_tokens::by_hash(&self.db, secret_hash).await
    }

    async fn app_tokens(&self, org: OrgId) -> Result<Vec<AppToken>> {
        app_tokens::of_org(&self.db, org).await
    }
}
