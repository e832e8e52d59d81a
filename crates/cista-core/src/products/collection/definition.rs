//! A record form of field data collection (issue 13, item 1): the fields a collector fills on a
//! phone — text, number, date, select one or many from a choice list, a GPS point, photos, and
//! notes that only show text — with required flags and simple constraints (a number's range,
//! photos' count and size, a text's length). Read from the file format (JSON, ODK's field
//! kinds in spirit: `text`, `integer`/`decimal` as `number` with `whole`, `date`,
//! `select_one`, `select_multiple` as `select_many`, `geopoint`, `image` as `photos`, `note`),
//! checked whole before anything is stored; every default spelled out in the stored form, so
//! two spellings of one form are one version.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most fields a form may have.
pub const MAX_FIELDS: usize = 250;
/// The most choices a select field may offer.
pub const MAX_CHOICES: usize = 200;
/// The most photos one photos field may take.
pub const MAX_PHOTOS: u32 = 10;
/// The largest photo a form may accept, in bytes: the largest file the intake API takes
/// (20 MiB).
pub const MAX_PHOTO_BYTES: u64 = crate::platform::intake::MAX_FILE_BYTES;
/// A photo's default size limit, in bytes (10 MiB).
pub const DEFAULT_PHOTO_BYTES: u64 = 10 * 1024 * 1024;
/// Texts of the form (title, labels, hints, choices): at most this many characters.
pub const MAX_LABEL: usize = 2000;

/// The demo's Stream survey (River Watch) in the record form file format (`docs/collection.md`);
/// also what the admin editor offers to start a new record form from.
pub const STREAM_SURVEY: &str = r#"{
  "title": "Stream survey",
  "description": "One record per visit to a sampling site. Stand where you took the water sample.",
  "fields": [
    { "id": "site", "label": "Site name", "kind": "text", "required": true, "max_length": 80,
      "hint": "As on the site's marker post, such as Sellwood Bridge east bank." },
    { "id": "clarity", "label": "Water clarity", "kind": "select_one", "required": true,
      "choices": [ { "id": "clear", "label": "Clear" }, { "id": "cloudy", "label": "Slightly cloudy" },
                   { "id": "murky", "label": "Murky" } ] },
    { "id": "temperature_c", "label": "Water temperature (°C)", "kind": "number",
      "min": -2, "max": 40 },
    { "id": "where", "label": "Where you stand", "kind": "geopoint", "required": true },
    { "id": "photos", "label": "Photos of the water", "kind": "photos", "max": 3,
      "downscale_to": 1600 },
    { "id": "notes", "label": "Notes", "kind": "text", "max_length": 1000 },
    { "id": "thanks", "label": "Thank you: the record is saved on your phone first and sent when there is a signal.", "kind": "note" }
  ]
}"#;

/// A record form as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordForm {
    pub title: String,
    /// Shown above the fields.
    #[serde(default)]
    pub description: String,
    pub fields: Vec<Field>,
}

/// One field. Its kind's settings sit beside `id`, `label`, `hint` and `required`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The field's name in records and exports: `a-z`, `0-9`, `_`, starting with a letter.
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub hint: String,
    #[serde(default)]
    pub required: bool,
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// What a field takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldKind {
    /// Free text of at most `max_length` characters.
    Text {
        #[serde(default = "default_text_length")]
        max_length: u32,
    },
    /// A number from `min` to `max` (whole when `whole`).
    Number {
        min: f64,
        max: f64,
        #[serde(default)]
        whole: bool,
    },
    /// A calendar date (`YYYY-MM-DD`).
    Date {},
    /// One choice of the list.
    SelectOne { choices: Vec<Choice> },
    /// Any number of choices of the list, at most `max_selected`.
    SelectMany {
        choices: Vec<Choice>,
        #[serde(default)]
        max_selected: Option<u32>,
    },
    /// A point (WGS 84 latitude and longitude in degrees, with its accuracy in metres), from
    /// the phone's location.
    Geopoint {},
    /// Photos: at most `max` of at most `max_bytes` each; the phone downscales a photo to at
    /// most `downscale_to` pixels on its longer side when set.
    Photos {
        #[serde(default = "default_photos")]
        max: u32,
        #[serde(default = "default_photo_bytes")]
        max_bytes: u64,
        #[serde(default)]
        downscale_to: Option<u32>,
    },
    /// Text shown to the collector; takes no answer.
    Note {},
}

fn default_text_length() -> u32 {
    500
}

fn default_photos() -> u32 {
    1
}

fn default_photo_bytes() -> u64 {
    DEFAULT_PHOTO_BYTES
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The choice's name in records: as a field's id.
    pub id: String,
    pub label: String,
}

