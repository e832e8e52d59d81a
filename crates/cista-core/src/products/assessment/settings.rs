//! What a firm decides about one of its assessments, for every version (issue 12, items 5 and
//! 6): which of its staff are told of each new result, whether that email links to the result
//! in the portal (the default: the report stays behind a sign-in) or carries the report as a
//! PDF, and how long de-identified results are kept (the default, as the seed promises:
//! indefinitely). Changes are audited. The retention period is applied by the server's hourly
//! housekeeping (`apply_retention`): a result past it is deleted, and its client's name and
//! email, if still held, are erased with it.

use super::{AssessmentAction, AssessmentAuditKind};
use crate::platform::audit::NewAuditEntry;
use crate::platform::intake::FormProduct;
use crate::ports::StoredFormSettings;
use crate::{Actor, Cista, Error, Result};
use cista_types::{FormId, OrgId, Role, SubjectCode};
use time::Duration;

/// The longest retention period a form may set, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_600;

/// The most staff one form may notify.
pub const MAX_NOTIFIED: usize = 20;

/// Results deleted per form and pass of the housekeeping; the rest go at the next pass.
const RETENTION_BATCH: u64 = 500;

/// A form's settings; the default is what a form has before anyone changed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssessmentSettings {
    /// Staff told of each new result.
    pub notify: Vec<SubjectCode>,
    /// The email carries the report (PDF) instead of a link to it.
    pub attach_report: bool,
    /// Results older than this many days are deleted; `None`: kept indefinitely.
    pub retention_days: Option<u32>,
}

/// A member of staff who may be told of results, for the settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffChoice {
    pub subject: SubjectCode,
    pub role: Role,
    /// "First Last"; `None` if the person was erased.
    pub name: Option<String>,
}

/// Roles whose members may be told of results: those who may see them.
fn may_be_told(role: Role) -> bool {
    AssessmentAction::ViewResults.role_may(role)
}

impl From<StoredFormSettings> for AssessmentSettings {
    fn from(s: StoredFormSettings) -> Self {
        Self {
            notify: s.notify,
            attach_report: s.attach_report,
            retention_days: s.retention_days,
        }
    }
}

impl Cista {
    /// The settings of `org`'s assessment `key` (the defaults if never changed).
    pub async fn assessment_settings(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
    ) -> Result<AssessmentSettings> {
        actor.authorize_in(org, AssessmentAction::ViewResults)?;
        self.newest_assessment(org, key).await?;
        self.settings_of(org, key).await
    }

    pub(crate) async fn settings_of(&self, org: OrgId, key: &str) -> Result<AssessmentSettings> {
        Ok(self
            .store()
            .intake()
            .form_settings(org, key)
            .await?
            .map(AssessmentSettings::from)
            .unwrap_or_default())
    }

