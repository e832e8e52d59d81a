//! Reviewing records (issue 13, item 6): a reviewer puts a record in a state — received (every
//! record starts there), approved, rejected, needs changes — with a comment the collector sees
//! on the phone. Each review is a row of its own (the history stays; the newest is the state),
//! its comment sealed under the organization's data key like the record itself, recorded with
//! its audit entry in one transaction. The collector reads their own records' states; staff
//! who read records read any.

use crate::platform::audit::NewAuditEntry;
use crate::ports::{StoredForm, StoredSubmission};
use crate::products::collection::actions::CollectionAction;
use crate::products::collection::audit::CollectionAuditKind;
use crate::products::collection::webhooks::{RecordEvent, WebhookEvent};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_crypto::Sealed;
use cista_types::{OrgId, SubmissionId, Timestamp};
use serde::Serialize;

/// The longest review comment, in characters.
pub const MAX_COMMENT: usize = 2000;

/// Where a record stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Received,
    Approved,
    Rejected,
    NeedsChanges,
}

impl ReviewState {
    pub const ALL: [ReviewState; 4] = [
        ReviewState::Received,
        ReviewState::Approved,
        ReviewState::Rejected,
        ReviewState::NeedsChanges,
    ];

    /// The stable name, as stored and sent: `needs_changes`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Received => "received",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
            ReviewState::NeedsChanges => "needs_changes",
        }
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            ReviewState::Received => "Received",
            ReviewState::Approved => "Approved",
            ReviewState::Rejected => "Rejected",
            ReviewState::NeedsChanges => "Needs changes",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A review as stored: its comment sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReview {
    /// Random; orders nothing (`reviewed_at` and then `id` do).
    pub id: i64,
    pub org: OrgId,
    pub submission: SubmissionId,
    pub state: ReviewState,
    pub sealed_comment: Vec<u8>,
    /// Who reviewed, as the audit log names actors.
    pub reviewed_by: String,
    pub reviewed_at: Timestamp,
}

/// A review, opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub state: ReviewState,
    pub comment: String,
    pub reviewed_by: String,
    pub reviewed_at: Timestamp,
}

/// A record's review state and history, for its collector or for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordStatus {
    pub submission: SubmissionId,
    pub received_at: Timestamp,
    /// `Received` until someone reviews it.
    pub state: ReviewState,
    /// Oldest first.
    pub reviews: Vec<Review>,
    /// The photos the record announced, each with whether it has arrived.
    pub photos: Vec<(String, bool)>,
}

fn comment_aad(org: OrgId, submission: SubmissionId, id: i64) -> Vec<u8> {
    format!("cista/v1|review|{org}|{submission}|{id}").into_bytes()
}

/// The comment as stored: trimmed, its line breaks `\n` (a browser sends a textarea's as
/// `\r\n`, and the collector's phone shows it as written).
fn check_comment(comment: &str) -> Result<String> {
    let comment = comment.trim().replace("\r\n", "\n");
    let comment = comment.as_str();
    if comment.chars().count() > MAX_COMMENT {
        return Err(Error::invalid(
            "comment",
            format!("write at most {MAX_COMMENT} characters"),
        ));
    }
    if cista_types::controls::has_stray_control(comment) {
        return Err(Error::invalid(
            "comment",
            "remove the control characters from the comment",
        ));
    }
    Ok(comment.to_owned())
}

impl Cista {
    /// A record of `org` (a submission of a record form); `not_found` for anything else.
    async fn org_record(
        &self,
        org: OrgId,
        id: SubmissionId,
    ) -> Result<(StoredSubmission, StoredForm)> {
        let stored = self.org_submission(org, id, "that record").await?;
        let form = self.published_form(org, stored.form).await?;
        if form.product != "collection" {
            return Err(Error::NotFound {
                what: "that record",
            });
        }
        Ok((stored, form))
    }