impl FieldKind {
    /// What the field takes, in words for staff: `A number from -2 to 40`, `Photos: at most 3,
    /// each at most 10 MiB, downscaled to 1600 px`.
    pub fn describe(&self) -> String {
        let mib = |bytes: u64| bytes.div_ceil(1024 * 1024);
        match self {
            FieldKind::Text { max_length } => format!("Text, at most {max_length} characters"),
            FieldKind::Number { min, max, whole } => format!(
                "A {}number from {min} to {max}",
                if *whole { "whole " } else { "" }
            ),
            FieldKind::Date {} => "A date".to_owned(),
            FieldKind::SelectOne { choices } => format!("One of {} choices", choices.len()),
            FieldKind::SelectMany {
                choices,
                max_selected,
            } => match max_selected {
                Some(n) => format!("Up to {n} of {} choices", choices.len()),
                None => format!("Any of {} choices", choices.len()),
            },
            FieldKind::Geopoint {} => {
                "A point from the phone's location, with its accuracy".to_owned()
            }
            FieldKind::Photos {
                max,
                max_bytes,
                downscale_to,
            } => {
                let each = format!("each at most {} MiB", mib(*max_bytes));
                match downscale_to {
                    Some(px) => {
                        format!("Photos: at most {max}, {each}, downscaled on the phone to {px} px")
                    }
                    None => format!("Photos: at most {max}, {each}"),
                }
            }
            FieldKind::Note {} => "A note: text shown, no answer".to_owned(),
        }
    }

    /// Whether the field takes an answer (every kind but a note).
    pub fn takes_answer(&self) -> bool {
        !matches!(self, FieldKind::Note {})
    }

    pub fn choices(&self) -> &[Choice] {
        match self {
            FieldKind::SelectOne { choices } | FieldKind::SelectMany { choices, .. } => choices,
            _ => &[],
        }
    }
}

/// A refusal naming the part of the form at fault: `invalid_input` on `field`.
fn refuse(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::invalid(field, reason)
}

/// An id of the format: 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter.
fn check_id(at: &str, id: &str) -> Result<()> {
    if crate::platform::intake::is_form_id(id) {
        Ok(())
    } else {
        Err(refuse(
            at,
            format!("has the id {id:?}: use 1 to 64 of a-z, 0-9 and _, starting with a letter"),
        ))
    }
}

/// A text of the form: present when `required`, at most `MAX_LABEL` characters, no control
/// characters but line breaks and tabs, every character one the documents' fonts draw.
fn check_text(at: &str, value: &str, required: bool) -> Result<()> {
    match crate::platform::intake::form_text_problem(value, required, MAX_LABEL) {
        Some(reason) => Err(refuse(at, reason)),
        None => Ok(()),
    }
}

impl RecordForm {
    /// Reads a form from its file format and checks it whole; the error names the field (as
    /// `fields[2].choices`) and says what to change.
    pub fn parse(json: &serde_json::Value) -> Result<Self> {
        let form: RecordForm = serde_json::from_value(json.clone())
            .map_err(|e| refuse("definition", format!("is not a record form: {e}")))?;
        form.check()?;
        Ok(form)
    }

