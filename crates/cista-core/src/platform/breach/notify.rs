//! Telling the people concerned (GDPR Art. 34): for a recorded breach, each person its
//! assessment names gets one email through the outbox, in the breach's notice words, naming
//! the kinds of their data the incident could have touched. Erased people are never contacted;
//! people without an email address are counted, for staff to reach another way. Each notice is
//! its own transaction: the row that marks the person told (its primary key makes a second run
//! skip them, even two runs at once), the queued message and one audit entry, committed
//! together; a failure stops the run with what was sent so far kept.

use super::record::{BreachId, BreachNotice, NoticeDelivery};
use super::template::NoticeValues;
use super::{AffectedPerson, Breach};
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::notices::Notice;
use crate::ports::Organization;
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_types::{OrgId, SubjectCode};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What a `notify` run did, person by person counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NotifyOutcome {
    /// Notices queued by this run.
    pub sent: usize,
    /// People told by an earlier run (not told again).
    pub already_told: usize,
    /// Erased people: never contacted.
    pub erased: usize,
    /// People with no email address: to be told another way.
    pub without_email: usize,
}

/// Where each person the breach names stands, for its page.
#[derive(Debug, Clone, Serialize)]
pub struct PersonStanding {
    pub person: AffectedPerson,
    pub has_email: bool,
    pub told: Option<BreachNotice>,
}

impl Cista {
    /// Each person breach `id` could have touched, with whether they have an email address
    /// and whether they were told. Errors: `forbidden`; `not_found`.
    pub async fn breach_people(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BreachId,
    ) -> Result<(Breach, Vec<PersonStanding>)> {
        let breach = self.breach(actor, org, id).await?;
        let people = self
            .affected_people(org, (breach.from, breach.to), breach.scope)
            .await?;
        let mut told: BTreeMap<SubjectCode, BreachNotice> = self
            .store()
            .breaches()
            .breach_notices(id)
            .await?
            .into_iter()
            .map(|n| (n.subject, n))
            .collect();
        let subjects: Vec<SubjectCode> = people.iter().map(|p| p.code).collect();
        let standing = self.vault_standing(&subjects).await?;
        let out = people
            .into_iter()
            .map(|person| PersonStanding {
                has_email: standing.get(&person.code).is_some_and(|s| s.has_email),
                told: told.remove(&person.code),
                person,
            })
            .collect();
        Ok((breach, out))
    }

    /// The notice as the first person (or a sample) would read it, with `first_name` as
    /// given. Errors: `forbidden`; `not_found`; `invalid_input` if the words do not render.
    pub async fn preview_breach_notice(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BreachId,
        first_name: &str,
    ) -> Result<(String, String)> {
        let breach = self.breach(actor, org, id).await?;
        let organization = self.breach_organization(&breach).await?;
        let values = notice_values(&breach, &organization, "(the kinds of data of each person)");
        breach.notice.render(first_name, &values)
    }

    async fn breach_organization(&self, breach: &Breach) -> Result<Organization> {
        self.store()
            .organization(breach.org)
            .await?
            .ok_or(Error::NotFound {
                what: "that organization",
            })
    }

    /// Queues breach `id`'s notice to each person it could have touched who has not been told,
    /// is not erased and has an email address. Errors: `forbidden`; `not_found`;
    /// `invalid_input` on `notice_body` (or `notice_subject`) while a `[FILL IN: …]` marker
    /// is left or the words do not render; a store failure stops the run (what was queued
    /// stays queued, and the next run goes on from there).
    pub async fn notify_breach(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BreachId,
    ) -> Result<NotifyOutcome> {
        actor.authorize_in(org, OrgAction::ManageBreaches)?;
        let breach = self.breach(actor, org, id).await?;
        if let Some(left) = breach.notice.left_to_fill() {
            return Err(Error::invalid(
                "notice_body",
                format!("the notice still has text to fill in before it is sent: {left}"),
            ));
        }
        breach.notice.check()?;
        let people = self
            .affected_people(org, (breach.from, breach.to), breach.scope)
            .await?;
        let told: BTreeSet<SubjectCode> = self
            .store()
            .breaches()
            .breach_told(id)
            .await?
            .into_iter()
            .collect();
        // Where each stands now (an erasure since the window was read counts), in one read.
        let subjects: Vec<SubjectCode> = people.iter().map(|p| p.code).collect();
        let standing = self.vault_standing(&subjects).await?;
        let organization = self.breach_organization(&breach).await?;
        let mut outcome = NotifyOutcome::default();
        for person in people {
            let now = standing.get(&person.code).copied();
            if person.erased || now.is_some_and(|s| s.erased) {
                outcome.erased += 1;
                continue;
            }
            if told.contains(&person.code) {
                outcome.already_told += 1;
                continue;
            }
            if !now.is_some_and(|s| s.has_email) {
                outcome.without_email += 1;
                continue;
            }
            // Erased since the run began (the standing above is read once): never told.
            if self.vault().tombstone(person.code).await?.is_some() {
                outcome.erased += 1;
                continue;
            }
            if self.tell(actor, (&breach, &organization), &person).await? {
                outcome.sent += 1;
            } else {
                outcome.already_told += 1;
            }
        }
        Ok(outcome)
    }

    /// One person's notice: the told row, the message and the audit entry in one transaction.
    /// False if another run told them first.
    async fn tell(
        &self,
        actor: &Actor,
        (breach, organization): (&Breach, &Organization),
        person: &AffectedPerson,
    ) -> Result<bool> {
        let kinds: Vec<&str> = person.kinds.keys().copied().collect();
        let values = notice_values(breach, organization, &kinds.join(", "));
        let notice = Notice::BreachNotice {
            words: breach.notice.clone(),
            values,
        };
        let message = self.message(person.code, &notice)?;
        let now = self.clock().now();
        let row = BreachNotice {
            breach: breach.id,
            subject: person.code,
            notified_at: now,
            message: message.id,
            delivery: NoticeDelivery::Queued,
        };
        let mut tx = self.store().begin().await?;
        if !tx.breaches().insert_breach_notice(&row).await? {
            return Ok(false);
        }
        tx.enqueue(&message).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(breach.org),
            AuditKind::BreachNotified,
            serde_json::json!({
                "breach": breach.id,
                "subject": person.subject,
                "message": message.id.to_string(),
                "notice_sha256": breach.notice.digest(),
            }),
        ))
        .await?;
        Ok(true)
    }
}

/// What fills a notice's placeholders: the organization, the breach's description and
/// window in the organization's time zone, and the kinds of data (`kinds`).
fn notice_values(breach: &Breach, org: &Organization, kinds: &str) -> NoticeValues {
    NoticeValues {
        organization: org.name.to_string(),
        what_happened: breach.description.clone(),
        window_start: org.time_zone.format(breach.from),
        window_end: org.time_zone.format(breach.to),
        time_zone: org.time_zone.to_string(),
        kinds_of_data: kinds.to_owned(),
    }
}
