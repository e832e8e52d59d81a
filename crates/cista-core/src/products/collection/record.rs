//! A record's answers checked against its form (issue 13, "Bad input"): what a collector's
//! phone sends is a JSON object with one key per answered field, in these shapes —
//!
//! | kind          | answer                                                            |
//! |---------------|-------------------------------------------------------------------|
//! | `text`        | a string of at most `max_length` characters                        |
//! | `number`      | a JSON number from `min` to `max` (a whole one when `whole`)       |
//! | `date`        | `"YYYY-MM-DD"`, a real calendar date (ISO 8601 / RFC 3339 full-date) |
//! | `select_one`  | the id of one choice                                               |
//! | `select_many` | an array of distinct choice ids, at most `max_selected`            |
//! | `geopoint`    | `{"latitude", "longitude", "accuracy_m"[, "altitude_m"]}`: WGS 84 degrees, −90..90 and −180..180, accuracy in metres ≥ 0 |
//! | `photos`      | an array of the names the photos will be uploaded under, at most `max` |
//!
//! A field left out, `null`, `""` or `[]` is unanswered, which a required field may not be;
//! a key that is no field of the form (or a note's id) is refused. Every refusal is
//! `invalid_input` naming `answers.{field id}`, and nothing is stored.

use super::definition::{FieldKind, RecordForm};
use crate::{Error, Result};
use serde_json::Value;
use std::collections::BTreeSet;

/// A photo a record announces: the field it answers and the largest file it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoSlot {
    pub field: String,
    pub max_bytes: u64,
}

fn refuse(id: &str, reason: impl Into<String>) -> Error {
    Error::invalid(format!("answers.{id}"), reason)
}

