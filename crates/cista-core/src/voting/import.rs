//! Importing an association's units and owners from CSV. The file is the whole roster: it is
//! parsed and checked completely first (every bad row reported by line and column, nothing
//! imported until the file is clean), then compared with what is on file to show a preview of
//! additions, changes and removals, then applied as a whole.
//!
//! Columns (header row required, any order, case and spaces ignored): `unit`, `weight`,
//! `first_name`, `last_name`, `email`, `phone`, `designated_voter`, `consent`. One row per
//! owner; a unit with several owners has several rows. One person (same email) with several
//! units gets one account.

use crate::audit::{AuditKind, NewAuditEntry};
use crate::error::ImportProblem;
use crate::people::PersonFields;
use crate::ports::{Account, ConsentStatus, Membership, Unit, UnitOwner};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_crypto::Digest32;
use cista_types::{Email, OrgId, PersonName, Phone, Role, SubjectCode, UnitId, UnitLabel, Weight};
use std::collections::{BTreeMap, BTreeSet};

/// The most rows one file may have.
pub const MAX_ROWS: usize = 20_000;

const COLUMNS: [&str; 8] = [
    "unit",
    "weight",
    "first_name",
    "last_name",
    "email",
    "phone",
    "designated_voter",
    "consent",
];
const REQUIRED: [&str; 3] = ["unit", "first_name", "last_name"];

/// One owner row of a clean file.
#[derive(Debug, Clone)]
pub struct RosterRow {
    pub line: u64,
    pub unit: UnitLabel,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub designated: bool,
}

/// One unit of a clean file.
#[derive(Debug, Clone)]
pub struct RosterUnit {
    pub label: UnitLabel,
    pub weight: Weight,
    /// None: leave consent as it is on file.
    pub consent: Option<ConsentStatus>,
    pub owners: Vec<RosterRow>,
}

/// A parsed, checked file.
#[derive(Debug, Clone)]
pub struct Roster {
    pub units: Vec<RosterUnit>,
    /// SHA-256 of the file's bytes.
    pub file_sha256: Digest32,
}

fn normalize_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '-'], "_")
}

fn yes_no(raw: &str) -> Option<Option<bool>> {
    match raw.trim().to_lowercase().as_str() {
        "" => Some(None),
        "yes" | "y" | "true" | "1" | "x" => Some(Some(true)),
        "no" | "n" | "false" | "0" => Some(Some(false)),
        _ => None,
    }
}

