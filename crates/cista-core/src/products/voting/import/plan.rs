//! Comparing a checked file with the roster on file: who each owner is, which units and owner
//! links are added, changed or removed, the warnings to read first, and the fingerprint that
//! ties the preview to this file and this roster.

use super::{
    ImportPlan, PersonRef, Roster, RosterRow, RosterUnit, Target, UnitChange, parse_roster,
};
use crate::error::ImportProblem;
use crate::platform::people::PersonFields;
use crate::ports::{ConsentStatus, Unit, UnitOwner};
use crate::products::voting::VotingAction;
use crate::{Actor, Cista, Result};
use cista_crypto::Digest32;
use cista_types::voting::format_weight_sum;
use cista_types::{OrgId, PhoneRegion, SubjectCode, UnitId};
use std::collections::{BTreeMap, BTreeSet};

fn describe_consent(c: ConsentStatus) -> &'static str {
    match c {
        ConsentStatus::None => "no consent",
        ConsentStatus::Consented => "consented",
        ConsentStatus::OptedOut => "opted out",
    }
}

/// The roster on file, arranged to compare a file with it.
struct OnFile {
    /// The current owners' names (None: erased).
    names: BTreeMap<SubjectCode, Option<PersonFields>>,
    /// The organization's members: the only people a phone number alone may name.
    members: BTreeSet<SubjectCode>,
    /// Units by label key; those left after the file's units are taken are retired.
    by_key: BTreeMap<String, Unit>,
    owners_by_unit: BTreeMap<UnitId, Vec<UnitOwner>>,
}

impl OnFile {
    /// A current owner's name for the preview.
    fn display(&self, s: &SubjectCode) -> String {
        match self.names.get(s) {
            Some(Some(f)) => format!("{} {}", f.first_name, f.last_name),
            _ => "(erased person)".to_owned(),
        }
    }

    /// Whether a person on file has the first and last names of a row, case aside.
    fn same_name(&self, subject: &SubjectCode, row: &RosterRow) -> bool {
        self.names
            .get(subject)
            .and_then(Option::as_ref)
            .is_some_and(|f| {
                f.first_name
                    .as_str()
                    .eq_ignore_ascii_case(row.first_name.as_str())
                    && f.last_name
                        .as_str()
                        .eq_ignore_ascii_case(row.last_name.as_str())
            })
    }
}

/// The people of this file not yet known: one per email (or phone, or name within a unit).
#[derive(Default)]
struct NewPeople {
    by_email: BTreeMap<String, usize>,
    by_phone: BTreeMap<String, usize>,
}

impl Cista {
    /// Parses a file and compares it with the roster on file. Reading the current owners'
    /// names to show the preview is an audited read of personal data.
    pub async fn plan_import(&self, actor: &Actor, org: OrgId, bytes: &[u8]) -> Result<ImportPlan> {
        actor.authorize_in(org, VotingAction::ManageUnits)?;
        let phone_region = self.existing_organization(org).await?.phone_region;
        let roster = parse_roster(bytes, phone_region).map_err(super::rejection)?;
        let existing_units = self.store().voting().units(org).await?;
        let existing_owners = self.store().voting().unit_owners(org).await?;
        let mut on_file = self
            .roster_on_file(actor, org, &existing_units, &existing_owners)
            .await?;
        // The names on file of this roster's owners, for the look-alike check.
        let on_file_names: Vec<String> = on_file
            .names
            .values()
            .flatten()
            .map(|f| format!("{} {}", f.first_name, f.last_name))
            .collect();

        let mut plan = ImportPlan {
            units_added: Vec::new(),
            units_changed: Vec::new(),
            units_retired: Vec::new(),
            units_unchanged: 0,
            owners_added: Vec::new(),
            owners_removed: Vec::new(),
            people_new: 0,
            weight_total: format_weight_sum(roster.weight_total_micros()),
            file_format: roster.format.describe(),
            warnings: roster.weight_total_warning().into_iter().collect(),
            fingerprint: String::new(),
            new_people: Vec::new(),
            targets: Vec::new(),
            retire: Vec::new(),
            unlink: Vec::new(),
        };
        let mut new_people = NewPeople::default();
        let mut problems = Vec::new();
        for unit in &roster.units {
            self.plan_unit(
                &mut plan,
                &mut on_file,
                &mut new_people,
                &mut problems,
                unit,
            )
            .await?;
        }
        if !problems.is_empty() {
            return Err(super::rejection(problems));
        }
        plan_retirements(&mut plan, on_file);
        plan.warnings
            .extend(crate::products::voting::names::owner_warnings(
                &roster,
                &on_file_names,
            ));
        plan.people_new = plan.new_people.len();
        plan.units_added
            .sort_by(|a, b| crate::products::voting::units::natural_cmp(a, b));
        plan.units_retired
            .sort_by(|a, b| crate::products::voting::units::natural_cmp(a, b));
        plan.fingerprint = fingerprint(&roster, phone_region, &existing_units, &existing_owners);
        Ok(plan)
    }

