//! A recorded breach (GDPR Art. 33): the incident window, the scope of what it exposed, what
//! happened in staff's words, when the organization became aware of it (the time it was
//! recorded, from which the 72-hour deadline to tell the supervisory authority runs), when the
//! authority was told, and the words of the notice to the people concerned. Owners and
//! administrators record and manage breaches (`OrgAction::ManageBreaches`); every change is an
//! audit entry committed with it.

use super::BreachScope;
use super::template::NoticeTemplate;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_types::{OrgId, SubjectCode, Timestamp};
use serde::Serialize;
use time::Duration;

crate::platform::public_id::public_id!(
    /// A recorded breach's public id, `br-` and 16 hexadecimal digits.
    BreachId,
    "br-",
    "breach",
    "a breach id"
);

/// GDPR Art. 33(1): the supervisory authority is told "not later than 72 hours after having
/// become aware of it".
pub const REGULATOR_DEADLINE: Duration = Duration::hours(72);

/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 4000;

/// A span of minutes in words: `70 h 5 min`, `45 min`.
pub fn minutes_in_words(minutes: i64) -> String {
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if hours > 0 {
        format!("{hours} h {minutes} min")
    } else {
        format!("{minutes} min")
    }
}

/// A breach as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    pub id: BreachId,
    pub org: OrgId,
    /// When it was recorded: when the organization became aware of it.
    pub recorded_at: Timestamp,
    /// Who recorded it (an audit name: `operator:…` or `subject:…`).
    pub recorded_by: String,
    /// The incident window.
    pub from: Timestamp,
    pub to: Timestamp,
    pub scope: BreachScope,
    /// What happened, in staff's words (no personal data: people are listed by the assessment).
    pub description: String,
    /// The words of the notice to the people concerned.
    pub notice: NoticeTemplate,
    /// When staff recorded that the supervisory authority was told.
    pub reported_at: Option<Timestamp>,
}

/// Where the 72-hour deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeadlineState {
    /// The authority was told at `at`, `late` if after the deadline.
    Reported { at: Timestamp, late: bool },
    /// Not told yet; `minutes_left` until the deadline.
    Open { minutes_left: i64 },
    /// Not told and the deadline has passed `minutes_over` ago (Art. 33(1): the notification
    /// then gives the reasons for the delay).
    Overdue { minutes_over: i64 },
}

impl Breach {
    /// When the supervisory authority must have been told: 72 hours after it was recorded.
    pub fn deadline(&self) -> Timestamp {
        self.recorded_at.plus(REGULATOR_DEADLINE)
    }

    pub fn deadline_state(&self, now: Timestamp) -> DeadlineState {
        let deadline = self.deadline();
        match self.reported_at {
            Some(at) => DeadlineState::Reported {
                at,
                late: at > deadline,
            },
            None => {
                // Whole minutes left (rounded down), or started minutes over (rounded up): a
                // second past the deadline is overdue, never "0 min left".
                let seconds = (deadline.as_offset() - now.as_offset()).whole_seconds();
                if seconds >= 0 {
                    DeadlineState::Open {
                        minutes_left: seconds / 60,
                    }
                } else {
                    DeadlineState::Overdue {
                        minutes_over: (59 - seconds) / 60,
                    }
                }
            }
        }
    }
}

/// One person's notice of a breach: the row that makes a second `notify` skip them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreachNotice {
    pub breach: BreachId,
    pub subject: SubjectCode,
    /// When it was queued.
    pub notified_at: Timestamp,
    /// The outbox message that carries it.
    pub message: i64,
    /// Where that message stands, read from the outbox (not stored with the notice).
    pub delivery: NoticeDelivery,
}

/// Where a notice's message stands: staff tell the people it did not reach another way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NoticeDelivery {
    /// Waiting for the outbox worker (or for a retry).
    Queued,
    /// Handed to the mail relay.
    Delivered { at: Timestamp },
    /// Given up (a refused address, too many failed attempts).
    Failed { at: Timestamp },
    /// The message is gone: the person was erased after it was queued.
    Withdrawn,
}

/// What staff give to record a breach.
#[derive(Debug, Clone)]
pub struct NewBreach {
    pub from: Timestamp,
    pub to: Timestamp,
    pub scope: BreachScope,
    pub description: String,
}

