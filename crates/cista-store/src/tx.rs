//! The write transaction behind `StoreTx`: every change of a core flow runs on one database
//! transaction, which commits together with its audit entry (or rolls back when dropped).

use crate::audit_append;
use crate::convert::{db_err, to_db_time};
use crate::entity::{
    account, credential, membership, organization, outbox, recovery_code, session,
};
use crate::query::{self, Fetch};
use async_trait::async_trait;
use cista_core::platform::audit::NewAuditEntry;
use cista_core::ports::{
    AccessAttempt, AccessWrites, Account, AccountStatus, AppToken, AppTokenId, AttemptKind,
    AttemptScope, AttemptTally, AuditEntry, Credential, CredentialPurpose, Membership,
    OutboxMessage, Session, StoreTx,
};
use cista_core::{Error, Result};
use cista_crypto::Digest32;
use cista_types::{OrgId, Role, SubjectCode, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait as _, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};

pub(crate) struct SeaTx {
    pub(crate) txn: DatabaseTransaction,
    /// Declared after `txn`, so dropped after it: the turn is handed on once the transaction
    /// has committed or rolled back.
    pub(crate) _turn: crate::WriteTurn,
    /// How the close reads its box's pages (on SQLite, through a reader of its own).
    pub(crate) box_reader: crate::voting::TxBoxReading,
}

fn hash(d: &Digest32) -> Vec<u8> {
    d.as_bytes().to_vec()
}

fn account_model(a: &Account) -> account::ActiveModel {
    account::ActiveModel {
        subject: Set(a.subject.as_i64()),
        status: Set(a.status.as_str().to_owned()),
        password_hash: Set(a.password_hash.clone()),
        password_changed_at: Set(a.password_changed_at.map(to_db_time)),
        totp_secret: Set(a.totp_secret.clone()),
        totp_pending: Set(a.totp_pending.clone()),
        totp_last_step: Set(a.totp_last_step),
        failed_attempts: Set(a.failed_attempts),
        locked_until: Set(a.locked_until.map(to_db_time)),
        created_at: Set(to_db_time(a.created_at)),
    }
}

/// A person's memberships, by organization: for the store's reads and inside a transaction.
pub(crate) async fn memberships_of(
    db: &impl crate::query::Db,
    subject: SubjectCode,
) -> Result<Vec<Membership>> {
    membership::Entity::find()
        .filter(membership::Column::Subject.eq(subject.as_i64()))
        .order_by_asc(membership::Column::OrgId)
        .all_as(db, crate::convert::membership)
        .await
}

/// `person_erased` if the person's account is marked erased (an erasure finished, or begun),
/// read under `FOR KEY SHARE` on PostgreSQL: the weakest row lock that waits for an erasure's
/// `lock_account` (`FOR UPDATE`), which marks the account before it destroys the vault entry
/// and reads the memberships it must be allowed to end. So a link or a role change either
/// commits before the erasure reads the memberships (and counts against the right to erase),
/// or waits and reads the mark here (PostgreSQL re-reads a row it waited for). `FOR KEY
/// SHARE` does not wait for ordinary account updates (a password set from a link that holds
/// its credential's row), so no lock cycle forms with them. A person without an account
/// passes: a membership's foreign key needs the row anyway.
async fn refuse_erased(db: &DatabaseTransaction, subject: SubjectCode) -> Result<()> {
    let status = account::Entity::find_by_id(subject.as_i64())
        .select_only()
        .column(account::Column::Status)
        .lock(LockType::KeyShare)
        .into_tuple::<String>()
        .one(db)
        .await
        .map_err(db_err)?;
    if status.as_deref() == Some(AccountStatus::Erased.as_str()) {
        return Err(Error::PersonErased);
    }
    Ok(())
}