    /// Arranges the units and owners on file, reading the names of the owners who are still
    /// members (an audited read). An erased owner's link stays, nameless: they are no member,
    /// so their name is neither read nor asked for (`read_people` refuses non-members).
    async fn roster_on_file(
        &self,
        actor: &Actor,
        org: OrgId,
        existing_units: &[Unit],
        existing_owners: &[UnitOwner],
    ) -> Result<OnFile> {
        let members = self.member_subjects(org).await?;
        let owner_subjects: Vec<SubjectCode> = existing_owners
            .iter()
            .map(|o| o.subject)
            .filter(|s| members.contains(s))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let names: BTreeMap<SubjectCode, Option<PersonFields>> = if owner_subjects.is_empty() {
            BTreeMap::new()
        } else {
            self.read_people(actor, org, &owner_subjects, "members import preview")
                .await?
                .into_iter()
                .collect()
        };
        let by_key: BTreeMap<String, Unit> = existing_units
            .iter()
            .map(|u| (u.label.key(), u.clone()))
            .collect();
        let mut owners_by_unit: BTreeMap<UnitId, Vec<UnitOwner>> = BTreeMap::new();
        for o in existing_owners {
            owners_by_unit.entry(o.unit).or_default().push(*o);
        }
        Ok(OnFile {
            names,
            members,
            by_key,
            owners_by_unit,
        })
    }

