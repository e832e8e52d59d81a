//! Subject access and portability (GDPR Art. 15 and 20; issue 14, item 6): everything Cista
//! holds about one person, gathered in one place for them or for staff who answer their
//! request: the vault's fields, the account, memberships, units, votes (the choices only where
//! the ballot recorded them against the unit and has closed: a secret ballot's choice is in no
//! one's reach, and no ballot's choices are before its count, FL-09),
//! assessment results about them, records they collected, their phones, and the audit entries
//! that name them. Each production is itself an audit entry. Erased people get what is left:
//! the tombstone's date and the entries that name their code.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{BallotStatus, Membership};
use crate::products::voting::definition::{BallotDefinition, Secrecy};
use crate::{Action, Actor, Cista, Error, OrgAction, Result};
use cista_types::{OrgId, SubjectCode, Timestamp};
use serde::Serialize;

/// Everything held about one person, in the shape the JSON download has.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectAccessReport {
    pub generated_at: Timestamp,
    /// The subject code, as text (JSON numbers lose digits past 2^53).
    pub subject: String,
    /// Set when the person was erased: the fields below are then what erasure leaves.
    pub erased_at: Option<Timestamp>,
    pub person: Option<PersonData>,
    pub account: Option<AccountData>,
    pub memberships: Vec<MembershipData>,
    pub units: Vec<UnitData>,
    pub votes: Vec<VoteData>,
    pub assessment_results: Vec<SubmissionData>,
    pub records: Vec<SubmissionData>,
    pub devices: Vec<DeviceData>,
    pub audit_entries: Vec<AuditData>,
}