/// Parses and checks a whole file. Either every row is good, or every problem is returned.
pub fn parse_roster(bytes: &[u8]) -> std::result::Result<Roster, Vec<ImportProblem>> {
    let file_sha256 = Digest32::sha256(&[bytes]);
    let mut problems = Vec::new();
    let problem = |line: u64, column: Option<&str>, message: String| ImportProblem {
        line,
        column: column.map(str::to_owned),
        message,
    };
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = bytes
            .get(..e.valid_up_to())
            .map_or(1, |b| b.iter().filter(|c| **c == b'\n').count() as u64 + 1);
        return Err(vec![problem(
            line,
            None,
            "is not UTF-8 text; save the file as \"CSV UTF-8\"".to_owned(),
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(normalize_header).collect(),
        Err(e) => {
            return Err(vec![problem(
                1,
                None,
                format!("the header row cannot be read: {e}"),
            )]);
        }
    };
    let mut index = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        if !COLUMNS.contains(&h.as_str()) {
            problems.push(problem(
                1,
                Some(h),
                format!(
                    "is not a known column; the columns are {}",
                    COLUMNS.join(", ")
                ),
            ));
        } else if index.insert(h.clone(), i).is_some() {
            problems.push(problem(1, Some(h), "appears twice".to_owned()));
        }
    }
    for required in REQUIRED {
        if !index.contains_key(required) {
            problems.push(problem(
                1,
                Some(required),
                "is missing from the header row".to_owned(),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    struct Partial {
        label: UnitLabel,
        weight: Option<(Weight, u64)>,
        consent: Option<(Option<ConsentStatus>, u64)>,
        designated_line: Option<u64>,
        owners: Vec<RosterRow>,
    }
    let mut units: BTreeMap<String, Partial> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut people_by_email: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut rows = 0usize;

    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("has {len} fields but the header has {expected_len}")
                    }
                    _ => format!("cannot be read: {e}"),
                };
                problems.push(problem(line, None, message));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            problems.push(problem(
                line,
                None,
                format!("the file has more than {MAX_ROWS} rows"),
            ));
            break;
        }
        let field =
            |name: &str| -> &str { index.get(name).and_then(|i| record.get(*i)).unwrap_or("") };
        let mut bad =
            |column: &str, message: String| problems.push(problem(line, Some(column), message));

        let label = UnitLabel::parse(field("unit"))
            .map_err(|e| bad("unit", e.message))
            .ok();
        let weight = match field("weight") {
            "" => None,
            raw => Weight::parse(raw)
                .map_err(|e| bad("weight", e.message))
                .ok(),
        };
        let first_name = PersonName::parse(field("first_name"))
            .map_err(|e| bad("first_name", e.message))
            .ok();
        let last_name = PersonName::parse(field("last_name"))
            .map_err(|e| bad("last_name", e.message))
            .ok();
        let email = match field("email") {
            "" => Some(None),
            raw => Email::parse(raw)
                .map(Some)
                .map_err(|e| bad("email", e.message))
                .ok(),
        };
        let phone = match field("phone") {
            "" => Some(None),
            raw => Phone::parse(raw)
                .map(Some)
                .map_err(|e| bad("phone", e.message))
                .ok(),
        };
        let designated = yes_no(field("designated_voter")).or_else(|| {
            bad("designated_voter", "must be yes, no or empty".to_owned());
            None
        });
        let consent = match field("consent").to_lowercase().as_str() {
            "" => Some(None),
            "yes" | "y" | "consented" => Some(Some(ConsentStatus::Consented)),
            "no" | "n" | "opted-out" | "opted out" | "paper" => Some(Some(ConsentStatus::OptedOut)),
            _ => {
                bad(
                    "consent",
                    "must be yes (consented to online voting), no (opted out: paper only) or empty (unchanged)"
                        .to_owned(),
                );
                None
            }
        };
        let (
            Some(label),
            Some(first_name),
            Some(last_name),
            Some(email),
            Some(phone),
            Some(designated),
            Some(consent),
        ) = (
            label, first_name, last_name, email, phone, designated, consent,
        )
        else {
            continue;
        };
        if let Some(e) = &email {
            let name = format!("{} {}", first_name, last_name).to_lowercase();
            match people_by_email.get(&e.normalized()) {
                Some((other, first_line)) if *other != name => problems.push(problem(
                    line,
                    Some("email"),
                    format!(
                        "is also on line {first_line} with another name; one email is one person"
                    ),
                )),
                Some(_) => {}
                None => {
                    people_by_email.insert(e.normalized(), (name, line));
                }
            }
        }
        let key = label.key();
        let unit = units.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Partial {
                label: label.clone(),
                weight: None,
                consent: None,
                designated_line: None,
                owners: Vec::new(),
            }
        });
        if let Some(w) = weight {
            match unit.weight {
                Some((existing, first)) if existing != w => problems.push(problem(
                    line,
                    Some("weight"),
                    format!(
                        "is {w} but line {first} gives unit {} the weight {existing}",
                        unit.label
                    ),
                )),
                Some(_) => {}
                None => unit.weight = Some((w, line)),
            }
        }
        if consent.is_some() {
            match unit.consent {
                Some((existing, first)) if existing != consent => problems.push(problem(
                    line,
                    Some("consent"),
                    format!("differs from line {first} for unit {}", unit.label),
                )),
                Some(_) => {}
                None => unit.consent = Some((consent, line)),
            }
        }
        let designated = designated.unwrap_or(false);
        if designated {
            if let Some(first) = unit.designated_line {
                problems.push(problem(
                    line,
                    Some("designated_voter"),
                    format!(
                        "unit {} already has its designated voter on line {first}",
                        unit.label
                    ),
                ));
            }
            unit.designated_line = Some(line);
        }
        let same_person = unit.owners.iter().find(|o| match (&o.email, &email) {
            (Some(a), Some(b)) => a.normalized() == b.normalized(),
            _ => {
                o.first_name
                    .as_str()
                    .eq_ignore_ascii_case(first_name.as_str())
                    && o.last_name
                        .as_str()
                        .eq_ignore_ascii_case(last_name.as_str())
            }
        });
        if let Some(other) = same_person {
            problems.push(problem(
                line,
                None,
                format!(
                    "repeats the owner on line {} of unit {}",
                    other.line, unit.label
                ),
            ));
        }
        unit.owners.push(RosterRow {
            line,
            unit: label,
            first_name,
            last_name,
            email,
            phone,
            designated,
        });
    }
    if rows == 0 && problems.is_empty() {
        problems.push(problem(
            2,
            None,
            "the file has a header but no rows".to_owned(),
        ));
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let Some(unit) = units.remove(&key) else {
            continue;
        };
        let Some((weight, _)) = unit.weight else {
            let line = unit.owners.first().map_or(0, |o| o.line);
            problems.push(problem(
                line,
                Some("weight"),
                format!(
                    "unit {} has no voting weight on any of its rows",
                    unit.label
                ),
            ));
            continue;
        };
        out.push(RosterUnit {
            label: unit.label,
            weight,
            consent: unit.consent.and_then(|(c, _)| c),
            owners: unit.owners,
        });
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    }
    Ok(Roster {
        units: out,
        file_sha256,
    })
}