#[async_trait]
impl StoreTx for SeaTx {
    async fn enqueue(&mut self, m: &OutboxMessage) -> Result<()> {
        outbox::Entity::insert(outbox::ActiveModel {
            id: Set(m.id),
            channel: Set(m.channel.as_str().to_owned()),
            recipient: Set(m.recipient.as_i64()),
            template: Set(m.template.clone()),
            params: Set(m.params.clone()),
            created_at: Set(to_db_time(m.created_at)),
            attempts: Set(m.attempts),
            next_attempt_at: Set(to_db_time(m.next_attempt_at)),
            delivered_at: Set(m.delivered_at.map(to_db_time)),
            failed_at: Set(m.failed_at.map(to_db_time)),
            last_error: Set(m.last_error.clone()),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn mark_delivered(&mut self, id: i64, now: Timestamp) -> Result<()> {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::DeliveredAt, Expr::value(to_db_time(now)))
            .col_expr(outbox::Column::Params, Expr::value(Vec::<u8>::new()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn mark_attempt_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let mut update = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(outbox::Column::LastError, Expr::value(error.to_owned()));
        update = match next_attempt_at {
            Some(at) => update.col_expr(outbox::Column::NextAttemptAt, Expr::value(to_db_time(at))),
            None => update
                .col_expr(outbox::Column::FailedAt, Expr::value(to_db_time(now)))
                .col_expr(outbox::Column::Params, Expr::value(Vec::<u8>::new())),
        };
        update
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_messages_to(&mut self, subject: SubjectCode) -> Result<u64> {
        Ok(outbox::Entity::delete_many()
            .filter(outbox::Column::Recipient.eq(subject.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    fn voting(&mut self) -> &mut dyn cista_core::ports::VotingWrites {
        self
    }

    fn intake(&mut self) -> &mut dyn cista_core::ports::IntakeWrites {
        self
    }

    fn collection(&mut self) -> &mut dyn cista_core::ports::CollectionWrites {
        self
    }

    fn webhooks(&mut self) -> &mut dyn cista_core::ports::WebhookWrites {
        self
    }

    fn breaches(&mut self) -> &mut dyn cista_core::ports::BreachWrites {
        self
    }

    async fn commit(self: Box<Self>, audit: NewAuditEntry) -> Result<AuditEntry> {
        let entry = audit_append::append(&self.txn, audit).await?;
        query::commit(self.txn).await?;
        Ok(entry)
    }

    async fn commit_all(self: Box<Self>, audit: Vec<NewAuditEntry>) -> Result<Vec<AuditEntry>> {
        let entries = audit_append::append_all(&self.txn, audit).await?;
        query::commit(self.txn).await?;
        Ok(entries)
    }

    async fn commit_housekeeping(self: Box<Self>) -> Result<()> {
        query::commit(self.txn).await
    }
}

/// The access capability of a transaction (see `cista_core::ports::AccessWrites`).
#[async_trait]
impl AccessWrites for SeaTx {
    async fn insert_account(&mut self, a: &Account) -> Result<()> {
        account::Entity::insert(account_model(a))
            .exec_without_returning(&self.txn)
            .await
            .map_err(|e| crate::convert::conflict_or(e, "this account exists already"))?;
        Ok(())
    }

    async fn insert_account_if_absent(&mut self, a: &Account) -> Result<bool> {
        // `ON CONFLICT DO NOTHING`: on PostgreSQL it waits for a transaction that inserted the
        // same person uncommitted, and does nothing if that one commits.
        let inserted = account::Entity::insert(account_model(a))
            .on_conflict_do_nothing_on([account::Column::Subject])
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(matches!(inserted, TryInsertResult::Inserted(1)))
    }

    async fn update_account(&mut self, a: &Account) -> Result<()> {
        let changed = account::Entity::update_many()
            .col_expr(account::Column::Status, Expr::value(a.status.as_str()))
            .col_expr(
                account::Column::PasswordHash,
                Expr::value(a.password_hash.clone()),
            )
            .col_expr(
                account::Column::PasswordChangedAt,
                Expr::value(a.password_changed_at.map(to_db_time)),
            )
            .col_expr(
                account::Column::TotpSecret,
                Expr::value(a.totp_secret.clone()),
            )
            .col_expr(
                account::Column::TotpPending,
                Expr::value(a.totp_pending.clone()),
            )
            .col_expr(
                account::Column::FailedAttempts,
                Expr::value(a.failed_attempts),
            )
            .col_expr(
                account::Column::LockedUntil,
                Expr::value(a.locked_until.map(to_db_time)),
            )
            .filter(account::Column::Subject.eq(a.subject.as_i64()));
        // An erased account stays erased: a write decided on an account read before an
        // erasure marked it (a second factor checked meanwhile) cannot bring it back.
        let unerasing = a.status != AccountStatus::Erased;
        let changed = if unerasing {
            changed.filter(account::Column::Status.ne(AccountStatus::Erased.as_str()))
        } else {
            changed
        }
        .exec(&self.txn)
        .await
        .map_err(db_err)?;
        if changed.rows_affected == 1 {
            return Ok(());
        }
        let erased = unerasing
            && account::Entity::find_by_id(a.subject.as_i64())
                .first(&self.txn)
                .await?
                .is_some_and(|row| row.status == AccountStatus::Erased.as_str());
        Err(if erased {
            Error::PersonErased
        } else {
            Error::NotFound {
                what: "the account",
            }
        })
    }

    async fn advance_totp_step(&mut self, subject: SubjectCode, step: i64) -> Result<bool> {
        let changed = account::Entity::update_many()
            .col_expr(account::Column::TotpLastStep, Expr::value(step))
            .filter(account::Column::Subject.eq(subject.as_i64()))
            .filter(account::Column::TotpLastStep.lt(step))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(changed.rows_affected == 1)
    }

    async fn insert_membership(&mut self, m: &Membership) -> Result<()> {
        refuse_erased(&self.txn, m.subject).await?;
        membership::Entity::insert(membership::ActiveModel {
            org_id: Set(m.org.as_i64()),
            subject: Set(m.subject.as_i64()),
            role: Set(m.role.as_str().to_owned()),
            created_at: Set(to_db_time(m.created_at)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(|e| {
            crate::convert::conflict_or(e, "this person is already a member of this organization")
        })?;
        Ok(())
    }

    async fn lock_members(&mut self, org: OrgId) -> Result<Vec<Membership>> {
        // `FOR NO KEY UPDATE`: it waits for (and makes wait) another `lock_members`, but not a
        // foreign-key check on the organization (`FOR KEY SHARE`), which an invitation resent
        // under the person's lock makes when it inserts its link. With `FOR UPDATE`, a role
        // change here (then `set_role`'s share of the person's row) would close a cycle with it.
        organization::Entity::find_by_id(org.as_i64())
            .lock(LockType::NoKeyUpdate)
            .first(&self.txn)
            .await?;
        membership::Entity::find()
            .filter(membership::Column::OrgId.eq(org.as_i64()))
            .order_by_asc(membership::Column::CreatedAt)
            .all_as(&self.txn, crate::convert::membership)
            .await
    }

    async fn set_role(&mut self, org: OrgId, subject: SubjectCode, role: Role) -> Result<()> {
        refuse_erased(&self.txn, subject).await?;
        membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role.as_str()))
            .filter(membership::Column::OrgId.eq(org.as_i64()))
            .filter(membership::Column::Subject.eq(subject.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn memberships_of(&mut self, subject: SubjectCode) -> Result<Vec<Membership>> {
        memberships_of(&self.txn, subject).await
    }

    async fn delete_memberships_of(&mut self, subject: SubjectCode) -> Result<u64> {
        Ok(membership::Entity::delete_many()
            .filter(membership::Column::Subject.eq(subject.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    async fn insert_credential(&mut self, c: &Credential) -> Result<()> {
        credential::Entity::insert(credential::ActiveModel {
            token_hash: Set(hash(&c.token_hash)),
            purpose: Set(c.purpose.as_str().to_owned()),
            subject: Set(c.subject.as_i64()),
            org_id: Set(c.org.map(|o| o.as_i64())),
            code_hash: Set(c.code_hash.as_ref().map(hash)),
            created_at: Set(to_db_time(c.created_at)),
            expires_at: Set(to_db_time(c.expires_at)),
            used_at: Set(c.used_at.map(to_db_time)),
            attempts: Set(c.attempts),
            role: Set(c.role.map(|r| r.as_str().to_owned())),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn consume_credential(
        &mut self,
        token_hash: &Digest32,
        purpose: CredentialPurpose,
        now: Timestamp,
    ) -> Result<Option<Credential>> {
        let used = credential::Entity::update_many()
            .col_expr(credential::Column::UsedAt, Expr::value(to_db_time(now)))
            .filter(credential::Column::TokenHash.eq(hash(token_hash)))
            .filter(credential::Column::Purpose.eq(purpose.as_str()))
            .filter(credential::Column::UsedAt.is_null())
            .filter(credential::Column::ExpiresAt.gt(to_db_time(now)))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        if used.rows_affected != 1 {
            return Ok(None);
        }
        credential::Entity::find_by_id(hash(token_hash))
            .one_as(&self.txn, crate::convert::credential)
            .await
    }

    async fn count_credential_attempt(&mut self, token_hash: &Digest32) -> Result<i32> {
        credential::Entity::update_many()
            .col_expr(
                credential::Column::Attempts,
                Expr::col(credential::Column::Attempts).add(1),
            )
            .filter(credential::Column::TokenHash.eq(hash(token_hash)))
            .filter(credential::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(credential::Entity::find_by_id(hash(token_hash))
            .first(&self.txn)
            .await?
            .map_or(0, |c| c.attempts))
    }

    async fn revoke_credentials(
        &mut self,
        subject: SubjectCode,
        purpose: CredentialPurpose,
        now: Timestamp,
    ) -> Result<u64> {
        Ok(credential::Entity::update_many()
            .col_expr(credential::Column::UsedAt, Expr::value(to_db_time(now)))
            .filter(credential::Column::Subject.eq(subject.as_i64()))
            .filter(credential::Column::Purpose.eq(purpose.as_str()))
            .filter(credential::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    async fn revoke_join_invitations(
        &mut self,
        subject: SubjectCode,
        org: OrgId,
        now: Timestamp,
    ) -> Result<u64> {
        Ok(credential::Entity::update_many()
            .col_expr(credential::Column::UsedAt, Expr::value(to_db_time(now)))
            .filter(credential::Column::Subject.eq(subject.as_i64()))
            .filter(credential::Column::Purpose.eq(CredentialPurpose::Join.as_str()))
            .filter(credential::Column::OrgId.eq(org.as_i64()))
            .filter(credential::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    async fn delete_credentials_of(&mut self, subject: SubjectCode) -> Result<u64> {
        Ok(credential::Entity::delete_many()
            .filter(credential::Column::Subject.eq(subject.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    async fn access_attempts(
        &mut self,
        subject: SubjectCode,
        kind: AttemptKind,
        scope: AttemptScope<'_>,
        since: Timestamp,
    ) -> Result<AttemptTally> {
        crate::attempts::lock_account(&self.txn, subject).await?;
        crate::attempts::tally(&self.txn, subject, kind, scope, since).await
    }

    async fn lock_account(&mut self, subject: SubjectCode) -> Result<Option<Account>> {
        crate::attempts::lock_account(&self.txn, subject).await
    }

    async fn record_access_attempt(&mut self, attempt: &AccessAttempt) -> Result<()> {
        crate::attempts::record(&self.txn, attempt).await
    }

    async fn clear_access_attempts(
        &mut self,
        subject: SubjectCode,
        kind: AttemptKind,
        requester: &Digest32,
    ) -> Result<u64> {
        crate::attempts::clear(&self.txn, subject, kind, requester).await
    }

    async fn insert_session(&mut self, s: &Session) -> Result<()> {
        session::Entity::insert(session::ActiveModel {
            id_hash: Set(hash(&s.id_hash)),
            subject: Set(s.subject.as_i64()),
            stage: Set(s.stage.as_str().to_owned()),
            created_at: Set(to_db_time(s.created_at)),
            last_seen_at: Set(to_db_time(s.last_seen_at)),
            expires_at: Set(to_db_time(s.expires_at)),
        })
        .exec_without_returning(&self.txn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn touch_session(&mut self, id_hash: &Digest32, now: Timestamp) -> Result<()> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(to_db_time(now)))
            .filter(session::Column::IdHash.eq(hash(id_hash)))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_session(&mut self, id_hash: &Digest32) -> Result<u64> {
        Ok(session::Entity::delete_many()
            .filter(session::Column::IdHash.eq(hash(id_hash)))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    async fn delete_sessions_of(&mut self, subject: SubjectCode) -> Result<u64> {
        Ok(session::Entity::delete_many()
            .filter(session::Column::Subject.eq(subject.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }

    async fn insert_app_token(&mut self, token: &AppToken) -> Result<()> {
        crate::app_tokens::insert(&self.txn, token).await
    }

    async fn revoke_app_token(
        &mut self,
        org: OrgId,
        id: AppTokenId,
        at: Timestamp,
    ) -> Result<Option<bool>> {
        crate::app_tokens::revoke(&self.txn, org, id, at).await
    }

    async fn touch_app_token(&mut self, id: AppTokenId, at: Timestamp) -> Result<()> {
        crate::app_tokens::touch(&self.txn, id, at).await
    }

    async fn insert_recovery_codes(
        &mut self,
        subject: SubjectCode,
        hashes: &[Digest32],
    ) -> Result<()> {
        for h in hashes {
            recovery_code::Entity::insert(recovery_code::ActiveModel {
                subject: Set(subject.as_i64()),
                code_hash: Set(hash(h)),
                used_at: Set(None),
            })
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }

    async fn consume_recovery_code(
        &mut self,
        subject: SubjectCode,
        code: &Digest32,
        now: Timestamp,
    ) -> Result<bool> {
        let used = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(to_db_time(now)))
            .filter(recovery_code::Column::Subject.eq(subject.as_i64()))
            .filter(recovery_code::Column::CodeHash.eq(hash(code)))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(used.rows_affected == 1)
    }

    async fn delete_recovery_codes_of(&mut self, subject: SubjectCode) -> Result<u64> {
        Ok(recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::Subject.eq(subject.as_i64()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }
}
