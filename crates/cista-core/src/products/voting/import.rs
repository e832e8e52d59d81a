//! Importing an association's units and owners from CSV. The file is the whole roster: it is
//! parsed and checked completely first (every bad row reported by line and column, nothing
//! imported until the file is clean), then compared with what is on file to show a preview of
//! additions, changes and removals, then applied as a whole.
//!
//! Columns (header row required, any order, case and spaces ignored): `unit`, `weight`,
//! `first_name`, `last_name`, `email`, `phone`, `designated_voter`, `consent`. One row per
//! owner; a unit with several owners has several rows. One person (same email) with several
//! units gets one account.

use super::VotingAction;
use super::audit::VotingAuditKind;
use super::spreadsheet::{self, Delimiter};
use crate::error::ImportProblem;
use crate::platform::audit::NewAuditEntry;
use crate::platform::people::PersonFields;
use crate::ports::{Account, ConsentStatus, Membership, Unit, UnitOwner};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::Digest32;
use cista_types::voting::format_weight_sum;
use cista_types::{
    Email, OrgId, PersonName, Phone, PhoneRegion, Role, SubjectCode, UnitId, UnitLabel, Weight,
};
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

/// How the file was written, as read: shown in the preview so a misreading would be seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFormat {
    pub encoding: &'static str,
    pub delimiter: Delimiter,
    /// The weights were written with decimal commas.
    pub decimal_comma: bool,
    /// The weights were written with percent signs.
    pub percent: bool,
}

impl FileFormat {
    /// In words, e.g. "UTF-8, fields separated by semicolons, decimal commas".
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}, fields separated by {}",
            self.encoding,
            self.delimiter.name()
        );
        if self.decimal_comma {
            out.push_str(", decimal commas");
        }
        if self.percent {
            out.push_str(", weights in percent");
        }
        out
    }
}

/// A parsed, checked file.
#[derive(Debug, Clone)]
pub struct Roster {
    pub units: Vec<RosterUnit>,
    pub format: FileFormat,
    /// SHA-256 of the file's bytes.
    pub file_sha256: Digest32,
}

impl Roster {
    /// The sum of the units' weights, in millionths.
    pub fn weight_total_micros(&self) -> i128 {
        self.units
            .iter()
            .map(|u| i128::from(u.weight.micros()))
            .sum()
    }

    /// A warning when the weights look like shares of a whole (percentages, or fractions of one)
    /// that do not add up to it, saying by how much; None when they add up or are plainly not
    /// shares. Weights written with a percent sign are percentages whatever they add up to.
    pub fn weight_total_warning(&self) -> Option<String> {
        let total = self.weight_total_micros();
        let hundred = 100 * 1_000_000_i128;
        let one = 1_000_000_i128;
        let near = |whole: i128| total != whole && (total - whole).abs() * 10 <= whole;
        let (whole, what) = if self.format.percent || near(hundred) {
            (
                hundred,
                "percentages of the voting interests, they should add up to 100",
            )
        } else if near(one) {
            (
                one,
                "shares of the voting interests, they should add up to 1",
            )
        } else {
            return None;
        };
        if total == whole {
            return None;
        }
        let gap = format_weight_sum((total - whole).abs());
        let direction = if total < whole { "short" } else { "too much" };
        Some(format!(
            "The weights add up to {}: if they are {what}, and they are {gap} {direction}. \
             Check the weights against the declaration before applying.",
            format_weight_sum(total)
        ))
    }
}

fn normalize_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .trim()
        .to_lowercase()
        .replace([' ', '-'], "_")
}