    /// Plans one unit of the file: who its owners are, the owner links added and removed,
    /// and whether the unit is added, changed or unchanged.
    async fn plan_unit(
        &self,
        plan: &mut ImportPlan,
        on_file: &mut OnFile,
        new_people: &mut NewPeople,
        problems: &mut Vec<ImportProblem>,
        unit: &RosterUnit,
    ) -> Result<()> {
        let existing = on_file.by_key.remove(&unit.label.key());
        let current_owners = existing
            .as_ref()
            .and_then(|u| on_file.owners_by_unit.get(&u.id))
            .cloned()
            .unwrap_or_default();
        let mut refs = Vec::new();
        for row in &unit.owners {
            let found = match self.find_owner(row, &current_owners, on_file).await? {
                Ok(found) => found,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            let person = match found {
                Some(subject) => known_person(plan, on_file, subject, row),
                None => new_person(plan, new_people, row),
            };
            refs.push((person, row.designated));
        }
        let label = unit.label.to_string();
        plan_owner_links(
            plan,
            on_file,
            &label,
            unit,
            &refs,
            &current_owners,
            &existing,
        );
        match &existing {
            None => plan.units_added.push(label.clone()),
            Some(u) => {
                let changes = unit_changes(u, unit, &current_owners, &refs);
                if changes.is_empty() {
                    plan.units_unchanged += 1;
                } else {
                    plan.units_changed.push(UnitChange {
                        label: label.clone(),
                        changes,
                    });
                }
            }
        }
        plan.targets.push(Target {
            file_unit: unit.clone(),
            existing,
            owners: refs,
        });
        Ok(())
    }

    /// The known person a row names: by email, else by a phone only one of the
    /// organization's members has, else by name among the unit's current owners.
    ///
    /// A phone number alone never names someone outside the organization: numbers are
    /// passed on to new subscribers, so a row of this roster would otherwise give its
    /// unit's vote to a stranger who once had the number, and show this organization's
    /// staff that stranger's name and email address. Such a row is a new person.
    ///
    /// An email address of someone outside the organization (known from another one) is
    /// refused (`Err` with the problem to report): linking them would make them a member
    /// without their consent and show this organization's staff what another recorded of
    /// them. They are invited to join from the people page first.
    async fn find_owner(
        &self,
        row: &RosterRow,
        current_owners: &[UnitOwner],
        on_file: &OnFile,
    ) -> Result<std::result::Result<Option<SubjectCode>, ImportProblem>> {
        Ok(Ok(match (&row.email, &row.phone) {
            (Some(email), _) => match self.subject_by_email(email).await? {
                Some(s) if !on_file.members.contains(&s) => {
                    return Ok(Err(ImportProblem {
                        line: row.line,
                        column: Some("email".to_owned()),
                        message: "this address belongs to someone who is not a member of this \
                                  organization: invite them from the people page, and import \
                                  the file again once they have accepted"
                            .to_owned(),
                    }));
                }
                found => found,
            },
            (None, Some(phone)) => {
                let mut matches = self
                    .vault()
                    .subjects_by_phone(&self.phone_index(phone)?)
                    .await?;
                matches.retain(|s| on_file.members.contains(s));
                match matches.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                }
            }
            (None, None) => current_owners
                .iter()
                .find(|o| on_file.same_name(&o.subject, row))
                .map(|o| o.subject),
        }))
    }
}

/// A row that names someone known; warns when the details on file differ from the row's.
fn known_person(
    plan: &mut ImportPlan,
    on_file: &OnFile,
    subject: SubjectCode,
    row: &RosterRow,
) -> PersonRef {
    if let Some(Some(f)) = on_file.names.get(&subject) {
        let same = f.first_name.as_str() == row.first_name.as_str()
            && f.last_name.as_str() == row.last_name.as_str()
            && (row.phone.is_none() || f.phone == row.phone);
        if !same {
            plan.warnings.push(format!(
                "line {}: {} {} is on file with other details; the import keeps \
                 the details on file",
                row.line, row.first_name, row.last_name
            ));
        }
    }
    PersonRef::Known(subject)
}

/// A row that names someone not known: the same new person as an earlier row with its
/// email (or, without email, its phone), or a new one.
fn new_person(plan: &mut ImportPlan, new_people: &mut NewPeople, row: &RosterRow) -> PersonRef {
    let reuse = row
        .email
        .as_ref()
        .and_then(|e| new_people.by_email.get(&e.normalized()))
        .or_else(|| {
            if row.email.is_none() {
                row.phone
                    .as_ref()
                    .and_then(|p| new_people.by_phone.get(p.as_str()))
            } else {
                None
            }
        })
        .copied();
    if let Some(i) = reuse {
        return PersonRef::New(i);
    }
    let i = plan.new_people.len();
    plan.new_people.push(row.clone());
    if let Some(e) = &row.email {
        new_people.by_email.insert(e.normalized(), i);
    } else if let Some(p) = &row.phone {
        new_people.by_phone.insert(p.as_str().to_owned(), i);
    }
    if row.email.is_none() && row.phone.is_none() {
        plan.warnings.push(format!(
            "line {}: {} {} has neither email nor phone, so can vote \
             only on paper",
            row.line, row.first_name, row.last_name
        ));
    } else if row.email.is_none() {
        // Said of every such row alike, whether or not someone else has the number, so that
        // the preview tells nothing of other organizations' people (see `find_owner`).
        plan.warnings.push(format!(
            "line {}: {} {} has a phone number but no email: a number signs in by SMS \
             only while no one else on this server has it, so add an email to be sure \
             they can vote online",
            row.line, row.first_name, row.last_name
        ));
    }
    PersonRef::New(i)
}

