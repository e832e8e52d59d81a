//! The breach capability of the store (GDPR Art. 33/34): an organization's recorded breaches
//! and, for each, the people told of it. Reads through `Store::breaches`, changes (each with
//! its audit entry) through `StoreTx::breaches`.

use crate::Result;
use crate::platform::breach::template::NoticeTemplate;
use crate::platform::breach::{Breach, BreachId, BreachNotice};
use async_trait::async_trait;
use cista_types::{OrgId, SubjectCode, Timestamp};

#[async_trait]
pub trait BreachReads: Send + Sync {
    /// `org`'s breaches, newest first.
    async fn breaches_of(&self, org: OrgId) -> Result<Vec<Breach>>;

    async fn breach(&self, org: OrgId, id: BreachId) -> Result<Option<Breach>>;

    /// The notices of breach `id`, oldest first, each with its message's state in the outbox.
    async fn breach_notices(&self, id: BreachId) -> Result<Vec<BreachNotice>>;

    /// Who breach `id` has told, by subject code (its notices' rows alone, without the
    /// messages: a count or a check of who is left).
    async fn breach_told(&self, id: BreachId) -> Result<Vec<SubjectCode>>;

    /// Across the instance: how many breaches were recorded and how many notices were
    /// delivered (the trust page's evidence, for staff).
    async fn breach_counts(&self) -> Result<(u64, u64)>;
}

#[async_trait]
pub trait BreachWrites: Send {
    /// A taken id is a `conflict`.
    async fn insert_breach(&mut self, breach: &Breach) -> Result<()>;

    /// Replaces the notice's words of `org`'s breach `id`. Errors: `not_found`.
    async fn set_breach_notice(
        &mut self,
        org: OrgId,
        id: BreachId,
        notice: &NoticeTemplate,
    ) -> Result<()>;

    /// Records when the supervisory authority was told, unless recorded already (false).
    async fn set_breach_reported(
        &mut self,
        org: OrgId,
        id: BreachId,
        at: Timestamp,
    ) -> Result<bool>;

    /// Marks a person told; false if they were told already (the primary key on breach and
    /// subject decides, also between two runs at once).
    async fn insert_breach_notice(&mut self, notice: &BreachNotice) -> Result<bool>;
}