fn is_column(h: &str) -> bool {
    COLUMNS.contains(&normalize_header(h).as_str())
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
/// Phone numbers without a country code are read in `phone_region`.
pub fn parse_roster(
    bytes: &[u8],
    phone_region: Option<PhoneRegion>,
) -> std::result::Result<Roster, Vec<ImportProblem>> {
    let file_sha256 = Digest32::sha256(&[bytes]);
    let mut problems = Vec::new();
    let problem = |line: u64, column: Option<&str>, message: String| ImportProblem {
        line,
        column: column.map(str::to_owned),
        message,
    };
    let decoded = spreadsheet::decode(bytes)
        .map_err(|e| vec![problem(e.line, None, format!("the file {}", e.message))])?;
    let text: &str = &decoded.text;
    let header_line = text.lines().next().unwrap_or("");
    let delimiter = Delimiter::detect(header_line, is_column);
    let mut format = FileFormat {
        encoding: decoded.encoding,
        delimiter,
        decimal_comma: false,
        percent: false,
    };
    // Lines are counted from the record's byte offset: the csv crate's own line count is off
    // by one for CRLF files, and people find rows by the line their editor shows.
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |byte: u64| -> u64 {
        // A record's position may be the end of the line before it (the LF of a CRLF).
        let rest = usize::try_from(byte)
            .ok()
            .and_then(|b| text.as_bytes().get(b..))
            .unwrap_or_default();
        let start = rest
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count() as u64
            + byte;
        let before = newlines.partition_point(|at| (*at as u64) < start);
        before as u64 + 1
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter.byte())
        // Rows longer than the header are checked below: spreadsheets add empty cells.
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
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
                    "is not a known column; the columns are {} (separated by commas, \
                     semicolons or tabs)",
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
    let weight_at = index.get("weight").copied();

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
    // The first line written with each way of writing a weight, to refuse a mix.
    let mut first_comma: Option<(u64, String)> = None;
    let mut first_point: Option<(u64, String)> = None;
    let mut first_percent: Option<(u64, String)> = None;
    let mut first_plain: Option<(u64, String)> = None;

    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                problems.push(problem(line, None, format!("cannot be read: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() < headers.len() {
            problems.push(problem(
                line,
                None,
                format!(
                    "has {} fields but the header has {}",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        if record.iter().skip(headers.len()).any(|f| !f.is_empty()) {
            // A decimal comma in a comma-separated file splits the weight in two.
            let split_weight = weight_at.and_then(|w| {
                let whole = record.get(w)?;
                let fraction = record.get(w + 1)?;
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                (delimiter == Delimiter::Comma
                    && record.len() == headers.len() + 1
                    && digits(whole)
                    && digits(fraction))
                .then(|| format!("{whole},{fraction}"))
            });
            let message = match split_weight {
                Some(weight) => format!(
                    "has {} fields but the header has {}: the weight {weight} seems to have a \
                     decimal comma, which in this comma-separated file splits it into two \
                     fields. Write {} instead, or save the file with semicolons between fields \
                     (a spreadsheet set to a language that writes decimal commas does that \
                     when it saves as CSV)",
                    record.len(),
                    headers.len(),
                    weight.replace(',', ".")
                ),
                None => format!(
                    "has {} fields but the header has {}",
                    record.len(),
                    headers.len()
                ),
            };
            problems.push(problem(line, None, message));
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
            raw => match spreadsheet::number_cell(raw, delimiter) {
                Err(message) => {
                    bad("weight", message);
                    None
                }
                Ok(cell) => {
                    let written = || (line, raw.to_owned());
                    if cell.decimal_comma {
                        first_comma.get_or_insert_with(written);
                    }
                    if cell.decimal_point {
                        first_point.get_or_insert_with(written);
                    }
                    if cell.percent {
                        first_percent.get_or_insert_with(written);
                    } else {
                        first_plain.get_or_insert_with(written);
                    }
                    Weight::parse(&cell.text)
                        .map_err(|e| bad("weight", e.message))
                        .ok()
                }
            },
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
            raw => Phone::parse(raw, phone_region)
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
    // One file, one way of writing numbers: a mix means some weights would be misread.
    if let (Some((comma_line, comma)), Some((line, point))) = (&first_comma, &first_point) {
        problems.push(problem(
            *line,
            Some("weight"),
            format!(
                "“{point}” has a decimal point but line {comma_line} has a decimal comma \
                 (“{comma}”): in a file with decimal commas a point may be a thousands \
                 separator. Write every weight the same way, without thousands separators"
            ),
        ));
    }
    if let (Some((percent_line, percent)), Some((line, plain))) = (&first_percent, &first_plain) {
        problems.push(problem(
            *line,
            Some("weight"),
            format!(
                "“{plain}” has no percent sign but line {percent_line} has one (“{percent}”): \
                 a spreadsheet shows 0.0295 as 2.95 %, so a mix cannot be read. Format the \
                 whole weight column the same way"
            ),
        ));
    }
    format.decimal_comma = first_comma.is_some();
    format.percent = first_percent.is_some();
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
        format,
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
    /// The sum of the file's unit weights, as written for people.
    pub weight_total: String,
    /// How the file was read (encoding, delimiter, decimal separator), in words.
    pub file_format: String,
    /// Things to check before applying: look-alike names, weights that do not add up,
    /// owners without a way to be reached.
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
        actor.authorize_in(org, VotingAction::ManageUnits)?;
        let phone_region = self.existing_organization(org).await?.phone_region;
        let roster = parse_roster(bytes, phone_region).map_err(Error::ImportRejected)?;
        let existing_units = self.store().voting().units(org).await?;
        let existing_owners = self.store().voting().unit_owners(org).await?;
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
        // The names on file of this roster's owners, for the look-alike check.
        let on_file_names: Vec<String> = names
            .values()
            .flatten()
            .map(|f| format!("{} {}", f.first_name, f.last_name))
            .collect();
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
            weight_total: format_weight_sum(roster.weight_total_micros()),
            file_format: roster.format.describe(),
            warnings: roster.weight_total_warning().into_iter().collect(),
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
        plan.warnings
            .extend(super::names::owner_warnings(&roster, &on_file_names));
        plan.people_new = plan.new_people.len();
        plan.units_added
            .sort_by(|a, b| super::units::natural_cmp(a, b));
        plan.units_retired
            .sort_by(|a, b| super::units::natural_cmp(a, b));

        // The fingerprint: this file, how its phone numbers are read, and the roster as read.
        let mut state = format!("{:?};", phone_region.map(String::from));
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
                        tx.voting().update_unit(&u).await?;
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
                        tx.voting().insert_unit(&u).await?;
                        u
                    }
                };
                let current: Vec<UnitOwner> = match existing {
                    Some(u) => self.store().voting().owners_of(u.id).await?,
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
                        Some(_) => tx.voting().update_unit_owner(&link).await?,
                        None => tx.voting().insert_unit_owner(&link).await?,
                    }
                }
                done += 1;
                progress(done, total);
            }
            for (unit, subject) in &plan.unlink {
                tx.voting().delete_unit_owner(*unit, *subject).await?;
            }
            for u in &plan.retire {
                let mut u = u.clone();
                u.retired_at = Some(now);
                tx.voting().update_unit(&u).await?;
                done += 1;
                progress(done, total);
            }
            summary.people_new = new_subjects.len();
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(org),
                VotingAuditKind::UnitsImported,
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
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
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
        let problems = parse_roster(csv.as_bytes(), None).unwrap_err();
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
        let problems = parse_roster(csv.as_bytes(), None).unwrap_err();
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
        let problems = parse_roster(b"unit,colour,first_name\n1,red,Ana\n", None).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "line 1, column colour: is not a known column; the columns are unit, weight, first_name, last_name, email, phone, designated_voter, consent (separated by commas, semicolons or tabs)",
                "line 1, column last_name: is missing from the header row",
            ]
        );
        assert!(parse_roster(b"unit,first_name,last_name\n", None).is_err());
        assert!(parse_roster(b"\xff\xfe", None).is_err());
        // A byte-order mark and header spacing are forgiven.
        let ok = "\u{feff}Unit, Weight ,First Name,Last Name\n1,1,Ana,Ruiz\n";
        assert_eq!(parse_roster(ok.as_bytes(), None).unwrap().units.len(), 1);
    }

    fn messages(problems: &[ImportProblem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    fn us() -> Option<PhoneRegion> {
        Some(PhoneRegion::US)
    }

    #[test]
    fn a_european_roster_with_semicolons_and_decimal_commas_is_read() {
        // What a spreadsheet set to Spanish, French or German saves as CSV.
        let csv = "unit;weight;first_name;last_name;email\n\
                   101;12,5;Ana;Ruiz;ana@example.org\n\
                   102;87,5;Bo;Li;bo@example.org\n";
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
        assert_eq!(roster.units[0].weight.to_string(), "12.5");
        assert_eq!(roster.units[1].weight.to_string(), "87.5");
        assert_eq!(roster.format.delimiter, Delimiter::Semicolon);
        assert!(roster.format.decimal_comma);
        assert_eq!(
            roster.format.describe(),
            "UTF-8, fields separated by semicolons, decimal commas"
        );
        assert_eq!(format_weight_sum(roster.weight_total_micros()), "100");
        assert_eq!(roster.weight_total_warning(), None);
    }

    #[test]
    fn the_issues_uk_number_is_refused_naming_its_row() {
        // Before: "+44 07700 900123" was stored as the impossible +4407700900123. Now it is
        // checked against libphonenumber's metadata and refused: 07700 900xxx is Ofcom's range
        // reserved for fiction, which no one can be reached on.
        let csv = format!("{HEADER}101,1,Ana,Ruiz,,+44 07700 900123,,\n");
        let text = messages(&parse_roster(csv.as_bytes(), None).unwrap_err());
        assert_eq!(
            text,
            vec![
                "line 2, column phone: is not a valid number for country code +44 (wrong length, \
                 or a range not in use)"
            ]
        );
    }

    #[test]
    fn a_trunk_zero_after_the_country_code_is_stored_as_the_number_meant() {
        let csv = format!("{HEADER}101,1,Ana,Ruiz,,+44 (0)7400 123456,,\n");
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
        let phone = roster.units[0].owners[0].phone.as_ref().unwrap();
        assert_eq!(phone.as_str(), "+447400123456");
    }

    #[test]
    fn national_numbers_are_read_in_the_organizations_region_and_bad_ones_named_by_row() {
        let csv = format!(
            "{HEADER}101,1,Ana,Ruiz,,(305) 555-0142,,\n\
             102,1,Bo,Li,,555-0100,,\n\
             103,1,Cy,Lee,,+1 305 555 0100 ext. 4,,\n\
             104,1,Di,Ng,,+44 7700 90012,,\n"
        );
        let problems = parse_roster(csv.as_bytes(), us()).unwrap_err();
        let text = messages(&problems);
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(
            text[0].starts_with("line 3, column phone: is not a valid US number"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with("line 4, column phone: must not have an extension"),
            "{text:#?}"
        );
        assert!(
            text[2].starts_with("line 5, column phone: is not a valid number for country code +44"),
            "{text:#?}"
        );
        let good = format!("{HEADER}101,1,Ana,Ruiz,,(305) 555-0142,,\n");
        let roster = parse_roster(good.as_bytes(), us()).unwrap();
        assert_eq!(
            roster.units[0].owners[0].phone.as_ref().unwrap().as_str(),
            "+13055550142"
        );
        // Without a region, the national number needs its country code.
        let problems = parse_roster(good.as_bytes(), None).unwrap_err();
        assert!(
            messages(&problems)[0].contains("country code"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_tab_separated_file_is_read() {
        let tsv = "unit\tweight\tfirst_name\tlast_name\n101\t2,95\tAna\tRuiz, Jr.\n";
        let roster = parse_roster(tsv.as_bytes(), None).unwrap();
        assert_eq!(roster.format.delimiter, Delimiter::Tab);
        assert_eq!(roster.units[0].weight.to_string(), "2.95");
        assert_eq!(roster.units[0].owners[0].last_name.as_str(), "Ruiz, Jr.");
    }

    #[test]
    fn a_byte_order_mark_crlf_blank_lines_empty_columns_and_loose_headers_are_forgiven() {
        let csv = "\u{feff}UNIT , Weight,First Name,last-name,,\r\n\
                   101,1.5,Ana,Ruiz,,\r\n\
                   102,0.5,Bo,Li,,\r\n\
                   ,,,,,\r\n\
                   \r\n\
                   \r\n";
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
        assert_eq!(roster.units.len(), 2);
        assert!(roster.format.encoding.contains("byte-order mark"));
        assert_eq!(roster.units[1].owners[0].last_name.as_str(), "Li");
        // A row with cells beyond the header's columns that are not empty is refused.
        // Lines are counted as an editor shows them, CRLF or not.
        let crlf = "unit,weight,first_name,last_name\r\n101,1,Ana,Ruiz\r\n102,x,Bo,Li\r\n";
        let text = messages(&parse_roster(crlf.as_bytes(), None).unwrap_err());
        assert!(text[0].starts_with("line 3, column weight"), "{text:?}");
        let extra = "unit,weight,first_name,last_name\n101,1,Ana,Ruiz,surplus\n";
        let text = messages(&parse_roster(extra.as_bytes(), None).unwrap_err());
        assert_eq!(text, vec!["line 2: has 5 fields but the header has 4"]);
    }

    #[test]
    fn excel_unicode_text_utf16_with_a_byte_order_mark_is_decoded() {
        let text = "unit\tweight\tfirst_name\tlast_name\r\n101\t12,5\tJosé\tNúñez\r\n102\t87,5\tBo\tLi\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let roster = parse_roster(&bytes, None).unwrap();
        assert_eq!(roster.units[0].owners[0].first_name.as_str(), "José");
        assert_eq!(roster.units[0].weight.to_string(), "12.5");
        assert_eq!(
            roster.format.describe(),
            "UTF-16 (little-endian), fields separated by tabs, decimal commas"
        );
    }

    #[test]
    fn a_windows_1252_file_is_refused_saying_how_to_save_csv_utf8() {
        let bytes = b"unit,weight,first_name,last_name\n101,1,Jos\xe9,Ruiz\n";
        let text = messages(&parse_roster(bytes, None).unwrap_err());
        assert_eq!(text.len(), 1);
        assert!(
            text[0].starts_with("line 2: the file is not UTF-8 text: it has the byte E9"),
            "{}",
            text[0]
        );
        assert!(text[0].contains("“é” in Windows-1252"), "{}", text[0]);
        assert!(
            text[0].contains("“CSV UTF-8 (Comma delimited) (*.csv)”"),
            "{}",
            text[0]
        );
    }

    #[test]
    fn quoted_fields_keep_their_delimiters_and_quotes() {
        let csv = "unit,weight,first_name,last_name\n\
                   \"Lot 7, North\",1,\"Ana \"\"Nena\"\"\",\"Ruiz, Jr.\"\n";
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
        assert_eq!(roster.units[0].label.as_str(), "Lot 7, North");
        assert_eq!(
            roster.units[0].owners[0].first_name.as_str(),
            "Ana \"Nena\""
        );
        let semi = "unit;weight;first_name;last_name\n\"7;A\";\"1,25\";Ana;Ruiz\n";
        let roster = parse_roster(semi.as_bytes(), None).unwrap();
        assert_eq!(roster.units[0].label.as_str(), "7;A");
        assert_eq!(roster.units[0].weight.to_string(), "1.25");
    }

    #[test]
    fn a_decimal_comma_in_a_comma_separated_file_is_refused_with_what_to_write() {
        // Unquoted, the comma splits the weight into two fields.
        let csv = "unit,weight,first_name,last_name\n101,12,5,Ana,Ruiz\n";
        let text = messages(&parse_roster(csv.as_bytes(), None).unwrap_err());
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].contains("the weight 12,5 seems to have a decimal comma"),
            "{}",
            text[0]
        );
        assert!(text[0].contains("Write 12.5 instead"), "{}", text[0]);
        // Quoted, it stays one field, but is still not certain.
        let quoted = "unit,weight,first_name,last_name\n101,\"12,5\",Ana,Ruiz\n";
        let text = messages(&parse_roster(quoted.as_bytes(), None).unwrap_err());
        assert!(
            text[0].starts_with("line 2, column weight: “12,5” has a comma"),
            "{}",
            text[0]
        );
    }

    #[test]
    fn a_file_mixing_decimal_commas_and_points_or_percent_signs_is_refused() {
        let mixed = "unit;weight;first_name;last_name\n101;2,5;Ana;Ruiz\n102;1.000;Bo;Li\n";
        let text = messages(&parse_roster(mixed.as_bytes(), None).unwrap_err());
        assert!(
            text[0].starts_with("line 3, column weight: “1.000” has a decimal point but line 2"),
            "{text:?}"
        );
        let percents = "unit,weight,first_name,last_name\n101,2.95%,Ana,Ruiz\n102,0.0295,Bo,Li\n";
        let text = messages(&parse_roster(percents.as_bytes(), None).unwrap_err());
        assert!(
            text[0].contains("no percent sign but line 2 has one"),
            "{text:?}"
        );
    }

    #[test]
    fn percentages_that_do_not_add_up_to_100_are_flagged_with_the_gap() {
        let short = "unit,weight,first_name,last_name\n101,49.95,Ana,Ruiz\n102,50,Bo,Li\n";
        let roster = parse_roster(short.as_bytes(), None).unwrap();
        let warning = roster.weight_total_warning().unwrap();
        assert!(
            warning.starts_with("The weights add up to 99.95"),
            "{warning}"
        );
        assert!(warning.contains("0.05 short"), "{warning}");
        let over = "unit;weight;first_name;last_name\n101;50,5 %;Ana;Ruiz\n102;50 %;Bo;Li\n";
        let roster = parse_roster(over.as_bytes(), None).unwrap();
        assert!(roster.format.percent);
        assert!(
            roster
                .weight_total_warning()
                .unwrap()
                .contains("0.5 too much")
        );
        let shares = "unit,weight,first_name,last_name\n101,0.5,Ana,Ruiz\n102,0.495,Bo,Li\n";
        let roster = parse_roster(shares.as_bytes(), None).unwrap();
        assert!(
            roster
                .weight_total_warning()
                .unwrap()
                .contains("0.005 short")
        );
        // Weights of one per unit, or percentages that add up, say nothing.
        let plain = "unit,weight,first_name,last_name\n101,1,Ana,Ruiz\n102,1,Bo,Li\n";
        assert_eq!(
            parse_roster(plain.as_bytes(), None)
                .unwrap()
                .weight_total_warning(),
            None
        );
    }

    #[test]
    fn names_are_stored_composed_and_invisible_characters_refused() {
        let csv = "unit,weight,first_name,last_name\n101,1,Jose\u{301},Ruiz\n";
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
        assert_eq!(roster.units[0].owners[0].first_name.as_str(), "Jos\u{e9}");
        let hidden = "unit,weight,first_name,last_name\n101,1,Ana\u{200b},Ruiz\n";
        let text = messages(&parse_roster(hidden.as_bytes(), None).unwrap_err());
        assert!(
            text[0].starts_with("line 2, column first_name: contains an invisible"),
            "{text:?}"
        );
        assert!(text[0].contains("U+200B"), "{text:?}");
    }

    #[test]
    fn owners_whose_names_only_look_alike_are_flagged_naming_both() {
        let csv = "unit,weight,first_name,last_name\n\
                   101,1,Oscar,Baker\n\
                   102,1,Oscar,B\u{430}ker\n\
                   103,1,Oscar,Baker\n";
        let roster = parse_roster(csv.as_bytes(), None).unwrap();
        let warnings = super::super::names::owner_warnings(&roster, &[]);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with(
                "“Oscar Baker” (line 2) and “Oscar B\u{430}ker” (line 3) look the same"
            ),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("U+0430, Cyrillic"), "{}", warnings[0]);
        let on_file = vec!["Oscar B\u{430}ker".to_owned()];
        let plain = "unit,weight,first_name,last_name\n101,1,Oscar,Baker\n";
        let roster = parse_roster(plain.as_bytes(), None).unwrap();
        let warnings = super::super::names::owner_warnings(&roster, &on_file);
        assert!(warnings[0].contains("(on file)"), "{warnings:?}");
    }
}