/// The owner links of one unit the file adds, and those on file it removes.
fn plan_owner_links(
    plan: &mut ImportPlan,
    on_file: &OnFile,
    label: &str,
    unit: &RosterUnit,
    refs: &[(PersonRef, bool)],
    current_owners: &[UnitOwner],
    existing: &Option<Unit>,
) {
    for ((person, _), row) in refs.iter().zip(&unit.owners) {
        let linked = match person {
            PersonRef::Known(s) => current_owners.iter().any(|o| o.subject == *s),
            PersonRef::New(_) => false,
        };
        if !linked {
            plan.owners_added.push((
                label.to_owned(),
                format!("{} {}", row.first_name, row.last_name),
            ));
        }
    }
    for o in current_owners {
        let kept = refs.iter().any(|(p, _)| *p == PersonRef::Known(o.subject));
        if !kept {
            plan.owners_removed
                .push((label.to_owned(), on_file.display(&o.subject)));
            if let Some(u) = existing {
                plan.unlink.push((u.id, o.subject));
            }
        }
    }
}

/// What the file changes in a unit on file, in words; empty when nothing.
fn unit_changes(
    u: &Unit,
    unit: &RosterUnit,
    current_owners: &[UnitOwner],
    refs: &[(PersonRef, bool)],
) -> Vec<String> {
    let mut changes = Vec::new();
    if u.label.as_str() != unit.label.as_str() {
        changes.push(format!("label {} → {}", u.label, unit.label));
    }
    if u.weight != unit.weight {
        changes.push(format!("weight {} → {}", u.weight, unit.weight));
    }
    if let Some(c) = unit.consent.filter(|c| *c != u.consent) {
        changes.push(format!(
            "consent {} → {}",
            describe_consent(u.consent),
            describe_consent(c)
        ));
    }
    if u.retired_at.is_some() {
        changes.push("restored (it had been removed)".to_owned());
    }
    let designated_now: Option<SubjectCode> = current_owners
        .iter()
        .find(|o| o.designated)
        .map(|o| o.subject);
    let designated_file = refs.iter().find(|(_, d)| *d).map(|(p, _)| p.clone());
    let designation_changed = match (&designated_now, &designated_file) {
        (None, None) => false,
        (Some(a), Some(PersonRef::Known(b))) => a != b,
        _ => true,
    };
    if designation_changed {
        changes.push("designated voter changed".to_owned());
    }
    changes
}

/// Units no longer in the file are retired, and their owners unlinked.
fn plan_retirements(plan: &mut ImportPlan, on_file: OnFile) {
    for u in on_file.by_key.values().filter(|u| u.retired_at.is_none()) {
        for o in on_file.owners_by_unit.get(&u.id).into_iter().flatten() {
            plan.owners_removed
                .push((u.label.to_string(), on_file.display(&o.subject)));
            plan.unlink.push((u.id, o.subject));
        }
        plan.units_retired.push(u.label.to_string());
        plan.retire.push(u.clone());
    }
}

/// The fingerprint: this file, how its phone numbers are read, and the roster as read.
fn fingerprint(
    roster: &Roster,
    phone_region: Option<PhoneRegion>,
    existing_units: &[Unit],
    existing_owners: &[UnitOwner],
) -> String {
    let mut state = format!("{:?};", phone_region.map(String::from));
    let mut units_sorted = existing_units.to_vec();
    units_sorted.sort_by_key(|u| u.id);
    for u in &units_sorted {
        state.push_str(&format!(
            "{}|{}|{}|{}|{:?};",
            u.id,
            u.label,
            u.weight.micros(),
            u.consent.as_str(),
            u.retired_at
        ));
    }
    let mut owners_sorted = existing_owners.to_vec();
    owners_sorted.sort_by_key(|o| (o.unit, o.subject));
    for o in &owners_sorted {
        state.push_str(&format!("{}|{}|{};", o.unit, o.subject, o.designated));
    }
    Digest32::sha256(&[roster.file_sha256.as_bytes(), state.as_bytes()]).to_hex()
}
