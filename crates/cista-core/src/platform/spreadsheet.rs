//! CSV files people open in a spreadsheet: every cell that a spreadsheet would run as a
//! formula is neutralised (OWASP "CSV Injection": a leading `=`, `+`, `-`, `@`, tab or
//! carriage return gets a `'` in front, unless the cell is a plain number), whoever wrote its
//! text; and the bound on how many rows one export holds.

use crate::{Error, Result};

/// The most records or results one export holds, all in memory while it is written: more is
/// refused (`invalid_input` on `filters`), never cut short without a word.
pub const MAX_EXPORTED: usize = 50_000;

/// The refusal of an export that would hold more than `MAX_EXPORTED` rows.
pub(crate) fn too_many_to_export(what: &str) -> Error {
    Error::invalid(
        "filters",
        format!(
            "more than {MAX_EXPORTED} {what} match these filters: narrow them to export at \
             most {MAX_EXPORTED} at a time"
        ),
    )
}

/// `text` as a cell no spreadsheet runs. A plain number (`-1.5`, `+3`, `-2e3`) is left as it
/// is: a spreadsheet reads it as that number and runs nothing, and a `'` would turn a negative
/// reading into text.
pub fn formula_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Whether `text` is a decimal number and nothing else: digits, one sign, a point and an
/// exponent (no `inf` or `NaN`, which `f64` would also read).
fn is_plain_number(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The rows as CSV (RFC 4180, by the csv crate), every cell formula-safe.
pub fn csv_bytes(rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut csv = CsvBytes::new();
    for row in rows {
        csv.row(&row)?;
    }
    csv.finish()
}

/// CSV written row by row into memory (RFC 4180, by the csv crate), every cell
/// formula-safe: a long file costs its bytes, not its rows as strings too.
pub struct CsvBytes(csv::Writer<Vec<u8>>);

impl CsvBytes {
    /// An empty file.
    pub fn new() -> Self {
        Self(csv::Writer::from_writer(Vec::new()))
    }

    /// Adds one row.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<()> {
        self.0
            .write_record(cells.iter().map(|c| formula_safe(c.as_ref())))
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// The file's bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        self.0
            .into_inner()
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

impl std::fmt::Debug for CsvBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvBytes").finish_non_exhaustive()
    }
}

impl Default for CsvBytes {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_neutralised() {
        for (text, cell) in [
            ("=1+1", "'=1+1"),
            ("-2+3", "'-2+3"),
            ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
            ("+A1", "'+A1"),
            ("-", "'-"),
            ("-e", "'-e"),
            ("-inf", "'-inf"),
            ("-NaN", "'-NaN"),
            ("+-1", "'+-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Growth", "Growth"),
            ("", ""),
        ] {
            assert_eq!(formula_safe(text), cell, "{text:?}");
        }
        // A number, negative or signed, stays a number.
        for number in ["-2", "+1", "-1.5", "-0.25e3", "-.5", "42"] {
            assert_eq!(formula_safe(number), number);
        }
        let csv = csv_bytes(vec![vec!["a,b".into(), "=cmd".into()]]).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "\"a,b\",'=cmd\n");
    }
}
