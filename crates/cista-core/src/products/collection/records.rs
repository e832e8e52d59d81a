//! Records as reviewers see them (issue 13, item 6): the organization's records, newest first,
//! filtered by form, review state, collector, days received and area, each with its state and a
//! one-line summary; and one record whole, its answers in the words of its form, its point,
//! its photos (signed URLs) and its reviews. Reading records needs `ViewSubmissions`
//! (owners, administrators, reviewers).

use crate::platform::submission_pages::SubmissionPages;
use crate::ports::StoredSubmission;
use crate::products::collection::area::Area;
use crate::products::collection::delivery::PhotoLinks;
use crate::products::collection::review::{RecordStatus, ReviewState};
use crate::products::collection::{FieldKind, RecordForm};
use crate::{Actor, Cista, OrgAction, Result};
use cista_types::{FormId, OrgId, SubmissionId, Timestamp};
use serde_json::Value;
use std::collections::HashMap;

/// The most records one list shows.
pub const MAX_LISTED: usize = 1000;

/// Which records a list, the map and the exports show; every part optional. The one
/// definition of the filter: every surface builds one and asks `admits`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// A form's key.
    pub form: Option<String>,
    pub state: Option<ReviewState>,
    /// The collector, as the audit log names actors (`subject:…`).
    pub collector: Option<String>,
    /// Received at or after this moment.
    pub since: Option<Timestamp>,
    /// Only records whose point lies in this box; a record without a point is left out when
    /// an area is set.
    pub area: Option<Area>,
}

impl RecordFilter {
    /// Whether the filter lets `row` through.
    pub fn admits(&self, row: &RecordRow) -> bool {
        self.form.as_deref().is_none_or(|k| k == row.form_key)
            && self.state.is_none_or(|s| s == row.state)
            && self.collector.as_deref().is_none_or(|c| c == row.collector)
            && self.since.is_none_or(|since| row.received_at >= since)
            && self.area.is_none_or(|area| {
                row.point
                    .is_some_and(|(lat, lon, _)| area.contains(lat, lon))
            })
    }
}

/// One record in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    pub submission: SubmissionId,
    pub form: FormId,
    pub form_key: String,
    pub form_title: String,
    pub version: u32,
    pub received_at: Timestamp,
    /// Who sent it, as the audit log names actors.
    pub collector: String,
    pub state: ReviewState,
    /// The first text answer, cut to 80 characters.
    pub summary: String,
    /// The first point answered: latitude, longitude, accuracy in metres.
    pub point: Option<(f64, f64, f64)>,
}

/// A record as the exports read it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredRecord {
    pub row: RecordRow,
    /// Each field's id and its answer in words, in the order of its form's fields.
    pub words: Vec<(String, String)>,
    /// Each photos field's id and the names of the photos its answer announces.
    pub photos: Vec<(String, Vec<String>)>,
}

/// One record whole.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDetail {
    pub row: RecordRow,
    /// Each field's label and its answer in words ("Not answered" when left out); notes left
    /// out.
    pub answers: Vec<(String, String)>,
    pub status: RecordStatus,
    pub photos: Vec<PhotoLinks>,
}

/// An answer in words.
fn in_words(kind: &FieldKind, value: Option<&Value>) -> String {
    let unanswered = |v: &&Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    let Some(value) = value.filter(|v| !unanswered(v)) else {
        return "Not answered".to_owned();
    };
    let label = |id: &str| {
        kind.choices()
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_owned(), |c| c.label.clone())
    };
    match (kind, value) {
        (FieldKind::SelectOne { .. }, Value::String(id)) => label(id),
        (FieldKind::SelectMany { .. }, Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(label)
            .collect::<Vec<_>>()
            .join(", "),
        (FieldKind::Geopoint {}, Value::Object(p)) => {
            let n = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            format!(
                "{:.5}, {:.5} (within {} m)",
                n("latitude"),
                n("longitude"),
                n("accuracy_m").round()
            )
        }
        (FieldKind::Photos { .. }, Value::Array(names)) => match names.len() {
            1 => "1 photo".to_owned(),
            n => format!("{n} photos"),
        },
        (_, Value::String(text)) => text.clone(),
        (_, other) => other.to_string(),
    }
}

fn point_of(form: &RecordForm, answers: &Value) -> Option<(f64, f64, f64)> {
    form.fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Geopoint {}))
        .find_map(|f| {
            let p = answers.get(&f.id)?;
            Some((
                p.get("latitude")?.as_f64()?,
                p.get("longitude")?.as_f64()?,
                p.get("accuracy_m")?.as_f64()?,
            ))
        })
}

fn summary_of(form: &RecordForm, answers: &Value) -> String {
    form.fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Text { .. }))
        .find_map(|f| answers.get(&f.id).and_then(Value::as_str))
        .map(|t| t.chars().take(80).collect())
        .unwrap_or_default()
}