/// Checks a breach's window against `now`. Errors: `invalid_input` on `window`.
pub(crate) fn check_window(from: Timestamp, to: Timestamp, now: Timestamp) -> Result<()> {
    if to <= from {
        return Err(Error::invalid(
            "window",
            "the window must end after it starts",
        ));
    }
    if to > now {
        return Err(Error::invalid(
            "window",
            "the window ends in the future: give its end as now at the latest (for an incident \
             still going on, record it now and record another breach for what follows)",
        ));
    }
    Ok(())
}

fn check_description(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid(
            "description",
            "say what happened, in a sentence or two (the notice quotes it)",
        ));
    }
    super::refuse_control("description", text)?;
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(
            "description",
            format!("the description is at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(text.to_owned())
}

impl Cista {
    /// Records a breach of `org`, aware from now, with the default notice. Errors:
    /// `forbidden`; `invalid_input` on `window` or `description`.
    pub async fn record_breach(&self, actor: &Actor, org: OrgId, new: NewBreach) -> Result<Breach> {
        actor.authorize_in(org, OrgAction::ManageBreaches)?;
        let now = self.clock().now();
        check_window(new.from, new.to, now)?;
        let breach = Breach {
            id: BreachId::from_i64(self.rng().id63()),
            org,
            recorded_at: now,
            recorded_by: actor.audit_name(),
            from: new.from,
            to: new.to,
            scope: new.scope,
            description: check_description(&new.description)?,
            notice: NoticeTemplate::default(),
            reported_at: None,
        };
        let mut tx = self.store().begin().await?;
        tx.breaches().insert_breach(&breach).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::BreachRecorded,
            serde_json::json!({
                "breach": breach.id,
                "from": breach.from,
                "to": breach.to,
                "scope": breach.scope,
                "deadline": breach.deadline(),
            }),
        ))
        .await?;
        Ok(breach)
    }

    /// `org`'s breaches, newest first. Errors: `forbidden`.
    pub async fn breaches(&self, actor: &Actor, org: OrgId) -> Result<Vec<Breach>> {
        actor.authorize_in(org, OrgAction::ManageBreaches)?;
        self.store().breaches().breaches_of(org).await
    }

    /// `org`'s breaches, newest first, each with how many people it has told. Errors:
    /// `forbidden`.
    pub async fn breaches_with_told(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<(Breach, usize)>> {
        let mut out = Vec::new();
        for breach in self.breaches(actor, org).await? {
            let told = self.store().breaches().breach_told(breach.id).await?.len();
            out.push((breach, told));
        }
        Ok(out)
    }

    /// One of `org`'s breaches. Errors: `forbidden`; `not_found`.
    pub async fn breach(&self, actor: &Actor, org: OrgId, id: BreachId) -> Result<Breach> {
        actor.authorize_in(org, OrgAction::ManageBreaches)?;
        self.store()
            .breaches()
            .breach(org, id)
            .await?
            .ok_or(Error::NotFound {
                what: "that breach",
            })
    }

    /// Who has been told of breach `id`, oldest first. Errors: `forbidden`; `not_found`.
    pub async fn breach_notices(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BreachId,
    ) -> Result<Vec<BreachNotice>> {
        let breach = self.breach(actor, org, id).await?;
        self.store().breaches().breach_notices(breach.id).await
    }

    /// Replaces breach `id`'s notice after checking it (see `NoticeTemplate::check`); the
    /// same words again change nothing and add no entry. Errors: `forbidden`; `not_found`;
    /// `invalid_input` on `notice_subject` or `notice_body`.
    pub async fn set_breach_notice(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BreachId,
        notice: NoticeTemplate,
    ) -> Result<()> {
        let breach = self.breach(actor, org, id).await?;
        notice.check()?;
        if breach.notice == notice {
            return Ok(());
        }
        let mut tx = self.store().begin().await?;
        tx.breaches().set_breach_notice(org, id, &notice).await?;
        tx.commit(NewAuditEntry::new(
            self.clock().now(),
            actor,
            Some(org),
            AuditKind::BreachNoticeEdited,
            serde_json::json!({
                "breach": id,
                "notice_sha256": notice.digest(),
                "left_to_fill": notice.left_to_fill().is_some(),
            }),
        ))
        .await?;
        Ok(())
    }

    /// Records that the supervisory authority was told of breach `id`, at `at` (now when
    /// `None`: an authority told by phone or through its portal before this was recorded is
    /// recorded with the time it was told). True if this recorded it, false if it was
    /// recorded already (the first time stays). Errors: `forbidden`; `not_found`;
    /// `invalid_input` on `reported_at` when `at` is in the future or before the window.
    pub async fn record_breach_reported(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BreachId,
        at: Option<Timestamp>,
    ) -> Result<bool> {
        let breach = self.breach(actor, org, id).await?;
        if breach.reported_at.is_some() {
            return Ok(false);
        }
        let now = self.clock().now();
        let at = at.unwrap_or(now);
        if at > now {
            return Err(Error::invalid(
                "reported_at",
                "the time the authority was told is in the future",
            ));
        }
        if at < breach.from {
            return Err(Error::invalid(
                "reported_at",
                "the time the authority was told is before the incident window starts",
            ));
        }
        let mut tx = self.store().begin().await?;
        if !tx.breaches().set_breach_reported(org, id, at).await? {
            return Ok(false);
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::BreachReported,
            serde_json::json!({ "breach": id, "reported_at": at, "late": at > breach.deadline() }),
        ))
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn breach(reported_at: Option<Timestamp>) -> Breach {
        Breach {
            id: BreachId::from_i64(1),
            org: OrgId::from_i64(1),
            recorded_at: at("2026-12-01T09:00:00Z"),
            recorded_by: "operator:test".to_owned(),
            from: at("2026-12-01T08:00:00Z"),
            to: at("2026-12-01T08:30:00Z"),
            scope: BreachScope::Activity,
            description: "x".to_owned(),
            notice: NoticeTemplate::default(),
            reported_at,
        }
    }

    #[test]
    fn the_deadline_is_72_hours_after_the_breach_was_recorded() {
        let b = breach(None);
        assert_eq!(b.deadline(), at("2026-12-04T09:00:00Z"));
        assert_eq!(
            b.deadline_state(at("2026-12-04T07:30:00Z")),
            DeadlineState::Open { minutes_left: 90 }
        );
        assert_eq!(
            b.deadline_state(at("2026-12-04T10:00:00Z")),
            DeadlineState::Overdue { minutes_over: 60 }
        );
        assert_eq!(
            b.deadline_state(at("2026-12-04T09:00:00Z")),
            DeadlineState::Open { minutes_left: 0 }
        );
        assert_eq!(
            b.deadline_state(at("2026-12-04T09:00:01Z")),
            DeadlineState::Overdue { minutes_over: 1 },
            "a second past the deadline is overdue"
        );
        assert_eq!(
            b.deadline_state(at("2026-12-04T08:59:59Z")),
            DeadlineState::Open { minutes_left: 0 }
        );
        let told = breach(Some(at("2026-12-05T09:00:00Z")));
        assert_eq!(
            told.deadline_state(at("2026-12-06T00:00:00Z")),
            DeadlineState::Reported {
                at: at("2026-12-05T09:00:00Z"),
                late: true
            }
        );
    }

    #[test]
    fn a_window_must_end_after_it_starts_and_start_in_the_past() {
        let now = at("2026-12-01T12:00:00Z");
        assert!(check_window(at("2026-12-01T08:00:00Z"), at("2026-12-01T09:00:00Z"), now).is_ok());
        assert!(check_window(at("2026-12-01T09:00:00Z"), at("2026-12-01T08:00:00Z"), now).is_err());
        assert!(check_window(at("2026-12-01T09:00:00Z"), at("2026-12-01T09:00:00Z"), now).is_err());
        assert!(check_window(at("2026-12-02T09:00:00Z"), at("2026-12-02T10:00:00Z"), now).is_err());
        assert!(
            check_window(at("2026-12-01T09:00:00Z"), at("2026-12-01T12:00:01Z"), now).is_err(),
            "an end in the future"
        );
        assert!(check_description("a\u{0}b").is_err());
        assert!(check_description("  ").is_err());
        assert_eq!(minutes_in_words(4205), "70 h 5 min");
        assert_eq!(minutes_in_words(45), "45 min");
        assert!(check_description(&"x".repeat(MAX_DESCRIPTION + 1)).is_err());
    }
}