    fn check(&self) -> Result<()> {
        check_text("title", &self.title, true)?;
        check_text("description", &self.description, false)?;
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return Err(refuse(
                "fields",
                format!("must list 1 to {MAX_FIELDS} fields"),
            ));
        }
        if !self.fields.iter().any(|f| f.kind.takes_answer()) {
            return Err(refuse(
                "fields",
                "are all notes: add at least one field that takes an answer",
            ));
        }
        let mut ids = BTreeSet::new();
        for (i, field) in self.fields.iter().enumerate() {
            let at = format!("fields[{i}]");
            check_id(&at, &field.id)?;
            if !ids.insert(field.id.as_str()) {
                return Err(refuse(
                    at,
                    format!("repeats the id {:?}: each field needs its own", field.id),
                ));
            }
            check_text(&format!("{at}.label"), &field.label, true)?;
            check_text(&format!("{at}.hint"), &field.hint, false)?;
            if field.required && !field.kind.takes_answer() {
                return Err(refuse(
                    at,
                    "is a note, which takes no answer: it cannot be required",
                ));
            }
            check_kind(&at, &field.kind)?;
        }
        Ok(())
    }

    /// The form as stored: every default spelled out.
    pub fn normal_form(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn check_kind(at: &str, kind: &FieldKind) -> Result<()> {
    match kind {
        FieldKind::Text { max_length } if !(1..=100_000).contains(max_length) => {
            Err(refuse(at, "has a max_length outside 1 to 100000"))
        }
        FieldKind::Number { min, max, .. }
            if !(min.is_finite() && max.is_finite() && min < max) =>
        {
            Err(refuse(at, "needs a min below its max, both finite numbers"))
        }
        FieldKind::SelectOne { choices } => check_choices(at, choices),
        FieldKind::SelectMany {
            choices,
            max_selected,
        } => {
            check_choices(at, choices)?;
            match max_selected {
                Some(n) if *n == 0 || *n as usize > choices.len() => Err(refuse(
                    at,
                    format!("has max_selected {n}: choose from 1 to {}", choices.len()),
                )),
                _ => Ok(()),
            }
        }
        FieldKind::Photos {
            max,
            max_bytes,
            downscale_to,
        } => {
            if !(1..=MAX_PHOTOS).contains(max) {
                return Err(refuse(at, format!("takes from 1 to {MAX_PHOTOS} photos")));
            }
            if !(1024..=MAX_PHOTO_BYTES).contains(max_bytes) {
                return Err(refuse(
                    at,
                    format!("needs max_bytes from 1024 to {MAX_PHOTO_BYTES} (20 MiB)"),
                ));
            }
            match downscale_to {
                Some(px) if !(320..=8192).contains(px) => Err(refuse(
                    at,
                    "downscales to 320 to 8192 pixels on the longer side",
                )),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

fn check_choices(at: &str, choices: &[Choice]) -> Result<()> {
    if choices.is_empty() || choices.len() > MAX_CHOICES {
        return Err(refuse(at, format!("offers 1 to {MAX_CHOICES} choices")));
    }
    let mut ids = BTreeSet::new();
    for (j, choice) in choices.iter().enumerate() {
        let at = format!("{at}.choices[{j}]");
        check_id(&at, &choice.id)?;
        if !ids.insert(choice.id.as_str()) {
            return Err(refuse(at, format!("repeats the choice {:?}", choice.id)));
        }
        check_text(&format!("{at}.label"), &choice.label, true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn survey() -> serde_json::Value {
        json!({
            "title": "Stream survey",
            "fields": [
                { "id": "site", "label": "Site name", "kind": "text", "required": true },
                { "id": "clarity", "label": "Water clarity", "kind": "select_one",
                  "choices": [ { "id": "clear", "label": "Clear" }, { "id": "murky", "label": "Murky" } ] },
                { "id": "temperature", "label": "Water temperature (°C)", "kind": "number",
                  "min": -5, "max": 45 },
                { "id": "when", "label": "Date", "kind": "date" },
                { "id": "where", "label": "Where", "kind": "geopoint", "required": true },
                { "id": "photos", "label": "Photos", "kind": "photos", "max": 3 },
                { "id": "thanks", "label": "Thank you!", "kind": "note" }
            ]
        })
    }

    #[test]
    fn a_survey_reads_with_every_default_spelled_out() {
        let form = RecordForm::parse(&survey()).unwrap();
        let stored = form.normal_form().unwrap();
        assert_eq!(stored["fields"][0]["max_length"], 500);
        assert_eq!(stored["fields"][5]["max_bytes"], DEFAULT_PHOTO_BYTES);
        assert_eq!(stored["fields"][1]["required"], false);
        assert_eq!(
            RecordForm::parse(&stored).unwrap(),
            form,
            "the stored form reads back"
        );
    }

    #[test]
    fn a_form_that_does_not_hold_is_refused_naming_the_field() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("/fields/1/choices", json!([]), "fields[1]"),
            ("/fields/2/min", json!(50), "fields[2]"),
            ("/fields/0/id", json!("Site"), "fields[0]"),
            ("/fields/3/id", json!("site"), "fields[3]"),
            ("/fields/5/max", json!(11), "fields[5]"),
            ("/fields/5/max_bytes", json!(100), "fields[5]"),
            ("/fields/6/required", json!(true), "fields[6]"),
            (
                "/fields/1/choices/1/id",
                json!("clear"),
                "fields[1].choices[1]",
            ),
            ("/title", json!(" "), "title"),
            (
                "/fields/0/label",
                json!("private \u{E000}"),
                "fields[0].label",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut form = survey();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            match form.pointer_mut(parent).unwrap() {
                serde_json::Value::Object(map) => {
                    map.insert(key.to_owned(), value);
                }
                serde_json::Value::Array(list) => list[key.parse::<usize>().unwrap()] = value,
                other => panic!("{other}"),
            }
            let e = RecordForm::parse(&form).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field: f, .. } if f == field),
                "{pointer}: {e:?}"
            );
        }
        let mut misspelt = survey();
        misspelt["fields"][2]["maximum"] = json!(3);
        assert!(
            RecordForm::parse(&misspelt).is_err(),
            "an unknown key is reported"
        );
        let only_notes =
            json!({ "title": "x", "fields": [ { "id": "n", "label": "Hi", "kind": "note" } ] });
        assert!(RecordForm::parse(&only_notes).is_err());
    }
}
