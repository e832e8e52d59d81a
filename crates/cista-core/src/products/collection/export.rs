//! Exports of records (issue 13, item 6), for staff who read records: **CSV** (one row per
//! record, one column per field id across the forms listed, and one `FIELD.links` column per
//! photos field with the signed URLs of its delivered photos; every cell formula-safe),
//! **GeoJSON** (RFC 7946: a FeatureCollection of Points, `[longitude, latitude]` in WGS 84, the
//! record's facts and answers as properties; records without a point are left out) and a
//! **ZIP** with the photos (`zip`). Answers are in words (choice labels, "Not answered").
//! A photo link is signed and lives `MEDIA_URL_LIFETIME` (15 minutes) like every photo URL:
//! never an unsigned one, so a CSV that travels opens no photo after that. Each export is one
//! audit entry with its format, how many records it holds and how many photo links or photos.

use crate::platform::audit::NewAuditEntry;
use crate::platform::spreadsheet::formula_safe;
use crate::platform::spreadsheet::{MAX_EXPORTED, too_many_to_export};
use crate::ports::StoredMedia;
use crate::products::collection::audit::CollectionAuditKind;
use crate::products::collection::delivery::MEDIA_URL_LIFETIME;
use crate::products::collection::records::{AnsweredRecord, RecordFilter, RecordRow};
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

/// A record as an export holds it: its answers, and its delivered photos with their signed
/// links by photos field.
pub(crate) struct Exported {
    pub record: AnsweredRecord,
    /// Each photos field's id and the signed URLs of its delivered photos, in announced order.
    pub links: Vec<(String, Vec<String>)>,
    /// The record's delivered photos, in announced order.
    pub photos: Vec<StoredMedia>,
}

impl Exported {
    fn link_count(&self) -> usize {
        self.links.iter().map(|(_, l)| l.len()).sum()
    }
}

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

/// The records as CSV (RFC 4180).
pub(crate) fn csv(records: &[Exported]) -> Result<Vec<u8>> {
    let (mut fields, mut photo_fields): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for exported in records {
        for (id, _) in &exported.record.words {
            if !fields.contains(id) {
                fields.push(id.clone());
            }
        }
        for (id, _) in &exported.links {
            if !photo_fields.contains(id) {
                photo_fields.push(id.clone());
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
    // A field id has no dot, so `photos.links` names no field.
    header.extend(
        photo_fields
            .iter()
            .map(|id| Cell::Text(format!("{id}.links"))),
    );
    let mut rows = vec![header];
    for exported in records {
        let (row, answers) = (&exported.record.row, &exported.record.words);
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
        for id in &photo_fields {
            let links = exported
                .links
                .iter()
                .find(|(f, _)| f == id)
                .map(|(_, l)| l.join(" "))
                .unwrap_or_default();
            line.push(Cell::Text(links));
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

fn geojson(records: &[Exported]) -> Result<Vec<u8>> {
    let features: Vec<Value> = records
        .iter()
        .map(|e| (&e.record.row, &e.record.words))
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
    /// `org`'s records that `filter` lets through, each with its delivered photos and their
    /// signed links (valid `MEDIA_URL_LIFETIME` from now).
    pub(crate) async fn exported_records(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &RecordFilter,
    ) -> Result<Vec<Exported>> {
        // Every record the filter lets through: an export is whole, or refused.
        let records = self
            .records_with_answers(actor, org, filter, Some(MAX_EXPORTED + 1))
            .await?;
        if records.len() > MAX_EXPORTED {
            return Err(too_many_to_export("records"));
        }
        let expires = self.clock().now().plus(MEDIA_URL_LIFETIME);
        let mut exported = Vec::with_capacity(records.len());
        for record in records {
            let announced = record.photos.iter().any(|(_, names)| !names.is_empty());
            let media = if announced {
                self.store()
                    .collection()
                    .media_of(record.row.submission)
                    .await?
            } else {
                Vec::new()
            };
            let (mut links, mut photos) = (Vec::new(), Vec::new());
            for (field, names) in &record.photos {
                let mut urls = Vec::new();
                for name in names {
                    let Some(m) = media
                        .iter()
                        .find(|m| &m.name == name && m.delivered.is_some())
                    else {
                        continue;
                    };
                    urls.push(self.photo_url(org, m, expires)?);
                    photos.push(m.clone());
                }
                links.push((field.clone(), urls));
            }
            exported.push(Exported {
                record,
                links,
                photos,
            });
        }
        Ok(exported)
    }

    /// `org`'s records that `filter` lets through, as a file of `format`; audited.
    pub async fn export_records(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &RecordFilter,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let records = self.exported_records(actor, org, filter).await?;
        let (bytes, detail) = match format {
            ExportFormat::Csv => {
                let links: usize = records.iter().map(Exported::link_count).sum();
                let detail =
                    json!({ "format": "csv", "records": records.len(), "photo_links": links });
                (csv(&records)?, detail)
            }
            ExportFormat::GeoJson => (
                geojson(&records)?,
                json!({ "format": "geojson", "records": records.len() }),
            ),
        };
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                CollectionAuditKind::RecordsExported,
                detail,
            ))
            .await?;
        Ok(bytes)
    }
}
