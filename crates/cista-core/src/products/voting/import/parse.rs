//! Reading a roster file: its encoding and delimiter, the header row, every row's cells checked
//! by line and column, and the checks across rows (units that agree with themselves, one way of
//! writing weights, one name per email).

use super::{COLUMNS, FileFormat, MAX_ROWS, REQUIRED, Roster, RosterRow, RosterUnit};
use crate::error::ImportProblem;
use crate::ports::ConsentStatus;
use crate::products::voting::spreadsheet::{self, Delimiter, NumberCell};
use cista_crypto::Digest32;
use cista_types::{Email, PersonName, Phone, PhoneRegion, UnitLabel, Weight};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

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

/// A problem at a line of the file, in one column or in the whole row.
fn problem(line: u64, column: Option<&str>, message: String) -> ImportProblem {
    ImportProblem {
        line,
        column: column.map(str::to_owned),
        message,
    }
}

/// Parses and checks a whole file. Either every row is good, or every problem is returned.
/// Phone numbers without a country code are read in `phone_region`.
pub fn parse_roster(
    bytes: &[u8],
    phone_region: Option<PhoneRegion>,
) -> std::result::Result<Roster, Vec<ImportProblem>> {
    let file_sha256 = Digest32::sha256(&[bytes]);
    let decoded = spreadsheet::decode(bytes)
        .map_err(|e| vec![problem(e.line, None, format!("the file {}", e.message))])?;
    let text: &str = &decoded.text;
    let header_line = text.lines().next().unwrap_or("");
    let delimiter = Delimiter::detect(header_line, is_column);
    let lines = LineIndex::new(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter.byte())
        // Rows longer than the header are checked below: spreadsheets add empty cells.
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let (header_len, index) = read_header(&mut reader)?;
    let mut reading = Reading::new(delimiter, phone_region, header_len, index);
    for record in reader.records() {
        if reading.read_record(record, &lines).is_break() {
            break;
        }
    }
    reading.finish(decoded.encoding, file_sha256)
}

/// Where each line of the text starts, to name a record by the line an editor shows.
struct LineIndex<'t> {
    text: &'t str,
    newlines: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    /// Finds the line breaks of `text`.
    fn new(text: &'t str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        LineIndex { text, newlines }
    }

    /// The 1-based line of the record at `byte`. Lines are counted from the record's byte
    /// offset: the csv crate's own line count is off by one for CRLF files, and people find
    /// rows by the line their editor shows.
    fn line_at(&self, byte: u64) -> u64 {
        // A record's position may be the end of the line before it (the LF of a CRLF).
        let rest = usize::try_from(byte)
            .ok()
            .and_then(|b| self.text.as_bytes().get(b..))
            .unwrap_or_default();
        let start = rest
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count() as u64
            + byte;
        let before = self.newlines.partition_point(|at| (*at as u64) < start);
        before as u64 + 1
    }
}