    /// The staff of `org` who may be told of results of `key` (owners, administrators,
    /// advisors), with their names (an audited vault read); whom it tells now is in its
    /// settings (`assessment_settings`).
    pub async fn notify_choices(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
    ) -> Result<Vec<StaffChoice>> {
        actor.authorize_in(org, AssessmentAction::Manage)?;
        self.newest_assessment(org, key).await?;
        let staff: Vec<_> = self
            .store()
            .members(org)
            .await?
            .into_iter()
            .filter(|m| may_be_told(m.role))
            .collect();
        let mut choices = Vec::with_capacity(staff.len());
        for member in &staff {
            let name = match self.vault().person(member.subject).await? {
                Some(person) => {
                    let f = self.open_person(&person).await?;
                    Some(format!("{} {}", f.first_name, f.last_name))
                }
                None => None,
            };
            choices.push(StaffChoice {
                subject: member.subject,
                role: member.role,
                name,
            });
        }
        let codes: Vec<String> = staff.iter().map(|m| m.subject.to_string()).collect();
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                crate::platform::audit::AuditKind::PersonRead,
                serde_json::json!({ "subjects": codes, "purpose": "who is told of results" }),
            ))
            .await?;
        choices.sort_by_key(|c| (c.role, c.name.clone()));
        Ok(choices)
    }

    /// Changes the settings of `org`'s assessment `key`, audited. Everyone told must be staff
    /// of `org` who may see results (else `invalid_input` on `notify`); a retention period is
    /// 1 to `MAX_RETENTION_DAYS` days.
    pub async fn change_assessment_settings(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
        settings: AssessmentSettings,
    ) -> Result<()> {
        actor.authorize_in(org, AssessmentAction::Manage)?;
        self.newest_assessment(org, key).await?;
        let mut notify = settings.notify;
        notify.sort();
        notify.dedup();
        if notify.len() > MAX_NOTIFIED {
            return Err(Error::invalid(
                "notify",
                format!("choose at most {MAX_NOTIFIED} people to tell of results"),
            ));
        }
        for subject in &notify {
            let member = self.store().membership(org, *subject).await?;
            if !member.is_some_and(|m| may_be_told(m.role)) {
                return Err(Error::invalid(
                    "notify",
                    "only owners, administrators and advisors of this organization can be told \
                     of results",
                ));
            }
        }
        if let Some(days) = settings.retention_days
            && !(1..=MAX_RETENTION_DAYS).contains(&days)
        {
            return Err(Error::invalid(
                "retention_days",
                format!(
                    "keep results from 1 to {MAX_RETENTION_DAYS} days, or leave it empty to keep \
                     them indefinitely"
                ),
            ));
        }
        let now = self.clock().now();
        let stored = StoredFormSettings {
            org,
            key: key.to_owned(),
            notify,
            attach_report: settings.attach_report,
            retention_days: settings.retention_days,
            updated_at: now,
        };
        let codes: Vec<String> = stored.notify.iter().map(ToString::to_string).collect();
        let mut tx = self.store().begin().await?;
        tx.intake().put_form_settings(&stored).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AssessmentAuditKind::SettingsChanged,
            serde_json::json!({
                "form": key,
                "notify": codes,
                "attach_report": stored.attach_report,
                "retention_days": stored.retention_days,
            }),
        ))
        .await?;
        Ok(())
    }

    /// Deletes every assessment result older than its form's retention period, with its
    /// client's name and email if they are still held (a tombstone keeps them erased through
    /// any restore). One audit entry per form and pass. Returns how many results went.
    /// Housekeeping: the server runs it hourly.
    pub async fn apply_retention(&self) -> Result<u64> {
        let mut deleted = 0;
        for settings in self.store().intake().retention_settings().await? {
            let Some(days) = settings.retention_days else {
                continue;
            };
            deleted += self.expire_results(&settings, days).await?;
        }
        Ok(deleted)
    }

    async fn expire_results(&self, settings: &StoredFormSettings, days: u32) -> Result<u64> {
        let org = settings.org;
        let forms: Vec<FormId> = self
            .store()
            .intake()
            .form_versions(org, &settings.key)
            .await?
            .into_iter()
            .filter(|f| f.product == FormProduct::Assessment.as_str())
            .map(|f| f.id)
            .collect();
        if forms.is_empty() {
            return Ok(0);
        }
        let now = self.clock().now();
        let cutoff = now.plus(-Duration::days(i64::from(days)));
        let expired = self
            .store()
            .intake()
            .submissions_before(org, &forms, cutoff, RETENTION_BATCH)
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let mut clients = Vec::with_capacity(expired.len());
        for submission in &expired {
            // The client goes first: a crash after this leaves a result whose client is
            // erased (as after a purge), never a client nobody can find any more.
            let subject = self.stored_result(submission).await?.subject;
            self.vault().erase_person(subject, now).await?;
            clients.push((submission.id, subject));
        }
        let mut tx = self.store().begin().await?;
        // Only what this pass deleted is recorded: another server process may have deleted
        // some of them first, and recorded those itself.
        let mut subjects = Vec::with_capacity(clients.len());
        for (submission, subject) in clients {
            if tx.intake().delete_submission(submission).await? {
                subjects.push(subject.to_string());
            }
        }
        let count = subjects.len() as u64;
        if count == 0 {
            // Another server process deleted them all first: nothing to record.
            tx.commit_housekeeping().await?;
            return Ok(0);
        }
        tx.commit(NewAuditEntry::new(
            now,
            &Actor::System,
            Some(org),
            AssessmentAuditKind::ResultsExpired,
            serde_json::json!({
                "form": settings.key,
                "retention_days": days,
                "received_before": cutoff.to_rfc3339(),
                "results": count,
                "subjects_erased": subjects,
            }),
        ))
        .await?;
        Ok(count)
    }
}