/// Who a row's owner is: someone known, or someone new.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PersonRef {
    Known(SubjectCode),
    /// Index into the plan's new people.
    New(usize),
}

/// What the import does to one unit of the file: the unit on file (if any) and its owners
/// with their designated-voter flag.
#[derive(Debug, Clone)]
struct Target {
    file_unit: RosterUnit,
    existing: Option<Unit>,
    owners: Vec<(PersonRef, bool)>,
}

/// A unit change in the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitChange {
    pub label: String,
    pub changes: Vec<String>,
}

/// The preview of an import, and what applying it will do.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub units_added: Vec<String>,
    pub units_changed: Vec<UnitChange>,
    pub units_retired: Vec<String>,
    pub units_unchanged: usize,
    /// (unit, owner name) pairs.
    pub owners_added: Vec<(String, String)>,
    pub owners_removed: Vec<(String, String)>,
    pub people_new: usize,
    pub warnings: Vec<String>,
    /// Ties the preview to this file and to the roster as it was: applying refuses if
    /// either changed since.
    pub fingerprint: String,
    new_people: Vec<RosterRow>,
    /// Per file unit, in file order.
    targets: Vec<Target>,
    retire: Vec<Unit>,
    unlink: Vec<(UnitId, SubjectCode)>,
}

impl ImportPlan {
    pub fn is_empty(&self) -> bool {
        self.units_added.is_empty()
            && self.units_changed.is_empty()
            && self.units_retired.is_empty()
            && self.owners_added.is_empty()
            && self.owners_removed.is_empty()
    }

    /// Rows to write, for a progress bar.
    pub fn work(&self) -> u64 {
        (self.new_people.len() + self.targets.len() + self.retire.len()) as u64
    }
}

/// What an applied import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub units_added: usize,
    pub units_changed: usize,
    pub units_retired: usize,
    pub owners_added: usize,
    pub owners_removed: usize,
    pub people_new: usize,
}