    /// Puts record `id` of `org` in `state` with `comment` (which its collector reads; may
    /// be empty, at most 2000 characters). Needs `CollectionAction::Review`.
    pub async fn review_record(
        &self,
        actor: &Actor,
        org: OrgId,
        id: SubmissionId,
        state: ReviewState,
        comment: &str,
    ) -> Result<Review> {
        actor.authorize_in(org, CollectionAction::Review)?;
        let comment = check_comment(comment)?;
        let (record, form) = self.org_record(org, id).await?;
        let mut raw = [0u8; 8];
        self.rng().fill(&mut raw);
        let review_id = i64::from_be_bytes(raw);
        let sealed = self
            .seal_for_org(
                org,
                &comment_aad(org, record.id, review_id),
                comment.as_bytes(),
            )
            .await?;
        let now = self.clock().now();
        let stored = StoredReview {
            id: review_id,
            org,
            submission: record.id,
            state,
            sealed_comment: sealed.into_bytes(),
            reviewed_by: actor.audit_name(),
            reviewed_at: now,
        };
        let mut tx = self.store().begin().await?;
        tx.collection().insert_review(&stored).await?;
        let event = RecordEvent {
            event: WebhookEvent::RecordReviewed,
            org,
            form_key: &form.key,
            form_version: form.version,
            record: record.id,
            state: state.as_str(),
            at: now,
        };
        self.queue_record_event(&mut tx, &event).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            CollectionAuditKind::RecordReviewed,
            serde_json::json!({
                "submission": record.id,
                "state": state.as_str(),
                "commented": !comment.is_empty(),
            }),
        ))
        .await?;
        Ok(Review {
            state,
            comment,
            reviewed_by: stored.reviewed_by,
            reviewed_at: now,
        })
    }

    /// Record `id` of `org`, opened for `actor`: its collector may read it (by password or
    /// device), as may staff who read records; anyone else gets `not_found`.
    pub(crate) async fn open_record(
        &self,
        actor: &Actor,
        org: OrgId,
        id: SubmissionId,
    ) -> Result<OpenedRecord> {
        let stored = self.org_submission(org, id, "that record").await?;
        let form = self.published_form(org, stored.form).await?;
        if form.product != "collection" {
            return Err(Error::NotFound {
                what: "that record",
            });
        }
        let own = actor.may_in(org, OrgAction::SubmitForms)
            && actor.person().is_some()
            && stored.sent_by(actor);
        if !own && !actor.may_in(org, OrgAction::ViewSubmissions) {
            return Err(Error::NotFound {
                what: "that record",
            });
        }
        let definition = crate::platform::intake::record_form(&form)?;
        let answers = self.open_payload(&stored).await?;
        let arrived = self
            .store()
            .intake()
            .attachments(stored.id)
            .await?
            .into_iter()
            .map(|a| a.name)
            .collect();
        Ok(OpenedRecord {
            stored,
            form,
            definition,
            answers,
            arrived,
        })
    }

    /// A record's reviews, oldest first, their comments opened.
    pub(crate) async fn reviews(&self, org: OrgId, id: SubmissionId) -> Result<Vec<Review>> {
        let mut reviews = Vec::new();
        for stored in self.store().collection().reviews_of(id).await? {
            let plain = self
                .open_for_org(
                    org,
                    &comment_aad(org, id, stored.id),
                    &Sealed::from_bytes(stored.sealed_comment.clone()),
                )
                .await?;
            reviews.push(Review {
                state: stored.state,
                comment: String::from_utf8(plain).map_err(|e| Error::Integrity(e.to_string()))?,
                reviewed_by: stored.reviewed_by,
                reviewed_at: stored.reviewed_at,
            });
        }
        Ok(reviews)
    }

    /// Record `id`'s review state, its reviews with their comments, and which of its photos
    /// have arrived. Its collector may read it (by password or device), as may staff who read
    /// records; anyone else gets `not_found` for another's record.
    pub async fn record_status(
        &self,
        actor: &Actor,
        org: OrgId,
        id: SubmissionId,
    ) -> Result<RecordStatus> {
        let record = self.open_record(actor, org, id).await?;
        let reviews = self.reviews(org, id).await?;
        Ok(record.status(reviews))
    }
}

/// A record opened once for a page or an answer: its row, form, answers and arrived files.
pub(crate) struct OpenedRecord {
    pub stored: StoredSubmission,
    pub form: crate::ports::StoredForm,
    pub definition: crate::products::collection::RecordForm,
    pub answers: serde_json::Value,
    /// Names of the files that have arrived.
    pub arrived: Vec<String>,
}

impl OpenedRecord {
    /// The record's status, given its reviews.
    pub(crate) fn status(&self, reviews: Vec<Review>) -> RecordStatus {
        let photos = self
            .definition
            .photo_names(&self.answers)
            .into_iter()
            .map(|name| {
                let here = self.arrived.contains(&name);
                (name, here)
            })
            .collect();
        RecordStatus {
            submission: self.stored.id,
            received_at: self.stored.received_at,
            state: reviews.last().map_or(ReviewState::Received, |r| r.state),
            reviews,
            photos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_comments() {
        for state in ReviewState::ALL {
            assert_eq!(ReviewState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ReviewState::parse("done"), None);
        assert_eq!(
            check_comment("  Retake the photo ").unwrap(),
            "Retake the photo"
        );
        assert!(check_comment("a\u{7}b").is_err());
        // As a browser sends a textarea's lines: kept as lines, stored with `\n`.
        assert_eq!(
            check_comment("Retake the photo.\r\nFrom the bank.").unwrap(),
            "Retake the photo.\nFrom the bank."
        );
        assert!(check_comment("a\rb").is_err());
        assert!(check_comment(&"x".repeat(MAX_COMMENT + 1)).is_err());
        assert_eq!(check_comment("").unwrap(), "");
    }
}
