//! Importing an association's units and owners from CSV. The file is the whole roster: it is
//! parsed and checked completely first (every bad row reported by line and column, nothing
//! imported until the file is clean), then compared with what is on file to show a preview of
//! additions, changes and removals, then applied as a whole.
//!
//! Columns (header row required, any order, case and spaces ignored): `unit`, `weight`,
//! `first_name`, `last_name`, `email`, `phone`, `designated_voter`, `consent`. One row per
//! owner; a unit with several owners has several rows. One person (same email) with several
//! units gets one account.
//!
//! `parse` reads and checks the file, `plan` compares it with the roster on file, `apply`
//! writes the previewed plan.

mod apply;
mod parse;
mod plan;

use super::spreadsheet::Delimiter;
use crate::ports::{ConsentStatus, Unit};
use cista_crypto::Digest32;
use cista_types::voting::format_weight_sum;
use cista_types::{Email, PersonName, Phone, SubjectCode, UnitId, UnitLabel, Weight};
pub use parse::parse_roster;

/// The most rows one file may have.
pub const MAX_ROWS: usize = 20_000;

/// The most problems a refused file lists: enough to correct a file by, and a bound on the
/// page and the answer that list them (20,000 rows can hold several problems each).
pub const MAX_LISTED_PROBLEMS: usize = 500;

/// A refused file's error: its first `MAX_LISTED_PROBLEMS` problems (`problems`, sorted by
/// line), and how many it had in all.
pub(crate) fn rejection(mut problems: Vec<crate::error::ImportProblem>) -> crate::Error {
    let total = problems.len();
    problems.truncate(MAX_LISTED_PROBLEMS);
    crate::Error::ImportRejected { problems, total }
}

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

#[cfg(test)]
mod tests;
