//! CSV files people open in a spreadsheet: every cell that a spreadsheet would run as a
//! formula is neutralised (OWASP "CSV Injection": a leading `=`, `+`, `-`, `@`, tab or
//! carriage return gets a `'` in front), whoever wrote its text; and the bound on how many
//! rows one export holds.

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

/// `text` as a cell no spreadsheet runs.
pub fn formula_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
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
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Growth", "Growth"),
            ("", ""),
        ] {
            assert_eq!(formula_safe(text), cell, "{text:?}");
        }
        let csv = csv_bytes(vec![vec!["a,b".into(), "=cmd".into()]]).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "\"a,b\",'=cmd\n");
    }
}