/// The vault's fields.
#[derive(Debug, Clone, Serialize)]
pub struct PersonData {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The account: never the password hash or the authenticator's secret, only that they exist.
#[derive(Debug, Clone, Serialize)]
pub struct AccountData {
    pub status: String,
    pub created_at: Timestamp,
    pub password_set: bool,
    pub password_changed_at: Option<Timestamp>,
    pub authenticator_enrolled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MembershipData {
    pub organization: String,
    pub slug: String,
    pub role: String,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitData {
    pub organization: String,
    pub unit: String,
    pub voting_interest: String,
    /// The owner who votes for a unit with several.
    pub designated_voter: bool,
    pub consent: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoteData {
    pub organization: String,
    pub ballot: String,
    pub unit: String,
    /// `online`, `online, signed in by SMS`, `on paper`.
    pub channel: String,
    pub at: Timestamp,
    /// A secret ballot: the choice was never recorded against the unit, so it is not here.
    pub secret: bool,
    /// Whether this person cast it (another owner of the unit may have).
    pub cast_by_this_person: bool,
    /// The ballot has not closed: a recorded ballot's choices are sealed until it has (FL-09:
    /// staff who answer the request could add the choices of every owner up to a count), so
    /// they are not here yet.
    pub sealed_until_close: bool,
    /// Each contest's title and the choices, where the ballot recorded them against the unit
    /// and has closed; empty for a secret ballot, and for one not closed.
    pub choices: Vec<(String, Vec<String>)>,
}

/// An assessment result about the person, or a record they collected.
#[derive(Debug, Clone, Serialize)]
pub struct SubmissionData {
    pub organization: String,
    pub form: String,
    pub id: String,
    pub received_at: Timestamp,
    /// What was submitted, as stored.
    pub content: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceData {
    pub organization: String,
    pub name: String,
    pub state: String,
    pub last_used_at: Option<Timestamp>,
    pub uses: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditData {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: String,
    /// Whether the person did it (otherwise the entry names them).
    pub by_this_person: bool,
    pub details: serde_json::Value,
}

impl Cista {
    /// Everything held about `subject`, for the person themselves, for staff who may read
    /// people in an organization the person belongs to (or holds a result about them), or for
    /// the operator. Recorded in the audit log (who asked for whose data, never the data).
    /// Errors: `forbidden` for anyone else, `not_found` for a code Cista never knew.
    pub async fn subject_access(
        &self,
        actor: &Actor,
        subject: SubjectCode,
    ) -> Result<SubjectAccessReport> {
        let all_memberships = self.store().memberships_of(subject).await?;
        // Their own (a full sign-in: an SMS session may only vote) or the operator's answer to
        // a request sees everything; staff see only what their own organizations hold (an
        // administrator of one association learns nothing of the person's other ones).
        let own = actor
            .person()
            .is_some_and(|p| p.subject == subject && p.access == crate::Access::Full);
        let scope = access_scope(actor, own);
        let in_scope = |org: OrgId| scope.as_ref().is_none_or(|s| s.contains(&org));
        let memberships: Vec<Membership> = all_memberships
            .into_iter()
            .filter(|m| in_scope(m.org))
            .collect();
        let orgs = orgs_to_search(actor, scope.as_ref(), &memberships);
        let about = self.submissions_about(subject, &orgs).await?;
        if scope.is_some() && memberships.is_empty() && about.is_empty() {
            return Err(Error::Forbidden {
                action: OrgAction::ViewPeople.describe(),
            });
        }
        let erased_at = self.vault().tombstone(subject).await?;
        let vault = self.vault().person(subject).await?;
        let account = self.store().account(subject).await?;
        if vault.is_none() && erased_at.is_none() && account.is_none() && memberships.is_empty() {
            return Err(Error::NotFound {
                what: "this person",
            });
        }
        let mut report = SubjectAccessReport {
            generated_at: self.clock().now(),
            subject: subject.to_string(),
            erased_at,
            person: match &vault {
                Some(person) => {
                    let f = self.open_person(person).await?;
                    Some(PersonData {
                        first_name: f.first_name.to_string(),
                        last_name: f.last_name.to_string(),
                        email: f.email.map(|e| e.as_str().to_owned()),
                        phone: f.phone.map(|p| p.as_str().to_owned()),
                    })
                }
                None => None,
            },
            account: account.map(|a| AccountData {
                status: format!("{:?}", a.status).to_lowercase(),
                created_at: a.created_at,
                password_set: a.password_hash.is_some(),
                password_changed_at: a.password_changed_at,
                authenticator_enrolled: a.totp_secret.is_some(),
            }),
            memberships: Vec::new(),
            units: Vec::new(),
            votes: Vec::new(),
            assessment_results: Vec::new(),
            records: Vec::new(),
            devices: Vec::new(),
            audit_entries: Vec::new(),
        };
        report.memberships = self.memberships_data(&memberships).await?;
        self.units_and_votes(subject, &in_scope, &mut report)
            .await?;
        let staff_org = about
            .iter()
            .map(|(org, _, _)| *org)
            .chain(memberships.iter().map(|m| m.org))
            .find(|_| !own);
        for (_, is_record, data) in about {
            if is_record {
                report.records.push(data);
            } else {
                report.assessment_results.push(data);
            }
        }
        for org in memberships.iter().map(|m| m.org) {
            let name = self.org_label(org).await?;
            for device in self
                .store()
                .collection()
                .devices_of(org, Some(subject))
                .await?
            {
                report.devices.push(DeviceData {
                    organization: name.clone(),
                    name: device.name.clone(),
                    state: device.state(report.generated_at).as_str().to_owned(),
                    last_used_at: device.last_used_at,
                    uses: device.use_count,
                });
            }
        }
        report.audit_entries = self.audit_entries_about(subject, &in_scope).await?;
        self.store()
            .append_audit(NewAuditEntry::new(
                report.generated_at,
                actor,
                staff_org,
                AuditKind::PersonRead,
                serde_json::json!({
                    "subjects": [subject.to_string()],
                    "purpose": "subject access request (GDPR Art. 15)",
                }),
            ))
            .await?;
        Ok(report)
    }

    async fn org_label(&self, org: OrgId) -> Result<String> {
        Ok(self
            .store()
            .organization(org)
            .await?
            .map(|o| o.name.to_string())
            .unwrap_or_else(|| format!("organization {}", org.as_i64())))
    }

    async fn memberships_data(&self, memberships: &[Membership]) -> Result<Vec<MembershipData>> {
        let mut out = Vec::new();
        for m in memberships {
            let org = self.store().organization(m.org).await?;
            out.push(MembershipData {
                organization: org.as_ref().map(|o| o.name.to_string()).unwrap_or_default(),
                slug: org.map(|o| o.slug.to_string()).unwrap_or_default(),
                role: m.role.as_str().to_owned(),
                since: m.created_at,
            });
        }
        Ok(out)
    }

    /// The units the person owns and every vote cast for them, with the choices where the
    /// ballot recorded them.
    async fn units_and_votes(
        &self,
        subject: SubjectCode,
        in_scope: &(dyn Fn(OrgId) -> bool + Sync),
        report: &mut SubjectAccessReport,
    ) -> Result<()> {
        let voting = self.store().voting();
        for owner in voting.owned_units(subject).await? {
            let Some(unit) = voting.unit(owner.unit).await?.filter(|u| in_scope(u.org)) else {
                continue;
            };
            let organization = self.org_label(unit.org).await?;
            report.units.push(UnitData {
                organization: organization.clone(),
                unit: unit.label.to_string(),
                voting_interest: unit.weight.to_string(),
                designated_voter: owner.designated,
                consent: format!("{:?}", unit.consent).to_lowercase(),
            });
            for ballot in voting.ballots(unit.org).await? {
                let Some(cast) = voting.participation_of(ballot.id, unit.id).await? else {
                    continue;
                };
                let definition = BallotDefinition::from_json(&ballot.definition)?;
                let recorded = definition.secrecy == Secrecy::Recorded;
                // No choice before the count is final: a cancelled ballot is never counted.
                let sealed = recorded && ballot.status != BallotStatus::Closed;
                let mut choices = Vec::new();
                if recorded
                    && !sealed
                    && let Some(entry) = voting.box_entry_of_unit(ballot.id, unit.id).await?
                {
                    choices = self
                        .open_box_entry(unit.org, &entry)
                        .await?
                        .describe(&definition);
                }
                report.votes.push(VoteData {
                    organization: organization.clone(),
                    ballot: definition.title.clone(),
                    unit: unit.label.to_string(),
                    channel: channel_words(cast.channel).to_owned(),
                    at: cast.at,
                    secret: definition.secrecy == Secrecy::Secret,
                    cast_by_this_person: cast.voter == Some(subject),
                    sealed_until_close: sealed,
                    choices,
                });
            }
        }
        Ok(())
    }

    /// Assessment results whose client is the person, and records they collected, in `orgs`:
    /// (organization, whether a record, the data).
    async fn submissions_about(
        &self,
        subject: SubjectCode,
        orgs: &[OrgId],
    ) -> Result<Vec<(OrgId, bool, SubmissionData)>> {
        let collector = Actor::audit_name_of(subject);
        let mut out = Vec::new();
        for &org in orgs {
            let forms = self.store().intake().forms_of(org).await?;
            let ids: Vec<_> = forms.iter().map(|f| f.id).collect();
            if ids.is_empty() {
                continue;
            }
            let name = self.org_label(org).await?;
            for stored in self
                .store()
                .intake()
                .submissions_of(org, &ids, None, u64::MAX)
                .await?
            {
                let Some(form) = forms.iter().find(|f| f.id == stored.form) else {
                    continue;
                };
                let is_record = stored.submitted_by == collector;
                let is_assessment =
                    form.product == crate::platform::intake::FormProduct::Assessment.as_str();
                if !is_record && !is_assessment {
                    continue;
                }
                // One decryption per submission: the payload says whose result it is.
                let content = self.open_payload(&stored).await?;
                let is_result = !is_record
                    && serde_json::from_value::<crate::products::assessment::submit::StoredResult>(
                        content.clone(),
                    )
                    .is_ok_and(|r| r.subject == subject);
                if !is_record && !is_result {
                    continue;
                }
                out.push((
                    org,
                    is_record,
                    SubmissionData {
                        organization: name.clone(),
                        form: format!("{} (version {})", form.key, form.version),
                        id: stored.id.to_string(),
                        received_at: stored.received_at,
                        content,
                    },
                ));
            }
        }
        Ok(out)
    }

    /// Every audit entry the person made or that names their code (as a value of its details,
    /// not as a part of a longer number). Other people's codes in an entry that names several
    /// (a staff page's read of many people) are left out and counted.
    async fn audit_entries_about(
        &self,
        subject: SubjectCode,
        in_scope: &(dyn Fn(OrgId) -> bool + Sync),
    ) -> Result<Vec<AuditData>> {
        let code = subject.to_string();
        let actor = Actor::audit_name_of(subject);
        let mut out = Vec::new();
        self.for_each_audit_entry_naming((&actor, &code), |entry| {
            let by = entry.actor == actor;
            // Instance-wide entries (sign-ins, password changes) have no organization.
            if !entry.org.is_none_or(in_scope) {
                return;
            }
            let mut details: serde_json::Value =
                serde_json::from_str(&entry.details).unwrap_or(serde_json::Value::Null);
            if !by && !names_subject(&details, subject) {
                return;
            }
            keep_only_subject(&mut details, subject);
            out.push(AuditData {
                seq: entry.seq,
                at: entry.at,
                kind: entry.kind,
                by_this_person: by,
                details,
            });
        })
        .await?;
        Ok(out)
    }
}

/// Whether `subject`'s code is a value somewhere in `details` (a string or a number).
fn names_subject(details: &serde_json::Value, subject: SubjectCode) -> bool {
    use serde_json::Value;
    match details {
        Value::String(s) => s.parse::<i64>() == Ok(subject.as_i64()),
        Value::Number(n) => n.as_i64() == Some(subject.as_i64()),
        Value::Array(items) => items.iter().any(|v| names_subject(v, subject)),
        Value::Object(fields) => fields.values().any(|v| names_subject(v, subject)),
        Value::Null | Value::Bool(_) => false,
    }
}

/// Cuts every list of subject codes in `details` (`"subjects": [...]`, as a read of personal
/// data records them; `"subjects_erased"`, as an expiry does) down to `subject` alone, and
/// records how many others they named (`other_subjects`).
fn keep_only_subject(details: &mut serde_json::Value, subject: SubjectCode) {
    let Some(fields) = details.as_object_mut() else {
        return;
    };
    let mut others = 0;
    for value in fields.values_mut() {
        let serde_json::Value::Array(items) = value else {
            continue;
        };
        if items.is_empty() || !items.iter().all(is_code) {
            continue;
        }
        let before = items.len();
        items.retain(|v| names_subject(v, subject));
        others += before - items.len();
    }
    if others > 0 {
        fields.insert("other_subjects".to_owned(), serde_json::json!(others));
    }
}

/// Whether `value` has the shape of a subject code: a whole number, or text of one.
fn is_code(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.parse::<i64>().is_ok(),
        serde_json::Value::Number(n) => n.is_i64(),
        _ => false,
    }
}

fn channel_words(channel: crate::ports::VoteChannel) -> &'static str {
    match channel {
        crate::ports::VoteChannel::Web => "online",
        crate::ports::VoteChannel::SmsSession => "online, signed in by SMS",
        crate::ports::VoteChannel::Paper => "on paper",
    }
}

/// The organizations whose data `actor` may see in a report: `None` (everything) for the
/// person themselves (`own`) and the operator; otherwise those where the actor may read people.
fn access_scope(actor: &Actor, own: bool) -> Option<std::collections::BTreeSet<OrgId>> {
    if own || actor.may(Action::ErasePersonAnywhere) {
        return None;
    }
    Some(
        actor
            .person()
            .map(|p| {
                p.roles
                    .keys()
                    .copied()
                    .filter(|org| actor.may_in(*org, OrgAction::ViewPeople))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// Where to look for results about the person and records they sent: their organizations in
/// scope, and (staff may answer for a client who is no member) the staff's own.
fn orgs_to_search(
    actor: &Actor,
    scope: Option<&std::collections::BTreeSet<OrgId>>,
    memberships: &[Membership],
) -> Vec<OrgId> {
    let mut orgs: Vec<OrgId> = match scope {
        Some(visible) => visible.iter().copied().collect(),
        None => memberships.iter().map(|m| m.org).collect(),
    };
    if scope.is_none()
        && let Some(p) = actor.person()
    {
        orgs.extend(
            p.roles
                .keys()
                .filter(|org| actor.may_in(**org, OrgAction::ViewPeople)),
        );
    }
    orgs.sort();
    orgs.dedup();
    orgs
}
