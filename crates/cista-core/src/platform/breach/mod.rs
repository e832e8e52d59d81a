//! Breach assessment (GDPR Art. 33/34; issue 14, item 2, first part): for an incident window,
//! the people whose data it could have touched, by subject code, with counts per kind of data,
//! read from the audit log (every change and every read of personal data is an entry naming
//! the subject) and, for an incident that exposed the whole database, from the membership
//! list. Erased people are listed as erased: they are never to be contacted. The assessment is
//! itself an audit entry.
//!
//! A breach is then recorded (`record`: the window, what happened, the 72-hour deadline to
//! tell the supervisory authority) and the people concerned are told through the outbox
//! (`notify`), in words staff edit (`template`).

pub mod notify;
pub mod record;
pub mod template;

pub use notify::NotifyOutcome;
pub use record::{
    Breach, BreachId, BreachNotice, DeadlineState, NewBreach, NoticeDelivery, REGULATOR_DEADLINE,
    minutes_in_words,
};
pub use template::NoticeTemplate;

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_types::{OrgId, SubjectCode, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;

/// Whose data the incident could have touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachScope {
    /// The people named by what happened in the window (reads, changes, sign-ins, votes,
    /// records): an incident that exposed what the instance handled then.
    Activity,
    /// Also every member of the organization: an incident that exposed the stored data.
    Members,
}

impl BreachScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Members => "members",
        }
    }

    /// What the scope takes in, for pages and notices.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Activity => "the people named by what happened in the window",
            Self::Members => "every member, and the people named by what happened in the window",
        }
    }

    /// `activity` or `members`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "activity" => Ok(Self::Activity),
            "members" => Ok(Self::Members),
            _ => Err(Error::invalid(
                "scope",
                "the scope is activity (the people named in the window) or members (also \
                 every member of the organization)",
            )),
        }
    }
}

/// Whether a person is erased (their vault entry destroyed, a tombstone left) and whether
/// an email address is on file for them (`Cista::vault_standing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VaultStanding {
    pub(crate) erased: bool,
    pub(crate) has_email: bool,
}

/// One person the incident could have touched.
#[derive(Debug, Clone, Serialize)]
pub struct AffectedPerson {
    /// The subject code, as text.
    pub subject: String,
    #[serde(skip)]
    pub code: SubjectCode,
    /// Erased: never contacted.
    pub erased: bool,
    /// Kind of data → how many audit entries (or 1 for a membership) touch it.
    pub kinds: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreachAssessment {
    pub from: Timestamp,
    pub to: Timestamp,
    pub scope: BreachScope,
    pub assessed_at: Timestamp,
    pub people: Vec<AffectedPerson>,
}

impl BreachAssessment {
    /// How many can be told (not erased).
    pub fn to_notify(&self) -> usize {
        self.people.iter().filter(|p| !p.erased).count()
    }
}

/// The kind of personal data an audit entry's kind is about.
pub fn kind_of_data(entry_kind: &str) -> &'static str {
    let family = entry_kind.split('.').next().unwrap_or("");
    match family {
        "person" | "member" | "invitation" => "contact details and membership",
        "password" | "sign_in" | "mfa" | "session" | "sessions" | "sms" | "reset" => {
            "account and sign-ins"
        }
        "vote" | "ballot" | "paper" | "unit" | "units" | "roster" => "votes and units",
        "submission" | "record" | "review" | "result" | "assessment" | "export" => {
            "answers, results and records"
        }
        "device" | "devices" => "phones",
        _ => "other records of your activity",
    }
}

/// Refuses control characters other than line breaks and tabs (PostgreSQL's `text` refuses
/// NUL, and none belongs in a notice). Errors: `invalid_input` on `field`.
pub(crate) fn refuse_control(field: &str, text: &str) -> Result<()> {
    if cista_types::controls::has_stray_control(text) {
        return Err(Error::invalid(field, "remove the control characters"));
    }
    Ok(())
}

/// Whether an entry names someone only as invited to join from another organization: the
/// invitation sent or withdrawn, or its link refused. The organization holds nothing of
/// theirs until they accept (`member.joined`, which counts), so a breach of it tells them
/// nothing; nor do its staff learn of someone who never joined through a breach's list.
fn only_invited(kind: &str, details: &str) -> bool {
    match kind {
        "member.join_invited" | "member.join_withdrawn" => true,
        "token.rejected" => serde_json::from_str::<serde_json::Value>(details)
            .is_ok_and(|v| v.get("purpose").and_then(serde_json::Value::as_str) == Some("join")),
        _ => false,
    }
}