/// A record's line in a list, from what was read of it.
fn row_of(
    stored: &StoredSubmission,
    (key, title, version, form): (&str, &str, u32, &RecordForm),
    answers: &Value,
    state: ReviewState,
) -> RecordRow {
    RecordRow {
        submission: stored.id,
        form: stored.form,
        form_key: key.to_owned(),
        form_title: title.to_owned(),
        version,
        received_at: stored.received_at,
        collector: stored.submitted_by.clone(),
        state,
        summary: summary_of(form, answers),
        point: point_of(form, answers),
    }
}

impl Cista {
    /// `org`'s records that `filter` lets through, newest first, at most `MAX_LISTED` (the
    /// filter is applied to every record, so an older match is found past newer ones).
    pub async fn records(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &RecordFilter,
    ) -> Result<Vec<RecordRow>> {
        Ok(self
            .records_with_answers(actor, org, filter, Some(MAX_LISTED))
            .await?
            .into_iter()
            .map(|r| r.row)
            .collect())
    }

    /// The same records, each with its answers in words by field id (for exports), in the
    /// order of its form's fields, and the photo names each photos field announces: at most
    /// `most` of them, or every one (an export). Read a page at a time (`SubmissionPages`).
    pub async fn records_with_answers(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &RecordFilter,
        most: Option<usize>,
    ) -> Result<Vec<AnsweredRecord>> {
        actor.authorize_in(org, OrgAction::ViewSubmissions)?;
        let forms = self
            .store()
            .intake()
            .forms_of(org)
            .await?
            .into_iter()
            .filter(|f| f.product == "collection")
            .filter(|f| filter.form.as_deref().is_none_or(|k| k == f.key))
            .map(|f| Ok((crate::platform::intake::record_form(&f)?, f)))
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<FormId> = forms.iter().map(|(_, f)| f.id).collect();
        let mut rows = Vec::new();
        let mut pages = SubmissionPages::new(self, org, ids);
        'read: while let Some(page) = pages.next().await? {
            // The page's review states in one read, not one read a record.
            let ids: Vec<SubmissionId> = page.iter().map(|(s, _)| s.id).collect();
            let states: HashMap<SubmissionId, ReviewState> = self
                .store()
                .collection()
                .review_states(&ids)
                .await?
                .into_iter()
                .collect();
            for (s, answers) in page {
                // Newest first: once past `since` (or full), nothing further can be listed.
                let too_old = filter.since.is_some_and(|since| s.received_at < since);
                if too_old || most.is_some_and(|most| rows.len() >= most) {
                    break 'read;
                }
                let Some((definition, form)) = forms.iter().find(|(_, f)| f.id == s.form) else {
                    continue;
                };
                let state = states.get(&s.id).copied().unwrap_or(ReviewState::Received);
                let row = row_of(
                    &s,
                    (&form.key, &definition.title, form.version, definition),
                    &answers,
                    state,
                );
                if filter.admits(&row) {
                    rows.push(answered(row, definition, &answers));
                }
            }
        }
        Ok(rows)
    }

    /// Record `id` of `org` whole, with signed URLs for its photos (their issue audited).
    pub async fn record_detail(
        &self,
        actor: &Actor,
        org: OrgId,
        id: SubmissionId,
    ) -> Result<RecordDetail> {
        actor.authorize_in(org, OrgAction::ViewSubmissions)?;
        // One read of each: the record, its form, its answers, its files, its reviews.
        let record = self.open_record(actor, org, id).await?;
        let status = record.status(self.reviews(org, id).await?);
        let (form, definition) = (&record.form, &record.definition);
        let row = row_of(
            &record.stored,
            (&form.key, &definition.title, form.version, definition),
            &record.answers,
            status.state,
        );
        let shown: Vec<(String, String)> = definition
            .fields
            .iter()
            .filter(|f| f.kind.takes_answer())
            .map(|f| {
                (
                    f.label.clone(),
                    in_words(&f.kind, record.answers.get(&f.id)),
                )
            })
            .collect();
        let photos = self.record_photos(actor, &record).await?;
        Ok(RecordDetail {
            row,
            answers: shown,
            status,
            photos,
        })
    }
}

/// A record with its answers in words and the photo names its photos fields announce.
fn answered(row: RecordRow, definition: &RecordForm, answers: &Value) -> AnsweredRecord {
    let fields = definition.fields.iter().filter(|f| f.kind.takes_answer());
    let words = fields
        .clone()
        .map(|f| (f.id.clone(), in_words(&f.kind, answers.get(&f.id))))
        .collect();
    let photos = fields
        .filter(|f| matches!(f.kind, FieldKind::Photos { .. }))
        .map(|f| {
            let names = answers
                .get(&f.id)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            (f.id.clone(), names)
        })
        .collect();
    AnsweredRecord { row, words, photos }
}
