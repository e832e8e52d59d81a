//! Reminders: to the owners of units that have not voted, sent by staff (at most once an hour)
//! or by the worker at the hours before the close the ballot sets.

use super::Recipient;
use crate::platform::audit::NewAuditEntry;
use crate::products::voting::audit::VotingAuditKind;
use crate::products::voting::{Ballot, VotingAction, VotingError, VotingNotice, Window};
use crate::{Actor, Cista, Error, Result};
use cista_types::{BallotId, OrgId, SubjectCode, Timestamp};
use std::collections::BTreeMap;
use time::Duration;

impl Cista {
    /// Sends a reminder now to every owner of a unit that has not voted (at most one manual
    /// reminder per hour per ballot).
    pub async fn send_reminders(&self, actor: &Actor, org: OrgId, id: BallotId) -> Result<usize> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        let now = self.clock().now();
        if !ballot.accepts_votes(now) {
            return Err(Error::from(VotingError::BallotNotOpen(
                "reminders go out only while the ballot is open".to_owned(),
            )));
        }
        let hour = now.unix_micros() / 3_600_000_000;
        let sent = self
            .remind(actor, &ballot, &format!("manual-{hour}"), now)
            .await?;
        sent.ok_or_else(|| {
            Error::Conflict("a reminder for this ballot already went out this hour".to_owned())
        })
    }

    /// Sends the reminders whose time has come (the worker calls this).
    pub(crate) async fn scheduled_reminders(
        &self,
        ballot: &Ballot,
        now: Timestamp,
    ) -> Result<usize> {
        if ballot.window(now) != Window::Open {
            return Ok(0);
        }
        let mut total = 0;
        for hours in &ballot.definition.reminder_hours {
            let due = ballot
                .definition
                .closes_at
                .plus(Duration::hours(-i64::from(*hours)));
            if now >= due {
                total += self
                    .remind(
                        &Actor::System,
                        ballot,
                        &format!("before-close-{hours}h"),
                        now,
                    )
                    .await?
                    .unwrap_or(0);
            }
        }
        Ok(total)
    }

    /// How many people a reminder sent now would go to (the owners who vote for units that
    /// have not voted yet), for the confirmation before sending it.
    pub async fn reminder_count(&self, actor: &Actor, org: OrgId, id: BallotId) -> Result<usize> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        Ok(self.reminder_recipients(&ballot).await?.len())
    }

    /// The people a reminder goes to: those who vote for units on the roll that have not
    /// voted yet.
    async fn reminder_recipients(
        &self,
        ballot: &Ballot,
    ) -> Result<BTreeMap<SubjectCode, Recipient>> {
        let org = ballot.org();
        let pending = self
            .yet_to_vote(ballot.id())
            .await?
            .into_iter()
            .map(|e| e.unit);
        let units = self.store().voting().units(org).await?;
        self.recipients(org, &units, pending).await
    }

    /// Claims `slot` and queues reminders; None if the slot was taken already.
    async fn remind(
        &self,
        actor: &Actor,
        ballot: &Ballot,
        slot: &str,
        now: Timestamp,
    ) -> Result<Option<usize>> {
        let org = ballot.org();
        let recipients = self.reminder_recipients(ballot).await?;
        let organization = self.existing_organization(org).await?;
        let definition = &ballot.definition;
        let mut tx = self.store().begin().await?;
        if !tx.voting().claim_reminder(ballot.id(), slot, now).await? {
            return Ok(None);
        }
        let mut sent = 0;
        for (subject, r) in &recipients {
            let set_password_link = self
                .set_password_link(tx.as_mut(), (*subject, r), org, ballot, now)
                .await?;
            let notice = VotingNotice::BallotReminder {
                organization: organization.name.to_string(),
                title: definition.title.clone(),
                closes: ballot.local(definition.closes_at),
                vote_link: self.public_link(&format!("vote/{}", ballot.id())),
                online_units: r.online.clone(),
                paper_units: r.paper.clone(),
                set_password_link,
            };
            tx.enqueue(&self.message(*subject, &notice.into())?).await?;
            sent += 1;
            sent += self
                .queue_ballot_sms(
                    tx.as_mut(),
                    (*subject, r),
                    ballot,
                    &organization.name.to_string(),
                    true,
                )
                .await?;
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            VotingAuditKind::RemindersSent,
            serde_json::json!({
                "ballot": ballot.id().to_string(),
                "slot": slot,
                "messages": sent,
            }),
        ))
        .await?;
        Ok(Some(sent))
    }
}