/// Every subject code an entry names: its actor, and `subject` / `subjects` in its details.
fn subjects_named(actor: &str, details: &str) -> Vec<SubjectCode> {
    let mut out = Vec::new();
    if let Some(code) = actor.strip_prefix("subject:")
        && let Ok(subject) = SubjectCode::parse(code)
    {
        out.push(subject);
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(details) else {
        return out;
    };
    let mut codes: Vec<&serde_json::Value> = Vec::new();
    if let Some(one) = value.get("subject") {
        codes.push(one);
    }
    if let Some(many) = value.get("subjects").and_then(serde_json::Value::as_array) {
        codes.extend(many);
    }
    for code in codes {
        let text = match code {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if let Ok(subject) = SubjectCode::parse(&text) {
            out.push(subject);
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Cista {
    /// Who an incident window could have touched (see `assess_breach`), without the audit
    /// entry: for a recorded breach's page and its notices, which are audited themselves.
    pub(crate) async fn affected_people(
        &self,
        org: OrgId,
        (from, to): (Timestamp, Timestamp),
        scope: BreachScope,
    ) -> Result<Vec<AffectedPerson>> {
        let mut found: BTreeMap<SubjectCode, BTreeMap<&'static str, u64>> = BTreeMap::new();
        self.for_each_org_audit_entry(org, (from, to), |entry| {
            // A breach's own entries (its notices name the people told) are the response,
            // not the incident: a later breach's window over them must not list them.
            if entry.kind.starts_with("breach.") || only_invited(&entry.kind, &entry.details) {
                return;
            }
            for subject in subjects_named(&entry.actor, &entry.details) {
                *found
                    .entry(subject)
                    .or_default()
                    .entry(kind_of_data(&entry.kind))
                    .or_default() += 1;
            }
        })
        .await?;
        if scope == BreachScope::Members {
            for member in self.store().members(org).await? {
                *found
                    .entry(member.subject)
                    .or_default()
                    .entry(kind_of_data("member"))
                    .or_default() += 1;
            }
        }
        let subjects: Vec<SubjectCode> = found.keys().copied().collect();
        let standing = self.vault_standing(&subjects).await?;
        Ok(found
            .into_iter()
            .map(|(subject, kinds)| AffectedPerson {
                subject: subject.to_string(),
                code: subject,
                erased: standing.get(&subject).is_some_and(|s| s.erased),
                kinds,
            })
            .collect())
    }

    /// Where each of `subjects` stands in the vault: one read of the vault for them all, and
    /// one more for each who is no longer in it (to tell the erased from the never stored).
    pub(crate) async fn vault_standing(
        &self,
        subjects: &[SubjectCode],
    ) -> Result<BTreeMap<SubjectCode, VaultStanding>> {
        let stored: BTreeMap<SubjectCode, bool> = self
            .vault()
            .people(subjects)
            .await?
            .into_iter()
            .map(|p| (p.subject, p.email_index.is_some()))
            .collect();
        let mut standing = BTreeMap::new();
        for subject in subjects {
            let known = match stored.get(subject) {
                Some(has_email) => VaultStanding {
                    erased: false,
                    has_email: *has_email,
                },
                None => VaultStanding {
                    erased: self.vault().tombstone(*subject).await?.is_some(),
                    has_email: false,
                },
            };
            standing.insert(*subject, known);
        }
        Ok(standing)
    }

    /// The people of `org` an incident between `from` and `to` could have touched. Staff who
    /// manage breaches, and the operator. Errors: `invalid_input` on `window` when it ends
    /// before it starts; `forbidden` otherwise.
    pub async fn assess_breach(
        &self,
        actor: &Actor,
        org: OrgId,
        (from, to): (Timestamp, Timestamp),
        scope: BreachScope,
    ) -> Result<BreachAssessment> {
        actor.authorize_in(org, OrgAction::ManageBreaches)?;
        record::check_window(from, to, self.clock().now())?;
        let people = self.affected_people(org, (from, to), scope).await?;
        let assessed_at = self.clock().now();
        self.store()
            .append_audit(NewAuditEntry::new(
                assessed_at,
                actor,
                Some(org),
                AuditKind::BreachAssessed,
                serde_json::json!({
                    "from": from,
                    "to": to,
                    "scope": scope,
                    "people": people.len(),
                }),
            ))
            .await?;
        Ok(BreachAssessment {
            from,
            to,
            scope,
            assessed_at,
            people,
        })
    }
}
