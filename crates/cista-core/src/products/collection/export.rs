//! Exports of records (issue 13, item 6), for staff who read records: **CSV** (one row per
//! record, one column per field id across the forms listed; every cell formula-safe) and
//! **GeoJSON** (RFC 7946: a FeatureCollection of Points, `[longitude, latitude]` in WGS 84, the
//! record's facts and answers as properties; records without a point are left out). Answers are
//! in words (choice labels, "Not answered"); photos are counted, never embedded. Each export is
//! one audit entry with its format and how many records it holds.

use crate::platform::audit::NewAuditEntry;
use crate::platform::spreadsheet::formula_safe;
use crate::products::collection::audit::CollectionAuditKind;
use crate::products::collection::records::{RecordFilter, RecordRow};
use crate::{Actor, Cista, Error, Result};
use cista_types::OrgId;
use serde_json::{Map, Value, json};

/// The formats records export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    GeoJson,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::GeoJson => "geojson",
        }
    }

    /// The media type of the file (RFC 4180, RFC 7946).
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::GeoJson => "application/geo+json",
        }
    }
}

type Answered = (RecordRow, Vec<(String, String)>);

fn facts(row: &RecordRow) -> Vec<(&'static str, String)> {
    vec![
        ("record", row.submission.as_i64().to_string()),
        ("form", row.form_key.clone()),
        ("version", row.version.to_string()),
        ("received_at", row.received_at.to_string()),
        (
            "collector",
            row.collector
                .strip_prefix("subject:")
                .unwrap_or(&row.collector)
                .to_owned(),
        ),
        ("state", row.state.as_str().to_owned()),
    ]
}

/// One CSV cell: text formula-safe (it may be what someone typed), or a number Cista formatted
/// itself from a finite `f64`, which can be no formula and stays a number (`-122.671`).
enum Cell {
    Text(String),
    Number(String),
}

fn csv(records: &[Answered]) -> Result<Vec<u8>> {
    let mut fields: Vec<String> = Vec::new();
    for (_, answers) in records {
        for (id, _) in answers {
            if !fields.contains(id) {
                fields.push(id.clone());
            }
        }
    }
    let mut header: Vec<Cell> = [
        "record",
        "form",
        "version",
        "received_at",
        "collector",
        "state",
        "latitude",
        "longitude",
        "accuracy_m",
    ]
    .iter()
    .map(|h| Cell::Text((*h).to_owned()))
    .collect();
    header.extend(fields.iter().cloned().map(Cell::Text));
    let mut rows = vec![header];
    for (row, answers) in records {
        let mut line: Vec<Cell> = facts(row).into_iter().map(|(_, v)| Cell::Text(v)).collect();
        match row.point {
            Some((lat, lon, acc)) => line.extend([lat, lon, acc].iter().map(|n| {
                if n.is_finite() {
                    Cell::Number(n.to_string())
                } else {
                    Cell::Text(String::new())
                }
            })),
            None => line.extend((0..3).map(|_| Cell::Text(String::new()))),
        }
        for id in &fields {
            let answer = answers
                .iter()
                .find(|(f, _)| f == id)
                .map_or("", |(_, a)| a.as_str());
            line.push(Cell::Text(answer.to_owned()));
        }
        rows.push(line);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row.iter().map(|cell| match cell {
                Cell::Text(text) => formula_safe(text),
                Cell::Number(number) => number.clone(),
            }))
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(e.to_string()))
}

fn geojson(records: &[Answered]) -> Result<Vec<u8>> {
    let features: Vec<Value> = records
        .iter()
        .filter_map(|(row, answers)| {
            let (lat, lon, acc) = row.point?;
            let mut properties = Map::new();
            for (key, value) in facts(row) {
                properties.insert(key.to_owned(), Value::String(value));
            }
            properties.insert("accuracy_m".to_owned(), json!(acc));
            let mut words = Map::new();
            for (id, answer) in answers {
                words.insert(id.clone(), Value::String(answer.clone()));
            }
            properties.insert("answers".to_owned(), Value::Object(words));
            Some(json!({
                "type": "Feature",
                "id": row.submission.as_i64().to_string(),
                "geometry": { "type": "Point", "coordinates": [lon, lat] },
                "properties": properties,
            }))
        })
        .collect();
    serde_json::to_vec_pretty(&json!({ "type": "FeatureCollection", "features": features }))
        .map_err(|e| Error::Internal(e.to_string()))
}

impl Cista {
    /// `org`'s records that `filter` lets through, as a file of `format`; audited.
    pub async fn export_records(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &RecordFilter,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let records = self.records_with_answers(actor, org, filter).await?;
        let bytes = match format {
            ExportFormat::Csv => csv(&records)?,
            ExportFormat::GeoJson => geojson(&records)?,
        };
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                CollectionAuditKind::RecordsExported,
                json!({ "format": format.as_str(), "records": records.len() }),
            ))
            .await?;
        Ok(bytes)
    }
}
