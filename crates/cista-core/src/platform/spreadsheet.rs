//! CSV files people open in a spreadsheet: every cell that a spreadsheet would run as a
//! formula is neutralised (OWASP "CSV Injection": a leading `=`, `+`, `-`, `@`, tab or
//! carriage return gets a `'` in front), whoever wrote its text.

use crate::{Error, Result};

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
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row.iter().map(|c| formula_safe(c)))
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(e.to_string()))
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