fn describe_consent(c: ConsentStatus) -> &'static str {
    match c {
        ConsentStatus::None => "no consent",
        ConsentStatus::Consented => "consented",
        ConsentStatus::OptedOut => "opted out",
    }
}

impl Cista {
    /// Parses a file and compares it with the roster on file. Reading the current owners'
    /// names to show the preview is an audited read of personal data.
    pub async fn plan_import(&self, actor: &Actor, org: OrgId, bytes: &[u8]) -> Result<ImportPlan> {
        actor.authorize_in(org, OrgAction::ManageUnits)?;
        let roster = parse_roster(bytes).map_err(Error::ImportRejected)?;
        let existing_units = self.store().units(org).await?;
        let existing_owners = self.store().unit_owners(org).await?;
        let owner_subjects: Vec<SubjectCode> = existing_owners
            .iter()
            .map(|o| o.subject)
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
        let display = |s: &SubjectCode| -> String {
            match names.get(s) {
                Some(Some(f)) => format!("{} {}", f.first_name, f.last_name),
                _ => "(erased person)".to_owned(),
            }
        };

        let mut by_key: BTreeMap<String, Unit> = existing_units
            .iter()
            .map(|u| (u.label.key(), u.clone()))
            .collect();
        let mut owners_by_unit: BTreeMap<UnitId, Vec<UnitOwner>> = BTreeMap::new();
        for o in &existing_owners {
            owners_by_unit.entry(o.unit).or_default().push(*o);
        }

        let mut plan = ImportPlan {
            units_added: Vec::new(),
            units_changed: Vec::new(),
            units_retired: Vec::new(),
            units_unchanged: 0,
            owners_added: Vec::new(),
            owners_removed: Vec::new(),
            people_new: 0,
            warnings: Vec::new(),
            fingerprint: String::new(),
            new_people: Vec::new(),
            targets: Vec::new(),
            retire: Vec::new(),
            unlink: Vec::new(),
        };
        // People of this file: one per email (or phone, or name within a unit).
        let mut new_by_email: BTreeMap<String, usize> = BTreeMap::new();
        let mut new_by_phone: BTreeMap<String, usize> = BTreeMap::new();

        for unit in &roster.units {
            let existing = by_key.remove(&unit.label.key());
            let current_owners = existing
                .as_ref()
                .and_then(|u| owners_by_unit.get(&u.id))
                .cloned()
                .unwrap_or_default();
            let mut refs = Vec::new();
            for row in &unit.owners {
                let found = match (&row.email, &row.phone) {
                    (Some(email), _) => self.subject_by_email(email).await?,
                    (None, Some(phone)) => {
                        let matches = self
                            .vault()
                            .subjects_by_phone(&self.phone_index(phone)?)
                            .await?;
                        match matches.as_slice() {
                            [one] => Some(*one),
                            _ => None,
                        }
                    }
                    (None, None) => current_owners
                        .iter()
                        .find(|o| {
                            names
                                .get(&o.subject)
                                .and_then(Option::as_ref)
                                .is_some_and(|f| {
                                    f.first_name
                                        .as_str()
                                        .eq_ignore_ascii_case(row.first_name.as_str())
                                        && f.last_name
                                            .as_str()
                                            .eq_ignore_ascii_case(row.last_name.as_str())
                                })
                        })
                        .map(|o| o.subject),
                };
                let person = match found {
                    Some(subject) => {
                        if let Some(Some(f)) = names.get(&subject) {
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
                    None => {
                        let reuse = row
                            .email
                            .as_ref()
                            .and_then(|e| new_by_email.get(&e.normalized()))
                            .or_else(|| {
                                if row.email.is_none() {
                                    row.phone
                                        .as_ref()
                                        .and_then(|p| new_by_phone.get(p.as_str()))
                                } else {
                                    None
                                }
                            })
                            .copied();
                        match reuse {
                            Some(i) => PersonRef::New(i),
                            None => {
                                let i = plan.new_people.len();
                                plan.new_people.push(row.clone());
                                if let Some(e) = &row.email {
                                    new_by_email.insert(e.normalized(), i);
                                } else if let Some(p) = &row.phone {
                                    new_by_phone.insert(p.as_str().to_owned(), i);
                                }
                                if row.email.is_none() && row.phone.is_none() {
                                    plan.warnings.push(format!(
                                        "line {}: {} {} has neither email nor phone, so can vote \
                                         only on paper",
                                        row.line, row.first_name, row.last_name
                                    ));
                                }
                                PersonRef::New(i)
                            }
                        }
                    }
                };
                refs.push((person, row.designated));
            }
            // Owner additions and removals.
            let label = unit.label.to_string();
            for ((person, _), row) in refs.iter().zip(&unit.owners) {
                let linked = match person {
                    PersonRef::Known(s) => current_owners.iter().any(|o| o.subject == *s),
                    PersonRef::New(_) => false,
                };
                if !linked {
                    plan.owners_added.push((
                        label.clone(),
                        format!("{} {}", row.first_name, row.last_name),
                    ));
                }
            }
            for o in &current_owners {
                let kept = refs.iter().any(|(p, _)| *p == PersonRef::Known(o.subject));
                if !kept {
                    plan.owners_removed
                        .push((label.clone(), display(&o.subject)));
                    if let Some(u) = &existing {
                        plan.unlink.push((u.id, o.subject));
                    }
                }
            }
            match &existing {
                None => plan.units_added.push(label.clone()),
                Some(u) => {
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
        }
        // Units no longer in the file are retired, and their owners unlinked.
        for u in by_key.into_values().filter(|u| u.retired_at.is_none()) {
            for o in owners_by_unit.get(&u.id).into_iter().flatten() {
                plan.owners_removed
                    .push((u.label.to_string(), display(&o.subject)));
                plan.unlink.push((u.id, o.subject));
            }
            plan.units_retired.push(u.label.to_string());
            plan.retire.push(u);
        }
        plan.people_new = plan.new_people.len();
        plan.units_added
            .sort_by(|a, b| super::units::natural_cmp(a, b));
        plan.units_retired
            .sort_by(|a, b| super::units::natural_cmp(a, b));

        // The fingerprint: this file, and the roster as read.
        let mut state = String::new();
        let mut units_sorted = existing_units.clone();
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
        let mut owners_sorted = existing_owners.clone();
        owners_sorted.sort_by_key(|o| (o.unit, o.subject));
        for o in &owners_sorted {
            state.push_str(&format!("{}|{}|{};", o.unit, o.subject, o.designated));
        }
        plan.fingerprint =
            Digest32::sha256(&[roster.file_sha256.as_bytes(), state.as_bytes()]).to_hex();
        Ok(plan)
    }

    /// Applies a previewed plan, if the file and roster are still what the preview saw:
    /// new people go to the vault, then every unit, owner link, account and membership
    /// change commits in one transaction with one audit entry. `progress` is called as rows
    /// are prepared (done, total).
    pub async fn apply_import(
        &self,
        actor: &Actor,
        org: OrgId,
        bytes: &[u8],
        fingerprint: &str,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<Imported> {
        let plan = self.plan_import(actor, org, bytes).await?;
        if plan.fingerprint != fingerprint.trim() {
            return Err(Error::Conflict(
                "the file or the units on file changed since the preview; review the new preview"
                    .to_owned(),
            ));
        }
        let total = plan.work();
        let mut done = 0u64;
        let now = self.clock().now();

        // New people first, in the vault (which may be another database).
        let mut new_subjects = Vec::with_capacity(plan.new_people.len());
        let created = async {
            for row in &plan.new_people {
                let subject = SubjectCode::new(self.rng().as_ref());
                let fields = PersonFields {
                    first_name: row.first_name.clone(),
                    last_name: row.last_name.clone(),
                    email: row.email.clone(),
                    phone: row.phone.clone(),
                };
                let sealed = self.seal_person(subject, &fields).await?;
                self.vault().insert_person(&sealed).await.map_err(|e| match e {
                    Error::Conflict(_) => Error::Conflict(format!(
                        "line {}: someone with this email address was added at the same moment; \
                         preview again",
                        row.line
                    )),
                    other => other,
                })?;
                new_subjects.push(subject);
                done += 1;
                progress(done, total);
            }
            Ok::<_, Error>(())
        }
        .await;
        let discard = |subjects: Vec<SubjectCode>| async move {
            for s in subjects {
                let _ = self.vault().discard_person(s).await;
            }
        };
        if let Err(e) = created {
            discard(new_subjects).await;
            return Err(e);
        }

        let written = async {
            let mut tx = self.store().begin().await?;
            let mut summary = Imported {
                units_added: plan.units_added.len(),
                units_changed: plan.units_changed.len(),
                units_retired: plan.units_retired.len(),
                owners_added: plan.owners_added.len(),
                owners_removed: plan.owners_removed.len(),
                people_new: new_subjects.len(),
            };
            for subject in &new_subjects {
                tx.insert_account(&Account::new_invited(*subject, now))
                    .await?;
            }
            let members: BTreeSet<SubjectCode> = self
                .store()
                .members(org)
                .await?
                .into_iter()
                .map(|m| m.subject)
                .collect();
            let mut joined = BTreeSet::new();
            let method = format!("members import by {}", actor.audit_name());
            for Target {
                file_unit,
                existing,
                owners: refs,
            } in &plan.targets
            {
                let unit = match existing {
                    Some(u) => {
                        let mut u = u.clone();
                        u.label = file_unit.label.clone();
                        u.weight = file_unit.weight;
                        u.retired_at = None;
                        if let Some(c) = file_unit.consent.filter(|c| *c != u.consent) {
                            u.consent = c;
                            u.consent_at = Some(now);
                            u.consent_method = Some(method.clone());
                        }
                        tx.update_unit(&u).await?;
                        u
                    }
                    None => {
                        let consent = file_unit.consent.unwrap_or(ConsentStatus::None);
                        let u = Unit {
                            id: UnitId::new(self.rng().as_ref()),
                            org,
                            label: file_unit.label.clone(),
                            weight: file_unit.weight,
                            consent,
                            consent_at: (consent != ConsentStatus::None).then_some(now),
                            consent_method: (consent != ConsentStatus::None)
                                .then(|| method.clone()),
                            created_at: now,
                            retired_at: None,
                        };
                        tx.insert_unit(&u).await?;
                        u
                    }
                };
                let current: Vec<UnitOwner> = match existing {
                    Some(u) => self.store().owners_of(u.id).await?,
                    None => Vec::new(),
                };
                for (person, designated) in refs {
                    let subject = match person {
                        PersonRef::Known(s) => *s,
                        PersonRef::New(i) => *new_subjects
                            .get(*i)
                            .ok_or_else(|| Error::Internal("a new person is missing".to_owned()))?,
                    };
                    if !members.contains(&subject) && joined.insert(subject) {
                        let known = matches!(person, PersonRef::Known(_));
                        if known && self.store().account(subject).await?.is_none() {
                            tx.insert_account(&Account::new_invited(subject, now))
                                .await?;
                        }
                        tx.insert_membership(&Membership {
                            org,
                            subject,
                            role: Role::Member,
                            created_at: now,
                        })
                        .await?;
                    }
                    let link = UnitOwner {
                        unit: unit.id,
                        subject,
                        designated: *designated,
                    };
                    match current.iter().find(|o| o.subject == subject) {
                        Some(o) if o.designated == *designated => {}
                        Some(_) => tx.update_unit_owner(&link).await?,
                        None => tx.insert_unit_owner(&link).await?,
                    }
                }
                done += 1;
                progress(done, total);
            }
            for (unit, subject) in &plan.unlink {
                tx.delete_unit_owner(*unit, *subject).await?;
            }
            for u in &plan.retire {
                let mut u = u.clone();
                u.retired_at = Some(now);
                tx.update_unit(&u).await?;
                done += 1;
                progress(done, total);
            }
            summary.people_new = new_subjects.len();
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(org),
                AuditKind::UnitsImported,
                serde_json::json!({
                    "units_added": summary.units_added,
                    "units_changed": summary.units_changed,
                    "units_retired": summary.units_retired,
                    "owners_added": summary.owners_added,
                    "owners_removed": summary.owners_removed,
                    "people_new": summary.people_new,
                    "file_sha256": plan.fingerprint,
                }),
            ))
            .await?;
            Ok::<_, Error>(summary)
        }
        .await;
        match written {
            Ok(summary) => Ok(summary),
            Err(e) => {
                discard(new_subjects).await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const HEADER: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n";

    #[test]
    fn a_clean_file_groups_owners_by_unit() {
        let csv = format!(
            "{HEADER}101,1.5,Ana,Ruiz,ana@example.org,+13055550101,yes,yes\n\
             101,,Luis,Ruiz,luis@example.org,,,\n\
             102,0.75,Ana,Ruiz,ana@example.org,,,no\n"
        );
        let roster = parse_roster(csv.as_bytes()).unwrap();
        assert_eq!(roster.units.len(), 2);
        assert_eq!(roster.units[0].owners.len(), 2);
        assert_eq!(roster.units[0].weight.to_string(), "1.5");
        assert_eq!(roster.units[0].consent, Some(ConsentStatus::Consented));
        assert!(roster.units[0].owners[0].designated);
        assert_eq!(roster.units[1].consent, Some(ConsentStatus::OptedOut));
    }

    #[test]
    fn every_bad_row_is_reported_by_line_and_column() {
        let csv = format!(
            "{HEADER}101,1,Ana,Ruiz,not-an-email,,,\n\
             102,abc,Bo,Li,bo@example.org,555,,\n\
             103,1,,Lee,cy@example.org,,maybe,\n\
             104,1,Di,Ng,di@example.org,,,sometimes\n\
             105,1,Ed,Ox\n"
        );
        let problems = parse_roster(csv.as_bytes()).unwrap_err();
        let found: Vec<(u64, Option<&str>)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_deref()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, Some("email")),
                (3, Some("weight")),
                (3, Some("phone")),
                (4, Some("first_name")),
                (4, Some("designated_voter")),
                (5, Some("consent")),
                (6, None),
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn units_must_agree_with_themselves() {
        let csv = format!(
            "{HEADER}101,1,Ana,Ruiz,ana@example.org,,yes,\n\
             101,2,Luis,Ruiz,luis@example.org,,yes,\n\
             102,,Bo,Li,bo@example.org,,,\n\
             103,1,Ana,Ortiz,ana@example.org,,,\n"
        );
        let problems = parse_roster(csv.as_bytes()).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with("line 3, column weight: is 2 but line 2"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("line 3, column designated_voter"),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("line 4, column weight: unit 102 has no voting weight")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("line 5, column email: is also on line 2")),
            "{text:?}"
        );
    }

    #[test]
    fn headers_are_checked_before_any_row() {
        let problems = parse_roster(b"unit,colour,first_name\n1,red,Ana\n").unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "line 1, column colour: is not a known column; the columns are unit, weight, first_name, last_name, email, phone, designated_voter, consent",
                "line 1, column last_name: is missing from the header row",
            ]
        );
        assert!(parse_roster(b"unit,first_name,last_name\n").is_err());
        assert!(parse_roster(b"\xff\xfe").is_err());
        // A byte-order mark and header spacing are forgiven.
        let ok = "\u{feff}Unit, Weight ,First Name,Last Name\n1,1,Ana,Ruiz\n";
        assert_eq!(parse_roster(ok.as_bytes()).unwrap().units.len(), 1);
    }
}