/// Reads and checks the header row: its width and where each known column is, or every
/// unknown, repeated and missing column.
fn read_header(
    reader: &mut csv::Reader<&[u8]>,
) -> std::result::Result<(usize, BTreeMap<String, usize>), Vec<ImportProblem>> {
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
    let mut problems = Vec::new();
    let mut index = BTreeMap::new();
    // Each name is reported once, and a header with more wrong names than a page lists is
    // cut short: a 1 MiB header line of `x,x,x,…` is one problem, not half a million.
    let mut reported = std::collections::BTreeSet::new();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() || reported.contains(h) {
            continue;
        }
        if problems.len() >= super::MAX_LISTED_PROBLEMS {
            problems.push(problem(
                1,
                None,
                format!(
                    "has more than {} unknown or repeated columns: is this the roster file?",
                    super::MAX_LISTED_PROBLEMS
                ),
            ));
            break;
        }
        if !COLUMNS.contains(&h.as_str()) {
            reported.insert(h.clone());
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
            reported.insert(h.clone());
            problems.push(problem(1, Some(h), "appears more than once".to_owned()));
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
    Ok((headers.len(), index))
}

/// The first line written with each way of writing a weight, to refuse a mix.
#[derive(Default)]
struct WeightStyles {
    comma: Option<(u64, String)>,
    point: Option<(u64, String)>,
    percent: Option<(u64, String)>,
    plain: Option<(u64, String)>,
}

impl WeightStyles {
    /// Notes how the weight `raw` on `line` was written.
    fn note(&mut self, line: u64, raw: &str, cell: &NumberCell) {
        let written = || (line, raw.to_owned());
        if cell.decimal_comma {
            self.comma.get_or_insert_with(written);
        }
        if cell.decimal_point {
            self.point.get_or_insert_with(written);
        }
        if cell.percent {
            self.percent.get_or_insert_with(written);
        } else {
            self.plain.get_or_insert_with(written);
        }
    }

    /// One file, one way of writing numbers: a mix means some weights would be misread.
    fn mix_problems(&self) -> Vec<ImportProblem> {
        let mut problems = Vec::new();
        if let (Some((comma_line, comma)), Some((line, point))) = (&self.comma, &self.point) {
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
        if let (Some((percent_line, percent)), Some((line, plain))) = (&self.percent, &self.plain) {
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
        problems
    }
}

/// One row's values, every cell good (the weight may be absent).
struct RowValues {
    label: UnitLabel,
    weight: Option<Weight>,
    first_name: PersonName,
    last_name: PersonName,
    email: Option<Email>,
    phone: Option<Phone>,
    designated: Option<bool>,
    consent: Option<ConsentStatus>,
}

/// A unit as its rows are read.
struct Partial {
    label: UnitLabel,
    weight: Option<(Weight, u64)>,
    consent: Option<(Option<ConsentStatus>, u64)>,
    designated_line: Option<u64>,
    owners: Vec<RosterRow>,
}

impl Partial {
    /// A unit first seen under `label`.
    fn new(label: UnitLabel) -> Self {
        Partial {
            label,
            weight: None,
            consent: None,
            designated_line: None,
            owners: Vec::new(),
        }
    }

    /// Takes the weight of a row, or names the earlier row that gave another.
    fn agree_weight(&mut self, line: u64, weight: Option<Weight>) -> Option<ImportProblem> {
        let w = weight?;
        match self.weight {
            Some((existing, first)) if existing != w => Some(problem(
                line,
                Some("weight"),
                format!(
                    "is {w} but line {first} gives unit {} the weight {existing}",
                    self.label
                ),
            )),
            Some(_) => None,
            None => {
                self.weight = Some((w, line));
                None
            }
        }
    }

    /// Takes the consent of a row, or names the earlier row that gave another.
    fn agree_consent(
        &mut self,
        line: u64,
        consent: Option<ConsentStatus>,
    ) -> Option<ImportProblem> {
        consent?;
        match self.consent {
            Some((existing, first)) if existing != consent => Some(problem(
                line,
                Some("consent"),
                format!("differs from line {first} for unit {}", self.label),
            )),
            Some(_) => None,
            None => {
                self.consent = Some((consent, line));
                None
            }
        }
    }

    /// Notes a designated voter, or names the row that already is one.
    fn note_designated(&mut self, line: u64, designated: bool) -> Option<ImportProblem> {
        if !designated {
            return None;
        }
        let found = self.designated_line.map(|first| {
            problem(
                line,
                Some("designated_voter"),
                format!(
                    "unit {} already has its designated voter on line {first}",
                    self.label
                ),
            )
        });
        self.designated_line = Some(line);
        found
    }

    /// Names the earlier row of this unit with the same owner (same email, or same name
    /// when either has no email).
    fn repeated_owner(&self, line: u64, row: &RowValues) -> Option<ImportProblem> {
        let same_person = self.owners.iter().find(|o| match (&o.email, &row.email) {
            (Some(a), Some(b)) => a.normalized() == b.normalized(),
            _ => {
                o.first_name
                    .as_str()
                    .eq_ignore_ascii_case(row.first_name.as_str())
                    && o.last_name
                        .as_str()
                        .eq_ignore_ascii_case(row.last_name.as_str())
            }
        })?;
        Some(problem(
            line,
            None,
            format!(
                "repeats the owner on line {} of unit {}",
                same_person.line, self.label
            ),
        ))
    }
}

/// The consent column: yes (consented), no (opted out) or empty (unchanged).
fn consent_cell(raw: &str) -> Option<Option<ConsentStatus>> {
    match raw.to_lowercase().as_str() {
        "" => Some(None),
        "yes" | "y" | "consented" => Some(Some(ConsentStatus::Consented)),
        "no" | "n" | "opted-out" | "opted out" | "paper" => Some(Some(ConsentStatus::OptedOut)),
        _ => None,
    }
}

/// The state of reading a file's rows: the problems found and the units so far.
struct Reading {
    delimiter: Delimiter,
    phone_region: Option<PhoneRegion>,
    header_len: usize,
    index: BTreeMap<String, usize>,
    problems: Vec<ImportProblem>,
    units: BTreeMap<String, Partial>,
    order: Vec<String>,
    people_by_email: BTreeMap<String, (String, u64)>,
    rows: usize,
    styles: WeightStyles,
}

impl Reading {
    /// Ready to read rows under a checked header.
    fn new(
        delimiter: Delimiter,
        phone_region: Option<PhoneRegion>,
        header_len: usize,
        index: BTreeMap<String, usize>,
    ) -> Self {
        Reading {
            delimiter,
            phone_region,
            header_len,
            index,
            problems: Vec::new(),
            units: BTreeMap::new(),
            order: Vec::new(),
            people_by_email: BTreeMap::new(),
            rows: 0,
            styles: WeightStyles::default(),
        }
    }

    /// Reads one record: skipped when blank or misshapen (reported), checked cell by cell,
    /// then added to its unit. Breaks when the file has too many rows.
    fn read_record(
        &mut self,
        record: csv::Result<csv::StringRecord>,
        lines: &LineIndex<'_>,
    ) -> ControlFlow<()> {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                self.problems
                    .push(problem(line, None, format!("cannot be read: {e}")));
                return self.count_row(line);
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.iter().all(str::is_empty) {
            return ControlFlow::Continue(());
        }
        // Every record that is not blank counts toward the file's rows, misshapen ones too: a
        // file of a million one-field lines stops at the limit, not after a million problems.
        if let Some(message) = self.field_count_problem(&record) {
            self.problems.push(problem(line, None, message));
            return self.count_row(line);
        }
        if self.count_row(line).is_break() {
            return ControlFlow::Break(());
        }
        if let Some(row) = self.read_cells(line, &record) {
            self.add_row(line, row);
        }
        ControlFlow::Continue(())
    }

    /// Counts the record on `line` as a row of the file; past `MAX_ROWS` rows, reports that
    /// and breaks.
    fn count_row(&mut self, line: u64) -> ControlFlow<()> {
        self.rows += 1;
        if self.rows > MAX_ROWS {
            // A problem of the whole file, listed first (line 1): a refusal lists only its
            // first problems by line, and this one says why the rest was not read.
            self.problems.push(problem(
                1,
                None,
                format!(
                    "the file has more than {MAX_ROWS} rows (line {line} is row {}): nothing \
                     after it was read",
                    MAX_ROWS + 1
                ),
            ));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Why a record has the wrong number of fields, if it has: too few, or more than the
    /// header with something in them (empty extra cells are forgiven).
    fn field_count_problem(&self, record: &csv::StringRecord) -> Option<String> {
        let header_len = self.header_len;
        if record.len() < header_len {
            return Some(format!(
                "has {} but the header has {}",
                fields(record.len()),
                header_len
            ));
        }
        if !record.iter().skip(header_len).any(|f| !f.is_empty()) {
            return None;
        }
        // A decimal comma in a comma-separated file splits the weight in two.
        let split_weight = self.index.get("weight").copied().and_then(|w| {
            let whole = record.get(w)?;
            let fraction = record.get(w + 1)?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            (self.delimiter == Delimiter::Comma
                && record.len() == header_len + 1
                && digits(whole)
                && digits(fraction))
            .then(|| format!("{whole},{fraction}"))
        });
        Some(match split_weight {
            Some(weight) => format!(
                "has {} but the header has {}: the weight {weight} seems to have a \
                 decimal comma, which in this comma-separated file splits it into two \
                 fields. Write {} instead, or save the file with semicolons between fields \
                 (a spreadsheet set to a language that writes decimal commas does that \
                 when it saves as CSV)",
                fields(record.len()),
                header_len,
                weight.replace(',', ".")
            ),
            None => format!(
                "has {} but the header has {}",
                fields(record.len()),
                header_len
            ),
        })
    }

    /// Reads one row's cells, reporting each bad one by its column; None when any cell but
    /// the weight is bad.
    fn read_cells(&mut self, line: u64, record: &csv::StringRecord) -> Option<RowValues> {
        let index = &self.index;
        let field =
            |name: &str| -> &str { index.get(name).and_then(|i| record.get(*i)).unwrap_or("") };
        let problems = &mut self.problems;
        let mut bad =
            |column: &str, message: String| problems.push(problem(line, Some(column), message));

        let label = UnitLabel::parse(field("unit"))
            .map_err(|e| bad("unit", e.message))
            .ok();
        let weight = match field("weight") {
            "" => None,
            raw => match spreadsheet::number_cell(raw, self.delimiter) {
                Err(message) => {
                    bad("weight", message);
                    None
                }
                Ok(cell) => {
                    self.styles.note(line, raw, &cell);
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
            raw => Phone::parse(raw, self.phone_region)
                .map(Some)
                .map_err(|e| bad("phone", e.message))
                .ok(),
        };
        let designated = yes_no(field("designated_voter")).or_else(|| {
            bad("designated_voter", "must be yes, no or empty".to_owned());
            None
        });
        let consent = consent_cell(field("consent")).or_else(|| {
            bad(
                "consent",
                "must be yes (consented to online voting), no (opted out: paper only) or empty (unchanged)"
                    .to_owned(),
            );
            None
        });
        Some(RowValues {
            label: label?,
            weight,
            first_name: first_name?,
            last_name: last_name?,
            email: email?,
            phone: phone?,
            designated: designated?,
            consent: consent?,
        })
    }

    /// Checks that one email is one person across the file.
    fn check_email_person(&mut self, line: u64, row: &RowValues) {
        let Some(e) = &row.email else {
            return;
        };
        let name = format!("{} {}", row.first_name, row.last_name).to_lowercase();
        match self.people_by_email.get(&e.normalized()) {
            Some((other, first_line)) if *other != name => self.problems.push(problem(
                line,
                Some("email"),
                format!("is also on line {first_line} with another name; one email is one person"),
            )),
            Some(_) => {}
            None => {
                self.people_by_email.insert(e.normalized(), (name, line));
            }
        }
    }

    /// Adds a good row to its unit, checking it agrees with the unit's other rows.
    fn add_row(&mut self, line: u64, row: RowValues) {
        self.check_email_person(line, &row);
        let key = row.label.key();
        let order = &mut self.order;
        let unit = self.units.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Partial::new(row.label.clone())
        });
        let designated = row.designated.unwrap_or(false);
        let found = [
            unit.agree_weight(line, row.weight),
            unit.agree_consent(line, row.consent),
            unit.note_designated(line, designated),
            unit.repeated_owner(line, &row),
        ];
        self.problems.extend(found.into_iter().flatten());
        unit.owners.push(RosterRow {
            line,
            unit: row.label,
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            phone: row.phone,
            designated,
        });
    }

    /// The checks across the file once every row is read, then the roster or every problem,
    /// sorted by line.
    fn finish(
        mut self,
        encoding: &'static str,
        file_sha256: Digest32,
    ) -> std::result::Result<Roster, Vec<ImportProblem>> {
        self.problems.extend(self.styles.mix_problems());
        let format = FileFormat {
            encoding,
            delimiter: self.delimiter,
            decimal_comma: self.styles.comma.is_some(),
            percent: self.styles.percent.is_some(),
        };
        if self.rows == 0 && self.problems.is_empty() {
            self.problems.push(problem(
                2,
                None,
                "the file has a header but no rows".to_owned(),
            ));
        }
        let mut out = Vec::with_capacity(self.order.len());
        for key in self.order {
            let Some(unit) = self.units.remove(&key) else {
                continue;
            };
            let Some((weight, _)) = unit.weight else {
                let line = unit.owners.first().map_or(0, |o| o.line);
                self.problems.push(problem(
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
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|p| p.line);
            return Err(self.problems);
        }
        Ok(Roster {
            units: out,
            format,
            file_sha256,
        })
    }
}

/// "1 field", "3 fields".
fn fields(n: usize) -> String {
    cista_types::words::count(n, "field", "fields")
}