fn unanswered(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// Whether `name` can name an uploaded file: 1 to 64 of `a-z`, `0-9`, `-`, `_`, starting with
/// a letter (the platform's attachment names).
fn is_file_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl RecordForm {
    /// Checks a record's `answers` against this form (see the module's table). `Ok` means the
    /// record may be stored as it is.
    pub fn check_record(&self, answers: &Value) -> Result<()> {
        let Value::Object(given) = answers else {
            return Err(Error::invalid(
                "answers",
                "must be a JSON object with one key per answered field",
            ));
        };
        for key in given.keys() {
            match self.fields.iter().find(|f| f.id == *key) {
                None => return Err(refuse(key, "is not a field of this form")),
                Some(f) if !f.kind.takes_answer() => {
                    return Err(refuse(key, "is a note, which takes no answer"));
                }
                Some(_) => {}
            }
        }
        let mut file_names = BTreeSet::new();
        for field in self.fields.iter().filter(|f| f.kind.takes_answer()) {
            let value = given.get(&field.id);
            if unanswered(value) {
                if field.required {
                    return Err(refuse(&field.id, "is required"));
                }
                continue;
            }
            let Some(value) = value else { continue };
            check_answer(&field.id, &field.kind, value)?;
            if let (FieldKind::Photos { .. }, Value::Array(names)) = (&field.kind, value) {
                for name in names.iter().filter_map(Value::as_str) {
                    if !file_names.insert(name) {
                        return Err(refuse(
                            &field.id,
                            format!("names the photo {name:?} twice: give each photo its own name"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The photo `name` of a record with these `answers`, if a photos field lists it.
    pub fn photo_slot(&self, answers: &Value, name: &str) -> Option<PhotoSlot> {
        self.fields.iter().find_map(|field| match &field.kind {
            FieldKind::Photos { max_bytes, .. } => answers
                .get(&field.id)
                .and_then(Value::as_array)
                .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(name)))
                .then(|| PhotoSlot {
                    field: field.id.clone(),
                    max_bytes: *max_bytes,
                }),
            _ => None,
        })
    }

    /// Every photo name the record announces, in the order of its fields.
    pub fn photo_names(&self, answers: &Value) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Photos { .. }))
            .filter_map(|f| answers.get(&f.id).and_then(Value::as_array))
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    }
}

fn check_answer(id: &str, kind: &FieldKind, value: &Value) -> Result<()> {
    match kind {
        FieldKind::Text { max_length } => {
            let text = value
                .as_str()
                .ok_or_else(|| refuse(id, "must be text (a JSON string)"))?;
            if text.chars().count() > *max_length as usize {
                return Err(refuse(id, format!("takes at most {max_length} characters")));
            }
            if cista_types::controls::has_stray_control(text) {
                return Err(refuse(id, "may not hold control characters"));
            }
            Ok(())
        }
        FieldKind::Number { min, max, whole } => {
            let n = value
                .as_f64()
                .filter(|n| n.is_finite())
                .ok_or_else(|| refuse(id, "must be a number (a JSON number)"))?;
            if n < *min || n > *max {
                return Err(refuse(id, format!("must be from {min} to {max}")));
            }
            if *whole && n.fract() != 0.0 {
                return Err(refuse(id, "must be a whole number"));
            }
            Ok(())
        }
        FieldKind::Date {} => {
            let text = value.as_str().unwrap_or_default();
            let format = time::macros::format_description!("[year]-[month]-[day]");
            if text.len() == 10 && time::Date::parse(text, format).is_ok() {
                Ok(())
            } else {
                Err(refuse(id, "must be a date written YYYY-MM-DD"))
            }
        }
        FieldKind::SelectOne { choices } => {
            let chosen = value.as_str().unwrap_or_default();
            if choices.iter().any(|c| c.id == chosen) {
                Ok(())
            } else {
                Err(refuse(id, "must be the id of one of the field's choices"))
            }
        }
        FieldKind::SelectMany {
            choices,
            max_selected,
        } => {
            let items = value
                .as_array()
                .ok_or_else(|| refuse(id, "must be a list of choice ids"))?;
            let mut seen = BTreeSet::new();
            for item in items {
                let chosen = item.as_str().unwrap_or_default();
                if !choices.iter().any(|c| c.id == chosen) {
                    return Err(refuse(id, "must list only ids of the field's choices"));
                }
                if !seen.insert(chosen) {
                    return Err(refuse(id, format!("lists {chosen:?} twice")));
                }
            }
            match max_selected {
                Some(most) if items.len() > *most as usize => {
                    Err(refuse(id, format!("takes at most {most} choices")))
                }
                _ => Ok(()),
            }
        }
        FieldKind::Geopoint {} => check_point(id, value),
        FieldKind::Photos { max, .. } => {
            let names = value
                .as_array()
                .ok_or_else(|| refuse(id, "must be a list of photo names"))?;
            if names.len() > *max as usize {
                return Err(refuse(id, format!("takes at most {max} photos")));
            }
            if names.iter().any(|n| !n.as_str().is_some_and(is_file_name)) {
                return Err(refuse(
                    id,
                    "must name each photo with 1 to 64 of a-z, 0-9, - and _, starting with a letter",
                ));
            }
            Ok(())
        }
        FieldKind::Note {} => Err(refuse(id, "is a note, which takes no answer")),
    }
}

/// A point: WGS 84 latitude and longitude in degrees, accuracy (and altitude, if given) in
/// metres, as the Geolocation API reports them (`GeolocationCoordinates`).
fn check_point(id: &str, value: &Value) -> Result<()> {
    let Value::Object(point) = value else {
        return Err(refuse(
            id,
            "must be a point: {\"latitude\", \"longitude\", \"accuracy_m\"}",
        ));
    };
    if let Some(key) = point.keys().find(|k| {
        !matches!(
            k.as_str(),
            "latitude" | "longitude" | "accuracy_m" | "altitude_m"
        )
    }) {
        return Err(refuse(
            id,
            format!("has {key:?}, which a point does not take"),
        ));
    }
    let number = |key: &str| {
        point
            .get(key)
            .and_then(Value::as_f64)
            .filter(|n| n.is_finite())
    };
    match number("latitude") {
        Some(lat) if (-90.0..=90.0).contains(&lat) => {}
        _ => return Err(refuse(id, "needs a latitude from -90 to 90 degrees")),
    }
    match number("longitude") {
        Some(lon) if (-180.0..=180.0).contains(&lon) => {}
        _ => return Err(refuse(id, "needs a longitude from -180 to 180 degrees")),
    }
    match number("accuracy_m") {
        Some(acc) if acc >= 0.0 => {}
        _ => return Err(refuse(id, "needs its accuracy in metres, 0 or more")),
    }
    if point.contains_key("altitude_m") && number("altitude_m").is_none() {
        return Err(refuse(id, "has an altitude that is not a number of metres"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn survey() -> RecordForm {
        RecordForm::parse(&json!({
            "title": "Stream survey",
            "fields": [
                { "id": "site", "label": "Site name", "kind": "text", "required": true, "max_length": 20 },
                { "id": "clarity", "label": "Water clarity", "kind": "select_one",
                  "choices": [ { "id": "clear", "label": "Clear" }, { "id": "murky", "label": "Murky" } ] },
                { "id": "seen", "label": "Seen", "kind": "select_many", "max_selected": 2,
                  "choices": [ { "id": "fish", "label": "Fish" }, { "id": "frogs", "label": "Frogs" },
                               { "id": "algae", "label": "Algae" } ] },
                { "id": "temperature", "label": "Water temperature", "kind": "number", "min": -5, "max": 45 },
                { "id": "count", "label": "Count", "kind": "number", "min": 0, "max": 100, "whole": true },
                { "id": "when", "label": "Date", "kind": "date" },
                { "id": "where", "label": "Where", "kind": "geopoint", "required": true },
                { "id": "photos", "label": "Photos", "kind": "photos", "max": 3, "max_bytes": 4096 },
                { "id": "more", "label": "More photos", "kind": "photos", "max": 2 },
                { "id": "thanks", "label": "Thank you!", "kind": "note" }
            ]
        }))
        .unwrap()
    }

    fn good() -> Value {
        json!({
            "site": "Mill bridge",
            "clarity": "clear",
            "seen": ["fish", "algae"],
            "temperature": 12.5,
            "count": 3,
            "when": "2026-02-28",
            "where": { "latitude": 45.52, "longitude": -122.68, "accuracy_m": 8.0 },
            "photos": ["p1", "p2"],
            "more": ["p3"]
        })
    }

    #[test]
    fn a_whole_record_and_a_minimal_one_pass() {
        let form = survey();
        form.check_record(&good()).unwrap();
        let minimal = json!({
            "site": "x",
            "where": { "latitude": -90, "longitude": 180, "accuracy_m": 0, "altitude_m": -3.5 },
            "clarity": null, "seen": [], "when": ""
        });
        form.check_record(&minimal).unwrap();
        // Line breaks as Unix and Windows write them, and tabs.
        for site in ["a\nb", "a\r\nb", "a\tb", "a\r\n\r\n"] {
            let mut answers = good();
            answers["site"] = json!(site);
            form.check_record(&answers).unwrap();
        }
        assert_eq!(form.photo_names(&good()), ["p1", "p2", "p3"]);
        assert_eq!(
            form.photo_slot(&good(), "p3"),
            Some(PhotoSlot {
                field: "more".into(),
                max_bytes: super::super::definition::DEFAULT_PHOTO_BYTES
            })
        );
        assert_eq!(form.photo_slot(&good(), "p2").unwrap().max_bytes, 4096);
        assert_eq!(form.photo_slot(&good(), "p9"), None);
    }

    #[test]
    fn every_kind_of_wrong_answer_is_refused_naming_its_field() {
        let form = survey();
        let cases: Vec<(&str, Value, &str)> = vec![
            ("site", json!(null), "answers.site"),
            ("site", json!(""), "answers.site"),
            ("site", json!(7), "answers.site"),
            ("site", json!("x".repeat(21)), "answers.site"),
            ("site", json!("a\u{0}b"), "answers.site"),
            ("site", json!("a\rb"), "answers.site"),
            ("site", json!("a\r"), "answers.site"),
            ("site", json!("a\u{1b}[2J"), "answers.site"),
            ("clarity", json!("milky"), "answers.clarity"),
            ("clarity", json!(["clear"]), "answers.clarity"),
            ("seen", json!(["fish", "fish"]), "answers.seen"),
            ("seen", json!(["fish", "frogs", "algae"]), "answers.seen"),
            ("seen", json!(["whales"]), "answers.seen"),
            ("seen", json!("fish"), "answers.seen"),
            ("temperature", json!(45.01), "answers.temperature"),
            ("temperature", json!("12"), "answers.temperature"),
            ("count", json!(2.5), "answers.count"),
            ("when", json!("2026-02-30"), "answers.when"),
            ("when", json!("2026-2-3"), "answers.when"),
            ("when", json!(20260228), "answers.when"),
            ("where", json!(null), "answers.where"),
            ("where", json!([45.5, -122.6]), "answers.where"),
            (
                "where",
                json!({ "latitude": 90.5, "longitude": 0, "accuracy_m": 1 }),
                "answers.where",
            ),
            (
                "where",
                json!({ "latitude": 0, "longitude": -180.1, "accuracy_m": 1 }),
                "answers.where",
            ),
            (
                "where",
                json!({ "latitude": 0, "longitude": 0, "accuracy_m": -1 }),
                "answers.where",
            ),
            (
                "where",
                json!({ "latitude": 0, "longitude": 0 }),
                "answers.where",
            ),
            (
                "where",
                json!({ "latitude": 0, "longitude": 0, "accuracy_m": 1, "speed": 3 }),
                "answers.where",
            ),
            (
                "where",
                json!({ "latitude": "0", "longitude": 0, "accuracy_m": 1 }),
                "answers.where",
            ),
            ("photos", json!(["a", "b", "c", "d"]), "answers.photos"),
            ("photos", json!(["../etc"]), "answers.photos"),
            ("photos", json!(["P1"]), "answers.photos"),
            ("more", json!(["p1"]), "answers.more"),
            ("thanks", json!("hello"), "answers.thanks"),
            ("weather", json!("sunny"), "answers.weather"),
        ];
        for (key, value, field) in cases {
            let mut answers = good();
            answers[key] = value.clone();
            let e = form.check_record(&answers).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field: f, .. } if f == field),
                "{key} = {value}: {e:?}"
            );
        }
        let mut missing = good();
        missing.as_object_mut().unwrap().remove("where");
        assert!(form.check_record(&missing).is_err());
        assert!(form.check_record(&json!(["site"])).is_err());
    }
}
